"""Hypothesis strategies for the codec: one field-dict strategy per layer header, and whole
frames (a list of :class:`~vxlankit.packet.Layer` plus the pcap link type to decode it with).

Field dicts hold every field the layer's fast ``decode`` returns (authoritative fields and the
views derived from them), so ``layer.encode(f)`` -> ``layer.decode`` gives ``f`` back.

Frames are built with :mod:`vxlankit.build` and leave lengths as ``None`` (``encode`` fills them
in); checksums are ``None`` (computed), an explicit random value, or for UDP over IPv4 0
("none").  The network layer is IPv4, or (a quarter of the time, and always on a raw IPv6
link) IPv6 with some extension headers, outer and inner.  A test compares the decoded frame
with the generated one on the fields the strategy set.
"""

from __future__ import annotations

import functools
import socket
import struct
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from vxlankit import build, encode
from vxlankit.layers import arp as arp_layer
from vxlankit.layers import dns as dns_layer
from vxlankit.layers import erspan as erspan_layer
from vxlankit.layers import geneve as geneve_layer
from vxlankit.layers import gre as gre_layer
from vxlankit.layers import ipv4 as ipv4_layer
from vxlankit.layers import ipv6 as ipv6_layer
from vxlankit.layers import nsh as nsh_layer
from vxlankit.layers import vxlan as vxlan_layer
from vxlankit.packet import Layer


@functools.cache
def exactly(size: int) -> st.SearchStrategy[bytes]:
    """``size`` random bytes (strategies are cached: building one per draw is slow)."""
    return st.binary(min_size=size, max_size=size)


@functools.cache
def ints(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


u8 = ints(0, 0xFF)
u16 = ints(0, 0xFFFF)
u24 = ints(0, 0xFFFFFF)
u32 = ints(0, 0xFFFFFFFF)
macs = exactly(6).map(lambda b: b.hex(":"))
ipv4s = exactly(4).map(socket.inet_ntoa)
ipv6s = st.one_of(
    exactly(16),
    # Shapes RFC 5952 text treats specially: runs of zero groups, IPv4-mapped/compatible.
    st.tuples(exactly(2), ints(0, 14), exactly(2)).map(lambda t: (t[0] + bytes(t[1]) + t[2]
                                                                  + bytes(16))[:16]),
    exactly(4).map(lambda b: bytes(10) + b"\xff\xff" + b),
    exactly(4).map(lambda b: bytes(12) + b),
).map(lambda b: socket.inet_ntop(socket.AF_INET6, b))
booleans = st.booleans()

# --------------------------------------------------------------------------- per-layer fields


@st.composite
def eth_fields(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = {"eth.dst": draw(macs), "eth.src": draw(macs)}
    if draw(booleans):
        fields["eth.type"] = draw(ints(0x0600, 0xFFFF))
    else:
        fields["eth.len"] = draw(ints(0, 0x05FF))
    return fields


def vlan_fields(proto: str = "vlan") -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({
        f"{proto}.priority": ints(0, 7),
        f"{proto}.dei": ints(0, 1),
        f"{proto}.id": ints(0, 0x0FFF),
        f"{proto}.etype": u16,
    })


@st.composite
def arp_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Ethernet/IPv4 ARP, or any other address sizes (kept as bytes)."""
    if draw(booleans):
        return {
            "arp.hw.type": draw(st.sampled_from([arp_layer.HW_ETHERNET, arp_layer.HW_IEEE802])),
            "arp.proto.type": arp_layer.PROTO_IPV4,
            "arp.hw.size": 6,
            "arp.proto.size": 4,
            "arp.opcode": draw(u16),
            "arp.src.hw_mac": draw(macs),
            "arp.src.proto_ipv4": draw(ipv4s),
            "arp.dst.hw_mac": draw(macs),
            "arp.dst.proto_ipv4": draw(ipv4s),
        }
    htype = draw(st.one_of(st.sampled_from([1, 6, 32]), u16))
    ptype = draw(st.one_of(st.just(0x0800), u16))
    hlen = draw(ints(0, 20))
    plen = draw(ints(0, 20))
    fields: dict[str, Any] = {
        "arp.hw.type": htype, "arp.proto.type": ptype, "arp.hw.size": hlen,
        "arp.proto.size": plen, "arp.opcode": draw(u16),
    }
    ether = arp_layer.is_ether(htype, hlen)
    ipv4 = arp_layer.is_ipv4(ptype, plen)
    for prefix in ("src", "dst"):
        if ether:
            fields[f"arp.{prefix}.hw_mac"] = draw(macs)
        else:
            fields[f"arp.{prefix}.hw"] = draw(exactly(hlen))
        if ipv4:
            fields[f"arp.{prefix}.proto_ipv4"] = draw(ipv4s)
        else:
            fields[f"arp.{prefix}.proto"] = draw(exactly(plen))
    return fields


@st.composite
def ipv4_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Any header the layer can write: every version, 0-40 bytes of options."""
    options = draw(ints(0, 10).flatmap(
        lambda words: exactly(4 * words)))
    fields: dict[str, Any] = {
        "ip.version": draw(ints(0, 15)),
        "ip.hdr_len": 20 + len(options),
        "ip.dsfield": draw(u8),
        "ip.len": draw(u16),
        "ip.id": draw(u16),
        "ip.flags": draw(ints(0, 7)),
        "ip.frag_offset": draw(ints(0, 0x1FFF)),
        "ip.ttl": draw(u8),
        "ip.proto": draw(u8),
        "ip.checksum": draw(u16),
        "ip.src": draw(ipv4s),
        "ip.dst": draw(ipv4s),
        "ip.options": options,
    }
    ipv4_layer.derive(fields)
    return fields


@st.composite
def ipv6_fields(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ipv6.version": draw(ints(0, 15)), "ipv6.tclass": draw(u8),
        "ipv6.flow": draw(ints(0, 0xFFFFF)), "ipv6.plen": draw(u16), "ipv6.nxt": draw(u8),
        "ipv6.hlim": draw(u8), "ipv6.src": draw(ipv6s), "ipv6.dst": draw(ipv6s)}
    ipv6_layer.derive(fields)
    return fields


@st.composite
def ipv6_options_fields(draw: st.DrawFn, proto: str) -> dict[str, Any]:
    units = draw(ints(0, 4))
    return {f"{proto}.nxt": draw(u8), f"{proto}.len": units, f"{proto}.len_oct": 8 * units + 8,
            f"{proto}.options": draw(exactly(8 * units + 6))}


@st.composite
def ipv6_routing_fields(draw: st.DrawFn) -> dict[str, Any]:
    units = draw(ints(0, 6))
    return {"ipv6.routing.nxt": draw(u8), "ipv6.routing.len": units,
            "ipv6.routing.len_oct": 8 * units + 8, "ipv6.routing.type": draw(u8),
            "ipv6.routing.segleft": draw(u8), "ipv6.routing.data": draw(exactly(8 * units + 4))}


@st.composite
def ipv6_fraghdr_fields(draw: st.DrawFn) -> dict[str, Any]:
    return {"ipv6.fraghdr.nxt": draw(u8), "ipv6.fraghdr.reserved_octet": draw(u8),
            "ipv6.fraghdr.offset": draw(ints(0, 0x1FFF)),
            "ipv6.fraghdr.reserved_bits": draw(ints(0, 3)), "ipv6.fraghdr.more": draw(ints(0, 1)),
            "ipv6.fraghdr.ident": draw(u32)}


@st.composite
def ah_fields(draw: st.DrawFn) -> dict[str, Any]:
    length = draw(ints(1, 8))
    return {"ah.next_header": draw(u8), "ah.length": length, "ah.reserved": draw(exactly(2)),
            "ah.spi": draw(u32), "ah.sequence": draw(u32),
            "ah.icv": draw(exactly((length + 2) * 4 - 12))}


esp_fields = st.fixed_dictionaries({"esp.spi": u32, "esp.sequence": u32})


@st.composite
def icmp_fields(draw: st.DrawFn) -> dict[str, Any]:
    itype = draw(st.one_of(st.sampled_from([0, 3, 4, 5, 8, 11, 13]), u8))
    fields: dict[str, Any] = {"icmp.type": itype, "icmp.code": draw(u8),
                              "icmp.checksum": draw(u16)}
    if itype in (0, 8):
        fields["icmp.ident"] = draw(u16)
        fields["icmp.seq"] = draw(u16)
    else:
        name = "icmp.unused" if itype in (3, 4, 11) else "icmp.rest"
        fields[name] = draw(exactly(4))
    return fields


ipv6s = exactly(16).map(lambda b: socket.inet_ntop(socket.AF_INET6, b))


@st.composite
def _nd_option(draw: st.DrawFn) -> tuple[bytes, dict[str, list[Any]]]:
    """One ND option's bytes and the views it shows, worked out here, not by the decoder."""
    kind = draw(st.sampled_from(["lla", "mtu", "nonce", "prefix", "other"]))
    if kind == "lla":
        otype, mac = draw(st.sampled_from([1, 2])), draw(exactly(6))
        side = "src" if otype == 1 else "target"
        return bytes((otype, 1)) + mac, {
            "icmpv6.opt.type": [otype], "icmpv6.opt.length": [1], "icmpv6.opt.linkaddr": [mac],
            f"icmpv6.opt.{side}_linkaddr": [mac]}
    if kind == "mtu":
        mtu = draw(u32)
        return bytes((5, 1, 0, 0)) + mtu.to_bytes(4, "big"), {
            "icmpv6.opt.type": [5], "icmpv6.opt.length": [1], "icmpv6.opt.mtu": [mtu]}
    if kind == "nonce":
        units = draw(ints(1, 3))
        nonce = draw(exactly(units * 8 - 2))
        return bytes((14, units)) + nonce, {
            "icmpv6.opt.type": [14], "icmpv6.opt.length": [units], "icmpv6.opt.nonce": [nonce]}
    if kind == "prefix":
        plen, flag, valid, preferred = draw(u8), draw(u8), draw(u32), draw(u32)
        prefix = draw(exactly(16))
        return (bytes((3, 4, plen, flag)) + valid.to_bytes(4, "big")
                + preferred.to_bytes(4, "big") + bytes(4) + prefix), {
            "icmpv6.opt.type": [3], "icmpv6.opt.length": [4],
            "icmpv6.opt.prefix.length": [plen], "icmpv6.opt.prefix.flag": [flag],
            "icmpv6.opt.prefix.flag.l": [flag >> 7], "icmpv6.opt.prefix.flag.a": [(flag >> 6) & 1],
            "icmpv6.opt.prefix.flag.r": [(flag >> 5) & 1],
            "icmpv6.opt.prefix.flag.reserved": [flag & 0x1F],
            "icmpv6.opt.prefix.valid_lifetime": [valid],
            "icmpv6.opt.prefix.preferred_lifetime": [preferred],
            "icmpv6.opt.prefix": [socket.inet_ntop(socket.AF_INET6, prefix)]}
    otype = draw(st.sampled_from([9, 10, 99, 200, 253]))
    units = draw(ints(1, 3))
    return bytes((otype, units)) + draw(exactly(units * 8 - 2)), {
        "icmpv6.opt.type": [otype], "icmpv6.opt.length": [units]}


@st.composite
def icmpv6_fields(draw: st.DrawFn) -> dict[str, Any]:
    """An ICMPv6 message's fields: echo, errors, ND (with options and their views), MLDv1, or
    another type with data."""
    itype = draw(st.sampled_from([1, 2, 3, 4, 128, 129, 131, 133, 134, 135, 136, 137, 143])
                 | u8.filter(lambda t: t not in (130, 143) and not 1 <= t <= 4
                             and not 128 <= t <= 137))
    f: dict[str, Any] = {"icmpv6.type": itype, "icmpv6.code": draw(u8),
                         "icmpv6.checksum": draw(u16)}
    if itype in (1, 3):
        f["icmpv6.reserved"] = draw(exactly(4))
    elif itype == 2:
        f["icmpv6.mtu"] = draw(u32)
    elif itype == 4:
        f["icmpv6.pointer"] = draw(u32)
    elif itype in (128, 129):
        f["icmpv6.echo.identifier"] = draw(u16)
        f["icmpv6.echo.sequence_number"] = draw(u16)
    elif itype == 131:
        f["icmpv6.mld.maximum_response_delay"] = draw(u16)
        f["icmpv6.reserved"] = draw(exactly(2))
        f["icmpv6.mld.multicast_address"] = draw(ipv6s)
    elif itype == 143:
        f["icmpv6.reserved"] = draw(exactly(2))
        f["icmpv6.mldr.nb_mcast_records"] = 0
    elif itype in (133, 134, 135, 136, 137):
        if itype == 134:
            flag = draw(u8)
            f.update({"icmpv6.nd.ra.cur_hop_limit": draw(u8), "icmpv6.nd.ra.flag": flag,
                      "icmpv6.nd.ra.router_lifetime": draw(u16),
                      "icmpv6.nd.ra.reachable_time": draw(u32),
                      "icmpv6.nd.ra.retrans_timer": draw(u32),
                      "icmpv6.nd.ra.flag.m": flag >> 7, "icmpv6.nd.ra.flag.o": (flag >> 6) & 1,
                      "icmpv6.nd.ra.flag.h": (flag >> 5) & 1,
                      "icmpv6.nd.ra.flag.prf": (flag >> 3) & 3,
                      "icmpv6.nd.ra.flag.p": (flag >> 2) & 1, "icmpv6.nd.ra.flag.rsv": flag & 3})
        elif itype == 136:
            flag = draw(u32)
            f.update({"icmpv6.nd.na.flag": flag, "icmpv6.nd.na.target_address": draw(ipv6s),
                      "icmpv6.nd.na.flag.r": flag >> 31, "icmpv6.nd.na.flag.s": (flag >> 30) & 1,
                      "icmpv6.nd.na.flag.o": (flag >> 29) & 1,
                      "icmpv6.nd.na.flag.rsv": flag & 0x1FFFFFFF})
        else:
            f["icmpv6.reserved"] = draw(exactly(4))
            if itype == 135:
                f["icmpv6.nd.ns.target_address"] = draw(ipv6s)
            elif itype == 137:
                f["icmpv6.nd.rd.target_address"] = draw(ipv6s)
                f["icmpv6.rd.na.destination_address"] = draw(ipv6s)
        opts = b""
        for raw, views in draw(st.lists(_nd_option(), max_size=4)):
            opts += raw
            for name, values in views.items():
                f.setdefault(name, []).extend(values)
        if opts:
            f["icmpv6.options"] = opts
    else:
        data = draw(st.binary(max_size=24))
        if data:
            f["icmpv6.data"] = data
    return f


udp_fields = st.fixed_dictionaries({
    "udp.srcport": u16, "udp.dstport": u16, "udp.length": u16, "udp.checksum": u16,
})


@st.composite
def vxlan_fields(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = {"vxlan.flags": draw(u16), "vxlan.gbp": draw(u16),
                              "vxlan.vni": draw(u24), "vxlan.reserved8": draw(u8)}
    vxlan_layer.derive(fields)
    return fields


@st.composite
def gpe_fields(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = {"vxlan.flags": draw(u8), "vxlan.reserved_16": draw(u16),
                              "vxlan.next_proto": draw(u8), "vxlan.vni": draw(u24),
                              "vxlan.reserved8": draw(u8)}
    vxlan_layer.derive_gpe(fields)
    return fields


# Not Google's class 0x0132: tshark dissects its options' data under other names (see the
# geneve module).
_GENEVE_CLASSES = st.sampled_from([0x0000, 0x0102, 0x0101, 0x0104, 0xFFF0]) | u16


@st.composite
def geneve_fields(draw: st.DrawFn) -> dict[str, Any]:
    """A Geneve header with 0-4 options (critical or not, some with reserved bits), its
    lengths as the options make them."""
    fields: dict[str, Any] = {
        "geneve.version": draw(st.just(0) | ints(0, 3)), "geneve.flags": draw(u8),
        "geneve.proto_type": draw(st.sampled_from([0x6558, 0x0800, 0x86DD]) | u16),
        "geneve.vni": draw(u24), "geneve.reserved": draw(st.just(0) | u8)}
    count = draw(ints(0, 4))
    data = [draw(ints(0, 4).flatmap(lambda w: exactly(4 * w))) for _ in range(count)]
    fields["geneve.option.length"] = [sum(4 + len(d) for d in data)] + [4 + len(d) for d in data]
    if count:
        fields["geneve.option.class"] = [draw(_GENEVE_CLASSES) for _ in range(count)]
        fields["geneve.option.type"] = [draw(u8) for _ in range(count)]
        fields["geneve.option.flags"] = [draw(st.just(0) | ints(0, 7)) for _ in range(count)]
        fields["geneve.option.unknown.data"] = data
    geneve_layer.derive(fields)
    return fields


@st.composite
def nsh_fields(draw: st.DrawFn, mdtype: int | None = None, zero_pad: bool = False
               ) -> dict[str, Any]:
    """Any NSH header the layer writes: MD type 1 (four context headers), 2 (0-4 TLVs, their
    padding zero or not) or another type (its metadata kept as ``nsh.rest``)."""
    if mdtype is None:
        mdtype = draw(st.sampled_from([1, 2]) | u8)
    fields: dict[str, Any] = {"nsh.version": 0 if zero_pad else draw(ints(0, 3)),
                              "nsh.Obit": draw(ints(0, 1)),
                              "nsh.CBit": draw(ints(0, 1)), "nsh.ttl": draw(ints(0, 63)),
                              "nsh.mdtype": mdtype, "nsh.nextproto": draw(u8),
                              "nsh.spi": draw(u24), "nsh.si": draw(u8)}
    size = 0
    if mdtype == 1:
        fields["nsh.contextheader"] = draw(st.lists(exactly(4), min_size=4, max_size=4))
        size = 16
    elif mdtype == 2:
        tlvs = draw(st.lists(st.tuples(u16, u8, ints(0, 1), st.binary(max_size=12)),
                             max_size=4))
        pads = [bytes(-len(t[3]) % 4) if zero_pad or draw(booleans)
                else draw(exactly(-len(t[3]) % 4)) for t in tlvs]
        if tlvs:
            fields["nsh.metadataclass"] = [t[0] for t in tlvs]
            fields["nsh.metadatatype"] = [t[1] for t in tlvs]
            fields["nsh.metadataunassignedbit"] = [t[2] for t in tlvs]
            fields["nsh.metadatalen"] = [len(t[3]) for t in tlvs]
            if any(t[3] for t in tlvs):  # a value for each TLV that has one
                fields["nsh.metadata"] = [t[3] for t in tlvs if t[3]]
            if any(any(pad) for pad in pads):
                fields["nsh.metadata_pad"] = pads
        size = sum(4 + len(t[3]) + len(pad) for t, pad in zip(tlvs, pads, strict=True))
    else:
        rest = draw(ints(0, 4).flatmap(lambda w: exactly(4 * w)))
        if rest:
            fields["nsh.rest"] = rest
        size = len(rest)
    fields["nsh.length"] = 2 + size // 4
    return dict(sorted(fields.items(), key=lambda item: _NSH_ORDER[item[0]]))


_NSH_ORDER = {f.name: i for i, f in enumerate(nsh_layer.SPEC.fields)}


@st.composite
def dns_fields(draw: st.DrawFn, tcp: bool = False) -> dict[str, Any]:
    """A DNS header with any flags and counts, and any bytes as its sections (what the
    layer's header codec reads; the sections' views are tested on whole messages)."""
    head = draw(exactly(12))
    sections = draw(st.binary(max_size=40))
    if tcp:
        wire = (12 + len(sections)).to_bytes(2, "big") + head + sections
        return dns_layer.decode_tcp(wire, 0)
    return dns_layer.decode(head + sections, 0)


_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)
_DNS_NAME = st.lists(_LABEL, min_size=1, max_size=4)


def _dns_name(labels: list[str]) -> bytes:
    return b"".join(bytes([len(label)]) + label.encode() for label in labels) + b"\0"


@st.composite
def dns_message(draw: st.DrawFn, mdns: bool = False) -> Layer:
    """A well-formed DNS (or mDNS) message, its sections written here, independently of the
    layer: a query, or a response whose records point back at the question's name (offset
    12) as servers compress, with an EDNS OPT record now and then."""
    qname = draw(_DNS_NAME)
    qclass = 1 | (0x8000 if mdns and draw(booleans) else 0)
    response = draw(booleans)
    sections = _dns_name(qname) + struct.pack("!HH", draw(st.sampled_from(
        [1, 2, 5, 6, 12, 15, 16, 28, 255])), qclass)
    ptr = b"\xc0\x0c"
    answers = 0
    if response:
        for _ in range(draw(ints(0, 4))):
            rtype = draw(st.sampled_from([1, 2, 5, 6, 12, 15, 16, 28, 33]))
            if rtype == 1:
                rdata = draw(exactly(4))
            elif rtype == 28:
                rdata = draw(exactly(16))
            elif rtype in (2, 5, 12):
                rdata = _dns_name(draw(_DNS_NAME)[:2])[:-1] + ptr
            elif rtype == 15:
                rdata = struct.pack("!H", draw(u16)) + _dns_name(draw(_DNS_NAME))
            elif rtype == 16:
                rdata = b"".join(bytes([len(t)]) + t.encode() for t in draw(st.lists(
                    _LABEL, min_size=1, max_size=3)))
            elif rtype == 6:
                rdata = (_dns_name(draw(_DNS_NAME)) + ptr
                         + struct.pack("!5I", *(draw(u32) for _ in range(5))))
            else:  # SRV: kept raw
                rdata = struct.pack("!HHH", draw(u16), draw(u16), draw(u16)) + ptr
            rclass = 1 | (0x8000 if mdns and draw(booleans) else 0)
            owner = ptr if draw(ints(0, 3)) else _dns_name(draw(_DNS_NAME))
            sections += owner + struct.pack("!HHIH", rtype, rclass, draw(ints(0, 0x7FFFFFFF)),
                                            len(rdata)) + rdata
            answers += 1
    additional = 0
    if not mdns and draw(ints(0, 3)) == 0:
        sections += b"\0" + struct.pack("!HHIH", 41, draw(st.sampled_from([512, 1232, 4096])),
                                         draw(st.sampled_from([0, 0x8000])), 0)
        additional = 1
    flags = (draw(st.sampled_from([0x8180, 0x8580, 0x8183, 0x8400])) if response
             else draw(st.sampled_from([0x0100, 0x0000, 0x0120])))
    return Layer("mdns" if mdns else "dns", {
        "dns.id": 0 if mdns else draw(u16), "dns.flags": flags, "dns.count.queries": 1,
        "dns.count.answers": answers, "dns.count.auth_rr": 0, "dns.count.add_rr": additional,
        "dns.sections": sections})


@st.composite
def _sll_common(draw: st.DrawFn, halen: int) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    used = min(halen, 8)
    if halen == 6:
        fields["sll.src.eth"] = draw(macs)
    else:
        fields["sll.src.other"] = draw(exactly(used))
    fields["sll.unused"] = draw(exactly(8 - used))
    if draw(booleans):
        fields["sll.etype"] = draw(ints(0x0600, 0xFFFF))
    else:
        fields["sll.ltype"] = draw(ints(0, 0x05FF))
    return fields


@st.composite
def sll_fields(draw: st.DrawFn) -> dict[str, Any]:
    halen = draw(st.one_of(st.just(6), ints(0, 10), u16))
    fields = {"sll.pkttype": draw(u16), "sll.hatype": draw(u16), "sll.halen": halen}
    fields.update(draw(_sll_common(halen)))
    return fields


@st.composite
def sll2_fields(draw: st.DrawFn) -> dict[str, Any]:
    halen = draw(st.one_of(st.just(6), ints(0, 10), u8))
    fields = {"sll.reserved": draw(u16), "sll.ifindex": draw(u32), "sll.hatype": draw(u16),
              "sll.pkttype": draw(u8), "sll.halen": halen}
    fields.update(draw(_sll_common(halen)))
    return fields


@st.composite
def null_fields(draw: st.DrawFn) -> dict[str, Any]:
    """The byte order is inferred on decode from which half of the word is zero, so a
    big-endian family is one that fits in 16 bits and a little-endian one has a non-zero low
    half."""
    if draw(booleans):
        family = draw(u32.filter(lambda v: v & 0xFFFF))
        return {"null.family": family, "null.byte_order": "little"}
    return {"null.family": draw(u16), "null.byte_order": "big"}


# A whole RFC 1701 routing field: SREs, then the NULL SRE that ends it.
_SRE = st.tuples(st.sampled_from([0x0800, 0x0001]) | u16, u8, st.binary(max_size=12)).map(
    lambda t: t[0].to_bytes(2, "big") + bytes((t[1], len(t[2]))) + t[2]).filter(
    lambda b: b[:2] != b"\0\0" or b[3] != 0)
SRE_LISTS = st.lists(_SRE, max_size=2).map(lambda sres: b"".join(sres) + bytes(4))


@st.composite
def gre_fields(draw: st.DrawFn, pptp: bool | None = None) -> dict[str, Any]:
    """Any GRE header as decoded: its flags say which optional fields follow (PPTP's
    enhanced GRE with its split key and acknowledgment number too)."""
    if pptp is None:
        pptp = draw(ints(0, 3)) == 0
    flags = draw(u16)
    if pptp:
        flags = (flags & ~gre_layer.VERSION_MASK) | 1
        proto = gre_layer.PROTO_PPP
    else:
        proto = draw(u16.filter(lambda p: p != gre_layer.PROTO_PPP))
    fields: dict[str, Any] = {"gre.flags_and_version": flags}
    fields.update(gre_layer._views(flags, pptp))
    fields["gre.proto"] = proto
    if flags & (gre_layer.FLAG_C | gre_layer.FLAG_R):
        fields["gre.checksum"] = draw(u16)
        fields["gre.offset"] = draw(u16)
    if flags & gre_layer.FLAG_K:
        if pptp:
            fields["gre.key.payload_length"] = draw(u16)
            fields["gre.key.call_id"] = draw(u16)
        else:
            fields["gre.key"] = draw(u32)
    if flags & gre_layer.FLAG_S:
        fields["gre.sequence_number"] = draw(u32)
    if pptp and flags & gre_layer.FLAG_A:
        fields["gre.ack_number"] = draw(u32)
    if flags & gre_layer.FLAG_R:
        fields["gre.sre_list"] = draw(SRE_LISTS)
    return fields


_PLATFORMS = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 63]) | ints(0, 63)


@st.composite
def erspan_sub_fields(draw: st.DrawFn) -> dict[str, Any]:
    """A type III platform sub-header: the platform's fields, each within its bits."""
    platid = draw(_PLATFORMS)
    fields: dict[str, Any] = {"erspan.platid": platid}
    for name, mask in erspan_layer._LAYOUTS[erspan_layer.layout_of(platid)]:
        width = bin(mask).count("1")
        fields[name] = draw(ints(0, (1 << width) - 1))
    return fields


@st.composite
def erspan_fields(draw: st.DrawFn, version: int | None = None) -> dict[str, Any]:
    """A type II or III header (III with or without its sub-header), or another version's
    first word."""
    if version is None:
        version = draw(st.sampled_from([1, 2, 2]) | ints(0, 15))
    fields: dict[str, Any] = {"erspan.version": version, "erspan.vlan": draw(ints(0, 0xFFF))}
    if version not in (1, 2):
        return fields
    fields["erspan.cos"] = draw(ints(0, 7))
    fields["erspan.encap" if version == 1 else "erspan.bso"] = draw(ints(0, 3))
    fields["erspan.truncated"] = draw(ints(0, 1))
    fields["erspan.spanid"] = draw(ints(0, 0x3FF))
    if version == 1:
        fields["erspan.reserved"] = draw(ints(0, 0xFFF))
        fields["erspan.index"] = draw(ints(0, 0xFFFFF))
        return fields
    sub = draw(booleans)
    fields.update({
        "erspan.timestamp": draw(u32), "erspan.sgt": draw(u16), "erspan.p": draw(ints(0, 1)),
        "erspan.ft": draw(ints(0, 31)), "erspan.hw": draw(ints(0, 63)),
        "erspan.direction": draw(ints(0, 1)), "erspan.gra": draw(ints(0, 3)),
        "erspan.o": int(sub)})
    if sub:
        fields.update(draw(erspan_sub_fields()))
    return fields


# --------------------------------------------------------------------------------- whole frames

LINKS = ("eth", "raw", "raw4", "raw6", "sll", "sll2", "null")
LINKTYPE_OF = {"eth": 1, "raw": 101, "raw4": 228, "raw6": 229, "sll": 113, "sll2": 276,
               "null": 0}
# Stacks on top of the link layer.  Kinds that start with ARP (or 802.3) need an Ethernet-ish
# link: a raw-IP or NULL link can only carry IPv4.
KINDS = ("vxlan-icmp", "vxlan-arp", "gbp", "gpe-eth", "gpe-ip", "vxlan-nested", "geneve-eth",
         "geneve-ip", "icmp", "udp", "tcp", "arp", "eth802.3", "gre-ip", "gre-eth", "erspan",
         "gpe-nsh", "dns")
IP_KINDS = ("vxlan-icmp", "vxlan-arp", "gbp", "gpe-eth", "gpe-ip", "vxlan-nested", "geneve-eth",
            "geneve-ip", "icmp", "udp", "tcp", "gre-ip", "gre-eth", "erspan", "gpe-nsh", "dns")
MIN_FRAME = 60


@dataclass
class Frame:
    """Layers to encode, the link type to decode them with, and what the strategy chose."""

    layers: list[Layer]
    linktype: int
    kind: str
    link: str

    def __repr__(self) -> str:
        stack = "/".join(layer.proto for layer in self.layers)
        return f"Frame({self.link}:{self.kind} {stack} {[lay.fields for lay in self.layers]!r})"


_CHECKSUM = st.none() | u16
_UDP_CHECKSUM = st.none() | u16 | st.just(0)
_IP_OPTIONS = st.sampled_from([b"", b"\x94\x04\x00\x00", b"\x01\x01\x01\x00"]) | ints(
    1, 3).flatmap(lambda w: exactly(4 * w))
_ICMP_OTHER_TYPES = st.sampled_from([3, 4, 5, 11, 12, 13, 42]) | u8.filter(
    lambda t: t not in (0, 8))
_ICMP_DATA = st.binary(max_size=64)
_UDP_DATA = st.binary(min_size=1, max_size=64)
_OPCODES = st.sampled_from([1, 2]) | u16
# Ports no layer is dissected on (a random one would hand random bytes to a tunnel or DNS).
_NOT_TUNNEL_PORTS = u16.filter(lambda p: p not in (4789, 4790, 6081, 8472, 53, 5353))
_TRAILER = st.binary(min_size=1, max_size=8)


def _checksum(draw: st.DrawFn, zero_ok: bool = False) -> int | None:
    return draw(_UDP_CHECKSUM if zero_ok else _CHECKSUM)


@st.composite
def ip_layer(draw: st.DrawFn) -> Layer:
    """A first (or only) fragment: later fragments are not dissected past IP."""
    options = draw(_IP_OPTIONS)
    return build.ipv4(
        src=draw(ipv4s), dst=draw(ipv4s), ttl=draw(u8), id=draw(u16), df=draw(booleans),
        dscp=draw(ints(0, 63)), ecn=draw(ints(0, 3)), options=options,
        checksum=_checksum(draw),
    )


_V6_OPTIONS = st.sampled_from([b"\x01\x04\x00\x00\x00\x00", b"\x05\x02\x00\x00\x01\x00",
                               b"\x00" * 6, b"\x01\x0c" + bytes(12)])
_HLIMS = st.sampled_from([1, 64, 255]) | u8


@st.composite
def ipv6_layers(draw: st.DrawFn) -> list[Layer]:
    """An IPv6 header and, sometimes, extension headers: hop-by-hop (first), a type 0
    routing header (segments left or not: the pseudo-header then names its last address),
    destination options.  No fragment header: its payload is not whole (checked elsewhere)."""
    layers = [build.ipv6(src=draw(ipv6s), dst=draw(ipv6s), hlim=draw(_HLIMS),
                         tclass=draw(u8), flow=draw(ints(0, 0xFFFFF)))]
    if draw(ints(0, 3)) == 0:
        layers.append(build.ipv6_options(draw(_V6_OPTIONS)))
    if draw(ints(0, 5)) == 0:
        route = draw(st.lists(ipv6s, min_size=1, max_size=2))
        layers.append(build.ipv6_routing(route, segleft=draw(ints(0, len(route)))))
    if draw(ints(0, 4)) == 0:
        layers.append(build.ipv6_options(draw(_V6_OPTIONS), hop_by_hop=False))
    return layers


def is_ipv6(layers: list[Layer]) -> bool:
    return layers[0].proto == "ipv6"


@st.composite
def icmp_layers(draw: st.DrawFn) -> list[Layer]:
    """ICMP echo or another type, and its data (no ``data`` layer when there is none)."""
    if draw(booleans):
        icmp = build.icmp_echo(ident=draw(u16), seq=draw(u16), reply=draw(booleans),
                               checksum=_checksum(draw))
    else:
        itype = draw(_ICMP_OTHER_TYPES)
        icmp = build.icmp(itype, code=draw(u8), rest=draw(exactly(4)),
                          checksum=_checksum(draw))
    data = draw(_ICMP_DATA)
    return [icmp, build.payload(data)] if data else [icmp]


@st.composite
def arp_layer_(draw: st.DrawFn) -> Layer:
    if draw(ints(0, 3)):
        return build.arp(opcode=draw(_OPCODES), sender_mac=draw(macs),
                         sender_ip=draw(ipv4s), target_mac=draw(macs), target_ip=draw(ipv4s))
    fields = draw(_ARP_FIELDS)
    # Sizes left to encode, which derives them from the addresses.
    fields["arp.hw.size"] = None
    fields["arp.proto.size"] = None
    return Layer("arp", fields)


_TCP_OPTIONS = st.sampled_from([
    b"", bytes.fromhex("020405b4"), bytes.fromhex("020405b40402080ab341f4db0000000001030307"),
    bytes.fromhex("0101080a00000001000000020101050a0000000100000002")]) | ints(1, 10).flatmap(
    lambda w: exactly(4 * w))


@st.composite
def tcp_layers(draw: st.DrawFn) -> list[Layer]:
    """A TCP header (options well-formed or not) and its payload (none, or some bytes)."""
    fields = {"tcp.srcport": draw(_NOT_TUNNEL_PORTS), "tcp.dstport": draw(_NOT_TUNNEL_PORTS),
              "tcp.seq_raw": draw(u32),
              "tcp.ack_raw": draw(u32), "tcp.hdr_len": None,
              "tcp.flags": draw(st.sampled_from([0x002, 0x012, 0x010, 0x018, 0x011, 0x004])
                                | ints(0, 0xFFF)),
              "tcp.window_size_value": draw(u16), "tcp.checksum": _checksum(draw),
              "tcp.urgent_pointer": draw(u16)}
    options = draw(_TCP_OPTIONS)
    if options:  # as decoded: no tcp.options field when there are none (as in Wireshark)
        fields["tcp.options"] = options
    data = draw(_UDP_DATA) if draw(booleans) else b""
    return [Layer("tcp", fields), build.payload(data)] if data else [Layer("tcp", fields)]


@functools.cache
@st.composite
def vlan_tags(draw: st.DrawFn, max_tags: int = 3) -> list[Layer]:
    """0..max_tags stacked tags; the outermost may be an 802.1ad S-tag."""
    count = draw(ints(0, max_tags))
    tags = []
    for i in range(count):
        service = i == 0 and draw(booleans)
        tags.append(build.vlan(id=draw(ints(0, 0x0FFF)), priority=draw(ints(0, 7)),
                               dei=draw(ints(0, 1)), service=service))
    return tags


_ARP_FIELDS = arp_fields()
# What tshark reads as this layer does: version 0, MD type 1 or 2, TLV padding zero.
_NSH_FRAME_FIELDS = nsh_fields(mdtype=1, zero_pad=True) | nsh_fields(mdtype=2, zero_pad=True)
_IP_LAYER = ip_layer()
_IPV6_LAYERS = ipv6_layers()
# A network layer (with its extension headers): IPv4 mostly, IPv6 a quarter of the time.
_NET_LAYERS = st.one_of(_IP_LAYER.map(lambda ip: [ip]), _IP_LAYER.map(lambda ip: [ip]),
                        _IP_LAYER.map(lambda ip: [ip]), _IPV6_LAYERS)
_TCP_LAYERS = tcp_layers()
_ICMP_LAYERS = icmp_layers()
_ARP_LAYER = arp_layer_()


def _frame_len(layers: list[Layer]) -> int:
    return len(encode([Layer(lay.proto, dict(lay.fields), raw=lay.raw) for lay in layers]))


@functools.cache
@st.composite
def ethernet_frame(draw: st.DrawFn, payload: str, max_tags: int = 3, depth: int = 0) -> list[Layer]:
    """Ethernet (+tags) carrying ``payload`` ("icmp", "arp", "udp" or "vxlan"), then, when it
    is shorter than 60 bytes (or by choice), padding and trailer bytes after the payload.

    Padding is sized so that the decoder names it exactly as generated: ``eth.padding`` up to
    the 60-byte minimum frame, ``eth.trailer`` past it."""
    eth = build.eth(dst=draw(macs), src=draw(macs))
    if draw(ints(0, 4)) == 0:
        eth.fields["eth.type"] = None
    layers = [eth, *draw(vlan_tags(max_tags))]
    if len(layers) > 1 and layers[1].proto == "ieee8021ad" and draw(booleans):
        eth.fields["eth.type"] = 0x9100  # the pre-standard QinQ TPID
    layers += draw(l3(payload, depth))
    size = _frame_len(layers)
    trailer: dict[str, Any] = {}
    if size < MIN_FRAME:
        trailer["eth.padding"] = draw(exactly(MIN_FRAME - size))
    if draw(ints(0, 3)) == 0:
        trailer["eth.trailer"] = draw(_TRAILER)
    if trailer:
        layers.append(Layer("trailer", trailer))
    return layers


@functools.cache
@st.composite
def vxlan_header(draw: st.DrawFn, gbp: bool | None = None) -> Layer:
    if gbp is None:
        gbp = draw(booleans)
    if gbp:
        return build.vxlan_gbp(vni=draw(u24), group=draw(u16), dont_learn=draw(booleans),
                               policy_applied=draw(booleans))
    if draw(ints(0, 3)):
        return build.vxlan(vni=draw(u24))
    # Anything, the I flag and reserved bits included: decoded, noted, re-encoded.
    return build.vxlan(vni=draw(u24), flags=draw(u16), gbp=draw(u16), reserved8=draw(u8))


@st.composite
def gre_header(draw: st.DrawFn, proto: int | None = None, seq: bool | None = None) -> Layer:
    """A GRE header as a sender would build it: optional checksum (computed, or any value),
    key, sequence number, now and then an RFC 1701 routing field; the protocol type left to
    encode (from the next layer) unless given."""
    routing = draw(ints(0, 7)) == 0
    checksum = draw(booleans)
    key = draw(booleans)
    if seq is None:
        seq = draw(booleans)
    flags = ((gre_layer.FLAG_C if checksum else 0) | (gre_layer.FLAG_R if routing else 0)
             | (gre_layer.FLAG_K if key else 0) | (gre_layer.FLAG_S if seq else 0)
             | draw(st.sampled_from([0, 0x0800, 0x0700, 0x0100])))
    fields: dict[str, Any] = {"gre.flags_and_version": flags}
    fields.update(gre_layer._views(flags, False))
    fields["gre.proto"] = proto
    if checksum or routing:
        fields["gre.checksum"] = _checksum(draw) if checksum else draw(u16)
        fields["gre.offset"] = draw(u16) if routing else 0
    if key:
        fields["gre.key"] = draw(u32)
    if seq:
        fields["gre.sequence_number"] = draw(u32)
    if routing:
        fields["gre.sre_list"] = draw(SRE_LISTS)
    return Layer("gre", fields)


@st.composite
def erspan_stack(draw: st.DrawFn, depth: int) -> list[Layer]:
    """GRE and ERSPAN of type I, II or III (Ethernet inside), and the mirrored frame."""
    kind = draw(st.sampled_from([1, 2, 3]))
    if kind == 1:
        head = [draw(gre_header(gre_layer.PROTO_ERSPAN, seq=False)), Layer("erspan", {})]
    elif kind == 2:
        head = [draw(gre_header(gre_layer.PROTO_ERSPAN, seq=True)),
                Layer("erspan", draw(erspan_fields(1)))]
    else:
        fields = draw(erspan_fields(2))
        fields["erspan.ft"] = erspan_layer.FT_ETHERNET
        head = [draw(gre_header(gre_layer.PROTO_ERSPAN3)), Layer("erspan", fields)]
    inner = draw(ethernet_frame(draw(st.sampled_from(["icmp", "arp", "tcp"])), max_tags=2,
                                depth=depth + 1))
    return [*head, *inner]


@functools.cache
@st.composite
def geneve_header(draw: st.DrawFn) -> Layer:
    """A Geneve header whose protocol type and lengths encode fills in (version 0: tshark
    dissects other versions alike, but RFC 8926 receivers drop them)."""
    fields = draw(geneve_fields())
    fields["geneve.version"] = 0
    fields["geneve.proto_type"] = None
    fields["geneve.option.length"] = None
    return Layer("geneve", fields)


@functools.cache
@st.composite
def l3(draw: st.DrawFn, payload: str, depth: int = 0, v6: bool | None = None) -> list[Layer]:
    """What an Ethernet (or SLL/NULL/raw) link carries (``v6``: IPv6 or not; None: either)."""
    if payload == "arp":
        return [draw(_ARP_LAYER)]
    if payload == "icmp":  # ICMP (for IPv4); ICMPv6 is another layer
        return [draw(_IP_LAYER), *draw(_ICMP_LAYERS)]
    ip = draw(_NET_LAYERS) if v6 is None else draw(_IPV6_LAYERS) if v6 else [draw(_IP_LAYER)]
    # Over IPv6 a UDP checksum of 0 is illegal: encode computes it, so none is drawn.
    zero_ok = not is_ipv6(ip)
    if payload == "gre-ip":
        return [*ip, draw(gre_header()), draw(_IP_LAYER), *draw(_ICMP_LAYERS)]
    if payload == "gre-eth":  # NVGRE-like: Transparent Ethernet Bridging, usually keyed
        inner = draw(ethernet_frame(draw(st.sampled_from(["icmp", "arp", "tcp"])), max_tags=2,
                                    depth=depth + 1))
        return [*ip, draw(gre_header()), *inner]
    if payload == "erspan":
        return [*ip, *draw(erspan_stack(depth))]
    if payload == "tcp":
        return [*ip, *draw(_TCP_LAYERS)]
    if payload == "udp":
        sport = draw(_NOT_TUNNEL_PORTS)
        dport = draw(_NOT_TUNNEL_PORTS)
        data = draw(_UDP_DATA)
        return [*ip, build.udp(sport, dport, checksum=_checksum(draw, zero_ok=zero_ok)),
                build.payload(data)]
    if payload == "dns":  # DNS on port 53, or multicast DNS on 5353
        mdns = draw(booleans)
        port = 5353 if mdns else 53
        message = draw(dns_message(mdns=mdns))
        sport = port if mdns else draw(ints(1024, 0xFFFF))
        if message.fields["dns.flags"] & 0x8000 and not mdns:
            sport, port = port, sport
        return [*ip, build.udp(sport, port, checksum=_checksum(draw, zero_ok=zero_ok)), message]
    if payload == "gpe-nsh":
        gpe = build.vxlan_gpe(vni=draw(u24))
        udp = build.udp(draw(_NOT_TUNNEL_PORTS), 4790, checksum=_checksum(draw, zero_ok=zero_ok))
        nsh = dict(draw(_NSH_FRAME_FIELDS))
        nsh["nsh.nextproto"] = nsh["nsh.length"] = None
        if draw(booleans):
            return [*ip, udp, gpe, Layer("nsh", nsh), draw(_IP_LAYER), *draw(_ICMP_LAYERS)]
        inner = draw(ethernet_frame(draw(st.sampled_from(["icmp", "arp"])), max_tags=1,
                                    depth=depth + 1))
        return [*ip, udp, gpe, Layer("nsh", nsh), *inner]
    if payload == "gpe-ip":
        gpe = build.vxlan_gpe(vni=draw(u24), reserved8=draw(u8) if draw(booleans) else 0)
        udp = build.udp(draw(_NOT_TUNNEL_PORTS), 4790, checksum=_checksum(draw, zero_ok=zero_ok))
        return [*ip, udp, gpe, draw(_IP_LAYER), *draw(_ICMP_LAYERS)]
    if payload in ("geneve-ip", "geneve-eth"):
        tunnel = draw(geneve_header())
        udp = build.udp(draw(_NOT_TUNNEL_PORTS), geneve_layer.PORT,
                        checksum=_checksum(draw, zero_ok=zero_ok))
        if payload == "geneve-ip":
            return [*ip, udp, tunnel, draw(_IP_LAYER), *draw(_ICMP_LAYERS)]
        inner_payload = draw(st.sampled_from(["icmp", "arp", "tcp"]))
        inner = draw(ethernet_frame(inner_payload, max_tags=2, depth=depth + 1))
        return [*ip, udp, tunnel, *inner]
    # VXLAN (or GPE carrying Ethernet) around an inner Ethernet frame.
    if payload == "gpe-eth":
        tunnel = build.vxlan_gpe(vni=draw(u24))
        dport = 4790
    else:
        tunnel = draw(vxlan_header(gbp=True if payload == "gbp" else None))
        dport = draw(st.sampled_from([4789, 8472]))
    udp = build.udp(draw(_NOT_TUNNEL_PORTS), dport, checksum=_checksum(draw, zero_ok=zero_ok))
    if payload == "vxlan-nested" and depth < 1:
        inner_payload = "vxlan-nested"
    elif payload == "vxlan-arp":
        inner_payload = "arp"
    else:
        inner_payload = draw(st.sampled_from(["icmp", "arp", "tcp"]))
    inner = draw(ethernet_frame(inner_payload, max_tags=2, depth=depth + 1))
    return [*ip, udp, tunnel, *inner]


_ANY_KIND = st.sampled_from(KINDS)
_KINDS_ON = {link: st.sampled_from(
    KINDS if link == "eth" else ("arp", *IP_KINDS) if link in ("sll", "sll2")
    else tuple(k for k in IP_KINDS if k != "icmp") if link == "raw6" else IP_KINDS)
    for link in LINKS}


@functools.cache
@st.composite
def frames(draw: st.DrawFn, kind: str | None = None, link: str | None = None) -> Frame:
    """A whole frame of ``kind`` on ``link`` (each drawn when not given)."""
    if kind is None:
        kind = draw(_KINDS_ON.get(link, _ANY_KIND))
    if link is None:
        link = draw(st.sampled_from(
            (LINKS if kind != "icmp" else tuple(x for x in LINKS if x != "raw6"))
            if kind in IP_KINDS else ("eth", "sll", "sll2")))
        if kind == "eth802.3":
            link = "eth"
    payload = {"vxlan-icmp": "vxlan", "gbp": "gbp"}.get(kind, kind)
    layers: list[Layer]
    if kind == "eth802.3":
        data = draw(_UDP_DATA)
        eth = build.eth(dst=draw(macs), src=draw(macs))
        eth.fields["eth.type"] = None
        eth.fields["eth.len"] = draw(ints(0, 0x05FF))
        layers = [eth, build.payload(data)]
    elif link == "eth":
        layers = draw(ethernet_frame(payload))
    else:
        body = draw(l3(payload, v6={"raw4": False, "raw6": True}.get(link)))
        etype = 0x0806 if kind == "arp" else 0x86DD if is_ipv6(body) else 0x0800
        if link == "sll":
            head = Layer("sll", {"sll.pkttype": draw(ints(0, 4)), "sll.hatype": 1,
                                 "sll.halen": 6, "sll.src.eth": draw(macs),
                                 "sll.unused": b"\x00\x00",
                                 "sll.etype": etype})
            body = [head, *body]
        elif link == "sll2":
            head = Layer("sll", {"sll.reserved": 0, "sll.ifindex": draw(u32), "sll.hatype": 1,
                                 "sll.pkttype": draw(ints(0, 4)), "sll.halen": 6,
                                 "sll.src.eth": draw(macs), "sll.unused": b"\x00\x00",
                                 "sll.etype": etype})
            body = [head, *body]
        elif link == "null":
            order = draw(st.sampled_from(["little", "big"]))
            family = draw(st.sampled_from([24, 28, 30])) if is_ipv6(body) else 2
            body = [Layer("null", {"null.family": family, "null.byte_order": order}), *body]
        if draw(ints(0, 3)) == 0:
            body.append(Layer("trailer", {"eth.trailer": draw(_TRAILER)}))
        layers = body
    return Frame(layers, LINKTYPE_OF[link], kind, link)


def set_fields(layer: Layer) -> dict[str, Any]:
    """The fields a generated layer fixed (``None`` means "let encode fill it in")."""
    return {k: v for k, v in layer.fields.items() if v is not None}


def copy_layers(layers: list[Layer]) -> list[Layer]:
    return [Layer(lay.proto, dict(lay.fields), raw=lay.raw) for lay in layers]
