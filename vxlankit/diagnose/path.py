"""The underlay path between VTEPs: ``mtu``, ``outer_fragmentation``, ``port_mismatch``,
``ttl_expired``.  Their evidence is mostly ICMP: the errors routers and hosts send about a
VXLAN datagram (an error quotes the start of the datagram, so its VTEPs, ports and VNI, and,
as Linux quotes up to 576 bytes, the inner packet too), and the VTEP's own ICMP to an inner
source when a frame does not fit the path."""

from __future__ import annotations

from collections import defaultdict

from vxlankit.diagnose.context import Context
from vxlankit.diagnose.evidence import IcmpError
from vxlankit.diagnose.kinds import VXLAN_OVERHEAD, Diagnosis, make, numbers_text
from vxlankit.present.plural import counted

ASSUMED_UNDERLAY_MTU = 1500
IANA_PORT, LINUX_PORT = 4789, 8472


def detect(ctx: Context) -> list[Diagnosis]:
    return [*_mtu(ctx), *_fragmentation(ctx), *_ports(ctx), *_ttl(ctx)]


def _mtu(ctx: Context) -> list[Diagnosis]:
    ev = ctx.evidence
    overhead = VXLAN_OVERHEAD[ev.outer_version]
    found: list[Diagnosis] = []
    by_path: dict[tuple[str, str], list[IcmpError]] = defaultdict(list)
    for e in ev.icmp_errors:
        if e.frag_needed and e.about_vxlan and e.encap is None:
            by_path[(e.quoted_src, e.quoted_dst)].append(e)
    # The VTEP's own answer (iptunnel_pmtud_build_icmp): from the inner destination's address
    # to the inner source, about the inner packet itself.
    own = [e for e in ev.icmp_errors
           if e.frag_needed and not e.about_vxlan and e.reporter == e.quoted_dst]
    for (local, remote), errors in sorted(by_path.items()):
        path_mtu = min(e.mtu or 0 for e in errors) or ASSUMED_UNDERLAY_MTU
        size = max(e.quoted_total for e in errors) - overhead
        inner_mtu = path_mtu - overhead
        vtep_own = [e for e in own if e.mtu is not None and e.mtu <= inner_mtu]
        routers = sorted({e.reporter for e in errors})
        summary = (f"VXLAN from {local} to {remote} is too big for the underlay: ICMP "
                   f"fragmentation needed from {', '.join(routers)} (next-hop MTU {path_mtu}) "
                   f"in {numbers_text(e.number for e in errors)}")
        if vtep_own:
            summary += (f"; the VTEP answered {', '.join(sorted({e.to for e in vtep_own}))} "
                        f"itself (MTU {min(e.mtu or 0 for e in vtep_own)}) in "
                        f"{numbers_text(e.number for e in vtep_own)}")
        found.append(make(
            "mtu", summary,
            {"overhead": overhead, "size": size, "needed": size + overhead,
             "path_mtu": path_mtu, "inner_mtu": inner_mtu, "local": local, "remote": remote},
            packets=[e.number for e in errors + vtep_own],
            vni=[e.vni for e in errors if e.vni is not None and e.vni >= 0],
            vtep=[local, remote], taps=[e.tap for e in errors + vtep_own],
            facts={"path_mtu": path_mtu, "inner_mtu": inner_mtu, "routers": routers}))
        own = [e for e in own if e not in vtep_own]
    if own:
        inner_mtu = min(e.mtu or 0 for e in own)
        size = max(e.quoted_total for e in own)
        targets = sorted({e.to for e in own})
        found.append(make(
            "mtu", f"the VTEP refused frames to {', '.join(sorted({e.reporter for e in own}))} "
                   f"from {', '.join(targets)} as too big for the path (ICMP fragmentation "
                   f"needed, MTU {inner_mtu}) in {numbers_text(e.number for e in own)}",
            {"overhead": overhead, "size": size, "needed": size + overhead,
             "path_mtu": inner_mtu + overhead, "inner_mtu": inner_mtu,
             "local": "the sending VTEP", "remote": "the remote VTEP"},
            packets=[e.number for e in own], taps=[e.tap for e in own],
            facts={"path_mtu": inner_mtu + overhead, "inner_mtu": inner_mtu}))
    if not found:
        found += _mtu_hints(ctx, overhead)
    return found


def _mtu_hints(ctx: Context, overhead: int) -> list[Diagnosis]:
    """No ICMP says so, but: large echoes go unanswered while small ones are answered, or a
    TCP SYN announces an MSS the overlay cannot carry."""
    ev = ctx.evidence
    found: list[Diagnosis] = []
    answered: dict[tuple[str, str], list[int]] = defaultdict(list)
    lost: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for (src, dst, _, _), echo in ev.echoes.items():
        if echo.size is None:
            continue
        if echo.answered:
            answered[(src, dst)].append(echo.size)
        else:
            lost[(src, dst)].append((echo.size, echo.number))
    path_mtu = max(ASSUMED_UNDERLAY_MTU, ev.largest_outer)
    for key, missing in sorted(lost.items()):
        ok = answered.get(key)
        if not ok or min(size for size, _ in missing) <= max(ok):
            continue
        biggest_ok = max(ok)
        smallest_lost = min(size for size, _ in missing)
        found.append(make(
            "mtu", f"echoes from {key[0]} to {key[1]} of {smallest_lost} bytes and more go "
                   f"unanswered while those up to {biggest_ok} bytes are answered "
                   f"({numbers_text(n for _, n in missing)}): a black hole for large "
                   "packets (an MTU problem whose ICMP is filtered or never sent)",
            {"overhead": overhead, "size": smallest_lost, "needed": smallest_lost + overhead,
             "path_mtu": f"less than {smallest_lost + overhead}", "inner_mtu": biggest_ok,
             "local": key[0], "remote": key[1]},
            packets=[n for _, n in missing], severity="warning",
            facts={"largest_answered": biggest_ok, "smallest_lost": smallest_lost}))
    limit = path_mtu - overhead - 40
    # Only a hint (info): the underlay may well carry jumbo frames the capture never shows.
    big = [(n, src, dst, mss, enc) for n, src, dst, mss, enc in ev.syn_mss if mss > limit]
    if big:
        mss = max(m for _, _, _, m, _ in big)
        found.append(make(
            "mtu", f"TCP SYNs announce MSS up to {mss}, more than the {limit} a "
                   f"{path_mtu}-byte underlay (if that is what it is) carries through VXLAN "
                   f"({numbers_text(n for n, *_ in big)})",
            {"overhead": overhead, "size": mss + 40, "needed": mss + 40 + overhead,
             "path_mtu": path_mtu, "inner_mtu": path_mtu - overhead,
             "local": big[0][1], "remote": big[0][2]},
            packets=[n for n, *_ in big], severity="info",
            vni=[e.vni for *_, e in big if e is not None],
            facts={"mss": mss, "assumed_path_mtu": path_mtu}))
    return found


def _fragmentation(ctx: Context) -> list[Diagnosis]:
    ev = ctx.evidence
    overhead = VXLAN_OVERHEAD[4]
    by_path: dict[tuple[str, str], list[tuple[int, str, int, bool]]] = defaultdict(list)
    datagrams: dict[tuple[str, str], int] = defaultdict(int)
    sizes: dict[tuple[str, str], int] = {}
    for key in ev.fragment_vxlan:
        pieces = ev.fragments.get(key, [])
        if not pieces:
            continue
        path = (key[0], key[1])
        by_path[path] += pieces
        datagrams[path] += 1
        tap = pieces[0][1]
        one_tap = [p for p in pieces if p[1] == tap]
        sizes[path] = max(sizes.get(path, 0), 20 + sum(total - 20 for _, _, total, _ in one_tap))
    found = []
    for (local, remote), pieces in sorted(by_path.items()):
        path_mtu = max(total for _, _, total, _ in pieces)
        size = sizes[(local, remote)]
        found.append(make(
            "outer_fragmentation",
            f"{counted(datagrams[(local, remote)], 'VXLAN datagram')} from {local} to {remote} "
            "of up to "
            f"{size} bytes crossed the underlay in fragments of at most {path_mtu} bytes "
            f"({numbers_text(n for n, *_ in pieces)})",
            {"size": size, "needed": size, "inner_mtu": path_mtu - overhead,
             "path_mtu": path_mtu, "local": local, "remote": remote},
            packets=[n for n, *_ in pieces], vtep=[local, remote],
            taps=[t for _, t, _, _ in pieces],
            facts={"datagrams": datagrams[(local, remote)], "largest_fragment": path_mtu}))
    return found


def _ports(ctx: Context) -> list[Diagnosis]:
    """One diagnosis per VTEP pair: ICMP port unreachable about VXLAN (from either end), or
    the two ends sending to different ports."""
    ev = ctx.evidence
    found: list[Diagnosis] = []
    by_pair: dict[frozenset[str], list[IcmpError]] = defaultdict(list)
    for e in ev.icmp_errors:
        if e.port_unreachable and e.about_vxlan and e.dport is not None:
            by_pair[frozenset((e.quoted_src, e.quoted_dst))].append(e)

    def sends_to(vtep: str) -> int | None:
        ports = [p.dports.most_common(1)[0][0] for (s, _), p in sorted(ev.pairs.items())
                 if s == vtep and p.dports]
        return ports[0] if ports else None

    for pair, errors in sorted(by_pair.items(), key=lambda kv: kv[1][0].number):
        refused = sorted({(e.quoted_dst, e.dport) for e in errors if e.dport is not None})
        parts = []
        for peer, port in refused:
            own = sends_to(peer)
            parts.append(f"{peer} has no socket on UDP {port}"
                         + (f" (it sends its own VXLAN to {own})" if own else ""))
        peer, port = refused[0]
        own = sends_to(peer)
        other = own if own is not None else (LINUX_PORT if port == IANA_PORT else IANA_PORT)
        found.append(make(
            "port_mismatch",
            f"VXLAN between {' and '.join(sorted(pair))} is answered with ICMP port "
            f"unreachable ({numbers_text(e.number for e in errors)}): "
            + "; ".join(parts),
            {"peer": peer, "port": port, "other_port": other},
            packets=[e.number for e in errors],
            vni=[e.vni for e in errors if e.vni is not None and e.vni >= 0],
            vtep=sorted(pair), taps=[e.tap for e in errors],
            facts={"port": port, "peer_port": own,
                   "refused": [{"vtep": v, "port": p} for v, p in refused]}))
    for (a, b), there in sorted(ev.pairs.items()):
        back = ev.pairs.get((b, a))
        if back is None or a > b or frozenset((a, b)) in by_pair:
            continue
        pa, pb = there.dports.most_common(1)[0][0], back.dports.most_common(1)[0][0]
        if pa != pb and not set(there.dports) & set(back.dports):
            found.append(make(
                "port_mismatch",
                f"{a} sends VXLAN to {b} on UDP port {pa}, {b} to {a} on port {pb}: each "
                "listens on its own dstport, so neither receives the other's",
                {"peer": b, "port": pa, "other_port": pb},
                packets=there.numbers[:5] + back.numbers[:5], vtep=[a, b],
                facts={"ports": {a: pa, b: pb}}))
    return found


def _ttl(ctx: Context) -> list[Diagnosis]:
    ev = ctx.evidence
    found: list[Diagnosis] = []
    by_path: dict[tuple[str, str], list[IcmpError]] = defaultdict(list)
    inner: list[IcmpError] = []
    for e in ev.icmp_errors:
        if e.time_exceeded:
            if e.about_vxlan:
                by_path[(e.quoted_src, e.quoted_dst)].append(e)
            else:
                inner.append(e)
    for (src, dst), errors in sorted(by_path.items()):
        pair = ev.pairs.get((src, dst))
        ttl = max(pair.ttls) if pair is not None and pair.ttls else "a small value"
        found.append(make(
            "ttl_expired",
            f"VXLAN from {src} to {dst} expires on the way: ICMP time exceeded from "
            f"{', '.join(sorted({e.reporter for e in errors}))} "
            f"({numbers_text(e.number for e in errors)})",
            {"src": src, "dst": dst, "ttl": ttl},
            packets=[e.number for e in errors], vtep=[src, dst],
            vni=[e.vni for e in errors if e.vni is not None and e.vni >= 0],
            taps=[e.tap for e in errors], facts={"sent_ttl": ttl}))
    if inner:
        found.append(make(
            "ttl_expired",
            f"ICMP time exceeded inside the overlay from "
            f"{', '.join(sorted({e.reporter for e in inner}))} to "
            f"{', '.join(sorted({e.to for e in inner}))} "
            f"({numbers_text(e.number for e in inner)}): a traceroute, or a routing loop "
            "between the overlay's subnets",
            {"src": "the inner source", "dst": "the inner destination", "ttl": "its TTL"},
            packets=[e.number for e in inner], severity="info",
            vni=[e.encap.vni for e in inner if e.encap is not None],
            taps=[e.tap for e in inner]))
    return found
