"""A pcapng timestamp past what a calendar or a 64-bit nanosecond count holds (damage, or a
writer's bug) gives output or a clear error, never a traceback (issue #14)."""

from __future__ import annotations

import struct
from pathlib import Path

from click.testing import CliRunner

from tests.support import require_module
from vxlankit.cli import main
from vxlankit.synth.output import write_result
from vxlankit.synth.ping import PingOptions, synthesize_ping


def _far_future(tmp_path: Path) -> Path:
    """The seed ping with its first packet's timestamp set to 2^64 - 16 ns (year 2554)."""
    path = tmp_path / "ping.pcapng"
    write_result(synthesize_ping(PingOptions(count=2)), str(path))
    data = bytearray(path.read_bytes())
    off = 0
    while off < len(data):
        kind, length = struct.unpack_from("<II", data, off)
        if kind == 6:  # the first enhanced packet block: its 64-bit timestamp
            struct.pack_into("<II", data, off + 12, 0xFFFFFFFF, 0xFFFFFFF0)
            break
        off += length
    far = tmp_path / "far.pcapng"
    far.write_bytes(bytes(data))
    return far


def test_views_show_it(tmp_path: Path) -> None:
    far = str(_far_future(tmp_path))
    for args in (["decode", "-t", "ad"], ["decode", "-t", "ud"], ["decode", "-V"],
                 ["decode", "--json"], ["stats"], ["replay"], ["replay", "--json"]):
        result = CliRunner().invoke(main, [*args, far])
        assert result.exit_code == 0, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), args


def test_export_says_which_packet(tmp_path: Path) -> None:
    require_module("pyarrow")
    far = _far_future(tmp_path)
    result = CliRunner().invoke(main, ["export", str(far), "-o", str(tmp_path / "x.csv")])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, result.output
    assert "packet 1: timestamp 18446744073709551600 ns does not fit" in result.output
