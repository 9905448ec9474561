"""Not faults, but what misleads or slows: ``checksum_offload`` (bad checksums that are an
artefact of where the capture was taken) and ``low_entropy`` (every flow on one UDP source
port, so ECMP and RSS cannot spread them)."""

from __future__ import annotations

from collections import defaultdict

from vxlankit.diagnose.context import Context
from vxlankit.diagnose.kinds import Diagnosis, make, numbers_text
from vxlankit.present.plural import counted

MIN_FLOWS = 4  # fewer flows on one port can be chance: Linux hashes into ~28000 ports


def detect(ctx: Context) -> list[Diagnosis]:
    return [*_offload(ctx), *_entropy(ctx)]


def _offload(ctx: Context) -> list[Diagnosis]:
    ev = ctx.evidence
    found = []
    by_tap: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for (tap, sender, _), counts in ev.checksums.items():
        if counts.bad:
            by_tap[tap].setdefault(sender, []).append(counts.bad)
    for tap, senders in sorted(by_tap.items()):
        for sender in sorted(senders):
            bad = [(what, c) for (t, s, what), c in ev.checksums.items()
                   if t == tap and s == sender and c.bad]
            # What the sender received at the same tap: packets to it are from elsewhere.
            others_bad = any(c.bad for (t, s, _), c in ev.checksums.items()
                             if t == tap and s != sender and s not in senders)
            if others_bad:
                continue
            if len(senders) > 1:
                continue  # several senders with bad checksums at one tap: not one host's TX
            if not any(c.good for (t, s, _), c in ev.checksums.items()
                       if t == tap and s != sender):
                continue  # nothing received there to compare with
            numbers = [n for _, c in bad for n in c.numbers]
            total = sum(c.bad for _, c in bad)
            whats = ", ".join(sorted({w.upper() for w, _ in bad}))
            found.append(make(
                "checksum_offload",
                f"{counted(total, 'packet')} from {sender} captured at {tap} carry {whats} "
                "checksums "
                f"that do not verify ({numbers_text(numbers)}), and nothing else there does",
                {"what": whats, "sender": sender, "tap": tap},
                packets=numbers, taps=[tap], facts={"sender": sender, "bad": total}))
    return found


def _entropy(ctx: Context) -> list[Diagnosis]:
    found = []
    for (src, dst), pair in sorted(ctx.evidence.pairs.items()):
        if len(pair.flows) >= MIN_FLOWS and len(pair.sports) == 1:
            port = next(iter(pair.sports))
            found.append(make(
                "low_entropy",
                f"{len(pair.flows)} inner flows from VTEP {src} to {dst} all use UDP source "
                f"port {port} ({numbers_text(pair.numbers)})",
                {"flows": len(pair.flows), "src": src, "dst": dst, "port": port},
                packets=pair.numbers[:20], vtep=[src, dst], vni=list(pair.vnis),
                facts={"flows": len(pair.flows), "sport": port}))
    return found
