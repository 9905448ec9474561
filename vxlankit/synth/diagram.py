"""Ladder (sequence) diagrams of a synthesized exchange: SVG for a file, text for a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from vxlankit.synth.ping import LadderStep


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


# SVG geometry.  Text is monospace: a character is at most ``_EM`` of the font size wide
# (DejaVu Sans Mono, what "monospace" resolves to on Debian, is 0.602; a little more, to be safe).
_EM = 0.63
_FONT, _SMALL, _TITLE_FONT = 11, 9, 13
_PAD = 10  # clear space on each side of a text, from a lane line or another text
_MIN_GAP = 60
_ROW = 30


def text_width(text: str, size: float) -> float:
    """The widest a ``size``-pixel monospace ``text`` renders (an upper bound)."""
    return len(text) * size * _EM


def _wrap(title: str, room: float) -> list[str]:
    """``title`` in lines of at most ``room`` pixels, broken before an option (" -")."""
    lines: list[str] = []
    for word in title.replace(" -", "\0-").split("\0"):
        if lines and text_width(lines[-1] + " " + word, _TITLE_FONT) <= room:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def ladder_svg(lanes: Sequence[str], steps: Sequence[LadderStep], title: str = "") -> str:
    """A standalone SVG: a vertical line per lane, an arrow per step, labelled.

    The lanes are spaced for their texts: adjacent lane names do not touch, and each arrow's
    label (with its one-way time under it) sits in one gap between two lane lines that the
    arrow spans, the one nearest its source that is wide enough, else that gap is widened: no
    lane line runs through a text.  ``title`` (the command that made it) heads the diagram,
    wrapped before an option when it is wider than the lanes.  Every element has a class
    (title, lane, lifeline, time, arrow, label, delay), for styling and for the tests that
    measure it."""
    n = len(lanes)
    start = steps[0].ts_ns if steps else 0
    times = [_ms(step.ts_ns, start).strip() for step in steps]
    left = max((text_width(t, _FONT) for t in times), default=0.0) + 2 * _PAD
    names = [text_width(lane, _FONT) for lane in lanes]
    gaps = [max(_MIN_GAP, (names[i] + names[i + 1]) / 2 + 2 * _PAD) for i in range(n - 1)]
    index = {lane: i for i, lane in enumerate(lanes)}
    # Each label goes in one gap of its arrow's span.  Arrows over a single gap have no choice:
    # they go first; the others, widest label first, take the gap nearest their source that is
    # already wide enough, else widen the widest gap they span (the least growth).
    spans = []
    for step in steps:
        a, b = index[step.src], index[step.dst]
        delay = _one_way(step)
        need = max(text_width(step.label, _FONT),
                   text_width(f"{delay} ms", _SMALL) if delay else 0.0) + 2 * _PAD
        spans.append((list(range(a, b)) if b > a else list(range(a - 1, b - 1, -1)), need))
    where: list[int | None] = [None] * len(steps)
    for i in sorted(range(len(steps)), key=lambda i: (len(spans[i][0]), -spans[i][1], i)):
        order, need = spans[i]
        if not order:
            continue
        fit = next((g for g in order if gaps[g] >= need), None)
        if fit is None:
            fit = max(order, key=lambda g: gaps[g])
            gaps[fit] = need
        where[i] = fit
    x = [left + max(names[0] / 2 if names else 0.0, _PAD)]
    for spacing in gaps:
        x.append(x[-1] + spacing)
    lanes_right = (x[-1] + names[-1] / 2 + _PAD) if n else left
    title_lines = _wrap(title, max(lanes_right - 20, 600.0)) if title else []
    width = max(lanes_right, *(text_width(t, _TITLE_FONT) + 20 for t in title_lines))
    width = int(width + 0.999)
    # Baselines: the title's lines 18 apart, the lane names 24 under the last of them, the
    # first arrow a row under the names.
    names_y = 22 + 18 * len(title_lines) + 6 if title_lines else 24
    top = names_y + _ROW + 4
    height = top + _ROW * len(steps) + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="{_FONT}">',
        "<defs><marker id=\"arrow\" markerWidth=\"8\" markerHeight=\"8\" refX=\"7\" refY=\"4\" "
        "orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" fill=\"#333\"/></marker></defs>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for i, line in enumerate(title_lines):
        out.append(f'<text class="title" x="10" y="{22 + 18 * i}" font-size="{_TITLE_FONT}" '
                   f'font-weight="bold">{escape(line)}</text>')
    for lane, lx in zip(lanes, x, strict=True):
        out.append(f'<text class="lane" x="{lx:.0f}" y="{names_y}" text-anchor="middle" '
                   f'font-weight="bold">{escape(lane)}</text>')
        out.append(f'<line class="lifeline" x1="{lx:.0f}" y1="{names_y + 8}" x2="{lx:.0f}" '
                   f'y2="{height - 10}" stroke="#999" stroke-dasharray="4,3"/>')
    for row, (step, stamp, slot) in enumerate(zip(steps, times, where, strict=True)):
        y = top + _ROW * row
        x1, x2 = x[index[step.src]], x[index[step.dst]]
        colour = "#1f5fbf" if "VXLAN" in step.label else "#333"
        out.append(f'<text class="time" x="{_PAD}" y="{y + 4}" fill="#666">{escape(stamp)}'
                   "</text>")
        out.append(f'<line class="arrow" x1="{x1:.0f}" y1="{y}" x2="{x2:.0f}" y2="{y}" '
                   f'stroke="{colour}" stroke-width="1.5" marker-end="url(#arrow)"/>')
        mid = (x[slot] + x[slot + 1]) / 2 if slot is not None else x1 + _PAD
        anchor = "middle" if slot is not None else "start"
        delay = _one_way(step)
        if delay is not None:  # the one-way time, under the arrow
            out.append(f'<text class="delay" x="{mid:.0f}" y="{y + 12}" '
                       f'text-anchor="{anchor}" fill="#666" font-size="{_SMALL}">{delay} ms'
                       "</text>")
        out.append(f'<text class="label" x="{mid:.0f}" y="{y - 5}" text-anchor="{anchor}" '
                   f'fill="{colour}">{escape(step.label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
