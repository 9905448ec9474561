"""Ladder (sequence) diagrams of a synthesized exchange: SVG for a file, text for a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from vxlankit.synth.ping import LadderStep

_LANE_GAP = 170
_ROW = 30
_TOP = 60
_LEFT = 90


def _ms(ts_ns: int, start_ns: int) -> str:
    return f"{(ts_ns - start_ns) / 1e6:9.3f} ms"


def _one_way(step: LadderStep) -> str | None:
    ns = step.one_way_ns
    return None if ns is None else f"{ns / 1e6:.3f}"


_MIN_LANE, _MAX_LANE = 7, 14  # columns per lane: the narrowest still holds "0.440>"


def ladder_text(lanes: Sequence[str], steps: Sequence[LadderStep], *, width: int = 100) -> str:
    """The ladder for a terminal, in ``width`` columns when the lanes allow it (at least 7
    columns a lane).  Each arrow carries its one-way time in milliseconds (the time until the
    frame reaches the next lane) and is followed by its label, on the same line when there is
    room, else on the line below.  Times on the left are from the first arrow, in ms."""
    if not steps:
        return ""
    start = steps[0].ts_ns
    stamps = [f"{(step.ts_ns - start) / 1e6:.3f}" for step in steps]
    left = max(len(t) for t in stamps) + 2
    n = len(lanes)
    w = max(_MIN_LANE, min(_MAX_LANE, (width - left) // max(n, 1)))
    centre = [left + i * w + w // 2 for i in range(n)]
    total = left + n * w

    def bars() -> list[str]:
        row = [" "] * total
        for x in centre:
            row[x] = "|"
        return row

    lines = _header(lanes, centre, w, total, left)
    index = {lane: i for i, lane in enumerate(lanes)}
    for step, stamp in zip(steps, stamps, strict=True):
        a, b = index[step.src], index[step.dst]
        lo, hi = centre[min(a, b)], centre[max(a, b)]
        row = bars()
        row[:left] = list(stamp.rjust(left - 2) + "  ")
        inner = hi - lo - 1  # the arrow's columns between the two bars
        for x in range(lo + 1, hi):
            row[x] = "-"
        head, text = (hi - 1, ">") if b > a else (lo + 1, "<")
        row[head] = text
        label = step.label
        delay = _one_way(step)
        if delay is not None:
            if len(delay) + 1 <= inner:
                # The time sits in the middle of the arrow, clear of its head.
                room = range(lo + 1, hi - 1) if b > a else range(lo + 2, hi)
                at = room.start + (len(room) - len(delay)) // 2
                row[at:at + len(delay)] = list(delay)
            else:
                label = f"({delay} ms) {label}"
        text_row = "".join(row).rstrip()
        if len(text_row) + 2 + len(label) <= width:
            lines.append(f"{text_row}  {label}")
            continue
        lines.append(text_row)
        under = bars()
        at = max(left, min(lo + 2, width - len(label)))
        under[at:at + len(label)] = list(label)
        lines.append("".join(under).rstrip())
    return "\n".join(lines) + "\n"


def _header(lanes: Sequence[str], centre: list[int], w: int, total: int,
            left: int) -> list[str]:
    """Lane names centred over their lanes, on one line when they fit, else on two (every
    other lane on each), cut short only past twice a lane's width."""
    def line(which: Sequence[int], room: int, unit: str = "ms") -> str:
        row = [" "] * (total + room)
        row[:left] = list(unit.rjust(left - 2) + "  ")
        for i in which:
            name = lanes[i][:room]
            at = max(0, centre[i] - (len(name) - 1) // 2)
            row[at:at + len(name)] = list(name)
        return "".join(row).rstrip()

    if all(len(lane) <= w - 1 for lane in lanes):
        return [line(range(len(lanes)), w - 1)]
    return [line(range(0, len(lanes), 2), 2 * w - 1),
            line(range(1, len(lanes), 2), 2 * w - 1, "")]


def ladder_svg(lanes: Sequence[str], steps: Sequence[LadderStep], title: str = "") -> str:
    """A standalone SVG: a vertical line per lane, an arrow per step, labelled."""
    width = _LEFT + _LANE_GAP * len(lanes) + 40
    height = _TOP + _ROW * (len(steps) + 1) + 20
    x = {lane: _LEFT + _LANE_GAP * i + _LANE_GAP // 2 for i, lane in enumerate(lanes)}
    start = steps[0].ts_ns if steps else 0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">',
        "<defs><marker id=\"arrow\" markerWidth=\"8\" markerHeight=\"8\" refX=\"7\" refY=\"4\" "
        "orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" fill=\"#333\"/></marker></defs>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    if title:
        out.append(f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(title)}'
                   "</text>")
    for lane, lx in x.items():
        out.append(f'<text x="{lx}" y="{_TOP - 14}" text-anchor="middle" font-weight="bold">'
                   f"{escape(lane)}</text>")
        out.append(f'<line x1="{lx}" y1="{_TOP - 8}" x2="{lx}" y2="{height - 10}" '
                   'stroke="#999" stroke-dasharray="4,3"/>')
    for row, step in enumerate(steps, start=1):
        y = _TOP + _ROW * row
        x1, x2 = x[step.src], x[step.dst]
        colour = "#1f5fbf" if "VXLAN" in step.label else "#333"
        out.append(f'<text x="4" y="{y + 4}" fill="#666">{escape(_ms(step.ts_ns, start).strip())}'
                   "</text>")
        out.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" '
                   'stroke-width="1.5" marker-end="url(#arrow)"/>')
        delay = _one_way(step)
        if delay is not None:  # the one-way time, under the arrow
            out.append(f'<text x="{(x1 + x2) / 2:.0f}" y="{y + 11}" text-anchor="middle" '
                       f'fill="#666" font-size="9">{delay} ms</text>')
        # A white halo keeps a label readable where it crosses a lane line.
        out.append(f'<text x="{(x1 + x2) / 2:.0f}" y="{y - 5}" text-anchor="middle" '
                   f'fill="{colour}" stroke="white" stroke-width="3" paint-order="stroke">'
                   f"{escape(step.label)}</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
