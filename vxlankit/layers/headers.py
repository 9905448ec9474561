"""Readers of single headers, compiled from their layers' specs (``shapes.shape_reader``), that
the hand-read fast paths share: one-line, JSON and replay's received frames.

Each reads its header as the decoder would, without the checks that the bytes are that header:
those are the caller's, which also says what else a frame is (``checked=False``).  A caller
makes sure the header's bytes are there (the reader returns None when they are not).
"""

from __future__ import annotations

from vxlankit.layers.shapes import shape_reader

__all__ = ["ARP", "ETH", "ICMP", "IPV4", "IPV6", "TAGS", "UDP", "VXLAN"]

ETH = shape_reader(("eth",), ("eth.dst", "eth.src", "eth.type"), checked=False).read
# An 802.1Q or 802.1ad tag: the EtherType after it.
TAGS = {name: shape_reader((name,), (f"{name}.etype",), checked=False).read
        for name in ("vlan", "ieee8021ad")}
# What tells an IPv4 header of the fast paths' shape (no options, not a fragment) apart.
IPV4 = shape_reader(("ip",), ("ip.version", "ip.hdr_len", "ip.len", "ip.flags.mf",
                              "ip.frag_offset", "ip.proto", "ip.checksum"), checked=False).read
IPV6 = shape_reader(("ipv6",), ("ipv6.version", "ipv6.plen", "ipv6.nxt"), checked=False).read
UDP = shape_reader(("udp",), ("udp.srcport", "udp.dstport", "udp.length", "udp.checksum"),
                   checked=False).read
VXLAN = shape_reader(("vxlan",), (
    "vxlan.flag_g", "vxlan.flag_i", "vxlan.flag_d", "vxlan.flag_a", "vxlan.flags_reserved",
    "vxlan.gbp", "vxlan.vni", "vxlan.reserved8"), checked=False).read
ICMP = shape_reader(("icmp",), ("icmp.type", "icmp.code", "icmp.checksum", "icmp.ident",
                                "icmp.seq"), checked=False).read
# Ethernet/IPv4 ARP (the caller checks the sizes: 6 and 4)
ARP = shape_reader(("arp",), (
    "arp.hw.type", "arp.proto.type", "arp.hw.size", "arp.proto.size", "arp.opcode",
    "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4"),
    checked=False).read
