"""present.taps: ping's summary of times and the cutting of sightings into paths (hand-computed
expectations)."""

from __future__ import annotations

import math

from vxlankit.present.taps import PathFinder, rtt_summary

MS = 1_000_000


def test_rtt_summary_is_pings() -> None:
    assert rtt_summary([]) is None
    s = rtt_summary([1 * MS, 2 * MS, 3 * MS, 4 * MS])
    assert s is not None
    assert (s.count, s.min_ns, s.avg_ns, s.max_ns) == (4, MS, 2_500_000, 4 * MS)
    # ping's mdev: sqrt(mean(t^2) - mean(t)^2), the population standard deviation
    assert math.isclose(s.mdev_ns, math.sqrt(7.5 - 6.25) * MS)
    assert s.text() == "1.000/2.500/4.000/1.118"
    odd = rtt_summary([5, 6])
    assert odd is not None and odd.avg_ns == 5  # the average rounds down to the nanosecond


def _describe(key: object) -> tuple[str, str]:
    return "packet", str(key)


def test_paths_cut_on_a_repeat_or_a_long_gap() -> None:
    finder = PathFinder(_describe)
    for key, tap, ts in [("x", 0, 0), ("x", 1, 5), ("x", 2, 9),  # one packet over three taps
                         ("x", 0, 100), ("x", 1, 104),  # seen on tap 0 again: the next one
                         ("y", 0, 0), ("y", 1, 3 * 10**9)]:  # too far apart to be one packet
        finder.add(key, tap, ts)
    paths = [[(step.tap, step.ts_ns) for step in p.steps] for p in finder.paths()]
    assert paths == [[(0, 0), (1, 5), (2, 9)], [(0, 0)], [(0, 100), (1, 104)],
                     [(1, 3 * 10**9)]]
    hops = {(h.src, h.dst): (h.times.count, h.times.min_ns, h.times.max_ns)
            for h in finder.hops()}
    assert hops == {(0, 1): (2, 4, 5), (1, 2): (1, 4, 4)}
