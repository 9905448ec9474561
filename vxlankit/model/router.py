"""The sandbox router: what routes between the subnets of one multi-subnet overlay network.

``docker network create --subnet=10.1.1.0/24 --subnet=11.1.1.0/24 -d overlay prod-net`` gives
the overlay sandbox one bridge per subnet, each with the subnet's gateway address (the first
host address, as Docker's IPAM assigns it).  The sandbox's IP stack then routes between them;
this model is that stack, reduced to what matters on the wire (Linux ip_forward/arp_process):

* it answers ARP for its gateway addresses on the interface that owns them;
* it learns neighbours from ARP replies and from requests addressed to it;
* it routes by longest prefix match over its connected subnets (``PrefixTable``, model/lpm.py,
  the table the VTEP resolves next hops with), decrements the TTL, fixes the header checksum
  (RFC 1624 incremental update, as ip_decrease_ttl does), and rewrites the MACs;
* it ARPs for a next hop it does not know, holding the packet until the answer (a small queue
  per neighbour, like the kernel's unresolved queue, arp_queue_len_bytes);
* TTL <= 1: dropped, and an ICMP time exceeded goes back to the source (RFC 1812 5.3.1);
  no route: dropped, and an ICMP destination unreachable (net unreachable) goes back;
* larger than the egress interface's ``mtu``: with DF set, dropped, and an ICMP fragmentation
  needed naming the MTU goes back (ip_forward, ip_exceeds_mtu); without DF, fragmented
  (ip_do_fragment: pieces of ``(mtu - header) & ~7`` bytes, MF on all but the last);
* an ICMP error quotes as much of the offending packet as fits in 576 bytes, as Linux's
  icmp_send does (RFC 1812 4.3.2.3), not RFC 792's header and 8 bytes.

It forwards IPv6 too (ip6_forward), for an IPv6 underlay: interfaces with IPv6 prefixes, the
longest prefix of that family, the hop limit decremented (IPv6 has no header checksum), the
MACs rewritten.  The IPv6 side is reduced further: neighbours must be given (``neighbours``;
no neighbour discovery), and a packet with no route, an expired hop limit or an unknown next
hop is dropped without an ICMPv6 error.

Frames are plain values (``Frame``); the IPv4 packet is ``frame.payload``, which this model
edits as bytes so that everything else in the packet stays exactly as it was.  Time is ``now``
in integer nanoseconds, as for the other models; the router has no timers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from vxlankit.addr import BROADCAST_MAC, ip6_str, ip_bytes, ip_str, ipv4_prefix
from vxlankit.checksum import internet_checksum
from vxlankit.model.events import (
    ARPOP_REPLY,
    ARPOP_REQUEST,
    ETH_P_ARP,
    ETH_P_IP,
    ETH_P_IPV6,
    IPPROTO_ICMP,
    ArpInfo,
    Dropped,
    DropReason,
    Forwarded,
    Frame,
    FrameReceived,
    IpInfo,
    Learned,
    ModelError,
    Output,
)
from vxlankit.model.icmp import ICMP_FRAG_NEEDED, ICMP_QUOTE_MAX
from vxlankit.model.lpm import PrefixTable

ICMP_DEST_UNREACH = 3
ICMP_NET_UNREACH = 0
ICMP_TIME_EXCEEDED = 11
ICMP_EXC_TTL = 0
ICMP_ECHO = 8
ICMP_ECHOREPLY = 0
UNRESOLVED_QUEUE = 3  # packets held per unresolved neighbour (Linux: arp_queue_len_bytes)


@dataclass(frozen=True, slots=True)
class RouterInterface:
    """One leg of the router: the subnet bridge ``name``, its prefix, gateway address and MAC."""

    name: str
    prefix: str  # "10.1.1.0/24" (or an IPv6 prefix, "2001:db8:1::/64")
    address: str  # "10.1.1.1"
    mac: str
    mtu: int = 1500  # the link's MTU: what the router may send out of it in one piece

    @property
    def network(self) -> tuple[int, int]:
        """An IPv4 interface's network and mask as integers."""
        return ipv4_prefix(self.prefix)


def gateway_address(prefix: str) -> str:
    """The first host address of ``prefix``: the gateway Docker's IPAM assigns."""
    net, _ = ipv4_prefix(prefix)
    return ip_str((net + 1).to_bytes(4, "big"))


class Router:
    """``handle(FrameReceived(interface, frame), now)`` returns the router's outputs."""

    def __init__(self, name: str, interfaces: list[RouterInterface], ttl: int = 64) -> None:
        if not interfaces:
            raise ModelError(f"{name}: a router needs at least one interface")
        self.name = name
        self.ttl = ttl
        self.interfaces = {i.name: i for i in interfaces}
        # Connected routes; for two interfaces on one prefix, the first one listed wins.
        self._routes: PrefixTable[RouterInterface] = PrefixTable()
        for i in interfaces:
            self._routes.add(i.prefix, i)
        self._own = {i.address: i for i in interfaces}
        self.neighbours: dict[str, dict[str, str]] = {i.name: {} for i in interfaces}
        self._pending: dict[tuple[str, str], list[bytes]] = {}
        self._ip_id = 0

    def route(self, dst: str) -> RouterInterface | None:
        """The interface of the longest prefix that contains ``dst``, or None."""
        return self._routes.lookup_ip(dst)

    def next_deadline(self) -> int | None:
        """None: the router has no timers (the same interface as the bridge and the VTEP)."""
        return None

    def tick(self, now: int) -> list[Output]:
        """No timers: neighbour entries here are refreshed by traffic and never aged."""
        return []

    def handle(self, event: FrameReceived, now: int) -> list[Output]:
        iface = self.interfaces.get(event.port)
        if iface is None:
            raise ModelError(f"{self.name}: no interface {event.port!r}")
        frame = event.frame
        out: list[Output] = []
        if frame.dst not in (iface.mac, BROADCAST_MAC):
            return out  # not for us: a bridge floods everything to every port
        if frame.ethertype == ETH_P_ARP and frame.arp is not None:
            self._arp(iface, frame.arp, now, out)
        elif frame.ethertype == ETH_P_IP and frame.dst == iface.mac and len(frame.payload) >= 20:
            self._ip(iface, frame, now, out)
        elif frame.ethertype == ETH_P_IPV6 and frame.dst == iface.mac:
            self._ip6(frame, out)
        return out

    # -- ARP

    def _arp(self, iface: RouterInterface, arp: ArpInfo, now: int, out: list[Output]) -> None:
        for_us = arp.target_ip == iface.address
        if arp.opcode == ARPOP_REQUEST and for_us:
            # arp_process(): a request for one of our addresses creates the sender's entry.
            self._learn(iface, arp.sender_ip, arp.sender_mac, now, out)
            reply = Frame(arp.sender_mac, iface.mac, ETH_P_ARP,
                          ArpInfo(ARPOP_REPLY, iface.mac, iface.address, arp.sender_mac,
                                  arp.sender_ip))
            out.append(Forwarded(self.name, iface.name, reply))
        elif arp.opcode == ARPOP_REPLY and for_us:
            self._learn(iface, arp.sender_ip, arp.sender_mac, now, out)

    def _learn(self, iface: RouterInterface, ip: str, mac: str, now: int,
               out: list[Output]) -> None:
        table = self.neighbours[iface.name]
        if table.get(ip) != mac:
            table[ip] = mac
            out.append(Learned(self.name, None, mac, ip, now, "arp_process"))
        for packet in self._pending.pop((iface.name, ip), []):
            out.append(Forwarded(self.name, iface.name, _ip_frame(mac, iface.mac, packet)))

    # -- IPv4

    def _ip(self, iface: RouterInterface, frame: Frame, now: int, out: list[Output]) -> None:
        packet = frame.payload
        ihl = (packet[0] & 0x0F) * 4
        if packet[0] >> 4 != 4 or ihl < 20 or len(packet) < ihl:
            out.append(Dropped(self.name, DropReason.IP_INHDR, frame, "bad IPv4 header"))
            return
        dst = ip_str(packet[16:20])
        if dst in self._own:
            self._local(iface, frame, out)
            return
        egress = self.route(dst)
        if egress is None:
            out.append(Dropped(self.name, DropReason.IP_NOROUTES, frame, f"no route to {dst}"))
            self._icmp_error(iface, frame, ICMP_DEST_UNREACH, ICMP_NET_UNREACH, out)
            return
        if packet[8] <= 1:
            out.append(Dropped(self.name, DropReason.IP_TTL_EXCEEDED, frame,
                               f"TTL {packet[8]} expired in transit to {dst}"))
            self._icmp_error(iface, frame, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, out)
            return
        total = (packet[2] << 8) | packet[3]
        if total > egress.mtu:
            if packet[6] & 0x40:
                out.append(Dropped(self.name, DropReason.PKT_TOO_BIG, frame,
                                   f"{total} bytes with DF set, next-hop MTU {egress.mtu}"))
                self._icmp_error(iface, frame, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, out,
                                 egress.mtu.to_bytes(4, "big"))
                return
            for piece in fragment(_decrease_ttl(packet), egress.mtu):
                self._send(egress, dst, piece, now, out)
            return
        self._send(egress, dst, _decrease_ttl(packet), now, out)

    # -- IPv6

    def _ip6(self, frame: Frame, out: list[Output]) -> None:
        """ip6_forward, reduced: route, decrement the hop limit, rewrite the MACs."""
        packet = frame.payload
        if len(packet) < 40 or packet[0] >> 4 != 6:
            out.append(Dropped(self.name, DropReason.IP_INHDR, frame, "bad IPv6 header"))
            return
        dst = ip6_str(packet[24:40])
        if dst in self._own:
            return  # for the router itself: nothing here answers IPv6
        egress = self.route(dst)
        if egress is None:
            out.append(Dropped(self.name, DropReason.IP_NOROUTES, frame, f"no route to {dst}"))
            return
        if packet[7] <= 1:
            out.append(Dropped(self.name, DropReason.IP_TTL_EXCEEDED, frame,
                               f"hop limit {packet[7]} expired in transit to {dst}"))
            return
        mac = self.neighbours[egress.name].get(dst)
        if mac is None:
            out.append(Dropped(self.name, DropReason.IP_NOROUTES, frame,
                               f"no neighbour entry for {dst} (neighbour discovery is not "
                               "modelled)"))
            return
        forwarded = packet[:7] + bytes([packet[7] - 1]) + packet[8:]
        out.append(Forwarded(self.name, egress.name,
                             Frame(mac, egress.mac, ETH_P_IPV6, None, None, forwarded)))

    def _send(self, egress: RouterInterface, next_hop: str, packet: bytes, now: int,
              out: list[Output]) -> None:
        mac = self.neighbours[egress.name].get(next_hop)
        if mac is not None:
            out.append(Forwarded(self.name, egress.name, _ip_frame(mac, egress.mac, packet)))
            return
        queue = self._pending.setdefault((egress.name, next_hop), [])
        first = not queue
        if len(queue) < UNRESOLVED_QUEUE:
            queue.append(packet)
        if first:
            request = Frame(BROADCAST_MAC, egress.mac, ETH_P_ARP,
                            ArpInfo(ARPOP_REQUEST, egress.mac, egress.address,
                                    "00:00:00:00:00:00", next_hop))
            out.append(Forwarded(self.name, egress.name, request))

    def _local(self, iface: RouterInterface, frame: Frame, out: list[Output]) -> None:
        """A packet for a gateway address: answer pings (the sandbox stack does), drop the rest."""
        packet = frame.payload
        ihl = (packet[0] & 0x0F) * 4
        if packet[9] == IPPROTO_ICMP and len(packet) >= ihl + 8 and packet[ihl] == ICMP_ECHO:
            src = ip_str(packet[12:16])
            body = bytes([ICMP_ECHOREPLY]) + packet[ihl + 1:ihl + 2] + b"\0\0" + packet[ihl + 4:]
            reply = self._ip_packet(ip_str(packet[16:20]), src, body)
            mac = self.neighbours[iface.name].get(src, frame.src)
            out.append(Forwarded(self.name, iface.name, _ip_frame(mac, iface.mac, reply)))

    def _icmp_error(self, iface: RouterInterface, frame: Frame, icmp_type: int, code: int,
                    out: list[Output], rest: bytes = bytes(4)) -> None:
        """icmp_send: back to the source, quoting as much of the packet as fits in 576
        bytes; ``rest`` is the header's second word (the next-hop MTU of a fragmentation
        needed)."""
        packet = frame.payload
        if packet[9] == IPPROTO_ICMP:
            ihl = (packet[0] & 0x0F) * 4
            if len(packet) > ihl and packet[ihl] not in (ICMP_ECHO, ICMP_ECHOREPLY):
                return  # never an ICMP error about an ICMP error (RFC 1812 4.3.2.7)
        total = (packet[2] << 8) | packet[3]
        quoted = packet[:min(total, ICMP_QUOTE_MAX)]
        body = bytes([icmp_type, code]) + b"\0\0" + rest + quoted
        src = ip_str(packet[12:16])
        reply = self._ip_packet(iface.address, src, body)
        mac = self.neighbours[iface.name].get(src, frame.src)
        out.append(Forwarded(self.name, iface.name, _ip_frame(mac, iface.mac, reply)))

    def _ip_packet(self, src: str, dst: str, icmp: bytes) -> bytes:
        icmp = icmp[:2] + struct.pack("!H", internet_checksum(icmp)) + icmp[4:]
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(icmp), self._ip_id,
                                       0, self.ttl, IPPROTO_ICMP, 0, ip_bytes(src),
                                       ip_bytes(dst)))
        struct.pack_into("!H", header, 10, internet_checksum(header))
        return bytes(header) + icmp


def _decrease_ttl(packet: bytes) -> bytes:
    """TTL - 1 and the checksum updated incrementally (RFC 1624 eqn. 3), as the kernel does."""
    out = bytearray(packet)
    out[8] -= 1
    old = (packet[8] << 8) | packet[9]
    new = (out[8] << 8) | out[9]
    (check,) = struct.unpack_from("!H", packet, 10)
    total = (~check & 0xFFFF) + (~old & 0xFFFF) + new
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into("!H", out, 10, ~total & 0xFFFF)
    return bytes(out)


def fragment(packet: bytes, mtu: int) -> list[bytes]:
    """ip_do_fragment: ``packet`` (IPv4, DF clear) in pieces that fit ``mtu``: each carries
    the header (its options too: the model's packets have none worth dropping), the
    fragment offset, MF on all but the last, its length and a fresh header checksum."""
    ihl = (packet[0] & 0x0F) * 4
    total = (packet[2] << 8) | packet[3]
    body = packet[ihl:total]
    step = (mtu - ihl) & ~7
    base = ((packet[6] << 8) | packet[7]) & 0x1FFF
    more_after = bool(packet[6] & 0x20)
    pieces = []
    for off in range(0, len(body), step):
        chunk = body[off:off + step]
        header = bytearray(packet[:ihl])
        last = off + step >= len(body)
        flags = 0 if last and not more_after else 0x2000
        struct.pack_into("!H", header, 2, ihl + len(chunk))
        struct.pack_into("!H", header, 6, flags | (base + off // 8))
        struct.pack_into("!H", header, 10, 0)
        struct.pack_into("!H", header, 10, internet_checksum(header))
        pieces.append(bytes(header) + chunk)
    return pieces


def _ip_frame(dst_mac: str, src_mac: str, packet: bytes) -> Frame:
    src, dst = ip_str(packet[12:16]), ip_str(packet[16:20])
    info = IpInfo(src, dst, packet[9], packet[8], packet[1], bool(packet[6] & 0x40))
    return Frame(dst_mac, src_mac, ETH_P_IP, None, info, packet)
