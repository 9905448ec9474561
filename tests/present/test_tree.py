"""``-V``: every field with its name, value and byte span; checksum statuses; notes, errors."""

from __future__ import annotations

import re

from vxlankit import build, decode, encode
from vxlankit.capture.record import Interface, Record
from vxlankit.packet import Layer
from vxlankit.present.run import decode_records
from vxlankit.present.summary import ANSI
from vxlankit.present.tree import field_span, format_value, packet_tree, record_tree


def _frame(*inner: Layer, vxlan: Layer | None = None, udp_checksum: int | None = 0,
           dport: int = 4789) -> bytes:
    return encode([
        build.eth(src="52:54:00:00:00:01", dst="52:54:00:00:00:02"),
        build.ipv4(src="172.16.0.1", dst="172.16.0.2", id=0xD2C0, df=True),
        build.udp(45149, dport, checksum=udp_checksum),
        vxlan if vxlan is not None else build.vxlan(vni=100),
        *inner,
    ])


PING = [build.eth(src="02:42:0a:00:00:03", dst="02:42:0a:00:00:04"),
        build.ipv4(src="10.0.0.3", dst="10.0.0.4"), build.icmp_echo(ident=1292, seq=1),
        build.payload(bytes(range(56)))]


def _lines(data: bytes) -> list[str]:
    return packet_tree(decode(data))


def _field(lines: list[str], name: str) -> str:
    found = [line for line in lines if line.startswith(f"    {name}: ")]
    assert len(found) >= 1, name
    return found[0]


def test_every_field_is_shown_with_its_span() -> None:
    data = _frame(*PING)
    packet = decode(data)
    lines = packet_tree(packet)
    shown = sum(len(layer.fields) for layer in packet.layers)
    assert len([line for line in lines if line.startswith("    ")]) == shown
    assert lines[0] == ("Ethernet II (eth), bytes 0-13, Src: 52:54:00:00:00:01, "
                        "Dst: 52:54:00:00:00:02")
    assert re.fullmatch(r"    eth\.dst: 52:54:00:00:00:02 +bytes 0-5", _field(lines, "eth.dst"))
    assert _field(lines, "eth.type").split(": ", 1)[1].startswith("0x0800 (IPv4)")
    assert _field(lines, "ip.version").endswith("byte 14, mask 0xf0")
    assert _field(lines, "ip.id").split(": ", 1)[1].startswith("0xd2c0 (53952)")
    assert _field(lines, "ip.src").endswith("bytes 26-29")
    assert _field(lines, "vxlan.vni").endswith("bytes 46-48")
    assert _field(lines, "vxlan.flag_i").endswith("bytes 42-43, mask 0x0800")
    assert "Virtual eXtensible Local Area Network (vxlan), bytes 42-49, VNI: 100" in lines
    assert _field(lines, "icmp.type").split(": ", 1)[1].startswith("8 (Echo (ping) request)")


def test_checksum_statuses() -> None:
    lines = _lines(_frame(*PING))
    assert "0x" in _field(lines, "ip.checksum") and "[good]" in _field(lines, "ip.checksum")
    assert "[not present]" in _field(lines, "udp.checksum")
    assert _field(lines, "udp.checksum.status").split(": ", 1)[1].startswith("not present (3)")
    data = bytearray(_frame(*PING, udp_checksum=None))
    good_udp = int.from_bytes(data[40:42], "big")
    data[40:42] = (good_udp ^ 0x0101).to_bytes(2, "big")
    lines = _lines(bytes(data))
    assert f"[bad, should be 0x{good_udp:04x}]" in _field(lines, "udp.checksum")
    assert _field(lines, "udp.checksum.status").split(": ", 1)[1].startswith("bad (0)")
    assert lines[-2] == "Errors"
    assert "udp: bad checksum" in lines[-1]
    unverified = decode(_frame(*PING)[:100])  # ICMP cut short: its checksum cannot be checked
    assert "[unverified]" in _field(packet_tree(unverified), "icmp.checksum")


def test_notes_status_and_raw() -> None:
    data = _frame(*PING, vxlan=build.vxlan(vni=7, flags=0, reserved8=3))[:70]
    lines = _lines(data)
    assert "    [note: I flag not set (RFC 7348 requires it)]" in lines
    assert "    [note: reserved bits set]" in lines
    assert any(line.startswith("Internet Protocol Version 4 (ip), bytes 64-69")
               and line.endswith("[truncated]") for line in lines)
    assert any(line.startswith("    [raw, not dissected: ") for line in lines)


def test_spans_of_variable_fields() -> None:
    arp = decode(encode([build.eth(), build.arp(1, "02:00:00:00:00:01", "10.0.0.1",
                                                "00:00:00:00:00:00", "10.0.0.2")]))
    layer = arp.layers[1]
    assert field_span(layer, "arp.src.hw_mac") == (8, 6, None)
    assert field_span(layer, "arp.src.proto_ipv4") == (14, 4, None)
    assert field_span(layer, "arp.dst.hw_mac") == (18, 6, None)
    assert field_span(layer, "arp.dst.proto_ipv4") == (24, 4, None)
    gpe = decode(_frame(build.payload(b"x" * 8), vxlan=build.vxlan_gpe(vni=1, next_proto=4),
                        dport=4790))
    assert field_span(gpe.layers[3], "vxlan.next_proto") == (3, 1, None)
    assert field_span(gpe.layers[3], "vxlan.flags") == (0, 1, None)
    assert _field(packet_tree(gpe), "vxlan.flags").split(": ", 1)[1].startswith("0x0c ")
    padded = decode(encode([build.eth(), build.arp(), build.padding(bytes(18) + b"tail")]))
    trailer = padded.layers[-1]
    assert field_span(trailer, "eth.padding") == (0, 18, None)
    assert field_span(trailer, "eth.trailer") == (18, 4, None)


def test_value_formatting() -> None:
    assert format_value({}, "data.data", b"") == "(empty)"
    assert format_value({}, "data.data", bytes(40)).endswith("... (40 bytes)")
    assert format_value({}, "ip.proto", 17) == "17 (UDP)"
    assert format_value({}, "vxlan.next_proto", 4) == "4 (NSH)"


def test_record_tree_header_and_colour() -> None:
    data = _frame(*PING)
    rec = Record(data, 1_368_908_504_837_063_000, Interface(1, name="eth0"), number=1,
                 comment="hello")
    item = next(iter(decode_records([rec])))
    text = record_tree(item)
    head = text.splitlines()
    assert head[0] == (f"Frame 1: {len(data)} bytes on wire ({len(data) * 8} bits), {len(data)} "
                       f"bytes captured ({len(data) * 8} bits) on interface eth0")
    assert "    frame.time_epoch: 1368908504.837063000" in head
    assert "    frame.comment: hello" in head
    assert "    frame.protocols: eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:icmp:data" in head
    coloured = record_tree(item, ANSI)
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == text
