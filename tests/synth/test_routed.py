"""synth ping across the subnets of one overlay: the sandbox router's hop on the wire."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from tests.model.frames import SEC
from tests.synth.test_ping import _tshark_fields
from vxlankit.codec import DEFAULT_OPTIONS, decode
from vxlankit.replay import replay
from vxlankit.synth.output import write_result
from vxlankit.synth.ping import PingOptions, SynthResult, synthesize_ping

SUBNETS = ("10.1.1.0/24", "11.1.1.0/24")


@pytest.fixture(scope="module")
def routed() -> SynthResult:
    return synthesize_ping(PingOptions(count=2, subnets=SUBNETS, seed=5))


def test_flood_mode_refuses_to_route() -> None:
    with pytest.raises(ValueError, match="gateway"):
        synthesize_ping(PingOptions(subnets=SUBNETS, arp="flood"))


def test_every_tap_is_flawless_and_every_echo_answered(routed: SynthResult,
                                                       tmp_path: Path) -> None:
    assert [e.replied_ns is not None for e in routed.echoes] == [True, True]
    for tap in routed.taps:
        path = tmp_path / (tap.replace("/", "_") + ".pcap")
        if not write_result(routed, str(path), tap=tap):
            continue
        # Routing between subnets is asymmetric: the request crosses on the destination
        # subnet's VNI and bridge, the reply on the source's.  So a bridge or underlay tap can
        # see one direction only; tshark's "no response seen" is then the truth, not a flaw.
        one_way = not tap.split("/")[1].startswith("veth")
        allowed = " and not icmp.resp_not_found" if one_way else ""
        bad = _tshark_fields(path, "frame.number", display_filter=(
            f"(_ws.malformed or _ws.expert.severity >= warning{allowed}) "
            "or ip.checksum.status == 0 or udp.checksum.status == 0 "
            "or icmp.checksum.status == 0"))
        assert bad == [], f"{tap}: {bad}"
        if not one_way:
            requests = _tshark_fields(path, "icmp.resp_in", display_filter="icmp.type == 8")
            assert len(requests) == 2
            assert all(row[0] for row in requests), f"{tap}: unanswered {requests}"


def test_inner_ttl_drops_by_one_at_the_routed_hop(routed: SynthResult) -> None:
    sent = [decode(p.data) for p in routed.tap_packets("node1/veth-C1")]
    got = [decode(p.data) for p in routed.tap_packets("node2/veth-C2")]
    assert {p["ip.ttl"] for p in sent if p.get("icmp.type") == 8} == {64}
    assert {p["ip.ttl"] for p in got if p.get("icmp.type") == 8} == {63}
    underlay = [decode(p.data) for p in routed.tap_packets("node2/eth0")]
    assert {p.get("ip.ttl", 2) for p in underlay if p.get("icmp.type") == 8} == {63}


def test_each_subnets_traffic_rides_its_own_vni(routed: SynthResult) -> None:
    nets = [ipaddress.ip_network(s) for s in SUBNETS]
    seen = set()
    for tap in ("node1/eth0", "node2/eth0"):
        for p in routed.tap_packets(tap):
            packet = decode(p.data)
            vni = packet["vxlan.vni"]
            inner_dst = packet.get("ip.dst", 2) or packet.get("arp.dst.proto_ipv4")
            index = next(i for i, n in enumerate(nets) if ipaddress.ip_address(inner_dst) in n)
            assert vni == 4096 + index
            seen.add(vni)
    assert seen == {4096, 4097}


def test_bridge_taps_see_their_subnet_only(routed: SynthResult) -> None:
    for node in ("node1", "node2"):
        for index, prefix in enumerate(SUBNETS):
            net = ipaddress.ip_network(prefix)
            for p in routed.tap_packets(f"{node}/br{index}"):
                packet = decode(p.data)
                addr = packet.get("arp.src.proto_ipv4") or packet.get("ip.src")
                if packet.get("icmp.type") in (0, 8):
                    # a routed packet keeps its end-to-end addresses; its MACs are local
                    addr = packet["ip.dst"] if ipaddress.ip_address(packet["ip.src"]) not in net \
                        else packet["ip.src"]
                assert ipaddress.ip_address(addr) in net, (node, index, packet)


def test_replay_names_the_vni_pair_of_the_routed_flow(routed: SynthResult,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "n1.pcap"
    write_result(routed, str(path), tap="node1/eth0")
    report = replay(str(path)).to_json()
    assert [pair["vnis"] for pair in report["vni_pairs"]] == [[4096, 4097]]
    assert {row["vni"] for v in report["vteps"] for row in v["fdb"]} == {4096, 4097}


def test_same_host_is_routed_locally_without_vxlan() -> None:
    r = synthesize_ping(PingOptions(count=1, subnets=SUBNETS, to="same-host"))
    assert r.topology.containers[1].node == "node1"
    assert r.tap_packets("node1/eth0") == [] and r.tap_packets("node2/eth0") == []
    got = [decode(p.data) for p in r.tap_packets("node1/veth-C2")]
    assert {p["ip.ttl"] for p in got if p.get("icmp.type") == 8} == {63}
    assert r.echoes[0].replied_ns is not None


def test_same_subnet_is_not_routed() -> None:
    r = synthesize_ping(PingOptions(count=1, subnets=SUBNETS, to="same-subnet"))
    got = [decode(p.data) for p in r.tap_packets("node2/veth-C2")]
    assert {p["ip.ttl"] for p in got if p.get("icmp.type") == 8} == {64}
    assert {decode(p.data)["vxlan.vni"] for p in r.tap_packets("node1/eth0")} == {4096}


def test_ttl_expiry_reaches_the_source_as_time_exceeded() -> None:
    from vxlankit import build, encode
    from vxlankit.frames import frame_from_bytes
    from vxlankit.model.events import Forwarded, FrameReceived

    r = synthesize_ping(PingOptions(count=1, subnets=SUBNETS))
    router = r.routers["node1"]
    c1 = r.topology.containers[0]
    gw_mac = r.topology.nodes[0].bridge_macs[0]
    frame = frame_from_bytes(encode([build.eth(dst=gw_mac, src=c1.mac),
                                     build.ipv4(src=c1.ip, dst="11.1.1.3", ttl=1),
                                     build.icmp_echo(1, 9), build.payload(b"x" * 8)]))
    out = router.handle(FrameReceived("br0", frame), 10 * SEC)
    reply = next(o for o in out if isinstance(o, Forwarded))
    assert reply.port == "br0" and reply.frame.dst == c1.mac
    packet = decode(reply.frame.payload, linktype=228)
    assert packet["icmp.type"] == 11 and packet["ip.src"] == "10.1.1.1"


def test_one_subnet_is_the_plain_scenario() -> None:
    plain = synthesize_ping(PingOptions(count=2))
    same = synthesize_ping(PingOptions(count=2, subnets=("10.0.0.0/24",)))
    assert [(p.tap, p.data, p.ts_ns) for p in plain.packets] == \
        [(p.tap, p.data, p.ts_ns) for p in same.packets]
    assert plain.taps == ("node1/veth-C1", "node1/eth0", "node2/eth0", "node2/veth-C2")


def test_stats_groups_the_routed_conversation_across_vnis(routed: SynthResult,
                                                         tmp_path: Path) -> None:
    from vxlankit.present.run import decode_capture
    from vxlankit.present.stats import OverlayStats

    path = tmp_path / "n1.pcap"
    write_result(routed, str(path), tap="node1/eth0")
    stats = OverlayStats()
    for item in decode_capture(str(path), DEFAULT_OPTIONS):
        stats.add(item.record, item.packet)
    [conv] = [r for r in stats.conversation_rows() if r["protocols"] == ["ICMP"]]
    assert conv["vnis"] == [4096, 4097] and conv["packets_ab"] == conv["packets_ba"] == 2
    [ping] = stats.ping_rows()
    assert (ping["vnis"], ping["requests"], ping["replies"]) == ([4097, 4096], 2, 2)
