"""The actor around the models: a container's network stack running ping.  It makes frames
through ``codec.encode`` only.

Each method takes what arrived and returns the frames it sends, as bytes; timing is the
scenario's business.  (The routers, sandbox and underlay alike, are ``model.router.Router``.)
"""

from __future__ import annotations

import ipaddress
import random
import struct
from dataclasses import dataclass, field

from vxlankit import build
from vxlankit.addr import BROADCAST_MAC, ZERO_MAC, ip6_bytes, mac_str
from vxlankit.codec import decode, encode
from vxlankit.frames import nd_layers
from vxlankit.layers.arp import OP_REPLY, OP_REQUEST
from vxlankit.layers.icmp import ECHO_REPLY, ECHO_REQUEST
from vxlankit.model.events import (
    ND_OPT_SOURCE_LL_ADDR,
    ND_OPT_TARGET_LL_ADDR,
    NDISC_NEIGHBOUR_ADVERTISEMENT,
    NDISC_NEIGHBOUR_SOLICITATION,
    NdInfo,
)
from vxlankit.model.host import MIN_PMTU, Reassembly
from vxlankit.model.router import fragment
from vxlankit.packet import Layer, Packet

ICMPV6_ECHO_REQUEST = 128
ICMPV6_ECHO_REPLY = 129
_NA_SOLICITED_OVERRIDE = 0x60000000  # ndisc_send_na for a host's own address: S and O


def solicited_node(ip6: str) -> tuple[str, str]:
    """RFC 4291 2.7.1: the solicited-node multicast address of ``ip6`` (ff02::1:ff + its low
    24 bits) and, RFC 2464 7, its MAC (33:33 + the group's low 32 bits)."""
    low = ip6_bytes(ip6)[13:]
    group = f"ff02::1:ff{low[0]:02x}:{low[1]:02x}{low[2]:02x}"
    return group, mac_str(b"\x33\x33\xff" + low)


def icmpv6_echo(ident: int, seq: int, *, reply: bool = False) -> Layer:
    return Layer("icmpv6", {"icmpv6.type": ICMPV6_ECHO_REPLY if reply else ICMPV6_ECHO_REQUEST,
                            "icmpv6.code": 0, "icmpv6.checksum": None,
                            "icmpv6.echo.identifier": ident, "icmpv6.echo.sequence_number": seq})


def ping_payload(size: int, sent_ns: int) -> bytes:
    """What iputils ping puts in an echo: a struct timeval (two little-endian 64-bit words on
    a 64-bit host) when it fits, then the byte pattern 0x10, 0x11, ... (offset & 0xff)."""
    body = bytes(i & 0xFF for i in range(size))
    if size >= 16:
        stamp = struct.pack("<qq", sent_ns // 10**9, (sent_ns // 1000) % 10**6)
        body = stamp + body[16:]
    return body


def _ip4(text: str) -> bytes:
    return bytes(int(part) for part in text.split(".")) if ":" not in text else b""


@dataclass
class Echo:
    """One echo of the ping client: when ping sent it, when its request frame left the
    container (later than ``sent_ns`` when the next hop's MAC had to be resolved first), and
    when the reply frame arrived.  ``rtt_ns`` is the time between the two frames, what a capture
    on the container's interface shows (``vxlankit stats``'s definition)."""

    seq: int
    sent_ns: int
    replied_ns: int | None = None
    request_ns: int | None = None

    @property
    def rtt_ns(self) -> int | None:
        if self.replied_ns is None or self.request_ns is None:
            return None
        return self.replied_ns - self.request_ns


@dataclass
class _Outgoing:
    """An IPv4 packet waiting for its next hop's MAC: header choices and the layers after IP."""

    df: bool
    ip_id: int
    tail: list[Layer]
    dst: str = ""
    echo: Echo | None = None  # the ping client's echo this request carries


@dataclass
class ContainerStack:
    """Just enough of a Linux network stack: an ARP cache, ARP replies, echo replies, and a
    ping client.  IP ids follow Linux: 0 for DF packets from an unconnected socket (ping), a
    per-destination counter for the kernel's own ICMP replies (which go without DF)."""

    name: str
    ip: str
    mac: str
    rng: random.Random
    prefix: str = "0.0.0.0/0"  # the container's subnet; anything else goes via the gateway
    gateway: str | None = None
    arp_cache: dict[str, str] = field(default_factory=dict)
    pending: dict[str, list[_Outgoing]] = field(default_factory=dict)
    echoes: list[Echo] = field(default_factory=list)
    # The echoes still waiting for their reply, by sequence number: the first unanswered echo
    # of a seq is the one a reply answers, found without scanning every echo sent so far.
    awaiting: dict[int, list[Echo]] = field(default_factory=dict)
    ident: int = 0
    _reply_id: int = 0
    _on_link: dict[str, bool] = field(default_factory=dict)
    _echo_frames: dict[bytes, Echo] = field(default_factory=dict)  # made, not yet on the wire
    # destination -> path MTU an ICMP fragmentation needed told (ip_rt_update_pmtu)
    pmtu: dict[str, int] = field(default_factory=dict)
    _frag_id: int | None = None
    _defrag: Reassembly = field(default_factory=Reassembly)

    def __post_init__(self) -> None:
        self.ident = self.rng.randrange(1, 0x10000)
        self._reply_id = self.rng.randrange(0, 0x10000)

    # -- sending

    def next_hop(self, dst_ip: str) -> str:
        """The container's routing table: its subnet on-link, a default route via the gateway."""
        on_link = self._on_link.get(dst_ip)
        if on_link is None:
            on_link = self._on_link[dst_ip] = (ipaddress.ip_address(dst_ip)
                                               in ipaddress.ip_network(self.prefix))
        return dst_ip if on_link or self.gateway is None else self.gateway

    def _resolve_or_queue(self, dst_ip: str, out: _Outgoing) -> list[bytes]:
        """Send now if the next hop's MAC is known, else queue and ask for it (one request per
        next hop, as the kernel's neighbour code does while INCOMPLETE)."""
        hop = self.next_hop(dst_ip)
        out.dst = dst_ip
        mac = self.arp_cache.get(hop)
        if mac is not None:
            return self._finish(mac, out)
        first = hop not in self.pending
        self.pending.setdefault(hop, []).append(out)
        if not first:
            return []
        if ":" in hop:
            # ndisc_send_ns: to the target's solicited-node group, with our link-layer address.
            group, group_mac = solicited_node(hop)
            ns = NdInfo(self.ip, group, NDISC_NEIGHBOUR_SOLICITATION, hop, 0,
                        ND_OPT_SOURCE_LL_ADDR, self.mac)
            return [encode([build.eth(dst=group_mac, src=self.mac), *nd_layers(ns)])]
        return [encode([build.eth(dst=BROADCAST_MAC, src=self.mac),
                        build.arp(OP_REQUEST, self.mac, self.ip, ZERO_MAC, hop)])]

    def _finish(self, mac: str, out: _Outgoing) -> list[bytes]:
        if ":" in out.dst:
            frames = [encode([build.eth(dst=mac, src=self.mac),
                              build.ipv6(src=self.ip, dst=out.dst), *out.tail])]
        else:
            frames = self._ipv4_frames(mac, out)
        if out.echo is not None:
            self._echo_frames[frames[0]] = out.echo  # the request leaves with its first piece
        return frames

    def _ipv4_frames(self, mac: str, out: _Outgoing) -> list[bytes]:
        frame = encode([build.eth(dst=mac, src=self.mac),
                        build.ipv4(src=self.ip, dst=out.dst, df=out.df, id=out.ip_id),
                        *out.tail])
        mtu = self.pmtu.get(out.dst)
        if mtu is None or len(frame) - 14 <= mtu:
            return [frame]
        # A known path MTU smaller than the packet: ping's IP_PMTUDISC_WANT sends it in
        # fragments, DF clear (__ip_make_skb sets DF only on what fits), under an ID from
        # ip_select_ident (the model: a per-stack counter from a random start).
        if self._frag_id is None:
            self._frag_id = self.rng.randrange(1, 0x10000)
        self._frag_id = (self._frag_id + 1) & 0xFFFF
        whole = encode([build.eth(dst=mac, src=self.mac),
                        build.ipv4(src=self.ip, dst=out.dst, df=False, id=self._frag_id),
                        *out.tail])
        return [whole[:14] + piece for piece in fragment(whole[14:], mtu)]

    def frame_sent(self, data: bytes, now_ns: int) -> None:
        """The scenario put ``data``, a frame this stack made, on the container's interface."""
        echo = self._echo_frames.pop(data, None)
        if echo is not None:
            echo.request_ns = now_ns

    def ping(self, dst_ip: str, seq: int, size: int, now_ns: int) -> list[bytes]:
        record = Echo(seq, now_ns)
        self.echoes.append(record)
        self.awaiting.setdefault(seq, []).append(record)
        echo = icmpv6_echo(self.ident, seq) if ":" in dst_ip else build.icmp_echo(self.ident, seq)
        out = _Outgoing(True, 0, [echo, build.payload(ping_payload(size, now_ns))], echo=record)
        return self._resolve_or_queue(dst_ip, out)

    # -- receiving

    def receive(self, data: bytes, now_ns: int, packet: Packet | None = None) -> list[bytes]:
        """The frames sent in answer to ``data`` (``packet``: its decode, if already made)."""
        if (len(data) >= 34 and data[12:14] == b"\x08\x00"
                and (data[20] << 8 | data[21]) & 0x3FFF and data[30:34] == _ip4(self.ip)):
            whole = self._defrag.add(data[14:])  # ip_defrag before the protocol sees it
            if whole is None:
                return []
            data = data[:14] + whole
            packet = None  # the reassembled datagram, not the fragment that completed it
        if packet is None:
            packet = decode(data)
        eth = packet.layer("eth")
        if eth is None:
            return []
        if packet.layer("ipv6") is not None:
            return self._receive_ipv6(packet, eth["eth.dst"], now_ns)
        if eth["eth.dst"] not in (self.mac, BROADCAST_MAC):
            return []
        arp = packet.layer("arp")
        if arp is not None:
            return self._receive_arp(packet)
        ip = packet.layer("ip")
        icmp = packet.layer("icmp")
        if ip is None or icmp is None or ip["ip.dst"] != self.ip:
            return []
        if icmp["icmp.type"] == 3 and icmp["icmp.code"] == 4:
            # Fragmentation needed: the route to the quoted destination learns the MTU.
            quoted = packet.layer("data")
            rest = icmp.get("icmp.unused") or bytes(4)
            if quoted is not None and len(quoted["data.data"]) >= 20:
                dst = ".".join(str(b) for b in quoted["data.data"][16:20])
                self.pmtu[dst] = max((rest[2] << 8) | rest[3], MIN_PMTU)
            return []
        if icmp["icmp.type"] == ECHO_REQUEST:
            data_layer = packet.layer("data")
            body = data_layer["data.data"] if data_layer is not None else b""
            self._reply_id = (self._reply_id + 1) & 0xFFFF
            out = _Outgoing(False, self._reply_id,
                            [build.icmp_echo(icmp["icmp.ident"], icmp["icmp.seq"], reply=True),
                             build.payload(body)])
            return self._resolve_or_queue(ip["ip.src"], out)
        if icmp["icmp.type"] == ECHO_REPLY and icmp["icmp.ident"] == self.ident:
            self._answered(icmp["icmp.seq"], now_ns)
        return []

    def _answered(self, seq: int, now_ns: int) -> None:
        waiting = self.awaiting.get(seq)
        if waiting:
            waiting.pop(0).replied_ns = now_ns
            if not waiting:
                del self.awaiting[seq]

    def _receive_arp(self, packet: Packet) -> list[bytes]:
        arp = packet.layer("arp")
        assert arp is not None
        sender_ip = arp.get("arp.src.proto_ipv4")
        sender_mac = arp.get("arp.src.hw_mac")
        if sender_ip is None or sender_mac is None:
            return []
        out: list[bytes] = []
        reply: list[bytes] = []
        if arp["arp.opcode"] == OP_REQUEST and arp["arp.dst.proto_ipv4"] == self.ip:
            # arp_process(): a request for us creates the sender's entry and is answered.
            self.arp_cache[sender_ip] = sender_mac
            reply.append(encode([build.eth(dst=sender_mac, src=self.mac),
                                 build.arp(OP_REPLY, self.mac, self.ip, sender_mac,
                                           sender_ip)]))
        elif arp["arp.opcode"] == OP_REPLY and arp["arp.dst.proto_ipv4"] == self.ip:
            self.arp_cache[sender_ip] = sender_mac
        if sender_ip in self.arp_cache:
            for queued in self.pending.pop(sender_ip, []):
                out += self._finish(self.arp_cache[sender_ip], queued)
        # The reply after what was queued for the sender: arp_process's neigh_event_ns
        # (neigh_update) sends the neighbour's queue before arp_send answers.
        return out + reply

    def _receive_ipv6(self, packet: Packet, eth_dst: str, now_ns: int) -> list[bytes]:
        """Neighbour discovery (ndisc_recv_ns/ndisc_recv_na) and ICMPv6 echo for ``self.ip``
        when it is an IPv6 address."""
        ip6 = packet.layer("ipv6")
        icmp = packet.layer("icmpv6")
        if ":" not in self.ip or ip6 is None or icmp is None:
            return []
        if eth_dst not in (self.mac, solicited_node(self.ip)[1]):
            return []
        itype = icmp["icmpv6.type"]
        src = ip6["ipv6.src"]
        out: list[bytes] = []
        if itype == NDISC_NEIGHBOUR_SOLICITATION:
            if icmp.get("icmpv6.nd.ns.target_address") != self.ip:
                return []
            sll = icmp.get("icmpv6.opt.src_linkaddr") or []
            if not sll or src == "::":
                return []  # DAD, or no address to answer to: not what this scenario sends
            mac = bytes(sll[0]).hex(":")
            self.arp_cache[src] = mac
            na = NdInfo(self.ip, src, NDISC_NEIGHBOUR_ADVERTISEMENT, self.ip,
                        _NA_SOLICITED_OVERRIDE, ND_OPT_TARGET_LL_ADDR, self.mac)
            out.append(encode([build.eth(dst=mac, src=self.mac), *nd_layers(na)]))
            for queued in self.pending.pop(src, []):
                out += self._finish(mac, queued)
            return out
        if itype == NDISC_NEIGHBOUR_ADVERTISEMENT:
            target = icmp.get("icmpv6.nd.na.target_address")
            tll = icmp.get("icmpv6.opt.target_linkaddr") or []
            if target is None or not tll:
                return []
            mac = bytes(tll[0]).hex(":")
            self.arp_cache[target] = mac
            for queued in self.pending.pop(target, []):
                out += self._finish(mac, queued)
            return out
        if ip6["ipv6.dst"] != self.ip:
            return []
        if itype == ICMPV6_ECHO_REQUEST:
            data_layer = packet.layer("data")
            body = data_layer["data.data"] if data_layer is not None else b""
            reply = _Outgoing(False, 0, [icmpv6_echo(icmp["icmpv6.echo.identifier"],
                                                     icmp["icmpv6.echo.sequence_number"],
                                                     reply=True),
                                         build.payload(body)])
            return self._resolve_or_queue(src, reply)
        if itype == ICMPV6_ECHO_REPLY and icmp["icmpv6.echo.identifier"] == self.ident:
            self._answered(icmp["icmpv6.echo.sequence_number"], now_ns)
        return out
