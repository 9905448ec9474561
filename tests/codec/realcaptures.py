"""A minimal classic-pcap reader and writer for the codec tests, and (re-exported from
``tests.support``) the real captures and tshark."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from tests.support import (  # noqa: F401  (re-exported for the codec tests)
    IN_CI,
    REAL_DIR,
    real_capture,
    real_capture_names,
    require_real_dir,
    require_tshark,
)

# A minimal classic-pcap reader and writer, independent of vxlankit.capture on purpose: the
# codec's tests must not depend on the capture code they are used to check.
_MAGICS = {
    b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",  # microseconds
    b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">",  # nanoseconds
}


def read_pcap(path: Path) -> tuple[int, list[bytes]]:
    """(link type, [frame bytes]) of a classic pcap file."""
    data = path.read_bytes()
    order = _MAGICS.get(data[:4])
    if order is None:
        raise ValueError(f"{path.name}: not a classic pcap file")
    (network,) = struct.unpack_from(order + "I", data, 20)
    linktype = network & 0x0FFFFFFF  # the top bits can carry FCS information
    frames = []
    off = 24
    while off + 16 <= len(data):
        _, _, incl_len, _ = struct.unpack_from(order + "IIII", data, off)
        off += 16
        frames.append(data[off:off + incl_len])
        off += incl_len
    return linktype, frames


def iter_real_frames() -> Iterator[tuple[str, int, int, bytes]]:
    """(file name, packet number from 1, link type, bytes) over every real capture."""
    for name in real_capture_names():
        linktype, frames = read_pcap(real_capture(name))
        for number, frame in enumerate(frames, 1):
            yield name, number, linktype, frame


def write_pcap(path: Path, frames: list[bytes], linktype: int = 1,
               orig_lens: list[int] | None = None) -> None:
    """A classic pcap (magic 0xa1b2c3d4, v2.4, snaplen 65535); ``orig_lens`` marks frames
    as cut short by the capture (original length > captured length)."""
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    records = []
    for i, frame in enumerate(frames):
        orig = orig_lens[i] if orig_lens else len(frame)
        records.append(struct.pack("<IIII", 1_700_000_000 + i, 0, len(frame), orig))
        records.append(frame)
    path.write_bytes(header + b"".join(records))
