"""Docker's overlay control plane (libnetwork drivers/overlay peerdb.go) as kernel operations."""

from __future__ import annotations

import pytest

from tests.model.frames import C1_IP, C1_MAC, C2_IP, C2_MAC, NODE1_IP, NODE2_IP, NODE3_IP, SEC, VNI
from vxlankit.model.controlplane import (
    ControlPlane,
    docker_container_mac,
    peer_add,
    peer_delete,
)
from vxlankit.model.events import (
    BridgeFdbDel,
    FdbAdd,
    FdbDel,
    ModelError,
    NeighAdd,
    NeighDel,
    PeerAdd,
    PeerDelete,
)

ADD = "docker peerAdd"
DEL = "docker peerDelete"


def test_docker_container_mac_is_02_42_and_the_ipv4_octets() -> None:
    assert docker_container_mac("10.0.0.3") == "02:42:0a:00:00:03"
    assert docker_container_mac("172.18.255.254") == "02:42:ac:12:ff:fe"


def test_peer_add_installs_a_permanent_neighbour_and_a_static_fdb_entry() -> None:
    assert peer_add(VNI, C2_IP, C2_MAC, NODE2_IP) == [
        NeighAdd(VNI, C2_IP, C2_MAC, reason=ADD),
        FdbAdd(VNI, C2_MAC, NODE2_IP, static=True, reason=ADD),
    ]


def test_peer_delete_also_flushes_the_bridge_entry() -> None:
    assert peer_delete(VNI, C2_IP, C2_MAC, NODE2_IP) == [
        FdbDel(VNI, C2_MAC, NODE2_IP, reason=DEL),
        BridgeFdbDel(C2_MAC, reason=DEL),
        NeighDel(VNI, C2_IP, reason=DEL),
    ]


def test_peerdb_programs_remote_peers_once_and_never_local_ones() -> None:
    cp = ControlPlane(NODE1_IP)
    assert cp.handle(PeerAdd(VNI, C1_IP, C1_MAC, NODE1_IP), 0) == []
    assert cp.handle(PeerAdd(VNI, C2_IP, C2_MAC, NODE2_IP), 0) == peer_add(
        VNI, C2_IP, C2_MAC, NODE2_IP)
    assert cp.handle(PeerAdd(VNI, C2_IP, C2_MAC, NODE2_IP), 1 * SEC) == []  # gossip repeats
    assert cp.peers() == {(VNI, C1_IP): (C1_MAC, NODE1_IP), (VNI, C2_IP): (C2_MAC, NODE2_IP)}
    assert cp.handle(PeerDelete(VNI, C1_IP, C1_MAC, NODE1_IP), 2 * SEC) == []


def test_peer_moving_to_another_host_clears_the_stale_entries_first() -> None:
    cp = ControlPlane(NODE1_IP)
    cp.handle(PeerAdd(VNI, C2_IP, C2_MAC, NODE2_IP), 0)
    new_mac = "02:42:0a:00:00:99"
    assert cp.handle(PeerAdd(VNI, C2_IP, new_mac, NODE3_IP), 1 * SEC) == [
        FdbDel(VNI, C2_MAC, NODE2_IP, reason="docker peerAdd: stale"),
        BridgeFdbDel(C2_MAC, reason="docker peerAdd: stale"),
        *peer_add(VNI, C2_IP, new_mac, NODE3_IP),
    ]
    # The IP now lives here: the remote state goes, nothing new is programmed.
    assert cp.handle(PeerAdd(VNI, C2_IP, new_mac, NODE1_IP), 2 * SEC) == [
        FdbDel(VNI, new_mac, NODE3_IP, reason="docker peerAdd: stale"),
        NeighDel(VNI, C2_IP, reason="docker peerAdd: now local"),
    ]


def test_stale_delete_is_ignored_and_a_matching_one_removes_everything() -> None:
    cp = ControlPlane(NODE1_IP)
    cp.handle(PeerAdd(VNI, C2_IP, C2_MAC, NODE3_IP), 0)
    assert cp.handle(PeerDelete(VNI, C2_IP, C2_MAC, NODE2_IP), 1 * SEC) == []
    assert cp.handle(PeerDelete(VNI, C2_IP, C2_MAC, NODE3_IP), 2 * SEC) == peer_delete(
        VNI, C2_IP, C2_MAC, NODE3_IP)
    assert cp.peers() == {}
    assert cp.handle(PeerDelete(VNI, C2_IP, C2_MAC, NODE3_IP), 3 * SEC) == []


def test_not_a_control_event() -> None:
    with pytest.raises(ModelError):
        ControlPlane(NODE1_IP).handle(NeighDel(VNI, C2_IP), 0)  # type: ignore[arg-type]
