"""Golden vectors: one header's bytes and its fields, worked out by hand from the RFC diagrams
(several are headers from the real captures), checked both ways through both implementations:
bytes -> fields with the fast ``decode`` and with ``SCHEMA.parse``; fields -> bytes with the
fast ``encode`` and with ``SCHEMA.build``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.layers.codecs import CODECS, RUNS_TO_THE_END
from vxlankit.layers import sll

V6_SRC = bytes.fromhex("20010db8000000000000000000000001")
V6_DST = bytes.fromhex("20010db8000000000000000000000002")
DNS_QUERY_SECTIONS = ("037777770774637064756d70036f726700 0001 0001 "
                      "00 0029 1000 00000000 000c 000a000842f5d00996f90b13").replace(" ", "")

# (codec, hex with spaces between wire fields, fields)
VECTORS: list[tuple[str, str, str, dict[str, Any]]] = [
    # ---------------------------------------------------------------- Ethernet
    ("eth-type", "eth", "00163e0871cf 36dc851eb340 0800", {
        # tcpdump_vxlan.pcap packet 1, outer header
        "eth.dst": "00:16:3e:08:71:cf", "eth.src": "36:dc:85:1e:b3:40", "eth.type": 0x0800}),
    ("eth-802.3-length", "eth", "0180c2000000 001122334455 0026", {
        "eth.dst": "01:80:c2:00:00:00", "eth.src": "00:11:22:33:44:55", "eth.len": 38}),
    ("eth-largest-length", "eth", "ffffffffffff 0a0b0c0d0e0f 05ff", {
        "eth.dst": "ff:ff:ff:ff:ff:ff", "eth.src": "0a:0b:0c:0d:0e:0f", "eth.len": 0x05FF}),
    ("eth-smallest-type", "eth", "ffffffffffff 0a0b0c0d0e0f 0600", {
        "eth.dst": "ff:ff:ff:ff:ff:ff", "eth.src": "0a:0b:0c:0d:0e:0f", "eth.type": 0x0600}),
    # ---------------------------------------------------------------- 802.1Q / 802.1ad
    # TCI 0xb064 = PCP 5 (101), DEI 1, VID 0x064
    ("vlan", "vlan", "b064 0800", {
        "vlan.priority": 5, "vlan.dei": 1, "vlan.id": 100, "vlan.etype": 0x0800}),
    ("vlan-ndpi", "vlan", "0005 0800", {  # ndpi_vxlan.pcap: VLAN 5
        "vlan.priority": 0, "vlan.dei": 0, "vlan.id": 5, "vlan.etype": 0x0800}),
    # TCI 0x6ffe = PCP 3 (011), DEI 0, VID 0xffe
    ("ieee8021ad", "ieee8021ad", "6ffe 8100", {
        "ieee8021ad.priority": 3, "ieee8021ad.dei": 0, "ieee8021ad.id": 4094,
        "ieee8021ad.etype": 0x8100}),
    # ---------------------------------------------------------------- ARP
    # tcpdump_vxlan.pcap packet 2 (inner): who-has 192.168.203.3 tell 192.168.203.5
    ("arp-ether-ipv4", "arp",
     "0001 0800 06 04 0001 003088010002 c0a8cb05 000000000000 c0a8cb03", {
         "arp.hw.type": 1, "arp.proto.type": 0x0800, "arp.hw.size": 6, "arp.proto.size": 4,
         "arp.opcode": 1,
         "arp.src.hw_mac": "00:30:88:01:00:02", "arp.src.proto_ipv4": "192.168.203.5",
         "arp.dst.hw_mac": "00:00:00:00:00:00", "arp.dst.proto_ipv4": "192.168.203.3"}),
    ("arp-ieee802-reply", "arp",
     "0006 0800 06 04 0002 020000000001 0a000001 020000000002 0a000002", {
         "arp.hw.type": 6, "arp.proto.type": 0x0800, "arp.hw.size": 6, "arp.proto.size": 4,
         "arp.opcode": 2,
         "arp.src.hw_mac": "02:00:00:00:00:01", "arp.src.proto_ipv4": "10.0.0.1",
         "arp.dst.hw_mac": "02:00:00:00:00:02", "arp.dst.proto_ipv4": "10.0.0.2"}),
    # hardware type 32 (InfiniBand-like) with 8-byte addresses, IPv6 protocol addresses
    ("arp-hw8-proto16", "arp",
     "0020 86dd 08 10 0002 0102030405060708 " + V6_SRC.hex() + " 1112131415161718 "
     + V6_DST.hex(), {
         "arp.hw.type": 32, "arp.proto.type": 0x86DD, "arp.hw.size": 8, "arp.proto.size": 16,
         "arp.opcode": 2,
         "arp.src.hw": bytes.fromhex("0102030405060708"), "arp.src.proto": V6_SRC,
         "arp.dst.hw": bytes.fromhex("1112131415161718"), "arp.dst.proto": V6_DST}),
    # Ethernet hardware type with a non-6 size: bytes, while IPv4 still decodes as an address
    ("arp-ether-type-size8", "arp",
     "0001 0800 08 04 0001 0102030405060708 0a000001 0000000000000000 0a000002", {
         "arp.hw.type": 1, "arp.proto.type": 0x0800, "arp.hw.size": 8, "arp.proto.size": 4,
         "arp.opcode": 1,
         "arp.src.hw": bytes.fromhex("0102030405060708"), "arp.src.proto_ipv4": "10.0.0.1",
         "arp.dst.hw": bytes(8), "arp.dst.proto_ipv4": "10.0.0.2"}),
    ("arp-empty-addresses", "arp", "0001 0800 00 00 0003", {
        "arp.hw.type": 1, "arp.proto.type": 0x0800, "arp.hw.size": 0, "arp.proto.size": 0,
        "arp.opcode": 3, "arp.src.hw": b"", "arp.src.proto": b"", "arp.dst.hw": b"",
        "arp.dst.proto": b""}),
    # ---------------------------------------------------------------- IPv4
    # tcpdump_vxlan.pcap packet 1, outer header
    ("ipv4", "ip", "45 00 0086 d2c0 4000 40 11 5152 c0a8cb01 c0a8ca01", {
        "ip.version": 4, "ip.hdr_len": 20, "ip.dsfield": 0, "ip.dsfield.dscp": 0,
        "ip.dsfield.ecn": 0, "ip.len": 134, "ip.id": 0xD2C0, "ip.flags": 2, "ip.flags.rb": 0,
        "ip.flags.df": 1, "ip.flags.mf": 0, "ip.frag_offset": 0, "ip.ttl": 64, "ip.proto": 17,
        "ip.checksum": 0x5152, "ip.src": "192.168.203.1", "ip.dst": "192.168.202.1",
        "ip.options": b""}),
    # IHL 6, DSCP 46 (EF) ECN 1, MF with fragment offset 185, a Router Alert option
    ("ipv4-options", "ip", "46 b9 0020 1234 20b9 01 02 beef 0a000001 e0000016 94040000", {
        "ip.version": 4, "ip.hdr_len": 24, "ip.dsfield": 0xB9, "ip.dsfield.dscp": 46,
        "ip.dsfield.ecn": 1, "ip.len": 32, "ip.id": 0x1234, "ip.flags": 1, "ip.flags.rb": 0,
        "ip.flags.df": 0, "ip.flags.mf": 1, "ip.frag_offset": 185, "ip.ttl": 1, "ip.proto": 2,
        "ip.checksum": 0xBEEF, "ip.src": "10.0.0.1", "ip.dst": "224.0.0.22",
        "ip.options": bytes.fromhex("94040000")}),
    ("ipv4-max-options", "ip", "4f 00 003c 0000 0000 40 01 0000 01020304 05060708 "
     + "01" * 40, {
         "ip.version": 4, "ip.hdr_len": 60, "ip.dsfield": 0, "ip.dsfield.dscp": 0,
         "ip.dsfield.ecn": 0, "ip.len": 60, "ip.id": 0, "ip.flags": 0, "ip.flags.rb": 0,
         "ip.flags.df": 0, "ip.flags.mf": 0, "ip.frag_offset": 0, "ip.ttl": 64, "ip.proto": 1,
         "ip.checksum": 0, "ip.src": "1.2.3.4", "ip.dst": "5.6.7.8",
         "ip.options": b"\x01" * 40}),
    # The reserved ("evil") flag bit and every fragment-offset bit
    ("ipv4-reserved-flag", "ip", "45 00 0014 ffff 9fff ff 11 abcd 7f000001 7f000001", {
        "ip.version": 4, "ip.hdr_len": 20, "ip.dsfield": 0, "ip.dsfield.dscp": 0,
        "ip.dsfield.ecn": 0, "ip.len": 20, "ip.id": 0xFFFF, "ip.flags": 4, "ip.flags.rb": 1,
        "ip.flags.df": 0, "ip.flags.mf": 0, "ip.frag_offset": 0x1FFF, "ip.ttl": 255,
        "ip.proto": 17, "ip.checksum": 0xABCD, "ip.src": "127.0.0.1", "ip.dst": "127.0.0.1",
        "ip.options": b""}),
    # IHL 2 (malformed, reported by the codec): the layer reads no options
    ("ipv4-ihl-below-5", "ip", "42 00 0014 0000 0000 40 01 0000 7f000001 7f000002", {
        "ip.version": 4, "ip.hdr_len": 8, "ip.dsfield": 0, "ip.dsfield.dscp": 0,
        "ip.dsfield.ecn": 0, "ip.len": 20, "ip.id": 0, "ip.flags": 0, "ip.flags.rb": 0,
        "ip.flags.df": 0, "ip.flags.mf": 0, "ip.frag_offset": 0, "ip.ttl": 64, "ip.proto": 1,
        "ip.checksum": 0, "ip.src": "127.0.0.1", "ip.dst": "127.0.0.2", "ip.options": b""}),
    # ---------------------------------------------------------------- ICMP
    # tcpdump_vxlan.pcap packet 1, inner: echo request id 1292 seq 1
    ("icmp-echo-request", "icmp", "08 00 f6f2 050c 0001", {
        "icmp.type": 8, "icmp.code": 0, "icmp.checksum": 0xF6F2, "icmp.ident": 1292,
        "icmp.seq": 1}),
    ("icmp-echo-reply", "icmp", "00 00 fff1 0001 000e", {
        "icmp.type": 0, "icmp.code": 0, "icmp.checksum": 0xFFF1, "icmp.ident": 1,
        "icmp.seq": 14}),
    # fragmentation needed, next-hop MTU 1500 in the low half
    ("icmp-dest-unreachable", "icmp", "03 04 1a2b 000005dc", {
        "icmp.type": 3, "icmp.code": 4, "icmp.checksum": 0x1A2B,
        "icmp.unused": bytes.fromhex("000005dc")}),
    ("icmp-time-exceeded", "icmp", "0b 01 f4fe 00000000", {
        "icmp.type": 11, "icmp.code": 1, "icmp.checksum": 0xF4FE, "icmp.unused": bytes(4)}),
    ("icmp-timestamp", "icmp", "0d 00 0102 abcd0001", {
        "icmp.type": 13, "icmp.code": 0, "icmp.checksum": 0x0102,
        "icmp.rest": bytes.fromhex("abcd0001")}),
    # ---------------------------------------------------------------- ICMPv6
    # (types whose rest is a layer of its own; ND and MLD vectors: tests/layers/test_icmpv6.py)
    ("icmpv6-echo-request", "icmpv6", "80 00 dedf 1234 0007", {
        "icmpv6.type": 128, "icmpv6.code": 0, "icmpv6.checksum": 0xDEDF,
        "icmpv6.echo.identifier": 0x1234, "icmpv6.echo.sequence_number": 7}),
    ("icmpv6-packet-too-big", "icmpv6", "02 00 2c02 00000500", {
        "icmpv6.type": 2, "icmpv6.code": 0, "icmpv6.checksum": 0x2C02, "icmpv6.mtu": 1280}),
    ("icmpv6-time-exceeded", "icmpv6", "03 00 e5f4 00000000", {
        "icmpv6.type": 3, "icmpv6.code": 0, "icmpv6.checksum": 0xE5F4,
        "icmpv6.reserved": bytes(4)}),
    ("icmpv6-parameter-problem", "icmpv6", "04 01 2ed9 00000028", {
        "icmpv6.type": 4, "icmpv6.code": 1, "icmpv6.checksum": 0x2ED9, "icmpv6.pointer": 40}),
    # ---------------------------------------------------------------- UDP
    ("udp", "udp", "b05d 12b5 0072 0000", {  # tcpdump_vxlan.pcap packet 1
        "udp.srcport": 45149, "udp.dstport": 4789, "udp.length": 114, "udp.checksum": 0}),
    ("udp-all-ones", "udp", "ffff 0000 0008 ffff", {
        "udp.srcport": 65535, "udp.dstport": 0, "udp.length": 8, "udp.checksum": 0xFFFF}),
    # ---------------------------------------------------------------- VXLAN
    ("vxlan", "vxlan", "0800 0000 000064 00", {  # tcpdump_vxlan.pcap: flags [I], vni 100
        "vxlan.flags": 0x0800, "vxlan.flag_g": 0, "vxlan.flag_i": 1, "vxlan.flag_d": 0,
        "vxlan.flag_a": 0, "vxlan.flags_reserved": 0, "vxlan.gbp": 0, "vxlan.vni": 100,
        "vxlan.reserved8": 0}),
    # pcapplusplus_Vxlan1.pcap: GBP, flags 0x8848 = G I D A, group 100, VNI 3000001
    ("vxlan-gbp", "vxlan", "8848 0064 2dc6c1 00", {
        "vxlan.flags": 0x8848, "vxlan.flag_g": 1, "vxlan.flag_i": 1, "vxlan.flag_d": 1,
        "vxlan.flag_a": 1, "vxlan.flags_reserved": 0, "vxlan.gbp": 100, "vxlan.vni": 3000001,
        "vxlan.reserved8": 0}),
    # suricata-verify vxlan-non-zero-reserved-fields, packet 2: flags 0xff01 (G, I and
    # reserved bits 0x7701 = 0xff01 & 0x77b7), reserved8 1
    ("vxlan-reserved-bits", "vxlan", "ff01 d1f3 00000b 01", {
        "vxlan.flags": 0xFF01, "vxlan.flag_g": 1, "vxlan.flag_i": 1, "vxlan.flag_d": 0,
        "vxlan.flag_a": 0, "vxlan.flags_reserved": 0x7701, "vxlan.gbp": 0xD1F3, "vxlan.vni": 11,
        "vxlan.reserved8": 1}),
    ("vxlan-no-i-flag", "vxlan", "0000 0000 ffffff ff", {
        "vxlan.flags": 0, "vxlan.flag_g": 0, "vxlan.flag_i": 0, "vxlan.flag_d": 0,
        "vxlan.flag_a": 0, "vxlan.flags_reserved": 0, "vxlan.gbp": 0, "vxlan.vni": 0xFFFFFF,
        "vxlan.reserved8": 0xFF}),
    # ---------------------------------------------------------------- VXLAN-GPE
    # tcpdump_nsh-over-vxlan-gpe.pcap: flags 0x0c (I, P), next protocol 4 (NSH)
    ("vxlan-gpe-nsh", "vxlan-gpe", "0c 0000 04 ffffff 00", {
        "vxlan.flags": 0x0C, "vxlan.ver": 0, "vxlan.i_bit": 1, "vxlan.p_bit": 1,
        "vxlan.o_bit": 0, "vxlan.flags_reserved": 0, "vxlan.reserved_16": 0,
        "vxlan.next_proto": 4, "vxlan.vni": 0xFFFFFF, "vxlan.reserved8": 0}),
    # flags 0xf7 = R R (0xc0), Ver 3, I 0, P 1, B 1, O 1; reserved = 0xf7 & 0xc2 = 0xc2
    ("vxlan-gpe-everything", "vxlan-gpe", "f7 1234 03 000064 aa", {
        "vxlan.flags": 0xF7, "vxlan.ver": 3, "vxlan.i_bit": 0, "vxlan.p_bit": 1,
        "vxlan.o_bit": 1, "vxlan.flags_reserved": 0xC2, "vxlan.reserved_16": 0x1234,
        "vxlan.next_proto": 3, "vxlan.vni": 100, "vxlan.reserved8": 0xAA}),
    # ---------------------------------------------------------------- Geneve
    # tcpdump_geneve.pcap packet 2: no options, Transparent Ethernet Bridging, VNI 11
    ("geneve-no-options", "geneve", "00 00 6558 00000b 00", {
        "geneve.version": 0, "geneve.option.length": [0], "geneve.flags": 0,
        "geneve.flags.oam": 0, "geneve.flags.critical": 0, "geneve.flags.reserved": 0,
        "geneve.proto_type": 0x6558, "geneve.vni": 11, "geneve.reserved": 0}),
    # tcpdump_geneve.pcap packet 1: C set, one critical option of class 0 with 4 data bytes
    ("geneve-critical-option", "geneve", "02 40 6558 00000a 00  0000 80 01 0000000c", {
        "geneve.version": 0, "geneve.option.length": [8, 8], "geneve.flags": 0x40,
        "geneve.flags.oam": 0, "geneve.flags.critical": 1, "geneve.flags.reserved": 0,
        "geneve.proto_type": 0x6558, "geneve.vni": 10, "geneve.reserved": 0,
        "geneve.option.class": [0x0000], "geneve.option.type": [0x80],
        "geneve.option.type.critical": [1], "geneve.option.flags": [0],
        "geneve.option.flags.reserved": [0],
        "geneve.option.unknown.data": [bytes.fromhex("0000000c")]}),
    # O set, IPv4 inside, two OVN options (12 bytes: 3 words), the second without data
    ("geneve-oam-ovn", "geneve", "03 80 0800 000064 00  0102 80 01 00010002  0102 01 00", {
        "geneve.version": 0, "geneve.option.length": [12, 8, 4], "geneve.flags": 0x80,
        "geneve.flags.oam": 1, "geneve.flags.critical": 0, "geneve.flags.reserved": 0,
        "geneve.proto_type": 0x0800, "geneve.vni": 100, "geneve.reserved": 0,
        "geneve.option.class": [0x0102, 0x0102], "geneve.option.type": [0x80, 0x01],
        "geneve.option.type.critical": [1, 0], "geneve.option.flags": [0, 0],
        "geneve.option.flags.reserved": [0, 0],
        "geneve.option.unknown.data": [bytes.fromhex("00010002"), b""]}),
    # every reserved bit set, version 3: kept, re-encoded
    ("geneve-reserved-bits", "geneve", "c1 3f 86dd ffffff ff  ffff 7f e0", {
        "geneve.version": 3, "geneve.option.length": [4, 4], "geneve.flags": 0x3F,
        "geneve.flags.oam": 0, "geneve.flags.critical": 0, "geneve.flags.reserved": 1,
        "geneve.proto_type": 0x86DD, "geneve.vni": 0xFFFFFF, "geneve.reserved": 0xFF,
        "geneve.option.class": [0xFFFF], "geneve.option.type": [0x7F],
        "geneve.option.type.critical": [0], "geneve.option.flags": [7],
        "geneve.option.flags.reserved": [1], "geneve.option.unknown.data": [b""]}),
    # an option whose length (12 bytes) runs past the 4 bytes of options: kept as it is
    ("geneve-option-past-end", "geneve", "01 00 6558 000001 00  0000 01 02", {
        "geneve.version": 0, "geneve.option.length": [4, 12], "geneve.flags": 0,
        "geneve.flags.oam": 0, "geneve.flags.critical": 0, "geneve.flags.reserved": 0,
        "geneve.proto_type": 0x6558, "geneve.vni": 1, "geneve.reserved": 0,
        "geneve.option.class": [0x0000], "geneve.option.type": [0x01],
        "geneve.option.type.critical": [0], "geneve.option.flags": [0],
        "geneve.option.flags.reserved": [0], "geneve.option.unknown.data": [b""]}),
    # ---------------------------------------------------------------- Linux cooked
    ("sll", "sll", "0000 0001 0006 00163e0871cf0000 0800", {
        "sll.pkttype": 0, "sll.hatype": 1, "sll.halen": 6, "sll.src.eth": "00:16:3e:08:71:cf",
        "sll.unused": b"\x00\x00", "sll.etype": 0x0800}),
    # loopback, no address, Linux protocol 4 (ETH_P_802_2)
    ("sll-ltype", "sll", "0004 0304 0000 0000000000000000 0004", {
        "sll.pkttype": 4, "sll.hatype": 0x0304, "sll.halen": 0, "sll.src.other": b"",
        "sll.unused": bytes(8), "sll.ltype": 4}),
    # an address longer than the 8-byte field: the first 8 bytes are kept
    ("sll-long-address", "sll", "0003 0020 000a 0102030405060708 86dd", {
        "sll.pkttype": 3, "sll.hatype": 32, "sll.halen": 10,
        "sll.src.other": bytes.fromhex("0102030405060708"), "sll.unused": b"",
        "sll.etype": 0x86DD}),
    ("sll2", "sll2", "0800 0000 00000002 0001 04 06 00163e0871cf0000", {
        "sll.etype": 0x0800, "sll.reserved": 0, "sll.ifindex": 2, "sll.hatype": 1,
        "sll.pkttype": 4, "sll.halen": 6, "sll.src.eth": "00:16:3e:08:71:cf",
        "sll.unused": b"\x00\x00"}),
    ("sll2-other", "sll2", "0003 abcd 0000ffff 0304 00 04 7f000001deadbeef", {
        "sll.ltype": 3, "sll.reserved": 0xABCD, "sll.ifindex": 0xFFFF, "sll.hatype": 0x0304,
        "sll.pkttype": 0, "sll.halen": 4, "sll.src.other": bytes.fromhex("7f000001"),
        "sll.unused": bytes.fromhex("deadbeef")}),
    # ---------------------------------------------------------------- BSD NULL
    ("null-le-inet", "null", "02000000", {"null.family": 2, "null.byte_order": "little"}),
    ("null-be-inet", "null", "00000002", {"null.family": 2, "null.byte_order": "big"}),
    ("null-le-inet6", "null", "1e000000", {"null.family": 30, "null.byte_order": "little"}),
    ("null-be-inet6", "null", "00000018", {"null.family": 24, "null.byte_order": "big"}),
    # ---------------------------------------------------------------- NSH
    # tcpdump_nsh-over-vxlan-gpe.pcap: O and C set, length 6, MD type 2, next IPv4, two TLVs
    # with one byte of metadata each (RFC 8300 counts bytes) padded with 34 56 78
    ("nsh-md2", "nsh", "3006 02 01 ffffff ff 0001 02 01 12 345678 0002 03 01 12 345678", {
        "nsh.version": 0, "nsh.Obit": 1, "nsh.CBit": 1, "nsh.ttl": 0, "nsh.length": 6,
        "nsh.mdtype": 2, "nsh.nextproto": 1, "nsh.spi": 0xFFFFFF, "nsh.si": 255,
        "nsh.metadataclass": [1, 2], "nsh.metadatatype": [2, 3],
        "nsh.metadataunassignedbit": [0, 0], "nsh.metadatalen": [1, 1],
        "nsh.metadata": [b"\x12", b"\x12"], "nsh.metadata_pad": [b"\x34\x56\x78"] * 2}),
    # 0x0fc6: TTL 63, length 6; MD type 1, next Ethernet, SPI 258, SI 254, 4 context headers
    ("nsh-md1", "nsh", "0fc6 01 03 000102 fe 00000001 00000002 00000003 00000004", {
        "nsh.version": 0, "nsh.Obit": 0, "nsh.CBit": 0, "nsh.ttl": 63, "nsh.length": 6,
        "nsh.mdtype": 1, "nsh.nextproto": 3, "nsh.spi": 0x102, "nsh.si": 0xFE,
        "nsh.contextheader": [bytes.fromhex(f"0000000{i}") for i in range(1, 5)]}),
    # 0x4084: version 1, TTL 2, length 4; MD type 15 (experimental): 8 bytes kept as they are
    ("nsh-md-other", "nsh", "4084 0f 04 000001 01 deadbeef 01020304", {
        "nsh.version": 1, "nsh.Obit": 0, "nsh.CBit": 0, "nsh.ttl": 2, "nsh.length": 4,
        "nsh.mdtype": 15, "nsh.nextproto": 4, "nsh.spi": 1, "nsh.si": 1,
        "nsh.rest": bytes.fromhex("deadbeef01020304")}),
    # ---------------------------------------------------------------- DNS
    # tcpdump_dns_udp.pcap packet 1: query 0x5934, RD and AD, A www.tcpdump.org, EDNS OPT
    ("dns-query", "dns", "5934 0120 0001 0000 0000 0001 " + DNS_QUERY_SECTIONS, {
        "dns.id": 0x5934, "dns.flags": 0x0120, "dns.flags.response": 0, "dns.flags.opcode": 0,
        "dns.flags.truncated": 0, "dns.flags.recdesired": 1, "dns.flags.z": 0,
        "dns.flags.authenticated": 1, "dns.flags.checkdisable": 0, "dns.count.queries": 1,
        "dns.count.answers": 0, "dns.count.auth_rr": 0, "dns.count.add_rr": 1,
        "dns.sections": bytes.fromhex(DNS_QUERY_SECTIONS)}),
    # 0xa805: a response to a dynamic update (opcode 5), rcode 5 (refused); the counts are
    # zones, prerequisites and updates then
    ("dns-update-response", "dns", "abcd a805 0001 0002 0003 0004", {
        "dns.id": 0xABCD, "dns.flags": 0xA805, "dns.flags.response": 1, "dns.flags.opcode": 5,
        "dns.flags.authoritative": 0, "dns.flags.truncated": 0, "dns.flags.recdesired": 0,
        "dns.flags.recavail": 0, "dns.flags.z": 0, "dns.flags.authenticated": 0,
        "dns.flags.checkdisable": 0, "dns.flags.rcode": 5, "dns.count.zones": 1,
        "dns.count.prerequisites": 2, "dns.count.updates": 3, "dns.count.add_rr": 4,
        "dns.sections": b""}),
    # over TCP: length 29, query 0x0007 A example.com
    ("dns-tcp", "dns-tcp", "001d 0007 0100 0001 0000 0000 0000 "
     "076578616d706c6503636f6d00 0001 0001", {
         "dns.length": 29, "dns.id": 7, "dns.flags": 0x0100, "dns.flags.response": 0,
         "dns.flags.opcode": 0, "dns.flags.truncated": 0, "dns.flags.recdesired": 1,
         "dns.flags.z": 0, "dns.flags.checkdisable": 0, "dns.count.queries": 1,
         "dns.count.answers": 0, "dns.count.auth_rr": 0, "dns.count.add_rr": 0,
         "dns.sections": bytes.fromhex("076578616d706c6503636f6d0000010001")}),
    # ---------------------------------------------------------------- GRE
    # tcpdump_erspan-type-iii-ft-0.pcap: no options, ERSPAN III inside
    ("gre-plain", "gre", "0000 22eb", {
        "gre.flags_and_version": 0, "gre.flags.checksum": 0,
        "gre.flags.routing": 0, "gre.flags.key": 0,
        "gre.flags.sequence_number": 0, "gre.flags.strict_source_route": 0,
        "gre.flags.recursion_control": 0, "gre.flags.reserved": 0, "gre.flags.version": 0,
        "gre.proto": 0x22EB}),
    # tcpdump_erspan-type-ii-1.pcap: S, sequence number 171, ERSPAN (II) inside
    ("gre-sequence", "gre", "1000 88be 000000ab", {
        "gre.flags_and_version": 0x1000, "gre.flags.checksum": 0,
        "gre.flags.routing": 0, "gre.flags.key": 0,
        "gre.flags.sequence_number": 1, "gre.flags.strict_source_route": 0,
        "gre.flags.recursion_control": 0, "gre.flags.reserved": 0, "gre.flags.version": 0,
        "gre.proto": 0x88BE, "gre.sequence_number": 171}),
    # C: checksum (tshark: 0x77ff [correct] over an IPv4/ICMP payload) and offset
    ("gre-checksum", "gre", "8000 0800 77ff 0000", {
        "gre.flags_and_version": 0x8000, "gre.flags.checksum": 1,
        "gre.flags.routing": 0, "gre.flags.key": 0,
        "gre.flags.sequence_number": 0, "gre.flags.strict_source_route": 0,
        "gre.flags.recursion_control": 0, "gre.flags.reserved": 0, "gre.flags.version": 0,
        "gre.proto": 0x0800, "gre.checksum": 0x77FF, "gre.offset": 0}),
    # NVGRE (RFC 7637): K, key = VSID 0x001234 << 8 | flow id 1; and S
    ("gre-key-sequence", "gre", "3000 6558 00123401 00000007", {
        "gre.flags_and_version": 0x3000, "gre.flags.checksum": 0,
        "gre.flags.routing": 0, "gre.flags.key": 1,
        "gre.flags.sequence_number": 1, "gre.flags.strict_source_route": 0,
        "gre.flags.recursion_control": 0, "gre.flags.reserved": 0, "gre.flags.version": 0,
        "gre.proto": 0x6558, "gre.key": 0x00123401, "gre.sequence_number": 7}),
    # C and K with strict source route and recursion 5 (flags 0xad00)
    ("gre-checksum-key", "gre", "ad00 86dd abcd 0001 0000002a", {
        "gre.flags_and_version": 0xAD00, "gre.flags.checksum": 1, "gre.flags.routing": 0,
        "gre.flags.key": 1, "gre.flags.sequence_number": 0, "gre.flags.strict_source_route": 1,
        "gre.flags.recursion_control": 5, "gre.flags.reserved": 0, "gre.flags.version": 0,
        "gre.proto": 0x86DD, "gre.checksum": 0xABCD, "gre.offset": 1, "gre.key": 42}),
    # R (RFC 1701): checksum word, one IPv4 SRE of 4 bytes, the NULL SRE
    ("gre-routing", "gre", "4000 0800 0000 0000 0800 00 04 01020304 0000 00 00", {
        "gre.flags_and_version": 0x4000, "gre.flags.checksum": 0,
        "gre.flags.routing": 1, "gre.flags.key": 0,
        "gre.flags.sequence_number": 0, "gre.flags.strict_source_route": 0,
        "gre.flags.recursion_control": 0, "gre.flags.reserved": 0, "gre.flags.version": 0,
        "gre.proto": 0x0800, "gre.checksum": 0, "gre.offset": 0,
        "gre.sre_list": bytes.fromhex("080000040102030400000000")}),
    # PPTP (RFC 2637): version 1, PPP, K S A: payload length 4, call id 85, seq 9, ack 10
    ("gre-pptp", "gre", "3081 880b 0004 0055 00000009 0000000a", {
        "gre.flags_and_version": 0x3081, "gre.flags.checksum": 0, "gre.flags.routing": 0,
        "gre.flags.key": 1, "gre.flags.sequence_number": 1, "gre.flags.strict_source_route": 0,
        "gre.flags.recursion_control": 0, "gre.flags.ack": 1, "gre.flags.reserved": 0,
        "gre.flags.version": 1, "gre.proto": 0x880B, "gre.key.payload_length": 4,
        "gre.key.call_id": 85, "gre.sequence_number": 9, "gre.ack_number": 10}),
    # Version 1 that is not PPP: 0x0080 is a reserved bit (16 in gre.flags.reserved), no ack
    ("gre-v1-not-ppp", "gre", "2081 0800 00040055", {
        "gre.flags_and_version": 0x2081, "gre.flags.checksum": 0,
        "gre.flags.routing": 0, "gre.flags.key": 1,
        "gre.flags.sequence_number": 0, "gre.flags.strict_source_route": 0,
        "gre.flags.recursion_control": 0, "gre.flags.reserved": 16, "gre.flags.version": 1,
        "gre.proto": 0x0800, "gre.key": 0x00040055}),
    # ---------------------------------------------------------------- ERSPAN
    # tcpdump_erspan-type-ii-1.pcap: type II, VLAN 342, COS 6, span 666, index 32760
    ("erspan-ii", "erspan", "1156 c29a 00007ff8", {
        "erspan.version": 1, "erspan.vlan": 342, "erspan.cos": 6, "erspan.encap": 0,
        "erspan.truncated": 0, "erspan.spanid": 666, "erspan.reserved": 0,
        "erspan.index": 32760}),
    # type II, every field non-zero: encap 3 (tag preserved), T, reserved 0xabc
    ("erspan-ii-all", "erspan", "1005 7c07 abc12345", {
        "erspan.version": 1, "erspan.vlan": 5, "erspan.cos": 3, "erspan.encap": 3,
        "erspan.truncated": 1, "erspan.spanid": 7, "erspan.reserved": 0xABC,
        "erspan.index": 0x12345}),
    # tcpdump_erspan-type-iii-ft-0.pcap packet 1: VLAN 20, timestamp, gra 3, no sub-header
    ("erspan-iii", "erspan", "2014 0000 a3595bff 0000 0006", {
        "erspan.version": 2, "erspan.vlan": 20, "erspan.cos": 0, "erspan.bso": 0,
        "erspan.truncated": 0, "erspan.spanid": 0, "erspan.timestamp": 2740542463,
        "erspan.sgt": 0, "erspan.p": 0, "erspan.ft": 0, "erspan.hw": 0,
        "erspan.direction": 0, "erspan.gra": 3, "erspan.o": 0}),
    # type III with platform 1's sub-header (tshark: reserved 1280, VSM 291, port 11259375)
    ("erspan-iii-platform-1", "erspan",
     "2014 2c63 11223344 1234 805f 04500123 00abcdef", {
         "erspan.version": 2, "erspan.vlan": 20, "erspan.cos": 1, "erspan.bso": 1,
         "erspan.truncated": 1, "erspan.spanid": 99, "erspan.timestamp": 0x11223344,
         "erspan.sgt": 0x1234, "erspan.p": 1, "erspan.ft": 0, "erspan.hw": 5,
         "erspan.direction": 1, "erspan.gra": 3, "erspan.o": 1, "erspan.platid": 1,
         "erspan.pid1.rsvd1": 1280, "erspan.pid1.vsmid": 291,
         "erspan.pid1.port_index": 11259375}),
    # platform 5 (switch 7, port 1110, seconds 153); ft 2 (IP)
    ("erspan-iii-platform-5", "erspan",
     "2014 2c63 11223344 1234 885f 14070456 00000099", {
         "erspan.version": 2, "erspan.vlan": 20, "erspan.cos": 1, "erspan.bso": 1,
         "erspan.truncated": 1, "erspan.spanid": 99, "erspan.timestamp": 0x11223344,
         "erspan.sgt": 0x1234, "erspan.p": 1, "erspan.ft": 2, "erspan.hw": 5,
         "erspan.direction": 1, "erspan.gra": 3, "erspan.o": 1, "erspan.platid": 5,
         "erspan.pid5.switchid": 7, "erspan.pid5.port_index": 1110,
         "erspan.pid5.timestamp": 153}),
    # platform 63 (no layout): tshark's 26 low bits, vxlankit's 32 above them
    ("erspan-iii-platform-other", "erspan",
     "2014 0000 00000000 0000 0001 ff456789 00000099", {
         "erspan.version": 2, "erspan.vlan": 20, "erspan.cos": 0, "erspan.bso": 0,
         "erspan.truncated": 0, "erspan.spanid": 0, "erspan.timestamp": 0, "erspan.sgt": 0,
         "erspan.p": 0, "erspan.ft": 0, "erspan.hw": 0, "erspan.direction": 0,
         "erspan.gra": 0, "erspan.o": 1, "erspan.platid": 63,
         "erspan.pid.rsvd_upper": 0x03456789 << 6, "erspan.pid.rsvd": 0x99}),
    # an unknown version: only the first word is the header's
    ("erspan-unknown-version", "erspan", "3005", {"erspan.version": 3, "erspan.vlan": 5}),
    # ---------------------------------------------------------------- IPv6 (RFC 8200)
    # tcpdump_erspan-type-iii-pb-1.pcap: 0x63000001 = version 6, traffic class 0x30 (DSCP 12,
    # ECN 0), flow 1; payload length 288, next header 60 (destination options), hop limit 1.
    ("ipv6-erspan", "ipv6", "63000001 0120 3c 01 41207467170042000143" "01007f01400e"
     " 4591bfd7cd8700d7006800380101e800", {
         "ipv6.version": 6, "ipv6.tclass": 0x30, "ipv6.tclass.dscp": 12, "ipv6.tclass.ecn": 0,
         "ipv6.flow": 1, "ipv6.plen": 288, "ipv6.nxt": 60, "ipv6.hlim": 1,
         "ipv6.src": "4120:7467:1700:4200:143:100:7f01:400e",
         "ipv6.dst": "4591:bfd7:cd87:d7:68:38:101:e800"}),
    # 0x6fbfffff: traffic class 0xfb (DSCP 62, ECN 3), flow 0xfffff; RFC 5952 text.
    ("ipv6-compressed", "ipv6", "6fbfffff 0008 11 40 " + V6_SRC.hex() + " "
     "00000000000000000000ffffc0000201", {
         "ipv6.version": 6, "ipv6.tclass": 0xFB, "ipv6.tclass.dscp": 62, "ipv6.tclass.ecn": 3,
         "ipv6.flow": 0xFFFFF, "ipv6.plen": 8, "ipv6.nxt": 17, "ipv6.hlim": 64,
         "ipv6.src": "2001:db8::1", "ipv6.dst": "::ffff:192.0.2.1"}),
    # tcpdump_icmpv6.pcap packet 2: next header 58, length 0 (8 bytes), router alert (MLD), PadN.
    ("ipv6-hopopts", "ipv6.hopopts", "3a 00 050200000100", {
        "ipv6.hopopts.nxt": 58, "ipv6.hopopts.len": 0, "ipv6.hopopts.len_oct": 8,
        "ipv6.hopopts.options": bytes.fromhex("050200000100")}),
    # tcpdump_erspan-type-iii-pb-1.pcap: next header 47 (GRE), length 1 (16 bytes).
    ("ipv6-dstopts", "ipv6.dstopts", "2f 01 0101010001004001 00007f000000", {
        "ipv6.dstopts.nxt": 47, "ipv6.dstopts.len": 1, "ipv6.dstopts.len_oct": 16,
        "ipv6.dstopts.options": bytes.fromhex("01010100010040010000" "7f000000")}),
    # Type 0, one address left to visit (RFC 2460 4.4): reserved word, then the address.
    ("ipv6-routing", "ipv6.routing", "11 02 00 01 00000000 " + V6_DST.hex(), {
        "ipv6.routing.nxt": 17, "ipv6.routing.len": 2, "ipv6.routing.len_oct": 24,
        "ipv6.routing.type": 0, "ipv6.routing.segleft": 1,
        "ipv6.routing.data": bytes(4) + V6_DST}),
    # 0x0019 = offset 3 (x 8 bytes), reserved bits 0, M 1.
    ("ipv6-fraghdr", "ipv6.fraghdr", "06 00 0019 deadbeef", {
        "ipv6.fraghdr.nxt": 6, "ipv6.fraghdr.reserved_octet": 0, "ipv6.fraghdr.offset": 3,
        "ipv6.fraghdr.reserved_bits": 0, "ipv6.fraghdr.more": 1, "ipv6.fraghdr.ident": 0xDEADBEEF}),
    # AH (RFC 4302): payload length 4 = (4 + 2) * 4 = 24 bytes, a 12-byte ICV (HMAC-SHA1-96).
    ("ah", "ah", "11 04 0000 00001000 00000007 000102030405060708090a0b", {
        "ah.next_header": 17, "ah.length": 4, "ah.reserved": b"\0\0", "ah.spi": 0x1000,
        "ah.sequence": 7, "ah.icv": bytes(range(12))}),
    ("esp", "esp", "0000abcd 00000003", {"esp.spi": 0xABCD, "esp.sequence": 3}),
]

IDS = [v[0] for v in VECTORS]


@pytest.mark.parametrize(("name", "codec", "hexstr", "fields"), VECTORS, ids=IDS)
def test_fast_decode(name: str, codec: str, hexstr: str, fields: dict[str, Any]) -> None:
    raw = bytes.fromhex(hexstr.replace(" ", ""))
    assert CODECS[codec].decode(raw, 0) == fields
    # At an offset, with bytes after: reads exactly its own header (a DNS message over UDP
    # has no length of its own: it runs to the end of the datagram).
    after = b"" if codec in RUNS_TO_THE_END else b"\x5a" * 7
    assert CODECS[codec].decode(b"\xa5" * 3 + raw + after, 3) == fields


@pytest.mark.parametrize(("name", "codec", "hexstr", "fields"), VECTORS, ids=IDS)
def test_schema_parse(name: str, codec: str, hexstr: str, fields: dict[str, Any]) -> None:
    raw = bytes.fromhex(hexstr.replace(" ", ""))
    assert CODECS[codec].parse(raw) == fields


@pytest.mark.parametrize(("name", "codec", "hexstr", "fields"), VECTORS, ids=IDS)
def test_fast_encode(name: str, codec: str, hexstr: str, fields: dict[str, Any]) -> None:
    raw = bytes.fromhex(hexstr.replace(" ", ""))
    assert CODECS[codec].encode(dict(fields)) == raw


@pytest.mark.parametrize(("name", "codec", "hexstr", "fields"), VECTORS, ids=IDS)
def test_schema_build(name: str, codec: str, hexstr: str, fields: dict[str, Any]) -> None:
    raw = bytes.fromhex(hexstr.replace(" ", ""))
    assert CODECS[codec].build(dict(fields)) == raw


def test_every_layer_has_vectors() -> None:
    assert {v[1] for v in VECTORS} == set(CODECS)


def test_sll_fields_that_may_be_left_out() -> None:
    """No source address (a zero one), no SLL2 reserved field (zero): the encoders' defaults."""
    fields = {"sll.pkttype": 4, "sll.hatype": 1, "sll.halen": 0, "sll.etype": 0x0800}
    assert sll.encode(fields) == bytes.fromhex("0004 0001 0000 0000000000000000 0800")
    v2 = {**fields, "sll.ifindex": 2}
    assert sll.encode_v2(v2) == bytes.fromhex("0800 0000 00000002 0001 04 00 0000000000000000")
