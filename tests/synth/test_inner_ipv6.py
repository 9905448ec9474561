"""synth ping --inner ipv6: C1 (fd00:10::3) pings C2 (fd00:10::4) over ICMPv6; its Neighbor
Solicitation is answered by the VTEP's ND proxy (Docker's proxy mode) or by C2 (flood), over
either underlay.  tshark is the oracle: no expert info, ICMPv6 and UDP checksums verified good,
crosscheck agreeing field by field; every packet re-encodes; replay reads it."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from tests.support import require_tshark
from vxlankit.codec import decode, encode
from vxlankit.crosscheck import crosscheck, render_text
from vxlankit.model.events import NdProxied
from vxlankit.replay import render_text as replay_text
from vxlankit.replay import replay
from vxlankit.synth.output import write_result
from vxlankit.synth.ping import PingOptions, SynthResult, synthesize_ping

COUNT = 2


@pytest.fixture(scope="module", params=[("proxy", "ipv4"), ("proxy", "ipv6"),
                                        ("flood", "ipv4"), ("flood", "ipv6")],
                ids=lambda p: "-".join(p))
def result(request: pytest.FixtureRequest) -> SynthResult:
    arp, underlay = request.param
    return synthesize_ping(PingOptions(count=COUNT, arp=arp, seed=3, underlay=underlay,
                                       inner="ipv6"))


@pytest.fixture(scope="module")
def capture(result: SynthResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    o = result.options
    path = tmp_path_factory.mktemp("in6") / f"ping-{o.arp}-{o.underlay}.pcapng"
    write_result(result, str(path))
    return path


def _tshark(path: Path, *args: str, two_pass: bool = True) -> str:
    cmd = [require_tshark(), *(["-2"] if two_pass else []), "-r", str(path),
           "-o", "udp.check_checksum:TRUE", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def test_containers_ping_over_icmpv6_and_every_echo_is_answered(result: SynthResult) -> None:
    c1, c2 = result.topology.containers
    assert (c1.ip6, c2.ip6) == ("fd00:10::3", "fd00:10::4")
    assert len(result.echoes) == COUNT and all(e.replied_ns for e in result.echoes)
    first = decode(result.tap_packets("node1/veth-C1")[0].data)
    ns = first.layer("icmpv6")
    assert ns is not None and ns["icmpv6.type"] == 135
    assert first["eth.dst"] == "33:33:ff:00:00:04" and first["ipv6.dst"] == "ff02::1:ff00:4"
    assert ns["icmpv6.nd.ns.target_address"] == "fd00:10::4"


def test_the_vtep_answers_the_ns_in_proxy_mode(result: SynthResult) -> None:
    proxied = [e for e in result.events if isinstance(e, NdProxied)]
    underlay_ns = [p for p in result.packets if p.tap.endswith("/eth0")
                   and (icmp := decode(p.data).layer("icmpv6", -1)) is not None
                   and icmp["icmpv6.type"] in (135, 136)]
    if result.options.arp == "proxy":
        # C1's NS on node1, C2's NS for C1 on node2: answered at home, none crosses.
        assert [(e.device, e.ip, e.mac) for e in proxied] == [
            ("vxlan0@node1", "fd00:10::4", "02:42:0a:00:00:04"),
            ("vxlan0@node2", "fd00:10::3", "02:42:0a:00:00:03")]
        assert underlay_ns == []
        na = decode(result.tap_packets("node1/veth-C1")[1].data)
        icmp = na.layer("icmpv6")
        assert icmp is not None and icmp["icmpv6.type"] == 136
        assert (na["eth.src"], na["ipv6.src"], na["ipv6.hlim"]) == (
            "02:42:0a:00:00:04", "fd00:10::4", 255)
    else:
        assert proxied == [] and underlay_ns  # flood-and-learn carries NDP across
    # Bridges learn as with IPv4: br0@node1 has C2 behind vxlan0.
    entry = result.bridges[("node1", 0)].lookup("02:42:0a:00:00:04")
    assert entry is not None and entry.port == "vxlan0"


def test_tshark_finds_it_flawless(capture: Path, result: SynthResult, tmp_path: Path) -> None:
    assert _tshark(capture, "-q", "-z", "expert", two_pass=False).strip() == ""
    for tap in result.taps:
        path = tmp_path / (tap.replace("/", "_") + ".pcap")
        assert write_result(result, str(path), tap=tap) > 0
        assert _tshark(path, "-Y", "_ws.expert or _ws.malformed") == "", tap
        requests = _tshark(path, "-T", "fields", "-e", "icmpv6.echo.sequence_number",
                           "-Y", "icmpv6.type == 128 and icmpv6.resp_in").splitlines()
        assert requests == [str(i + 1) for i in range(COUNT)], tap
    rows = _tshark(capture, "-T", "fields", "-E", "separator=|", "-e", "icmpv6.checksum.status",
                   "-e", "udp.checksum.status", "-Y", "icmpv6").splitlines()
    assert rows
    for row in rows:
        icmp_status, udp_status = row.split("|")
        assert icmp_status == "1", row  # every ICMPv6 checksum computed and good
        if result.options.underlay == "ipv6" and udp_status:
            assert udp_status == "1", row


def test_crosscheck_agrees(capture: Path, result: SynthResult) -> None:
    report = crosscheck(capture)
    assert report.ok, render_text(report)
    assert report.packets_compared == len(result.packets)
    assert report.layers_by_protocol["icmpv6"] == len(result.packets)


def test_every_packet_re_encodes_byte_for_byte(result: SynthResult) -> None:
    for p in result.packets:
        packet = decode(p.data)
        assert not packet.errors
        assert encode(packet) == p.data
        assert encode(packet, fix_lengths=False, compute_checksums=False) == p.data


def test_replay_names_an_ns_nobody_answered(result: SynthResult, tmp_path: Path) -> None:
    path = tmp_path / "node2.pcap"
    write_result(result, str(path), tap="node2/eth0")
    report = replay(str(path))
    assert not [a for a in report.anomalies() if a["kind"] == "unanswered_nd"]
    if result.options.arp == "proxy":
        return  # no NDP crosses the overlay: the VTEPs answered it at home
    # Keep only the first underlay packet, the flooded NS: nobody answers it.
    cut = dataclasses.replace(result, packets=[p for p in result.packets
                                               if p.tap == "node2/eth0"][:1])
    write_result(cut, str(path), tap="node2/eth0")
    report = replay(str(path))
    found = [a for a in report.anomalies() if a["kind"] == "unanswered_nd"]
    assert [(a["vni"], a["who_has"], a["tell"], a["requests"]) for a in found] == [
        (4096, "fd00:10::4", "fd00:10::3", 1)]
    assert ("unanswered NS (VNI 4096): who-has fd00:10::4 tell fd00:10::3, 1 request"
            in replay_text(report))


def test_inner_ipv6_is_validated() -> None:
    with pytest.raises(ValueError, match="inner"):
        synthesize_ping(PingOptions(count=1, inner="ipx"))
    with pytest.raises(ValueError, match="inner ipv6"):
        synthesize_ping(PingOptions(count=1, inner="ipv6",
                                    subnets=("10.1.1.0/24", "11.1.1.0/24")))
