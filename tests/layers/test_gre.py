"""GRE's own behaviour: optional fields and the flags that announce them (both ways), the
checksum (computed when C is set, verified, a bad one reported and the decode carried on),
payload dispatch (gre.proto, then EtherTypes), cut headers, the tunnel depth limit, the -V
text, a -Y filter on gre.key, and tshark's agreement on a capture of hand-made headers."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import require_tshark
from vxlankit import DecodeOptions, build, decode, encode
from vxlankit.capture.writer import PcapngWriter
from vxlankit.crosscheck import VXLANKIT_ONLY_FIELDS, crosscheck, render_text
from vxlankit.crosscheck.fieldtypes import tshark_info
from vxlankit.layers import gre
from vxlankit.packet import CHECKSUM_BAD, CHECKSUM_GOOD, CHECKSUM_UNVERIFIED, OK, TRUNCATED, Layer
from vxlankit.present.filter import compile_filter
from vxlankit.present.tree import packet_tree


def gre_layer(**fields: Any) -> Layer:
    """A GRE header: flags and protocol type left to encode unless given."""
    return Layer("gre", {"gre.flags_and_version": None, "gre.proto": None, **fields})


def inner_ip() -> list[Layer]:
    return [build.ipv4(src="192.168.0.1", dst="192.168.0.2"),
            build.icmp_echo(ident=0x1234, seq=1), build.payload(b"hello world!")]


def outer(*layers: Layer) -> list[Layer]:
    return [build.eth(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"),
            build.ipv4(src="10.0.0.1", dst="10.0.0.2"), *layers]


def gre_of(packet: Any, occurrence: int = 1) -> Layer:
    found = packet.layer("gre", occurrence)
    assert found is not None, packet
    return found


def test_flags_follow_the_optional_fields_and_proto_the_next_layer() -> None:
    wire = encode(outer(gre_layer(**{"gre.key": 42, "gre.sequence_number": 7}),
                        build.eth(src="02:00:00:00:00:03", dst="02:00:00:00:00:04"),
                        *inner_ip()))
    assert wire[34:46].hex() == "3000" "6558" "0000002a" "00000007"  # K S, TEB
    packet = decode(wire)
    assert packet.ok, packet
    assert packet.protocols == "eth:ip:gre:eth:ip:icmp:data"
    f = gre_of(packet).fields
    assert (f["gre.flags.key"], f["gre.flags.sequence_number"], f["gre.key"]) == (1, 1, 42)
    # IPv4 straight in GRE: the EtherType table gives 0x0800; ERSPAN the gre.proto table.
    assert encode(outer(gre_layer(), *inner_ip()))[34:38].hex() == "00000800"
    assert encode(outer(gre_layer(), Layer("erspan", {}), build.eth(), *inner_ip()))[34:38].hex(
    ) == "000088be"


def test_fix_lengths_sets_the_bits_and_without_it_the_flags_are_as_given() -> None:
    layers = outer(gre_layer(**{"gre.flags_and_version": 0x0007, "gre.proto": 0x0800,
                                "gre.key": 5}), *inner_ip())
    fixed = encode(layers)
    assert fixed[34:36].hex() == "2007"  # K set, version kept
    as_given = encode(layers, fix_lengths=False)
    assert as_given[34:36].hex() == "0007" and as_given[38:42].hex() == "00000005"
    # fix_lengths clears a bit whose field is absent (S here)
    assert encode(outer(gre_layer(**{"gre.flags_and_version": 0x1000, "gre.proto": 0x0800}),
                        *inner_ip()))[34:36].hex() == "0000"


def test_checksum_is_computed_over_header_and_payload_and_verified() -> None:
    wire = encode(outer(gre_layer(**{"gre.checksum": None, "gre.key": 9}), *inner_ip()))
    packet = decode(wire)
    assert packet.ok, packet
    f = gre_of(packet).fields
    assert f["gre.flags.checksum"] == 1 and f["gre.checksum.status"] == CHECKSUM_GOOD
    assert wire[34:36].hex() == "a000"
    assert encode(packet) == wire  # the fix-ups change nothing in a well-formed frame
    assert encode(packet, fix_lengths=False, compute_checksums=False) == wire


def test_bad_checksum_is_reported_not_fatal() -> None:
    wire = bytearray(encode(outer(gre_layer(**{"gre.checksum": None}), *inner_ip())))
    good = wire[38:40].hex()
    wire[38:40] = b"\x12\x34"
    packet = decode(bytes(wire))
    f = gre_of(packet).fields
    assert f["gre.checksum.status"] == CHECKSUM_BAD
    assert f"{f['gre.checksum_calculated']:04x}" == good
    assert any(e.startswith("gre: bad checksum at offset 38: 0x1234") for e in packet.errors)
    assert packet.protocols == "eth:ip:gre:ip:icmp:data"  # decoding carried on
    assert all(layer.status == OK for layer in packet.layers)
    text = "\n".join(packet_tree(packet))
    assert f"gre.checksum: 0x1234 [bad, should be 0x{good}]" in text
    assert encode(packet, fix_lengths=False, compute_checksums=False) == wire
    assert encode(packet)[38:40].hex() == good


def test_no_checksum_is_computed_without_the_c_bit() -> None:
    # R set, C clear: the checksum word is there (as tshark shows it, unverified) and is left
    # as given even when checksums are computed.
    layers = outer(gre_layer(**{"gre.flags_and_version": 0x4000, "gre.checksum": 0xBEEF,
                                "gre.offset": 0, "gre.sre_list": bytes(4)}), *inner_ip())
    wire = encode(layers)
    assert wire[34:42].hex() == "40000800beef0000"
    f = gre_of(decode(wire)).fields
    assert f["gre.checksum.status"] == CHECKSUM_UNVERIFIED and f["gre.sre_list"] == bytes(4)
    # Without C and without a checksum field, nothing is written where one would be.
    wire = encode(outer(gre_layer(**{"gre.key": 0xFFFFFFFF}), *inner_ip()))
    assert wire[38:42] == b"\xff" * 4


def test_pptp_key_and_acknowledgment() -> None:
    header = bytes.fromhex("3081880b0004005500000009" "0000000a")
    f = gre.decode(header, 0)
    assert (f["gre.key.payload_length"], f["gre.key.call_id"], f["gre.ack_number"]) == (
        4, 85, 10)
    assert "gre.key" not in f and f["gre.flags.ack"] == 1
    assert gre.header_length(header, 0) == 20 - 4  # no checksum word
    # Version 0 with protocol PPP: bit 0x0080 is reserved, the key whole, no acknowledgment.
    f = gre.decode(bytes.fromhex("3080880b0000000400000009"), 0)
    assert f["gre.key"] == 4 and f["gre.flags.reserved"] == 16 and "gre.ack_number" not in f


@pytest.mark.parametrize("flags", [0x0000, 0xB000, 0x4000, 0x3081])
def test_every_cut_header_is_a_truncated_layer(flags: int) -> None:
    proto = 0x880B if flags & 0x0007 == 1 else 0x0800
    header = flags.to_bytes(2, "big") + proto.to_bytes(2, "big") + bytes(12)
    if flags & 0x4000:
        header = header[:8] + bytes.fromhex("0800000401020304") + bytes(4)
    size = gre.header_length(header, 0)
    ip = build.ipv4(src="10.0.0.1", dst="10.0.0.2", proto=47, length=20 + size)
    wire = encode([build.eth(type=0x0800), ip], fix_lengths=False)
    for cut in range(size):
        frame = wire + header[:cut]
        packet = decode(frame)
        last = packet.layers[-1]
        assert last.proto == "gre" and last.status == TRUNCATED, (cut, packet)
        assert any(e.startswith("gre: truncated header") for e in packet.errors)
        assert encode(packet, fix_lengths=False, compute_checksums=False) == frame


def test_nesting_stops_at_the_depth_limit() -> None:
    layers = outer(gre_layer(), build.ipv4(src="10.1.0.1", dst="10.1.0.2"), gre_layer(),
                   build.ipv4(src="10.2.0.1", dst="10.2.0.2"), gre_layer(), *inner_ip())
    wire = encode(layers)
    assert decode(wire).protocols == "eth:ip:gre:ip:gre:ip:gre:ip:icmp:data"
    packet = decode(wire, options=DecodeOptions(max_depth=2))
    assert packet.protocols == "eth:ip:gre:ip:gre:ip:data"
    assert any("tunnel depth limit 2" in e for e in packet.errors)
    assert encode(packet, fix_lengths=False, compute_checksums=False) == wire


def test_tree_text_and_filter() -> None:
    wire = encode(outer(gre_layer(**{"gre.key": 42}), build.eth(), *inner_ip()))
    packet = decode(wire)
    lines = packet_tree(packet)
    assert "Generic Routing Encapsulation (gre), bytes 34-41, Transparent Ethernet bridging" in (
        lines)
    key = next(line for line in lines if line.startswith("    gre.key:"))
    assert key.split() == ["gre.key:", "0x0000002a", "bytes", "38-41"]
    proto = next(line for line in lines if line.startswith("    gre.proto:"))
    assert "0x6558 (Transparent Ethernet bridging)" in proto
    assert compile_filter("gre.key == 42")(packet)
    assert not compile_filter("gre.key == 43")(packet)
    assert compile_filter("gre && gre.flags.key == 1 && !erspan")(packet)


def test_field_names_are_wiresharks() -> None:
    """Every GRE field is in ``tshark -G fields`` or is on the allow-list as vxlankit's own."""
    known = tshark_info(require_tshark()).fields
    for field in gre.SPEC.fields:
        assert field.name in known or field.name in VXLANKIT_ONLY_FIELDS, field.name
        assert (field.name in VXLANKIT_ONLY_FIELDS) == bool(field.doc), field.name


def _frames() -> list[bytes]:
    return [
        encode(outer(gre_layer(**{"gre.checksum": None}), *inner_ip())),
        encode(outer(gre_layer(**{"gre.checksum": 0x1234}), *inner_ip()),
               compute_checksums=False),
        encode(outer(gre_layer(**{"gre.key": 0x00123401, "gre.sequence_number": 7}),
                     build.eth(), *inner_ip())),
        encode(outer(gre_layer(**{"gre.flags_and_version": 0x4000, "gre.checksum": 0,
                                  "gre.offset": 0,
                                  "gre.sre_list": bytes.fromhex("080000040102030400000000")}),
                     *inner_ip())),
        encode(outer(gre_layer(**{"gre.flags_and_version": 0x3081, "gre.proto": 0x880B,
                                  "gre.key.payload_length": 4, "gre.key.call_id": 85,
                                  "gre.sequence_number": 9, "gre.ack_number": 10}),
                     build.payload(b"\xff\x03\x00\x21"))),
        encode(outer(gre_layer(**{"gre.flags_and_version": 0x0D00, "gre.proto": 0x1234}),
                     build.payload(b"abc"))),
    ]


def test_hand_made_headers_agree_with_tshark(tmp_path: Path) -> None:
    require_tshark()
    path = tmp_path / "gre.pcapng"
    with PcapngWriter(str(path)) as writer:
        iface = writer.add_interface("gre", 1)
        for i, data in enumerate(_frames()):
            writer.write(data, 1_700_000_000 * 10**9 + i * 1000, iface)
    report = crosscheck(path)
    assert report.ok, render_text(report)
    assert report.packets_compared == 6 and report.layers_by_protocol["gre"] == 6
    assert report.fields_compared > 100
    shown = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "gre.checksum.status",
         "-e", "gre.key"], capture_output=True, text=True, check=True).stdout.splitlines()
    assert shown[:3] == ["1\t", "0\t", "\t0x00123401"]
