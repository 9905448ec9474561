"""``-x``: a hex and ASCII dump of the frame, in tshark's layout, with the layers marked.

Rows are tshark's (16 bytes, offset in hex, ASCII on the right), but a row is split where a
layer starts, and each layer's first row carries its name on the left; a byte stays in its
column, so the dump still reads like tshark's::

    eth     0000  00 16 3e 08 71 cf 36 dc 85 1e b3 40 08 00         ..>.q.6....@..
    ip      0000                                            45 00                 E.
            0010  00 86 d2 c0 40 00 40 11 51 52 c0 a8 cb 01 c0 a8   ....@.@.QR......

With colour, each layer's bytes are tinted, alternating between two colours.
"""

from __future__ import annotations

from collections.abc import Sequence

from vxlankit.packet import Layer
from vxlankit.present.palette import PLAIN, Palette

__all__ = ["hexdump", "layer_segments"]

_PRINTABLE = bytes(b if 0x20 <= b < 0x7F else 0x2E for b in range(256))
_TINTS = ("\x1b[36m", "\x1b[33m")


def layer_segments(layers: Sequence[Layer], size: int) -> list[tuple[int, int, str]]:
    """(start, end, name) covering ``0..size``: each layer's bytes, named after it; bytes no
    layer claims are named ``""``.  Nested offsets are not possible (layers never overlap)."""
    marks: list[tuple[int, int, str]] = []
    for layer in sorted(layers, key=lambda item: item.offset):
        start = max(0, layer.offset)
        end = min(size, layer.offset + layer.length)
        if end > start:
            marks.append((start, end, layer.proto))
    segments: list[tuple[int, int, str]] = []
    pos = 0
    for start, end, name in marks:
        if start < pos:  # overlapping: keep the first claim
            start = pos
            if start >= end:
                continue
        if start > pos:
            segments.append((pos, start, ""))
        segments.append((start, end, name))
        pos = end
    if pos < size:
        segments.append((pos, size, ""))
    return segments


def hexdump(data: bytes, layers: Sequence[Layer] = (), pal: Palette = PLAIN) -> str:
    """The dump of ``data``, split and named at the boundaries of ``layers``."""
    lines: list[str] = []
    width = max([len(layer.proto) for layer in layers] + [5]) + 2
    for index, (start, end, name) in enumerate(layer_segments(layers, len(data))):
        tint = _TINTS[index % 2] if pal.reset else ""
        reset = pal.reset
        label = name
        pos = start
        while pos < end:
            row = pos - pos % 16
            stop = min(end, row + 16)
            lead = pos - row
            chunk = data[pos:stop]
            cells = chunk.hex(" ")
            text = chunk.translate(_PRINTABLE).decode("ascii")
            pad = " " * (47 - 3 * lead - len(cells))
            if tint:
                cells = f"{tint}{cells}{reset}"
                text = f"{tint}{text}{reset}"
            lines.append(f"{label:<{width}}{row:04x}  {'   ' * lead}{cells}{pad}   "
                         f"{' ' * lead}{text}")
            label = ""
            pos = stop
    return "\n".join(lines)
