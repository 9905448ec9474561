"""Helpers for the capture tests: the real captures, tshark, and hand-made capture bytes.

The builders here pack pcap and pcapng with ``struct`` straight from the format descriptions, on
purpose independently of ``vxlankit.capture.writer``: a reader test that used the writer to make
its input could not see a mistake the two share.
"""

from __future__ import annotations

import struct
import subprocess
from decimal import Decimal

from tests.support import (  # noqa: F401  (re-exported for the capture tests)
    IN_CI,
    REAL_DIR,
    missing,
    real_capture,
    require_real_dir,
    require_tool,
)
from tests.support import real_capture_names as _names


def real_capture_names() -> list[str]:
    """File names for parametrizing; a placeholder when the folder is absent, so that the test
    runs once and skips (or fails under CI) instead of silently collecting nothing."""
    if not REAL_DIR.is_dir():
        return ["<real captures folder absent>"]
    return _names() or ["<real captures folder empty>"]


def run(*argv: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr}")
    return result.stdout


def epoch_ns(text: str) -> int:
    """tshark's frame.time_epoch ("1368908504.837063000") as integer nanoseconds."""
    return int(Decimal(text) * 1_000_000_000)


# -- pcap ---------------------------------------------------------------------------------------

MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D
MAGIC_MODIFIED = 0xA1B2CD34


def pcap_header(
    order: str = "<",
    magic: int = MAGIC_USEC,
    version: tuple[int, int] = (2, 4),
    snaplen: int = 65535,
    linktype: int = 1,
    thiszone: int = 0,
    sigfigs: int = 0,
) -> bytes:
    return struct.pack(
        order + "IHHiIII", magic, version[0], version[1], thiszone, sigfigs, snaplen, linktype
    )


def pcap_record(
    order: str,
    sec: int,
    frac: int,
    data: bytes,
    orig_len: int | None = None,
    incl_len: int | None = None,
) -> bytes:
    incl = len(data) if incl_len is None else incl_len
    orig = len(data) if orig_len is None else orig_len
    return struct.pack(order + "IIII", sec, frac, incl, orig) + data


# -- pcapng -------------------------------------------------------------------------------------


def pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + pad4(value)


def options(order: str, *opts: tuple[int, bytes]) -> bytes:
    if not opts:
        return b""
    return b"".join(option(order, code, value) for code, value in opts) + option(order, 0, b"")


def block(
    order: str, btype: int, body: bytes, *, length: int | None = None, trailer: int | None = None
) -> bytes:
    total = 12 + len(body) if length is None else length
    end = total if trailer is None else trailer
    return struct.pack(order + "II", btype, total) + body + struct.pack(order + "I", end)


def shb(
    order: str = "<", version: tuple[int, int] = (1, 0), opts: bytes = b"", magic: int = 0x1A2B3C4D
) -> bytes:
    body = struct.pack(order + "IHHq", magic, version[0], version[1], -1) + opts
    return block(order, 0x0A0D0D0A, body)


def idb(order: str, linktype: int = 1, snaplen: int = 0, opts: bytes = b"") -> bytes:
    return block(order, 1, struct.pack(order + "HHI", linktype, 0, snaplen) + opts)


def epb(
    order: str,
    iid: int,
    ticks: int,
    data: bytes,
    orig_len: int | None = None,
    opts: bytes = b"",
    cap_len: int | None = None,
) -> bytes:
    cap = len(data) if cap_len is None else cap_len
    orig = len(data) if orig_len is None else orig_len
    head = struct.pack(order + "IIIII", iid, ticks >> 32, ticks & 0xFFFFFFFF, cap, orig)
    return block(order, 6, head + pad4(data) + opts)


def spb(order: str, data: bytes, orig_len: int | None = None) -> bytes:
    orig = len(data) if orig_len is None else orig_len
    return block(order, 3, struct.pack(order + "I", orig) + pad4(data))


def opb(order: str, iid: int, drops: int, ticks: int, data: bytes, opts: bytes = b"") -> bytes:
    head = struct.pack(
        order + "HHIIII", iid, drops, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)
    )
    return block(order, 2, head + pad4(data) + opts)


def nrb(order: str, records: list[tuple[int, bytes]], opts: bytes = b"") -> bytes:
    body = b"".join(
        struct.pack(order + "HH", rtype, len(value)) + pad4(value) for rtype, value in records
    )
    return block(order, 4, body + struct.pack(order + "HH", 0, 0) + opts)


def isb(order: str, iid: int, ticks: int, opts: bytes = b"") -> bytes:
    return block(order, 5, struct.pack(order + "III", iid, ticks >> 32, ticks & 0xFFFFFFFF) + opts)


# -- a pcapng with one of everything -------------------------------------------------------------

FEATURE_TICKS_US = 1_700_000_000_123_456_789  # ns resolution ticks on interface 0
FEATURE_TICKS_BIN = (1_700_000_000 << 20) + 12345  # 2**-20 s ticks on interface 1


def feature_pcapng() -> bytes:
    """Two sections (little-, then big-endian) with every block type the reader knows, unknown
    blocks between them, and the options it decodes; test_reader.py spells out what it holds."""
    le, be = "<", ">"
    section1 = (
        shb(le, opts=options(le, (1, b"section one"), (2, b"hw"), (3, b"os"), (4, b"app")))
        + idb(
            le, 1, 0,
            options(
                le, (2, b"eth0"), (3, b"first interface"), (9, b"\x09"), (13, b"\x04"),
                (12, b"Linux"), (8, struct.pack(le + "Q", 10**9)),
            ),
        )
        + idb(le, 101, 65535, options(le, (2, b"tun0"), (9, bytes([0x80 | 20])),
                                      (14, struct.pack(le + "q", 100))))
        + nrb(
            le,
            [(1, bytes([10, 0, 0, 1]) + b"a.example\0b.example\0"),
             (2, bytes(15) + b"\x01" + b"localhost\0"),
             (9, b"raw")],
            options(le, (1, b"names")),
        )
        + epb(le, 0, FEATURE_TICKS_US, b"\xaa" * 42, 60,
              options(le, (1, b"hello"), (2, struct.pack(le + "I", 0x1)), (1, b"again"),
                      (4, struct.pack(le + "Q", 7))))
        + block(le, 0x0000DEAD, b"unknown block type\0\0")
        + epb(le, 1, FEATURE_TICKS_BIN, b"\x45" + bytes(27))
        + spb(le, b"\xbb" * 30)
        + opb(le, 1, 3, FEATURE_TICKS_BIN + 1, b"\xcc" * 20,
              options(le, (2, struct.pack(le + "I", 0x2)), (1, b"old")))
        + isb(le, 0, FEATURE_TICKS_US + 1000,
              options(le, (1, b"stats"), (2, struct.pack(le + "II", 395812, 0)),
                      (4, struct.pack(le + "Q", 1000)), (5, struct.pack(le + "Q", 2))))
        + block(le, 0x0000000A, bytes(12))
    )  # fmt: skip
    section2 = (
        shb(be)
        + idb(be, 1, 64)
        + epb(be, 0, 5_000_000, bytes(range(100)), 1500)
        + spb(be, bytes(64), orig_len=200)
    )
    return section1 + section2
