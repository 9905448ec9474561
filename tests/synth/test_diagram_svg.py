"""The ladder SVG: lanes sized to their labels, no lane line through a text, no text over
another, the full command as title; measured twice: from the SVG's own coordinates (with the
width bound ``text_width`` gives), and from what ``rsvg-convert`` actually draws."""

from __future__ import annotations

import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import require_tool
from vxlankit.cli import main
from vxlankit.synth.diagram import ladder_svg, text_width
from vxlankit.synth.ping import PingOptions, synthesize_ping

SVG = "{http://www.w3.org/2000/svg}"
REPO = Path(__file__).resolve().parents[2]
SCENARIOS = {
    "seed": PingOptions(count=2),
    "routed": PingOptions(count=2, subnets=("10.1.1.0/24", "11.1.1.0/24")),
    "flood-ipv6": PingOptions(count=1, arp="flood", underlay="ipv6", inner="ipv6"),
}
LONG_TITLE = ("vxlankit synth ping --vni 4096 -c 2 --subnet 10.1.1.0/24 --subnet 11.1.1.0/24 "
              "--subnet 12.1.1.0/24 --delay veth=1 --delay underlay@node1=3 -w x.pcapng "
              "--diagram x.svg")


@dataclass
class Box:
    kind: str
    text: str
    left: float
    right: float
    top: float
    bottom: float

    def meets(self, other: Box) -> bool:
        return (self.left < other.right and other.left < self.right
                and self.top < other.bottom and other.top < self.bottom)


def _boxes(root: ET.Element) -> tuple[list[Box], list[tuple[float, float, float]]]:
    """Every text's box (its font's ascent and descent, ``text_width`` wide) and every lane
    line (x, y1, y2)."""
    default = float(root.get("font-size", "11"))
    boxes = []
    for t in root.iter(f"{SVG}text"):
        size = float(t.get("font-size", default))
        x, y = float(t.get("x", 0)), float(t.get("y", 0))
        text = t.text or ""
        width = text_width(text, size)
        left = {"start": x, "middle": x - width / 2, "end": x - width}[t.get("text-anchor",
                                                                              "start")]
        boxes.append(Box(t.get("class", ""), text, left, left + width, y - 0.8 * size,
                         y + 0.25 * size))
    lines = [(float(ln.get("x1", 0)), float(ln.get("y1", 0)), float(ln.get("y2", 0)))
             for ln in root.iter(f"{SVG}line") if ln.get("class") == "lifeline"]
    return boxes, lines


def _svg(name: str, title: str = "") -> str:
    r = synthesize_ping(SCENARIOS[name])
    return ladder_svg(r.lanes, r.ladder, title or f"vxlankit synth ping ({name})")


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_text_crosses_a_lane_line_or_another_text(name: str) -> None:
    root = ET.fromstring(_svg(name, LONG_TITLE))
    boxes, lines = _boxes(root)
    width, height = float(root.get("width", 0)), float(root.get("height", 0))
    kinds = {b.kind for b in boxes}
    assert {"title", "lane", "label", "delay", "time"} <= kinds
    assert len(lines) == len(synthesize_ping(SCENARIOS[name]).lanes)
    crossings = [(b.text, x) for b in boxes for x, y1, y2 in lines
                 if b.left < x < b.right and b.top < y2 and y1 < b.bottom]
    assert crossings == []
    overlaps = [(a.text, b.text) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                if a.meets(b)]
    assert overlaps == []
    outside = [b.text for b in boxes
               if b.left < 0 or b.right > width or b.top < 0 or b.bottom > height]
    assert outside == []


def test_a_long_command_wraps_before_an_option_and_stays_whole() -> None:
    root = ET.fromstring(_svg("seed", LONG_TITLE))
    title = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "title"]
    assert " ".join(title) == LONG_TITLE
    assert all(line.startswith(("vxlankit", "-")) for line in title)


def test_the_title_is_the_command_typed(tmp_path: Path) -> None:
    svg = tmp_path / "x.svg"
    result = CliRunner().invoke(main, [
        "synth", "ping", "-c", "1", "--subnet", "10.1.1.0/24", "--subnet", "11.1.1.0/24",
        "--seed", "3", "-i", "0.5", "--delay", "veth=2", "-w", str(tmp_path / "x.pcapng"),
        "--diagram", str(svg)])
    assert result.exit_code == 0, result.output
    title = " ".join(t.text or "" for t in ET.parse(svg).getroot().iter(f"{SVG}text")
                     if t.get("class") == "title")
    # Where the outputs go (-w, --diagram) is left out: the same exchange, the same title.
    assert title == ("vxlankit synth ping -c 1 -i 0.5 --seed 3 --subnet 10.1.1.0/24 "
                     "--subnet 11.1.1.0/24 --delay veth=2")


# --------------------------------------------------------------------------------------------
# Rendered by rsvg-convert


def _png_pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """(bytes per pixel, height, rows of RGB or RGBA bytes) of an 8-bit, non-interlaced PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 4
    while pos < len(png):
        size, kind = struct.unpack_from(">I4s", png, pos)
        body = png[pos + 8:pos + 8 + size]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0
            bpp = 4 if colour == 6 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + size
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for r in range(height):
        kind = raw[r * (stride + 1)]
        line = bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)
                           ) & 0xFF
        rows.append(bytes(line))
        prev = line
    return bpp, height, rows


def _ink(svg: str, tmp: Path, x: float, y1: float, y2: float, hide: str,
         width: float = 3.0) -> int:
    """Pixels rsvg-convert draws other than white in the strip [x - width/2, x + width/2] x
    [y1, y2], with the classes ``hide`` (CSS selectors) not drawn."""
    tool = require_tool("rsvg-convert")
    root = ET.fromstring(svg)
    root.set("viewBox", f"{x - width / 2} {y1} {width} {y2 - y1}")
    root.set("width", str(width))
    root.set("height", str(y2 - y1))
    path, css = tmp / "strip.svg", tmp / "hide.css"
    path.write_bytes(ET.tostring(root))
    css.write_text(f"{hide} {{ display: none; }}\n" if hide else "")
    png = subprocess.run([tool, "-s", str(css), str(path)], capture_output=True, check=True,
                         timeout=60).stdout
    bpp, _, rows = _png_pixels(png)
    return sum(1 for row in rows for i in range(0, len(row), bpp) if min(row[i:i + 3]) < 235)


@pytest.mark.parametrize("name", ["seed", "routed"])
def test_rendered_lane_lines_meet_no_text(name: str, tmp_path: Path) -> None:
    svg = _svg(name, LONG_TITLE)
    _, lines = _boxes(ET.fromstring(svg))
    for x, y1, y2 in lines:
        # The line alone draws ink (the strip is where the line is) ...
        assert _ink(svg, tmp_path, x, y1, y2, "text") > 0
        # ... and with the lines and arrows hidden, no text does.
        assert _ink(svg, tmp_path, x, y1, y2, ".lifeline, .arrow") == 0, x


def test_rendered_text_stays_inside_the_width_it_is_given(tmp_path: Path) -> None:
    """The geometry tests trust ``text_width``: the widest label and lane name, drawn, end
    before it says and have ink just inside it."""
    root = ET.fromstring(_svg("routed"))
    boxes, _ = _boxes(root)
    for kind in ("label", "lane", "delay", "time"):
        widest = max((b for b in boxes if b.kind == kind), key=lambda b: b.right - b.left)
        only = ET.fromstring(_svg("routed"))
        for t in only.iter(f"{SVG}text"):
            if (t.text or "") != widest.text or t.get("class") != kind:
                t.set("class", "other")
        svg = ET.tostring(only, encoding="unicode")
        top, bottom = widest.top - 2, widest.bottom + 2
        assert _ink(svg, tmp_path, widest.right + 3, top, bottom, ".other, line", 4) == 0
        assert _ink(svg, tmp_path, widest.left - 3, top, bottom, ".other, line", 4) == 0
        inside = widest.right - 0.2 * (widest.right - widest.left) / len(widest.text)
        assert _ink(svg, tmp_path, widest.left + (inside - widest.left) * 0.9, top, bottom,
                    ".other, line", 8) > 0


def test_a_label_on_a_lane_line_is_seen(tmp_path: Path) -> None:
    """The rendered check can fail: a label moved onto a lane line is caught."""
    root = ET.fromstring(_svg("seed"))
    _, lines = _boxes(root)
    x, y1, y2 = lines[1]
    label = next(t for t in root.iter(f"{SVG}text") if t.get("class") == "label")
    label.set("x", str(x))
    svg = ET.tostring(root, encoding="unicode")
    assert _ink(svg, tmp_path, x, y1, y2, ".lifeline, .arrow") > 0
