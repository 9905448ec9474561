"""Builders: one function per layer that returns a :class:`Layer` with every field defaulted.

Lengths, checksums and next-protocol fields default to ``None``, which ``encode`` fills in::

    from vxlankit import build, encode
    frame = encode([
        build.eth(src="02:42:ac:1f:01:0a", dst="02:42:c0:a8:01:0a"),
        build.ipv4(src="172.31.1.10", dst="192.168.1.10", df=True),
        build.udp(sport=51234, dport=4789, checksum=0),
        build.vxlan(vni=4096),
        build.eth(src="02:42:0a:00:00:03", dst="02:42:0a:00:00:04"),
        build.ipv4(src="10.0.0.3", dst="10.0.0.4"),
        build.icmp_echo(ident=1, seq=1),
        build.payload(b"x" * 56),
    ])
"""

from __future__ import annotations

from typing import Any

from vxlankit.addr import ZERO_MAC, ip6_bytes
from vxlankit.layers import arp as _arp
from vxlankit.layers import icmp as _icmp
from vxlankit.layers import ipv4 as _ipv4
from vxlankit.layers import ipv6 as _ipv6
from vxlankit.layers import vxlan as _vxlan
from vxlankit.layers._common import as_bytes
from vxlankit.packet import Layer


def eth(dst: str = "ff:ff:ff:ff:ff:ff", src: str = ZERO_MAC, type: int | None = None) -> Layer:
    return Layer("eth", {"eth.dst": dst, "eth.src": src, "eth.type": type})


def vlan(id: int = 1, priority: int = 0, dei: int = 0, etype: int | None = None,
         service: bool = False) -> Layer:
    """An 802.1Q C-tag, or with ``service=True`` an 802.1ad S-tag (QinQ outer tag)."""
    proto = "ieee8021ad" if service else "vlan"
    return Layer(proto, {f"{proto}.priority": priority, f"{proto}.dei": dei, f"{proto}.id": id,
                         f"{proto}.etype": etype})


def arp(opcode: int = _arp.OP_REQUEST, sender_mac: str = ZERO_MAC, sender_ip: str = "0.0.0.0",
        target_mac: str = ZERO_MAC, target_ip: str = "0.0.0.0") -> Layer:
    """An Ethernet/IPv4 ARP message."""
    return Layer("arp", {
        "arp.hw.type": _arp.HW_ETHERNET, "arp.proto.type": _arp.PROTO_IPV4,
        "arp.hw.size": 6, "arp.proto.size": 4, "arp.opcode": opcode,
        "arp.src.hw_mac": sender_mac, "arp.src.proto_ipv4": sender_ip,
        "arp.dst.hw_mac": target_mac, "arp.dst.proto_ipv4": target_ip,
    })


def ipv4(src: str = "0.0.0.0", dst: str = "0.0.0.0", *, ttl: int = 64, id: int = 0,
         df: bool = False, mf: bool = False, frag_offset: int = 0, dscp: int = 0, ecn: int = 0,
         proto: int | None = None, options: bytes = b"", length: int | None = None,
         checksum: int | None = None) -> Layer:
    flags = (0x02 if df else 0) | (0x01 if mf else 0)
    fields: dict[str, Any] = {
        "ip.version": 4, "ip.hdr_len": None, "ip.dsfield": (dscp << 2) | ecn,
        "ip.len": length, "ip.id": id, "ip.flags": flags, "ip.frag_offset": frag_offset,
        "ip.ttl": ttl, "ip.proto": proto, "ip.checksum": checksum,
        "ip.src": src, "ip.dst": dst, "ip.options": options,
    }
    _ipv4.derive(fields)
    return Layer("ip", fields)


def udp(sport: int = 0, dport: int = 4789, *, length: int | None = None,
        checksum: int | None = None) -> Layer:
    """``checksum=None`` computes it; ``checksum=0`` sends none (what VTEPs do)."""
    return Layer("udp", {"udp.srcport": sport, "udp.dstport": dport, "udp.length": length,
                         "udp.checksum": checksum})


def vxlan(vni: int = 0, *, flags: int = _vxlan.FLAG_I, gbp: int = 0, reserved8: int = 0) -> Layer:
    """RFC 7348 VXLAN; set ``flags`` with ``FLAG_G``/``FLAG_D``/``FLAG_A`` and ``gbp`` for GBP."""
    fields: dict[str, Any] = {"vxlan.flags": flags, "vxlan.gbp": gbp, "vxlan.vni": vni,
                              "vxlan.reserved8": reserved8}
    _vxlan.derive(fields)
    return Layer("vxlan", fields)


def vxlan_gbp(vni: int = 0, group: int = 0, *, dont_learn: bool = False,
              policy_applied: bool = False) -> Layer:
    flags = _vxlan.FLAG_G | _vxlan.FLAG_I
    flags |= _vxlan.FLAG_D if dont_learn else 0
    flags |= _vxlan.FLAG_A if policy_applied else 0
    return vxlan(vni, flags=flags, gbp=group)


def vxlan_gpe(vni: int = 0, *, next_proto: int | None = None,
              flags: int = _vxlan.GPE_FLAG_I | _vxlan.GPE_FLAG_P, reserved16: int = 0,
              reserved8: int = 0) -> Layer:
    fields: dict[str, Any] = {"vxlan.flags": flags, "vxlan.reserved_16": reserved16,
                              "vxlan.next_proto": next_proto, "vxlan.vni": vni,
                              "vxlan.reserved8": reserved8}
    _vxlan.derive_gpe(fields)
    return Layer("vxlan", fields)


def icmp_echo(ident: int = 0, seq: int = 0, *, reply: bool = False,
              checksum: int | None = None) -> Layer:
    return Layer("icmp", {"icmp.type": _icmp.ECHO_REPLY if reply else _icmp.ECHO_REQUEST,
                          "icmp.code": 0, "icmp.checksum": checksum, "icmp.ident": ident,
                          "icmp.seq": seq})


def icmp(type: int, code: int = 0, rest: bytes = b"\x00\x00\x00\x00",
         checksum: int | None = None) -> Layer:
    """Any non-echo ICMP message (its rest-of-header as 4 bytes); the data is a payload layer."""
    name = "icmp.unused" if type in (3, 4, 11) else "icmp.rest"
    return Layer("icmp", {"icmp.type": type, "icmp.code": code, "icmp.checksum": checksum,
                          name: rest})


def payload(data: bytes) -> Layer:
    raw = as_bytes(data, "data.data")
    return Layer("data", {"data.data": raw, "data.len": len(raw)})


def padding(data: bytes) -> Layer:
    """Ethernet padding/trailer bytes after the L3 payload."""
    return Layer("trailer", {"eth.padding": as_bytes(data, "eth.padding")})


def ipv6(src: str = "::", dst: str = "::", *, hlim: int = 64, tclass: int = 0, flow: int = 0,
         nxt: int | None = None, plen: int | None = None) -> Layer:
    """An IPv6 header: ``nxt`` and ``plen`` left ``None`` are filled in by ``encode``."""
    fields: dict[str, Any] = {
        "ipv6.version": 6, "ipv6.tclass": tclass, "ipv6.flow": flow, "ipv6.plen": plen,
        "ipv6.nxt": nxt, "ipv6.hlim": hlim, "ipv6.src": src, "ipv6.dst": dst}
    _ipv6.derive(fields)
    return Layer("ipv6", fields)


def ipv6_options(options: bytes = b"\x01\x04\x00\x00\x00\x00", *, hop_by_hop: bool = True,
                 nxt: int | None = None) -> Layer:
    """A Hop-by-Hop (or, ``hop_by_hop=False``, Destination) Options header; ``options`` make
    it a multiple of 8 bytes with its first 2 (default: one PadN of 4)."""
    p = "ipv6.hopopts" if hop_by_hop else "ipv6.dstopts"
    return Layer(p, {f"{p}.nxt": nxt, f"{p}.len": None, f"{p}.options": options})


def ipv6_routing(addresses: list[str], *, segleft: int | None = None, type: int = 0,
                 nxt: int | None = None) -> Layer:
    """A routing header listing ``addresses`` (type 0 layout: 4 reserved bytes, then the
    addresses; with type 4, SRH: the segment list, last segment first)."""
    data = bytes(4) + b"".join(ip6_bytes(a) for a in addresses)
    return Layer("ipv6.routing", {
        "ipv6.routing.nxt": nxt, "ipv6.routing.len": None, "ipv6.routing.type": type,
        "ipv6.routing.segleft": len(addresses) if segleft is None else segleft,
        "ipv6.routing.data": data})


def ipv6_fragment(ident: int = 0, *, offset: int = 0, more: bool = False,
                  nxt: int | None = None) -> Layer:
    """A Fragment header; ``offset`` in 8-byte units."""
    return Layer("ipv6.fraghdr", {
        "ipv6.fraghdr.nxt": nxt, "ipv6.fraghdr.reserved_octet": 0, "ipv6.fraghdr.offset": offset,
        "ipv6.fraghdr.reserved_bits": 0, "ipv6.fraghdr.more": int(more),
        "ipv6.fraghdr.ident": ident})
