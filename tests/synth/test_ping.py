"""synth ping: tshark finds the output flawless, the models agree with what the taps saw, and
the same seed gives the same bytes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import require_tshark
from vxlankit.codec import decode
from vxlankit.replay import replay
from vxlankit.synth.output import write_result
from vxlankit.synth.ping import PingOptions, SynthResult, synthesize_ping

MODES = ("proxy", "flood")


@pytest.fixture(scope="module", params=MODES)
def result(request: pytest.FixtureRequest) -> SynthResult:
    return synthesize_ping(PingOptions(vni=4096, count=3, arp=request.param, seed=7))


def _tshark_fields(path: Path, *fields: str, display_filter: str | None = None) -> list[list[str]]:
    cmd = [require_tshark(), "-2", "-r", str(path), "-o", "ip.check_checksum:TRUE",
           "-o", "udp.check_checksum:TRUE", "-T", "fields", "-E", "occurrence=a",
           "-E", "separator=|"]
    for field in fields:
        cmd += ["-e", field]
    if display_filter:
        cmd += ["-Y", display_filter]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in out.splitlines()]


def test_tshark_finds_every_tap_flawless(result: SynthResult, tmp_path: Path) -> None:
    for tap in result.taps:
        path = tmp_path / (tap.replace("/", "_") + ".pcap")
        written = write_result(result, str(path), tap=tap)
        assert written == len(result.tap_packets(tap)) > 0
        bad = _tshark_fields(path, "frame.number", display_filter=(
            "_ws.malformed or _ws.expert.severity >= warning or ip.checksum.status == 0 "
            "or udp.checksum.status == 0 or icmp.checksum.status == 0"))
        assert bad == [], f"{tap}: tshark flags frames {bad}"
        requests = _tshark_fields(path, "frame.number", "icmp.resp_in",
                                  display_filter="icmp.type == 8")
        assert len(requests) == result.options.count
        assert all(resp for _, resp in requests), f"{tap}: unanswered echo {requests}"
        vxlan = _tshark_fields(path, "vxlan.vni", "udp.dstport", display_filter="vxlan")
        if tap.endswith("/eth0"):
            assert vxlan and all(row == ["4096", "4789"] for row in vxlan)
        else:
            assert vxlan == []


def test_pcapng_has_a_named_interface_per_tap(result: SynthResult, tmp_path: Path) -> None:
    path = tmp_path / "all.pcapng"
    write_result(result, str(path))
    rows = _tshark_fields(path, "frame.interface_name")
    assert {row[0] for row in rows} == set(result.taps)
    assert len(rows) == len(result.packets)


def _inner_frames(result: SynthResult, tap: str) -> list[bytes]:
    frames = []
    for p in result.tap_packets(tap):
        packet = decode(p.data)
        vxlan = packet.layer("vxlan")
        assert vxlan is not None
        udp = packet.layer("udp")
        assert udp is not None
        frames.append(p.data[vxlan.offset + 8:udp.offset + udp["udp.length"]])
    return frames


def test_inner_frames_cross_the_overlay_byte_for_byte(result: SynthResult) -> None:
    c1 = [p.data for p in result.tap_packets("node1/veth-C1")]
    c2 = [p.data for p in result.tap_packets("node2/veth-C2")]
    at_node2 = _inner_frames(result, "node2/eth0")
    at_node1 = _inner_frames(result, "node1/eth0")
    # What C1 sent that crossed the overlay arrives at node2 unchanged (one subnet: no
    # routing of the inner packet, so not even the TTL changes), and the same way back.
    sent_by_c1 = [f for f in c1 if f[6:12] == bytes.fromhex("02420a000003")]
    sent_by_c2 = [f for f in c2 if f[6:12] == bytes.fromhex("02420a000004")]
    assert [f for f in sent_by_c1 if f in at_node2] == [f for f in at_node2 if f in sent_by_c1]
    assert set(at_node2) <= set(sent_by_c1) | set(sent_by_c2)
    assert all(f in c2 for f in at_node2 if f in sent_by_c1)
    assert all(f in c1 for f in at_node1 if f in sent_by_c2)
    echo_requests = [f for f in sent_by_c1 if decode(f).get("icmp.type") == 8]
    assert echo_requests and all(f in at_node2 for f in echo_requests)
    echo_replies = [f for f in sent_by_c2 if decode(f).get("icmp.type") == 0]
    assert echo_replies and all(f in at_node1 for f in echo_replies)


def test_underlay_is_routed(result: SynthResult) -> None:
    n1, n2 = result.topology.nodes
    sent = [decode(p.data) for p in result.tap_packets("node1/eth0")
            if decode(p.data)["ip.src"] == n1.ip]
    got = [decode(p.data) for p in result.tap_packets("node2/eth0")
           if decode(p.data)["ip.src"] == n1.ip]
    assert len(sent) == len(got) > 0
    for a, b in zip(sent, got, strict=True):
        assert a["eth.dst"] == n1.gateway_mac and b["eth.src"] == n2.gateway_mac
        assert b["eth.dst"] == n2.mac
        assert b["ip.ttl"] == a["ip.ttl"] - 1
        assert 32768 <= a["udp.srcport"] <= 60999 and a["udp.dstport"] == 4789
        assert b.get("ip.checksum.status") == 1


def test_every_echo_answered(result: SynthResult) -> None:
    assert [e.seq for e in result.echoes] == [1, 2, 3]
    assert all(e.replied_ns is not None and e.replied_ns > e.sent_ns for e in result.echoes)


def test_replay_of_node2_underlay_learns_what_the_models_hold(
        result: SynthResult, tmp_path: Path) -> None:
    path = tmp_path / "node2.pcap"
    write_result(result, str(path), tap="node2/eth0")
    n1, n2 = result.topology.nodes
    c1 = result.topology.containers[0]
    report = replay(str(path), [n2.ip])
    learned = {(row["mac"], row["remote"]) for row in report.to_json()["vteps"][0]["fdb"]}
    assert (c1.mac, n1.ip) in learned
    model_entry = result.vtep(n2.name).lookup(result.options.vni, c1.mac)
    assert model_entry is not None and model_entry.remotes == (n1.ip,)


def test_arp_modes_differ_as_specified() -> None:
    proxy = synthesize_ping(PingOptions(count=1, arp="proxy"))
    flood = synthesize_ping(PingOptions(count=1, arp="flood"))
    proxy_underlay = [decode(p.data) for p in proxy.tap_packets("node1/eth0")]
    flood_underlay = [decode(p.data) for p in flood.tap_packets("node1/eth0")]
    # Docker answers ARP on the local VTEP: no ARP ever crosses the underlay.
    assert not any(p.layer("arp") for p in proxy_underlay)
    # Flood-and-learn: the broadcast is replicated to the remote VTEP, and C2's reply returns.
    arps = [p.layer("arp") for p in flood_underlay if p.layer("arp")]
    assert [a["arp.opcode"] for a in arps if a is not None] == [1, 2]
    assert any(step.label.startswith("proxy ARP") for step in proxy.ladder)
    assert not any(step.label.startswith("proxy ARP") for step in flood.ladder)


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    outputs = []
    for run in range(2):
        path = tmp_path / f"run{run}.pcapng"
        write_result(synthesize_ping(PingOptions(seed=3)), str(path))
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]
    other = tmp_path / "other.pcapng"
    write_result(synthesize_ping(PingOptions(seed=4)), str(other))
    assert other.read_bytes() != outputs[0]


def test_vni_and_size_options() -> None:
    r = synthesize_ping(PingOptions(vni=5001, count=2, size=100))
    requests = 0
    for p in r.tap_packets("node1/eth0"):
        packet = decode(p.data)
        assert packet["vxlan.vni"] == 5001
        if packet.get("icmp.type") == 8:
            requests += 1
            assert packet["data.len"] == 100
    assert requests == 2
