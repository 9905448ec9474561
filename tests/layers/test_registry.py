"""The registry: one explicit list, every consumer's table derived from it, every field a
decode produces declared by its layer, and docs/fields.md generated from it."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given

from tests import strategies as strat
from tests.codec.realcaptures import iter_real_frames, require_real_dir
from vxlankit.codec import DEFAULT_OPTIONS, decode, encode
from vxlankit.codec.options import OTHER_TABLES, fast_path_applies
from vxlankit.crosscheck.compare import COMPARED_PROTOCOLS
from vxlankit.layers import registry
from vxlankit.layers.fieldsdoc import fields_markdown
from vxlankit.packet import Packet
from vxlankit.present.filter import PROTOCOLS as FILTER_PROTOCOLS
from vxlankit.present.tree import LAYER_TITLES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "fields.md"


def test_docs_fields_table_is_current() -> None:
    assert DOCS.read_text() == fields_markdown(), (
        "docs/fields.md is stale: python -m vxlankit.layers.fieldsdoc > docs/fields.md")


_FIELD_PREFIX = {"mdns": "dns"}


def test_names_are_unique_and_fields_are_prefixed_by_their_protocol() -> None:
    names = [spec.name for spec in registry.LAYERS]
    assert len(names) == len(set(names))
    for spec in registry.LAYERS:
        for field in spec.fields:
            # (An IPv6 extension header's protocol has a dot of its own: ipv6.hopopts.nxt;
            # tshark's mdns protocol keeps the dns.* field names.)
            assert field.name.startswith(_FIELD_PREFIX.get(spec.proto, spec.proto) + "."), (
                spec.name, field.name)
        assert spec.anchor in spec.field_names


def test_schema_fields_are_declared() -> None:
    for spec in registry.LAYERS:
        if spec.schema is None:
            continue
        declared = {sc.name for sc in spec.schema.subcons
                    if sc.name and not sc.name.startswith("_")}
        assert declared <= spec.field_names, (spec.name, declared - spec.field_names)


def test_consumers_derive_from_the_registry() -> None:
    protos = {spec.proto for spec in registry.LAYERS}
    assert set(COMPARED_PROTOCOLS) == protos
    assert protos <= FILTER_PROTOCOLS
    assert protos <= set(LAYER_TITLES)
    assert DEFAULT_OPTIONS.ethertypes == registry.TABLES["ethertype"]
    assert DEFAULT_OPTIONS.ip_protocols == registry.TABLES["ip.proto"]
    assert set(OTHER_TABLES) | {"ethertype", "ip.proto", "udp.port", "vxlan.next_proto"} == set(
        registry.TABLES)
    for spec in registry.LAYERS:  # every selector dispatches to its layer
        for table, value in spec.selectors:
            assert registry.TABLES[table][value] == spec.name or table == "linktype"


def test_encode_inverses_invert_the_tables() -> None:
    for table, inverse in registry.INVERSES.items():
        for name, value in inverse.items():
            assert registry.TABLES[table][value] == name


def test_one_gate_for_every_fast_path() -> None:
    assert fast_path_applies(DEFAULT_OPTIONS)
    assert fast_path_applies(DEFAULT_OPTIONS.with_vxlan_ports([4789]))
    assert not fast_path_applies(DEFAULT_OPTIONS.decode_as("tcp.port", 4789, "vxlan"))
    assert not fast_path_applies(DEFAULT_OPTIONS.decode_as("ethertype", 0x86DD, "data"))


def _declared(packet: Packet) -> None:
    for layer in packet.layers:
        assert layer.proto in registry.PROTOCOLS, layer.proto
        for name in layer.fields:
            assert name in registry.FIELDS, (layer.proto, name)


def test_every_field_decoded_from_real_captures_is_declared() -> None:
    require_real_dir()
    count = 0
    for _, _, linktype, frame in iter_real_frames():
        _declared(decode(frame, linktype))
        count += 1
    assert count > 0


@given(strat.frames())
def test_every_field_decoded_from_generated_frames_is_declared(frame: strat.Frame) -> None:
    _declared(decode(encode(strat.copy_layers(frame.layers)), frame.linktype))


def test_frame_protocols_lists_ethertype_after_layers_that_hand_on_by_it() -> None:
    """tshark's spelling: "ethertype" after Ethernet, 802.1Q/802.1ad tags and Linux cooked
    captures that carry an EtherType; not after an 802.3 length, a Linux protocol number or a
    tunnel that looks its payload up by EtherType (Geneve); trailers are not listed."""
    from tests.layers.test_geneve import geneve_layer
    from vxlankit import build, decode, encode
    from vxlankit.layers.registry import ETHERTYPE_FIELDS, frame_protocols

    assert ETHERTYPE_FIELDS == {"eth": "eth.type", "sll": "sll.etype", "vlan": "vlan.etype",
                                "ieee8021ad": "ieee8021ad.etype"}
    tagged = decode(encode([build.eth(), build.vlan(7), build.ipv4("10.0.0.1", "10.0.0.2"),
                            build.udp(1, 6081), geneve_layer(vni=5), build.eth(),
                            build.arp(), build.padding(b"\0" * 4)]))
    assert frame_protocols(tagged) == ("eth:ethertype:vlan:ethertype:ip:udp:geneve:eth:"
                                       "ethertype:arp")
    length = decode(bytes.fromhex("ffffffffffff020000000001002e") + bytes(46))
    assert frame_protocols(length).startswith("eth:") and "ethertype" not in \
        frame_protocols(length)
    cooked = decode(bytes.fromhex("0000030400060000000000000000") + b"\x00\x04" + bytes(8), 113)
    assert frame_protocols(cooked) == "sll:data"
