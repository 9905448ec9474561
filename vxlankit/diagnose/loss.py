"""``loss``: in a capture with several taps, where an inner packet was last seen and where it
should have appeared next, and what explains the gap.

Each inner IPv4 packet is followed by its identity (addresses, IP ID, the first 8 bytes after
the IP header), which neither routing nor encapsulation changes.  The path is learned from the
capture itself: the tap where an address's packets start is where it lives; the underlay tap
where a VTEP's datagrams are first seen is its sending side, the one where they are seen last
its receiving side.  Where the capture cannot tell (nothing ever made it through), tap names of
the form ``host/interface`` (as ``synth`` writes them) say which taps share a host.

A packet is lost at one of three places: in the sending host (seen on the container side,
never encapsulated), in the underlay (seen leaving, never arriving), in the receiving host
(arrived inside VXLAN, never delivered).  The explanation is whatever the capture and the
models hold for that place: the model's drop and its Linux reason, an ICMP error quoting the
packet, the FDB a VTEP shows by where it sends, the VNIs it uses.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from vxlankit.diagnose.context import Context
from vxlankit.diagnose.evidence import Encap, InnerKey, Sighting
from vxlankit.diagnose.kinds import VXLAN_OVERHEAD, Diagnosis, make, numbers_text
from vxlankit.diagnose.overlay import wrong_remotes
from vxlankit.present.plural import counted


@dataclass(frozen=True)
class _Gap:
    stage: str  # "sending host", "underlay", "receiving host"
    last_tap: str
    expected: str
    src: str
    dst: str
    explanation: str
    checks: tuple[str, ...]
    also: str | None  # another kind the explanation amounts to (unknown_unicast ...)


_ODD = frozenset("13579bdf")


def _is_group(ip: str) -> bool:
    first = ip.partition(".")[0]
    return ip == "255.255.255.255" or (first.isdigit() and 224 <= int(first) <= 239)


def _host(tap: str) -> str | None:
    return tap.partition("/")[0] if "/" in tap else None


def detect(ctx: Context) -> list[Diagnosis]:
    ev = ctx.evidence
    taps = ev.taps
    if len(taps) < 2:
        return []
    paths = _Paths(ctx)
    gaps: dict[_Gap, list[Sighting]] = defaultdict(list)
    encs: dict[_Gap, set[Encap]] = defaultdict(set)
    for key, sightings in ev.journeys.items():
        gap = paths.gap(key, sightings)
        if gap is not None:
            gaps[gap].append(sightings[-1])
            encs[gap] |= {s.encap for s in sightings if s.encap is not None}
    found = []
    for gap, lasts in sorted(gaps.items(), key=lambda kv: kv[1][0].number):
        numbers = [s.number for s in lasts]
        via = sorted(encs[gap], key=lambda e: (e.src, e.dst, e.vni))
        inside = (f" (inside VXLAN {via[-1].src} -> {via[-1].dst}, VNI {via[-1].vni})"
                  if via and lasts[0].encap is not None else "")
        summary = (f"{counted(len(lasts), 'packet')} from {gap.src} to {gap.dst} last seen at "
                   f"{gap.last_tap}{inside}, never at {gap.expected} "
                   f"({numbers_text(numbers)}): lost in the {gap.stage}")
        found.append(make(
            "loss", summary, {"explanation": gap.explanation}, packets=numbers,
            vni=[e.vni for e in via], vtep=[v for e in via for v in (e.src, e.dst)],
            taps=[gap.last_tap, gap.expected], checks=gap.checks,
            facts={"last_seen": gap.last_tap, "expected": gap.expected, "stage": gap.stage,
                   "lost": len(lasts)}))
        if gap.also == "unknown_unicast":
            mac = lasts[0].dst_mac or "?"
            found.append(make(
                "unknown_unicast",
                f"frames for {mac} from {gap.src} never left the sending host "
                f"({numbers_text(numbers)}): no VXLAN frame in the capture is for or from "
                f"{mac}", {"vtep": "the sending VTEP", "mac": mac}, packets=numbers,
                taps=[gap.last_tap], facts={"mac": mac}, severity="error"))
    return found


class _Paths:
    """What the capture says about where each address lives and each VTEP's taps."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        ev = ctx.evidence
        self.underlay = ev.underlay_taps
        self.overlay = [t for t in ev.taps if t not in self.underlay]
        self.vteps = {v for pair in ev.pairs for v in pair}
        self.lives: dict[str, set[str]] = defaultdict(set)  # tap -> inner addresses
        self.send_tap: dict[str, str] = {}  # VTEP -> the underlay tap it sends past first
        self.recv_tap: dict[str, str] = {}  # VTEP -> the underlay tap its datagrams reach
        self.src_send: dict[str, str] = {}  # inner source -> the first tap it is encapsulated at
        self.inner_macs: set[str] = set()  # every MAC inside VXLAN, as source or destination
        self.arrived: dict[str, int] = defaultdict(int)  # VTEP -> largest inner size it got
        for (src, _, _, _, _, _), sightings in ev.journeys.items():
            first = sightings[0]
            if first.encap is None and first.tap not in self.underlay:
                self.lives[first.tap].add(src)
            enc = [s for s in sightings if s.encap is not None]
            for s in enc:
                self.inner_macs |= {m for m in (s.src_mac, s.dst_mac) if m}
            if enc:
                self.src_send.setdefault(src, enc[0].tap)
            if len({s.tap for s in enc}) >= 2:
                assert enc[0].encap is not None and enc[-1].encap is not None
                self.send_tap.setdefault(enc[0].encap.src, enc[0].tap)
                self.recv_tap.setdefault(enc[-1].encap.dst, enc[-1].tap)
                self.arrived[enc[-1].encap.dst] = max(self.arrived[enc[-1].encap.dst],
                                                      enc[-1].size)
        for (_, _, mac), _ in ev.sends_to.items():
            self.inner_macs.add(mac)
        for (_, _, mac), _ in ev.arrives_from.items():
            self.inner_macs.add(mac)

    def home(self, ip: str) -> str | None:
        for tap, addresses in self.lives.items():
            if ip in addresses:
                return tap
        return None

    def gap(self, key: InnerKey, sightings: list[Sighting]) -> _Gap | None:
        src, dst = key[0], key[1]
        if src in self.vteps or dst in self.vteps:
            return None  # the underlay's own traffic (ICMP between hosts ...)
        # the first octet's low bit, as text ("01:00:5e..." is a group); no MAC (a raw-IP
        # capture has none) is no group
        if _is_group(dst) or (sightings[0].dst_mac or "00")[1:2] in _ODD:
            return None  # multicast and broadcast: flooded to whoever wants it, not lost
        if all(s.encap is None and s.tap in self.underlay for s in sightings):
            return None
        last = sightings[-1]
        home = self.home(dst)
        if last.encap is None:
            if last.tap == home or any(s.encap is not None for s in sightings):
                return None  # delivered (or decapsulated on the far side)
            if home is not None and _host(home) == _host(last.tap) and _host(home):
                return None  # a neighbour on the same host: no overlay on the way
            silent = [t for t in self.ctx.evidence.taps if not self.ctx.evidence.taps_seen[t]]
            expected = self.src_send.get(src) or self._same_host(
                last.tap, [*self.underlay, *silent])
            if expected is None:
                return None
            return self._sending(key, last, expected)
        enc = last.encap
        enc_taps = {s.tap for s in sightings if s.encap is not None}
        rx = self.recv_tap.get(enc.dst)
        tx = self.send_tap.get(enc.src)
        if rx == last.tap or len(enc_taps) >= 2 or (tx is not None and tx != last.tap):
            at_receiver = True
        elif tx == last.tap or rx is not None:
            at_receiver = False
        else:
            origin = _host(sightings[0].tap)
            at_receiver = origin is not None and _host(last.tap) != origin
        if at_receiver:
            expected = home or self._same_host(last.tap, [t for t in self.overlay
                                                          if t != sightings[0].tap])
            if expected is None or expected == last.tap:
                return None
            return self._receiving(key, sightings, last, enc, expected)
        expected = rx or self._other_underlay(last.tap, home)
        if expected is None:
            return None
        return self._underlay(key, last, enc, expected)

    def _same_host(self, tap: str, candidates: list[str] | set[str]) -> str | None:
        host = _host(tap)
        same = [t for t in candidates if host is not None and _host(t) == host and t != tap]
        if len(same) == 1:
            return same[0]
        others = [t for t in candidates if t != tap]
        return others[0] if len(others) == 1 else None

    def _other_underlay(self, tap: str, home: str | None) -> str | None:
        """The underlay tap on the receiving side: one that carried VXLAN, or a tap that saw
        nothing at all (the datagrams never got there), near the destination's home or named
        like ``tap`` on another host (node1/eth0 -> node2/eth0)."""
        silent = [t for t in self.ctx.evidence.taps if not self.ctx.evidence.taps_seen[t]]
        others = sorted(t for t in (*self.underlay, *silent) if t != tap)
        if home is not None and _host(home) is not None:
            near = [t for t in others if _host(t) == _host(home) and t in self.underlay]
            if len(near) == 1:
                return near[0]
        if len(others) > 1 and "/" in tap:
            alike = [t for t in others if t.partition("/")[2] == tap.partition("/")[2]
                     and _host(t) != _host(tap)]
            if len(alike) == 1:
                return alike[0]
        return others[0] if len(others) == 1 else None

    # ------------------------------------------------------------------ explanations

    def _sending(self, key: InnerKey, last: Sighting, expected: str) -> _Gap:
        ev = self.ctx.evidence
        src, dst = key[0], key[1]
        own = [e for e in ev.icmp_errors
               if e.frag_needed and not e.about_vxlan and e.inner == key]
        if own:
            e = own[0]
            return _Gap("sending host", last.tap, expected, src, dst,
                        f"The VTEP refused it as too big for the path to the remote VTEP and "
                        f"answered {e.to} with ICMP fragmentation needed, MTU {e.mtu} "
                        "(skb_tunnel_check_pmtu).",
                        (f"ip link set dev vxlan0 mtu {e.mtu}   (and the containers' MTU)",),
                        None)
        fits = self._inner_mtu()
        if fits is not None and last.size > fits:
            return _Gap("sending host", last.tap, expected, src, dst,
                        f"It is {last.size} bytes and the path takes {fits} at most (ICMP "
                        "fragmentation needed in this capture): the VTEP does not send it "
                        "(DF clear inside: no ICMP back; the outer DF set: the host drops "
                        "the datagram it cannot fragment).",
                        (f"ip link set dev vxlan0 mtu {fits}   (and the containers' MTU)",),
                        None)
        mac = last.dst_mac
        if mac and mac not in self.inner_macs:
            return _Gap("sending host", last.tap, expected, src, dst,
                        f"No VXLAN frame in the capture is for or from {mac}: the sending "
                        f"VTEP has no FDB entry for it. vxlan_xmit finds neither an entry nor a "
                        f"default (all-zeros) one, raises an L2 miss (vxlan_fdb_miss) when "
                        f"l2miss is on, as in Docker's overlay, and drops the frame "
                        f"(VXLAN_NO_REMOTE).",
                        (f"bridge fdb show dev vxlan0 | grep {mac}   (on the sending host)",
                         "ip monitor neigh   (the L2 misses)"), "unknown_unicast")
        return _Gap("sending host", last.tap, expected, src, dst,
                    "The sending host's bridge or VTEP did not pass it on, and the capture "
                    "shows no reason: an FDB entry missing or pointing nowhere "
                    "(VXLAN_NO_REMOTE), a filter on the bridge.",
                    ("bridge fdb show dev vxlan0   (on the sending host)",
                     "perf trace -e skb:kfree_skb   (the drop reason)"), None)

    def _inner_mtu(self) -> int | None:
        """The largest inner packet the path takes, as this capture's ICMP fragmentation
        needed say (a router's, less the VXLAN overhead, or the VTEP's own)."""
        found = []
        for e in self.ctx.evidence.icmp_errors:
            if e.frag_needed and e.mtu:
                if e.about_vxlan:
                    found.append(e.mtu - VXLAN_OVERHEAD[e.version])
                elif e.reporter == e.quoted_dst:
                    found.append(e.mtu)
        return min(found) if found else None

    def _underlay(self, key: InnerKey, last: Sighting, enc: Encap, expected: str) -> _Gap:
        ev = self.ctx.evidence
        src, dst = key[0], key[1]
        about = [e for e in ev.icmp_errors if e.about_vxlan and (
            e.inner == key or (e.inner is None and e.quoted_src == enc.src
                               and e.quoted_dst == enc.dst))]
        for e in about:
            if e.frag_needed:
                inner_mtu = (e.mtu or 0) - VXLAN_OVERHEAD[e.version]
                return _Gap("underlay", last.tap, expected, src, dst,
                            f"{e.reporter} dropped it as too big for its next link (MTU "
                            f"{e.mtu}) and said so with ICMP fragmentation needed: the outer "
                            "header has DF set.",
                            (f"ip link set dev vxlan0 mtu {inner_mtu}   (the inner MTU that "
                             "fits)",), None)
            if e.time_exceeded:
                return _Gap("underlay", last.tap, expected, src, dst,
                            f"{e.reporter} dropped it when its TTL ran out (ICMP time "
                            "exceeded).",
                            ("ip -d link show type vxlan   (the device's ttl)",), None)
            if e.port_unreachable:
                return _Gap("underlay", last.tap, expected, src, dst,
                            f"{e.reporter} has no socket on UDP port {e.dport} (ICMP port "
                            "unreachable).",
                            ("ip -d link show type vxlan   (dstport, on both hosts)",), None)
        if any(w.target == enc.dst for w in ev.arp_waits.values()):
            return _Gap("underlay", last.tap, expected, src, dst,
                        f"Nobody has {enc.dst}: ARP for it goes unanswered on the underlay. "
                        f"The sending VTEP's FDB points {last.dst_mac} at a host that is not "
                        "there (a stale entry).",
                        (f"bridge fdb show dev vxlan0 | grep {last.dst_mac}   (on {enc.src})",),
                        None)
        biggest = self.arrived.get(enc.dst, 0)
        if biggest and last.size > biggest:
            return _Gap("underlay", last.tap, expected, src, dst,
                        f"Nothing larger than {biggest} bytes (inner) reached {enc.dst}, and "
                        f"this packet is {last.size}: an MTU black hole on the path (DF set, "
                        "the router's ICMP fragmentation needed filtered or never sent).",
                        (f"tracepath -n {enc.dst}   (from {enc.src})",), None)
        return _Gap("underlay", last.tap, expected, src, dst,
                    f"No ICMP error in the capture explains it: a firewall or security group "
                    f"dropping UDP {enc.dport} between {enc.src} and {enc.dst}, or loss on the "
                    "link.",
                    (f"tcpdump -ni any udp port {enc.dport}   (on each hop between the VTEPs)",
                     f"iptables -S | grep {enc.dport}   (on both hosts)"), None)

    def _receiving(self, key: InnerKey, sightings: list[Sighting], last: Sighting, enc: Encap,
                   expected: str) -> _Gap:
        ev = self.ctx.evidence
        src, dst = key[0], key[1]
        gap = ("receiving host", last.tap, expected, src, dst)
        for s in sightings:
            for vtep, drop in ev.drops.get(s.number, []):
                if vtep == enc.dst:
                    return _Gap(*gap, f"The model of VTEP {vtep} drops it as Linux would: "
                                      f"{drop.reason.value} ({drop.detail}).",
                                ("perf trace -e skb:kfree_skb   (on the receiving host)",),
                                None)
        for e in ev.icmp_errors:
            if (e.port_unreachable and e.about_vxlan and e.quoted_dst == enc.dst
                    and e.dport == enc.dport):
                return _Gap(*gap, f"{enc.dst} has no socket on UDP port {enc.dport}: it "
                                  "answered ICMP port unreachable.",
                            ("ip -d link show type vxlan   (dstport, on both hosts)",), None)
        mac = last.src_mac
        wrong = wrong_remotes(self.ctx).get((enc.dst, enc.vni, mac or ""))
        if wrong is not None:
            to = ", ".join(sorted(wrong[0]))
            return _Gap(*gap, f"{enc.dst} sends frames for {mac} to {to}, not to {enc.src}: "
                              f"its FDB has an entry for {mac} pointing at {to}. A static one "
                              f"is never moved by vxlan_snoop, which drops every frame from "
                              f"{mac} arriving from {enc.src} (VXLAN_ENTRY_EXISTS).",
                        (f"bridge fdb show dev vxlan0 | grep {mac}   (on {enc.dst})",
                         f"bridge fdb replace {mac} dev vxlan0 dst {enc.src} static"), None)
        sent = sorted({v for (s, _), pair in ev.pairs.items() if s == enc.dst
                       for v in pair.vnis})
        if sent and enc.vni not in sent:
            return _Gap(*gap, f"{enc.dst} never sends on VNI {enc.vni} (it sends on "
                              f"{', '.join(str(v) for v in sent)}): with no vxlan device for "
                              f"VNI {enc.vni}, vxlan_rcv drops it (VXLAN_VNI_NOT_FOUND).",
                        ("ip -d link show type vxlan   (the device's id, on both hosts)",),
                        None)
        return _Gap(*gap, f"It reached {enc.dst} and the capture shows no reason it went no "
                          f"further. A Linux VTEP drops here, silently: when the source MAC "
                          f"{mac} has a static FDB entry to another VTEP (vxlan_snoop, "
                          f"VXLAN_ENTRY_EXISTS), when no device serves VNI {enc.vni} "
                          f"(VXLAN_VNI_NOT_FOUND); or the bridge or the veth behind it.",
                    (f"bridge fdb show dev vxlan0 | grep {mac}   (on {enc.dst})",
                     f"ip -d link show type vxlan   (id {enc.vni}, dstport {enc.dport})",
                     "perf trace -e skb:kfree_skb   (the drop reason)"), None)
