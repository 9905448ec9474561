"""Scripted tests of the VTEP model (drivers/net/vxlan/vxlan_core.c)."""

from __future__ import annotations

import zlib
from dataclasses import replace
from typing import get_args

import pytest

from tests.model.frames import (
    BROADCAST,
    C1_IP,
    C1_MAC,
    C2_IP,
    C2_MAC,
    C3_MAC,
    MS,
    NODE1_GW_MAC,
    NODE1_IP,
    NODE1_MAC,
    NODE2_IP,
    NODE3_IP,
    SEC,
    US,
    VNI,
    VXLAN1_MAC,
    ZERO,
    arp_reply,
    arp_request,
    icmp_echo,
    udp_frame,
    unicast,
)
from tests.model.playbook import Playbook, at, tick
from vxlankit.model import vtep as vtep_module
from vxlankit.model.events import (
    ETH_P_IPV6,
    VXLAN_FLAG_A,
    VXLAN_FLAG_D,
    VXLAN_FLAG_G,
    VXLAN_FLAG_I,
    Aged,
    ArpInfo,
    ArpProxied,
    BridgeFdbDel,
    Decapsulated,
    Dropped,
    DropReason,
    Encapsulated,
    FdbAdd,
    FdbAppend,
    FdbDel,
    Frame,
    Installed,
    L2Miss,
    L3Miss,
    Learned,
    LimitReached,
    ModelError,
    Moved,
    NeighAdd,
    NeighDel,
    Removed,
    VtepInput,
    VtepTransmit,
    VxlanReceived,
)
from vxlankit.model.vtep import Vtep, VtepConfig

S = "vxlan_snoop"
LOCAL_REMOTE = "172.31.1.7"  # a VTEP on node1's own segment
LOCAL_REMOTE_MAC = "0a:00:00:00:01:07"


def config(**kw: object) -> VtepConfig:
    base = VtepConfig(
        NODE1_IP,
        NODE1_MAC,
        dev_mac=VXLAN1_MAC,
        next_hops={"0.0.0.0/0": NODE1_GW_MAC, LOCAL_REMOTE: LOCAL_REMOTE_MAC},
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def vtep(**kw: object) -> Vtep:
    return Vtep(config(**kw))


def rx(frame: Frame, src: str = NODE2_IP, **kw: object) -> VxlanReceived:
    fields: dict[str, object] = {"sport": 51234, "dport": 4789, "vni": VNI}
    fields.update(kw)
    return VxlanReceived(src, NODE1_IP, frame=frame, **fields)  # type: ignore[arg-type]


def sport_of(frame: Frame, lo: int = 32768, hi: int = 60999) -> int:
    """The documented source-port function: CRC-32 of the flow key, scaled into [lo, hi]."""
    ip = frame.ip
    if ip is not None:
        key = f"{ip.src}>{ip.dst}/{ip.proto}:{ip.sport}>{ip.dport}"
    else:
        key = f"{frame.src}>{frame.dst}/{frame.ethertype:04x}"
    return lo + ((zlib.crc32(key.encode()) * (hi - lo + 1)) >> 32)


def encap(frame: Frame, remote: str = NODE2_IP, ip_id: int = 0, **kw: object) -> Encapsulated:
    fields: dict[str, object] = {
        "eth_src": NODE1_MAC,
        "eth_dst": NODE1_GW_MAC,
        "ip_src": NODE1_IP,
        "ip_dst": remote,
        "ip_id": ip_id,
        "ttl": 64,
        "tos": 0,
        "df": False,
        "sport": sport_of(frame),
        "dport": 4789,
        "udp_checksum": "compute",
    }
    fields.update(kw)
    return Encapsulated("vxlan0", VNI, frame, **fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- receive path


def test_receive_decapsulates_and_learns_the_inner_source_behind_the_outer_source() -> None:
    f = icmp_echo(C2_MAC, C1_MAC, C2_IP, C1_IP)
    v = vtep()
    assert (
        Playbook(v)
        >> rx(f)
        << Learned("vxlan0", VNI, C2_MAC, NODE2_IP, 0, S)
        << Decapsulated("vxlan0", VNI, f, NODE2_IP)
        >> at(5 * SEC, rx(f))  # same place: refreshed silently
        << Decapsulated("vxlan0", VNI, f, NODE2_IP)
    )
    entry = v.lookup(VNI, C2_MAC)
    assert entry is not None and entry.last_seen == 5 * SEC and entry.learned
    assert v.learned_count(VNI) == 1


def test_learned_mac_migrates_to_a_new_vtep() -> None:
    f = unicast(C2_MAC, C1_MAC)
    assert (
        Playbook(vtep())
        >> rx(f)
        << Learned("vxlan0", VNI, C2_MAC, NODE2_IP, 0, S)
        << Decapsulated("vxlan0", VNI, f, NODE2_IP)
        >> at(3 * SEC, rx(f, src=NODE3_IP))
        << Moved("vxlan0", VNI, C2_MAC, NODE2_IP, NODE3_IP, 3 * SEC, S)
        << Decapsulated("vxlan0", VNI, f, NODE3_IP)
    )


def test_static_entry_is_not_migrated_and_the_packet_is_dropped() -> None:
    f = unicast(C2_MAC, C1_MAC)
    v = vtep()
    assert (
        Playbook(v)
        >> FdbAdd(VNI, C2_MAC, NODE2_IP, reason="docker peerAdd")
        << Installed("vxlan0", "fdb", VNI, C2_MAC, NODE2_IP, True, 0, "docker peerAdd")
        >> rx(f, src=NODE3_IP)
        << Dropped("vxlan0", DropReason.VXLAN_ENTRY_EXISTS, f,
                   f"{C2_MAC} is statically behind {NODE2_IP}; not migrated to {NODE3_IP}")
        >> rx(f)
        << Decapsulated("vxlan0", VNI, f, NODE2_IP)
        >> tick(10**6 * SEC)
    )
    entry = v.lookup(VNI, C2_MAC)
    assert entry is not None and entry.remotes == (NODE2_IP,) and entry.static


def test_learning_off_still_decapsulates_and_does_not_check_the_source() -> None:
    f = unicast(C2_MAC, C1_MAC)
    odd = unicast(BROADCAST, C1_MAC)  # since 6.10 only vxlan_snoop checks the source
    v = vtep(learning=False)
    assert (
        Playbook(v)
        >> rx(f)
        << Decapsulated("vxlan0", VNI, f, NODE2_IP)
        >> rx(odd)
        << Decapsulated("vxlan0", VNI, odd, NODE2_IP)
    )
    assert v.fdb(VNI) == {}


def test_learning_on_drops_invalid_inner_source() -> None:
    odd = unicast("01:00:5e:00:00:01", C1_MAC)
    assert Playbook(vtep()) >> rx(odd) << Dropped(
        "vxlan0", DropReason.MAC_INVALID_SOURCE, odd,
        "inner source 01:00:5e:00:00:01 is not unicast (vxlan_snoop)")


def test_unknown_vni_is_dropped() -> None:
    f = unicast(C2_MAC, C1_MAC)
    assert Playbook(vtep()) >> rx(f, vni=4097) << Dropped(
        "vxlan0", DropReason.VXLAN_VNI_NOT_FOUND, f, "no vxlan device for VNI 4097")


@pytest.mark.parametrize("policy", ["linux", "rfc7348"])
def test_i_flag_clear_is_dropped_under_both_policies(policy: str) -> None:
    f = unicast(C2_MAC, C1_MAC)
    assert Playbook(vtep(rx_policy=policy)) >> rx(f, flags=0) << Dropped(
        "vxlan0", DropReason.VXLAN_INVALID_HDR, f, "I flag clear (vxlan.flags 0x0000)")


@pytest.mark.parametrize(
    ("flags", "gbp", "reserved8"),
    [(VXLAN_FLAG_I | 0x0100, 0, 0), (VXLAN_FLAG_I, 0x1234, 0), (VXLAN_FLAG_I, 0, 1),
     (VXLAN_FLAG_I | VXLAN_FLAG_G | VXLAN_FLAG_D, 7, 0)],
)
def test_reserved_bits_linux_drops_rfc7348_ignores(flags: int, gbp: int, reserved8: int) -> None:
    f = unicast(C2_MAC, C1_MAC)
    ev = rx(f, flags=flags, gbp=gbp, reserved8=reserved8)
    strict = vtep(learning=False).handle(ev, 0)
    assert len(strict) == 1 and isinstance(strict[0], Dropped)
    assert strict[0].reason is DropReason.VXLAN_INVALID_HDR
    assert "reserved bits set" in strict[0].detail
    assert vtep(learning=False, rx_policy="rfc7348").handle(ev, 0) == [
        Decapsulated("vxlan0", VNI, f, NODE2_IP)
    ]


def test_gbp_extension_accepts_policy_bits_and_linux_still_learns_with_d_set() -> None:
    f = unicast(C2_MAC, C1_MAC)
    ev = rx(f, flags=VXLAN_FLAG_I | VXLAN_FLAG_G | VXLAN_FLAG_D | VXLAN_FLAG_A, gbp=0x00AB)
    assert Playbook(vtep(gbp=True)) >> ev << Learned(
        "vxlan0", VNI, C2_MAC, NODE2_IP, 0, S) << Decapsulated("vxlan0", VNI, f, NODE2_IP)
    # draft-smith-vxlan-group-policy's D bit, honoured on request.
    assert Playbook(vtep(gbp=True, honour_dont_learn=True)) >> ev << Decapsulated(
        "vxlan0", VNI, f, NODE2_IP)
    # G clear: the D position is just a reserved bit the GBP parser consumes; learning goes on.
    plain_d = rx(f, flags=VXLAN_FLAG_I | VXLAN_FLAG_D)
    assert vtep(gbp=True, honour_dont_learn=True).handle(plain_d, 0)[0] == Learned(
        "vxlan0", VNI, C2_MAC, NODE2_IP, 0, S)


def test_wrong_port_wrong_address_and_group_address() -> None:
    f = unicast(C2_MAC, C1_MAC)
    v = vtep(learning=False, group="239.1.1.1")
    assert v.handle(rx(f, dport=8472), 0) == [
        Dropped("vxlan0", DropReason.UDP_NO_SOCKET, f,
                "UDP port 8472 is not the VXLAN port 4789")]
    assert v.handle(replace(rx(f), dst_ip="172.31.1.99"), 0) == [
        Dropped("vxlan0", DropReason.OTHERHOST, f,
                "outer destination 172.31.1.99 is not 172.31.1.5")]
    assert v.handle(replace(rx(f), dst_ip="239.1.1.1"), 0) == [
        Decapsulated("vxlan0", VNI, f, NODE2_IP)]


def test_own_mac_as_inner_source_is_a_loop() -> None:
    f = unicast(VXLAN1_MAC, C1_MAC)
    assert Playbook(vtep()) >> rx(f) << Dropped(
        "vxlan0", DropReason.LOCAL_MAC, f,
        f"inner source {VXLAN1_MAC} is this device's own MAC: a loop")


def test_ecn_congestion_mark_over_not_ect_inner_is_dropped() -> None:
    not_ect = icmp_echo(C2_MAC, C1_MAC, C2_IP, C1_IP, tos=0x00)
    ect = icmp_echo(C2_MAC, C1_MAC, C2_IP, C1_IP, tos=0x02)
    v = vtep(learning=False)
    assert v.handle(rx(not_ect, tos=0x03), 0) == [
        Dropped("vxlan0", DropReason.IP_TUNNEL_ECN, not_ect,
                "outer ECN CE over a not-ECT inner packet")]
    assert v.handle(rx(ect, tos=0x03), 0) == [Decapsulated("vxlan0", VNI, ect, NODE2_IP)]
    assert v.handle(rx(not_ect, tos=0x02), 0) == [
        Decapsulated("vxlan0", VNI, not_ect, NODE2_IP)]


def test_learning_cap_per_vni_still_delivers() -> None:
    frames = [unicast(m, C1_MAC) for m in (C2_MAC, C3_MAC)]
    v = vtep(max_learned=1)
    assert (
        Playbook(v)
        >> rx(frames[0])
        << Learned("vxlan0", VNI, C2_MAC, NODE2_IP, 0, S)
        << Decapsulated("vxlan0", VNI, frames[0], NODE2_IP)
        >> rx(frames[1])
        << LimitReached("vxlan0", VNI, C3_MAC, 1, 0)
        << Decapsulated("vxlan0", VNI, frames[1], NODE2_IP)
    )
    assert v.learned_count(VNI) == 1


def test_learned_entries_age_exactly_and_statics_do_not() -> None:
    f = unicast(C2_MAC, C1_MAC)
    v = vtep()
    assert (
        Playbook(v)
        >> FdbAdd(VNI, C3_MAC, NODE3_IP)
        << Installed("vxlan0", "fdb", VNI, C3_MAC, NODE3_IP, True, 0, "user")
        >> at(7_500 * MS, rx(f))
        << Learned("vxlan0", VNI, C2_MAC, NODE2_IP, 7_500 * MS, S)
        << Decapsulated("vxlan0", VNI, f, NODE2_IP)
        >> tick(307_499_900 * US)
        >> tick(307_500 * MS - 1)
        >> tick(307_500 * MS)
        << Aged("vxlan0", VNI, C2_MAC, NODE2_IP, 7_500 * MS, 307_500 * MS, 307_500 * MS)
        >> tick(10**7 * SEC)
    )
    assert list(v.fdb(VNI)) == [C3_MAC] and v.learned_count(VNI) == 0


# --------------------------------------------------------------------------- transmit path


def test_known_mac_is_encapsulated_with_every_outer_field() -> None:
    f = icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP)
    f2 = icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP, seq=2)
    assert (
        Playbook(vtep())
        >> FdbAdd(VNI, C2_MAC, NODE2_IP)
        << Installed("vxlan0", "fdb", VNI, C2_MAC, NODE2_IP, True, 0, "user")
        >> VtepTransmit(VNI, f)
        << encap(f, ip_id=0)
        >> VtepTransmit(VNI, f2)
        << encap(f2, ip_id=1)
    )


def test_source_port_is_a_deterministic_flow_hash_in_range() -> None:
    a = udp_frame(C1_MAC, C2_MAC, C1_IP, C2_IP, 40000, 53)
    b = udp_frame(C1_MAC, C2_MAC, C1_IP, C2_IP, 40001, 53)
    cfg = config(src_port_range=(32768, 60999))
    v1, v2 = Vtep(cfg), Vtep(cfg)
    for v in (v1, v2):
        v.handle(FdbAdd(VNI, C2_MAC, NODE2_IP), 0)
    ports = set()
    for f in (a, b):
        out1 = v1.handle(VtepTransmit(VNI, f), 0)[0]
        out2 = v2.handle(VtepTransmit(VNI, f), 0)[0]
        assert isinstance(out1, Encapsulated) and isinstance(out2, Encapsulated)
        assert out1.sport == out2.sport == sport_of(f, 32768, 60999)
        assert 32768 <= out1.sport <= 60999
        ports.add(out1.sport)
    assert len(ports) == 2  # different flows, different ports (for these two)


def test_unknown_unicast_without_default_entry_is_an_l2_miss() -> None:
    f = unicast(C1_MAC, C2_MAC)
    bcast = unicast(C1_MAC, BROADCAST)
    no_remote = DropReason.VXLAN_NO_REMOTE
    assert (
        Playbook(vtep(l2miss=True))
        >> at(2 * SEC, VtepTransmit(VNI, f))
        << L2Miss("vxlan0", VNI, C2_MAC, 2 * SEC)
        << Dropped("vxlan0", no_remote, f, f"no FDB entry for {C2_MAC} and no default entry")
        >> VtepTransmit(VNI, bcast)  # no miss notification for group addresses
        << Dropped("vxlan0", no_remote, bcast,
                   f"no FDB entry for {BROADCAST} and no default entry")
    )
    assert vtep(l2miss=False).handle(VtepTransmit(VNI, f), 0) == [
        Dropped("vxlan0", no_remote, f, f"no FDB entry for {C2_MAC} and no default entry")]


def test_default_entry_list_replicates_unknown_and_broadcast_frames() -> None:
    bcast = unicast(C1_MAC, BROADCAST)
    unknown = unicast(C1_MAC, C3_MAC)
    assert (
        Playbook(vtep())
        >> FdbAppend(VNI, ZERO, NODE2_IP)
        << Installed("vxlan0", "fdb", VNI, ZERO, NODE2_IP, True, 0, "user")
        >> FdbAppend(VNI, ZERO, LOCAL_REMOTE)
        << Installed("vxlan0", "fdb", VNI, ZERO, LOCAL_REMOTE, True, 0, "user")
        >> FdbAppend(VNI, ZERO, LOCAL_REMOTE)  # already there
        >> VtepTransmit(VNI, bcast)
        << encap(bcast, NODE2_IP, 0)
        << encap(bcast, LOCAL_REMOTE, 1, eth_dst=LOCAL_REMOTE_MAC)
        >> VtepTransmit(VNI, unknown)
        << encap(unknown, NODE2_IP, 2)
        << encap(unknown, LOCAL_REMOTE, 3, eth_dst=LOCAL_REMOTE_MAC)
        >> FdbDel(VNI, ZERO, NODE2_IP)
        << Removed("vxlan0", "fdb", VNI, ZERO, NODE2_IP, 0, "user")
        >> VtepTransmit(VNI, bcast)
        << encap(bcast, LOCAL_REMOTE, 4, eth_dst=LOCAL_REMOTE_MAC)
    )


def test_multicast_group_is_the_default_destination_with_ttl_1() -> None:
    bcast = unicast(C1_MAC, BROADCAST)
    assert Playbook(vtep(group="239.1.1.1")) >> VtepTransmit(VNI, bcast) << encap(
        bcast, "239.1.1.1", 0, eth_dst="01:00:5e:01:01:01", ttl=1)


def test_next_hop_exact_beats_longest_prefix_beats_default() -> None:
    f = unicast(C1_MAC, C2_MAC)
    v = Vtep(VtepConfig(NODE1_IP, NODE1_MAC, next_hops={
        "0.0.0.0/0": "0a:00:00:00:00:01",
        "192.168.0.0/16": "0a:00:00:00:00:02",
        "192.168.1.0/24": "0a:00:00:00:00:03",
        "192.168.1.6": "0a:00:00:00:00:04",
    }))
    got = []
    for i, remote in enumerate(["10.9.9.9", "192.168.7.1", NODE2_IP, NODE3_IP]):
        v.handle(FdbAdd(VNI, C2_MAC, remote), 0)
        out = v.handle(VtepTransmit(VNI, f), 0)
        assert isinstance(out[0], Encapsulated) and out[0].ip_id == i
        got.append(out[0].eth_dst)
    assert got == [f"0a:00:00:00:00:0{i}" for i in range(1, 5)]
    lonely = Vtep(VtepConfig(NODE1_IP, NODE1_MAC))
    lonely.handle(FdbAdd(VNI, C2_MAC, NODE2_IP), 0)
    assert lonely.handle(VtepTransmit(VNI, f), 0) == [
        Dropped("vxlan0", DropReason.NO_NEXT_HOP, f, f"no next-hop MAC configured for {NODE2_IP}")]


def test_outer_tos_ecn_df_ttl_checksum_and_port_options() -> None:
    ce = icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP, tos=0xB8 | 3, df=True)
    ect1 = icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP, tos=0x01, df=False)
    v6 = Frame(C2_MAC, C1_MAC, ETH_P_IPV6, payload=b"\x60" + b"\x00" * 39)
    cases: list[tuple[dict[str, object], Frame, dict[str, object]]] = [
        ({}, ce, {"tos": 0x02}),  # outer ECN: CE becomes ECT(0); DSCP not copied
        ({}, ect1, {"tos": 0x01}),
        ({"tos": 1}, ce, {"tos": 0xB8 | 2}),  # tos inherit copies DSCP
        ({"tos": 0x20}, ect1, {"tos": 0x21}),
        ({"df": "set"}, ect1, {"df": True, "tos": 0x01}),
        ({"df": "inherit"}, ce, {"df": True, "tos": 0x02}),
        ({"df": "inherit"}, ect1, {"df": False, "tos": 0x01}),
        ({"df": "inherit"}, v6, {"df": True}),
        ({"ttl": 9}, ect1, {"ttl": 9, "tos": 0x01}),
        ({"udp_checksum": "compute", "port": 8472}, ect1,
         {"udp_checksum": "compute", "dport": 8472, "tos": 0x01}),
    ]
    for options, frame, expected in cases:
        v = vtep(**options)
        v.handle(FdbAdd(VNI, C2_MAC, NODE2_IP), 0)
        assert v.handle(VtepTransmit(VNI, frame), 0) == [encap(frame, **expected)], options  # type: ignore[arg-type]


def test_ip_id_counter_wraps_and_starts_where_configured() -> None:
    f = unicast(C1_MAC, C2_MAC)
    v = vtep(ip_id_start=0xFFFF)
    v.handle(FdbAdd(VNI, C2_MAC, NODE2_IP), 0)
    ids = [out.ip_id for _ in range(3) for out in v.handle(VtepTransmit(VNI, f), 0)
           if isinstance(out, Encapsulated)]
    assert ids == [0xFFFF, 0, 1]


def test_remote_any_address_is_not_sent() -> None:
    f = unicast(C1_MAC, C2_MAC)
    assert (
        Playbook(vtep())
        >> FdbAdd(VNI, C2_MAC, "0.0.0.0")
        << Installed("vxlan0", "fdb", VNI, C2_MAC, "0.0.0.0", True, 0, "user")
        >> VtepTransmit(VNI, f)
        << Dropped("vxlan0", DropReason.VXLAN_NO_REMOTE, f,
                   "FDB remote is 0.0.0.0 (vxlan_xmit_one)")
    )


def test_transmit_refreshes_ageing_only_in_pre_6_15_mode() -> None:
    to_c2 = unicast(C1_MAC, C2_MAC)
    from_c2 = unicast(C2_MAC, C1_MAC)
    for tx_refreshes, expect_alive in ((False, False), (True, True)):
        v = vtep(tx_refreshes=tx_refreshes)
        v.handle(rx(from_c2), 0)
        v.handle(VtepTransmit(VNI, to_c2), 299 * SEC)
        aged = v.tick(300 * SEC)
        assert (v.lookup(VNI, C2_MAC) is not None) is expect_alive
        assert aged == ([] if expect_alive else [
            Aged("vxlan0", VNI, C2_MAC, NODE2_IP, 0, 300 * SEC, 300 * SEC)])


def test_ageing_zero_never_ages() -> None:
    v = vtep(ageing_ns=0)
    v.handle(rx(unicast(C2_MAC, C1_MAC)), 0)
    assert v.next_deadline() is None
    assert v.tick(10**9 * SEC) == [] and v.lookup(VNI, C2_MAC) is not None


def test_next_deadline_spans_every_vni_and_skips_static_entries() -> None:
    v = vtep(vnis=(4096, 4097))
    v.handle(FdbAdd(4096, C1_MAC, NODE2_IP), 0)  # static
    assert v.next_deadline() is None
    v.handle(FdbAdd(4096, C3_MAC, NODE3_IP, static=False), 3 * SEC)  # configured, dynamic
    v.handle(rx(unicast(C2_MAC, C1_MAC), vni=4097), 5 * SEC)  # learned
    assert v.next_deadline() == 303 * SEC
    # Made static, C3 no longer ages: C2 on the other VNI is next.
    v.handle(FdbAdd(4096, C3_MAC, NODE3_IP), 10 * SEC)
    assert v.next_deadline() == 305 * SEC
    assert v.tick(305 * SEC - 1) == []
    assert v.tick(305 * SEC) == [Aged("vxlan0", 4097, C2_MAC, NODE2_IP, 5 * SEC, 305 * SEC,
                                      305 * SEC)]
    assert v.next_deadline() is None and v.learned_count(4097) == 0


def test_next_deadline_follows_refreshes_and_deletes() -> None:
    v = vtep()
    v.handle(rx(unicast(C2_MAC, C1_MAC)), 1)
    v.handle(rx(unicast(C3_MAC, C1_MAC), src=NODE3_IP), 2)
    assert v.next_deadline() == 300 * SEC + 1
    v.handle(rx(unicast(C2_MAC, C1_MAC)), 7)  # refreshed: C3 is the oldest now
    assert v.next_deadline() == 300 * SEC + 2
    v.handle(FdbDel(VNI, C3_MAC), 8)
    assert v.next_deadline() == 300 * SEC + 7
    v.handle(FdbDel(VNI, C2_MAC), 9)
    assert v.next_deadline() is None


def test_every_vtep_input_has_a_handler() -> None:
    assert set(vtep_module._HANDLERS) == set(get_args(VtepInput))
    with pytest.raises(ModelError, match="not a VTEP event"):
        vtep().handle(BridgeFdbDel(C2_MAC), 0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- proxy ARP


def docker_vtep(**kw: object) -> Vtep:
    cfg = VtepConfig.docker(NODE1_IP, NODE1_MAC, dev_mac=VXLAN1_MAC,
                            next_hops={"0.0.0.0/0": NODE1_GW_MAC})
    return Vtep(replace(cfg, **kw))  # type: ignore[arg-type]


def test_proxy_arp_answers_from_the_neighbour_table_with_the_remote_mac() -> None:
    req = arp_request(C1_MAC, C1_IP, C2_IP)
    reply = Frame(C1_MAC, C2_MAC, 0x0806,
                  arp=ArpInfo(2, C2_MAC, C2_IP, C1_MAC, C1_IP))
    assert (
        Playbook(docker_vtep())
        >> NeighAdd(VNI, C2_IP, C2_MAC, reason="docker peerAdd")
        << Installed("vxlan0", "neigh", VNI, C2_IP, C2_MAC, True, 0, "docker peerAdd")
        >> NeighAdd(VNI, C2_IP, C2_MAC)  # unchanged: silent
        >> VtepTransmit(VNI, req)
        << ArpProxied("vxlan0", VNI, C2_IP, C2_MAC, reply)
    )
    assert reply == arp_reply(C2_MAC, C2_IP, C1_MAC, C1_IP)


def test_proxy_arp_without_neighbour_is_an_l3_miss_and_is_not_flooded() -> None:
    req = arp_request(C1_MAC, C1_IP, C2_IP)
    detail = f"no neighbour entry for {C2_IP}; the request is not flooded"
    v = docker_vtep()
    assert (
        Playbook(v)
        >> FdbAppend(VNI, ZERO, NODE2_IP)  # even with somewhere to flood to
        << Installed("vxlan0", "fdb", VNI, ZERO, NODE2_IP, True, 0, "user")
        >> at(4 * SEC, VtepTransmit(VNI, req))
        << L3Miss("vxlan0", VNI, C2_IP, 4 * SEC)
        << Dropped("vxlan0", DropReason.ARP_REDUCE, req, detail)
    )
    assert docker_vtep(l3miss=False).handle(VtepTransmit(VNI, req), 0) == [
        Dropped("vxlan0", DropReason.ARP_REDUCE, req, detail)]


def test_proxy_consumes_every_other_arp_frame() -> None:
    gratuitous_reply = arp_reply(C1_MAC, C1_IP, C2_MAC, C2_IP)
    no_body = Frame(BROADCAST, C1_MAC, 0x0806, payload=b"\x00\x01")
    loopback = arp_request(C1_MAC, C1_IP, "127.0.0.1")
    v = docker_vtep()
    v.handle(FdbAdd(VNI, C2_MAC, NODE2_IP), 0)
    # Both ends of the multicast range (224-239) as well.
    first, last = (arp_request(C1_MAC, C1_IP, ip) for ip in ("224.0.0.1", "239.255.255.255"))
    for frame, detail in [
        (gratuitous_reply, "ARP opcode 2 is not an Ethernet/IPv4 request; proxy mode consumes it"),
        (no_body, "ARP frame with no readable ARP body"),
        (loopback, "ARP for loopback/multicast 127.0.0.1"),
        (first, "ARP for loopback/multicast 224.0.0.1"),
        (last, "ARP for loopback/multicast 239.255.255.255"),
    ]:
        assert v.handle(VtepTransmit(VNI, frame), 0) == [
            Dropped("vxlan0", DropReason.ARP_REDUCE, frame, detail)]


def test_bridge_local_neighbour_is_not_answered() -> None:
    req = arp_request(C1_MAC, C1_IP, C2_IP)
    v = docker_vtep()
    v.handle(NeighAdd(VNI, C2_IP, C2_MAC), 0)
    v.handle(FdbAdd(VNI, C2_MAC, "0.0.0.0"), 0)
    assert v.handle(VtepTransmit(VNI, req), 0) == [
        Dropped("vxlan0", DropReason.ARP_REDUCE, req, f"{C2_IP} is a bridge-local neighbour")]


def test_without_proxy_arp_is_just_another_broadcast() -> None:
    req = arp_request(C1_MAC, C1_IP, C2_IP)
    v = vtep()
    v.handle(NeighAdd(VNI, C2_IP, C2_MAC), 0)
    v.handle(FdbAppend(VNI, ZERO, NODE2_IP), 0)
    assert v.handle(VtepTransmit(VNI, req), 0) == [encap(req)]


# --------------------------------------------------------------------------- configuration


def test_fdb_and_neighbour_configuration_events() -> None:
    f = unicast(C2_MAC, C1_MAC)
    v = vtep()
    assert (
        Playbook(v)
        >> rx(f)
        << Learned("vxlan0", VNI, C2_MAC, NODE2_IP, 0, S)
        << Decapsulated("vxlan0", VNI, f, NODE2_IP)
        >> at(1 * SEC, FdbAdd(VNI, C2_MAC, NODE2_IP))  # learned -> configured
        << Installed("vxlan0", "fdb", VNI, C2_MAC, NODE2_IP, True, 1 * SEC, "user")
        >> FdbAdd(VNI, C2_MAC, NODE2_IP)
        >> FdbAdd(VNI, C3_MAC, NODE3_IP, static=False)
        << Installed("vxlan0", "fdb", VNI, C3_MAC, NODE3_IP, False, 1 * SEC, "user")
        >> FdbDel(VNI, C2_MAC, NODE3_IP)  # not that remote: nothing
        >> FdbDel(VNI, C2_MAC)
        << Removed("vxlan0", "fdb", VNI, C2_MAC, NODE2_IP, 1 * SEC, "user")
        >> NeighAdd(VNI, C2_IP, C2_MAC)
        << Installed("vxlan0", "neigh", VNI, C2_IP, C2_MAC, True, 1 * SEC, "user")
        >> NeighDel(VNI, C2_IP)
        << Removed("vxlan0", "neigh", VNI, C2_IP, C2_MAC, 1 * SEC, "user")
        >> NeighDel(VNI, C2_IP)
        >> tick(301 * SEC)  # a configured dynamic entry ages like a learned one
        << Aged("vxlan0", VNI, C3_MAC, NODE3_IP, 1 * SEC, 301 * SEC, 301 * SEC)
    )
    assert v.learned_count(VNI) == 0 and v.fdb(VNI) == {} and v.neighbours(VNI) == {}


def test_vnis_are_separate_tables() -> None:
    f = unicast(C2_MAC, C1_MAC)
    v = vtep(vnis=(4096, 4097))
    v.handle(rx(f, vni=4097), 0)
    assert v.fdb(4096) == {} and list(v.fdb(4097)) == [C2_MAC]
    out = v.handle(VtepTransmit(4096, unicast(C1_MAC, C2_MAC)), 0)
    assert isinstance(out[0], Dropped) and out[0].reason is DropReason.VXLAN_NO_REMOTE


def test_docker_config_and_misuse() -> None:
    cfg = VtepConfig.docker(NODE1_IP, NODE1_MAC)
    assert (cfg.learning, cfg.proxy, cfg.l2miss, cfg.l3miss, cfg.port) == (
        True, True, True, True, 4789)
    v = vtep()
    with pytest.raises(ModelError):
        v.handle(VtepTransmit(1, unicast(C1_MAC, C2_MAC)), 0)
    with pytest.raises(ModelError):
        v.handle(FdbAdd(1, C2_MAC, NODE2_IP), 0)
    with pytest.raises(ModelError):
        v.handle(NeighAdd(1, C2_IP, C2_MAC), 0)
    for bad in ({"rx_policy": "strict"}, {"df": "maybe"}, {"udp_checksum": "yes"},
                {"src_port_range": (0, 10)}, {"vnis": (1 << 24,)}, {"honour_dont_learn": True},
                {"ttl": 256}, {"group": "10.0.0.1"}):
        with pytest.raises(ModelError):
            config(**bad)
    with pytest.raises(ModelError):
        Vtep(config(next_hops={"10.0.0.0/33": NODE1_GW_MAC}))
    with pytest.raises(ModelError, match="integer nanoseconds"):
        config(ageing_ns=300.0)  # seconds, as it used to be
    v.handle(FdbAdd(VNI, C2_MAC, "not-an-ip"), 0)
    with pytest.raises(ModelError):
        v.handle(VtepTransmit(VNI, unicast(C1_MAC, C2_MAC)), 0)
