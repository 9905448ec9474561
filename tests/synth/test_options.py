"""Every ``synth ping`` option at the edges of what it accepts, each capture read back two
ways: through ``replay`` (the reference VTEPs, listening on the capture's VXLAN port) and
through tshark (the oracle, told the port with ``-d udp.port==PORT,vxlan``).

What each case must show: every echo answered on C1's tap, with the payload size asked for;
tshark finds no malformed frame, no warning and no bad checksum; VXLAN on the underlay only,
on the asked port and VNIs; replay learns both VTEPs' entries and reports no anomaly.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support import require_tshark
from tests.test_cli import run
from vxlankit.cli import make_decode_options
from vxlankit.replay import replay
from vxlankit.synth.output import write_result
from vxlankit.synth.ping import PingOptions, synthesize_ping

ROUTED = ["--subnet", "10.1.1.0/24", "--subnet", "11.1.1.0/24"]

# (id, options): each with -c 2 unless it says otherwise.
CASES: list[tuple[str, list[str]]] = [
    ("defaults", []),
    ("vni-0", ["--vni", "0"]),
    ("vni-max", ["--vni", "16777215"]),
    ("count-1", ["-c", "1"]),
    ("interval-1ns", ["-i", "1e-09"]),  # the smallest: every echo 1 ns after the last
    ("interval-max", ["-i", "86400"]),
    ("size-0", ["-s", "0"]),
    ("size-15-no-timestamp", ["-s", "15"]),
    ("size-max", ["-s", "1400"]),
    ("size-max-ipv6-both", ["-s", "1400", "--inner", "ipv6", "--underlay", "ipv6"]),
    ("arp-flood", ["--arp", "flood"]),
    ("seed-max", ["--seed", "4294967295"]),
    ("port-1", ["--port", "1"]),
    ("port-max", ["--port", "65535"]),
    ("port-flannel", ["--port", "8472"]),
    ("port-gpe-default", ["--port", "4790"]),
    ("port-geneve-default", ["--port", "6081"]),
    ("port-9999", ["--port", "9999"]),
    ("port-9999-routed", ["--port", "9999", *ROUTED]),
    ("port-9999-ipv6-underlay-flood", ["--port", "9999", "--underlay", "ipv6",
                                       "--arp", "flood"]),
    ("subnet-29", ["--subnet", "10.9.9.8/29"]),
    ("subnet-host-bits-set", ["--subnet", "10.7.7.5/24"]),
    ("subnets-3", [*ROUTED, "--subnet", "12.1.1.0/24"]),
    ("subnets-vni-max", ["--vni", "16777214", *ROUTED]),
    ("to-same-subnet", ["--to", "same-subnet", *ROUTED]),
    ("to-same-host", ["--to", "same-host"]),
    ("to-same-host-routed", ["--to", "same-host", *ROUTED]),
    ("underlay-ipv6", ["--underlay", "ipv6"]),
    ("inner-ipv6", ["--inner", "ipv6"]),
    ("inner-ipv6-flood", ["--inner", "ipv6", "--arp", "flood"]),
]


def _option(args: list[str], name: str, default: str) -> str:
    return args[args.index(name) + 1] if name in args else default


def _tshark(path: Path, port: int, *extra: str) -> list[list[str]]:
    cmd = [require_tshark(), "-r", str(path), "-d", f"udp.port=={port},vxlan",
           "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
           # Every host's sandbox owns the gateway addresses, each with its bridge's MAC
           # (Docker's design): across taps of two hosts, tshark warns of a duplicate IP.
           "-o", "arp.detect_duplicate_ips:FALSE",
           "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in out.splitlines()]


# What tshark finds wrong with a frame: an expert item, a malformed layer, a bad checksum.
FLAWS = ("_ws.expert.severity", "_ws.malformed", "ip.checksum.status", "udp.checksum.status",
         "icmp.checksum.status", "icmpv6.checksum.status")
PI_WARN = 0x00600000  # epan/proto.h: expert severities from warning up are flaws


def _flawed(values: list[str]) -> bool:
    severity, malformed, *checksums = values
    if any(int(v) >= PI_WARN for v in severity.split(",") if v) or malformed:
        return True
    return any(v == "0" for c in checksums for v in c.split(","))  # 0: bad, 1: good


def _echoes(rows: list[list[str]], tap: str) -> dict[str, list[int]]:
    """Echo requests and replies seen on ``tap``, by their sequence numbers, from rows of
    interface name, icmp.type, icmp.seq, icmpv6.type, icmpv6.echo.sequence_number."""
    seen: dict[str, list[int]] = {"request": [], "reply": []}
    for name, itype, seq, i6type, seq6 in (r[:5] for r in rows):
        if name != tap:
            continue
        kind = {"8": "request", "0": "reply", "128": "request", "129": "reply"}.get(
            itype or i6type)
        if kind is not None:
            seen[kind].append(int(seq or seq6))
    return seen


def check_capture(path: Path, args: list[str], count: int, packets: int) -> None:
    """The capture at ``path``, made with ``args``, read back through tshark and replay."""
    port = int(_option(args, "--port", "4789"))
    vni = int(_option(args, "--vni", "4096"))
    size = int(_option(args, "-s", "56"))
    subnets = max(1, args.count("--subnet"))
    remote = _option(args, "--to", "remote") != "same-host"
    inner6 = _option(args, "--inner", "ipv4") == "ipv6"

    rows = _tshark(path, port, "-e", "frame.interface_name", "-e", "icmp.type", "-e",
                   "icmp.seq", "-e", "icmpv6.type", "-e", "icmpv6.echo.sequence_number",
                   "-e", "vxlan.vni", "-e", "udp.dstport", "-e", "ip.len", "-e", "ipv6.plen",
                   *[arg for field in FLAWS for arg in ("-e", field)])
    assert len(rows) == packets
    flawed = [(n + 1, row[9:]) for n, row in enumerate(rows) if _flawed(row[9:])]
    assert flawed == [], f"tshark flags frames {flawed}"
    echoes = _echoes(rows, "node1/veth-C1")
    assert echoes["request"] == list(range(1, count + 1))
    assert sorted(echoes["reply"]) == echoes["request"]
    # The echo's own IP length on C1's veth: ping -s bytes after an 8-byte ICMP header.
    sizes = {r[8] if inner6 else r[7] for r in rows
             if r[0] == "node1/veth-C1" and (r[1] in ("0", "8") or r[3] in ("128", "129"))}
    assert sizes == {str(8 + size if inner6 else 28 + size)}
    vxlan = [r for r in rows if r[5]]
    assert all(r[0].endswith("/eth0") for r in vxlan)
    assert {r[6].split(",")[0] for r in vxlan} <= {str(port)}
    if remote:
        # The request rides C2's subnet's VNI (the last), the reply C1's (the first).
        want = {str(vni), str(vni + subnets - 1)}
        if _option(args, "--to", "remote") == "same-subnet":
            want = {str(vni)}
        assert {r[5] for r in vxlan} == want
    else:
        assert vxlan == []

    report = replay(str(path), vxlan_port=port, options=make_decode_options((port,), ())).to_json()
    assert report["vxlan_packets"] == len(vxlan)
    # Flood-and-learn floods the ARP request to the other VTEP: that, and only that.
    floods = [a for a in report["anomalies"] if a["kind"] == "flood_volume"]
    assert [a for a in report["anomalies"] if a not in floods] == []
    assert len(floods) == (1 if "flood" in args and remote else 0)
    if remote:
        assert len(report["vteps"]) == 2 and all(v["fdb"] for v in report["vteps"])
    else:
        assert report["vteps"] == []


@pytest.mark.parametrize(("case", "args"), CASES, ids=[c for c, _ in CASES])
def test_option_edge_reads_back(case: str, args: list[str], tmp_path: Path) -> None:
    args = args if "-c" in args else [*args, "-c", "2"]
    count = int(_option(args, "-c", "2"))
    out = tmp_path / f"{case}.pcapng"
    result = run("synth", "ping", *args, "-w", str(out))
    assert result.exit_code == 0, result.stderr
    wrote = re.search(r"wrote (\d+) packets", result.stdout)
    assert wrote is not None
    assert f"{count} echo request" in result.stdout and f"{count} repl" in result.stdout
    check_capture(out, args, count, int(wrote.group(1)))


def test_sequence_numbers_wrap_after_65535(tmp_path: Path) -> None:
    """ping's 16-bit sequence wraps to 0 (``-c`` up to 100000 crosses it); each reply still
    answers its own echo.  Started near the wrap, so three echoes cross it."""
    result = synthesize_ping(PingOptions(count=3, first_seq=65535))
    assert [(e.seq, e.replied_ns is not None) for e in result.echoes] == [
        (65535, True), (0, True), (1, True)]
    path = tmp_path / "wrap.pcapng"
    written = write_result(result, str(path))
    rows = _tshark(path, 4789, "-e", "frame.interface_name", "-e", "icmp.type", "-e",
                   "icmp.seq", "-e", "icmpv6.type", "-e", "icmpv6.echo.sequence_number")
    assert len(rows) == written
    assert _echoes(rows, "node1/veth-C1") == {"request": [65535, 0, 1], "reply": [65535, 0, 1]}
    report = replay(str(path)).to_json()
    assert report["anomalies"] == [] and report["vxlan_packets"] == 12


@pytest.mark.parametrize("tap", ["node2/eth0", "node1/veth-C1"])
def test_one_tap_as_pcap_on_a_port_reads_back(tap: str, tmp_path: Path) -> None:
    out = tmp_path / "one.pcap"
    result = run("synth", "ping", "--port", "9999", "-c", "2", "--tap", tap, "-w", str(out))
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes()[:4] == bytes.fromhex("4d3cb2a1")  # classic pcap, nanoseconds
    rows = _tshark(out, 9999, "-e", "vxlan.vni", "-e", "udp.dstport", "-e", "icmp.type")
    assert len(rows) == int(re.findall(r"wrote (\d+)", result.stdout)[0]) > 0
    report = json.loads(run("replay", "--json", "--vxlan-port", "9999", str(out)).stdout)
    assert report["anomalies"] == []
    if tap.endswith("eth0"):
        assert {tuple(r[:2]) for r in rows} == {("4096", "9999")}
        assert report["vxlan_packets"] == len(rows) and report["vteps"][0]["fdb"]
    else:
        assert all(r[0] == "" for r in rows) and report["vxlan_packets"] == 0


def test_stdout_capture_on_a_port_reads_back(tmp_path: Path) -> None:
    result = run("synth", "ping", "--port", "9999", "-c", "2", "-w", "-", "--diagram", "-")
    assert result.exit_code == 0
    out = tmp_path / "stdout.pcapng"
    out.write_bytes(result.stdout_bytes)
    assert "VXLAN VNI 4096: ICMP echo request seq=2" in result.stderr
    check_capture(out, ["--port", "9999"], 2, int(re.findall(r"wrote (\d+)", result.stderr)[0]))


def test_ladder_labels_vxlan_on_the_scenarios_port(tmp_path: Path) -> None:
    svg = tmp_path / "ladder.svg"
    result = run("synth", "ping", "--port", "9999", "-c", "1", "-w", str(tmp_path / "x.pcapng"),
                 "--diagram", str(svg))
    assert result.exit_code == 0, result.stderr
    text = svg.read_text()
    assert text.count("VXLAN VNI 4096: ICMP echo") == 4  # out and back, each node's underlay
    assert "eth:ip:udp" not in text


def test_replay_listens_where_the_vxlan_arrives(tmp_path: Path) -> None:
    """Without --vxlan-port, a VTEP listens on the port its first VXLAN packet used: flannel's
    8472 (decoded by default) is no longer dropped as sent to the wrong port."""
    out = tmp_path / "flannel.pcapng"
    assert run("synth", "ping", "--port", "8472", "-c", "1", "-w", str(out)).exit_code == 0
    report = json.loads(run("replay", "--json", str(out)).stdout)
    assert report["anomalies"] == [] and report["vxlan_packets"] == 4
    # Told another port, the VTEPs drop it, as a Linux vxlan device on that port would.
    told = json.loads(run("replay", "--json", "--vxlan-port", "8472", "--vxlan-port", "4789",
                          str(out)).stdout)
    assert told["anomalies"] == []
    wrong = replay(str(out), vxlan_port=4789).to_json()
    assert wrong["anomalies"] and "NO_SOCKET" in json.dumps(wrong["anomalies"])


@pytest.mark.parametrize(("args", "message"), [
    (["--subnet", "fd00::/64"], "is not IPv4"),
    (["--subnet", "10.0.0.0/24", "--subnet", "10.0.0.0/25"], "overlaps 10.0.0.0/24"),
    (["--vni", "16777215", *ROUTED], "past the largest VNI 16777215"),
    (["--subnet", "10.0.0.0/30"], "too small"),
    (["-w", "every-tap.pcap"], "a classic pcap file holds one tap"),
    (["-w", "every-tap.PCAP"], "a classic pcap file holds one tap"),
])
def test_values_out_of_reach_are_usage_errors(args: list[str], message: str,
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("synth", "ping", "-c", "1", *args)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_flaw_check_sees_a_bad_checksum(tmp_path: Path) -> None:
    """The check above must fail on a flawed capture: one outer IP checksum broken."""
    from vxlankit.capture.writer import PcapWriter

    result = synthesize_ping(PingOptions(count=1))
    frames = [bytearray(p.data) for p in result.tap_packets("node2/eth0")]
    frames[0][24] ^= 0xFF  # the outer IPv4 header checksum
    path = tmp_path / "bad.pcap"
    with PcapWriter(str(path), 1, nanosecond=True) as writer:
        for n, frame in enumerate(frames):
            writer.write(bytes(frame), n)
    rows = _tshark(path, 4789, *[arg for field in FLAWS for arg in ("-e", field)])
    assert [_flawed(row) for row in rows] == [True] + [False] * (len(frames) - 1)


def test_a_pcap_past_2106_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    """``-c`` x ``-i`` can reach past what a classic pcap's 32-bit seconds hold (2106): a clear
    error, before any byte is written (the library; the CLI writes through SafeOutput too)."""
    from vxlankit.errors import CaptureError

    far = synthesize_ping(PingOptions(count=2, interval_ns=3 * 10**18))
    path = tmp_path / "far.pcap"
    with pytest.raises(CaptureError, match="up to 2106"):
        write_result(far, str(path), tap="node2/eth0")
    assert not path.exists()
    write_result(far, str(tmp_path / "far.pcapng"), tap="node2/eth0")  # pcapng: 64-bit times
