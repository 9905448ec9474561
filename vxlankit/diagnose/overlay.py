"""The overlay's own state: ``vni_mismatch`` (told apart from a ``routed`` hop),
``wrong_remote``, ``unanswered_arp``, ``unknown_unicast``, ``mac_flap``, ``linux_drop``,
``duplicate_ip``."""

from __future__ import annotations

from vxlankit.diagnose.context import Context
from vxlankit.diagnose.evidence import ConvSide
from vxlankit.diagnose.kinds import Diagnosis, make, numbers_text
from vxlankit.present.plural import counted

_DROP_WORDS = {
    "VXLAN_INVALID_HDR": "vxlan_rcv drops VXLAN whose I flag is clear (no valid VNI) and, "
                         "unlike RFC 7348, which asks receivers to ignore them, VXLAN with "
                         "reserved bits set, unless the device has the extension that uses "
                         "them (gbp, gpe)",
    "VXLAN_VNI_NOT_FOUND": "no vxlan device on the VTEP serves that VNI (vxlan_vs_find_vni)",
    "NO_SOCKET": "no VXLAN socket listens on that UDP port: the UDP stack drops the datagram "
                 "and answers ICMP port unreachable",
    "VXLAN_ENTRY_EXISTS": "vxlan_snoop will not move a static FDB entry for the inner source "
                          "MAC to the VTEP it now arrives from",
    "LOCAL_MAC": "the inner source MAC is the vxlan device's own: a loop",
    "MAC_INVALID_SOURCE": "the inner source MAC is multicast or zero: vxlan_snoop refuses it",
    "IP_TUNNEL_ECN": "the outer header is marked CE but the inner packet is not ECN-capable "
                     "(INET_ECN_decapsulate)",
    "UDP_CSUM": "a zero UDP checksum over IPv6 without udp6zerocsumrx",
    "OTHERHOST": "the outer destination is not the VTEP's address nor a group it joined",
}


def detect(ctx: Context) -> list[Diagnosis]:
    return [*_vnis(ctx), *_wrong_remote(ctx), *_arp(ctx), *_unknown_unicast(ctx),
            *_flaps(ctx), *_drops(ctx), *_duplicates(ctx)]


def classify(sides: dict[int, ConvSide]) -> str | None:
    """One inner conversation seen on several VNIs: ``"routed"`` when a router forwarded
    (every frame on some VNI has a lowered TTL), ``"mismatch"`` when every VNI carries frames
    the endpoints sent themselves, None on one VNI."""
    if len(sides) < 2:
        return None
    direct = [vni for vni, side in sides.items() if side.direct]
    return "mismatch" if len(direct) == len(sides) else "routed"


def routed_pairs(ctx: Context) -> list[tuple[int, int]]:
    """The VNI pairs routed conversations cross (replay's ``vni_pairs``), one per
    conversation and pair."""
    pairs: list[tuple[int, int]] = []
    for (_, _, proto), sides in ctx.evidence.conversations.items():
        if proto and classify(sides) == "routed":
            ordered = sorted(sides)
            pairs += list(zip(ordered, ordered[1:], strict=False))
    return pairs


def _vnis(ctx: Context) -> list[Diagnosis]:
    found: list[Diagnosis] = []
    routed: dict[tuple[int, ...], list[int]] = {}
    routed_ttls: set[int] = set()
    named: set[tuple[str, str]] = set()
    for (a, b, _), sides in sorted(ctx.evidence.conversations.items(),
                                   key=lambda kv: (kv[0][0], kv[0][1], -kv[0][2])):
        verdict = classify(sides)
        if verdict is None or (verdict == "mismatch" and (a, b) in named):
            continue
        vnis = tuple(sorted(sides))
        numbers = [n for side in sides.values() for n in side.numbers[:5]]
        if verdict == "routed":
            routed.setdefault(vnis, []).extend(numbers)
            routed_ttls |= {t for side in sides.values() for t in side.ttls}
            continue
        ttls = ", ".join(str(t) for t in sorted({t for side in sides.values()
                                                    for t in side.ttls})) or "none: ARP"
        vteps = sorted({v for side in sides.values() for pair in side.vteps for v in pair})
        who = "; ".join(f"VNI {vni}: {', '.join(sorted(side.senders))} -> "
                        f"{', '.join(sorted(f'{s}->{d}' for s, d in side.vteps))}"
                        for vni, side in sorted(sides.items()))
        named.add((a, b))
        found.append(make(
            "vni_mismatch",
            f"{a} <-> {b} is carried on VNIs {', '.join(str(v) for v in vnis)} with no router "
            f"in between ({who})",
            {"ttls": ttls, "vni_a": vnis[0], "vni_b": vnis[1],
             "port": _port(ctx, vteps)},
            packets=numbers, vni=vnis, vtep=vteps,
            facts={"conversation": [a, b]}))
    for vnis, numbers in sorted(routed.items()):
        found.append(make(
            "routed", f"conversations cross VNIs {' <-> '.join(str(v) for v in vnis)} through "
                      "a router (inner TTL lowered)",
            {"ttls": ", ".join(str(t) for t in sorted(routed_ttls))},
            packets=numbers, vni=vnis))
    return found


def _port(ctx: Context, vteps: list[str]) -> int:
    for (s, _), pair in ctx.evidence.pairs.items():
        if s in vteps and pair.dports:
            return pair.dports.most_common(1)[0][0]
    return 4789


def wrong_remotes(ctx: Context) -> dict[tuple[str, int, str], tuple[set[str], set[str]]]:
    """(VTEP, VNI, MAC) -> (remotes it sends MAC's frames to, remotes MAC arrives from), where
    the two do not meet: the VTEP's FDB points MAC at another host."""
    ev = ctx.evidence
    found = {}
    for key, sent_to in ev.sends_to.items():
        came_from = ev.arrives_from.get(key)
        if came_from and sent_to and not sent_to & came_from:
            found[key] = (sent_to, came_from)
    return found


def _wrong_remote(ctx: Context) -> list[Diagnosis]:
    found = []
    for (vtep, vni, mac), (sent_to, came_from) in sorted(wrong_remotes(ctx).items()):
        wrong, right = ", ".join(sorted(sent_to)), ", ".join(sorted(came_from))
        numbers = ctx.evidence.send_numbers.get((vtep, vni, mac), [])
        found.append(make(
            "wrong_remote",
            f"VTEP {vtep} sends frames for {mac} (VNI {vni}) to {wrong}, but {mac} is behind "
            f"{right} ({numbers_text(numbers)})",
            {"vtep": vtep, "mac": mac, "wrong": wrong, "right": right},
            packets=numbers, vni=[vni], vtep=[vtep, *sent_to, *came_from],
            facts={"mac": mac, "sent_to": sorted(sent_to), "behind": sorted(came_from)}))
    return found


def _arp(ctx: Context) -> list[Diagnosis]:
    ev = ctx.evidence
    found = []
    for wait in sorted(ev.arp_waits.values(), key=lambda w: w.first_ts):
        underlay = not wait.vnis and wait.taps <= ev.underlay_taps
        where = (f"flooded on VNI {', '.join(str(v) for v in sorted(wait.vnis))}" if wait.vnis
                 else "on the underlay" if underlay
                 else "never crossed the overlay" if ev.underlay_taps else "")
        cause = None
        if underlay:
            cause = (f"Nobody on the underlay has {wait.target}: whatever sends to it (a VTEP "
                     "whose FDB names it as a remote, a route) sends into the void. With a "
                     f"VTEP behind it, look for an FDB entry pointing at {wait.target}.")
        found.append(make(
            "unanswered_arp",
            f"ARP who-has {wait.target} tell {wait.asker}: {counted(wait.count, 'request')}, "
            "no reply "
            f"({numbers_text(wait.numbers)}{'; ' + where if where else ''})",
            {"target": wait.target},
            packets=wait.numbers, vni=wait.vnis, taps=sorted(wait.taps), cause=cause,
            checks=[f"bridge fdb show | grep {wait.target}   (on every VTEP host)"] if underlay
            else (),
            facts={"who_has": wait.target, "tell": wait.asker, "requests": wait.count}))
    return found


def _unknown_unicast(ctx: Context) -> list[Diagnosis]:
    ev = ctx.evidence
    found = []
    for src, mac, vni, numbers, remotes in ev.replicated:
        found.append(make(
            "unknown_unicast",
            f"VTEP {src} sent one frame for {mac} (VNI {vni}) to {len(remotes)} remotes "
            f"({', '.join(sorted(remotes))}; {numbers_text(numbers)}): flooded, not forwarded",
            {"vtep": src, "mac": mac}, packets=numbers, vni=[vni], vtep=[src, *remotes],
            facts={"mac": mac}))
    groups: dict[tuple[str, str, int], list[int]] = {}
    for src, mac, vni, number in ev.group_unicast:
        groups.setdefault((src, mac, vni), []).append(number)
    for (src, mac, vni), numbers in sorted(groups.items()):
        found.append(make(
            "unknown_unicast",
            f"VTEP {src} sent frames for {mac} (VNI {vni}) to a multicast group "
            f"({numbers_text(numbers)}): flooded, not forwarded",
            {"vtep": src, "mac": mac}, packets=numbers, vni=[vni], vtep=[src],
            facts={"mac": mac}))
    return found


def _flaps(ctx: Context) -> list[Diagnosis]:
    found = []
    for (vtep, vni, mac), remotes in sorted(ctx.flapping.items()):
        found.append(make(
            "mac_flap",
            f"{mac} (VNI {vni}) reaches VTEP {vtep} from {len(remotes)} VTEPs: "
            f"{', '.join(sorted(remotes))}",
            {"mac": mac, "vtep": vtep, "remotes": ", ".join(sorted(remotes))},
            packets=[ctx.evidence.first_arrival[(vtep, vni, mac, r)] for r in remotes
                     if (vtep, vni, mac, r) in ctx.evidence.first_arrival],
            vni=[vni], vtep=[vtep, *remotes], facts={"mac": mac, "remotes": sorted(remotes)}))
    return found


def _drops(ctx: Context) -> list[Diagnosis]:
    ev = ctx.evidence
    found = []
    for (vtep, reason), count in sorted(ctx.drops.items()):
        numbers = [n for n, outs in sorted(ev.drops.items())
                   if any(v == vtep and d.reason.value == reason for v, d in outs)]
        details = [d.detail for n in numbers[:1] for v, d in ev.drops[n] if v == vtep]
        words = _DROP_WORDS.get(reason, "the model drops it as Linux would")
        found.append(make(
            "linux_drop",
            f"a Linux VTEP at {vtep} would drop {counted(count, 'packet')}: {reason}"
            f"{' (' + details[0] + ')' if details else ''}",
            {"explanation": f"{words} ({reason}).", "vtep": vtep},
            packets=numbers[:50], vtep=[vtep], facts={"reason": reason, "count": count}))
    return found


def _duplicates(ctx: Context) -> list[Diagnosis]:
    found = []
    for domain, claims in sorted(ctx.evidence.arp_claims.items()):
        for ip, macs in sorted(claims.items()):
            if len(macs) < 2:
                continue
            where = f"on VNI {domain[4:]}" if domain.startswith("vni:") else f"at tap {domain}"
            found.append(make(
                "duplicate_ip",
                f"{ip} is claimed by {len(macs)} MACs {where}: {', '.join(sorted(macs))}",
                {"ip": ip, "macs": ", ".join(sorted(macs)), "domain": where},
                packets=[n for ns in macs.values() for n in ns[:10]],
                vni=[int(domain[4:])] if domain.startswith("vni:") else [],
                taps=[] if domain.startswith("vni:") else [domain],
                facts={"ip": ip, "macs": sorted(macs)}))
    return found
