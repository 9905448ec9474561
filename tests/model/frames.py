"""Frames and addresses of the seed scenario: Docker overlay 10.0.0.0/24, VNI 4096, over two
underlay networks (node1 172.31.1.0/24, node2 192.168.1.0/24) joined by routers."""

from __future__ import annotations

from vxlankit.addr import docker_mac
from vxlankit.model.events import (
    ARPOP_REPLY,
    ARPOP_REQUEST,
    ETH_P_ARP,
    ETH_P_IP,
    IPPROTO_ICMP,
    IPPROTO_UDP,
    ArpInfo,
    Frame,
    IpInfo,
)

# The models' time is integer nanoseconds.
SEC = 1_000_000_000
MS = 1_000_000
US = 1_000

BROADCAST = "ff:ff:ff:ff:ff:ff"
ZERO = "00:00:00:00:00:00"
VNI = 4096

C1_IP = "10.0.0.3"
C2_IP = "10.0.0.4"
C3_IP = "10.0.0.5"
C1_MAC = docker_mac(C1_IP)  # 02:42:0a:00:00:03
C2_MAC = docker_mac(C2_IP)
C3_MAC = docker_mac(C3_IP)

NODE1_IP = "172.31.1.5"
NODE2_IP = "192.168.1.5"
NODE3_IP = "192.168.1.6"
NODE1_MAC = "0a:00:00:00:01:05"  # node1's underlay NIC
NODE2_MAC = "0a:00:00:00:02:05"
NODE1_GW_MAC = "0a:00:00:00:01:01"  # node1's router on 172.31.1.0/24
NODE2_GW_MAC = "0a:00:00:00:02:01"
VXLAN1_MAC = "b2:5a:11:00:00:01"  # node1's vxlan0 device address
VXLAN2_MAC = "b2:5a:22:00:00:02"


def arp_request(src_mac: str, src_ip: str, target_ip: str) -> Frame:
    return Frame(BROADCAST, src_mac, ETH_P_ARP,
                 arp=ArpInfo(ARPOP_REQUEST, src_mac, src_ip, ZERO, target_ip),
                 payload=b"\x00\x01\x08\x00\x06\x04\x00\x01" + b"\x00" * 20)


def arp_reply(src_mac: str, src_ip: str, dst_mac: str, dst_ip: str) -> Frame:
    return Frame(dst_mac, src_mac, ETH_P_ARP,
                 arp=ArpInfo(ARPOP_REPLY, src_mac, src_ip, dst_mac, dst_ip))


def icmp_echo(src_mac: str, dst_mac: str, src_ip: str, dst_ip: str, *, seq: int = 1,
              tos: int = 0, df: bool = True) -> Frame:
    # The payload only has to be carried unchanged; its bytes are not interpreted.
    return Frame(dst_mac, src_mac, ETH_P_IP,
                 ip=IpInfo(src_ip, dst_ip, IPPROTO_ICMP, 64, tos, df),
                 payload=bytes([0x45, tos]) + seq.to_bytes(2, "big") + b"\x00" * 80)


def udp_frame(src_mac: str, dst_mac: str, src_ip: str, dst_ip: str, sport: int,
              dport: int) -> Frame:
    return Frame(dst_mac, src_mac, ETH_P_IP,
                 ip=IpInfo(src_ip, dst_ip, IPPROTO_UDP, 64, 0, False, sport, dport),
                 payload=b"\x45\x00" + b"\x00" * 40)


def unicast(src_mac: str, dst_mac: str, tag: int = 0) -> Frame:
    """A non-IP frame (ethertype 0x88b5, local experimental) for pure L2 tests."""
    return Frame(dst_mac, src_mac, 0x88B5, payload=bytes([tag]) * 46)
