"""Packet 1 of tcpdump's vxlan.pcap, worked out by hand from the RFC diagrams.

tcpdump's own expected output (tests/vxlan.out, beside the capture) says:
    36:dc:85:1e:b3:40 > 00:16:3e:08:71:cf, ethertype IPv4 (0x0800), length 148:
    192.168.203.1.45149 > 192.168.202.1.4789: VXLAN, flags [I] (0x08), vni 100
    00:16:3e:37:f6:04 > 00:30:88:01:00:02, ethertype IPv4 (0x0800), length 98:
    192.168.203.3 > 192.168.203.5: ICMP echo request, id 1292, seq 1, length 64
"""

from __future__ import annotations

import re

from tests.codec.realcaptures import read_pcap, real_capture
from vxlankit import DecodeOptions, build, decode, encode
from vxlankit.packet import CHECKSUM_GOOD, CHECKSUM_NOT_PRESENT, OK

# The 148 bytes after the 24-byte pcap header and the 16-byte record header.
PACKET = bytes.fromhex(
    # Ethernet: dst, src, type IPv4                                       offset 0
    "00163e0871cf" "36dc851eb340" "0800"
    # IPv4: 45 | tos 00 | len 0x0086 | id 0xd2c0 | DF | ttl 64, UDP | csum | src | dst     14
    "4500" "0086" "d2c0" "4000" "4011" "5152" "c0a8cb01" "c0a8ca01"
    # UDP: 45149 -> 4789, length 0x72 = 114, checksum 0 (none)                           34
    "b05d" "12b5" "0072" "0000"
    # VXLAN: flags I, VNI 0x000064 = 100                                                   42
    "08000000" "00006400"
    # inner Ethernet                                                                       50
    "003088010002" "00163e37f604" "0800"
    # inner IPv4: len 0x54 = 84, id 0, DF, ttl 64, ICMP, 192.168.203.3 -> .5              64
    "4500" "0054" "0000" "4000" "4001" "234f" "c0a8cb03" "c0a8cb05"
    # ICMP echo request: type 8 code 0, checksum, id 0x050c = 1292, seq 1                  84
    "0800" "f6f2" "050c" "0001"
    # 56 bytes of ping data: a struct timeval, then 0x10..0x37                             92
    "fce29751" "00000000" "a6f80200" "00000000"
    "101112131415161718191a1b1c1d1e1f2021222324252627" "28292a2b2c2d2e2f3031323334353637"
)
PING_DATA = PACKET[92:]


def _ones_sum(data: bytes) -> int:
    """The RFC 1071 sum, written out independently of vxlankit.checksum."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return total


def test_literal_is_packet_one_of_the_capture() -> None:
    assert len(PACKET) == 148
    linktype, frames = read_pcap(real_capture("tcpdump_vxlan.pcap"))
    assert linktype == 1
    assert frames[0] == PACKET


def test_hand_checked_checksums() -> None:
    assert _ones_sum(PACKET[14:34]) == 0xFFFF  # outer IPv4 header
    assert _ones_sum(PACKET[64:84]) == 0xFFFF  # inner IPv4 header
    assert _ones_sum(PACKET[84:]) == 0xFFFF  # ICMP message


def test_every_field() -> None:
    packet = decode(PACKET)
    assert packet.protocols == "eth:ip:udp:vxlan:eth:ip:icmp:data"
    assert packet.errors == []
    assert packet.ok
    assert packet.linktype == 1
    assert packet.data == PACKET
    eth, ip, udp, vx, ieth, iip, icmp, data = packet.layers
    assert [(lay.offset, lay.length) for lay in packet.layers] == [
        (0, 14), (14, 20), (34, 8), (42, 8), (50, 14), (64, 20), (84, 8), (92, 56)]
    assert all(lay.status == OK and lay.raw is None for lay in packet.layers)

    assert eth.fields == {"eth.dst": "00:16:3e:08:71:cf", "eth.src": "36:dc:85:1e:b3:40",
                          "eth.type": 0x0800}
    assert ip.fields == {
        "ip.version": 4, "ip.hdr_len": 20, "ip.dsfield": 0, "ip.dsfield.dscp": 0,
        "ip.dsfield.ecn": 0, "ip.len": 134, "ip.id": 0xD2C0, "ip.flags": 0x02,
        "ip.flags.rb": 0, "ip.flags.df": 1, "ip.flags.mf": 0, "ip.frag_offset": 0,
        "ip.ttl": 64, "ip.proto": 17, "ip.checksum": 0x5152, "ip.checksum.status": CHECKSUM_GOOD,
        "ip.src": "192.168.203.1", "ip.dst": "192.168.202.1", "ip.options": b"",
    }
    assert udp.fields == {"udp.srcport": 45149, "udp.dstport": 4789, "udp.length": 114,
                          "udp.checksum": 0, "udp.checksum.status": CHECKSUM_NOT_PRESENT}
    assert vx.fields == {
        "vxlan.flags": 0x0800, "vxlan.flag_g": 0, "vxlan.flag_i": 1, "vxlan.flag_d": 0,
        "vxlan.flag_a": 0, "vxlan.flags_reserved": 0, "vxlan.gbp": 0, "vxlan.vni": 100,
        "vxlan.reserved8": 0,
    }
    assert vx.notes == ()
    assert ieth.fields == {"eth.dst": "00:30:88:01:00:02", "eth.src": "00:16:3e:37:f6:04",
                           "eth.type": 0x0800}
    assert iip.fields == {
        "ip.version": 4, "ip.hdr_len": 20, "ip.dsfield": 0, "ip.dsfield.dscp": 0,
        "ip.dsfield.ecn": 0, "ip.len": 84, "ip.id": 0, "ip.flags": 0x02,
        "ip.flags.rb": 0, "ip.flags.df": 1, "ip.flags.mf": 0, "ip.frag_offset": 0,
        "ip.ttl": 64, "ip.proto": 1, "ip.checksum": 0x234F, "ip.checksum.status": CHECKSUM_GOOD,
        "ip.src": "192.168.203.3", "ip.dst": "192.168.203.5", "ip.options": b"",
    }
    assert icmp.fields == {"icmp.type": 8, "icmp.code": 0, "icmp.checksum": 0xF6F2,
                           "icmp.checksum.status": CHECKSUM_GOOD, "icmp.ident": 1292,
                           "icmp.seq": 1}
    assert data.fields == {"data.data": PING_DATA, "data.len": 56}

    # Lengths agree with each other: 148 = 14 + ip.len; ip.len = 20 + udp.length;
    # udp.length = 8 + 8 + 98 (inner frame); inner ip.len = 20 + 8 + 56.
    assert 14 + ip["ip.len"] == len(PACKET)
    assert 20 + udp["udp.length"] == ip["ip.len"]
    assert 8 + 8 + 98 == udp["udp.length"]
    assert 20 + 8 + len(PING_DATA) == iip["ip.len"]

    # Occurrence lookups: outer first.
    assert packet.values("ip.src") == ["192.168.203.1", "192.168.203.3"]
    assert packet.get("ip.dst", 2) == "192.168.203.5"
    assert packet["vxlan.vni"] == 100


def test_round_trips() -> None:
    packet = decode(PACKET)
    assert encode(packet, fix_lengths=False, compute_checksums=False) == PACKET
    # Its lengths and checksums are right, so the fix-ups change nothing.
    assert encode(packet) == PACKET


def test_built_from_scratch() -> None:
    layers = [
        build.eth(dst="00:16:3e:08:71:cf", src="36:dc:85:1e:b3:40"),
        build.ipv4(src="192.168.203.1", dst="192.168.202.1", id=0xD2C0, df=True, ttl=64),
        build.udp(45149, 4789, checksum=0),
        build.vxlan(vni=100),
        build.eth(dst="00:30:88:01:00:02", src="00:16:3e:37:f6:04"),
        build.ipv4(src="192.168.203.3", dst="192.168.203.5", id=0, df=True, ttl=64),
        build.icmp_echo(ident=1292, seq=1),
        build.payload(PING_DATA),
    ]
    assert encode(layers) == PACKET


def test_not_vxlan_without_its_port() -> None:
    packet = decode(PACKET, options=DecodeOptions().with_vxlan_ports([8472]))
    assert packet.protocols == "eth:ip:udp:data"
    assert encode(packet, fix_lengths=False, compute_checksums=False) == PACKET


def test_agrees_with_tcpdump_output() -> None:
    out = real_capture("tcpdump_vxlan.out").read_text()
    first = out.split("\n    2 ")[0]
    outer = re.search(r"(\S+) > (\S+), ethertype IPv4 \(0x0800\), length (\d+): "
                      r"([\d.]+)\.(\d+) > ([\d.]+)\.(\d+): VXLAN, flags \[I\] \(0x08\), "
                      r"vni (\d+)", first)
    inner = re.search(r"\n(\S+) > (\S+), ethertype IPv4 \(0x0800\), length (\d+): "
                      r"([\d.]+) > ([\d.]+): ICMP echo request, id (\d+), seq (\d+), "
                      r"length (\d+)", first)
    assert outer and inner, first
    packet = decode(PACKET)
    eth, ip, udp, vx, ieth, iip, icmp, data = packet.layers
    assert outer.groups() == (
        eth["eth.src"], eth["eth.dst"], str(len(PACKET)), ip["ip.src"], str(udp["udp.srcport"]),
        ip["ip.dst"], str(udp["udp.dstport"]), str(vx["vxlan.vni"]))
    assert inner.groups() == (
        ieth["eth.src"], ieth["eth.dst"], str(len(PACKET) - ieth.offset), iip["ip.src"],
        iip["ip.dst"], str(icmp["icmp.ident"]), str(icmp["icmp.seq"]),
        str(icmp.length + data.length))
