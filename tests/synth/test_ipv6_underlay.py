"""synth ping --underlay ipv6: the seed's exchange with the hosts on 2001:db8:1::/64 and
2001:db8:2::/64.  tshark is the oracle: no expert info at all, every UDP checksum verified
good, the whole capture cross-checked field by field; the bytes re-encode; replay reads it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import require_tshark
from vxlankit.codec import decode, encode
from vxlankit.crosscheck import crosscheck, render_text
from vxlankit.crosscheck.allowlist import VXLANKIT_ONLY_FIELD
from vxlankit.replay import replay
from vxlankit.synth.output import write_result
from vxlankit.synth.ping import PingOptions, SynthResult, synthesize_ping

COUNT = 3


@pytest.fixture(scope="module", params=["proxy", "flood"])
def result(request: pytest.FixtureRequest) -> SynthResult:
    return synthesize_ping(PingOptions(count=COUNT, arp=request.param, seed=7,
                                       underlay="ipv6"))


@pytest.fixture(scope="module")
def capture(result: SynthResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("v6") / f"ping6-{result.options.arp}.pcapng"
    write_result(result, str(path))
    return path


def _tshark(path: Path, *args: str, two_pass: bool = True) -> str:
    cmd = [require_tshark(), *(["-2"] if two_pass else []), "-r", str(path),
           "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def test_topology_is_the_documentation_prefixes() -> None:
    topo = synthesize_ping(PingOptions(count=1, underlay="ipv6")).topology
    n1, n2 = topo.nodes
    assert (n1.ip, n1.subnet, n1.gateway_ip) == ("2001:db8:1::10", "2001:db8:1::/64",
                                                 "2001:db8:1::1")
    assert (n2.ip, n2.subnet, n2.gateway_ip) == ("2001:db8:2::10", "2001:db8:2::/64",
                                                 "2001:db8:2::1")
    with pytest.raises(ValueError, match="underlay"):
        synthesize_ping(PingOptions(count=1, underlay="ipx"))


def test_tshark_reports_no_expert_info_and_good_udp_checksums(
        capture: Path, result: SynthResult, tmp_path: Path) -> None:
    # The whole capture, as `tshark -r out.pcapng -z expert -q` reads it: no expert info.
    # (A second pass over all taps at once would pair each echo with the copies of it seen
    # at the other taps and warn "no response seen", over IPv4 as well; so each tap alone.)
    expert = _tshark(capture, "-q", "-z", "expert", two_pass=False)
    assert expert.strip() == "", expert
    for tap in result.taps:
        path = tmp_path / (tap.replace("/", "_") + ".pcap")
        assert write_result(result, str(path), tap=tap) > 0
        assert _tshark(path, "-Y", "_ws.expert or _ws.malformed") == "", tap
        assert _tshark(path, "-q", "-z", "expert").strip() == "", tap
    rows = _tshark(capture, "-T", "fields", "-E", "separator=|", "-e", "frame.interface_name",
                   "-e", "ipv6.src", "-e", "ipv6.hlim", "-e", "udp.checksum",
                   "-e", "udp.checksum.status", "-e", "vxlan.vni",
                   "-Y", "vxlan").splitlines()
    assert rows
    for row in rows:
        tap, src, hlim, checksum, status, vni = row.split("|")
        assert tap.endswith("/eth0") and vni == "4096"
        assert src in ("2001:db8:1::10", "2001:db8:2::10")
        assert checksum != "0x0000" and status == "1", row  # computed, verified good
        # One router between the nodes: 64 as sent, 63 as received.
        assert hlim == ("64" if tap.startswith("node1") == src.startswith("2001:db8:1:")
                        else "63"), row
    # Every echo request answered, on every tap (tshark pairs them within a tap).
    for tap in result.taps:
        path = tmp_path / (tap.replace("/", "_") + ".pcap")
        requests = _tshark(path, "-T", "fields", "-e", "icmp.resp_in",
                           "-Y", "icmp.type == 8").splitlines()
        assert len(requests) == COUNT and all(requests), (tap, requests)


def test_crosscheck_agrees_completely(capture: Path, result: SynthResult) -> None:
    report = crosscheck(capture)
    assert report.ok, render_text(report)
    assert report.packets_compared == len(result.packets) and not report.sampled
    assert report.fields_compared > 0
    layers = report.layers_by_protocol
    assert layers["ipv6"] > 0 and layers["udp"] == layers["vxlan"] == layers["ipv6"]
    assert layers["icmp"] > 0
    # Only vxlankit's own raw-options field of the inner IPv4 header is allowed.
    assert {(a.rule, a.layer, a.field) for a in report.allowed} == {
        (VXLANKIT_ONLY_FIELD, "ip", "ip.options")}


def test_every_packet_re_encodes_byte_for_byte(result: SynthResult) -> None:
    for p in result.packets:
        packet = decode(p.data)
        assert not packet.errors
        assert encode(packet) == p.data
        assert encode(packet, fix_lengths=False, compute_checksums=False) == p.data


def test_overlay_is_the_same_as_over_ipv4(result: SynthResult) -> None:
    """Only the underlay changes: the containers see the very same frames at the same times
    (same seed), and the underlay taps carry the same inner frames."""
    v4 = synthesize_ping(PingOptions(count=COUNT, arp=result.options.arp, seed=7))
    c1, c2 = result.topology.containers
    for tap in (f"node1/{c1.veth}", f"node2/{c2.veth}"):
        assert result.tap_packets(tap) == v4.tap_packets(tap)

    def inner(r: SynthResult) -> list[tuple[int, bytes]]:
        out = []
        for p in r.tap_packets("node1/eth0"):
            d = decode(p.data)
            vx, udp = d.layer("vxlan"), d.layer("udp")
            assert vx is not None and udp is not None
            out.append((p.ts_ns, p.data[vx.offset + 8:udp.offset + udp["udp.length"]]))
        return out

    assert inner(result) == inner(v4)
    assert all(decode(p.data)["eth.type"] == 0x86DD for p in result.tap_packets("node1/eth0"))


def test_models_hold_ipv6_remotes(result: SynthResult) -> None:
    n1, n2 = result.topology.nodes
    c1, c2 = result.topology.containers
    entry = result.vtep("node2").lookup(result.options.vni, c1.mac)
    assert entry is not None and entry.remotes == (n1.ip,)
    entry = result.vtep("node1").lookup(result.options.vni, c2.mac)
    assert entry is not None and entry.remotes == (n2.ip,)


def test_replay_learns_what_the_models_hold(result: SynthResult, tmp_path: Path) -> None:
    path = tmp_path / "node2.pcap"
    write_result(result, str(path), tap="node2/eth0")
    n1, n2 = result.topology.nodes
    c1 = result.topology.containers[0]
    report = replay(str(path))
    doc = report.to_json()
    assert [v["vtep"] for v in doc["vteps"]] == [n1.ip, n2.ip]  # both directions pass here
    node2 = doc["vteps"][1]
    assert (c1.mac, n1.ip) in {(row["mac"], row["remote"]) for row in node2["fdb"]}
    assert not any(a["kind"] == "linux_would_drop" for a in report.anomalies())
    assert report.vxlan_packets == report.packets > 0
