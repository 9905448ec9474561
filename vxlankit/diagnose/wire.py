"""Byte-level readers for what the diagnosis looks at in every packet: the link header, an
IPv4/IPv6 header, an ICMP error's quoted packet, checksums.

The replay walk reads VXLAN through the fast path (vxlankit.frames) and never decodes most
packets in full; the diagnosis must not either, so it reads the few fields it needs straight
from the bytes.  Everything here takes bytes and returns plain values or ``None`` (never
raises on short or odd input: a capture is whatever it is).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from vxlankit.addr import IP_TEXTS, ip6_text, ip_text
from vxlankit.checksum import internet_checksum, ones_complement_sum

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
_VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = (101, 228)
LINKTYPE_IPV6 = 229
LINKTYPE_SLL = 113
LINKTYPE_SLL2 = 276

ICMP_ECHOREPLY = 0
ICMP_DEST_UNREACH = 3
ICMP_PORT_UNREACH = 3
ICMP_FRAG_NEEDED = 4
ICMP_ECHO = 8
ICMP_TIME_EXCEEDED = 11
ICMP_ERRORS = frozenset((3, 4, 5, 11, 12))
ICMPV6_DEST_UNREACH = 1
ICMPV6_PORT_UNREACH = 4
ICMPV6_PKT_TOOBIG = 2
ICMPV6_TIME_EXCEED = 3
ICMPV6_ERRORS = frozenset((1, 2, 3, 4))


@dataclass(frozen=True, slots=True)
class L2:
    """A frame's link layer: MACs (None without Ethernet), the ethertype and where L3 starts."""

    dst: str | None
    src: str | None
    ethertype: int
    offset: int


def link(data: bytes, linktype: int) -> L2 | None:
    """The link header of a captured frame (Ethernet with 802.1Q/QinQ tags, Linux cooked v1
    and v2, raw IP), or None for anything else or too short."""
    found = network(data, linktype)
    if found is None:
        return None
    etype, off = found
    if linktype == LINKTYPE_ETHERNET:
        return L2(data[0:6].hex(":"), data[6:12].hex(":"), etype, off)
    return L2(None, None, etype, off)


def network(data: bytes, linktype: int) -> tuple[int, int] | None:
    """``link``'s ethertype and offset alone, without the MACs' text (a VXLAN datagram's
    outer MACs are not evidence)."""
    if linktype == LINKTYPE_ETHERNET:
        if len(data) < 14:
            return None
        off = 12
        etype = (data[12] << 8) | data[13]
        while etype in _VLAN_TAGS and len(data) >= off + 6:
            off += 4
            etype = (data[off] << 8) | data[off + 1]
        return etype, off + 2
    if linktype in LINKTYPE_RAW or linktype == LINKTYPE_IPV6:
        if not data:
            return None
        return ETH_P_IPV6 if data[0] >> 4 == 6 else ETH_P_IP, 0
    if linktype == LINKTYPE_SLL and len(data) >= 16:
        return (data[14] << 8) | data[15], 16
    if linktype == LINKTYPE_SLL2 and len(data) >= 20:
        return (data[0] << 8) | data[1], 20
    return None


@dataclass(slots=True)  # not frozen: built once per packet, and a frozen init costs double
class Ip:
    """An IPv4 or IPv6 header's fields the diagnosis uses.  ``frag`` is IPv4's fragment field
    without DF (offset and MF; 0: not a fragment); ``off`` is where the header begins,
    ``start`` where the payload begins and ``end`` where the packet ends (within the captured
    bytes); ``total`` the packet's length as its header says."""

    version: int
    src: str
    dst: str
    proto: int
    ttl: int
    ident: int
    df: bool
    frag: int
    total: int
    off: int
    start: int
    end: int
    header_ok: bool

    @property
    def fragment(self) -> bool:
        return self.frag != 0


_IPV4 = struct.Struct("!BxHHHBBxx4s4s")
_ips = IP_TEXTS.get  # the shared address caches: captures repeat a few addresses


def ip(data: bytes, off: int, verify: bool = True) -> Ip | None:
    """The IPv4 header (its checksum verified unless ``verify`` is False: then ``header_ok``
    is True) or IPv6 header (no extension headers followed) at ``off``."""
    if len(data) < off + 20:
        return None
    version = data[off] >> 4
    if version == 4:
        vihl, total, ident, ffo, ttl, proto, src, dst = _IPV4.unpack_from(data, off)
        ihl = (vihl & 0x0F) * 4
        if ihl < 20 or len(data) < off + ihl:
            return None
        ok = not verify or internet_checksum(data[off:off + ihl]) == 0
        return Ip(4, _ips(src) or ip_text(src), _ips(dst) or ip_text(dst), proto, ttl,
                  ident, bool(ffo & 0x4000), ffo & 0x3FFF, total, off, off + ihl,
                  min(len(data), off + max(total, ihl)), ok)
    if version == 6 and len(data) >= off + 40:
        plen = (data[off + 4] << 8) | data[off + 5]
        return Ip(6, ip6_text(data[off + 8:off + 24]), ip6_text(data[off + 24:off + 40]),
                  data[off + 6], data[off + 7], 0, True, 0, 40 + plen, off, off + 40,
                  min(len(data), off + 40 + plen), True)
    return None


def u16(data: bytes, off: int) -> int:
    return (data[off] << 8) | data[off + 1]


def transport_ok(data: bytes, hdr: Ip) -> bool | None:
    """Whether a complete, unfragmented TCP or UDP segment's checksum verifies (IPv4 or
    IPv6); None when it cannot be told (a fragment, cut short by the snap length, UDP over
    IPv4 without a checksum)."""
    if hdr.fragment or hdr.proto not in (6, 17):
        return None
    length = hdr.total - (hdr.start - hdr.off)
    if length < (8 if hdr.proto == 17 else 20) or hdr.end - hdr.start < length:
        return None
    seg = data[hdr.start:hdr.start + length]
    if hdr.proto == 17 and u16(seg, 6) == 0 and hdr.version == 4:
        return None
    if hdr.version == 4:
        pseudo = ones_complement_sum(data[hdr.off + 12:hdr.off + 20] + bytes((0, hdr.proto))
                                     + length.to_bytes(2, "big"))
    else:
        pseudo = ones_complement_sum(data[hdr.off + 8:hdr.off + 40] + length.to_bytes(4, "big")
                                     + bytes((0, 0, 0, hdr.proto)))
    return internet_checksum(seg, pseudo) == 0
