"""ARP (RFC 826).  Ethernet/IPv4 decoded fully; any other sizes kept as bytes, never rejected.

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |        Hardware type          |         Protocol type         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  HW addr len  | Proto addr len|            Opcode             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    | Sender hardware address (hln) | Sender protocol address (pln) |
    | Target hardware address (hln) | Target protocol address (pln) |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Field names follow Wireshark: an Ethernet-sized hardware address (hardware type 1 or 6, length 6)
is ``arp.src.hw_mac``, anything else ``arp.src.hw`` (bytes); an IPv4 protocol address (type
0x0800, length 4) is ``arp.src.proto_ipv4``, anything else ``arp.src.proto``.
"""

from __future__ import annotations

import struct
from typing import Any

from construct import Bytes, If, Int8ub, Int16ub, Struct, this

from vxlankit.addr import ip_bytes, ip_str, mac_bytes, mac_str
from vxlankit.layers._common import IPv4Address, MacAddress, as_bytes
from vxlankit.layers.ethernet import ETHERTYPE_NAMES
from vxlankit.layers.spec import (
    BYTES,
    CONTROL,
    ETHER,
    IPV4,
    UINT,
    Field,
    LayerSpec,
    Span,
    Walk,
)
from vxlankit.packet import Layer

PROTO = "arp"
FIXED_LEN = 8
OP_REQUEST = 1
OP_REPLY = 2
HW_ETHERNET = 1
HW_IEEE802 = 6
PROTO_IPV4 = 0x0800


def is_ether(hw_type: int, hw_size: int) -> bool:
    return hw_size == 6 and hw_type in (HW_ETHERNET, HW_IEEE802)


def is_ipv4(proto_type: int, proto_size: int) -> bool:
    return proto_size == 4 and proto_type == PROTO_IPV4


# is_ether and is_ipv4 as Construct expressions (so that the schema compiles).
_ETHER = (this["arp.hw.size"] == 6) & (
    (this["arp.hw.type"] == HW_ETHERNET) | (this["arp.hw.type"] == HW_IEEE802))
_IPV4 = (this["arp.proto.size"] == 4) & (this["arp.proto.type"] == PROTO_IPV4)


def _views(prefix: str) -> list[Any]:
    """One address pair; a build takes all four names, None where the view does not apply."""
    return [
        f"arp.{prefix}.hw_mac" / If(_ETHER, MacAddress),
        f"arp.{prefix}.hw" / If(~_ETHER, Bytes(this["arp.hw.size"])),
        f"arp.{prefix}.proto_ipv4" / If(_IPV4, IPv4Address),
        f"arp.{prefix}.proto" / If(~_IPV4, Bytes(this["arp.proto.size"])),
    ]


SCHEMA = Struct(
    "arp.hw.type" / Int16ub,
    "arp.proto.type" / Int16ub,
    "arp.hw.size" / Int8ub,
    "arp.proto.size" / Int8ub,
    "arp.opcode" / Int16ub,
    *_views("src"),
    *_views("dst"),
)

_FIXED = struct.Struct("!HHBBH")
_ETHER_IPV4 = struct.Struct("!HHBBH6s4s6s4s")


def length(buf: bytes, off: int) -> int:
    """Header length from the two size fields (the caller checked 8 bytes are there)."""
    return FIXED_LEN + 2 * (buf[off + 4] + buf[off + 5])


def decode(buf: bytes, off: int) -> dict[str, Any]:
    htype, ptype, hlen, plen, op = _FIXED.unpack_from(buf, off)
    if hlen == 6 and plen == 4 and ptype == PROTO_IPV4 and htype in (HW_ETHERNET, HW_IEEE802):
        _, _, _, _, _, sha, spa, tha, tpa = _ETHER_IPV4.unpack_from(buf, off)
        return {
            "arp.hw.type": htype,
            "arp.proto.type": ptype,
            "arp.hw.size": hlen,
            "arp.proto.size": plen,
            "arp.opcode": op,
            "arp.src.hw_mac": sha.hex(":"),
            "arp.src.proto_ipv4": ip_str(spa),
            "arp.dst.hw_mac": tha.hex(":"),
            "arp.dst.proto_ipv4": ip_str(tpa),
        }
    fields: dict[str, Any] = {
        "arp.hw.type": htype,
        "arp.proto.type": ptype,
        "arp.hw.size": hlen,
        "arp.proto.size": plen,
        "arp.opcode": op,
    }
    ether = is_ether(htype, hlen)
    ipv4 = is_ipv4(ptype, plen)
    pos = off + FIXED_LEN
    for prefix in ("src", "dst"):
        hw = bytes(buf[pos : pos + hlen])
        pos += hlen
        pr = bytes(buf[pos : pos + plen])
        pos += plen
        if ether:
            fields[f"arp.{prefix}.hw_mac"] = mac_str(hw)
        else:
            fields[f"arp.{prefix}.hw"] = hw
        if ipv4:
            fields[f"arp.{prefix}.proto_ipv4"] = ip_str(pr)
        else:
            fields[f"arp.{prefix}.proto"] = pr
    return fields


def encode(fields: dict[str, Any]) -> bytes:
    htype = fields["arp.hw.type"]
    ptype = fields["arp.proto.type"]
    hlen = fields["arp.hw.size"]
    plen = fields["arp.proto.size"]
    out = [_FIXED.pack(htype, ptype, hlen, plen, fields["arp.opcode"])]
    ether = is_ether(htype, hlen)
    ipv4 = is_ipv4(ptype, plen)
    for prefix in ("src", "dst"):
        if ether:
            out.append(mac_bytes(fields[f"arp.{prefix}.hw_mac"]))
        else:
            out.append(as_bytes(fields[f"arp.{prefix}.hw"], f"arp.{prefix}.hw"))
        if ipv4:
            out.append(ip_bytes(fields[f"arp.{prefix}.proto_ipv4"]))
        else:
            out.append(as_bytes(fields[f"arp.{prefix}.proto"], f"arp.{prefix}.proto"))
    return b"".join(out)


def address_sizes(fields: dict[str, Any]) -> tuple[int, int]:
    """The hardware and protocol address sizes the fields imply (for ``fix_lengths``)."""
    hw = fields.get("arp.src.hw_mac")
    hw_len = 6 if hw is not None else len(fields.get("arp.src.hw", b""))
    pr = fields.get("arp.src.proto_ipv4")
    pr_len = 4 if pr is not None else len(fields.get("arp.src.proto", b""))
    return hw_len, pr_len


# --------------------------------------------------------------------------------------------
# The house's view of ARP


def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
    avail = walk.end - off
    if avail < FIXED_LEN:
        walk.cut(PROTO, off, FIXED_LEN)
        return None, off
    alen = length(walk.buf, off)
    if alen > avail:
        walk.cut(PROTO, off, alen)
        return None, off
    walk.layers.append(Layer(PROTO, decode(walk.buf, off), off, alen))
    walk.limit(off + alen)
    return None, off + alen


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    if not fix_lengths and fields.get("arp.hw.size") is not None \
            and fields.get("arp.proto.size") is not None:
        return encode(fields), False
    out = dict(fields)
    out["arp.hw.size"], out["arp.proto.size"] = address_sizes(out)
    return encode(out), True


def places(hlen: int, plen: int) -> dict[str, Span]:
    """Where the address fields sit in a message with ``hlen``-byte hardware and
    ``plen``-byte protocol addresses (the sizes place them: RFC 826)."""
    at = {"src.hw": (8, hlen), "src.proto": (8 + hlen, plen),
          "dst.hw": (8 + hlen + plen, hlen), "dst.proto": (8 + 2 * hlen + plen, plen)}
    found: dict[str, Span] = {}
    for name in _PLACED:
        for prefix, (off, size) in at.items():
            if name.startswith("arp." + prefix):
                found[name] = (off, size, None)
    return found


_PLACED = ("arp.src.hw_mac", "arp.src.hw", "arp.src.proto_ipv4", "arp.src.proto",
           "arp.dst.hw_mac", "arp.dst.hw", "arp.dst.proto_ipv4", "arp.dst.proto")
# The fields' places in the message every fast path reads (Ethernet hardware addresses,
# IPv4 protocol addresses): the ARP of IPv4 over Ethernet.
ETHERNET_IPV4: dict[str, Span] = places(6, 4)


def _span(layer: Layer, name: str) -> Span | None:
    return places(layer.fields.get("arp.hw.size", 6),
                  layer.fields.get("arp.proto.size", 4)).get(name)


SPEC = LayerSpec(
    name=PROTO, title="Address Resolution Protocol", role=CONTROL, header_len=FIXED_LEN,
    schema=SCHEMA, dissect=dissect, emit=emit, short="ARP", span=_span, places=ETHERNET_IPV4,
    selectors=(("ethertype", 0x0806),),
    fields=(
        Field("arp.hw.type", UINT, (0, 2, None), names={1: "Ethernet", 6: "IEEE 802"}),
        Field("arp.proto.type", UINT, (2, 2, None), hex=4, names=ETHERTYPE_NAMES),
        Field("arp.hw.size", UINT, (4, 1, None)),
        Field("arp.proto.size", UINT, (5, 1, None)),
        Field("arp.opcode", UINT, (6, 2, None),
              names={1: "request", 2: "reply", 3: "reverse request", 4: "reverse reply"}),
        Field("arp.src.hw_mac", ETHER),
        Field("arp.src.hw", BYTES),
        Field("arp.src.proto_ipv4", IPV4),
        Field("arp.src.proto", BYTES),
        Field("arp.dst.hw_mac", ETHER),
        Field("arp.dst.hw", BYTES),
        Field("arp.dst.proto_ipv4", IPV4),
        Field("arp.dst.proto", BYTES),
    ),
)
