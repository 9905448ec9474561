"""Adapters between decoded packets and the models' plain values, and back to bytes.

The models (``vxlankit.model``) never see a Packet: they take ``Frame`` values and return
``Encapsulated`` and friends.  This module is the one place that turns a decoded ``Packet`` into
those values (for ``replay`` and for the synthesizer's receiving side) and turns model outputs
back into wire bytes through ``codec.encode`` (for ``synth``).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from vxlankit import build
from vxlankit.addr import ip_bytes, mac_bytes
from vxlankit.checksum import internet_checksum, transport_checksum
from vxlankit.codec import DecodeOptions, decode, encode
from vxlankit.codec.options import fast_path_applies
from vxlankit.errors import VxlanKitError
from vxlankit.layers import headers
from vxlankit.layers.ethernet import encode as _eth_encode
from vxlankit.layers.icmpv6 import options as nd_options
from vxlankit.layers.registry import BY_NAME, LAYERS, TABLES
from vxlankit.layers.shapes import shape_reader
from vxlankit.layers.spec import SHIM, TUNNEL
from vxlankit.layers.udp import port_layer
from vxlankit.model.events import (
    NDISC_NEIGHBOUR_ADVERTISEMENT,
    ArpInfo,
    Encapsulated,
    Frame,
    IpInfo,
    NdInfo,
    VxlanReceived,
)
from vxlankit.packet import Layer, Packet

_H = struct.Struct("!H")

_L4_WITH_PORTS = {"udp": ("udp.srcport", "udp.dstport")}


def _frame_end(packet: Packet, index: int) -> int:
    """Where the Ethernet frame that starts at layer ``index`` ends: the end of the UDP
    payload that carries it (for an inner frame), else the end of the data."""
    end = len(packet.data)
    for layer in reversed(packet.layers[:index]):
        if layer.proto == "udp" and layer.status == "ok":
            return min(end, layer.offset + int(layer.fields["udp.length"]))
    fcs = packet.layer("fcs")
    return fcs.offset if fcs is not None else end


def frame_at(packet: Packet, index: int) -> Frame | None:
    """The Ethernet frame whose header is ``packet.layers[index]``, as a model ``Frame``."""
    eth = packet.layers[index]
    if eth.proto != "eth" or eth.raw is not None:
        return None
    fields = eth.fields
    ethertype = fields.get("eth.type", fields.get("eth.len", 0))
    start = eth.offset + eth.length
    payload = packet.data[start:_frame_end(packet, index)]
    arp = ip = None
    for j in range(index + 1, len(packet.layers)):
        layer = packet.layers[j]
        if layer.proto in ("vlan", "ieee8021ad"):
            continue
        if layer.proto == "arp" and "arp.src.proto_ipv4" in layer.fields:
            f = layer.fields
            if "arp.src.hw_mac" in f:
                arp = ArpInfo(f["arp.opcode"], f["arp.src.hw_mac"], f["arp.src.proto_ipv4"],
                              f["arp.dst.hw_mac"], f["arp.dst.proto_ipv4"],
                              f["arp.hw.type"], f["arp.proto.type"], f["arp.hw.size"],
                              f["arp.proto.size"])
        elif layer.proto == "ip" and layer.raw is None:
            f = layer.fields
            sport = dport = None
            if j + 1 < len(packet.layers):
                ports = _L4_WITH_PORTS.get(packet.layers[j + 1].proto)
                if ports and packet.layers[j + 1].raw is None:
                    sport = packet.layers[j + 1].fields[ports[0]]
                    dport = packet.layers[j + 1].fields[ports[1]]
            ip = IpInfo(f["ip.src"], f["ip.dst"], f["ip.proto"], f["ip.ttl"], f["ip.dsfield"],
                        bool(f["ip.flags.df"]), sport, dport)
        break
    return Frame(fields["eth.dst"], fields["eth.src"], ethertype, arp, ip, payload)


def frame_from_bytes(data: bytes) -> Frame:
    """A whole Ethernet frame's bytes as a model ``Frame`` (for frames an actor makes)."""

    frame = frame_at(decode(data), 0)
    if frame is None:
        raise ValueError("not an Ethernet frame")
    return frame


def vxlan_received(packet: Packet) -> list[tuple[int, VxlanReceived]]:
    """Every VXLAN hop in ``packet`` as a VTEP input, with the index of its ``vxlan`` layer.

    Only RFC 7348/GBP VXLAN carrying Ethernet counts; GPE is not what a Linux vxlan device
    receives.  The outer IP header is IPv4 or IPv6 (with the UDP header right after it: a
    Linux VTEP sends no IPv6 extension headers).
    """
    hops: list[tuple[int, VxlanReceived]] = []
    layers = packet.layers
    for i, layer in enumerate(layers):
        if layer.proto == "icmpv6":
            break  # what follows is an error's quoted packet: no VTEP receives it
        if (layer.proto != "vxlan" or "vxlan.next_proto" in layer.fields or i < 2
                or i + 1 >= len(layers)):
            continue
        udp, ip = layers[i - 1], layers[i - 2]
        if udp.proto != "udp" or ip.proto not in ("ip", "ipv6") or ip.raw is not None:
            continue
        frame = frame_at(packet, i + 1)
        if frame is None:
            continue
        f = layer.fields
        uf = udp.fields
        if ip.proto == "ip":
            src, dst, tos = ip.fields["ip.src"], ip.fields["ip.dst"], ip.fields["ip.dsfield"]
        else:
            src, dst = ip.fields["ipv6.src"], ip.fields["ipv6.dst"]
            tos = ip.fields["ipv6.tclass"]
        hops.append((i, VxlanReceived(
            src, dst, uf["udp.srcport"], uf["udp.dstport"], f["vxlan.vni"], frame,
            f["vxlan.flags"], f["vxlan.gbp"], f["vxlan.reserved8"], tos,
            uf["udp.checksum"])))
    return hops


def frame_layers(frame: Frame) -> list[Layer]:
    """A model ``Frame`` as layers ready for ``encode``."""
    eth = build.eth(dst=frame.dst, src=frame.src, type=frame.ethertype)
    if frame.payload:
        return [eth, build.payload(frame.payload)]
    if frame.arp is not None:
        a = frame.arp
        return [eth, build.arp(a.opcode, a.sender_mac, a.sender_ip, a.target_mac, a.target_ip)]
    if frame.nd is not None:
        return [eth, *nd_layers(frame.nd)]
    return [eth]


def nd_layers(nd: NdInfo) -> list[Layer]:
    """An ``NdInfo`` as IPv6 and ICMPv6 layers (NS or NA, its one link-layer address option);
    ``encode`` fills the payload length, next header and the ICMPv6 checksum."""
    fields: dict[str, object] = {"icmpv6.type": nd.icmp_type, "icmpv6.code": 0,
                                 "icmpv6.checksum": None}
    if nd.icmp_type == NDISC_NEIGHBOUR_ADVERTISEMENT:
        fields["icmpv6.nd.na.flag"] = nd.flags
        fields["icmpv6.nd.na.target_address"] = nd.target
    else:
        fields["icmpv6.reserved"] = bytes(4)
        fields["icmpv6.nd.ns.target_address"] = nd.target
    opts = b""
    if nd.option is not None and nd.lladdr is not None:
        opts = nd_options((nd.option, bytes.fromhex(nd.lladdr.replace(":", ""))))
    fields["icmpv6.options"] = opts
    return [build.ipv6(src=nd.ip_src, dst=nd.ip_dst, hlim=nd.hop_limit, tclass=nd.tclass),
            Layer("icmpv6", fields)]


def frame_bytes(frame: Frame) -> bytes:
    """A model ``Frame`` written as ``encode(frame_layers(frame))`` writes it.  A frame that
    carries its payload is its Ethernet header, by Ethernet's own encoder, and the payload:
    nothing for ``encode`` to fix up, and the synth writes several such frames a packet."""
    payload = frame.payload
    if payload:
        try:
            head = _eth_encode({"eth.dst": frame.dst, "eth.src": frame.src,
                                "eth.type": frame.ethertype})
        except Exception:  # noqa: BLE001 - encode says what is wrong, in its own words
            return encode(frame_layers(frame))
        return head + payload
    return encode(frame_layers(frame))


def encapsulated_layers(out: Encapsulated) -> list[Layer]:
    """The exact underlay frame a VTEP's ``Encapsulated`` output describes, as layers
    (Ethernet/IPv4 or, for IPv6 addresses, Ethernet/IPv6, then UDP/VXLAN and the frame)."""
    if ":" in out.ip_src:
        ip = build.ipv6(src=out.ip_src, dst=out.ip_dst, hlim=out.ttl, tclass=out.tos,
                        flow=out.flow_label)
    else:
        ip = build.ipv4(src=out.ip_src, dst=out.ip_dst, ttl=out.ttl, id=out.ip_id, df=out.df,
                        dscp=out.tos >> 2, ecn=out.tos & 3)
    return [
        build.eth(dst=out.eth_dst, src=out.eth_src),
        ip,
        build.udp(sport=out.sport, dport=out.dport,
                  checksum=0 if out.udp_checksum == "zero" else None),
        build.vxlan(out.vni, flags=out.flags, gbp=out.gbp, reserved8=out.reserved8),
        *frame_layers(out.frame),
    ]


# Ethernet, IPv4 without options, UDP and VXLAN: the headers of every VTEP's IPv4 datagram.
_IPV4_VXLAN = struct.Struct("!6s6sHBBHHHBBH4s4sHHHHHHI")


def _ipv4_vxlan_bytes(out: Encapsulated) -> bytes | None:
    """``encode(encapsulated_layers(out))`` for an IPv4 underlay, packed in one piece (the
    synth writes two a ping); None where ``encode`` has something to say (a value that does
    not fit), so that it says it.  The tests hold the two equal on random outputs."""
    inner = frame_bytes(out.frame)
    ulen = 16 + len(inner)
    vni, reserved8, tos = out.vni, out.reserved8, out.tos
    if (ulen + 20 > 0xFFFF or not 0 <= vni < 1 << 24 or not 0 <= reserved8 <= 0xFF
            or not 0 <= tos <= 0xFF):
        return None
    try:
        src, dst = ip_bytes(out.ip_src), ip_bytes(out.ip_dst)
        head = bytearray(_IPV4_VXLAN.pack(
            mac_bytes(out.eth_dst), mac_bytes(out.eth_src), 0x0800, 0x45, tos, ulen + 20,
            out.ip_id, 0x4000 if out.df else 0, out.ttl, 17, 0, src, dst, out.sport, out.dport,
            ulen, 0, out.flags, out.gbp, (vni << 8) | reserved8))
    except (struct.error, ValueError, VxlanKitError):
        return None
    _H.pack_into(head, 24, internet_checksum(head[14:34]))
    if out.udp_checksum != "zero":
        _H.pack_into(head, 40, transport_checksum(src, dst, 17, head[34:] + inner, True))
    return bytes(head) + inner


def encapsulated_bytes(out: Encapsulated) -> bytes:
    if ":" not in out.ip_src:
        fast = _ipv4_vxlan_bytes(out)
        if fast is not None:
            return fast
    if out.udp_checksum == "zero" and ":" in out.ip_src:
        # udp6zerocsumtx: a zero checksum over IPv6, which the encoder would otherwise
        # replace (zero means "none" over IPv4 only); every other checksum is left None.
        return encode(encapsulated_layers(out), compute_checksums=False)
    return encode(encapsulated_layers(out))


# IPv4 (IHL 5), UDP, VXLAN: 36 bytes, read by a reader compiled from the three specs; the
# checks that they are that shape are the caller's, which says what else a frame is.
_read_outer = shape_reader(
    ("ip", "udp", "vxlan"),
    ("ip.version", "ip.hdr_len", "ip.dsfield", "ip.len", "ip.frag_offset", "ip.proto",
     "ip.src", "ip.dst", "udp.srcport", "udp.dstport", "udp.length", "udp.checksum",
     "vxlan.flags", "vxlan.gbp", "vxlan.vni", "vxlan.reserved8"), checked=False).read
# IPv6, UDP, VXLAN: 56 bytes (its checks are the caller's, as for IPv4).
_read_outer6 = shape_reader(
    ("ipv6", "udp", "vxlan"),
    ("ipv6.tclass", "ipv6.plen", "ipv6.src", "ipv6.dst", "udp.srcport", "udp.dstport",
     "udp.length", "udp.checksum", "vxlan.flags", "vxlan.gbp", "vxlan.vni", "vxlan.reserved8"),
    checked=False).read
# The UDP layers that carry frames further in (a VXLAN hop may be inside them): the tunnels.
_TUNNELS = frozenset(spec.name for spec in LAYERS if spec.role == TUNNEL)
# IPv6 next headers the fast path leaves to the decoder: extension headers (RFC 8200 4,
# RFC 5533, HIP, the experimental 253/254) and ICMPv6 (whose errors quote packets).
_V6_NOT_FAST = frozenset((0, 43, 44, 50, 51, 58, 60, 135, 139, 140, 253, 254))
# The inner frame: its Ethernet header, an Ethernet/IPv4 ARP message, an IPv4 header (its
# length checked by the caller) and the ports of a UDP datagram in it, each read by a reader
# compiled from the layer's spec.
_read_eth, _read_arp = headers.ETH, headers.ARP
_read_ip = shape_reader(
    ("ip",), ("ip.version", "ip.hdr_len", "ip.dsfield", "ip.len", "ip.flags.df",
              "ip.frag_offset", "ip.ttl", "ip.proto", "ip.src", "ip.dst"), checked=False).read
_read_ports = shape_reader(("udp",), ("udp.srcport", "udp.dstport"), checked=False).read
# EtherTypes of the tags (802.1Q, 802.1ad, the old 0x9100) in the registry's table.
_TAGS = frozenset(key for key, name in TABLES["ethertype"].items() if BY_NAME[name].role == SHIM)
_read_link = shape_reader(("eth",), ("eth.dst", "eth.type"), checked=False).read
_read_tag = headers.TAGS["vlan"]  # a tag's EtherType (802.1ad's sits at the same place)

# The underlay of a VXLAN datagram (Ethernet / IPv4 without options / UDP), read by a reader
# compiled from the three layers' specs.
_UNDERLAY_UDP = shape_reader(
    ("eth", "ip", "udp"),
    ("eth.dst", "eth.src", "ip.version", "ip.dsfield", "ip.len", "ip.frag_offset",
     "ip.flags.df", "ip.ttl", "ip.src", "ip.dst", "udp.srcport", "udp.dstport"))
_read_underlay = _UNDERLAY_UDP.read


def fast_outer_frame(data: bytes) -> Frame | None:
    """``frame_at(decode(data, 1, options), 0)`` for an Ethernet/IPv4/UDP frame whose IPv4
    header has no options, straight from the bytes: what the underlay's devices read of a
    VXLAN datagram (the payload stays bytes).  ``None`` for any other shape, which the caller
    decodes; the options must give no FCS.  The tests hold the two equal on every shape."""
    found = _read_underlay(data)
    if found is None:
        return None
    dst, src, version, tos, total, frag_offset, df, ttl, ip_src, ip_dst, sport, dport = found
    # What the shape leaves to its reader: a header the decoder calls malformed, a later
    # fragment or a total length below the headers (no UDP layer follows either).
    if version != 4 or frag_offset or total < 28:
        return None
    ip = IpInfo(ip_src, ip_dst, 17, ttl, tos, bool(df), sport, dport)
    return Frame(dst, src, 0x0800, None, ip, data[14:])


def fast_vxlan_received(data: bytes, linktype: int, vxlan_ports: frozenset[int],
                        udp_ports: Mapping[int, str]) -> tuple[str, list[VxlanReceived]] | None:
    """``vxlan_received(decode(data))`` and the outer destination MAC, for the common shape
    only (Ethernet with up to two VLAN tags, IPv4 without options or IPv6 without extension
    headers, one complete VXLAN hop, an Ethernet inner frame carrying ARP, IPv4 or anything
    untagged), straight from the bytes; ``None`` for anything else, which the caller decodes
    in full.  ``vxlan_ports`` and ``udp_ports`` (the UDP dispatch table) are
    ``fast_path_ports``'s.  Proven equal to the full path by the tests."""
    link = _read_link(data) if linktype == 1 else None
    if link is None:
        return None
    eth_dst, etype = link
    b = 0  # bytes of VLAN tags after the MACs
    while etype in _TAGS:
        if b == 8 or len(data) < 18 + b:
            return None
        etype = _read_tag(data, 14 + b)[0]  # type: ignore[index]
        b += 4
    if etype == 0x86DD:
        return _fast_ipv6(data, b, udp_ports, eth_dst)
    if etype != 0x0800:
        return "", []  # ARP, ...: no VXLAN hop in this frame
    outer = _read_outer(data, 14 + b)
    if outer is None:
        return None
    (version, ihl, tos, total, frag_offset, proto, src, dst, sport, dport, ulen, ucsum, flags,
     gbp, vni, reserved8) = outer
    if version != 4 or ihl != 20:
        return None
    if proto != 17 or frag_offset or total < 28 or total > len(data) - 14 - b:
        return None if proto == 17 else ("", [])
    if dport not in vxlan_ports or (sport < dport and sport in udp_ports):
        kind = port_layer(udp_ports, sport, dport)
        if kind != "vxlan":
            return None if kind in _TUNNELS else ("", [])
    udp_end = 34 + b + ulen
    if ulen < 16 or udp_end > 14 + b + total or udp_end - 50 - b < 14:
        return None
    inner = _inner_frame(data, 50 + b, udp_end, udp_ports)
    if inner is None:
        return None
    hop = VxlanReceived(src, dst, sport, dport, vni, inner, flags, gbp, reserved8, tos, ucsum)
    return eth_dst, [hop]


def _fast_ipv6(data: bytes, b: int, udp_ports: Mapping[int, str], eth_dst: str
               ) -> tuple[str, list[VxlanReceived]] | None:
    """The IPv6 underlay's share of ``fast_vxlan_received``: UDP right after the header (``b``
    bytes of VLAN tags before it)."""
    if len(data) < 54 + b:
        return None
    version, _, nxt = headers.IPV6(data, 14 + b)  # type: ignore[misc]
    if version != 6 or nxt in _V6_NOT_FAST:
        return None
    if nxt != 17:
        return "", []
    if len(data) < 70 + b:
        return None
    outer = _read_outer6(data, 14 + b)
    if outer is None:
        return None
    tclass, plen, src, dst, sport, dport, ulen, ucsum, flags, gbp, vni, reserved8 = outer
    if plen < 8 or plen > len(data) - 54 - b:
        return None
    kind = port_layer(udp_ports, sport, dport)
    if kind != "vxlan":
        return None if kind in _TUNNELS else ("", [])
    udp_end = 54 + b + ulen
    if ulen < 16 or udp_end > 54 + b + plen or udp_end - 70 - b < 14:
        return None
    inner = _inner_frame(data, 70 + b, udp_end, udp_ports)
    if inner is None:
        return None
    hop = VxlanReceived(src, dst, sport, dport, vni, inner, flags, gbp, reserved8, tclass,
                        ucsum)
    return eth_dst, [hop]


def _inner_frame(data: bytes, off: int, end: int, udp_ports: Mapping[int, str]
                 ) -> Frame | None:
    found = _read_eth(data, off)
    assert found is not None  # the caller made sure the 14 bytes are there
    dst, src, etype = found
    start = off + 14
    payload = data[start:end]
    avail = end - start
    arp = ip = None
    if etype in _TAGS:
        return None
    if etype == 0x0806:
        if avail < 8:
            return None
        message = _read_arp(data, start) if avail >= 28 else None
        if message is None or message[2:4] != (6, 4):
            return None  # other sizes: the full decoder's rules decide
        htype, ptype, _, _, op, sha, spa, tha, tpa = message
        if ptype == 0x0800 and htype in (1, 6):
            arp = ArpInfo(op, sha, spa, tha, tpa, htype, ptype, 6, 4)
    elif etype == 0x86DD:
        if avail < 40 or data[start] >> 4 != 6 or data[start + 6] not in (6, 58, 59):
            return None  # UDP (a tunnel in the tunnel?), extension headers: the decoder reads
    elif etype == 0x0800:
        header = _read_ip(data, start) if avail >= 20 else None
        if header is None:
            return None
        version, ihl, tos, total, df, frag_offset, ttl, proto, ip_src, ip_dst = header
        if version != 4 or ihl < 20 or ihl > avail or total < ihl:
            return None
        sport = dport = None
        if proto == 17 and not frag_offset:
            ip_end = start + total if total <= avail else end
            if ip_end - (start + ihl) < 8:
                return None
            ports = _read_ports(data, start + ihl)
            assert ports is not None
            sport, dport = ports
            if (sport in udp_ports or dport in udp_ports) and port_layer(
                    udp_ports, sport, dport) in _TUNNELS:
                return None  # a tunnel in the tunnel: more hops than this path reads
        ip = IpInfo(ip_src, ip_dst, proto, ttl, tos, bool(df), sport, dport)
    return Frame(dst, src, etype, arp, ip, payload)


def fast_path_ports(options: DecodeOptions
                    ) -> tuple[frozenset[int], dict[int, str]] | None:
    """The VXLAN ports and the UDP dispatch table for ``fast_vxlan_received``, or ``None``
    when ``options`` dissect otherwise than the defaults it was written against."""
    if not fast_path_applies(options) or options.max_depth < 2:
        return None
    table = options.fast_udp_ports
    return frozenset(p for p, name in table.items() if name == "vxlan"), table
