"""Ladder (sequence) diagrams of a synthesized exchange: SVG for a file, text for a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from vxlankit.synth.ping import LadderStep

_LANE_GAP = 170
_ROW = 26
_TOP = 60
_LEFT = 90


def _ms(ts_ns: int, start_ns: int) -> str:
    return f"{(ts_ns - start_ns) / 1e6:9.3f} ms"


def ladder_text(lanes: Sequence[str], steps: Sequence[LadderStep]) -> str:
    """One line per arrow: time, ``from -> to``, label, with the lanes as columns."""
    if not steps:
        return ""
    start = steps[0].ts_ns
    width = 14
    header = " " * 13 + "".join(f"{lane:^{width}}" for lane in lanes)
    lines = [header]
    index = {lane: i for i, lane in enumerate(lanes)}
    for step in steps:
        a, b = index[step.src], index[step.dst]
        lo, hi = min(a, b), max(a, b)
        cells = [" " * (width // 2) + "|" + " " * (width - width // 2 - 1) for _ in lanes]
        row = list("".join(cells))
        left = lo * width + width // 2
        right = hi * width + width // 2
        for x in range(left + 1, right):
            row[x] = "-"
        if b > a:
            row[right - 1] = ">"
        else:
            row[left + 1] = "<"
        lines.append(f"{_ms(step.ts_ns, start)}  {''.join(row).rstrip()}  {step.label}")
    return "\n".join(lines) + "\n"


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
        # A white halo keeps a label readable where it crosses a lane line.
        out.append(f'<text x="{(x1 + x2) / 2:.0f}" y="{y - 5}" text-anchor="middle" '
                   f'fill="{colour}" stroke="white" stroke-width="3" paint-order="stroke">'
                   f"{escape(step.label)}</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
