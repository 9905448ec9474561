"""Geneve (RFC 8926): options as repeated fields, malformed and cut headers, the protocol type
dispatch (inner Ethernet, IPv4), tunnel depth, the encoder's fix-ups, and what the consumers
(-V tree, JSON, -Y, one-line info) make of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tests.codec.realcaptures import read_pcap, write_pcap
from tests.codec.test_robustness import decode_checked
from tests.support import REAL_DIR, missing, real_capture
from vxlankit import build, decode, encode
from vxlankit.cli import main
from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions
from vxlankit.errors import EncodeError
from vxlankit.layers import geneve
from vxlankit.layers.registry import ALIASES, FIELDS, INVERSES, STEPS, TABLES
from vxlankit.packet import MALFORMED, OK, TRUNCATED, Layer, Packet
from vxlankit.present.filter import compile_filter
from vxlankit.present.jsonl import dumps, packet_object
from vxlankit.present.tree import packet_tree

VM_A, VM_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"

# tcpdump_geneve.pcap packet 1's Geneve header: C set, one critical option (class 0, type 0x80)
HEADER_WITH_OPTION = bytes.fromhex("0240655800000a00" "00008001" "0000000c")


def geneve_layer(vni: int = 10, options: list[tuple[int, int, bytes]] | None = None,
                 flags: int = 0, proto_type: int | None = None) -> Layer:
    """A Geneve header whose lengths (and, by default, protocol type) encode fills in."""
    fields: dict[str, Any] = {"geneve.version": 0, "geneve.option.length": None,
                              "geneve.flags": flags, "geneve.proto_type": proto_type,
                              "geneve.vni": vni, "geneve.reserved": 0}
    if options:
        fields["geneve.option.class"] = [o[0] for o in options]
        fields["geneve.option.type"] = [o[1] for o in options]
        fields["geneve.option.flags"] = [0] * len(options)
        fields["geneve.option.unknown.data"] = [o[2] for o in options]
    geneve.derive(fields)
    return Layer("geneve", fields)


def underlay(port: int = geneve.PORT) -> list[Layer]:
    return [build.eth(src="02:00:00:00:01:01", dst="02:00:00:00:01:02"),
            build.ipv4(src="192.0.2.1", dst="192.0.2.2"), build.udp(49152, port, checksum=0)]


def inner_ping() -> list[Layer]:
    return [build.eth(src=VM_A, dst=VM_B), build.ipv4(src="10.0.0.1", dst="10.0.0.2"),
            build.icmp_echo(7, 1), build.payload(b"x" * 16)]


def frame(*tunnel: Layer, port: int = geneve.PORT) -> bytes:
    return encode([*underlay(port), *tunnel, *inner_ping()])


def geneve_of(packet: Packet, occurrence: int = 1) -> Layer:
    found = [lay for lay in packet.layers if lay.proto == "geneve"]
    return found[occurrence - 1]


# ------------------------------------------------------------------------------ dissection


def test_selected_by_udp_port_6081_and_carries_an_ethertype() -> None:
    assert TABLES["udp.port"][6081] == "geneve"
    assert TABLES["ethertype"][0x6558] == "eth"  # Transparent Ethernet Bridging
    assert INVERSES["ethertype"]["eth"] == 0x6558


def test_inner_ethernet_frame() -> None:
    wire = frame(geneve_layer(vni=5000, options=[(0x0102, 0x80, bytes(4))]))
    packet = decode_checked(wire, 1)
    assert packet.ok
    assert [lay.proto for lay in packet.layers] == [
        "eth", "ip", "udp", "geneve", "eth", "ip", "icmp", "data"]
    layer = geneve_of(packet)
    assert layer.length == 8 + 8
    assert layer["geneve.proto_type"] == 0x6558  # inferred from the inner Ethernet header
    assert layer["geneve.option.length"] == [8, 8]
    assert layer["geneve.option.class"] == [0x0102]
    assert layer["geneve.option.type.critical"] == [1]


def test_inner_ipv4_packet() -> None:
    wire = encode([*underlay(), geneve_layer(vni=7), build.ipv4(src="10.0.0.1", dst="10.0.0.2"),
                   build.icmp_echo(1, 2)])
    packet = decode_checked(wire, 1)
    assert packet.ok
    assert [lay.proto for lay in packet.layers] == ["eth", "ip", "udp", "geneve", "ip", "icmp"]
    assert geneve_of(packet)["geneve.proto_type"] == 0x0800
    assert "geneve.option.class" not in geneve_of(packet).fields  # no options: no lists


def test_unknown_protocol_type_is_data() -> None:
    wire = encode([*underlay(), geneve_layer(proto_type=0x88B5), build.payload(b"abcd")])
    packet = decode_checked(wire, 1)
    assert [lay.proto for lay in packet.layers][-2:] == ["geneve", "data"]


def test_inner_frame_padding_counts_from_the_inner_ethernet_header() -> None:
    """A short inner frame's padding belongs to that frame (eth_start of the inner header)."""
    inner = [build.eth(src=VM_A, dst=VM_B), build.ipv4(src="10.0.0.1", dst="10.0.0.2"),
             build.icmp_echo(1, 1), Layer("trailer", {"eth.padding": bytes(18)})]
    wire = encode([*underlay(), geneve_layer(), *inner])
    packet = decode_checked(wire, 1)
    assert packet.ok
    trailer = packet.layers[-1]
    assert trailer.proto == "trailer" and trailer["eth.padding"] == bytes(18)
    assert encode(packet, fix_lengths=False, compute_checksums=False) == wire


def test_flags_and_reserved_bits_are_kept_and_noted() -> None:
    layer = geneve_layer(flags=0xFF)
    layer.fields["geneve.reserved"] = 0x5A
    wire = frame(layer)
    g = geneve_of(decode_checked(wire, 1))
    assert (g["geneve.flags.oam"], g["geneve.flags.critical"], g["geneve.flags.reserved"]) == (
        1, 1, 1)
    assert g["geneve.reserved"] == 0x5A
    assert "reserved bits set" in g.notes
    assert g.status == OK


def test_option_length_past_the_end_is_malformed_not_a_traceback() -> None:
    # Opt Len 3 words; the second option says 12 bytes where 4 are left.
    head = bytes.fromhex("0300655800000100" "01028001aabbccdd")
    wire = encode([*underlay(), Layer("data", {"data.data": head + bytes.fromhex("00000102")
                                                             + bytes(14)})])
    packet = decode_checked(wire, 1)
    g = geneve_of(packet)
    assert g.status == MALFORMED
    assert g.length == 8 + 12
    assert g["geneve.option.length"] == [12, 8, 12]
    assert g["geneve.option.unknown.data"] == [bytes.fromhex("aabbccdd"), b""]
    assert any("runs past the end of the options" in e for e in packet.errors)
    assert not packet.ok
    # ... and the header still writes back byte for byte (the payload after it is dissected).
    assert encode(packet, fix_lengths=False, compute_checksums=False) == wire


def test_options_longer_than_the_data_cut_the_header() -> None:
    # Opt Len 63 words (252 bytes) with 4 bytes of options there.
    wire = encode([*underlay(), Layer("data", {"data.data": bytes.fromhex(
        "3f00655800000100" "01028001")})])
    packet = decode_checked(wire, 1)
    g = geneve_of(packet)
    assert g.status == TRUNCATED and not g.fields and g.raw is not None
    assert any("geneve: truncated header" in e for e in packet.errors)


@pytest.mark.parametrize("size", range(0, 12))
def test_every_short_header_is_truncated(size: int) -> None:
    wire = encode([*underlay(), Layer("data", {"data.data": HEADER_WITH_OPTION[:size]})])
    packet = decode_checked(wire, 1)
    if size:
        assert packet.layers[-1].proto == "geneve"
        assert packet.layers[-1].status == TRUNCATED


@given(payload=st.binary(max_size=300))
def test_any_bytes_after_the_udp_header(payload: bytes) -> None:
    wire = encode([*underlay(), Layer("data", {"data.data": payload})])
    decode_checked(wire, 1)


def test_nested_geneve_in_vxlan_is_bounded_by_max_depth() -> None:
    """VXLAN carrying Geneve carrying Geneve: each tunnel counts against max_depth."""
    wire = encode([
        *underlay(4789), build.vxlan(vni=1),
        build.eth(src=VM_A, dst=VM_B), build.ipv4(src="172.16.0.1", dst="172.16.0.2"),
        build.udp(49153, geneve.PORT, checksum=0), geneve_layer(vni=2),
        build.eth(src=VM_B, dst=VM_A), build.ipv4(src="172.17.0.1", dst="172.17.0.2"),
        build.udp(49154, geneve.PORT, checksum=0), geneve_layer(vni=3),
        *inner_ping()])
    full = decode_checked(wire, 1)
    assert [lay.proto for lay in full.layers].count("geneve") == 2
    assert full.values("geneve.vni") == [2, 3]
    two = decode_checked(wire, 1, DecodeOptions(max_depth=2))
    assert [lay.proto for lay in two.layers][-4:] == ["eth", "ip", "udp", "data"]
    assert two.values("geneve.vni") == [2]
    assert any("geneve: tunnel depth limit 2" in e for e in two.errors)
    none = decode_checked(wire, 1, DecodeOptions(max_depth=0))
    assert "geneve" not in [lay.proto for lay in none.layers]


def test_geneve_ports_are_configurable() -> None:
    wire = frame(geneve_layer(vni=9), port=6082)
    assert geneve_of(decode_checked(wire, 1, DEFAULT_OPTIONS.with_geneve_ports([6082])))[
        "geneve.vni"] == 9
    plain = decode_checked(wire, 1)
    assert [lay.proto for lay in plain.layers] == ["eth", "ip", "udp", "data"]
    off = decode_checked(frame(geneve_layer()), 1, DEFAULT_OPTIONS.with_geneve_ports([]))
    assert [lay.proto for lay in off.layers] == ["eth", "ip", "udp", "data"]
    # VXLAN's port list leaves Geneve's alone, and the other way round.
    both = DEFAULT_OPTIONS.with_vxlan_ports([4789]).with_geneve_ports([6081, 7000])
    assert both.udp_ports[4789] == "vxlan" and both.udp_ports[7000] == "geneve"
    assert 8472 not in both.udp_ports


@pytest.mark.parametrize("command", ["decode", "export"])
def test_cli_geneve_port(tmp_path: Path, command: str) -> None:
    """--geneve-port reaches the decoder (decode's JSON, export's frame.protocols)."""
    path = tmp_path / "g.pcap"
    write_pcap(path, [frame(geneve_layer(vni=4242), port=6082)])
    out = tmp_path / "out.jsonl"
    args = [command, *(["-o", str(out)] if command == "export" else ["--json"]), str(path)]
    shown = []
    for extra in ([], ["--geneve-port", "6082"]):
        result = CliRunner().invoke(main, [*args, *extra], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        shown.append(out.read_text() if command == "export" else result.output)
    assert "udp:geneve:eth" not in shown[0] and "udp:geneve:eth" in shown[1]


# --------------------------------------------------------------------------------- encoding


def test_encode_fills_lengths_and_protocol_type() -> None:
    options = [(0x0102, 0x80, bytes.fromhex("00010002")), (0xFFF0, 0x01, b"")]
    wire = encode([*underlay(), geneve_layer(vni=100, options=options, flags=geneve.FLAG_O),
                   build.ipv4(src="10.0.0.1", dst="10.0.0.2"), build.icmp_echo(1, 1)])
    assert wire[42:42 + 20].hex() == "03800800000064000102800100010002fff00100"


def test_fix_lengths_rewrites_wrong_lengths_and_keeps_them_otherwise() -> None:
    packet = decode(frame(geneve_layer(options=[(0, 0x80, bytes(4))])), 1)
    g = geneve_of(packet)
    g.fields["geneve.option.length"] = [12, 16]  # both wrong
    fixed = encode(packet)
    assert geneve_of(decode(fixed, 1))["geneve.option.length"] == [8, 8]
    kept = encode(packet, fix_lengths=False, compute_checksums=False)
    assert kept[42] & 0x3F == 3 and kept[42 + 8 + 3] & 0x1F == 3
    assert geneve_of(decode(kept, 1)).status == MALFORMED


def test_well_formed_frames_come_back_identical_with_fixups() -> None:
    for size in (0, 4, 8, 124):
        wire = frame(geneve_layer(options=[(0x0104, 0x02, bytes(range(size)))]))
        packet = decode(wire, 1)
        assert packet.ok
        assert encode(packet) == wire
        assert encode(packet, fix_lengths=False, compute_checksums=False) == wire


@pytest.mark.parametrize(("change", "message"), [
    ({"geneve.option.unknown.data": [b"abc"]}, "not a whole number of 4-byte words"),
    ({"geneve.option.unknown.data": [bytes(128)]}, "is not 4 to 128 bytes"),
    ({"geneve.option.class": [1, 2]}, "one of each per option"),
    ({"geneve.option.flags": [8]}, "does not fit in 3 bits"),
    ({"geneve.vni": 1 << 24}, "does not fit in 24 bits"),
    ({"geneve.version": 4}, "does not fit in 2 bits"),
])
def test_encode_errors_name_the_field(change: dict[str, Any], message: str) -> None:
    layer = geneve_layer(options=[(0, 1, bytes(4))])
    layer.fields.update(change)
    with pytest.raises(EncodeError, match=message):
        encode([*underlay(), layer, *inner_ping()])


def test_too_many_options_for_the_header() -> None:
    layer = geneve_layer(options=[(0, i, bytes(60)) for i in range(5)])  # 320 bytes
    with pytest.raises(EncodeError, match="0 to 252 bytes"):
        encode([*underlay(), layer, *inner_ping()])


def test_wrong_count_of_lengths_without_fix_lengths() -> None:
    layer = geneve_layer(options=[(0, 1, bytes(4))])
    layer.fields["geneve.option.length"] = [8]
    with pytest.raises(EncodeError, match="the header's, then one per option"):
        encode([*underlay(), layer, *inner_ping()], fix_lengths=False)
    # with fix_lengths the count does not matter: they are recomputed
    assert geneve_of(decode(encode([*underlay(), layer, *inner_ping()]), 1))[
        "geneve.option.length"] == [8, 8]


# ----------------------------------------------------------------------- what consumers show


def test_tree_text() -> None:
    packet = decode(frame(geneve_layer(vni=10, options=[(0x0102, 0x80, bytes(4)),
                                                          (0x0000, 0x01, b"")],
                                       flags=geneve.FLAG_C)), 1)
    lines = [line.rstrip() for line in packet_tree(packet)]
    title = next(line for line in lines if line.startswith("Generic Network"))
    assert title == ("Generic Network Virtualization Encapsulation (geneve), bytes 42-61, "
                     "VNI: 0x00000a")
    text = "\n".join(lines)
    for expected in ("geneve.flags.critical: 1", "geneve.vni: 0x00000a",
                     "geneve.proto_type: 0x6558 (Transparent Ethernet bridging)",
                     "geneve.option.class: 0x0102 (Open Virtual Networking (OVN))",
                     "geneve.option.class: 0x0000 (Standard)",
                     "geneve.option.type: 0x80", "geneve.option.type: 0x01",
                     "geneve.option.length: 12", "geneve.option.length: 8",
                     "geneve.option.length: 4"):
        assert expected in text, expected
    assert sum(line.lstrip().startswith("geneve.option.class:") for line in lines) == 2


def test_option_class_names_are_wiresharks_ranges() -> None:
    names = geneve.OPTION_CLASS_NAMES
    assert names[0x0102] == "Open Virtual Networking (OVN)"
    assert names[0x00FF] == "Standard" and names[0x0110] == "Amazon.com, Inc."
    assert names[0x0134] == "Google LLC" and names[0x1234] == "Unassigned"
    assert names.get(0xFF00) is None and names[0xFFF7] == "Experimental"
    assert 0x012A not in names and 0xFEFF in names  # 0x012a-0x012f: a gap in the table
    assert len(names) == 0xFF00 - 6 + 0x10


def test_json_names_and_lists() -> None:
    packet = decode(frame(geneve_layer(vni=10, options=[(0x0102, 0x80, bytes(4))])), 1)
    text = dumps(packet_object(packet))
    for expected in ('"geneve.vni":10', '"geneve.proto_type":25944',
                     '"geneve.option.length":[8,8]', '"geneve.option.class":[258]',
                     '"geneve.option.type.critical":[1]'):
        assert expected in text, expected


def test_filters_on_fields_and_options() -> None:
    known = [*FIELDS, *ALIASES]
    packet = decode(frame(geneve_layer(vni=10, options=[(0x0102, 0x80, bytes(4)),
                                                        (0x0101, 0x01, b"")])), 1)
    assert compile_filter("geneve", known)(packet)
    assert compile_filter("geneve.vni == 10", known)(packet)
    assert not compile_filter("geneve.vni == 11", known)(packet)
    assert compile_filter("geneve.option.class == 0x0101", known)(packet)
    assert compile_filter("geneve.option.type.critical == 1 && icmp", known)(packet)
    assert not compile_filter("geneve.option.class == 0x0104", known)(packet)


def test_one_line_info_names_the_vni() -> None:
    packet = decode(frame(geneve_layer(vni=10, flags=geneve.FLAG_O)), 1)
    assert geneve.SPEC.short == "Geneve"
    assert geneve.SPEC.info is not None
    assert geneve.SPEC.info(geneve_of(packet)) == (
        "vni 10, OAM, Encapsulated Transparent Ethernet bridging")


# --------------------------------------------------------------------------- real captures


def test_real_capture_round_trips_and_filters() -> None:
    path = real_capture("tcpdump_geneve.pcap")
    linktype, frames = read_pcap(path)
    assert len(frames) == 39
    test = compile_filter("geneve.vni == 10", [*FIELDS, *ALIASES])
    vnis = []
    for wire in frames:
        packet = decode(wire, linktype)
        assert packet.ok
        assert encode(packet) == wire
        assert encode(packet, fix_lengths=False, compute_checksums=False) == wire
        vnis.append(geneve_of(packet)["geneve.vni"])
        assert test(packet) == (vnis[-1] == 10)
    assert sorted(set(vnis)) == [10, 11] and vnis.count(10) == 19


def test_ipv6_underlay_capture_round_trips() -> None:
    """tcpdump's IPv6-underlay Geneve capture (next/): byte for byte (decode_checked), and,
    once the registry decodes IPv6, Geneve found inside.  (Not with the fix-ups on: its outer
    UDP checksum is a GSO super-packet's, which tshark calls bad too.)"""
    path = REAL_DIR.parent / "next" / "tcpdump_gso-ipv6-geneve-ipv4.pcap"
    if not path.exists():
        missing(f"{path} not found")
    linktype, frames = read_pcap(path)
    assert len(frames) == 1
    packet = decode_checked(frames[0], linktype)
    if "ipv6" in STEPS:
        assert [lay.proto for lay in packet.layers][:6] == [
            "eth", "ipv6", "udp", "geneve", "eth", "ip"]
        assert geneve_of(packet)["geneve.vni"] == 0x1389
