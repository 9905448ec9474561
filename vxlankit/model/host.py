"""A host's own IP stack as the underlay sees it: what a Linux host does with the IPv4
packets addressed to it that are not for a bridge or a container.

* a UDP datagram for a port a socket is bound to (a vxlan device's socket) goes up whole:
  fragments are reassembled first (ip_defrag; no reassembly timeout: the model has no
  timers), and ``UdpDelivered`` hands it to the socket's owner;
* a UDP datagram for a port nobody listens on is dropped (``NO_SOCKET``: __udp4_lib_rcv,
  UdpNoPorts) and answered with ICMP port unreachable, quoting as icmp_send does (no rate
  limiting: icmp_ratelimit allows a burst of 6 and one a second after, more than any
  exchange here sends);
* an ICMP fragmentation needed about a datagram the host sent updates the route to its
  destination (ipv4_update_pmtu, never below ip_rt_min_pmtu, 552): ``PmtuLearned``, which
  the host's VTEPs take as ``PathMtu``.

Sans-IO like the other models: ``handle(FrameReceived(port, frame), now)`` returns outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vxlankit.addr import BROADCAST_MAC, ip_str
from vxlankit.checksum import internet_checksum
from vxlankit.model.events import (
    ETH_P_IP,
    IPPROTO_ICMP,
    IPPROTO_UDP,
    Dropped,
    DropReason,
    Forwarded,
    Frame,
    FrameReceived,
    IpInfo,
    Output,
    PmtuLearned,
    UdpDelivered,
)
from vxlankit.model.icmp import (
    ICMP_DEST_UNREACH,
    ICMP_FRAG_NEEDED,
    ICMP_PORT_UNREACH,
    icmp_body,
    ipv4_packet,
    quote,
)

MIN_PMTU = 552  # ip_rt_min_pmtu
ICMP_TOS = 0xC0  # IPTOS_PREC_INTERNETCONTROL: icmp_send's TOS for an error


@dataclass
class _Pieces:
    parts: dict[int, bytes] = field(default_factory=dict)
    header: bytes | None = None
    length: int | None = None


class Reassembly:
    """ip_defrag, reduced: IPv4 fragments in, the whole packet out when every piece is in
    (header of the first piece, length and checksum fixed, no fragment fields)."""

    def __init__(self) -> None:
        self._pending: dict[tuple[bytes, bytes, int, int], _Pieces] = {}

    def add(self, packet: bytes) -> bytes | None:
        key = (packet[12:16], packet[16:20], (packet[4] << 8) | packet[5], packet[9])
        pieces = self._pending.setdefault(key, _Pieces())
        ihl = (packet[0] & 0x0F) * 4
        total = (packet[2] << 8) | packet[3]
        field_ = (packet[6] << 8) | packet[7]
        offset = (field_ & 0x1FFF) * 8
        pieces.parts[offset] = packet[ihl:total]
        if offset == 0:
            pieces.header = packet[:ihl]
        if not field_ & 0x2000:
            pieces.length = offset + total - ihl
        if pieces.header is None or pieces.length is None:
            return None
        body = bytearray()
        for off in sorted(pieces.parts):
            if off > len(body):
                return None
            body[off:] = pieces.parts[off]
        if len(body) < pieces.length:
            return None
        del self._pending[key]
        header = bytearray(pieces.header)
        header[2:4] = (len(header) + pieces.length).to_bytes(2, "big")
        header[6:8] = b"\0\0"
        header[10:12] = b"\0\0"
        header[10:12] = internet_checksum(bytes(header)).to_bytes(2, "big")
        return bytes(header) + bytes(body[:pieces.length])


class Host:
    """The stack of the host at ``ip`` (``mac`` its NIC's, ``gateway_mac`` its default
    route's next hop), with UDP sockets on ``udp_ports``."""

    def __init__(self, name: str, ip: str, mac: str, gateway_mac: str,
                 udp_ports: tuple[int, ...] = (), ip_id_start: int = 0) -> None:
        self.name = name
        self.ip = ip
        self.mac = mac
        self.gateway_mac = gateway_mac
        self.udp_ports = set(udp_ports)
        self._ip_id = ip_id_start & 0xFFFF
        self._defrag = Reassembly()

    def next_deadline(self) -> int | None:
        return None

    def handle(self, event: FrameReceived, now: int) -> list[Output]:
        frame = event.frame
        packet = frame.payload
        if (frame.ethertype != ETH_P_IP or frame.dst not in (self.mac, BROADCAST_MAC)
                or len(packet) < 20 or packet[0] >> 4 != 4 or ip_str(packet[16:20]) != self.ip):
            return []
        if (packet[6] << 8 | packet[7]) & 0x3FFF:
            whole = self._defrag.add(packet)
            if whole is None:
                return []
            packet = whole
        ihl = (packet[0] & 0x0F) * 4
        if packet[9] == IPPROTO_UDP and len(packet) >= ihl + 8:
            dport = (packet[ihl + 2] << 8) | packet[ihl + 3]
            if dport in self.udp_ports:
                info = IpInfo(ip_str(packet[12:16]), self.ip, IPPROTO_UDP, packet[8], packet[1],
                              bool(packet[6] & 0x40), (packet[ihl] << 8) | packet[ihl + 1],
                              dport)
                return [UdpDelivered(self.name, dport,
                                     Frame(frame.dst, frame.src, ETH_P_IP, None, info, packet))]
            return self._port_unreachable(frame, packet, dport)
        if (packet[9] == IPPROTO_ICMP and len(packet) >= ihl + 28
                and packet[ihl] == ICMP_DEST_UNREACH and packet[ihl + 1] == ICMP_FRAG_NEEDED):
            mtu = (packet[ihl + 6] << 8) | packet[ihl + 7]
            quoted = packet[ihl + 8:]
            if ip_str(quoted[12:16]) == self.ip:
                return [PmtuLearned(self.name, ip_str(quoted[16:20]), max(mtu, MIN_PMTU), now)]
        return []

    def _port_unreachable(self, frame: Frame, packet: bytes, dport: int) -> list[Output]:
        src = ip_str(packet[12:16])
        out: list[Output] = [Dropped(self.name, DropReason.UDP_NO_SOCKET, frame,
                                     f"no socket on UDP port {dport}")]
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        body = icmp_body(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, bytes(4), quote(packet))
        reply = ipv4_packet(self.ip, src, IPPROTO_ICMP, body, tos=ICMP_TOS | (packet[1] & 0x1E),
                            ident=self._ip_id)
        info = IpInfo(self.ip, src, IPPROTO_ICMP, 64, ICMP_TOS, False)
        out.append(Forwarded(self.name, "eth0",
                             Frame(self.gateway_mac, self.mac, ETH_P_IP, None, info, reply)))
        return out
