"""The hot paths are proven equal to the Construct schemas they stand in for.

The reader unpacks record and block headers with ``struct`` and walks options by hand; the writer
packs with ``struct``.  Each of those is checked here against the Construct schema of the same
structure, on random bytes and random field values, in both byte orders.
"""

from __future__ import annotations

import struct

import pytest
from construct import ConstructError
from hypothesis import given
from hypothesis import strategies as st

from vxlankit.capture import pcap
from vxlankit.capture import pcapng as ng

orders = st.sampled_from("<>")
u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


def _fields(container: object, names: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(getattr(container, name) for name in names)


@given(orders, st.binary(min_size=16, max_size=16))
def test_pcap_record_header_struct_equals_schema(order: str, raw: bytes) -> None:
    parsed = pcap.RECORD_HEADER[order].parse(raw)
    names = ("ts_sec", "ts_frac", "incl_len", "orig_len")
    assert pcap.RECORD_HEADER_STRUCT[order].unpack_from(raw, 0) == _fields(parsed, names)


@given(orders, u32, u32, u32, u32)
def test_pcap_record_header_pack_equals_build(order: str, a: int, b: int, c: int, d: int) -> None:
    built = pcap.RECORD_HEADER[order].build(
        {"ts_sec": a, "ts_frac": b, "incl_len": c, "orig_len": d}
    )
    assert pcap.RECORD_HEADER_STRUCT[order].pack(a, b, c, d) == built


@given(orders, st.binary(min_size=24, max_size=24))
def test_modified_record_header_equals_schema(order: str, raw: bytes) -> None:
    parsed = pcap.MODIFIED_RECORD_HEADER[order].parse(raw)
    head = pcap.RECORD_HEADER_STRUCT[order].unpack_from(raw, 0)
    extra = pcap.unpack_modified_extra(raw, 16, order)
    names = ("ts_sec", "ts_frac", "incl_len", "orig_len", "ifindex", "protocol", "pkt_type", "pad")
    assert head + extra == _fields(parsed, names)
    assert pcap.pack_modified_extra(order, extra) == raw[16:]


@given(orders, st.binary(min_size=24, max_size=24))
def test_pcap_file_header_round_trips(order: str, raw: bytes) -> None:
    fields = pcap.FILE_HEADER[order].parse(raw)
    header = pcap.PcapHeader(
        "usec",
        order,
        version_major=fields.version_major,
        version_minor=fields.version_minor,
        thiszone=fields.thiszone,
        sigfigs=fields.sigfigs,
        snaplen=fields.snaplen,
        linktype_field=fields.linktype,
    )
    assert header.build()[4:] == raw[4:]


@given(orders, st.binary(min_size=28, max_size=28))
def test_epb_head_struct_equals_schemas(order: str, raw: bytes) -> None:
    schemas = ng.SCHEMAS[order]
    head = schemas["block_header"].parse(raw[:8])
    body = schemas["epb"].parse(raw[8:])
    expected = _fields(head, ("block_type", "block_total_length")) + _fields(
        body, ("interface_id", "ts_high", "ts_low", "cap_len", "orig_len")
    )
    assert ng.EPB_HEAD_STRUCT[order].unpack_from(raw, 0) == expected
    assert ng.BLOCK_HEADER_STRUCT[order].unpack_from(raw, 0) == expected[:2]
    assert ng.EPB_STRUCT[order].unpack_from(raw, 8) == expected[2:]
    assert ng.U32_STRUCT[order].unpack_from(raw, 0) == expected[:1]


@given(orders, st.binary(min_size=20, max_size=20))
def test_opb_struct_equals_schema(order: str, raw: bytes) -> None:
    parsed = ng.SCHEMAS[order]["opb"].parse(raw)
    names = ("interface_id", "drops_count", "ts_high", "ts_low", "cap_len", "orig_len")
    assert ng.OPB_STRUCT[order].unpack_from(raw, 0) == _fields(parsed, names)


@given(orders, u32, u32, u32, u32, u32)
def test_epb_pack_equals_build(order: str, iid: int, hi: int, lo: int, cap: int, orig: int) -> None:
    built = ng.SCHEMAS[order]["epb"].build(
        {"interface_id": iid, "ts_high": hi, "ts_low": lo, "cap_len": cap, "orig_len": orig}
    )
    assert ng.EPB_STRUCT[order].pack(iid, hi, lo, cap, orig) == built


def _option_area(order: str) -> st.SearchStrategy[bytes]:
    """Option areas that are mostly well formed, with opt_endofopt, junk, or a bad length."""
    option = st.tuples(st.integers(0, 20), st.binary(max_size=12)).map(
        lambda cv: struct.pack(order + "HH", cv[0], len(cv[1])) + cv[1] + b"\0" * (-len(cv[1]) % 4)
    )
    bad_length = st.tuples(st.integers(1, 20), st.integers(1, 400)).map(
        lambda cl: struct.pack(order + "HH", cl[0], cl[1])
    )
    piece = st.one_of(option, option, option, bad_length, st.binary(max_size=7))
    return st.lists(piece, max_size=6).map(b"".join)


@given(st.data())
def test_walk_options_equals_reference(data: st.DataObject) -> None:
    order = data.draw(orders)
    area = data.draw(st.one_of(_option_area(order), st.binary(max_size=40)))
    expected = ng.parse_options_reference(area, order)
    if expected is None:
        with pytest.raises(ng.OptionError):
            ng.walk_options(area, 0, len(area), order)
    else:
        # Offsets inside a larger buffer must not matter.
        padded = b"\xee" * 8 + area + b"\xee" * 8
        assert ng.walk_options(padded, 8, 8 + len(area), order) == expected


@given(orders, st.lists(st.tuples(st.integers(1, 0xFFFF), st.binary(max_size=30)), max_size=6))
def test_build_options_reads_back(order: str, opts: list[tuple[int, bytes]]) -> None:
    area = ng.build_options(order, opts)
    assert len(area) % 4 == 0
    assert ng.parse_options_reference(area, order) == opts
    assert ng.walk_options(area, 0, len(area), order) == opts


@given(orders, st.binary(min_size=12, max_size=40))
def test_block_schema_frames_what_the_builder_frames(order: str, body: bytes) -> None:
    body = body[: len(body) - len(body) % 4]
    raw = (
        struct.pack(order + "II", 1, 12 + len(body))
        + body
        + struct.pack(order + "I", 12 + len(body))
    )
    parsed = ng.SCHEMAS[order]["block"].parse(raw)
    assert parsed.body == body
    assert parsed.block_total_length == parsed.block_total_length_trailer == len(raw)


def test_reference_reports_truncation_as_construct_error() -> None:
    # What the reader must never let through: construct raising on short input.
    with pytest.raises(ConstructError):
        ng.SCHEMAS["<"]["epb"].parse(b"\0" * 10)


def test_tsresol_option_codes_round_trip() -> None:
    accepted = 0
    for code in range(256):
        tsresol = ng.tsresol_from_option(code)
        exponent = code & 0x7F
        if code & 0x80:
            assert (tsresol is None) == (exponent > 63)
        else:
            assert (tsresol is None) == (exponent > 19)
        if tsresol is not None:
            accepted += 1
            back = ng.tsresol_to_option(tsresol)
            # 2**0 == 10**0: both codes mean one tick per second; the decimal one is canonical.
            assert back == (0 if tsresol == 1 else code)
    assert accepted == 20 + 64
    assert ng.tsresol_to_option(3) is None
    assert ng.tsresol_to_option(10**20) is None
    assert ng.tsresol_to_option(2**64) is None


@given(orders, st.sampled_from([(ng.IDB, ng.IF_SPEED, 8), (ng.IDB, ng.IF_TZONE, 4),
                                (ng.EPB, ng.EPB_DROPCOUNT, 8), (ng.EPB, ng.EPB_QUEUE, 4)]),
       st.integers(0, 2**32 - 1))  # fmt: skip
def test_swap_option_integer(order: str, spec: tuple[int, int, int], value: int) -> None:
    block_type, code, width = spec
    other = ">" if order == "<" else "<"
    fmt = {4: "I", 8: "Q"}[width]
    raw = struct.pack(order + fmt, value)
    assert ng.swap_option(block_type, code, raw) == struct.pack(other + fmt, value)


def test_swap_option_text_custom_and_unknown() -> None:
    assert ng.swap_option(ng.IDB, ng.IF_NAME, b"eth0") == b"eth0"
    assert ng.swap_option(ng.EPB, 2988, b"\x01\x02\x03\x04text") == b"\x04\x03\x02\x01text"
    assert ng.swap_option(ng.EPB, 300, b"\x01\x02") is None
    assert ng.swap_option(ng.IDB, ng.IF_SPEED, b"\x01\x02") is None  # wrong width: unknown
