"""Ethernet II (and IEEE 802.3 length) header.

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                     Destination MAC address                   |
    +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                               |                               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+       Source MAC address      +
    |                                                               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |    EtherType (>= 0x0600)      |
    |    or 802.3 length (<= 1500)  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

A value below 0x0600 is an 802.3 length (Wireshark: ``eth.len``); the payload is then kept raw.
"""

from __future__ import annotations

import struct
from typing import Any

from construct import Computed, If, Int16ub, Struct, this

from vxlankit.addr import mac_bytes
from vxlankit.layers._common import MacAddress
from vxlankit.layers.spec import ETHER, LINK, UINT, Field, LayerSpec, Walk, need
from vxlankit.packet import Layer

PROTO = "eth"
HEADER_LEN = 14
MIN_FRAME = 60  # without FCS; shorter frames are padded on the wire (802.3 clause 4.2.3.3)

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_VLAN = 0x8100
ETHERTYPE_QINQ = 0x88A8
ETHERTYPE_QINQ_OLD = 0x9100
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_MIN = 0x0600


SCHEMA = Struct(
    "eth.dst" / MacAddress,
    "eth.src" / MacAddress,
    "_tl" / Int16ub,  # EtherType or 802.3 length; a build takes it as given (like sll's)
    "eth.type" / If(this._tl >= ETHERTYPE_MIN, Computed(this._tl)),
    "eth.len" / If(this._tl < ETHERTYPE_MIN, Computed(this._tl)),
)

_S = struct.Struct("!6s6sH")


def decode(buf: bytes, off: int) -> dict[str, Any]:
    dst, src, tl = _S.unpack_from(buf, off)
    if tl >= ETHERTYPE_MIN:
        return {"eth.dst": dst.hex(":"), "eth.src": src.hex(":"), "eth.type": tl}
    return {"eth.dst": dst.hex(":"), "eth.src": src.hex(":"), "eth.len": tl}


def encode(fields: dict[str, Any]) -> bytes:
    tl = fields.get("eth.type")
    if tl is None:
        tl = fields["eth.len"]
    return _S.pack(mac_bytes(fields["eth.dst"]), mac_bytes(fields["eth.src"]), tl)


# --------------------------------------------------------------------------------------------
# The house's view of Ethernet II

ETHERTYPE_NAMES = {0x0800: "IPv4", 0x0806: "ARP", 0x8100: "802.1Q", 0x88A8: "802.1ad",
                   0x9100: "802.1ad (old)", 0x86DD: "IPv6", 0x8847: "MPLS"}


def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
    if walk.end - off < HEADER_LEN:
        walk.cut(PROTO, off, HEADER_LEN)
        return None, off
    fields = decode(walk.buf, off)
    walk.layers.append(Layer(PROTO, fields, off, HEADER_LEN))
    walk.eth_start = off
    etype = fields.get("eth.type")
    return "data" if etype is None else walk.tables["ethertype"].get(etype, "data"), off + 14


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    if fields.get("eth.type") is not None or fields.get("eth.len") is not None:
        return encode(fields), False
    return encode({**fields, "eth.type": need(next_value, "eth.type")}), True


def _title(f: dict[str, Any]) -> str:
    return f", Src: {f['eth.src']}, Dst: {f['eth.dst']}" if "eth.src" in f else ""


SPEC = LayerSpec(
    name=PROTO, title="Ethernet II", role=LINK, header_len=HEADER_LEN, schema=SCHEMA,
    dissect=dissect, emit=emit,
    selectors=(("linktype", 1), ("vxlan.next_proto", 3), ("ethertype", 0x6558),
               ("nsh.next_proto", 3)),
    next_table="ethertype", next_field="eth.type", ethertype_field="eth.type", title_extra=_title,
    # Wireshark adds eth.addr after eth.dst, then after eth.src: eth.addr#1 is the destination
    aliases=(("eth.addr", ("eth.dst", "eth.src")),),
    fields=(
        Field("eth.dst", ETHER, (0, 6, None)),
        Field("eth.src", ETHER, (6, 6, None)),
        Field("eth.type", UINT, (12, 2, None), hex=4, names=ETHERTYPE_NAMES),
        Field("eth.len", UINT, (12, 2, None)),
    ),
)
