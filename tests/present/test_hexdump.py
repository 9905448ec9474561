"""``-x``: tshark's rows, split and named where layers start, bytes in their true columns."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from vxlankit import build, decode, encode
from vxlankit.packet import Layer
from vxlankit.present.hexdump import hexdump, layer_segments
from vxlankit.present.summary import ANSI

_ROW = re.compile(r"^(\S*)\s+([0-9a-f]{4})  (.{47})   (.*)$")


def _parse(text: str) -> bytes:
    """Rebuild the bytes from a dump (checking every byte sits in its column)."""
    out = bytearray()
    for line in text.splitlines():
        m = _ROW.match(line) or _ROW.match(line.ljust(len(line) + 60))
        assert m, line
        row = int(m[2], 16)
        cells = [m[3][i * 3:i * 3 + 2] for i in range(16)]
        for col, cell in enumerate(cells):
            if cell.strip():
                assert row + col == len(out), (line, row + col, len(out))
                out.append(int(cell, 16))
    return bytes(out)


def test_layout_matches_tshark_rows() -> None:
    data = encode([build.eth(src="00:16:3e:08:71:cf", dst="36:dc:85:1e:b3:40"),
                   build.ipv4(src="192.168.203.1", dst="192.168.202.1"),
                   build.udp(45149, 4789, checksum=0), build.vxlan(vni=100),
                   build.eth(), build.arp()])
    text = hexdump(data, decode(data).layers)
    lines = text.splitlines()
    assert lines[0].startswith("eth    0000  36 dc 85 1e b3 40 00 16 3e 08 71 cf 08 00      ")
    assert lines[0].endswith("   6....@..>.q...")
    assert lines[1].startswith("ip     0000" + " " * 44 + "45 00")
    assert lines[2].startswith("       0010  ")
    labels = [line.split()[0] for line in lines if not line.startswith(" ")]
    assert labels == ["eth", "ip", "udp", "vxlan", "eth", "arp"]
    assert _parse(text) == data


@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=6))
def test_dump_keeps_every_byte_in_place(data: bytes, cuts: list[int]) -> None:
    bounds = sorted({c for c in cuts if c < len(data)} | {0, len(data)})
    layers = [Layer(f"l{i}", offset=a, length=b - a)
              for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False))]
    text = hexdump(data, layers)
    assert _parse(text) == data
    assert sum(1 for s in layer_segments(layers, len(data))) == len([lay for lay in layers
                                                                       if lay.length])


def test_unclaimed_bytes_and_colour() -> None:
    data = bytes(range(40))
    layers = [Layer("a", offset=4, length=10)]
    assert layer_segments(layers, 40) == [(0, 4, ""), (4, 14, "a"), (14, 40, "")]
    plain = hexdump(data, layers)
    coloured = hexdump(data, layers, ANSI)
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    assert hexdump(b"") == ""
