"""What the diagnosis needs to remember from a capture, collected during replay's one pass.

``Evidence.packet`` is called for every packet (its number, time, tap and the VXLAN hops the
replay walk found in it); ``Evidence.model_output`` for every output of the VTEP models, with
the number of the packet that caused it.  Nothing here decides anything: the detectors in the
sibling modules read these tables when the capture ends.

Memory is bounded: the per-packet tables (journeys across taps, replicated frames) stop
growing at a fixed size, and say so (``journeys_capped``), so a long capture costs a bounded
amount beyond replay's own.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

from vxlankit.addr import ip_str
from vxlankit.checksum import internet_checksum
from vxlankit.diagnose import wire
from vxlankit.model.events import Dropped, Output, VxlanReceived

MAX_JOURNEYS = 50_000
MAX_REPLICAS = 20_000
MAX_PER_PAIR = 64  # distinct source ports / flows kept per VTEP pair
MAX_NUMBERS = 50  # packet numbers kept per item of evidence
# Checksums verified per (tap, sender): enough to tell offload from corruption, and the cost
# of verifying stays bounded on a long capture.
CHECKSUM_SAMPLE = 500
# What a sender puts in the TTL of its own packets (Linux and most Unix 64, Windows 128,
# network gear 255): a packet that still has one has not crossed a router.
INITIAL_TTLS = frozenset((64, 128, 255))

# (inner src, inner dst, protocol, IP ID, fragment field, first 8 bytes after the IP header):
# the same inner packet wherever it is seen, whatever the TTL or MACs became on the way.
InnerKey = tuple[str, str, int, int, int, bytes]


class Encap(NamedTuple):  # a tuple: made for every VXLAN packet, a dataclass costs more
    """The VXLAN hop a frame was seen inside: outer addresses, VNI, UDP ports."""

    src: str
    dst: str
    vni: int
    sport: int
    dport: int


class Sighting(NamedTuple):
    """One inner packet seen once: where, when, and inside which VXLAN hop (None: plain)."""

    number: int
    ts: int
    tap: str
    encap: Encap | None
    ttl: int
    src_mac: str | None
    dst_mac: str | None
    size: int


@dataclass(frozen=True, slots=True)
class IcmpError:
    """An ICMP/ICMPv6 error and what it quotes.  ``vni`` is set when the quoted packet is
    VXLAN (an error about the underlay); ``inner`` identifies the overlay packet it is about
    (inside the quoted VXLAN, or the quoted packet itself); ``encap`` is the hop the error
    itself travelled inside, if any."""

    number: int
    ts: int
    tap: str
    version: int
    reporter: str
    to: str
    icmp_type: int
    code: int
    mtu: int | None
    quoted_src: str
    quoted_dst: str
    quoted_proto: int
    sport: int | None
    dport: int | None
    vni: int | None
    inner: InnerKey | None
    inner_mac: str | None
    encap: Encap | None
    quoted_ttl: int
    quoted_total: int

    @property
    def about_vxlan(self) -> bool:
        """The quoted packet is VXLAN (by its UDP port): an error about the underlay."""
        return self.vni is not None

    @property
    def frag_needed(self) -> bool:
        return (self.version == 4 and self.icmp_type == wire.ICMP_DEST_UNREACH
                and self.code == wire.ICMP_FRAG_NEEDED) or (
            self.version == 6 and self.icmp_type == wire.ICMPV6_PKT_TOOBIG)

    @property
    def port_unreachable(self) -> bool:
        return (self.version == 4 and self.icmp_type == wire.ICMP_DEST_UNREACH
                and self.code == wire.ICMP_PORT_UNREACH) or (
            self.version == 6 and self.icmp_type == wire.ICMPV6_DEST_UNREACH
            and self.code == wire.ICMPV6_PORT_UNREACH)

    @property
    def time_exceeded(self) -> bool:
        return (self.version == 4 and self.icmp_type == wire.ICMP_TIME_EXCEEDED) or (
            self.version == 6 and self.icmp_type == wire.ICMPV6_TIME_EXCEED)


@dataclass
class ArpWait:
    asker: str
    target: str
    first_ts: int
    numbers: list[int] = field(default_factory=list)
    taps: set[str] = field(default_factory=set)
    vnis: set[int] = field(default_factory=set)
    count: int = 0


@dataclass
class PairStats:
    """VXLAN from one VTEP to another: source ports, inner flows, ports, VNIs."""

    sports: set[int] = field(default_factory=set)
    flows: set[tuple[object, ...]] = field(default_factory=set)
    dports: Counter[int] = field(default_factory=Counter)
    vnis: Counter[int] = field(default_factory=Counter)
    numbers: list[int] = field(default_factory=list)
    ttls: set[int] = field(default_factory=set)
    packets: int = 0


@dataclass
class ConvSide:
    """One inner conversation's frames on one VNI (IPv4 packets, or ARP between the two):
    TTLs, source MACs, who sent them; ``direct`` when some frame came straight from an
    endpoint (an initial TTL, or ARP, which no router forwards)."""

    direct: bool = False
    ttls: set[int] = field(default_factory=set)
    macs: set[str] = field(default_factory=set)
    senders: set[str] = field(default_factory=set)
    vteps: set[tuple[str, str]] = field(default_factory=set)
    numbers: list[int] = field(default_factory=list)


@dataclass
class Checksums:
    bad: int = 0
    good: int = 0
    numbers: list[int] = field(default_factory=list)


@dataclass
class Echo:
    number: int
    size: int | None
    answered: bool = False


@dataclass
class Evidence:
    """The tables; see the module docstring."""

    vxlan_ports: frozenset[int]
    declared_taps: list[str] = field(default_factory=list)
    taps_seen: Counter[str] = field(default_factory=Counter)
    underlay_taps: set[str] = field(default_factory=set)
    journeys: dict[InnerKey, list[Sighting]] = field(default_factory=dict)
    journeys_capped: bool = False
    icmp_errors: list[IcmpError] = field(default_factory=list)
    fragments: dict[tuple[str, str, int], list[tuple[int, str, int, bool]]] = field(
        default_factory=dict)
    fragment_vxlan: set[tuple[str, str, int]] = field(default_factory=set)
    arp_waits: dict[tuple[str, str], ArpWait] = field(default_factory=dict)
    # (domain: a tap name or "vni:N") -> IP -> MAC -> first packet numbers claiming it
    arp_claims: dict[str, dict[str, dict[str, list[int]]]] = field(
        default_factory=lambda: defaultdict(dict))
    pairs: dict[tuple[str, str], PairStats] = field(default_factory=dict)
    conversations: dict[tuple[str, str, int], dict[int, ConvSide]] = field(default_factory=dict)
    replicas: dict[tuple[str, object], tuple[set[str], list[int]]] = field(default_factory=dict)
    replicated: list[tuple[str, str, int, list[int], set[str]]] = field(default_factory=list)
    group_unicast: list[tuple[str, str, int, int]] = field(default_factory=list)
    # (VTEP, VNI, inner MAC) -> remotes the VTEP sends frames for MAC to / receives them from
    sends_to: dict[tuple[str, int, str], set[str]] = field(
        default_factory=lambda: defaultdict(set))
    arrives_from: dict[tuple[str, int, str], set[str]] = field(
        default_factory=lambda: defaultdict(set))
    send_numbers: dict[tuple[str, int, str], list[int]] = field(
        default_factory=lambda: defaultdict(list))
    # (VTEP, VNI, inner source MAC, remote) -> the first packet that brought it from there
    first_arrival: dict[tuple[str, int, str, str], int] = field(default_factory=dict)
    checksums: dict[tuple[str, str, str], Checksums] = field(default_factory=dict)
    echoes: dict[tuple[str, str, int, int], Echo] = field(default_factory=dict)
    syn_mss: list[tuple[int, str, str, int, Encap | None]] = field(default_factory=list)
    largest_outer: int = 0
    outer_version: int = 4
    drops: dict[int, list[tuple[str, Dropped]]] = field(default_factory=dict)
    _multi_tap: bool = True
    _sampled: dict[tuple[str, str], int] = field(default_factory=dict)

    # ------------------------------------------------------------------ input

    def packet(self, number: int, ts: int, tap: str, data: bytes, linktype: int,
               hops: list[VxlanReceived], multi_tap: bool = True) -> None:
        """One packet (``hops``: the VXLAN hops replay found in it); ``multi_tap``: the
        capture has several taps, so packets are followed from tap to tap."""
        self.taps_seen[tap] += 1
        self._multi_tap = multi_tap
        if hops:
            found = wire.network(data, linktype)
            if found is None:
                return
            etype, off = found
            hdr = wire.ip(data, off, False) if etype in (wire.ETH_P_IP, wire.ETH_P_IPV6) else None
            self.underlay_taps.add(tap)
            if hdr is not None:
                self.outer_version = hdr.version
                if hdr.total > self.largest_outer:
                    self.largest_outer = hdr.total
                self._checksums(number, tap, data, hdr, outer=True)
            for hop in hops:
                self._hop(number, ts, tap, hop, hdr.ttl if hdr is not None else None)
            return
        l2 = wire.link(data, linktype)
        if l2 is None:
            return
        hdr = wire.ip(data, l2.offset, False) if l2.ethertype in (wire.ETH_P_IP,
                                                                   wire.ETH_P_IPV6) else None
        if l2.ethertype == wire.ETH_P_ARP:
            self._arp(number, ts, tap, data, l2.offset, None)
            return
        if hdr is not None:
            self._ip_packet(number, ts, tap, data, hdr, l2.src, l2.dst, None)

    def fragment(self, number: int, tap: str, hdr: wire.Ip, data: bytes) -> None:
        """An IPv4 fragment seen plain (the replay walk reassembles VXLAN from them and says
        so with ``reassembled``; this remembers the pieces)."""
        key = (hdr.src, hdr.dst, hdr.ident)
        pieces = self.fragments.setdefault(key, [])
        if len(pieces) < MAX_NUMBERS:
            pieces.append((number, tap, hdr.total, hdr.df))
        if hdr.frag & 0x1FFF == 0 and hdr.proto == 17 and hdr.end - hdr.start >= 4:
            if wire.u16(data, hdr.start + 2) in self.vxlan_ports:
                self.fragment_vxlan.add(key)

    def reassembled(self, src: str, dst: str, ident: int) -> None:
        """The fragments ``(src, dst, ident)`` made a VXLAN datagram."""
        self.fragment_vxlan.add((src, dst, ident))

    def model_output(self, number: int, vtep: str, out: Output) -> None:
        if isinstance(out, Dropped):
            self.drops.setdefault(number, []).append((vtep, out))

    # ------------------------------------------------------------------ the walk

    def _hop(self, number: int, ts: int, tap: str, hop: VxlanReceived,
             outer_ttl: int | None) -> None:
        src, dst, vni, dport = hop.src_ip, hop.dst_ip, hop.vni, hop.dport
        enc = Encap(src, dst, vni, hop.sport, dport)
        frame = hop.frame
        fsrc, fdst = frame.src, frame.dst
        pair = self.pairs.get((src, dst))
        if pair is None:
            pair = self.pairs[(src, dst)] = PairStats()
        pair.packets += 1
        if outer_ttl is not None and len(pair.ttls) < 16:
            pair.ttls.add(outer_ttl)
        pair.dports[dport] += 1
        pair.vnis[vni] += 1
        if len(pair.numbers) < MAX_NUMBERS:
            pair.numbers.append(number)
        if len(pair.sports) < MAX_PER_PAIR:
            pair.sports.add(hop.sport)
        if len(pair.flows) < MAX_PER_PAIR:
            ipi = frame.ip
            pair.flows.add((ipi.src, ipi.dst, ipi.proto, ipi.sport, ipi.dport) if ipi is not None
                           else (fsrc, fdst, frame.ethertype))
        if fsrc[1] not in _ODD:
            self.arrives_from[(dst, vni, fsrc)].add(src)
            self.first_arrival.setdefault((dst, vni, fsrc, src), number)
        if fdst[1] not in _ODD:
            key = (src, vni, fdst)
            self.sends_to[key].add(dst)
            numbers = self.send_numbers[key]
            if len(numbers) < MAX_NUMBERS:
                numbers.append(number)
            self._replica(number, enc, fdst, fsrc, frame.ethertype, frame.payload)
        etype = frame.ethertype
        if etype == wire.ETH_P_IP or etype == wire.ETH_P_IPV6:
            payload = frame.payload
            hdr = wire.ip(payload, 0, False)
            if hdr is not None:
                self._ip_packet(number, ts, tap, payload, hdr, fsrc, fdst, enc)
        elif etype == wire.ETH_P_ARP:
            self._arp(number, ts, tap, frame.payload, 0, enc)

    def _replica(self, number: int, enc: Encap, dst: str, src: str, etype: int,
                 payload: bytes) -> None:
        """A unicast inner frame one VTEP sends to several remotes (head-end replication) or
        to a multicast group: it had no FDB entry for the destination MAC."""
        if _is_ip_group(enc.dst):
            if len(self.group_unicast) < MAX_NUMBERS:
                self.group_unicast.append((enc.src, dst, enc.vni, number))
            return
        # The frame's first bytes (inner IP ID, checksums, ICMP sequence or ports) tell one
        # frame from the next: copies of one frame leave back to back.
        fingerprint = (dst, src, etype, enc.vni, len(payload), payload[:48])
        key = (enc.src, fingerprint)
        seen = self.replicas.get(key)
        if seen is None:
            if len(self.replicas) >= MAX_REPLICAS:
                self.replicas.clear()  # replicas leave together: a short memory suffices
            self.replicas[key] = ({enc.dst}, [number])
            return
        remotes, numbers = seen
        if enc.dst not in remotes:
            remotes.add(enc.dst)
            numbers.append(number)
            if len(remotes) == 2:
                self.replicated.append((enc.src, dst, enc.vni, numbers, remotes))

    def _arp(self, number: int, ts: int, tap: str, data: bytes, off: int,
             enc: Encap | None) -> None:
        if len(data) < off + 28 or data[off + 4:off + 6] != b"\x06\x04":
            return
        op = wire.u16(data, off + 6)
        sha = data[off + 8:off + 14].hex(":")
        spa = ip_str(data[off + 14:off + 18])
        tpa = ip_str(data[off + 24:off + 28])
        if enc is not None and op in (1, 2) and spa not in ("0.0.0.0", tpa):
            # ARP between two addresses, the IPv4 pair's conversation at layer 2 (protocol
            # 0 here): no router forwards it, so it is direct on every VNI it is seen on.
            side = self._side((min(spa, tpa), max(spa, tpa), 0), enc.vni)
            side.direct = True
            side.senders.add(spa)
            side.vteps.add((enc.src, enc.dst))
            side.macs.add(sha)
            if len(side.numbers) < MAX_NUMBERS:
                side.numbers.append(number)
        if spa != "0.0.0.0" and op in (1, 2):
            domain = f"vni:{enc.vni}" if enc is not None else tap
            claims = self.arp_claims[domain].setdefault(spa, {})
            numbers = claims.setdefault(sha, [])
            if len(numbers) < MAX_NUMBERS:
                numbers.append(number)
        if op == 1 and spa != tpa and spa != "0.0.0.0":
            wait = self.arp_waits.get((spa, tpa))
            if wait is None:
                wait = self.arp_waits[(spa, tpa)] = ArpWait(spa, tpa, ts)
            wait.count += 1
            if len(wait.numbers) < MAX_NUMBERS:
                wait.numbers.append(number)
            wait.taps.add(tap)
            if enc is not None:
                wait.vnis.add(enc.vni)
        elif op == 2:
            self.arp_waits.pop((tpa, spa), None)

    def _ip_packet(self, number: int, ts: int, tap: str, data: bytes, hdr: wire.Ip,
                   src_mac: str | None, dst_mac: str | None, enc: Encap | None) -> None:
        if enc is not None:
            self._checksums(number, tap, data, hdr, outer=False)
        if hdr.version == 4 and hdr.fragment and enc is None:
            self.fragment(number, tap, hdr, data)
        first8 = data[hdr.start:hdr.start + 8] if not hdr.frag & 0x1FFF else b""
        if hdr.proto in (1, 58) and len(first8) >= 1:
            errors = wire.ICMP_ERRORS if hdr.version == 4 else wire.ICMPV6_ERRORS
            if first8[0] in errors:
                self._icmp_error(number, ts, tap, data, hdr, enc)
                return
            self._echo(number, hdr, first8)
        if hdr.version == 4:
            if enc is not None:
                self._conversation(number, hdr, src_mac, enc)
            if hdr.proto == 6:
                self._syn(number, data, hdr, enc)
            if self._multi_tap:
                self._sight(number, ts, tap, hdr, first8, src_mac, dst_mac, enc)

    def _sight(self, number: int, ts: int, tap: str, hdr: wire.Ip, first8: bytes,
               src_mac: str | None, dst_mac: str | None, enc: Encap | None) -> None:
        key: InnerKey = (hdr.src, hdr.dst, hdr.proto, hdr.ident, hdr.frag, first8)
        sightings = self.journeys.get(key)
        if sightings is None:
            if len(self.journeys) >= MAX_JOURNEYS:
                self.journeys_capped = True
                return
            sightings = self.journeys[key] = []
        sightings.append(Sighting(number, ts, tap, enc, hdr.ttl, src_mac, dst_mac, hdr.total))

    def _conversation(self, number: int, hdr: wire.Ip, src_mac: str | None,
                      enc: Encap) -> None:
        a, b = sorted((hdr.src, hdr.dst))
        if _is_ip_group(hdr.dst) or hdr.dst == "255.255.255.255" or hdr.src == "0.0.0.0":
            return  # multicast and broadcast are nobody's conversation
        side = self._side((a, b, hdr.proto), enc.vni)
        side.direct = side.direct or hdr.ttl in INITIAL_TTLS
        if len(side.ttls) < 16:
            side.ttls.add(hdr.ttl)
        if src_mac is not None and len(side.macs) < 16:
            side.macs.add(src_mac)
        side.senders.add(hdr.src)
        side.vteps.add((enc.src, enc.dst))
        if len(side.numbers) < MAX_NUMBERS:
            side.numbers.append(number)

    def _side(self, key: tuple[str, str, int], vni: int) -> ConvSide:
        sides = self.conversations.setdefault(key, {})
        side = sides.get(vni)
        if side is None:
            side = sides[vni] = ConvSide()
        return side

    def _echo(self, number: int, hdr: wire.Ip, first8: bytes) -> None:
        if len(first8) < 8:
            return
        itype = first8[0]
        ident, seq = wire.u16(first8, 4), wire.u16(first8, 6)
        if itype in (wire.ICMP_ECHO, 128):
            key = (hdr.src, hdr.dst, ident, seq)
            if key not in self.echoes:
                size = None if hdr.frag & 0x2000 else hdr.total
                self.echoes[key] = Echo(number, size)
        elif itype in (wire.ICMP_ECHOREPLY, 129):
            echo = self.echoes.get((hdr.dst, hdr.src, ident, seq))
            if echo is not None:
                echo.answered = True

    def _syn(self, number: int, data: bytes, hdr: wire.Ip, enc: Encap | None) -> None:
        start = hdr.start
        if hdr.fragment or hdr.end - start < 20 or not data[start + 13] & 0x02:
            return
        end = min(hdr.end, start + (data[start + 12] >> 4) * 4)
        i = start + 20
        while i < end:
            kind = data[i]
            if kind == 0:
                break
            if kind == 1:
                i += 1
                continue
            if i + 1 >= end or data[i + 1] < 2:
                break
            if kind == 2 and data[i + 1] == 4 and i + 4 <= end:
                if len(self.syn_mss) < MAX_NUMBERS:
                    self.syn_mss.append((number, hdr.src, hdr.dst, wire.u16(data, i + 2), enc))
                break
            i += data[i + 1]

    def _icmp_error(self, number: int, ts: int, tap: str, data: bytes, hdr: wire.Ip,
                    enc: Encap | None) -> None:
        start = hdr.start
        if hdr.end - start < 8 + 20:
            return
        itype, code = data[start], data[start + 1]
        mtu: int | None = None
        if hdr.version == 4 and itype == wire.ICMP_DEST_UNREACH and code == wire.ICMP_FRAG_NEEDED:
            mtu = wire.u16(data, start + 6)
        elif hdr.version == 6 and itype == wire.ICMPV6_PKT_TOOBIG:
            mtu = int.from_bytes(data[start + 4:start + 8], "big")
        quoted = wire.ip(data, start + 8)
        if quoted is None:
            return
        sport = dport = None
        vni: int | None = None
        inner: InnerKey | None = None
        inner_mac: str | None = None
        q = quoted.start
        if quoted.proto == 17 and not quoted.frag & 0x1FFF and len(data) >= q + 8:
            sport, dport = wire.u16(data, q), wire.u16(data, q + 2)
            if dport in self.vxlan_ports or sport in self.vxlan_ports:
                if len(data) >= q + 16 and data[q + 8] & 0x08:
                    vni = int.from_bytes(data[q + 12:q + 15], "big")
                inner, inner_mac = _quoted_inner(data, q + 16)
                if vni is None:
                    vni = -1  # VXLAN by its port, the header cut off: an underlay error still
        if vni is None:
            inner = (quoted.src, quoted.dst, quoted.proto, quoted.ident, quoted.frag,
                     data[q:q + 8] if len(data) >= q + 8 else b"")
        self.icmp_errors.append(IcmpError(
            number, ts, tap, hdr.version, hdr.src, hdr.dst, itype, code, mtu, quoted.src,
            quoted.dst, quoted.proto, sport, dport, vni, inner, inner_mac, enc, quoted.ttl,
            quoted.total))

    def _checksums(self, number: int, tap: str, data: bytes, hdr: wire.Ip,
                   outer: bool) -> None:
        sampled = self._sampled.get((tap, hdr.src), 0)
        if sampled >= CHECKSUM_SAMPLE:
            return
        self._sampled[(tap, hdr.src)] = sampled + 1
        if hdr.version == 4 and internet_checksum(data[hdr.off:hdr.start]) != 0:
            self._checksum_note(tap, hdr.src, "ip", False, number)
        ok = wire.transport_ok(data, hdr)
        if ok is None:
            return
        if outer and hdr.proto == 17 and wire.u16(data, hdr.start + 6) == 0:
            return
        self._checksum_note(tap, hdr.src, "udp" if hdr.proto == 17 else "tcp", ok, number)

    def _checksum_note(self, tap: str, sender: str, what: str, ok: bool, number: int) -> None:
        entry = self.checksums.get((tap, sender, what))
        if entry is None:
            entry = self.checksums[(tap, sender, what)] = Checksums()
        if ok:
            entry.good += 1
        else:
            entry.bad += 1
            if number and len(entry.numbers) < MAX_NUMBERS:
                entry.numbers.append(number)

    @property
    def taps(self) -> list[str]:
        """Every tap of the capture: declared ones first (a tap that saw nothing still
        counts), then any seen only in packets."""
        found = list(self.declared_taps)
        found += [t for t in self.taps_seen if t not in found]
        return found


def _quoted_inner(data: bytes, off: int) -> tuple[InnerKey | None, str | None]:
    """The inner IPv4 packet of a quoted VXLAN datagram (its Ethernet header at ``off``)."""
    if len(data) < off + 14 + 20 or wire.u16(data, off + 12) != wire.ETH_P_IP:
        return None, None
    inner = wire.ip(data, off + 14)
    if inner is None or inner.version != 4:
        return None, data[off + 6:off + 12].hex(":")
    first8 = data[inner.start:inner.start + 8] if not inner.frag & 0x1FFF else b""
    if len(first8) < 8 and not inner.frag & 0x1FFF:
        return None, data[off + 6:off + 12].hex(":")
    return ((inner.src, inner.dst, inner.proto, inner.ident, inner.frag, first8),
            data[off + 6:off + 12].hex(":"))


_ODD = frozenset("13579bdfBDF")  # a MAC whose first octet is odd is a group address


_GROUPS: dict[str, bool] = {}


def _is_ip_group(ip: str) -> bool:
    found = _GROUPS.get(ip)
    if found is None:
        if ":" in ip:
            found = ip[:2].lower() == "ff"
        else:
            first = ip.partition(".")[0]
            found = first.isdigit() and 224 <= int(first) <= 239
        if len(_GROUPS) > 65536:
            _GROUPS.clear()
        _GROUPS[ip] = found
    return found
