"""Linux "cooked" capture headers: SLL (link type 113) and SLL2 (link type 276).

SLL, 16 bytes:

    +---------------+---------------+---------------+-------------------------------+
    | packet type 2 | ARPHRD type 2 | addr length 2 |  link-layer address (8, padded) |
    +---------------+---------------+---------------+-------------------------------+
    | protocol 2    |
    +---------------+

SLL2, 20 bytes:

    +-------------+------------+-----------+-----------+---------+---------+-------------+
    | protocol 2  | reserved 2 | ifindex 4 | ARPHRD 2  | pkt 1   | alen 1  | address 8   |
    +-------------+------------+-----------+-----------+---------+---------+-------------+

Wireshark calls both ``sll``.  A 6-byte address is ``sll.src.eth``, another length
``sll.src.other``; the address bytes past its length are ``sll.unused`` so they re-encode.  A
protocol of 0x0600 or more is an EtherType (``sll.etype``), smaller is a Linux protocol
(``sll.ltype``).  SLL2's reserved word is ``sll.reserved`` (vxlankit's name).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from construct import Bytes, Int8ub, Int16ub, Int32ub, Struct

from vxlankit.addr import mac_bytes, mac_str
from vxlankit.layers._common import as_bytes
from vxlankit.layers.ethernet import ETHERTYPE_NAMES
from vxlankit.layers.spec import BYTES, ETHER, LINK, UINT, Field, LayerSpec, Span, Walk
from vxlankit.packet import Layer

PROTO = "sll"
HEADER_LEN = 16
HEADER_LEN_V2 = 20

SCHEMA = Struct(
    "sll.pkttype" / Int16ub,
    "sll.hatype" / Int16ub,
    "sll.halen" / Int16ub,
    "_addr" / Bytes(8),
    "_protocol" / Int16ub,
)
SCHEMA_V2 = Struct(
    "_protocol" / Int16ub,
    "sll.reserved" / Int16ub,
    "sll.ifindex" / Int32ub,
    "sll.hatype" / Int16ub,
    "sll.pkttype" / Int8ub,
    "sll.halen" / Int8ub,
    "_addr" / Bytes(8),
)

_V1 = struct.Struct("!HHH8sH")
_V2 = struct.Struct("!HHIHBB8s")


def _address(fields: dict[str, Any], halen: int, addr: bytes) -> None:
    used = min(halen, 8)
    if halen == 6:
        fields["sll.src.eth"] = mac_str(addr[:6])
    else:
        fields["sll.src.other"] = addr[:used]
    fields["sll.unused"] = addr[used:]


def _protocol(fields: dict[str, Any], protocol: int) -> None:
    fields["sll.etype" if protocol >= 0x0600 else "sll.ltype"] = protocol


def schema_fields(parsed: Any, v2: bool = False) -> dict[str, Any]:
    fields = {k: v for k, v in parsed.items() if not k.startswith("_")}
    _address(fields, parsed["sll.halen"], parsed["_addr"])
    _protocol(fields, parsed["_protocol"])
    return fields


def decode(buf: bytes, off: int) -> dict[str, Any]:
    pkttype, hatype, halen, addr, protocol = _V1.unpack_from(buf, off)
    fields: dict[str, Any] = {"sll.pkttype": pkttype, "sll.hatype": hatype, "sll.halen": halen}
    _address(fields, halen, addr)
    _protocol(fields, protocol)
    return fields


def decode_v2(buf: bytes, off: int) -> dict[str, Any]:
    protocol, reserved, ifindex, hatype, pkttype, halen, addr = _V2.unpack_from(buf, off)
    fields: dict[str, Any] = {
        "sll.reserved": reserved, "sll.ifindex": ifindex, "sll.hatype": hatype,
        "sll.pkttype": pkttype, "sll.halen": halen,
    }
    _address(fields, halen, addr)
    _protocol(fields, protocol)
    return fields


def _addr_bytes(fields: dict[str, Any]) -> bytes:
    addr = mac_bytes(fields["sll.src.eth"]) if "sll.src.eth" in fields else as_bytes(
        fields.get("sll.src.other", b""), "sll.src.other")
    addr += as_bytes(fields.get("sll.unused", b""), "sll.unused")
    return (addr + bytes(8))[:8]


def protocol(fields: dict[str, Any]) -> int:
    value = fields.get("sll.etype")
    return int(value if value is not None else fields["sll.ltype"])


def encode(fields: dict[str, Any]) -> bytes:
    return _V1.pack(fields["sll.pkttype"], fields["sll.hatype"], fields["sll.halen"],
                    _addr_bytes(fields), protocol(fields))


def encode_v2(fields: dict[str, Any]) -> bytes:
    return _V2.pack(protocol(fields), fields.get("sll.reserved", 0), fields["sll.ifindex"],
                    fields["sll.hatype"], fields["sll.pkttype"], fields["sll.halen"],
                    _addr_bytes(fields))


# --------------------------------------------------------------------------------------------
# The house's view: Linux cooked capture v1 and v2, both shown as "sll" as Wireshark does


def _dissector(size: int, read: Callable[[bytes, int], dict[str, Any]]
               ) -> Callable[[Walk, int], tuple[str | None, int]]:
    def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
        if walk.end - off < size:
            walk.cut(PROTO, off, size)
            return None, off
        fields = read(walk.buf, off)
        walk.layers.append(Layer(PROTO, fields, off, size))
        etype = fields.get("sll.etype")
        return "data" if etype is None else walk.tables["ethertype"].get(etype, "data"), \
            off + size

    return dissect


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    return (encode_v2(fields) if "sll.ifindex" in fields else encode(fields)), False


_SPANS: dict[str, Span] = {
    "sll.pkttype": (0, 2, None), "sll.hatype": (2, 2, None), "sll.halen": (4, 2, None),
    "sll.etype": (14, 2, None), "sll.ltype": (14, 2, None),
}
_SPANS_V2: dict[str, Span] = {
    "sll.etype": (0, 2, None), "sll.ltype": (0, 2, None), "sll.reserved": (2, 2, None),
    "sll.ifindex": (4, 4, None), "sll.hatype": (8, 2, None), "sll.pkttype": (10, 1, None),
    "sll.halen": (11, 1, None),
}


def _span(layer: Layer, name: str) -> Span | None:
    fields = layer.fields
    v2 = "sll.ifindex" in fields
    found = (_SPANS_V2 if v2 else _SPANS).get(name)
    if found is not None:
        return found
    base = 12 if v2 else 6
    used = min(fields.get("sll.halen", 0), 8)
    if name in ("sll.src.eth", "sll.src.other"):
        return base, used, None
    if name == "sll.unused":
        return base + used, 8 - used, None
    return None


_FIELDS = (
    Field("sll.pkttype", UINT, names={0: "Unicast to us", 1: "Broadcast", 2: "Multicast",
                                      3: "Unicast to another", 4: "Sent by us"}, size=2),
    Field("sll.hatype", UINT, size=2),
    Field("sll.halen", UINT, size=2),
    Field("sll.src.eth", ETHER),
    Field("sll.src.other", BYTES),
    Field("sll.unused", BYTES),
    Field("sll.etype", UINT, hex=4, names=ETHERTYPE_NAMES, size=2),
    Field("sll.ltype", UINT, size=2),
)
SPEC = LayerSpec(
    name=PROTO, title="Linux cooked capture", role=LINK, header_len=HEADER_LEN,
    schema=SCHEMA, dissect=_dissector(HEADER_LEN, decode), emit=emit, span=_span,
    selectors=(("linktype", 113),), next_table="ethertype", ethertype_field="sll.etype",
    fields=_FIELDS, anchor="sll.hatype",
)
SPEC_V2 = LayerSpec(
    name="sll2", proto=PROTO, title="Linux cooked capture", role=LINK,
    header_len=HEADER_LEN_V2, schema=SCHEMA_V2, dissect=_dissector(HEADER_LEN_V2, decode_v2),
    emit=emit, span=_span, selectors=(("linktype", 276),), next_table="ethertype",
    ethertype_field="sll.etype",
    claims="sll.ifindex", anchor="sll.hatype",
    fields=(*_FIELDS,
            Field("sll.reserved", UINT, doc="vxlankit's own: the reserved 16 bits of SLL2"),
            Field("sll.ifindex", UINT, size=4)),
)
