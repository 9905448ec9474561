"""IPv6 (RFC 8200) and its extension headers: the walk (pseudo-header addresses, payload
length, fragments, a routing header's final destination), malformed and cut input, the zero
UDP checksum, the encoder's fix-ups, the -V tree, JSON, filters, and tshark on the captures
that hold IPv6."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.support import REAL_DIR, missing, require_tshark
from vxlankit import build, decode, encode
from vxlankit.capture.record import Interface, Record
from vxlankit.crosscheck import crosscheck
from vxlankit.crosscheck.report import render_text
from vxlankit.layers import ipv6, ipv6ext
from vxlankit.layers.registry import TABLES
from vxlankit.packet import (
    CHECKSUM_GOOD,
    CHECKSUM_ILLEGAL,
    CHECKSUM_NOT_PRESENT,
    CHECKSUM_UNVERIFIED,
    MALFORMED,
    OK,
    TRUNCATED,
    Layer,
)
from vxlankit.present.filter import compile_filter
from vxlankit.present.jsonl import record_json
from vxlankit.present.run import decode_capture
from vxlankit.present.tree import packet_tree

NEXT_DIR = REAL_DIR.parent / "next"
CAPTURES = [REAL_DIR / "tcpdump_gso-ipv6-vxlan-ipv6.pcap", NEXT_DIR / "tcpdump_icmpv6.pcap",
            NEXT_DIR / "tcpdump_icmpv6-ns-nonce.pcap", NEXT_DIR / "tcpdump_icmpv6-ra-pref64.pcap",
            NEXT_DIR / "tcpdump_gso-ipv6-geneve-ipv4.pcap",
            NEXT_DIR / "tcpdump_erspan-type-iii-pb-1.pcap"]
SRC, DST, FINAL = "2001:db8::1", "2001:db8::2", "2001:db8::99"


def eth() -> Layer:
    return build.eth(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def udp_frame(*ext: Layer, checksum: int | None = None, src: str = SRC) -> bytes:
    return encode([eth(), build.ipv6(src, DST), *ext, build.udp(1000, 2000, checksum=checksum),
                   build.payload(b"hello")])


def test_selectors() -> None:
    for table, value in (("ethertype", 0x86DD), ("linktype", 229), ("ip.version", 6),
                         ("vxlan.next_proto", 2), ("null.family", 24), ("null.family", 28),
                         ("null.family", 30), ("ip.proto", 41)):
        assert TABLES[table][value] == "ipv6", (table, value)
    assert {TABLES["ip.proto"][n] for n in (0, 43, 44, 60, 51, 50)} == {
        "ipv6.hopopts", "ipv6.routing", "ipv6.fraghdr", "ipv6.dstopts", "ah", "esp"}


def test_udp_over_ipv6_checksum_and_walk() -> None:
    packet = decode(udp_frame())
    assert packet.protocols == "eth:ipv6:udp:data" and packet.ok, packet
    v6, udp = packet.layers[1], packet.layers[2]
    assert v6.fields["ipv6.plen"] == 13 and v6.fields["ipv6.nxt"] == 17
    assert udp.fields["udp.checksum.status"] == CHECKSUM_GOOD


def test_zero_udp_checksum_over_ipv6_is_illegal_but_no_error() -> None:
    """tshark 4.0: udp.checksum.status 4 (Illegal), expert "Illegal checksum value (0)"; a
    tunnel may still send it (RFC 6935), so the packet has no error and VXLAN goes on."""
    wire = bytearray(udp_frame())
    wire[14 + 40 + 6:14 + 40 + 8] = b"\0\0"
    packet = decode(bytes(wire))
    assert packet.layers[2].fields["udp.checksum.status"] == CHECKSUM_ILLEGAL
    assert packet.errors == [] and packet.ok
    assert "udp.checksum: 0x0000 [illegal]" in "\n".join(packet_tree(packet))
    over_v4 = decode(encode([eth(), build.ipv4("10.0.0.1", "10.0.0.2"),
                             build.udp(1, 2, checksum=0), build.payload(b"x")]))
    assert over_v4.layers[2].fields["udp.checksum.status"] == CHECKSUM_NOT_PRESENT
    tunnel = decode(encode([eth(), build.ipv6(SRC, DST), build.udp(1, 4789, checksum=0),
                            build.vxlan(7), eth(), build.ipv4("10.0.0.1", "10.0.0.2"),
                            build.icmp_echo(1, 1)], compute_checksums=False))
    assert tunnel.protocols == "eth:ipv6:udp:vxlan:eth:ip:icmp"
    assert tunnel.layers[2].fields["udp.checksum.status"] == CHECKSUM_ILLEGAL


def test_encoder_never_leaves_udp_over_ipv6_zero() -> None:
    fixed = decode(udp_frame(checksum=0))  # computed, not "none" as over IPv4
    assert fixed.layers[2].fields["udp.checksum"] != 0
    assert fixed.layers[2].fields["udp.checksum.status"] == CHECKSUM_GOOD
    kept = decode(encode([eth(), build.ipv6(SRC, DST), build.udp(1, 2, checksum=0),
                          build.payload(b"x")], compute_checksums=False))
    assert kept.layers[2].fields["udp.checksum"] == 0  # as given, when not computing


@pytest.mark.parametrize("route", [
    build.ipv6_routing([FINAL]),  # type 0: the last address
    build.ipv6_routing([FINAL], type=2),  # type 2: the home address
    build.ipv6_routing([FINAL, DST], type=4, segleft=1),  # SRH: segment 0
])
def test_routing_header_names_the_final_destination(route: Layer) -> None:
    """RFC 8200 8.1; tshark 4.0 verifies these checksums (computed so) as good."""
    wire = udp_frame(route)
    packet = decode(wire)
    assert packet.protocols == "eth:ipv6:ipv6.routing:udp:data"
    assert packet.layers[3].fields["udp.checksum.status"] == CHECKSUM_GOOD
    header = wire[14:14 + 40 + packet.layers[2].length]
    assert ipv6.pseudo_addresses(header, 40)[1] == bytes.fromhex("20010db8" + "0" * 22 + "99")
    # No segments left: the header's destination.
    route.fields["ipv6.routing.segleft"] = 0
    assert decode(udp_frame(route)).layers[3].fields["udp.checksum.status"] == CHECKSUM_GOOD


def test_fragments() -> None:
    first = decode(udp_frame(build.ipv6_fragment(0x1234, more=True)))
    assert first.protocols == "eth:ipv6:ipv6.fraghdr:udp:data"
    assert first.layers[3].fields["udp.checksum.status"] == CHECKSUM_UNVERIFIED
    assert first.layers[2].fields == {
        "ipv6.fraghdr.nxt": 17, "ipv6.fraghdr.reserved_octet": 0, "ipv6.fraghdr.offset": 0,
        "ipv6.fraghdr.reserved_bits": 0, "ipv6.fraghdr.more": 1, "ipv6.fraghdr.ident": 0x1234}
    later = decode(encode([eth(), build.ipv6(SRC, DST),
                           build.ipv6_fragment(0x1234, offset=3, nxt=17),
                           build.payload(b"12345678")]))
    assert later.protocols == "eth:ipv6:ipv6.fraghdr:data" and later.ok


def test_extension_chain_ah_esp_and_ip_in_ip() -> None:
    ah = Layer("ah", {"ah.next_header": None, "ah.length": None, "ah.reserved": b"\0\0",
                      "ah.spi": 0x1000, "ah.sequence": 7, "ah.icv": bytes(12)})
    wire = udp_frame(build.ipv6_options(), build.ipv6_options(hop_by_hop=False), ah)
    packet = decode(wire)
    assert packet.protocols == "eth:ipv6:ipv6.hopopts:ipv6.dstopts:ah:udp:data", packet
    assert packet.ok and packet.layers[4].fields["ah.length"] == 4
    esp = Layer("esp", {"esp.spi": 0xABCD, "esp.sequence": 3})
    packet = decode(encode([eth(), build.ipv6(SRC, DST), esp, build.payload(bytes(16))]))
    assert packet.protocols == "eth:ipv6:esp:data"
    nested = decode(encode([eth(), build.ipv4("10.0.0.1", "10.0.0.2"), build.ipv6(SRC, DST),
                            build.udp(1, 2), build.payload(b"x")]))
    assert nested.protocols == "eth:ip:ipv6:udp:data" and nested.ok, nested


def test_malformed_and_cut() -> None:
    wire = udp_frame()
    bad = bytearray(wire)
    bad[14] = 0x40  # version 4 behind EtherType 0x86dd
    packet = decode(bytes(bad))
    assert packet.layers[1].status == MALFORMED and not packet.ok
    assert "ipv6: malformed header at offset 14: version 4" in packet.errors
    cut = decode(wire[:14 + 39])
    assert (cut.layers[1].proto, cut.layers[1].status) == ("ipv6", TRUNCATED)
    short = decode(wire[:14 + 40 + 4])  # payload cut: the header is whole, its payload not
    assert short.layers[1].status == TRUNCATED and short.layers[1].fields["ipv6.plen"] == 13
    ext = decode(udp_frame(build.ipv6_options(bytes(14)))[:14 + 40 + 10])
    assert (ext.layers[2].proto, ext.layers[2].status) == ("ipv6.hopopts", TRUNCATED)
    ah = decode(encode([eth(), build.ipv6(SRC, DST, nxt=51), build.payload(
        bytes.fromhex("11 00 0000 00000001 00000001".replace(" ", "")))]))
    assert ah.layers[2].status == MALFORMED  # AH length 0: 8 bytes, less than its fields


def test_fix_lengths_and_checksums_restore_a_packet() -> None:
    wire = udp_frame(build.ipv6_options(), build.ipv6_routing([FINAL]))
    packet = decode(wire)
    for layer in packet.layers:
        for name in ("ipv6.plen", "ipv6.hopopts.len", "ipv6.routing.len", "udp.length",
                     "udp.checksum"):
            if name in layer.fields:
                layer.fields[name] = 0
    assert encode(packet, fix_lengths=True, compute_checksums=True) == wire


def test_tree_json_and_filters() -> None:
    packet = decode(udp_frame(build.ipv6_options()))
    tree = "\n".join(packet_tree(packet))
    assert f"Internet Protocol Version 6 (ipv6), bytes 14-53, Src: {SRC}, Dst: {DST}" in tree
    assert "ipv6.flow: 0x000000" in tree and "ipv6.hopopts.nxt: 17" in tree
    record = Record(udp_frame(), 1_700_000_000_000_000_000, Interface(1, name="eth0"), number=1)
    obj = json.loads(record_json(record, decode(record.data)))
    fields = obj["layers"][1]["fields"]
    assert obj["layers"][1]["proto"] == "ipv6"
    assert (fields["ipv6.src"], fields["ipv6.dst"], fields["ipv6.plen"]) == (SRC, DST, 13)
    for expr, want in (("ipv6.src == 2001:db8::1", True), ("ipv6.src == 2001:0db8:0:0::1", True),
                       ("ipv6.addr == 2001:db8::2", True), ("ipv6.dst == 2001:db8::/32", True),
                       ("ipv6.dst == 2001:db9::/32", False), ("ipv6.src != 2001:db8::1", False),
                       ("ipv6.hopopts && ipv6.hopopts.nxt == 17", True),
                       ("ipv6.src in {2001:db8::1, ::1}", True), ("ipv6.hlim == 64", True)):
        assert compile_filter(expr)(packet) is want, expr


def _present() -> list[Any]:
    found = [path for path in CAPTURES if path.exists()]
    if len(found) < len(CAPTURES):
        absent = sorted(str(path) for path in CAPTURES if path not in found)
        missing(f"IPv6 captures missing: {absent}")
    return found


IPV6_FIELDS = ("ipv6.src", "ipv6.dst", "ipv6.nxt", "ipv6.hlim", "ipv6.flow", "ipv6.plen",
               "ipv6.tclass")


def test_every_packet_agrees_with_tshark() -> None:
    tshark = require_tshark()
    compared = 0
    for path in _present():
        cmd = [tshark, "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=a",
               "-E", "aggregator=|"] + [x for name in IPV6_FIELDS for x in ("-e", name)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
        rows = out.splitlines()
        items = list(decode_capture(path))
        assert len(rows) == len(items) > 0, path.name
        for line, item in zip(rows, items, strict=True):
            for name, cell in zip(IPV6_FIELDS, line.split("\t"), strict=True):
                theirs = [int(v, 0) if v[:1].isdigit() and ":" not in v else v
                          for v in cell.split("|")] if cell else []
                assert item.packet.values(name) == theirs, (path.name, name)
                compared += len(theirs)
    assert compared > 90  # 13 packets, two IPv6 headers in some


def test_crosscheck_ok_on_the_ipv6_captures() -> None:
    require_tshark()
    for path in _present():
        report = crosscheck(path)
        assert report.ok, render_text(report)
        assert report.fields_compared > 0 and report.layers_by_protocol["ipv6"] > 0


def test_raw_link_types_start_right() -> None:
    path = NEXT_DIR / "tcpdump_erspan-type-iii-pb-1.pcap"
    if not path.exists():
        _present()
    (item,) = list(decode_capture(path))
    assert item.packet.protocols.startswith("ipv6:ipv6.dstopts")
    v6 = encode([build.ipv6(SRC, DST, nxt=59)])
    for linktype in (101, 229):
        packet = decode(v6, linktype)
        assert packet.protocols == "ipv6" and packet.layers[0].status == OK
    assert ipv6ext.final_destination(0, 0, bytes(20)) is None
