"""``-x``: tshark's rows, split and named where layers start, bytes in their true columns."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.codec.realcaptures import write_pcap
from tests.support import require_tshark
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


def _as_tshark_rows(text: str) -> list[str]:
    """Our dump with its split rows joined again: each byte at its column, each row as
    ``tshark -x`` prints it (offset, 16 hex cells, ASCII)."""
    rows: dict[int, dict[int, tuple[str, str]]] = {}
    for line in text.splitlines():
        m = _ROW.match(line) or _ROW.match(line.ljust(len(line) + 60))
        assert m, line
        cells = rows.setdefault(int(m[2], 16), {})
        for col in range(16):
            cell = m[3][col * 3:col * 3 + 2]
            if cell.strip():
                assert col not in cells, line
                cells[col] = (cell, m[4][col])
    out = []
    for row, cells in sorted(rows.items()):
        assert sorted(cells) == list(range(len(cells))), (row, sorted(cells))
        hexes = " ".join(cells[col][0] for col in range(len(cells)))
        text_part = "".join(cells[col][1] for col in range(len(cells)))
        out.append(f"{row:04x}  {hexes:<47}   {text_part}")
    return out


def _tshark_rows(tmp_path: Path, frames: list[bytes]) -> list[list[str]]:
    """``tshark -x`` of each frame: its rows, as tshark prints them."""
    path = tmp_path / "frames.pcap"
    write_pcap(path, frames)
    out = subprocess.run([require_tshark(), "-r", str(path), "-x"], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    packets = [block.splitlines() for block in out.strip("\n").split("\n\n")]
    assert len(packets) == len(frames), out
    return packets


def _layout_frames() -> list[bytes]:
    arp = encode([build.eth(src="00:16:3e:08:71:cf", dst="36:dc:85:1e:b3:40"),
                  build.ipv4(src="192.168.203.1", dst="192.168.202.1"),
                  build.udp(45149, 4789, checksum=0), build.vxlan(vni=100),
                  build.eth(), build.arp()])
    ping = encode([build.eth(), build.vlan(id=7), build.ipv4(src="10.0.0.1", dst="10.0.0.2"),
                   build.udp(1, 4789), build.vxlan_gbp(vni=9, group=5), build.eth(),
                   build.ipv4(src="10.1.0.1", dst="10.1.0.2", options=b"\x01" * 4),
                   build.icmp_echo(ident=0x2020, seq=0x7E7F), build.payload(bytes(range(256)))])
    return [arp, ping, ping[:17], ping[:33], encode([build.eth(type=0x88B5), build.payload(b"~ ")])]


def test_layout_matches_tshark_rows(tmp_path: Path) -> None:
    """tshark -x itself is the oracle: joined back, our split rows are its rows, byte for byte
    (offsets, hex cells, ASCII column)."""
    frames = _layout_frames()
    for data, theirs in zip(frames, _tshark_rows(tmp_path, frames), strict=True):
        text = hexdump(data, decode(data).layers)
        ours = [row.rstrip() for row in _as_tshark_rows(text)]
        assert ours == [row.rstrip() for row in theirs], (text, theirs)
        assert _parse(text) == data
    text = hexdump(frames[0], decode(frames[0]).layers)
    lines = text.splitlines()
    assert lines[0].startswith("eth    0000  36 dc 85 1e b3 40 00 16 3e 08 71 cf 08 00      ")
    assert lines[0].endswith("   6....@..>.q...")
    assert lines[1].startswith("ip     0000" + " " * 44 + "45 00")
    assert lines[2].startswith("       0010  ")
    labels = [line.split()[0] for line in lines if not line.startswith(" ")]
    assert labels == ["eth", "ip", "udp", "vxlan", "eth", "arp"]


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
