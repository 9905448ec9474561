"""IPv6 header (RFC 8200 section 3).

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Version| Traffic Class |           Flow Label                  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |         Payload Length        |  Next Header  |   Hop Limit   |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                                                               |
    +                         Source Address                        +
    |                          (16 bytes)                           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                                                               |
    +                      Destination Address                      +
    |                          (16 bytes)                           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Authoritative fields: ``ipv6.version``, ``ipv6.tclass`` (the whole 8 bits; ``.dscp`` and
``.ecn`` are views of it), ``ipv6.flow``, ``ipv6.plen`` (the bytes after this 40-byte header,
extension headers included), ``ipv6.nxt``, ``ipv6.hlim``, ``ipv6.src``, ``ipv6.dst`` (RFC 5952
text, as tshark prints it: the C library's ``inet_ntop``, which Wireshark calls too).
The extension headers are layers of their own (``vxlankit.layers.ipv6ext``), as tshark's
``frame.protocols`` lists them.

What the rest of the house relies on: the walk's pseudo-header addresses (the destination is
the final one when a routing header has segments left, RFC 8200 8.1), ``walk.ip_v6`` (a zero
UDP checksum over IPv6 is an error, not "none"), and ``walk.ip_complete`` (false for a cut
payload and for any fragment).  A payload length of 0 under a hop-by-hop header is a
jumbogram (RFC 2675): its payload is not limited.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from construct import Computed, Int8ub, Int16ub, Int32ub, Rebuild, Struct, this

from vxlankit.addr import ip6_bytes
from vxlankit.layers import ipv6ext
from vxlankit.layers._common import IPv6Address
from vxlankit.layers.spec import IPV6, NETWORK, UINT, Field, LayerSpec, Walk, need
from vxlankit.packet import MALFORMED, TRUNCATED, Layer

PROTO = "ipv6"
HEADER_LEN = 40
VERSION = 6
NXT_HOPOPTS = 0
NXT_NONE = 59

SCHEMA = Struct(
    "_vtf" / Rebuild(Int32ub, (this["ipv6.version"] << 28) | (this["ipv6.tclass"] << 20)
                     | this["ipv6.flow"]),
    "ipv6.version" / Computed(this._vtf >> 28),
    "ipv6.tclass" / Computed((this._vtf >> 20) & 0xFF),
    "ipv6.tclass.dscp" / Computed((this._vtf >> 22) & 0x3F),
    "ipv6.tclass.ecn" / Computed((this._vtf >> 20) & 0x03),
    "ipv6.flow" / Computed(this._vtf & 0xFFFFF),
    "ipv6.plen" / Int16ub,
    "ipv6.nxt" / Int8ub,
    "ipv6.hlim" / Int8ub,
    "ipv6.src" / IPv6Address,
    "ipv6.dst" / IPv6Address,
)

_S = struct.Struct("!IHBB16s16s")
_AF_INET6 = socket.AF_INET6
_ntop = socket.inet_ntop


def decode(buf: bytes, off: int) -> dict[str, Any]:
    vtf, plen, nxt, hlim, src, dst = _S.unpack_from(buf, off)
    return {
        "ipv6.version": vtf >> 28,
        "ipv6.tclass": (vtf >> 20) & 0xFF,
        "ipv6.tclass.dscp": (vtf >> 22) & 0x3F,
        "ipv6.tclass.ecn": (vtf >> 20) & 0x03,
        "ipv6.flow": vtf & 0xFFFFF,
        "ipv6.plen": plen,
        "ipv6.nxt": nxt,
        "ipv6.hlim": hlim,
        "ipv6.src": _ntop(_AF_INET6, src),
        "ipv6.dst": _ntop(_AF_INET6, dst),
    }


def encode(fields: dict[str, Any]) -> bytes:
    return pack(fields["ipv6.version"], fields["ipv6.tclass"], fields["ipv6.flow"],
                fields["ipv6.plen"], fields["ipv6.nxt"], fields["ipv6.hlim"],
                fields["ipv6.src"], fields["ipv6.dst"])


def pack(version: int, tclass: int, flow: int, plen: int, nxt: int, hlim: int, src: str,
         dst: str) -> bytes:
    """The header from its authoritative values (``encode`` reads them from fields)."""
    if not (0 <= version <= 15 and 0 <= tclass <= 0xFF and 0 <= flow <= 0xFFFFF):
        raise ValueError(f"ipv6.version {version} / ipv6.tclass {tclass} / ipv6.flow {flow} "
                         "do not fit in 4 / 8 / 20 bits")
    return _S.pack((version << 28) | (tclass << 20) | flow, plen, nxt, hlim, ip6_bytes(src),
                   ip6_bytes(dst))


def derive(fields: dict[str, Any]) -> None:
    """Refresh the view fields from the authoritative ones (after a builder or a fix-up)."""
    tclass = fields["ipv6.tclass"]
    fields["ipv6.tclass.dscp"] = tclass >> 2
    fields["ipv6.tclass.ecn"] = tclass & 0x03


# --------------------------------------------------------------------------------------------
# The house's view of IPv6


def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
    buf = walk.buf
    avail = walk.end - off
    if avail < HEADER_LEN:
        walk.cut(PROTO, off, HEADER_LEN)
        return None, off
    fields = decode(buf, off)
    layer = Layer(PROTO, fields, off, HEADER_LEN)
    walk.layers.append(layer)
    payload_start = off + HEADER_LEN
    if fields["ipv6.version"] != VERSION:
        layer.status = MALFORMED
        walk.errors.append(f"ipv6: malformed header at offset {off}: version "
                           f"{fields['ipv6.version']}")
        return "data", payload_start
    plen = fields["ipv6.plen"]
    nxt = fields["ipv6.nxt"]
    if plen == 0 and nxt == NXT_HOPOPTS:
        walk.ip_complete = True  # a jumbogram (RFC 2675): its length is in an option
    elif HEADER_LEN + plen > avail:
        layer.status = TRUNCATED
        walk.ip_complete = False
        walk.errors.append(f"ipv6: truncated at offset {off}: payload length {plen}, "
                           f"{avail - HEADER_LEN} bytes captured")
    else:
        walk.ip_complete = True
        walk.limit(payload_start + plen)
    src = buf[off + 8:off + 24]
    dst = buf[off + 24:off + 40]
    walk.ip_src = src
    walk.ip_dst = dst
    # Addresses as one integer: congruent (mod 0xffff) to their pseudo-header word sum.
    walk.ip_pseudo = int.from_bytes(buf[off + 8:off + 40], "big")
    walk.ip_v6 = True
    return walk.tables["ip.proto"].get(nxt, "data"), payload_start


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    """The header with its ``None`` fields filled in; and whether anything was filled."""
    get = fields.get
    nxt, plen = get("ipv6.nxt"), get("ipv6.plen")
    version, tclass, flow, hlim = (get("ipv6.version"), get("ipv6.tclass"), get("ipv6.flow"),
                                   get("ipv6.hlim"))
    if nxt is None:
        nxt = need(next_value, "ipv6.nxt")
    return pack(
        VERSION if version is None else version, tclass or 0, flow or 0, plen or 0, nxt,
        64 if hlim is None else hlim, fields["ipv6.src"], fields["ipv6.dst"],
    ), plen is None or nxt is None or version is None or hlim is None


def pseudo_addresses(packet: bytes | bytearray, header_len: int) -> tuple[bytes, bytes]:
    """The source and destination an upper layer's pseudo-header names: the header's, or the
    final destination of a routing header among the extension headers up to the upper layer
    (``packet``: this header and the extension headers after it)."""
    dst = bytes(packet[24:40])
    if len(packet) > HEADER_LEN:
        dst = ipv6ext.chain_destination(packet[HEADER_LEN:], dst, packet[6])
    return bytes(packet[8:24]), dst


def _title(f: dict[str, Any]) -> str:
    return f", Src: {f['ipv6.src']}, Dst: {f['ipv6.dst']}" if "ipv6.src" in f else ""


def _info(layer: Layer) -> str:
    return "IPv6 no next header" if layer.fields.get("ipv6.nxt") == NXT_NONE else ""


SPEC = LayerSpec(
    name=PROTO, title="Internet Protocol Version 6", role=NETWORK, header_len=HEADER_LEN,
    covers="extensions",
    schema=SCHEMA, dissect=dissect, emit=emit, short="IPv6", info=_info,
    selectors=(("ethertype", 0x86DD), ("linktype", 229), ("ip.version", 6),
               ("vxlan.next_proto", 2), ("null.family", 24), ("null.family", 28),
               ("null.family", 30), ("ip.proto", 41), ("nsh.next_proto", 2)),
    next_table="ip.proto", next_field="ipv6.nxt", title_extra=_title, length_at=4,
    length_from=HEADER_LEN, pseudo_addresses=pseudo_addresses, zero_checksum_ok=False,
    # Wireshark's IPv6 dissector also adds a hidden ip.version (6): "ip.version == 6" finds
    # IPv6 packets, and -T fields -e ip.version shows 6 for them.
    aliases=(("ipv6.addr", ("ipv6.src", "ipv6.dst")),
             ("ip.version", ("ip.version", "ipv6.version"))),
    fields=(
        Field("ipv6.version", UINT, (0, 1, 0xF0)),
        Field("ipv6.tclass", UINT, (0, 4, 0x0FF00000), hex=8),
        Field("ipv6.tclass.dscp", UINT, (0, 4, 0x0FC00000)),
        Field("ipv6.tclass.ecn", UINT, (0, 4, 0x00300000)),
        Field("ipv6.flow", UINT, (1, 3, 0x0FFFFF), hex=6),
        Field("ipv6.plen", UINT, (4, 2, None), varies=True),
        Field("ipv6.nxt", UINT, (6, 1, None)),
        Field("ipv6.hlim", UINT, (7, 1, None)),
        Field("ipv6.src", IPV6, (8, 16, None)),
        Field("ipv6.dst", IPV6, (24, 16, None)),
    ),
)
