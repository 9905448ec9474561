"""The bulk record walk hands out exactly what ``vxlankit.capture``'s reader does: the same
records, and on a damaged file the same records before the same error."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from tests.bulk._support import synth_captures, write_pcap
from tests.codec.realcaptures import real_capture, real_capture_names
from vxlankit.bulk import frames as frames_module
from vxlankit.bulk.frames import PcapRange, iter_file_batches, iter_part_batches, plan
from vxlankit.capture.reader import open_capture
from vxlankit.errors import CaptureError


def _reader(path: Path) -> tuple[list[tuple[Any, ...]], str | None]:
    records = []
    try:
        with open_capture(path) as reader:
            for r in reader:
                records.append((r.number, r.ts_ns, r.orig_len, r.interface.id, r.data))
    except CaptureError as exc:
        return records, str(exc)
    return records, None


def _walked(batches: Any) -> tuple[list[tuple[Any, ...]], str | None]:
    records = []
    try:
        for batch in batches:
            for i in range(len(batch)):
                iface = batch.interfaces[int(batch.iface[i])]
                records.append((int(batch.number[i]), int(batch.ts_ns[i]),
                                int(batch.orig_len[i]), iface.id, batch.frame(i)))
    except CaptureError as exc:
        return records, str(exc)
    return records, None


def _assert_same_walk(path: Path, batch_records: int = 3) -> None:
    want = _reader(path)
    assert _walked(iter_file_batches(path, batch_records)) == want
    got: list[tuple[Any, ...]] = []
    error = None
    for part in plan([str(path)], 4):
        records, error = _walked(iter_part_batches(part, batch_records))
        got += records
        if error is not None:
            break
    assert (got, error) == want


@pytest.mark.parametrize("name", real_capture_names())
def test_real_captures(name: str) -> None:
    _assert_same_walk(real_capture(name))


def test_pcapng_and_nanosecond_pcap(tmp_path: Path) -> None:
    for path in synth_captures(tmp_path):
        _assert_same_walk(path)


def _damaged(tmp_path: Path) -> dict[str, Path]:
    data = real_capture("tcpdump_vxlan.pcap").read_bytes()
    records = []
    off = 24
    while off < len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        records.append(off)
        off += 16 + incl
    too_long = bytearray(data)
    struct.pack_into("<I", too_long, records[3] + 8, 300_000)
    huge = bytearray(data)
    struct.pack_into("<I", huge, records[6] + 8, 0xFFFFFFF0)
    cases = {
        "cut-in-data": data[:-10],
        "cut-in-header": data[:records[5] + 7],
        "header-only": data[:24],
        "too-long": bytes(too_long),
        "huge-length": bytes(huge),
    }
    out = {}
    for name, content in cases.items():
        out[name] = tmp_path / f"{name}.pcap"
        out[name].write_bytes(content)
    return out


def test_damaged_files_fail_like_the_reader(tmp_path: Path) -> None:
    for name, path in _damaged(tmp_path).items():
        want = _reader(path)
        if name != "header-only":
            assert want[1] is not None, name
        for size in (1, 2, 4, 1000):
            assert _walked(iter_file_batches(path, size)) == want, (name, size)
        _assert_same_walk(path)


def test_plan_covers_every_record_once(tmp_path: Path) -> None:
    frames = [bytes([i % 256]) * (60 + i % 50) for i in range(103)]
    path = write_pcap(tmp_path / "many.pcap", frames)
    parts = list(plan([str(path)], 10))
    assert len(parts) == 11
    assert all(isinstance(p, PcapRange) and p.offsets is not None for p in parts)
    numbers = [n for p in parts for b in iter_part_batches(p, 7) for n in b.number.tolist()]
    assert numbers == list(range(1, 104))
    walked = [b.frame(i) for p in parts for b in iter_part_batches(p) for i in range(len(b))]
    assert walked == frames


def test_records_longer_than_a_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A record that does not fit in what one read brings in is read whole next time."""
    monkeypatch.setattr(frames_module, "_MIN_READ", 64)
    frames = [bytes(range(256)) * 40, bytes(100), bytes(7000), bytes(60)]
    path = write_pcap(tmp_path / "big.pcap", frames)
    for size in (1, 2, 10):
        batches = list(iter_file_batches(path, size))
        assert [b.frame(i) for b in batches for i in range(len(b))] == frames
