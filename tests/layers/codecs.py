"""Each layer's two implementations side by side: the struct fast path (``decode``/``encode``)
and the Construct ``SCHEMA`` (the reference), with the small adapters that turn a schema parse
into a field dict and a field dict into a schema build input."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from construct import Construct

from vxlankit.addr import mac_bytes
from vxlankit.layers import (
    arp,
    dns,
    erspan,
    ethernet,
    geneve,
    gre,
    icmp,
    icmpv6,
    ipv4,
    ipv6,
    ipv6ext,
    nsh,
    null,
    sll,
    udp,
    vlan,
    vxlan,
)
from vxlankit.layers._common import schema_fields

Fields = dict[str, Any]


@dataclass(frozen=True)
class LayerCodec:
    name: str
    decode: Callable[[bytes, int], Fields]
    encode: Callable[[Fields], bytes]
    parse: Callable[[bytes], Fields]  # schema parse -> fields
    build: Callable[[Fields], bytes]  # fields -> schema build


def _schema(schema: Construct) -> tuple[Callable[[bytes], Fields], Callable[[Fields], bytes]]:
    return (lambda b: schema_fields(schema.parse(b))), schema.build


def _renamed(fields: Fields, old: str, new: str) -> Fields:
    return {new + k[len(old):] if k.startswith(old) else k: v for k, v in fields.items()}


def _sll_build_input(fields: Fields) -> Fields:
    if "sll.src.eth" in fields:
        addr = mac_bytes(fields["sll.src.eth"])
    else:
        addr = bytes(fields["sll.src.other"])
    addr = (addr + bytes(fields["sll.unused"]) + bytes(8))[:8]
    protocol = fields["sll.etype"] if "sll.etype" in fields else fields["sll.ltype"]
    return {**fields, "_addr": addr, "_protocol": protocol}


def _eth_build_input(fields: Fields) -> Fields:
    tl = fields["eth.type"] if fields.get("eth.type") is not None else fields["eth.len"]
    return {**fields, "_tl": tl}


_ARP_VIEWS = [f"arp.{end}.{view}" for end in ("src", "dst")
              for view in ("hw_mac", "hw", "proto_ipv4", "proto")]


def _arp_build_input(fields: Fields) -> Fields:
    return {**dict.fromkeys(_ARP_VIEWS), **fields}


def _null_parse(buf: bytes) -> Fields:
    # The documented inference: a family fits in 16 bits, so a little-endian read whose low
    # half is zero means the header was written big-endian.
    little = null.SCHEMA_LE.parse(buf)["null.family"]
    if little & 0xFFFF:
        return {"null.family": little, "null.byte_order": "little"}
    return {"null.family": null.SCHEMA_BE.parse(buf)["null.family"], "null.byte_order": "big"}


def _null_build(fields: Fields) -> bytes:
    schema = null.SCHEMA_LE if fields["null.byte_order"] == "little" else null.SCHEMA_BE
    return bytes(schema.build({"null.family": fields["null.family"]}))


CODECS: dict[str, LayerCodec] = {
    "eth": LayerCodec(
        "eth", ethernet.decode, ethernet.encode,
        lambda b: schema_fields(ethernet.SCHEMA.parse(b)),
        lambda f: ethernet.SCHEMA.build(_eth_build_input(f)),
    ),
    "vlan": LayerCodec("vlan", vlan.decode, vlan.encode, *_schema(vlan.SCHEMA)),
    "ieee8021ad": LayerCodec(
        "ieee8021ad",
        lambda b, off: vlan.decode(b, off, "ieee8021ad"),
        lambda f: vlan.encode(f, "ieee8021ad"),
        lambda b: _renamed(schema_fields(vlan.SCHEMA.parse(b)), "vlan.", "ieee8021ad."),
        lambda f: vlan.SCHEMA.build(_renamed(f, "ieee8021ad.", "vlan.")),
    ),
    "arp": LayerCodec(
        "arp", arp.decode, arp.encode,
        lambda b: schema_fields(arp.SCHEMA.parse(b)),
        lambda f: arp.SCHEMA.build(_arp_build_input(f)),
    ),
    "ip": LayerCodec("ip", ipv4.decode, ipv4.encode, *_schema(ipv4.SCHEMA)),
    "icmp": LayerCodec(
        "icmp", icmp.decode, icmp.encode,
        lambda b: icmp.schema_fields(icmp.SCHEMA.parse(b)),
        lambda f: icmp.SCHEMA.build(icmp.schema_build_input(f)),
    ),
    "icmpv6": LayerCodec("icmpv6", icmpv6.decode, icmpv6.encode, icmpv6.schema_parse,
                         icmpv6.schema_build),
    "udp": LayerCodec("udp", udp.decode, udp.encode, *_schema(udp.SCHEMA)),
    "vxlan": LayerCodec("vxlan", vxlan.decode, vxlan.encode, *_schema(vxlan.SCHEMA)),
    "vxlan-gpe": LayerCodec("vxlan-gpe", vxlan.decode_gpe, vxlan.encode_gpe,
                            *_schema(vxlan.GPE_SCHEMA)),
    "sll": LayerCodec(
        "sll", sll.decode, sll.encode,
        lambda b: sll.schema_fields(sll.SCHEMA.parse(b)),
        lambda f: sll.SCHEMA.build(_sll_build_input(f)),
    ),
    "sll2": LayerCodec(
        "sll2", sll.decode_v2, sll.encode_v2,
        lambda b: sll.schema_fields(sll.SCHEMA_V2.parse(b), v2=True),
        lambda f: sll.SCHEMA_V2.build(_sll_build_input(f)),
    ),
    "null": LayerCodec("null", null.decode, null.encode, _null_parse, _null_build),
    "geneve": LayerCodec(
        "geneve", geneve.decode, geneve.encode,
        lambda b: geneve.schema_fields(geneve.SCHEMA.parse(b)),
        lambda f: geneve.SCHEMA.build(geneve.schema_build_input(f)),
    ),
    "gre": LayerCodec(
        "gre", gre.decode, gre.encode, lambda b: schema_fields(gre.SCHEMA.parse(b)),
        lambda f: gre.SCHEMA.build(gre.schema_build_input(f)),
    ),
    "erspan": LayerCodec(
        "erspan", erspan.decode, erspan.encode,
        lambda b: erspan.schema_fields(erspan.SCHEMA.parse(b)),
        lambda f: erspan.SCHEMA.build(erspan.schema_build_input(f)),
    ),
    "ipv6": LayerCodec("ipv6", ipv6.decode, ipv6.encode, *_schema(ipv6.SCHEMA)),
    "ipv6.hopopts": LayerCodec("ipv6.hopopts", ipv6ext.decode_hopopts, ipv6ext.encode_hopopts,
                               *_schema(ipv6ext.SCHEMA_HOPOPTS)),
    "ipv6.routing": LayerCodec("ipv6.routing", ipv6ext.decode_routing, ipv6ext.encode_routing,
                               *_schema(ipv6ext.SCHEMA_ROUTING)),
    "ipv6.fraghdr": LayerCodec("ipv6.fraghdr", ipv6ext.decode_fraghdr, ipv6ext.encode_fraghdr,
                               *_schema(ipv6ext.SCHEMA_FRAGHDR)),
    "ipv6.dstopts": LayerCodec("ipv6.dstopts", ipv6ext.decode_dstopts, ipv6ext.encode_dstopts,
                               *_schema(ipv6ext.SCHEMA_DSTOPTS)),
    "ah": LayerCodec("ah", ipv6ext.decode_ah, ipv6ext.encode_ah, *_schema(ipv6ext.SCHEMA_AH)),
    "esp": LayerCodec("esp", ipv6ext.decode_esp, ipv6ext.encode_esp,
                      *_schema(ipv6ext.SCHEMA_ESP)),
    "nsh": LayerCodec("nsh", nsh.decode, nsh.encode,
                      lambda b: nsh.schema_fields(nsh.SCHEMA.parse(b)),
                      lambda f: nsh.SCHEMA.build(nsh.schema_build_input(f))),
    "dns": LayerCodec("dns", dns.decode, dns.encode,
                      lambda b: schema_fields(dns.SCHEMA.parse(b)),
                      lambda f: dns.SCHEMA.build(dns.schema_build_input(f))),
    "dns-tcp": LayerCodec("dns-tcp", dns.decode_tcp, dns.encode_tcp,
                          lambda b: schema_fields(dns.TCP_SCHEMA.parse(b)),
                          lambda f: dns.TCP_SCHEMA.build(dns.schema_build_input(f))),
}

# Layers whose decode reads to the end of the buffer (no length field of their own).
RUNS_TO_THE_END = frozenset({"dns"})

# Header sizes for random-bytes tests: (fixed size, or a function of the first bytes, and
# the most bytes any header of the layer can need).
MAX_HEADER = {"eth": 14, "vlan": 4, "ieee8021ad": 4, "arp": 8 + 2 * (255 + 255), "ip": 60,
              "icmp": 8, "icmpv6": 40, "udp": 8, "vxlan": 8, "vxlan-gpe": 8, "sll": 16, "sll2": 20,
              "null": 4, "nsh": 4 * 0x3F, "dns": 12, "dns-tcp": 14,
              "geneve": 8 + 252,
              "gre": 20, "erspan": 20,  # GRE: without its routing SREs
              "ipv6": 40, "ipv6.hopopts": 2048, "ipv6.routing": 2048, "ipv6.fraghdr": 8,
              "ipv6.dstopts": 2048, "ah": 1028, "esp": 8}
