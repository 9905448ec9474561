"""Round trips per tap and one-way times per hop on synth's multi-tap capture: what ``stats``
prints for C1's tap is what tshark's timestamps give and what synth printed; the hops out and
back plus the far end's turnaround add up to every tap's round trip; and with ``--delay`` every
figure is known in advance, to the nanosecond."""

from __future__ import annotations

import json
import re
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.support import require_tshark
from vxlankit.cli import main
from vxlankit.synth.ping import PingOptions, parse_delay, synthesize_ping

C1, N1, N2, C2 = "node1/veth-C1", "node1/eth0", "node2/eth0", "node2/veth-C2"
ORDER = [C1, N1, N2, C2]


def _synth(tmp_path: Path, *args: str) -> tuple[Path, str]:
    path = tmp_path / "ping.pcapng"
    result = CliRunner().invoke(main, ["synth", "ping", "-w", str(path), *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return path, result.stdout


def _stats(path: Path) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["stats", "--json", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _synth_line(stdout: str) -> str:
    found = re.search(r"rtt min/avg/max/mdev = (\S+) ms on (\S+)", stdout)
    assert found is not None, stdout
    assert found.group(2) == C1
    return found.group(1)


def _ping_rows(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["tap"]: row for row in data["pings"]}


def _hops(data: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(h["from"], h["to"], h["packet"]): h for h in data["hops"]}


def test_c1_tap_matches_tshark_timestamps_and_synths_line(tmp_path: Path) -> None:
    path, stdout = _synth(tmp_path, "--vni", "4096", "-c", "4")
    tshark = require_tshark()
    out = subprocess.run([tshark, "-r", str(path), "-Y", "icmp.type == 8 || icmp.type == 0",
                          "-T", "fields", "-E", "separator=|", "-e", "frame.interface_name",
                          "-e", "frame.time_epoch", "-e", "icmp.type", "-e", "icmp.seq"],
                         capture_output=True, text=True, check=True).stdout
    sent: dict[str, Decimal] = {}
    rtts_ns = []
    for line in out.splitlines():
        tap, epoch, itype, seq = line.split("|")
        if tap != C1:
            continue
        if itype == "8":
            sent[seq] = Decimal(epoch)
        else:
            rtts_ns.append(int((Decimal(epoch) - sent[seq]) * 10**9))
    assert len(rtts_ns) == 4
    row = _ping_rows(_stats(path))[C1]
    assert (row["requests"], row["replies"], row["lost"]) == (4, 4, 0)
    assert row["rtt_min_ms"] == round(min(rtts_ns) / 1e6, 6)
    assert row["rtt_max_ms"] == round(max(rtts_ns) / 1e6, 6)
    assert row["rtt_avg_ms"] == round(sum(rtts_ns) // 4 / 1e6, 6)
    assert row["rtt"].split("/")[:3] == [f"{min(rtts_ns) / 1e6:.3f}",
                                         f"{sum(rtts_ns) // 4 / 1e6:.3f}",
                                         f"{max(rtts_ns) / 1e6:.3f}"]
    assert _synth_line(stdout) == row["rtt"]


def _far_end_sum(data: dict[str, Any], tap: str) -> float:
    """Average one-way hops from ``tap`` to C2's tap, C2's turnaround, the hops back: ms."""
    hops = _hops(data)
    rows = _ping_rows(data)
    i = ORDER.index(tap)
    out = sum(hops[(a, b, "ICMP echo request")]["avg_ms"]
              for a, b in zip(ORDER[i:], ORDER[i + 1:], strict=False))
    back = sum(hops[(b, a, "ICMP echo reply")]["avg_ms"]
               for a, b in zip(ORDER[i:], ORDER[i + 1:], strict=False))
    turnaround: float = rows[C2]["rtt_avg_ms"]
    return out + turnaround + back


@pytest.mark.parametrize("args", [("--vni", "4096", "-c", "4"),
                                  ("-c", "5", "--arp", "flood", "--seed", "3")],
                         ids=["proxy", "flood"])
def test_hops_and_turnaround_add_up_to_every_taps_rtt(tmp_path: Path,
                                                      args: tuple[str, ...]) -> None:
    path, _ = _synth(tmp_path, *args)
    data = _stats(path)
    rows = _ping_rows(data)
    assert set(rows) == set(ORDER)
    for tap in ORDER:
        assert abs(_far_end_sum(data, tap) - rows[tap]["rtt_avg_ms"]) < 0.001, tap
    # Each echo's own path: the request over the four taps in order, the reply back.
    requests = [p for p in data["paths"] if p["packet"] == "ICMP echo request"]
    assert [[t["tap"] for t in p["taps"]] for p in requests] == [ORDER] * len(requests)
    replies = [p for p in data["paths"] if p["packet"] == "ICMP echo reply"]
    assert [[t["tap"] for t in p["taps"]] for p in replies] == [ORDER[::-1]] * len(replies)


# Fixed delays, in ns: veth a, bridge b, vtep c, underlay d (eth0 to eth0), stack s.
A, B, C, D, S = 10_000, 20_000, 30_000, 500_000, 50_000
DELAYS = ("veth=0.01", "bridge=0.02", "vtep=0.03", "underlay=0.5", "stack=0.05")


def _ms(ns: int) -> float:
    return round(ns / 1e6, 6)


def test_known_delays_give_exact_rtts_and_hops(tmp_path: Path) -> None:
    args = [x for d in DELAYS for x in ("--delay", d)]
    path, stdout = _synth(tmp_path, "-c", "4", *args)
    data = _stats(path)
    out_host, in_host = A + B + C, C + A  # veth, bridge, encap / decap, veth
    # C2 answers echo 1 after resolving C1's MAC (by node2's proxy: veth, bridge, vtep, veth).
    extra = S + 2 * A + B + C
    base = {C2: S}
    base[N2] = base[C2] + in_host + out_host
    base[N1] = base[N2] + 2 * D
    base[C1] = base[N1] + out_host + in_host
    rows = _ping_rows(data)
    for tap in ORDER:
        low, high = base[tap], base[tap] + extra
        avg = (3 * low + high) // 4
        row = rows[tap]
        assert (row["rtt_min_ms"], row["rtt_avg_ms"], row["rtt_max_ms"]) == (
            _ms(low), _ms(avg), _ms(high)), tap
    assert base[C1] == 1_250_000
    assert rows[C1]["rtt"] == "1.250/1.280/1.370/0.052" == _synth_line(stdout)
    hops = _hops(data)
    expect = {(C1, N1, "ICMP echo request"): out_host, (N1, N2, "ICMP echo request"): D,
              (N2, C2, "ICMP echo request"): in_host, (C2, N2, "ICMP echo reply"): out_host,
              (N2, N1, "ICMP echo reply"): D, (N1, C1, "ICMP echo reply"): in_host}
    assert set(hops) == set(expect)
    for key, ns in expect.items():
        hop = hops[key]
        assert (hop["packets"], hop["min_ms"], hop["avg_ms"], hop["max_ms"]) == (
            4, _ms(ns), _ms(ns), _ms(ns)), key
    # ARP on each container's tap: answered by its host's VTEP (veth, bridge, vtep, veth).
    arp = {row["tap"]: row for row in data["arp"]}
    for tap in (C1, C2):
        assert (arp[tap]["replies"], arp[tap]["reply_min_ms"]) == (1, _ms(2 * A + B + C))


def test_delay_per_node_and_per_direction() -> None:
    options = PingOptions(count=2, delays=(parse_delay("underlay=0.5"),
                                           parse_delay("underlay@node2=0.25")))
    r = synthesize_ping(options)
    eth = [p for p in r.packets if p.tap.endswith("/eth0")]
    # request: node1 -> node2 (0.5 ms), reply: node2 -> node1 (0.25 ms), for both echoes
    assert [b.ts_ns - a.ts_ns for a, b in zip(eth[::2], eth[1::2], strict=True)] == [
        500_000, 250_000, 500_000, 250_000]
    # Only the fixed hops move: the other hops keep their random times.
    plain = synthesize_ping(PingOptions(count=2))
    c1 = [p.ts_ns for p in plain.packets if p.tap == "node1/veth-C1"]
    assert c1[:3] == [p.ts_ns for p in r.packets if p.tap == "node1/veth-C1"][:3]


@pytest.mark.parametrize(("value", "message"), [
    ("wire=1", "no hop named 'wire'"),
    ("veth@node1=1", "veth is named by C1 or C2"),
    ("vtep=fast", "not a number"),
    ("vtep", "expected HOP=MS"),
    ("vtep=-1", "from 0 to 60000"),
])
def test_bad_delays_are_usage_errors(value: str, message: str) -> None:
    result = CliRunner().invoke(main, ["synth", "ping", "-w", "-", "--delay", value])
    assert result.exit_code == 2
    assert message in result.stderr


def test_inner_ipv6_pings_per_tap(tmp_path: Path) -> None:
    path, stdout = _synth(tmp_path, "-c", "3", "--inner", "ipv6")
    rows = _ping_rows(_stats(path))
    assert rows[C1]["src"] == "fd00:10::3" and rows[C1]["replies"] == 3
    assert rows[C1]["rtt"] == _synth_line(stdout)
