"""synth ping --fault KIND: the models behave as the kernel does under each fault, and
replay --json names the fault's kind from the capture alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import require_tshark
from vxlankit.cli import main
from vxlankit.codec import decode
from vxlankit.model.events import Dropped, DropReason, L2Miss, L3Miss, TooBig
from vxlankit.replay import replay
from vxlankit.synth.faults import EXPECTED, FAULTS
from vxlankit.synth.output import write_result
from vxlankit.synth.ping import PingOptions, SynthResult, frame_label, synthesize_ping

_RUNS: dict[str, SynthResult] = {}


def _run(fault: str | None) -> SynthResult:
    key = fault or "healthy"
    if key not in _RUNS:
        size = 1400 if fault in ("mtu", "fragment") else 56
        _RUNS[key] = synthesize_ping(PingOptions(count=3, size=size, fault=fault))
    return _RUNS[key]


def _diagnoses(result: SynthResult, tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "fault.pcapng"
    write_result(result, str(path))
    return list(replay(str(path)).to_json()["diagnoses"])


def test_every_fault_has_an_expected_kind() -> None:
    assert set(EXPECTED) == set(FAULTS)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_replay_names_the_fault(fault: str, tmp_path: Path) -> None:
    found = _diagnoses(_run(fault), tmp_path)
    kinds = {d["kind"] for d in found}
    assert EXPECTED[fault] in kinds, found


@pytest.mark.parametrize("size", [56, 1400])
def test_healthy_ping_has_no_error(size: int, tmp_path: Path) -> None:
    result = synthesize_ping(PingOptions(count=3, size=size))
    assert all(e.replied_ns is not None for e in result.echoes)
    assert [d for d in _diagnoses(result, tmp_path) if d["severity"] == "error"] == []


def _drops(result: SynthResult) -> list[DropReason]:
    return [e.reason for e in result.events if isinstance(e, Dropped)]


def test_mtu_router_then_vtep_answer_then_fragments_get_through() -> None:
    result = _run("mtu")
    # Echo 1 dies at the router (DF, MTU 1400), echo 2 at the VTEP, which now knows the path
    # MTU and answers C1 itself; C1 then sends fragments that fit, and they are answered.
    assert [e.replied_ns is not None for e in result.echoes] == [False, False, True]
    assert DropReason.PKT_TOO_BIG in _drops(result)
    (too_big,) = [e for e in result.events if isinstance(e, TooBig)]
    assert too_big.mtu == 1350


def test_fragment_crosses_in_pieces_and_is_answered() -> None:
    result = _run("fragment")
    assert all(e.replied_ns is not None for e in result.echoes)
    sizes = {len(p.data) for p in result.tap_packets("node2/eth0")}
    assert 1410 in sizes  # 1396-byte first fragments (Ethernet header included)


def test_vni_both_sides_drop_what_the_other_sends() -> None:
    result = _run("vni")
    assert _drops(result).count(DropReason.VXLAN_VNI_NOT_FOUND) == 6  # 3 echoes each way
    assert not any(e.replied_ns for e in result.echoes)


def test_port_answered_with_port_unreachable() -> None:
    result = _run("port")
    assert _drops(result).count(DropReason.UDP_NO_SOCKET) == 3


def test_remote_static_entry_makes_vxlan_snoop_drop() -> None:
    result = _run("remote")
    assert _drops(result).count(DropReason.VXLAN_ENTRY_EXISTS) == 3


def test_neigh_and_fdb_raise_misses() -> None:
    assert any(isinstance(e, L3Miss) for e in _run("neigh").events)
    assert any(isinstance(e, L2Miss) for e in _run("fdb").events)


def test_ttl_expires_at_the_router() -> None:
    assert _drops(_run("ttl")).count(DropReason.IP_TTL_EXCEEDED) == 3


def test_cli_fault_mtu_pings_large_by_default(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["synth", "ping", "--fault", "mtu", "-c", "3"])
    assert result.exit_code == 0, result.output
    assert "3 echo requests, 1 reply" in result.stdout
    out = tmp_path / "synth-ping-vni4096-proxy-fault-mtu.pcapng"
    doc = json.loads(CliRunner().invoke(main, ["replay", "--json", str(out)]).stdout)
    assert "mtu" in {d["kind"] for d in doc["diagnoses"]}


def test_cli_fault_refuses_other_scenarios() -> None:
    result = CliRunner().invoke(main, ["synth", "ping", "--fault", "vni", "--underlay", "ipv6",
                                       "-w", "-"])
    assert result.exit_code == 2 and "--fault works on the seed's overlay" in result.output


@pytest.mark.parametrize("fault", ["mtu", "fragment", "port", "remote", "ttl"])
def test_tshark_finds_fault_captures_flawless(fault: str, tmp_path: Path) -> None:
    import subprocess
    path = tmp_path / f"{fault}.pcapng"
    result = _run(fault)
    write_result(result, str(path))
    tshark = require_tshark()
    base = [tshark, "-r", str(path), "-o", "ip.check_checksum:TRUE"]
    numbers = subprocess.run([*base, "-T", "fields", "-e", "frame.number"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert len(numbers) == len(result.packets) > 0
    flawed = subprocess.run([*base, "-Y", "_ws.malformed or _ws.expert.severity >= warning"],
                            capture_output=True, text=True, check=True).stdout
    assert flawed.splitlines() == []


@pytest.mark.parametrize("fault", ["mtu", "fragment"])
def test_fragments_keep_their_order_on_every_tap(fault: str) -> None:
    # Each hop delivers in order, as the kernel's queues do: the fragment at offset 0 first.
    result = _run(fault)
    for tap in result.taps:
        seen: dict[int, list[int]] = {}
        for p in result.tap_packets(tap):
            ip = decode(p.data).layer("ip", -1 if fault == "mtu" else 1)
            if ip is not None and (ip["ip.frag_offset"] or ip["ip.flags.mf"]):
                seen.setdefault(ip["ip.id"], []).append(ip["ip.frag_offset"])
        assert all(offsets == sorted(offsets) for offsets in seen.values()), (tap, seen)
        if fault == "mtu" or tap == "node2/eth0":  # C1 fragments; the router does
            assert seen, tap


def test_an_arp_reply_follows_what_was_queued_for_the_asker() -> None:
    # arp_process: neigh_event_ns sends the asker's queued packets, then arp_send answers.
    result = synthesize_ping(PingOptions(count=1, arp="flood", fault="remote"))
    labels = [frame_label(p.data) for p in result.tap_packets("node1/veth-C1")]
    echo = labels.index("ICMP echo request seq=1 ttl=64")
    assert labels[echo + 1] == "ARP 10.0.0.3 is-at 02:42:0a:00:00:03", labels
