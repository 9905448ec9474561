"""Filters on the registry's fields: TCP (the proof layer) and the either-end names
(``tcp.port``, ``udp.port``, ``ip.addr``, ``eth.addr``), counted against tshark on the real
captures that carry TCP."""

from __future__ import annotations

import subprocess

import pytest

from tests.support import real_capture, require_tshark
from vxlankit.present.filter import compile_filter
from vxlankit.present.run import decode_capture

EXPRESSIONS = [
    "tcp", "tcp.port == 22", "tcp.port == 443", "tcp.srcport == 22", "tcp.flags.syn == 1",
    "tcp.flags.syn == 1 && tcp.flags.ack == 1", "tcp.len > 0", "tcp.stream == 0",
    "tcp.seq == 1", "tcp.ack == 1", "tcp.window_size > 65535", "tcp.options.mss_val == 1460",
    "tcp.checksum.status == 1", "ip.addr == 172.31.0.238", "udp.port == 4789",
    "eth.addr == 02:29:23:74:c7:7d", "tcp.port#1 == 22", "!tcp && udp",
]
CAPTURES = ["suricata-verify_vxlan-decoder-03_vxlan.pcap", "ndpi_vxlan.pcap"]


def _tshark_count(path: str, expr: str) -> int:
    out = subprocess.run([require_tshark(), "-r", path, "-n", "-d", "udp.port==8472,vxlan",
                          "-o", "tcp.check_checksum:TRUE", "-o", "ip.defragment:FALSE",
                          "-Y", expr], capture_output=True, text=True, check=True, timeout=60)
    return len(out.stdout.splitlines())


@pytest.mark.parametrize("name", CAPTURES)
def test_counts_agree_with_tshark(name: str) -> None:
    path = str(real_capture(name))
    nonzero = 0
    for expr in EXPRESSIONS:
        test = compile_filter(expr)
        ours = sum(1 for item in decode_capture(path) if test(item.packet))
        assert ours == _tshark_count(path, expr), (name, expr)
        nonzero += ours > 0
    assert nonzero >= len(EXPRESSIONS) // 2  # the expressions select something


def test_the_command_line_rejects_unknown_names() -> None:
    """tshark: "foo is neither a field nor a protocol name", exit 2; vxlankit's decode -Y
    checks names against the registry the same way (a typo no longer matches nothing)."""
    from click.testing import CliRunner

    from vxlankit.cli import EXIT_USAGE, main

    path = str(real_capture("tcpdump_vxlan.pcap"))
    for expr, said in [("ip.sorce == 10.0.0.3", "'ip.sorce' is neither a field nor a protocol"),
                       ("foo", "'foo' is neither a field nor a protocol name"),
                       ("frame.time_delta_displayed > 1", "frame field is not supported")]:
        result = CliRunner().invoke(main, ["decode", "-Y", expr, path])
        assert result.exit_code == EXIT_USAGE and said in result.output, (expr, result.output)
    for expr in ["tcp.port == 22", "udp.port#2 == 53", "vxlan.vni == 100", "eth.addr#2 == "
                 "00:30:88:01:00:02"]:
        assert CliRunner().invoke(main, ["decode", "-Y", expr, path]).exit_code == 0, expr
