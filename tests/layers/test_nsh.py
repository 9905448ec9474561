"""NSH (RFC 8300): the layer's own behaviour inside VXLAN-GPE and behind EtherType 0x894F, the
MD types, malformed and short headers, the encoder's fix-ups, and what -V, JSON and -Y make of
it.  Golden vectors and the schema comparison are in test_golden.py and
test_schema_equivalence.py; agreement with tshark in tests/test_crosscheck.py."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import REAL_DIR
from vxlankit import build, decode, encode
from vxlankit.errors import EncodeError
from vxlankit.layers import nsh
from vxlankit.layers.registry import FIELDS, TABLES
from vxlankit.packet import MALFORMED, OK, TRUNCATED, Layer, Packet
from vxlankit.present.filter import compile_filter
from vxlankit.present.jsonl import dumps, packet_object
from vxlankit.present.tree import packet_tree

CAPTURE = REAL_DIR / "tcpdump_nsh-over-vxlan-gpe.pcap"
MD1: dict[str, Any] = {"nsh.version": 0, "nsh.Obit": 0, "nsh.CBit": 0, "nsh.ttl": 63,
                       "nsh.length": None, "nsh.mdtype": 1, "nsh.nextproto": None,
                       "nsh.spi": 42, "nsh.si": 255,
                       "nsh.contextheader": [bytes([i] * 4) for i in range(4)]}


def _outer(*inner: Layer, gpe: bool = True) -> list[Layer]:
    head = [build.eth("02:00:00:00:00:02", "02:00:00:00:00:01"),
            build.ipv4("192.0.2.1", "192.0.2.2")]
    if gpe:
        return [*head, build.udp(50000, 4790), build.vxlan_gpe(vni=7), *inner]
    head[0].fields["eth.type"] = nsh.ETHERTYPE
    return [head[0], *inner]


def _inner_ping() -> list[Layer]:
    return [build.ipv4("10.0.0.1", "10.0.0.2"), build.icmp_echo(1, 1), build.payload(b"ping")]


def test_selectors_and_its_next_protocol_table() -> None:
    assert TABLES["vxlan.next_proto"][4] == "nsh"
    assert TABLES["ethertype"][0x894F] == "nsh"
    assert TABLES["nsh.next_proto"] == {1: "ip", 2: "ipv6", 3: "eth", 4: "nsh"}


def test_md1_in_gpe_carries_ipv4_and_infers_next_protocols() -> None:
    wire = encode(_outer(Layer("nsh", dict(MD1)), *_inner_ping()))
    packet = decode(wire)
    assert packet.protocols == "eth:ip:udp:vxlan:nsh:ip:icmp:data" and packet.ok
    gpe, layer = packet.layers[3], packet.layers[4]
    assert gpe["vxlan.next_proto"] == 4  # inferred from the NSH layer after it
    assert layer.length == 24
    assert (layer["nsh.length"], layer["nsh.nextproto"], layer["nsh.ttl"]) == (6, 1, 63)
    assert layer["nsh.contextheader"] == MD1["nsh.contextheader"]
    assert encode(packet, fix_lengths=False, compute_checksums=False) == wire
    assert encode(packet) == wire


def test_md2_behind_ethertype_carries_ethernet() -> None:
    fields = {**MD1, "nsh.mdtype": 2, "nsh.metadataclass": [0x0102, 9],
              "nsh.metadatatype": [3, 4], "nsh.metadataunassignedbit": [0, 1],
              "nsh.metadatalen": [5, 0], "nsh.metadata": [b"hello"]}
    del fields["nsh.contextheader"]
    inner = [build.eth("02:00:00:00:00:04", "02:00:00:00:00:03"), *_inner_ping()]
    wire = encode(_outer(Layer("nsh", fields), *inner, gpe=False))
    packet = decode(wire)
    assert packet.protocols == "eth:nsh:eth:ip:icmp:data" and packet.ok
    layer = packet.layers[1]
    # 8 + (4 + 5 + 3 padding) + 4: 24 bytes, 6 words; no nsh.metadata for the empty value
    assert (layer["nsh.length"], layer["nsh.nextproto"]) == (6, 3)
    assert layer["nsh.metadatalen"] == [5, 0] and layer["nsh.metadata"] == [b"hello"]
    assert layer["nsh.metadataunassignedbit"] == [0, 1]
    assert "nsh.metadata_pad" not in layer.fields
    assert wire[14 + 8 + 4:14 + 8 + 12] == b"hello\0\0\0"
    assert encode(packet) == wire


def test_fix_lengths_recomputes_the_length_and_keeps_it_otherwise() -> None:
    layers = _outer(Layer("nsh", {**MD1, "nsh.length": 9, "nsh.nextproto": 1}), *_inner_ping())
    fixed = decode(encode(layers))
    assert fixed.layers[4]["nsh.length"] == 6 and fixed.ok
    kept = decode(encode(layers, fix_lengths=False))
    assert kept.layers[4]["nsh.length"] == 9  # 36 bytes claimed: the header runs into the IP
    assert kept.layers[4].length == 36


def test_nsh_in_nsh_and_the_depth_limit() -> None:
    inner = Layer("nsh", dict(MD1))
    wire = encode(_outer(Layer("nsh", dict(MD1)), inner, *_inner_ping()))
    packet = decode(wire)
    assert packet.protocols == "eth:ip:udp:vxlan:nsh:nsh:ip:icmp:data"
    assert packet.layers[4]["nsh.nextproto"] == 4
    many = encode(_outer(*[Layer("nsh", dict(MD1)) for _ in range(12)], *_inner_ping()))
    deep = decode(many)
    assert sum(layer.proto == "nsh" for layer in deep.layers) == 7  # 8 tunnels with GPE
    assert any("depth limit" in error for error in deep.errors)
    assert encode(deep, fix_lengths=False, compute_checksums=False) == many


def _nsh_bytes(header: str) -> Packet:
    layers = _outer(build.payload(bytes.fromhex(header.replace(" ", ""))))
    layers[3].fields["vxlan.next_proto"] = 4  # NSH
    wire = encode(layers)
    packet = decode(wire)
    assert encode(packet, fix_lengths=False, compute_checksums=False) == wire
    return packet


def test_malformed_and_short_headers() -> None:
    short = _nsh_bytes("0006 01 01 0000")
    assert short.layers[-1].status == TRUNCATED and short.layers[-1].raw is not None
    past = _nsh_bytes("0006 01 01 000001 ff 00000000")  # says 24 bytes, has 12
    assert past.layers[-1].proto == "nsh" and past.layers[-1].status == TRUNCATED
    assert any("nsh: truncated header" in error for error in past.errors)
    tiny = _nsh_bytes("0001 01 01 000001 ff 45000000")  # length 1 word < 2
    assert tiny.layers[4].status == MALFORMED and tiny.layers[5].proto == "data"
    md1 = _nsh_bytes("0003 01 01 000001 ff 11111111 45")  # MD type 1 with one context header
    assert md1.layers[4].status == MALFORMED
    assert md1.layers[4]["nsh.contextheader"] == [b"\x11" * 4]
    # An MD type 2 TLV that says 9 bytes where 4 are left: kept as nsh.rest
    tlv = _nsh_bytes("0004 02 01 000001 ff 0001 02 09 aabbccdd")
    assert tlv.layers[4].status == MALFORMED
    assert tlv.layers[4]["nsh.rest"] == bytes.fromhex("00010209aabbccdd")
    assert "nsh.metadataclass" not in tlv.layers[4].fields
    assert any("MD type 2 TLV runs past" in error for error in tlv.errors)


def test_encode_errors() -> None:
    bad = {**MD1, "nsh.nextproto": 1, "nsh.spi": 1 << 24}
    with pytest.raises(EncodeError, match="nsh.spi"):
        encode(_outer(Layer("nsh", bad), *_inner_ping()))
    tlvs = {**MD1, "nsh.mdtype": 2, "nsh.nextproto": 1, "nsh.metadataclass": [1, 2],
            "nsh.metadatatype": [1], "nsh.metadataunassignedbit": [0, 0],
            "nsh.metadatalen": [0, 0]}
    with pytest.raises(EncodeError, match="one entry per TLV"):
        encode(_outer(Layer("nsh", tlvs), *_inner_ping()))
    unknown = {**MD1, "nsh.nextproto": None}
    with pytest.raises(EncodeError, match="nsh.nextproto"):
        encode(_outer(Layer("nsh", unknown), build.payload(b"?")))


def _capture_packet() -> Packet:
    from tests.support import real_capture
    from vxlankit.capture.reader import open_capture

    with open_capture(real_capture(CAPTURE.name)) as reader:
        record = next(iter(reader))
    return decode(record.data)


def test_capture_tree_json_and_filter() -> None:
    packet = _capture_packet()
    tree = "\n".join(packet_tree(packet))
    assert "Network Service Header (nsh), bytes 50-73, SPI: 16777215, SI: 255" in tree
    assert "    nsh.Obit: 1" in tree and "    nsh.ttl: 0x00" in tree
    assert "    nsh.nextproto: 1 (IPv4)" in tree and "    nsh.mdtype: 2 (Variable length)" in tree
    assert tree.count("    nsh.metadataclass: ") == 2
    assert "[note: non-zero MD type 2 padding]" in tree
    text = dumps(packet_object(packet))
    assert '"nsh.metadataclass":[1,2]' in text and '"nsh.spi":16777215' in text
    known = frozenset(FIELDS)
    assert compile_filter("nsh.spi == 16777215", known)(packet)
    assert compile_filter("nsh.metadatatype == 3", known)(packet)
    assert not compile_filter("nsh.spi == 1", known)(packet)
    assert compile_filter("nsh && ip.dst == 192.168.0.2", known)(packet)


def test_info_text() -> None:
    packet = _capture_packet()
    assert nsh.info(packet.layers[4]) == "SPI 16777215, SI 255"
    assert nsh.SPEC.short == "NSH"
    assert packet.layers[4].status == OK
