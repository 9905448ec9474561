"""The packets a trace injects, as bytes and as the models' ``Frame`` values, and how a hop
line shows them.  Pure."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from vxlankit.addr import ip_bytes, ip_str
from vxlankit.checksum import internet_checksum
from vxlankit.model.events import (
    ARPOP_REPLY,
    ARPOP_REQUEST,
    ETH_P_ARP,
    ETH_P_IP,
    ArpInfo,
    Frame,
    IpInfo,
)

BROADCAST = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"
IPPROTO = {"icmp": 1, "tcp": 6, "udp": 17}
PROTO_NAME = {1: "ICMP", 6: "TCP", 17: "UDP"}
ICMP_ECHO, ICMP_ECHOREPLY = 8, 0
ETH_HLEN = 14


@dataclass(frozen=True)
class Probe:
    """What to send: ``size`` is the IP packet's total length (ping -s 56 makes 84)."""

    src: str
    dst: str
    proto: str = "icmp"
    dport: int = 0
    sport: int = 40000
    size: int = 84
    df: bool = False
    ttl: int = 64

    def minimum(self) -> int:
        return 20 + {"icmp": 8, "udp": 8, "tcp": 20}[self.proto]

    def reversed(self) -> Probe:
        """The answer: an echo reply (the kernel's has DF clear), or the transport's answer
        from the destination port back to the source port."""
        df = False if self.proto == "icmp" else self.df
        return Probe(self.dst, self.src, self.proto, self.sport, self.dport, self.size, df)


def _sum16(data: bytes) -> int:
    return internet_checksum(data)


def ip_packet(probe: Probe, *, reply: bool = False, ident: int = 1) -> bytes:
    """An IPv4 packet of ``probe.size`` bytes with correct checksums."""
    src, dst = ip_bytes(probe.src), ip_bytes(probe.dst)
    proto = IPPROTO[probe.proto]
    body_len = probe.size - 20
    if probe.proto == "icmp":
        data = bytes(i & 0xFF for i in range(body_len - 8))
        head = struct.pack("!BBHHH", ICMP_ECHOREPLY if reply else ICMP_ECHO, 0, 0, ident, 1)
        l4 = head + data
        l4 = l4[:2] + struct.pack("!H", _sum16(l4)) + l4[4:]
    else:
        pseudo = src + dst + struct.pack("!BBH", 0, proto, body_len)
        if probe.proto == "udp":
            l4 = struct.pack("!HHHH", probe.sport, probe.dport, body_len, 0) + bytes(body_len - 8)
            csum = _sum16(pseudo + l4) or 0xFFFF
            l4 = l4[:6] + struct.pack("!H", csum) + l4[8:]
        else:
            flags = 0x12 if reply else 0x02  # SYN-ACK / SYN
            l4 = (struct.pack("!HHIIBBHHH", probe.sport, probe.dport, 1, 1 if reply else 0,
                              5 << 4, flags, 64240, 0, 0) + bytes(body_len - 20))
            l4 = l4[:16] + struct.pack("!H", _sum16(pseudo + l4)) + l4[18:]
    header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, probe.size, ident,
                                   0x4000 if probe.df else 0, probe.ttl, proto, 0, src, dst))
    struct.pack_into("!H", header, 10, _sum16(bytes(header)))
    return bytes(header) + l4


def ip_info(packet: bytes) -> IpInfo:
    ihl = (packet[0] & 0x0F) * 4
    sport = dport = None
    if packet[9] in (6, 17) and len(packet) >= ihl + 4:
        sport, dport = struct.unpack_from("!HH", packet, ihl)
    return IpInfo(ip_str(packet[12:16]), ip_str(packet[16:20]), packet[9], packet[8], packet[1],
                  bool(packet[6] & 0x40), sport, dport)


def ip_frame(dst_mac: str, src_mac: str, packet: bytes) -> Frame:
    return Frame(dst_mac, src_mac, ETH_P_IP, None, ip_info(packet), packet)


def arp_request(src_mac: str, src_ip: str, target_ip: str) -> Frame:
    return Frame(BROADCAST, src_mac, ETH_P_ARP,
                 arp=ArpInfo(ARPOP_REQUEST, src_mac, src_ip, ZERO_MAC, target_ip))


def arp_reply(mac: str, ip: str, to_mac: str, to_ip: str) -> Frame:
    return Frame(to_mac, mac, ETH_P_ARP, arp=ArpInfo(ARPOP_REPLY, mac, ip, to_mac, to_ip))


def decrease_ttl(packet: bytes) -> bytes:
    """ip_decrease_ttl: TTL - 1, the header checksum recomputed."""
    out = bytearray(packet)
    out[8] -= 1
    ihl = (out[0] & 0x0F) * 4
    out[10:12] = b"\0\0"
    struct.pack_into("!H", out, 10, _sum16(bytes(out[:ihl])))
    return bytes(out)


def describe(frame: Frame) -> str:
    """The frame as one hop line shows it: addresses, protocol, IP length, TTL, DF; MACs."""
    macs = f"eth {frame.src} > {frame.dst}" if frame.src else ""
    if frame.arp is not None:
        a = frame.arp
        if a.opcode == ARPOP_REQUEST:
            return f"ARP who-has {a.target_ip} tell {a.sender_ip}; {macs}"
        return f"ARP {a.sender_ip} is-at {a.sender_mac}; {macs}"
    if frame.ethertype == ETH_P_IP and len(frame.payload) >= 20:
        p = frame.payload
        info = ip_info(p)
        name = PROTO_NAME.get(info.proto, f"proto {info.proto}")
        ihl = (p[0] & 0x0F) * 4
        if info.proto == 1 and len(p) > ihl:
            name = {0: "ICMP echo reply", 8: "ICMP echo request", 3: "ICMP unreachable",
                    11: "ICMP time exceeded"}.get(p[ihl], "ICMP")
        elif info.sport is not None:
            name = f"{name} {info.sport} > {info.dport}"
        total = (p[2] << 8) | p[3]
        df = " DF" if info.df else ""
        text = f"{info.src} > {info.dst} {name}, {total} B, ttl {info.ttl}{df}"
        return f"{text}; {macs}" if macs else text
    return f"ethertype 0x{frame.ethertype:04x}; {macs}"


__all__ = ["BROADCAST", "IPPROTO", "Probe", "ZERO_MAC", "arp_reply", "arp_request",
           "decrease_ttl", "describe", "ip_frame", "ip_info", "ip_packet"]
