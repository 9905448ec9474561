"""ICMPv6 with ND and MLD: golden messages both ways (ND and MLD, whose options and records
read to the message's end), the checksum over the IPv6 pseudo-header, malformed and short
options, an error's quoted packet, the -V tree, JSON, filters, encoding with checksums
computed, and agreement with tshark on the captures that hold ICMPv6."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import REAL_DIR, missing, require_tshark
from vxlankit.codec import decode, encode
from vxlankit.layers import icmpv6
from vxlankit.packet import CHECKSUM_BAD, CHECKSUM_GOOD, CHECKSUM_UNVERIFIED, MALFORMED, OK, Layer
from vxlankit.present.filter import compile_filter
from vxlankit.present.jsonl import dumps, packet_object
from vxlankit.present.tree import packet_tree

NEXT_DIR = REAL_DIR.parent / "next"
SRC = bytes.fromhex("fe800000000000000000000000000001")
DST = bytes.fromhex("fe800000000000000000000000000002")


def _sum16(data: bytes) -> int:
    """The one's complement sum, word by word (independent of vxlankit.checksum)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _checksummed(src: bytes, dst: bytes, message: bytes) -> bytes:
    pseudo = src + dst + struct.pack("!I3xB", len(message), 58)
    zeroed = message[:2] + b"\0\0" + message[4:]
    return message[:2] + struct.pack("!H", ~_sum16(pseudo + zeroed) & 0xFFFF) + message[4:]


def _frame(message: bytes, src: bytes = SRC, dst: bytes = DST, fix: bool = True,
           plen: int | None = None) -> bytes:
    if fix:
        message = _checksummed(src, dst, message)
    ip6 = struct.pack("!IHBB", 0x60000000, len(message) if plen is None else plen, 58, 255)
    return bytes.fromhex("333300000001020000000001 86dd") + ip6 + src + dst + message


def _icmpv6(packet: Any) -> Layer:
    return next(layer for layer in packet.layers if layer.proto == "icmpv6")


# ------------------------------------------------------------------------------ golden messages

# tcpdump_icmpv6-ns-nonce.pcap: NS for fe80::546f:f7ff:fee1:f with a nonce option
NS_HEX = "87 00 566e 00000000 fe80000000000000546ff7fffee1000f 0e01 6069604c0aaa"
NS_FIELDS: dict[str, Any] = {
    "icmpv6.type": 135, "icmpv6.code": 0, "icmpv6.checksum": 0x566E,
    "icmpv6.reserved": bytes(4), "icmpv6.nd.ns.target_address": "fe80::546f:f7ff:fee1:f",
    "icmpv6.options": bytes.fromhex("0e016069604c0aaa"), "icmpv6.opt.type": [14],
    "icmpv6.opt.length": [1], "icmpv6.opt.nonce": [bytes.fromhex("6069604c0aaa")]}
# tcpdump_icmpv6-ra-pref64.pcap packet 1: RA, flag O, SLLA, prefix information, PREF64
RA_HEX = ("86 00 15e8 50 40 01f4 00000000 00000000"
          " 0101 e21581b4b945"
          " 0304 40 80 00000e10 00000708 00000000 20010db800cc00dd0000000000000000"
          " 2602 0000 20010db800010064ff9b0000")
RA_FIELDS: dict[str, Any] = {
    "icmpv6.type": 134, "icmpv6.code": 0, "icmpv6.checksum": 0x15E8,
    "icmpv6.nd.ra.cur_hop_limit": 80, "icmpv6.nd.ra.flag": 0x40,
    "icmpv6.nd.ra.flag.m": 0, "icmpv6.nd.ra.flag.o": 1, "icmpv6.nd.ra.flag.h": 0,
    "icmpv6.nd.ra.flag.prf": 0, "icmpv6.nd.ra.flag.p": 0, "icmpv6.nd.ra.flag.rsv": 0,
    "icmpv6.nd.ra.router_lifetime": 500, "icmpv6.nd.ra.reachable_time": 0,
    "icmpv6.nd.ra.retrans_timer": 0,
    "icmpv6.options": bytes.fromhex(
        "0101e21581b4b9450304408000000e100000070800000000"
        "20010db800cc00dd00000000000000002602000020010db800010064ff9b0000"),
    "icmpv6.opt.type": [1, 3, 38], "icmpv6.opt.length": [1, 4, 2],
    "icmpv6.opt.linkaddr": [bytes.fromhex("e21581b4b945")],
    "icmpv6.opt.src_linkaddr": [bytes.fromhex("e21581b4b945")],
    "icmpv6.opt.prefix.length": [64], "icmpv6.opt.prefix.flag": [0x80],
    "icmpv6.opt.prefix.flag.l": [1], "icmpv6.opt.prefix.flag.a": [0],
    "icmpv6.opt.prefix.flag.r": [0], "icmpv6.opt.prefix.flag.reserved": [0],
    "icmpv6.opt.prefix.valid_lifetime": [3600], "icmpv6.opt.prefix.preferred_lifetime": [1800],
    "icmpv6.opt.prefix": ["2001:db8:cc:dd::"],
    "icmpv6.opt.pref64.scaled_lifetime": [0], "icmpv6.opt.pref64.plc": [0],
    "icmpv6.opt.pref64.prefix": ["2001:db8:1:64:ff9b::"]}
# NA fe80::2 (rtr, sol, ovr) is at 02:00:00:00:00:02
NA_HEX = "88 00 9819 e0000000 fe800000000000000000000000000002 0201 020000000002"
NA_FIELDS: dict[str, Any] = {
    "icmpv6.type": 136, "icmpv6.code": 0, "icmpv6.checksum": 0x9819,
    "icmpv6.nd.na.flag": 0xE0000000, "icmpv6.nd.na.flag.r": 1, "icmpv6.nd.na.flag.s": 1,
    "icmpv6.nd.na.flag.o": 1, "icmpv6.nd.na.flag.rsv": 0,
    "icmpv6.nd.na.target_address": "fe80::2",
    "icmpv6.options": bytes.fromhex("0201020000000002"), "icmpv6.opt.type": [2],
    "icmpv6.opt.length": [1], "icmpv6.opt.linkaddr": [bytes.fromhex("020000000002")],
    "icmpv6.opt.target_linkaddr": [bytes.fromhex("020000000002")]}
# tcpdump_icmpv6.pcap packet 3: MLDv2 query (28 bytes)
MLDV2_QUERY_HEX = "82 00 623a 2710 0000 00000000000000000000000000000000 02 3c 0000"
MLDV2_QUERY_FIELDS: dict[str, Any] = {
    "icmpv6.type": 130, "icmpv6.code": 0, "icmpv6.checksum": 0x623A,
    "icmpv6.mld.maximum_response_code": 10000, "icmpv6.reserved": bytes(2),
    "icmpv6.mld.multicast_address": "::", "icmpv6.mld.flag": 2, "icmpv6.mld.flag.s": 0,
    "icmpv6.mld.flag.qrv": 2, "icmpv6.mld.flag.reserved": 0, "icmpv6.mld.qqi": 60,
    "icmpv6.mld.nb_sources": 0}
MLDV1_QUERY_HEX = "82 00 7c3f 03e8 0000 00000000000000000000000000000000"
MLDV1_QUERY_FIELDS: dict[str, Any] = {
    "icmpv6.type": 130, "icmpv6.code": 0, "icmpv6.checksum": 0x7C3F,
    "icmpv6.mld.maximum_response_delay": 1000, "icmpv6.reserved": bytes(2),
    "icmpv6.mld.multicast_address": "::"}
# tcpdump_icmpv6.pcap packet 2: MLDv2 report, one record (change to exclude, ff02::db8:1122:3344)
MLDV2_REPORT_HEX = "8f 00 1fc5 0000 0001 04 00 0000 ff0200000000000000000db811223344"
MLDV2_REPORT_FIELDS: dict[str, Any] = {
    "icmpv6.type": 143, "icmpv6.code": 0, "icmpv6.checksum": 0x1FC5,
    "icmpv6.reserved": bytes(2), "icmpv6.mldr.nb_mcast_records": 1,
    "icmpv6.mld.data": bytes.fromhex("04000000ff0200000000000000000db811223344"),
    "icmpv6.mldr.mar.record_type": [4], "icmpv6.mldr.mar.aux_data_len": [0],
    "icmpv6.mldr.mar.nb_sources": [0],
    "icmpv6.mldr.mar.multicast_address": ["ff02::db8:1122:3344"]}
UNKNOWN_HEX = "c8 00 31aa 010203040506"
UNKNOWN_FIELDS: dict[str, Any] = {
    "icmpv6.type": 200, "icmpv6.code": 0, "icmpv6.checksum": 0x31AA,
    "icmpv6.data": bytes.fromhex("010203040506")}

GOLDEN = [("ns-nonce", NS_HEX, NS_FIELDS), ("ra-pref64", RA_HEX, RA_FIELDS),
          ("na", NA_HEX, NA_FIELDS), ("mldv2-query", MLDV2_QUERY_HEX, MLDV2_QUERY_FIELDS),
          ("mldv1-query", MLDV1_QUERY_HEX, MLDV1_QUERY_FIELDS),
          ("mldv2-report", MLDV2_REPORT_HEX, MLDV2_REPORT_FIELDS),
          ("unknown-type", UNKNOWN_HEX, UNKNOWN_FIELDS)]


@pytest.mark.parametrize(("name", "hexstr", "fields"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_both_ways(name: str, hexstr: str, fields: dict[str, Any]) -> None:
    raw = bytes.fromhex(hexstr.replace(" ", ""))
    assert icmpv6.decode(raw, 0) == fields
    assert icmpv6.decode(b"\xa5" * 3 + raw, 3) == fields
    assert icmpv6.schema_parse(raw) == fields
    assert icmpv6.encode(dict(fields)) == raw
    assert icmpv6.schema_build(dict(fields)) == raw


@pytest.mark.parametrize(("name", "hexstr", "fields"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_in_a_frame_checksum_good(name: str, hexstr: str, fields: dict[str, Any]) -> None:
    raw = bytes.fromhex(hexstr.replace(" ", ""))
    # the captured ones keep their own addresses: the checksum is recomputed for ours
    frame = _frame(raw)
    packet = decode(frame)
    assert packet.ok, packet.errors
    layer = _icmpv6(packet)
    assert layer.fields["icmpv6.checksum.status"] == CHECKSUM_GOOD
    assert encode(packet) == frame  # lengths and checksums recomputed: the same bytes


# ------------------------------------------------------------------------------ checksum


def test_bad_checksum_is_reported_with_the_right_value() -> None:
    good = _frame(bytes.fromhex(NA_HEX.replace(" ", "")))
    bad = good[:56] + b"\x12\x34" + good[58:]
    packet = decode(bad)
    layer = _icmpv6(packet)
    assert layer.status == OK
    assert layer.fields["icmpv6.checksum.status"] == CHECKSUM_BAD
    assert layer.fields["icmpv6.checksum_calculated"] == int.from_bytes(good[56:58], "big")
    assert any("icmpv6: bad checksum" in e for e in packet.errors)
    assert encode(packet, fix_lengths=False, compute_checksums=False) == bad
    assert encode(packet) == good


def test_checksum_of_a_cut_message_is_unverified() -> None:
    frame = _frame(bytes.fromhex(RA_HEX.replace(" ", "")))
    packet = decode(frame[:-8])  # the capture ends inside the last option
    layer = _icmpv6(packet)
    assert layer.fields["icmpv6.checksum.status"] == CHECKSUM_UNVERIFIED
    assert encode(packet, fix_lengths=False, compute_checksums=False) == frame[:-8]


def test_encode_computes_the_checksum() -> None:
    frame = _frame(bytes.fromhex(NS_HEX.replace(" ", "")))
    packet = decode(frame)
    for layer in packet.layers:
        if layer.proto == "icmpv6":
            layer.fields["icmpv6.checksum"] = None
    assert encode(packet, fix_lengths=False, compute_checksums=False) == frame


# ------------------------------------------------------------------------------ malformed input


def test_zero_length_option_stops_the_options() -> None:
    message = bytes.fromhex("87 00 0000 00000000 fe800000000000000000000000000002"
                            " 0100 020000000001 0101 020000000001".replace(" ", ""))
    frame = _frame(message)
    packet = decode(frame)
    layer = _icmpv6(packet)
    assert layer.status == MALFORMED
    assert layer.fields["icmpv6.opt.type"] == [1] and layer.fields["icmpv6.opt.length"] == [0]
    assert "icmpv6.opt.linkaddr" not in layer.fields  # nothing after the zero length is read
    assert any("length 0" in e for e in packet.errors)
    assert encode(packet, fix_lengths=False, compute_checksums=False) == frame
    assert encode(packet) == frame


@pytest.mark.parametrize("options", ["01", "0102 0200000000", "1903 00000000"],
                         ids=["one-byte", "past-the-end", "rdnss-cut"])
def test_options_cut_short_are_malformed(options: str) -> None:
    message = bytes.fromhex("85 00 0000 00000000" + options.replace(" ", ""))
    frame = _frame(message)
    packet = decode(frame)
    layer = _icmpv6(packet)
    assert layer.status == MALFORMED
    assert len(layer.fields.get("icmpv6.opt.type", [])) == (0 if options == "01" else 1)
    assert encode(packet) == frame


def test_message_shorter_than_its_fixed_part() -> None:
    frame = _frame(bytes.fromhex("87 00 0000 00000000 fe80".replace(" ", "")))
    packet = decode(frame)
    layer = _icmpv6(packet)
    assert layer.status == MALFORMED
    assert layer.fields["icmpv6.data"] == bytes.fromhex("00000000fe80")
    assert layer.fields["icmpv6.checksum.status"] == CHECKSUM_GOOD
    assert encode(packet) == frame


def test_header_cut_by_the_capture() -> None:
    frame = _frame(bytes.fromhex(NS_HEX.replace(" ", "")))
    packet = decode(frame[:54 + 3])
    assert packet.layers[-1].proto == "icmpv6" and packet.layers[-1].raw == frame[54:57]


@given(body=st.binary(max_size=80), itype=st.sampled_from([1, 2, 3, 4, 128, 130, 133, 134, 135,
                                                            136, 137, 143]) | st.integers(0, 255),
       complete=st.booleans())
def test_any_message_decodes_and_writes_back(body: bytes, itype: int, complete: bool) -> None:
    message = bytes((itype, 0, 0, 0)) + body
    frame = _frame(message, plen=None if complete else len(message) + 9)
    packet = decode(frame)  # never raises
    assert any(layer.proto == "icmpv6" for layer in packet.layers)
    assert encode(packet, fix_lengths=False, compute_checksums=False) == frame


# ------------------------------------------------------------------------------ errors' quotes

QUOTED = bytes.fromhex(
    "6000000000 2c 1103 20010db8000000000000000000000002 20010db8000000000000000000000099"
    " 04d2 0035 002c e8b3".replace(" ", "")) + b"hello world!" * 3


@pytest.mark.parametrize("cut", [None, 48], ids=["whole", "cut-after-udp"])
def test_error_quotes_the_invoking_packet(cut: int | None) -> None:
    quoted = QUOTED if cut is None else QUOTED[:cut]
    frame = _frame(bytes.fromhex("03 00 0000 00000000") + quoted)
    packet = decode(frame)
    assert packet.protocols.startswith("eth:ipv6:icmpv6:ipv6:udp")
    assert packet.ok, packet.errors
    udp = next(layer for layer in packet.layers if layer.proto == "udp")
    expected = CHECKSUM_GOOD if cut is None else CHECKSUM_UNVERIFIED
    assert udp.fields["udp.checksum.status"] == expected
    if cut is not None:
        assert any("quoted packet" in note for note in _icmpv6(packet).notes)
    # The quote's lengths and checksums stay as they are, the outer ones are recomputed.
    assert encode(packet) == frame
    _icmpv6(packet).fields["icmpv6.checksum"] = 0
    assert encode(packet) == frame


def test_error_info() -> None:
    packet = decode(_frame(bytes.fromhex("01 04 0000 00000000") + QUOTED))
    assert icmpv6.info(_icmpv6(packet)) == "Destination Unreachable (Port unreachable)"


# ------------------------------------------------------------------------------ presentation


@pytest.mark.parametrize(("hexstr", "text"), [
    (NS_HEX, "Neighbor Solicitation for fe80::546f:f7ff:fee1:f"),
    (RA_HEX, "Router Advertisement from e2:15:81:b4:b9:45"),
    (NA_HEX, "Neighbor Advertisement fe80::2 (rtr, sol, ovr) is at 02:00:00:00:00:02"),
    ("80 00 0000 1234 0007 6162", "Echo (ping) request id=0x1234, seq=7"),
    (MLDV2_REPORT_HEX, "Multicast Listener Report Message v2"),
])
def test_info_like_tsharks(hexstr: str, text: str) -> None:
    packet = decode(_frame(bytes.fromhex(hexstr.replace(" ", ""))))
    assert icmpv6.info(_icmpv6(packet)) == text
    assert icmpv6.SPEC.short == "ICMPv6"


def test_tree_json_and_filter() -> None:
    packet = decode(_frame(bytes.fromhex(RA_HEX.replace(" ", ""))))
    lines = [line.strip() for line in packet_tree(packet)]
    assert any(line.startswith("Internet Control Message Protocol v6 (icmpv6), bytes 54-")
               for line in lines)
    assert "icmpv6.nd.ra.flag.o: 1" in [line.split("  ")[0] for line in lines]
    assert [line.split()[1] for line in lines if line.startswith("icmpv6.opt.type:")] == [
        "1", "3", "38"]
    assert any(line.startswith("icmpv6.checksum: 0x") and "[good]" in line for line in lines)
    text = dumps(packet_object(packet))
    assert '"icmpv6.opt.type":[1,3,38]' in text
    assert '"icmpv6.opt.prefix":["2001:db8:cc:dd::"]' in text
    known = frozenset(icmpv6.SPEC.field_names)
    assert compile_filter("icmpv6.type == 134", known)(packet)
    assert not compile_filter("icmpv6.type == 135", known)(packet)
    assert compile_filter("icmpv6.opt.type == 38", known)(packet)
    ns = decode(_frame(bytes.fromhex(NS_HEX.replace(" ", ""))))
    assert compile_filter("icmpv6.type == 135", known)(ns)


def test_options_helper_pads_to_eight_bytes() -> None:
    raw = icmpv6.options((1, bytes.fromhex("020000000001")), (14, b"\x01\x02"))
    assert raw == bytes.fromhex("0101020000000001 0e01010200000000".replace(" ", ""))
    views, problem = icmpv6.option_views(raw)
    assert problem is None and views["icmpv6.opt.nonce"] == [bytes.fromhex("010200000000")]


# ------------------------------------------------------------------------------ tshark

NEXT_CAPTURES = ["tcpdump_icmpv6.pcap", "tcpdump_icmpv6-ns-nonce.pcap",
                 "tcpdump_icmpv6-ra-pref64.pcap"]


@pytest.mark.parametrize("name", NEXT_CAPTURES)
def test_next_capture_agrees_with_tshark(name: str) -> None:
    require_tshark()
    path = NEXT_DIR / name
    if not path.is_file():
        missing(f"capture {path} not found")
    from vxlankit.crosscheck import crosscheck
    from vxlankit.crosscheck.report import render_text

    report = crosscheck(path)
    assert report.ok, render_text(report)
    assert report.layers_by_protocol.get("icmpv6", 0) >= 1
    assert report.fields_compared > 0


def _pcap(path: Path, frames: list[bytes]) -> Path:
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, frame in enumerate(frames):
            out.write(struct.pack("<IIII", i, 0, len(frame), len(frame)) + frame)
    return path


def test_generated_messages_agree_with_tshark(tmp_path: Path) -> None:
    """Every kind of message built here, the errors' quotes included, field by field."""
    require_tshark()
    from vxlankit.crosscheck import crosscheck
    from vxlankit.crosscheck.report import render_text

    messages = [bytes.fromhex(h.replace(" ", "")) for h, _ in (
        (NS_HEX, 0), (RA_HEX, 0), (NA_HEX, 0), (MLDV2_QUERY_HEX, 0), (MLDV1_QUERY_HEX, 0),
        (MLDV2_REPORT_HEX, 0), (UNKNOWN_HEX, 0), ("80 00 0000 1234 0007 6162636465", 0),
        ("81 00 0000 1234 0007", 0),
        ("89 00 0000 00000000 fe800000000000000000000000000003"
         " 20010db8000000000000000000000005 0201 020000000003", 0),
        ("85 00 0000 00000000 0101 020000000001", 0))]
    messages += [bytes.fromhex("01 04 0000 00000000") + QUOTED,
                 bytes.fromhex("02 00 0000 00000500") + QUOTED,
                 bytes.fromhex("03 00 0000 00000000") + QUOTED[:48],
                 bytes.fromhex("04 01 0000 00000028") + QUOTED]
    path = _pcap(tmp_path / "icmpv6.pcap", [_frame(m) for m in messages])
    report = crosscheck(path)
    assert report.ok, render_text(report)
    assert report.layers_by_protocol["icmpv6"] == len(messages)
    assert report.layers_by_protocol["udp"] == 4  # the quoted datagrams, paired
    assert report.fields_compared > 200
