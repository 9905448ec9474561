"""Scripted tests of the bridge model (net/bridge br_input.c, br_fdb.c, br_forward.c)."""

from __future__ import annotations

from typing import get_args

import pytest

from tests.model.frames import (
    BROADCAST,
    C1_MAC,
    C2_MAC,
    C3_MAC,
    MS,
    SEC,
    ZERO,
    arp_request,
    unicast,
)
from tests.model.playbook import Playbook, at, tick
from vxlankit.model import bridge as bridge_module
from vxlankit.model.bridge import Bridge, PortConfig
from vxlankit.model.events import (
    Aged,
    BridgeFdbAdd,
    BridgeFdbDel,
    BridgeInput,
    Dropped,
    DropReason,
    Flooded,
    Forwarded,
    FrameReceived,
    Installed,
    Learned,
    LimitReached,
    ModelError,
    Moved,
    Removed,
    VtepTransmit,
)

L = "br_fdb_update"


def bridge(**kw: object) -> Bridge:
    return Bridge("br0", ["veth0", "veth1", "vxlan0"], **kw)  # type: ignore[arg-type]


def test_unknown_unicast_floods_to_every_port_but_ingress_and_learns_source() -> None:
    f = unicast(C1_MAC, C2_MAC)
    assert (
        Playbook(bridge())
        >> FrameReceived("veth0", f)
        << Learned("br0", None, C1_MAC, "veth0", 0, L)
        << Flooded("br0", ("veth1", "vxlan0"), f, "unknown-unicast")
    )


def test_broadcast_and_multicast_flood_with_their_kind() -> None:
    arp = arp_request(C1_MAC, "10.0.0.3", "10.0.0.4")
    mc = unicast(C1_MAC, "01:00:5e:00:00:fb")
    assert (
        Playbook(bridge())
        >> FrameReceived("veth1", arp)
        << Learned("br0", None, C1_MAC, "veth1", 0, L)
        << Flooded("br0", ("veth0", "vxlan0"), arp, "broadcast")
        >> FrameReceived("veth1", mc)
        << Flooded("br0", ("veth0", "vxlan0"), mc, "multicast")
    )


def test_known_unicast_is_forwarded_to_the_learned_port_only() -> None:
    ask = unicast(C1_MAC, C2_MAC)
    answer = unicast(C2_MAC, C1_MAC)
    again = unicast(C1_MAC, C2_MAC, tag=2)
    assert (
        Playbook(bridge())
        >> FrameReceived("veth0", ask)
        << Learned("br0", None, C1_MAC, "veth0", 0, L)
        << Flooded("br0", ("veth1", "vxlan0"), ask, "unknown-unicast")
        >> at(1 * SEC, FrameReceived("vxlan0", answer))
        << Learned("br0", None, C2_MAC, "vxlan0", 1 * SEC, L)
        << Forwarded("br0", "veth0", answer)
        >> at(2 * SEC, FrameReceived("veth0", again))
        << Forwarded("br0", "vxlan0", again)
    )


def test_frame_to_a_mac_behind_the_ingress_port_is_dropped() -> None:
    back = unicast(C2_MAC, C1_MAC)
    assert (
        Playbook(bridge())
        >> FrameReceived("veth0", unicast(C1_MAC, BROADCAST))
        << Learned("br0", None, C1_MAC, "veth0", 0, L)
        << Flooded("br0", ("veth1", "vxlan0"), unicast(C1_MAC, BROADCAST), "broadcast")
        >> FrameReceived("veth0", back)
        << Learned("br0", None, C2_MAC, "veth0", 0, L)
        << Dropped("br0", DropReason.BRIDGE_SAME_PORT, back,
                   f"{C1_MAC} is behind the ingress port veth0 (should_deliver)")
    )


def test_hairpin_port_gets_frames_back_out_of_itself() -> None:
    br = Bridge("br0", [PortConfig("veth0", hairpin=True), "veth1"])
    first, back = unicast(C1_MAC, BROADCAST), unicast(C2_MAC, C1_MAC)
    assert (
        Playbook(br)
        >> FrameReceived("veth0", first)
        << Learned("br0", None, C1_MAC, "veth0", 0, L)
        << Flooded("br0", ("veth0", "veth1"), first, "broadcast")
        >> FrameReceived("veth0", back)
        << Learned("br0", None, C2_MAC, "veth0", 0, L)
        << Forwarded("br0", "veth0", back)
    )


@pytest.mark.parametrize("src", [BROADCAST, "01:00:5e:00:00:01", "33:33:00:00:00:01", ZERO])
def test_invalid_source_is_dropped_and_never_learned(src: str) -> None:
    f = unicast(src, C2_MAC)
    br = bridge()
    assert (
        Playbook(br)
        >> FrameReceived("veth0", f)
        << Dropped("br0", DropReason.MAC_INVALID_SOURCE, f,
                   f"source {src} is not a valid unicast address (br_handle_frame)")
    )
    assert br.entries() == {}


def test_mac_seen_on_another_port_moves() -> None:
    a, b = unicast(C1_MAC, BROADCAST), unicast(C1_MAC, BROADCAST, tag=1)
    br = bridge()
    assert (
        Playbook(br)
        >> FrameReceived("veth0", a)
        << Learned("br0", None, C1_MAC, "veth0", 0, L)
        << Flooded("br0", ("veth1", "vxlan0"), a, "broadcast")
        >> at(5 * SEC, FrameReceived("vxlan0", b))
        << Moved("br0", None, C1_MAC, "veth0", "vxlan0", 5 * SEC, L)
        << Flooded("br0", ("veth0", "veth1"), b, "broadcast")
    )
    entry = br.lookup(C1_MAC)
    assert entry is not None and (entry.port, entry.last_seen) == ("vxlan0", 5 * SEC)


def test_static_entry_is_never_moved_nor_aged_and_still_forwards() -> None:
    spoof = unicast(C1_MAC, BROADCAST)
    to_c1 = unicast(C2_MAC, C1_MAC)
    br = bridge()
    assert (
        Playbook(br)
        >> BridgeFdbAdd(C1_MAC, "veth0")
        << Installed("br0", "fdb", None, C1_MAC, "veth0", True, 0, "user")
        >> at(1 * SEC, FrameReceived("veth1", spoof))
        << Flooded("br0", ("veth0", "vxlan0"), spoof, "broadcast")
        >> at(10_000 * SEC, FrameReceived("vxlan0", to_c1))
        << Learned("br0", None, C2_MAC, "vxlan0", 10_000 * SEC, L)
        << Forwarded("br0", "veth0", to_c1)
        >> tick(10**9 * SEC)
        << Aged("br0", None, C2_MAC, "vxlan0", 10_000 * SEC, 10_300 * SEC, 10**9 * SEC)
    )
    entry = br.lookup(C1_MAC)
    assert entry is not None and entry.static and entry.port == "veth0"


def test_static_add_takes_over_a_learned_entry_and_delete_removes_it() -> None:
    f = unicast(C1_MAC, BROADCAST)
    br = bridge()
    assert (
        Playbook(br)
        >> FrameReceived("veth0", f)
        << Learned("br0", None, C1_MAC, "veth0", 0, L)
        << Flooded("br0", ("veth1", "vxlan0"), f, "broadcast")
        >> BridgeFdbAdd(C1_MAC, "veth1")
        << Installed("br0", "fdb", None, C1_MAC, "veth1", True, 0, "user")
        >> BridgeFdbAdd(C1_MAC, "veth1")  # unchanged: no notification
        >> BridgeFdbDel(C1_MAC, reason="docker peerDelete")
        << Removed("br0", "fdb", None, C1_MAC, "veth1", 0, "docker peerDelete")
        >> BridgeFdbDel(C1_MAC)  # already gone: nothing
    )
    assert br.learned_count == 0


def test_ageing_is_exact_to_the_nanosecond() -> None:
    f = unicast(C1_MAC, BROADCAST)
    br = bridge()
    assert (
        Playbook(br)
        >> at(10 * SEC, FrameReceived("veth0", f))
        << Learned("br0", None, C1_MAC, "veth0", 10 * SEC, L)
        << Flooded("br0", ("veth1", "vxlan0"), f, "broadcast")
        >> tick(309_999 * MS)
        >> tick(310 * SEC - 1)
        >> tick(310 * SEC)
        << Aged("br0", None, C1_MAC, "veth0", 10 * SEC, 310 * SEC, 310 * SEC)
    )


def test_traffic_refreshes_and_expiry_is_noticed_before_the_frame_is_handled() -> None:
    hello, hello2 = unicast(C1_MAC, BROADCAST), unicast(C1_MAC, BROADCAST, tag=1)
    to_c1 = unicast(C2_MAC, C1_MAC)
    assert (
        Playbook(bridge())
        >> FrameReceived("veth0", hello)
        << Learned("br0", None, C1_MAC, "veth0", 0, L)
        << Flooded("br0", ("veth1", "vxlan0"), hello, "broadcast")
        >> at(200 * SEC, FrameReceived("veth0", hello2))
        << Flooded("br0", ("veth1", "vxlan0"), hello2, "broadcast")
        >> tick(300 * SEC)  # would have expired without the refresh at 200
        >> at(500 * SEC, FrameReceived("veth1", to_c1))
        << Aged("br0", None, C1_MAC, "veth0", 200 * SEC, 500 * SEC, 500 * SEC)
        << Learned("br0", None, C2_MAC, "veth1", 500 * SEC, L)
        << Flooded("br0", ("veth0", "vxlan0"), to_c1, "unknown-unicast")
    )


def test_aged_events_come_oldest_first() -> None:
    br = bridge()
    br.handle(FrameReceived("veth0", unicast(C2_MAC, BROADCAST)), 2 * SEC)
    br.handle(FrameReceived("veth0", unicast(C1_MAC, BROADCAST)), 1 * SEC)
    br.handle(FrameReceived("veth1", unicast(C3_MAC, BROADCAST)), 1 * SEC)
    assert br.tick(1000 * SEC) == [
        Aged("br0", None, C1_MAC, "veth0", 1 * SEC, 301 * SEC, 1000 * SEC),
        Aged("br0", None, C3_MAC, "veth1", 1 * SEC, 301 * SEC, 1000 * SEC),
        Aged("br0", None, C2_MAC, "veth0", 2 * SEC, 302 * SEC, 1000 * SEC),
    ]


def test_learning_cap_refuses_new_macs_but_still_floods_and_ignores_statics() -> None:
    br = bridge(max_learned=2)
    macs = [f"02:00:00:00:00:0{i}" for i in range(1, 4)]
    frames = [unicast(m, BROADCAST) for m in macs]
    assert (
        Playbook(br)
        >> BridgeFdbAdd(C1_MAC, "veth1")
        << Installed("br0", "fdb", None, C1_MAC, "veth1", True, 0, "user")
        >> FrameReceived("veth0", frames[0])
        << Learned("br0", None, macs[0], "veth0", 0, L)
        << Flooded("br0", ("veth1", "vxlan0"), frames[0], "broadcast")
        >> FrameReceived("veth0", frames[1])
        << Learned("br0", None, macs[1], "veth0", 0, L)
        << Flooded("br0", ("veth1", "vxlan0"), frames[1], "broadcast")
        >> FrameReceived("veth0", frames[2])
        << LimitReached("br0", None, macs[2], 2, 0)
        << Flooded("br0", ("veth1", "vxlan0"), frames[2], "broadcast")
        >> at(300 * SEC, FrameReceived("veth0", frames[2]))  # ageing made room
        << Aged("br0", None, macs[0], "veth0", 0, 300 * SEC, 300 * SEC)
        << Aged("br0", None, macs[1], "veth0", 0, 300 * SEC, 300 * SEC)
        << Learned("br0", None, macs[2], "veth0", 300 * SEC, L)
        << Flooded("br0", ("veth1", "vxlan0"), frames[2], "broadcast")
    )
    assert br.learned_count == 1 and len(br.entries()) == 2


def test_ageing_time_zero_never_learns() -> None:
    f = unicast(C1_MAC, C2_MAC)
    br = bridge(ageing_time_ns=0)
    assert (
        Playbook(br)
        >> FrameReceived("veth0", f)
        << Flooded("br0", ("veth1", "vxlan0"), f, "unknown-unicast")
    )
    assert br.entries() == {}


def test_port_with_learning_off_does_not_learn() -> None:
    br = Bridge("br0", [PortConfig("vxlan0", learning=False), "veth0"])
    f = unicast(C2_MAC, C1_MAC)
    assert Playbook(br) >> FrameReceived("vxlan0", f) << Flooded(
        "br0", ("veth0",), f, "unknown-unicast")
    assert br.entries() == {}


def test_removing_a_port_flushes_its_entries() -> None:
    br = bridge()
    br.handle(FrameReceived("veth0", unicast(C1_MAC, BROADCAST)), 0)
    br.handle(FrameReceived("veth1", unicast(C2_MAC, BROADCAST)), 0)
    assert br.remove_port("veth0", 5 * SEC) == [
        Removed("br0", "fdb", None, C1_MAC, "veth0", 5 * SEC, "br_fdb_delete_by_port")
    ]
    assert list(br.entries()) == [C2_MAC] and br.ports == ("veth1", "vxlan0")
    f = unicast(C2_MAC, BROADCAST)
    assert br.handle(FrameReceived("veth1", f), 6 * SEC) == [
        Flooded("br0", ("vxlan0",), f, "broadcast")
    ]


def test_lonely_port_has_nowhere_to_flood() -> None:
    f = unicast(C1_MAC, BROADCAST)
    assert (
        Playbook(Bridge("br0", ["veth0"]))
        >> FrameReceived("veth0", f)
        << Learned("br0", None, C1_MAC, "veth0", 0, L)
        << Dropped("br0", DropReason.BRIDGE_NO_EGRESS, f,
                   "broadcast flood from veth0 has no other port (br_flood)")
    )


def test_misuse_raises_model_errors() -> None:
    br = bridge()
    with pytest.raises(ModelError):
        br.handle(FrameReceived("eth9", unicast(C1_MAC, C2_MAC)), 0)
    with pytest.raises(ModelError):
        br.handle(BridgeFdbAdd(C1_MAC, "eth9"), 0)
    with pytest.raises(ModelError):
        br.handle(BridgeFdbAdd(BROADCAST, "veth0"), 0)
    with pytest.raises(ModelError):
        br.add_port("veth0")
    with pytest.raises(ModelError):
        Bridge(max_learned=-1)
    with pytest.raises(ModelError):
        Bridge(ageing_time_ns=300.0)  # type: ignore[arg-type]  # seconds, as it used to be
    with pytest.raises(ModelError, match="not a bridge event"):
        br.handle(VtepTransmit(4096, unicast(C1_MAC, C2_MAC)), 0)  # type: ignore[arg-type]


def test_every_bridge_input_has_a_handler() -> None:
    assert set(bridge_module._HANDLERS) == set(get_args(BridgeInput))


def test_next_deadline_is_the_oldest_learned_entry_and_tick_then_ages_it() -> None:
    br = bridge()
    assert br.next_deadline() is None
    br.handle(BridgeFdbAdd(C3_MAC, "veth1"), 0)  # static: never due
    assert br.next_deadline() is None
    br.handle(FrameReceived("veth0", unicast(C1_MAC, BROADCAST)), 1 * SEC)
    br.handle(FrameReceived("veth0", unicast(C2_MAC, BROADCAST)), 2 * SEC)
    assert br.next_deadline() == 301 * SEC
    # C1 is refreshed (and moves): C2 is the oldest now, and the deadline follows it.
    br.handle(FrameReceived("veth1", unicast(C1_MAC, BROADCAST)), 100 * SEC)
    assert br.next_deadline() == 302 * SEC
    assert br.tick(302 * SEC - 1) == []
    assert br.tick(302 * SEC) == [Aged("br0", None, C2_MAC, "veth0", 2 * SEC, 302 * SEC,
                                       302 * SEC)]
    assert br.next_deadline() == 400 * SEC
    br.handle(BridgeFdbDel(C1_MAC), 303 * SEC)
    assert br.next_deadline() is None
    assert br.tick(10**6 * SEC) == []


def test_next_deadline_is_none_when_nothing_can_age() -> None:
    br = bridge(ageing_time_ns=0)
    br.handle(FrameReceived("veth0", unicast(C1_MAC, BROADCAST)), 0)
    assert br.next_deadline() is None
