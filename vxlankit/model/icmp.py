"""ICMP errors as Linux builds them, for the models: the router's and the host's icmp_send,
and the VTEP's own answer to a frame too big for the path (iptunnel_pmtud_build_icmp)."""

from __future__ import annotations

import struct

from vxlankit.addr import ip_bytes, ip_str
from vxlankit.checksum import internet_checksum
from vxlankit.model.events import ETH_P_IP, IPPROTO_ICMP, Frame, IpInfo

ICMP_DEST_UNREACH = 3
ICMP_PORT_UNREACH = 3
ICMP_FRAG_NEEDED = 4
ICMP_QUOTE_MAX = 576 - 20 - 8  # the error, with its IP and ICMP headers, fits in 576 bytes
_ICMP_ERRORS = frozenset((3, 4, 5, 11, 12))
_MIN_PMTUD_MTU = 576  # iptunnel_pmtud_check_icmp: no answer below the IPv4 minimum


def ipv4_packet(src: str, dst: str, proto: int, body: bytes, *, ttl: int = 64, tos: int = 0,
                ident: int = 0, df: bool = False) -> bytes:
    header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(body), ident,
                                   0x4000 if df else 0, ttl, proto, 0, ip_bytes(src),
                                   ip_bytes(dst)))
    struct.pack_into("!H", header, 10, internet_checksum(header))
    return bytes(header) + body


def icmp_body(icmp_type: int, code: int, rest: bytes, quoted: bytes) -> bytes:
    """An ICMP error message (type, code, checksum, the 4-byte rest, the quote)."""
    body = bytes([icmp_type, code]) + b"\0\0" + rest + quoted
    return body[:2] + struct.pack("!H", internet_checksum(body)) + body[4:]


def quote(packet: bytes) -> bytes:
    """What icmp_send quotes of ``packet`` (an IPv4 packet): as much as fits in 576 bytes."""
    total = (packet[2] << 8) | packet[3] if len(packet) >= 4 else len(packet)
    return packet[:min(total, ICMP_QUOTE_MAX)]


def pmtud_icmp(frame: Frame, mtu: int) -> Frame | None:
    """The VTEP's answer to ``frame`` (Ethernet, too big for the path): an ICMP
    fragmentation needed with ``mtu``, from the inner destination to the inner source, the
    MACs swapped; None where iptunnel_pmtud_check_icmp sends nothing (not IPv4, MTU under
    576, DF clear or a fragment, a broadcast/multicast/zero/loopback address, an ICMP
    error)."""
    packet = frame.payload
    if frame.ethertype != ETH_P_IP or len(packet) < 20 or mtu < _MIN_PMTUD_MTU:
        return None
    if (packet[6] << 8 | packet[7]) != 0x4000:
        return None  # iph->frag_off != htons(IP_DF)
    src, dst = packet[12:16], packet[16:20]
    if (dst == b"\xff" * 4 or 224 <= dst[0] <= 239 or src[0] in (0, 127) or 224 <= src[0]
            or src == b"\xff" * 4):
        return None
    ihl = (packet[0] & 0x0F) * 4
    if packet[9] == IPPROTO_ICMP and len(packet) > ihl and packet[ihl] in _ICMP_ERRORS:
        return None
    # iptunnel_pmtud_build_icmp: the quote is trimmed to 576 - 28 bytes; the header has TOS
    # 0, ID 0, DF, the offending packet's TTL, and the two addresses swapped.
    body = icmp_body(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, struct.pack("!HH", 0, mtu),
                     packet[:ICMP_QUOTE_MAX])
    reply = ipv4_packet(ip_str(dst), ip_str(src), IPPROTO_ICMP, body, ttl=packet[8], df=True)
    return Frame(frame.src, frame.dst, ETH_P_IP, None,
                 IpInfo(ip_str(dst), ip_str(src), IPPROTO_ICMP, packet[8], 0, True), reply)
