"""Times measured on taps: ping's round-trip summary, and the path of one packet across taps.

A *tap* is where a capture was taken: a pcapng interface, or, across several capture files, a
file and one of its interfaces.  The taps of one pcapng share a clock, so the time between a
request and its reply on one tap is what a host there would measure, and the time between the
same packet on one tap and the next is the one-way delay of that hop.

One definition of round-trip time serves ``vxlankit stats`` and ``vxlankit synth ping``: on a
tap, the time from the echo request's frame to the matching reply's frame on that same tap.
:func:`rtt_summary` turns such times into what ping prints (``rtt min/avg/max/mdev``, mdev
being ping's: the population standard deviation, sqrt(mean(t^2) - mean(t)^2)).

:class:`PathFinder` recognises the same packet on several taps by a key drawn from its inner
content (addresses, IP id, ICMP identifier and sequence, payload; ARP operation, sender and
target), never its bytes, since encapsulation changes them.  Sightings of one key are cut into
separate packets when a tap sees the key again (a retransmission, a new exchange) or more than
:data:`MAX_GAP_NS` passed since the previous sighting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import NamedTuple

__all__ = ["MAX_GAP_NS", "HopSummary", "PathFinder", "PathStep", "RttSummary", "TapPath",
           "ms", "rtt_summary"]

MAX_GAP_NS = 1_000_000_000  # one second: far longer than any hop, shorter than ping's interval


def ms(ns: int | float) -> float:
    """Nanoseconds as milliseconds, kept to the nanosecond."""
    return round(ns / 1e6, 6)


@dataclass(frozen=True)
class RttSummary:
    """ping's summary of round-trip (or one-way) times, in nanoseconds."""

    count: int
    min_ns: int
    avg_ns: int  # the sum divided by the count, rounded down to the nanosecond
    max_ns: int
    mdev_ns: float

    def text(self) -> str:
        """``min/avg/max/mdev`` in milliseconds with three decimals, as ping prints them."""
        return "/".join(f"{ms(v):.3f}" for v in (self.min_ns, self.avg_ns, self.max_ns,
                                                  self.mdev_ns))

    def short(self) -> str:
        """``min/avg/max`` in milliseconds with three decimals."""
        return "/".join(f"{ms(v):.3f}" for v in (self.min_ns, self.avg_ns, self.max_ns))


def rtt_summary(times_ns: Sequence[int]) -> RttSummary | None:
    """min, average, max and ping's mdev of ``times_ns``; ``None`` for no times."""
    if not times_ns:
        return None
    n = len(times_ns)
    total = sum(times_ns)
    mean = total / n
    square = sum(t * t for t in times_ns) / n
    return RttSummary(n, min(times_ns), total // n, max(times_ns),
                      math.sqrt(max(square - mean * mean, 0.0)))


class PathStep(NamedTuple):  # a tuple: a capture makes one per packet and tap
    tap: int  # the caller's tap number
    ts_ns: int


@dataclass(frozen=True)
class TapPath:
    """One packet's way across the taps that saw it, in time order."""

    kind: str  # "ICMP echo request", "ARP reply", ...
    what: str  # which one: "10.0.0.3 > 10.0.0.4 id=0x9d2b seq=1"
    steps: tuple[PathStep, ...]


@dataclass(frozen=True)
class HopSummary:
    """Every packet of one kind that went from tap ``src`` straight to tap ``dst``."""

    src: int
    dst: int
    kind: str
    times: RttSummary


class PathFinder:
    """Collects sightings (key, tap, time) and cuts them into paths once everything is in.
    ``describe`` names a key's packet, (kind, which one), when the paths are asked for: adding
    a sighting is only an append, since it happens for every packet of a capture."""

    def __init__(self, describe: Callable[[Hashable], tuple[str, str]],
                 max_gap_ns: int = MAX_GAP_NS) -> None:
        self.describe = describe
        self.max_gap_ns = max_gap_ns
        self._seen: dict[Hashable, list[tuple[int, int, int]]] = {}  # key -> (ts, order, tap)
        self._order = 0

    def add(self, key: Hashable, tap: int, ts_ns: int) -> None:
        self._order += 1
        found = self._seen.get(key)
        if found is None:
            self._seen[key] = [(ts_ns, self._order, tap)]
        else:
            found.append((ts_ns, self._order, tap))

    def paths(self) -> list[TapPath]:
        """Every packet seen, on one tap or more, in the order of its first sighting."""
        out: list[tuple[int, int, TapPath]] = []
        for key, seen in self._seen.items():
            kind, what = self.describe(key)
            seen.sort()
            group: list[tuple[int, int, int]] = []
            taps: set[int] = set()
            for sighting in seen:
                ts, _, tap = sighting
                if group and (tap in taps or ts - group[-1][0] > self.max_gap_ns):
                    out.append(_path(kind, what, group))
                    group, taps = [], set()
                group.append(sighting)
                taps.add(tap)
            if group:
                out.append(_path(kind, what, group))
        out.sort(key=lambda item: (item[0], item[1]))
        return [item[2] for item in out]

    def hops(self, paths: Sequence[TapPath] | None = None) -> list[HopSummary]:
        """One-way delays per (tap, next tap, kind of packet), in the order first seen."""
        delays: dict[tuple[int, int, str], list[int]] = {}
        for path in self.paths() if paths is None else paths:
            for a, b in pairwise(path.steps):
                delays.setdefault((a.tap, b.tap, path.kind), []).append(b.ts_ns - a.ts_ns)
        hops = []
        for (src, dst, kind), times in delays.items():
            summary = rtt_summary(times)
            assert summary is not None
            hops.append(HopSummary(src, dst, kind, summary))
        return hops


def _path(kind: str, what: str, group: list[tuple[int, int, int]]
          ) -> tuple[int, int, TapPath]:
    return group[0][0], group[0][1], TapPath(
        kind, what, tuple([PathStep(tap, ts) for ts, _, tap in group]))
