"""vni_mismatch vs routed, wrong_remote, unanswered_arp, unknown_unicast, mac_flap,
linux_drop, duplicate_ip from hand-built captures."""

from __future__ import annotations

from pathlib import Path

from tests.diagnose.frames import (
    C1,
    C2,
    MAC1,
    MAC2,
    N1,
    N2,
    REPLY,
    REQUEST,
    arp,
    echo,
    kinds,
    of_kind,
    vxlan,
    write,
)
from vxlankit.replay import render_text, replay

ROUTER_MAC1, ROUTER_MAC2 = "02:00:00:00:0a:01", "02:00:00:00:0b:01"


def _two_vni_exchange(tmp_path: Path, ttl: int, routed: bool) -> str:
    req_src = ROUTER_MAC1 if routed else MAC1
    rep_src = ROUTER_MAC2 if routed else MAC2
    frames = [("node1/eth0", vxlan(echo(seq=s, ttl=ttl, src_mac=req_src), vni=4097, ident=s))
              for s in (1, 2)]
    frames += [("node1/eth0", vxlan(echo(seq=s, reply=True, src=C2, dst=C1, ttl=ttl,
                                         src_mac=rep_src, dst_mac=MAC1), N2, N1, vni=4096,
                                    ident=10 + s)) for s in (1, 2)]
    return write(tmp_path / f"vni-{ttl}.pcapng", frames, ("node1/eth0",))


def test_direct_conversation_on_two_vnis_is_a_vni_mismatch(tmp_path: Path) -> None:
    path = _two_vni_exchange(tmp_path, 64, routed=False)
    (found,) = of_kind(path, "vni_mismatch")
    assert found["severity"] == "error" and found["evidence"]["vni"] == [4096, 4097]
    assert found["evidence"]["conversation"] == [C1, C2]
    doc = replay(path).to_json()
    assert doc["vni_pairs"] == []  # not "routed" any more
    assert "routed:" not in render_text(replay(path))


def test_routed_conversation_is_told_apart_from_a_mismatch(tmp_path: Path) -> None:
    path = _two_vni_exchange(tmp_path, 63, routed=True)
    assert kinds(path) == {"routed": "info"}
    assert replay(path).to_json()["vni_pairs"] == [{"vnis": [4096, 4097], "packets": 1}]


def test_vtep_sending_a_mac_elsewhere_than_it_lives_is_a_wrong_remote(tmp_path: Path) -> None:
    stale = "172.31.1.99"
    frames = [("node2/eth0", vxlan(echo(), N1, N2)),
              ("node2/eth0", vxlan(echo(reply=True, src=C2, dst=C1, src_mac=MAC2,
                                        dst_mac=MAC1), N2, stale))]
    path = write(tmp_path / "remote.pcapng", frames, ("node2/eth0",))
    (found,) = of_kind(path, "wrong_remote")
    assert found["severity"] == "error"
    assert found["evidence"]["mac"] == MAC1
    assert found["evidence"]["sent_to"] == [stale] and found["evidence"]["behind"] == [N1]
    assert found["evidence"]["packets"] == [2]


def test_unanswered_arp_on_a_container_tap(tmp_path: Path) -> None:
    frames = [("node1/veth-C1", arp(REQUEST, MAC1, C1, C2)) for _ in range(3)]
    frames.append(("node1/eth0", vxlan(echo(src=C1, dst="10.0.0.9"))))
    path = write(tmp_path / "arp.pcapng", frames, ("node1/veth-C1", "node1/eth0"))
    (found,) = of_kind(path, "unanswered_arp")
    assert found["severity"] == "warning"
    assert found["evidence"]["who_has"] == C2 and found["evidence"]["requests"] == 3
    assert found["evidence"]["packets"] == [1, 2, 3]
    assert "never crossed the overlay" in found["summary"]


def test_answered_arp_is_no_diagnosis(tmp_path: Path) -> None:
    frames = [("node1/veth-C1", arp(REQUEST, MAC1, C1, C2)),
              ("node1/veth-C1", arp(REPLY, MAC2, C2, C1, MAC1))]
    assert kinds(write(tmp_path / "ok.pcapng", frames, ("node1/veth-C1",))) == {}


def test_unicast_replicated_to_two_remotes_is_unknown_unicast(tmp_path: Path) -> None:
    inner = echo()
    frames = [("node1/eth0", vxlan(inner, N1, N2)), ("node1/eth0", vxlan(inner, N1, "10.9.9.9"))]
    path = write(tmp_path / "flood.pcapng", frames, ("node1/eth0",))
    (found,) = of_kind(path, "unknown_unicast")
    assert found["evidence"]["mac"] == MAC2 and found["evidence"]["packets"] == [1, 2]


def test_mac_behind_two_vteps_is_a_mac_flap(tmp_path: Path) -> None:
    frames = [("node2/eth0", vxlan(echo(seq=1), N1, N2)),
              ("node2/eth0", vxlan(echo(seq=2), "172.31.1.11", N2))]
    path = write(tmp_path / "flap.pcapng", frames, ("node2/eth0",))
    (found,) = of_kind(path, "mac_flap")
    assert found["severity"] == "warning" and found["evidence"]["mac"] == MAC1
    assert found["evidence"]["remotes"] == [N1, "172.31.1.11"]
    assert found["evidence"]["packets"] == [1, 2]


def test_i_flag_clear_is_a_linux_drop(tmp_path: Path) -> None:
    frames = [("node2/eth0", vxlan(echo(), flags=0x0000))]
    (found,) = of_kind(write(tmp_path / "iflag.pcapng", frames, ("node2/eth0",)), "linux_drop")
    assert found["severity"] == "error"
    assert found["evidence"]["reason"] == "VXLAN_INVALID_HDR"
    assert found["evidence"]["packets"] == [1]


def test_one_ip_two_macs_is_a_duplicate_ip(tmp_path: Path) -> None:
    frames = [("node1/veth-C1", arp(REPLY, MAC2, C2, C1, MAC1)),
              ("node1/veth-C1", arp(REPLY, "02:42:0a:00:00:99", C2, C1, MAC1))]
    path = write(tmp_path / "dup.pcapng", frames, ("node1/veth-C1",))
    (found,) = of_kind(path, "duplicate_ip")
    assert found["evidence"]["ip"] == C2 and found["evidence"]["taps"] == ["node1/veth-C1"]


def test_same_gateway_address_on_two_hosts_is_no_duplicate(tmp_path: Path) -> None:
    gw = "10.0.0.1"
    frames = [("node1/veth-C1", arp(REPLY, "02:00:00:00:00:a1", gw, C1, MAC1)),
              ("node2/veth-C2", arp(REPLY, "02:00:00:00:00:a2", gw, C2, MAC2))]
    path = write(tmp_path / "anycast.pcapng", frames, ("node1/veth-C1", "node2/veth-C2"))
    assert "duplicate_ip" not in kinds(path)
