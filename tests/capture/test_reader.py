"""What the reader makes of each feature of the formats, and how it handles its input."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import pytest

from vxlankit.capture import CAPLEN_GT_ORIGLEN, CAPLEN_GT_SNAPLEN, open_capture
from vxlankit.capture import pcapng as ng
from vxlankit.capture.record import NO_TIMESTAMP, SPB_SHORT
from vxlankit.errors import CaptureError

from ._support import (
    FEATURE_TICKS_BIN,
    FEATURE_TICKS_US,
    MAGIC_MODIFIED,
    epb,
    feature_pcapng,
    idb,
    options,
    pcap_header,
    pcap_record,
    shb,
    spb,
)

NS = 1_000_000_000


def test_feature_pcapng(tmp_path: Path) -> None:
    path = tmp_path / "features.pcapng"
    path.write_bytes(feature_pcapng())
    with open_capture(path) as reader:
        assert reader.format == "pcapng"
        assert reader.byte_order == "<"
        records = list(reader)
        assert reader.byte_order == ">"  # of the section read last
        assert reader.path == str(path)

        first, second = reader.sections
        assert (first.byte_order, first.version, first.section_length) == ("<", (1, 0), -1)
        assert first.options == ((1, b"section one"), (2, b"hw"), (3, b"os"), (4, b"app"))
        assert second.byte_order == ">" and second.options == ()
        assert [i.section for i in reader.interfaces] == [first, first, second]

        eth0, tun0, other = reader.interfaces
        assert (eth0.id, eth0.name, eth0.description) == (0, "eth0", "first interface")
        assert (eth0.linktype, eth0.snaplen, eth0.tsresol, eth0.fcslen) == (1, 0, NS, 4)
        assert eth0.options == ((12, b"Linux"), (8, struct.pack("<Q", 10**9)))
        assert eth0.byte_order == "<"
        assert (tun0.id, tun0.name, tun0.linktype, tun0.snaplen) == (1, "tun0", 101, 65535)
        assert (tun0.tsresol, tun0.tsoffset, tun0.fcslen) == (2**20, 100, None)
        # Interface ids start again in every section; the default resolution is microseconds.
        assert (other.id, other.name, other.tsresol, other.snaplen) == (0, None, 10**6, 64)

        names = [(n.record_type, n.address, n.names) for n in reader.name_resolution]
        assert names == [
            (1, "10.0.0.1", ("a.example", "b.example")),
            (2, "::1", ("localhost",)),
            (9, None, ()),
        ]
        assert reader.name_resolution[2].raw == b"raw"

        (stats,) = reader.statistics
        assert stats.interface is eth0
        assert stats.ts_ns == FEATURE_TICKS_US + 1000
        assert stats.starttime_ns == 395812 << 32
        assert stats.endtime_ns is None
        assert stats.counters == {"ifrecv": 1000, "ifdrop": 2}
        assert stats.comment == "stats"

        assert [btype for btype, _ in reader.skipped_blocks] == [0x0000DEAD, 0x0000000A]

    summary = [
        (r.number, r.interface.name, r.data, r.orig_len, r.comment, r.flags, r.options, r.warnings)
        for r in records
    ]
    assert summary == [
        (1, "eth0", b"\xaa" * 42, 60, "hello", 1, ((1, b"again"), (4, struct.pack("<Q", 7))), ()),
        (2, "tun0", b"\x45" + bytes(27), 28, None, None, (), ()),
        (3, "eth0", b"\xbb" * 30, 30, None, None, (), (NO_TIMESTAMP,)),
        # An obsolete packet block's drops count becomes the EPB option that replaced it.
        (4, "tun0", b"\xcc" * 20, 20, "old", 2, ((4, struct.pack("<Q", 3)),), ()),
        (5, None, bytes(range(100)), 1500, None, None, (), (CAPLEN_GT_SNAPLEN,)),
        # A simple packet block holds min(orig_len, snaplen) bytes.
        (6, None, bytes(64), 200, None, None, (), (NO_TIMESTAMP,)),
    ]

    def tun0_ns(ticks: int) -> int:
        return ticks * NS // 2**20 + 100 * NS

    assert [r.ts_ns for r in records] == [
        FEATURE_TICKS_US,
        tun0_ns(FEATURE_TICKS_BIN),
        0,
        tun0_ns(FEATURE_TICKS_BIN + 1),
        5_000_000 * 1000,
        0,
    ]
    assert [r.ts_resolution for r in records] == [NS, 2**20, NS, 2**20, 10**6, 10**6]
    assert [r.cap_len for r in records] == [42, 28, 30, 20, 100, 64]
    # Each record's offset is where its block starts.
    raw = feature_pcapng()
    for record, btype in zip(records, [6, 6, 3, 2, 6, 3], strict=True):
        order = record.interface.byte_order
        assert order is not None
        assert struct.unpack_from(order + "I", raw, record.offset)[0] == btype


def test_simple_packet_block_shorter_than_it_says(tmp_path: Path) -> None:
    # orig_len 100, no snaplen, but the block only has room for 8 bytes: take them, say so.
    data = shb("<") + idb("<") + spb("<", bytes(8), orig_len=100)
    (record,) = open_capture(io.BytesIO(data))
    assert record.data == bytes(8) and record.orig_len == 100
    assert record.warnings == (SPB_SHORT, NO_TIMESTAMP)


@pytest.mark.parametrize("order", "<>")
def test_pcap_fcs_bits_and_byte_order(order: str) -> None:
    raw = pcap_header(order, linktype=0x24000001) + pcap_record(order, 7, 8, b"abc")
    with open_capture(io.BytesIO(raw)) as reader:
        (record,) = reader
        assert reader.byte_order == order
        assert reader.interfaces[0].fcslen == 4  # two 16-bit words
        assert reader.interfaces[0].linktype == 1
    assert record.ts_ns == 7 * NS + 8000


def test_pcap_before_2_3_has_lengths_swapped() -> None:
    """Before libpcap 2.3 the record header held orig_len before incl_len."""
    raw = pcap_header("<", version=(2, 2)) + struct.pack("<IIII", 1, 0, 1500, 4) + b"abcd"
    with open_capture(io.BytesIO(raw)) as reader:
        (record,) = reader
    assert (record.data, record.orig_len) == (b"abcd", 1500)
    out = io.BytesIO()
    from vxlankit.capture import write_capture

    write_capture(out, open_capture(io.BytesIO(raw)), "pcap")
    assert out.getvalue() == raw


def test_modified_pcap_fields() -> None:
    extra = struct.pack(">I", 3) + struct.pack(">HBB", 0x0800, 4, 0)
    raw = pcap_header(">", MAGIC_MODIFIED) + struct.pack(">IIII", 1, 2, 3, 3) + extra + b"xyz"
    with open_capture(io.BytesIO(raw)) as reader:
        (record,) = reader
        assert reader.header is not None and reader.header.variant == "modified"
    assert record.pcap_modified == (3, 0x0800, 4, 0)
    assert record.data == b"xyz" and record.ts_ns == NS + 2000


def test_comment_bytes_that_are_not_utf8_survive(tmp_path: Path) -> None:
    raw = shb("<") + idb("<") + epb("<", 0, 1, b"x", opts=options("<", (1, b"caf\xe9")))
    (record,) = open_capture(io.BytesIO(raw))
    assert record.comment == "caf\udce9"
    out = io.BytesIO()
    from vxlankit.capture import write_capture

    write_capture(out, [record])
    (again,) = open_capture(io.BytesIO(out.getvalue()))
    assert again.comment == record.comment


# -- inputs -------------------------------------------------------------------------------------


def _pcap_bytes() -> bytes:
    return pcap_header("<") + pcap_record("<", 1, 0, b"one") + pcap_record("<", 2, 0, b"two")


def test_paths_and_names(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(_pcap_bytes())
    for source, name in ((path, str(path)), (str(path), str(path))):
        with open_capture(source) as reader:
            assert reader.path == name
            assert [r.data for r in reader] == [b"one", b"two"]
    with open(path, "rb") as handle:
        assert open_capture(handle).path == str(path)
    assert open_capture(io.BytesIO(_pcap_bytes())).path == "<stream>"


def test_context_manager_closes_only_what_it_opened(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(_pcap_bytes())
    with open_capture(path) as reader:
        file = reader._file
        next(iter(reader))
    assert file.closed
    with open(path, "rb") as handle:
        with open_capture(handle) as reader:
            assert [r.data for r in reader] == [b"one", b"two"]
        assert not handle.closed
    # Closing part way stops the records; closing twice is harmless.
    reader = open_capture(path)
    assert next(reader).data == b"one"
    reader.close()
    reader.close()
    assert list(reader) == []


def test_open_failures_are_capture_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pcap"
    with pytest.raises(CaptureError, match="cannot open: No such file") as info:
        open_capture(missing)
    assert info.value.path == str(missing)
    with pytest.raises(CaptureError, match="expected a path, '-' or a binary file object"):
        open_capture(42)  # type: ignore[arg-type]
    with pytest.raises(CaptureError, match="text mode"):
        open_capture(io.StringIO("abcd"))  # type: ignore[arg-type]


class _Failing(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        if not self._data:
            raise OSError(5, "Input/output error")
        piece = self._data[: len(target)]
        self._data = self._data[len(piece) :]
        target[: len(piece)] = piece
        return len(piece)


def test_read_errors_are_capture_errors_with_offsets() -> None:
    raw = _pcap_bytes()
    reader = open_capture(_Failing(raw))
    got = []
    with pytest.raises(CaptureError, match="read failed: Input/output error") as info:
        for record in reader:
            got.append(record.data)
    assert got == [b"one", b"two"]
    assert info.value.offset == len(raw) and info.value.packet == 3


def test_unknown_option_codes_are_kept(tmp_path: Path) -> None:
    raw = (
        shb("<")
        + idb("<", 1, 0, options("<", (300, b"opaque"), (2988, b"\x01\x02\x03\x04pen")))
        + epb("<", 0, 1, b"x", opts=options("<", (ng.EPB_VERDICT, b"\x00ok")))
    )
    with open_capture(io.BytesIO(raw)) as reader:
        (record,) = reader
        assert reader.interfaces[0].options == ((300, b"opaque"), (2988, b"\x01\x02\x03\x04pen"))
    assert record.options == ((ng.EPB_VERDICT, b"\x00ok"),)


def test_record_repr_is_useful() -> None:
    raw = pcap_header("<", snaplen=2) + pcap_record("<", 1, 0, b"abc", orig_len=2)
    (record,) = open_capture(io.BytesIO(raw))
    assert record.warnings == (CAPLEN_GT_SNAPLEN, CAPLEN_GT_ORIGLEN)
    assert repr(record) == (
        "Record(#1 @24 ts_ns=1000000000 if=0 3/2B warnings=['cap_len > snaplen', "
        "'cap_len > orig_len'])"
    )


def test_reader_module_still_offers_every_name_it_did() -> None:
    """reader.py was split by format (read_pcap, read_pcapng, read_base); what could be imported
    from it before the split still can, as the same objects."""
    from vxlankit.capture import pcap, read_base, reader, record

    assert reader.CaptureReader.__module__ == "vxlankit.capture.reader"
    assert reader.open_capture.__module__ == "vxlankit.capture.reader"
    assert reader.NS == read_base.NS == 1_000_000_000
    for name in ("FILE_HEADER", "FILE_HEADER_LEN", "MAGICS", "MODIFIED", "RECORD_HEADER_STRUCT",
                 "PcapHeader", "lt_linktype", "lt_reserved1", "max_caplen",
                 "unpack_modified_extra"):
        assert getattr(reader, name) is getattr(pcap, name), name
    for name in ("CAPLEN_GT_ORIGLEN", "CAPLEN_GT_SNAPLEN", "NO_TIMESTAMP", "SPB_SHORT",
                 "Interface", "InterfaceStatistics", "NameResolution", "RawOptions", "Record",
                 "Section"):
        assert getattr(reader, name) is getattr(record, name), name
    assert reader.CaptureError is CaptureError
    assert reader.ng is ng
    for name in ("ReadBuffer", "Source", "open_input"):
        assert hasattr(reader, name), name
    assert set(reader.__all__) <= set(dir(reader))
