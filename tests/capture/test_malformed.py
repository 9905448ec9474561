"""A corpus of damaged captures, made here, one file per fault.

For each: the reader hands out every good record before the fault, then raises CaptureError
naming the file, the number of the faulty record (records read + 1; ``None`` for a fault in the
file header) and the byte offset where the faulty record or block starts.  Nothing is invented,
shortened or skipped on the way.
"""

from __future__ import annotations

import re
import struct
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import pytest

from vxlankit.capture import CAPLEN_GT_ORIGLEN, CAPLEN_GT_SNAPLEN, Record, open_capture
from vxlankit.errors import CaptureError

from ._support import (
    MAGIC_NSEC,
    block,
    epb,
    idb,
    isb,
    nrb,
    option,
    options,
    pcap_header,
    pcap_record,
    shb,
    spb,
)

GOOD = [b"\x01" * 60, b"\x02" * 61]  # the packets every case starts with
LE = "<"
BE = ">"


@dataclass
class Case:
    data: bytes
    good: int  # how many of GOOD come out before the error
    packet: int | None
    offset: int
    message: str  # a regex the error message must match


def _pcap_good(order: str = LE, version: tuple[int, int] = (2, 4), linktype: int = 1) -> bytes:
    return pcap_header(order, version=version, linktype=linktype) + b"".join(
        pcap_record(order, 1000 + i, i, data) for i, data in enumerate(GOOD)
    )


PCAP_GOOD_LEN = 24 + sum(16 + len(d) for d in GOOD)


def _pcapng_good(order: str = LE) -> bytes:
    return (
        shb(order)
        + idb(order, 1, 0)
        + b"".join(epb(order, 0, 1000 + i, data) for i, data in enumerate(GOOD))
    )


PCAPNG_GOOD_LEN = len(_pcapng_good())
PCAPNG_HEAD_LEN = len(shb(LE) + idb(LE, 1, 0))


def _cases() -> dict[str, Case]:
    cases = {
        # 1. not a capture, or shorter than a header
        "unknown-magic": Case(
            b"GIF89a" + bytes(40), 0, None, 0, r"unknown magic number 0x47494638"
        ),
        "empty-file": Case(b"", 0, None, 0, r"shorter than its header \(0 bytes\)"),
        "three-bytes": Case(b"\xd4\xc3\xb2", 0, None, 0, r"shorter than its header \(3 bytes\)"),
        "pcap-short-header": Case(
            pcap_header(LE)[:20], 0, None, 0, r"shorter than its header \(20 of 24 bytes\)"
        ),
        "pcapng-short-header": Case(
            shb(LE)[:10], 0, None, 0, r"shorter than its header \(10 of 28 bytes\)"
        ),
        "pcapng-short-shb": Case(
            shb(LE)[:20], 0, None, 0, r"truncated section header block \(20 of 28 bytes\)"
        ),
        # 2. pcap version, link-type reserved bits
        "pcap-version-1": Case(
            _pcap_good(version=(1, 0)), 0, None, 4, r"unsupported pcap version 1\.0"
        ),
        "pcap-version-543": Case(
            _pcap_good(BE, version=(543, 0)), 0, None, 4, r"unsupported pcap version 543\.0"
        ),
        "pcap-reserved-bits": Case(
            _pcap_good(linktype=0x00010001), 0, None, 20, r"reserved bits 0x00010000 set"
        ),
        # 3. captured length beyond the maximum (the header claims it; no body follows)
        "pcap-caplen-over-256k": Case(
            _pcap_good() + struct.pack("<IIII", 1, 0, 262145, 262145),
            2, 3, PCAP_GOOD_LEN, r"captured length 262145 exceeds the maximum 262144",
        ),
        "pcap-caplen-4g": Case(
            _pcap_good(BE) + struct.pack(">IIII", 1, 0, 0xFFFFFFFF, 60),
            2, 3, PCAP_GOOD_LEN, r"captured length 4294967295 exceeds the maximum 262144",
        ),
        "pcap-caplen-over-dbus-max": Case(
            _pcap_good(linktype=231) + struct.pack("<IIII", 1, 0, 128 * 2**20 + 1, 1),
            2, 3, PCAP_GOOD_LEN, r"exceeds the maximum 134217728 for link type 231",
        ),
        "pcapng-caplen-over-256k": Case(
            _pcapng_good() + epb(LE, 0, 5, bytes(262148), cap_len=262145),
            2, 3, PCAPNG_GOOD_LEN, r"captured length 262145 exceeds the maximum 262144",
        ),
        # 5. truncated last record
        "pcap-truncated-header": Case(
            _pcap_good() + struct.pack("<IIII", 1, 0, 60, 60)[:10],
            2, 3, PCAP_GOOD_LEN, r"truncated record header \(10 of 16 bytes\)",
        ),
        "pcap-truncated-body": Case(
            _pcap_good() + pcap_record(LE, 1, 0, bytes(100))[:56],
            2, 3, PCAP_GOOD_LEN, r"truncated record \(40 of 100 bytes of packet data\)",
        ),
        "pcap-modified-truncated-header": Case(
            pcap_header(LE, 0xA1B2CD34) + bytes(20),
            0, 1, 24, r"truncated record header \(20 of 24 bytes\)",
        ),
        "pcapng-truncated-block-header": Case(
            _pcapng_good() + epb(LE, 0, 1, b"abc")[:5],
            2, 3, PCAPNG_GOOD_LEN, r"truncated block header \(5 of 8 bytes\)",
        ),
        "pcapng-truncated-epb": Case(
            _pcapng_good() + epb(LE, 0, 1, bytes(100))[:70],
            2, 3, PCAPNG_GOOD_LEN, r"truncated enhanced packet block \(70 of 132 bytes\)",
        ),
        "pcapng-truncated-epb-below-28": Case(
            _pcapng_good() + epb(LE, 0, 1, bytes(100))[:20],
            2, 3, PCAPNG_GOOD_LEN, r"truncated enhanced packet block \(20 of 132 bytes\)",
        ),
        "pcapng-truncated-idb": Case(
            shb(LE) + idb(LE, 1, 0, options(LE, (2, b"eth0")))[:22],
            0, 1, 28, r"truncated interface description block \(22 of 32 bytes\)",
        ),
        # 6. block lengths
        "pcapng-block-length-8": Case(
            _pcapng_good() + struct.pack("<II", 0x99, 8) + bytes(8),
            2, 3, PCAPNG_GOOD_LEN, r"block of type 0x00000099 length 8 is less than 12",
        ),
        "pcapng-block-length-not-multiple-of-4": Case(
            _pcapng_good() + block(LE, 0x99, bytes(18)),
            2, 3, PCAPNG_GOOD_LEN, r"length 30 is not a multiple of 4",
        ),
        "pcapng-epb-length-not-multiple-of-4": Case(
            _pcapng_good() + block(LE, 6, bytes(22)),
            2, 3, PCAPNG_GOOD_LEN, r"enhanced packet block length 34 is not a multiple of 4",
        ),
        "pcapng-epb-shorter-than-minimum": Case(
            _pcapng_good() + block(LE, 6, bytes(16)),
            2, 3, PCAPNG_GOOD_LEN, r"enhanced packet block length 28 is less than the minimum 32",
        ),
        "pcapng-trailer-mismatch": Case(
            _pcapng_good() + block(LE, 6, epb(LE, 0, 1, b"abcd")[8:-4], trailer=40),
            2, 3, PCAPNG_GOOD_LEN, r"block total length 36 in the header but 40 in the trailer",
        ),
        "pcapng-idb-trailer-mismatch": Case(
            shb(BE) + block(BE, 1, struct.pack(">HHI", 1, 0, 0), trailer=99),
            0, 1, 28, r"block total length 20 in the header but 99 in the trailer",
        ),
        "pcapng-block-over-16m": Case(
            _pcapng_good() + struct.pack("<II", 6, 16 * 2**20 + 4) + bytes(64),
            2, 3, PCAPNG_GOOD_LEN, r"length 16777220 exceeds the maximum 16777216",
        ),
        "pcapng-caplen-past-block": Case(
            _pcapng_good() + epb(LE, 0, 1, b"abcd", cap_len=9),
            2, 3, PCAPNG_GOOD_LEN, r"captured length 9 runs past the end of the enhanced packet",
        ),
        # 7. interfaces
        "pcapng-epb-before-idb": Case(
            shb(LE) + epb(LE, 0, 1, b"abcd"),
            0, 1, 28, r"packet for interface 0 before any interface description block",
        ),
        "pcapng-spb-before-idb": Case(
            shb(BE) + spb(BE, b"abcd"),
            0, 1, 28, r"packet for interface 0 before any interface description block",
        ),
        "pcapng-undeclared-interface": Case(
            _pcapng_good() + epb(LE, 3, 1, b"abcd"),
            2, 3, PCAPNG_GOOD_LEN, r"interface id 3 was never declared \(this section has 1 ",
        ),
        "pcapng-interfaces-reset-per-section": Case(
            _pcapng_good() + shb(BE) + epb(BE, 0, 1, b"abcd"),
            2, 3, PCAPNG_GOOD_LEN + 28, r"before any interface description block",
        ),
        "pcapng-isb-undeclared-interface": Case(
            _pcapng_good() + isb(LE, 1, 5),
            2, 3, PCAPNG_GOOD_LEN, r"interface id 1 was never declared",
        ),
        # 8. section header
        "pcapng-bad-byte-order-magic": Case(
            shb(LE, magic=0x12345678) + idb(LE), 0, None, 0, r"bad byte-order magic 0x78563412"
        ),
        "pcapng-bad-byte-order-magic-later": Case(
            _pcapng_good() + shb(LE, magic=0x1A2B3C4E),
            2, 3, PCAPNG_GOOD_LEN, r"bad byte-order magic 0x4e3c2b1a",
        ),
        "pcapng-version-1-1": Case(shb(LE, (1, 1)), 0, None, 0, r"unsupported pcapng version 1\.1"),
        "pcapng-version-2-0": Case(shb(BE, (2, 0)), 0, None, 0, r"unsupported pcapng version 2\.0"),
        # 9. options
        "pcapng-idb-option-past-block": Case(
            shb(LE) + idb(LE, 1, 0, struct.pack("<HH", 2, 100) + b"eth0"),
            0, 1, 28, r"option 2 of length 100 runs past the end of the block "
            r"\(4 bytes left\) \(option at offset 44\)",
        ),
        "pcapng-shb-option-past-block": Case(
            shb(LE, opts=struct.pack("<HH", 4, 12) + b"abcd"), 0, None, 0,
            r"option 4 of length 12 runs past the end of the block \(4 bytes left\) "
            r"\(option at offset 24\)",
        ),
        "pcapng-epb-option-past-block": Case(
            _pcapng_good() + epb(LE, 0, 1, b"abcd", opts=struct.pack("<HH", 1, 9) + b"abcd"),
            2, 3, PCAPNG_GOOD_LEN, r"option 1 of length 9 runs past the end of the block",
        ),
        "pcapng-epb-flags-wrong-size": Case(
            _pcapng_good() + epb(LE, 0, 1, b"abcd", opts=options(LE, (2, b"\x01\x02"))),
            2, 3, PCAPNG_GOOD_LEN, r"packet flags option of length 2 \(expected 4\)",
        ),
        "pcapng-tsresol-wrong-size": Case(
            shb(LE) + idb(LE, 1, 0, options(LE, (9, b"\x06\x00"))),
            0, 1, 28, r"if_tsresol option of length 2 \(expected 1\)",
        ),
        "pcapng-tsresol-10e-20": Case(
            shb(LE) + idb(LE, 1, 0, options(LE, (9, bytes([20])))),
            0, 1, 28, r"if_tsresol 0x14 is out of range",
        ),
        "pcapng-tsresol-2e-64": Case(
            _pcapng_good() + idb(LE, 1, 0, options(LE, (9, bytes([0x80 | 64])))),
            2, 3, PCAPNG_GOOD_LEN, r"if_tsresol 0xc0 is out of range \(the finest accepted are "
            r"10\^-19 s and 2\^-63 s\)",
        ),
        "pcapng-tsresol-repeated": Case(
            shb(LE) + idb(LE, 1, 0, options(LE, (9, b"\x06"), (9, b"\x09"))),
            0, 1, 28, r"if_tsresol option repeated",
        ),
        "pcapng-tsoffset-wrong-size": Case(
            shb(LE) + idb(LE, 1, 0, options(LE, (14, b"\x01\x02\x03\x04"))),
            0, 1, 28, r"if_tsoffset option of length 4 \(expected 8\)",
        ),
        "pcapng-fcslen-wrong-size": Case(
            shb(LE) + idb(LE, 1, 0, options(LE, (13, b"\x04\x00"))),
            0, 1, 28, r"if_fcslen option of length 2 \(expected 1\)",
        ),
        "pcapng-nrb-record-past-block": Case(
            _pcapng_good() + block(LE, 4, struct.pack("<HH", 1, 40) + bytes(8)),
            2, 3, PCAPNG_GOOD_LEN, r"name resolution record at offset \d+ runs past the end",
        ),
        "pcapng-nrb-ipv4-too-short": Case(
            _pcapng_good() + nrb(LE, [(1, b"\x0a\x00")]),
            2, 3, PCAPNG_GOOD_LEN, r"holds 2 bytes, too few for an address of 4",
        ),
    }  # fmt: skip
    return cases


CASES = _cases()


def read_until_error(path: Path) -> tuple[list[Record], CaptureError]:
    got: list[Record] = []
    with pytest.raises(CaptureError) as info:
        with open_capture(path) as reader:
            for record in reader:
                got.append(record)
    return got, info.value


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_corpus(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    path = tmp_path / f"{name}.cap"
    path.write_bytes(case.data)
    got, error = read_until_error(path)
    assert [r.data for r in got] == GOOD[: case.good]
    assert [r.number for r in got] == list(range(1, case.good + 1))
    assert all(not r.warnings for r in got)
    assert error.path == str(path)
    assert error.packet == case.packet
    assert error.offset == case.offset
    assert re.search(case.message, error.message), error.message
    # The one-line form names the place.
    where = (
        f"{path}" + (f", packet {case.packet}" if case.packet else "") + f", offset {case.offset}"
    )
    assert str(error).startswith(where + ": "), str(error)


def test_a_file_header_fault_fails_at_open(tmp_path: Path) -> None:
    path = tmp_path / "x.cap"
    path.write_bytes(b"not a capture at all")
    with pytest.raises(CaptureError, match="unknown magic"):
        open_capture(path)


def test_huge_captured_length_allocates_nothing(tmp_path: Path) -> None:
    """A record header claiming 4 GiB is refused before anything of that size is allocated."""
    path = tmp_path / "huge.pcap"
    path.write_bytes(_pcap_good() + struct.pack("<IIII", 1, 0, 0xFFFFFF00, 60) + bytes(1000))
    block_path = tmp_path / "huge.pcapng"
    block_path.write_bytes(_pcapng_good() + struct.pack("<II", 6, 0xFFFFFFF0) + bytes(1000))
    for target in (path, block_path):
        tracemalloc.start()
        try:
            got, error = read_until_error(target)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert len(got) == 2 and error.packet == 3
        assert peak < 2 * 2**20, f"{target.name}: peak {peak} bytes"


def test_caplen_beyond_snaplen_or_origlen_is_kept_and_flagged(tmp_path: Path) -> None:
    data = bytes(range(100))
    pcap_bytes = (
        pcap_header(LE, snaplen=64)
        + pcap_record(LE, 1, 0, data)  # 100 > snaplen 64
        + pcap_record(LE, 2, 0, data[:50], orig_len=40)  # 50 > orig_len 40
        + pcap_record(LE, 3, 0, data[:10], orig_len=9)  # both at once? no: 10 <= 64
        + pcap_record(LE, 4, 0, data, orig_len=99)  # both
        + pcap_record(LE, 5, 0, data[:64], orig_len=1500)  # fine: truncated by the snaplen
    )
    path = tmp_path / "flagged.pcap"
    path.write_bytes(pcap_bytes)
    got = list(open_capture(path))
    assert [r.data for r in got] == [data, data[:50], data[:10], data, data[:64]]
    assert [r.warnings for r in got] == [
        (CAPLEN_GT_SNAPLEN,),
        (CAPLEN_GT_ORIGLEN,),
        (CAPLEN_GT_ORIGLEN,),
        (CAPLEN_GT_SNAPLEN, CAPLEN_GT_ORIGLEN),
        (),
    ]
    assert [r.orig_len for r in got] == [100, 40, 9, 99, 1500]

    ng_bytes = (
        shb(BE)
        + idb(BE, 1, 64)
        + epb(BE, 0, 1, data)
        + epb(BE, 0, 2, data[:50], orig_len=40)
        + epb(BE, 0, 3, data[:64], orig_len=64)
    )
    path = tmp_path / "flagged.pcapng"
    path.write_bytes(ng_bytes)
    got = list(open_capture(path))
    assert [r.data for r in got] == [data, data[:50], data[:64]]
    assert [r.warnings for r in got] == [(CAPLEN_GT_SNAPLEN,), (CAPLEN_GT_ORIGLEN,), ()]


def test_pcapng_minor_version_2_is_read_as_0(tmp_path: Path) -> None:
    path = tmp_path / "v12.pcapng"
    path.write_bytes(shb(LE, (1, 2)) + idb(LE) + epb(LE, 0, 7, b"abcd"))
    with open_capture(path) as reader:
        got = list(reader)
        assert reader.sections[0].version == (1, 0)
        assert reader.sections[0].warnings == ("pcapng version 1.2 read as 1.0",)
    assert [r.data for r in got] == [b"abcd"]


def test_tsresol_bounds_accepted(tmp_path: Path) -> None:
    """10^-19 and 2^-63 are the finest resolutions accepted (see docs/capture.md)."""
    path = tmp_path / "fine.pcapng"
    path.write_bytes(
        shb(LE)
        + idb(LE, 1, 0, options(LE, (9, bytes([19]))))
        + idb(LE, 1, 0, options(LE, (9, bytes([0x80 | 63]))))
        + epb(LE, 0, 10**19 - 1, b"a")
        + epb(LE, 1, 2**64 - 1, b"b")
    )
    with open_capture(path) as reader:
        got = list(reader)
        assert [i.tsresol for i in reader.interfaces] == [10**19, 2**63]
    assert [r.ts_ns for r in got] == [999_999_999, 1_999_999_999]


def test_opt_endofopt_ends_the_options(tmp_path: Path) -> None:
    """Bytes after opt_endofopt are ignored, as Wireshark ignores them."""
    opts = option(LE, 1, b"first") + option(LE, 0, b"") + b"\xff" * 8
    path = tmp_path / "eoo.pcapng"
    path.write_bytes(shb(LE) + idb(LE) + epb(LE, 0, 1, b"abcd", opts=opts))
    (record,) = open_capture(path)
    assert record.comment == "first" and record.options == ()


def test_nsec_pcap_error_carries_offset_of_record(tmp_path: Path) -> None:
    """Offsets count from the start of the file, whatever the chunk boundaries."""
    records = b"".join(pcap_record(BE, i, i, bytes(999)) for i in range(700))
    path = tmp_path / "long.pcap"
    path.write_bytes(pcap_header(BE, MAGIC_NSEC) + records + b"\x00" * 7)
    got, error = read_until_error(path)
    assert len(got) == 700
    assert [r.offset for r in got[:3]] == [24, 24 + 1015, 24 + 2030]
    assert error.packet == 701 and error.offset == 24 + 700 * 1015
