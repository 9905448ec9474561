"""The VTEP model on an IPv6 underlay (Linux's VXLAN_F_IPV6 device): encapsulation as
Ethernet/IPv6/UDP/VXLAN with the UDP checksum computed, decapsulation of IPv6 datagrams, FDB
and control-plane entries with IPv6 remotes.  Expectations are hand-written from
vxlan_core.c / RFC 8200; the byte-level checks decode what the frames adapter wrote."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.model.frames import (
    C1_IP,
    C1_MAC,
    C2_IP,
    C2_MAC,
    NODE1_GW_MAC,
    NODE1_MAC,
    SEC,
    VNI,
    VXLAN1_MAC,
    arp_request,
    icmp_echo,
)
from vxlankit import build
from vxlankit.codec import decode, encode
from vxlankit.frames import encapsulated_bytes, frame_from_bytes, vxlan_received
from vxlankit.model.controlplane import ControlPlane
from vxlankit.model.events import (
    ArpProxied,
    Decapsulated,
    Dropped,
    DropReason,
    Encapsulated,
    FdbAdd,
    FdbAppend,
    FdbDel,
    Frame,
    Installed,
    Learned,
    ModelError,
    Moved,
    NeighAdd,
    PeerAdd,
    Removed,
    VtepTransmit,
    VxlanReceived,
)
from vxlankit.model.vtep import Vtep, VtepConfig

NODE1_IP6 = "2001:db8:1::10"
NODE2_IP6 = "2001:db8:2::10"
NODE3_IP6 = "2001:db8:2::11"
ONLINK_IP6 = "2001:db8:1::7"
ONLINK_MAC = "0a:00:00:00:01:07"


def config(**kw: object) -> VtepConfig:
    base = VtepConfig(NODE1_IP6, NODE1_MAC, dev_mac=VXLAN1_MAC,
                      next_hops={"::/0": NODE1_GW_MAC, ONLINK_IP6: ONLINK_MAC})
    return replace(base, **kw)  # type: ignore[arg-type]


def vtep(**kw: object) -> Vtep:
    return Vtep(config(**kw))


def rx(frame: Frame, src: str = NODE2_IP6, **kw: object) -> VxlanReceived:
    fields: dict[str, object] = {"sport": 51234, "dport": 4789, "vni": VNI,
                                 "udp_checksum": 0x1234}
    fields.update(kw)
    return VxlanReceived(src, NODE1_IP6, frame=frame, **fields)  # type: ignore[arg-type]


def transmit_one(v: Vtep, frame: Frame, now: int = 0) -> Encapsulated:
    out = v.handle(VtepTransmit(VNI, frame), now)
    assert len(out) == 1 and isinstance(out[0], Encapsulated), out
    return out[0]


# --------------------------------------------------------------------------- encapsulation


def test_encapsulation_is_ipv6_with_hop_limit_no_id_no_df_and_a_computed_checksum() -> None:
    v = vtep()
    v.handle(FdbAdd(VNI, C2_MAC, NODE2_IP6), 0)
    f = icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP)
    e = transmit_one(v, f)
    assert (e.ip_src, e.ip_dst, e.eth_src, e.eth_dst) == (NODE1_IP6, NODE2_IP6, NODE1_MAC,
                                                          NODE1_GW_MAC)
    assert (e.ttl, e.ip_id, e.df, e.flow_label) == (64, 0, False, 0)
    assert e.udp_checksum == "compute" and e.dport == 4789
    # No IPv4 ID is consumed: the next IPv4-style counter never moves on an IPv6 device.
    assert transmit_one(v, f).ip_id == 0


def test_udp6zerocsumtx_sends_zero_and_udp_checksum_option_does_not_apply() -> None:
    v = vtep(udp6_zero_csum_tx=True)
    v.handle(FdbAdd(VNI, C2_MAC, NODE2_IP6), 0)
    e = transmit_one(v, icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP))
    assert e.udp_checksum == "zero"
    p = decode(encapsulated_bytes(e))
    assert p["udp.checksum"] == 0 and p["udp.length"] == p["ipv6.plen"]
    [(_, hop)] = vxlan_received(p)
    assert hop.udp_checksum == 0  # which a default IPv6 VTEP drops (below)
    # ``udpcsum`` (the IPv4 option) leaves an IPv6 device's checksum computed.
    v = vtep(udp_checksum="zero")
    v.handle(FdbAdd(VNI, C2_MAC, NODE2_IP6), 0)
    assert transmit_one(v, icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP)).udp_checksum == "compute"


def test_encapsulated_bytes_are_ethernet_ipv6_udp_vxlan_with_a_good_checksum() -> None:
    v = vtep(flow_label=0x12345, tos=0x20)
    v.handle(FdbAdd(VNI, C2_MAC, NODE2_IP6), 0)
    f = frame_from_bytes(encode([build.eth(dst=C2_MAC, src=C1_MAC),
                                 build.ipv4(src=C1_IP, dst=C2_IP, df=True),
                                 build.icmp_echo(7, 1), build.payload(bytes(56))]))
    wire = encapsulated_bytes(transmit_one(v, f))
    p = decode(wire)
    assert p.protocols.split(":")[:5] == ["eth", "ipv6", "udp", "vxlan", "eth"]
    assert p["eth.type"] == 0x86DD
    assert (p["ipv6.src"], p["ipv6.dst"], p["ipv6.hlim"], p["ipv6.nxt"]) == (
        NODE1_IP6, NODE2_IP6, 64, 17)
    assert (p["ipv6.flow"], p["ipv6.tclass"]) == (0x12345, 0x20)
    assert p["ipv6.plen"] == len(wire) - 54 == p["udp.length"]
    assert p["udp.checksum"] != 0 and p["udp.checksum.status"] == 1  # verified good
    assert p["vxlan.vni"] == VNI and not p.errors
    assert encode(p) == wire == encode(p, fix_lengths=False, compute_checksums=False)
    # Read back, it is the receive event of the other side, checksum included.
    [(_, hop)] = vxlan_received(p)
    assert (hop.src_ip, hop.dst_ip, hop.tos, hop.udp_checksum) == (
        NODE1_IP6, NODE2_IP6, 0x20, p["udp.checksum"])
    assert hop.frame == f


def test_outer_ecn_follows_the_inner_packet_on_ipv6_too() -> None:
    v = vtep()
    v.handle(FdbAdd(VNI, C2_MAC, NODE2_IP6), 0)
    f = icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP)
    assert f.ip is not None
    ce = replace(f, ip=replace(f.ip, tos=3))
    assert transmit_one(v, ce).tos == 2  # CE becomes ECT(0) in the outer traffic class


def test_next_hops_by_ipv6_exact_address_then_longest_prefix() -> None:
    v = vtep(next_hops={"2001:db8:2::/48": "0a:00:00:00:00:48", "::/0": NODE1_GW_MAC,
                        ONLINK_IP6: ONLINK_MAC, "0.0.0.0/0": "0a:00:00:00:00:04"})
    v.handle(FdbAppend(VNI, "00:00:00:00:00:00", NODE2_IP6), 0)
    v.handle(FdbAppend(VNI, "00:00:00:00:00:00", ONLINK_IP6), 0)
    v.handle(FdbAppend(VNI, "00:00:00:00:00:00", "2001:db9::1"), 0)
    out = v.handle(VtepTransmit(VNI, arp_request(C1_MAC, C1_IP, C2_IP)), 0)
    assert [(o.ip_dst, o.eth_dst) for o in out if isinstance(o, Encapsulated)] == [
        (NODE2_IP6, "0a:00:00:00:00:48"), (ONLINK_IP6, ONLINK_MAC),
        ("2001:db9::1", NODE1_GW_MAC)]


def test_no_next_hop_for_an_ipv6_remote_is_dropped() -> None:
    v = vtep(next_hops={"0.0.0.0/0": NODE1_GW_MAC})  # an IPv4 default does not cover IPv6
    v.handle(FdbAdd(VNI, C2_MAC, NODE2_IP6), 0)
    [out] = v.handle(VtepTransmit(VNI, icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP)), 0)
    assert isinstance(out, Dropped) and out.reason is DropReason.NO_NEXT_HOP


def test_an_ipv4_remote_on_an_ipv6_device_is_dropped_no_socket_and_vice_versa() -> None:
    v = vtep()
    v.handle(FdbAdd(VNI, C2_MAC, "192.168.1.5"), 0)
    [out] = v.handle(VtepTransmit(VNI, icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP)), 0)
    assert isinstance(out, Dropped) and out.reason is DropReason.UDP_NO_SOCKET
    assert "IPv4" in out.detail
    v4 = Vtep(VtepConfig("172.31.1.5", NODE1_MAC, next_hops={"0.0.0.0/0": NODE1_GW_MAC}))
    v4.handle(FdbAdd(VNI, C2_MAC, NODE2_IP6), 0)
    [out] = v4.handle(VtepTransmit(VNI, icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP)), 0)
    assert isinstance(out, Dropped) and out.reason is DropReason.UDP_NO_SOCKET
    assert "IPv6" in out.detail


def test_unspecified_ipv6_remote_is_no_remote() -> None:
    v = vtep()
    v.handle(FdbAdd(VNI, C2_MAC, "::"), 0)
    [out] = v.handle(VtepTransmit(VNI, icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP)), 0)
    assert isinstance(out, Dropped) and out.reason is DropReason.VXLAN_NO_REMOTE


def test_ipv6_group_is_the_default_destination_with_a_33_33_mac_and_hop_limit_1() -> None:
    v = vtep(group="FF05::1:3")  # written any way; kept as Wireshark prints it
    assert v.config.group == "ff05::1:3"
    e = transmit_one(v, arp_request(C1_MAC, C1_IP, C2_IP))
    assert (e.ip_dst, e.eth_dst, e.ttl) == ("ff05::1:3", "33:33:00:01:00:03", 1)
    # Received on the group address: accepted as for the local address.
    f = icmp_echo(C2_MAC, C1_MAC, C2_IP, C1_IP)
    out = v.handle(replace(rx(f), dst_ip="ff05::1:3"), SEC)
    assert isinstance(out[-1], Decapsulated)


# --------------------------------------------------------------------------- receive path


def test_receive_decapsulates_ipv6_and_learns_behind_the_ipv6_source() -> None:
    v = vtep()
    f = icmp_echo(C2_MAC, C1_MAC, C2_IP, C1_IP)
    assert v.handle(rx(f), SEC) == [
        Learned("vxlan0", VNI, C2_MAC, NODE2_IP6, SEC, "vxlan_snoop"),
        Decapsulated("vxlan0", VNI, f, NODE2_IP6),
    ]
    entry = v.lookup(VNI, C2_MAC)
    assert entry is not None and entry.remotes == (NODE2_IP6,) and entry.learned
    # The learned entry is where frames to C2 now go.
    assert transmit_one(v, icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP), SEC).ip_dst == NODE2_IP6
    # Another IPv6 VTEP sending the same MAC: migration, as over IPv4.
    assert v.handle(rx(f, src=NODE3_IP6), 2 * SEC)[0] == Moved(
        "vxlan0", VNI, C2_MAC, NODE2_IP6, NODE3_IP6, 2 * SEC, "vxlan_snoop")


def test_zero_udp_checksum_over_ipv6_is_dropped_unless_udp6zerocsumrx() -> None:
    f = icmp_echo(C2_MAC, C1_MAC, C2_IP, C1_IP)
    [out] = vtep().handle(rx(f, udp_checksum=0), SEC)
    assert isinstance(out, Dropped) and out.reason is DropReason.UDP_CSUM
    out2 = vtep(udp6_zero_csum_rx=True).handle(rx(f, udp_checksum=0), SEC)
    assert isinstance(out2[-1], Decapsulated)
    # Over IPv4 a zero checksum is "none computed" and fine.
    v4 = Vtep(VtepConfig("172.31.1.5", NODE1_MAC))
    ev = VxlanReceived("192.168.1.5", "172.31.1.5", 1, 4789, VNI, f, udp_checksum=0)
    assert isinstance(v4.handle(ev, SEC)[-1], Decapsulated)


def test_other_ipv6_destination_is_otherhost_and_uncanonical_text_is_ours() -> None:
    f = icmp_echo(C2_MAC, C1_MAC, C2_IP, C1_IP)
    [out] = vtep().handle(replace(rx(f), dst_ip="2001:db8:1::11"), SEC)
    assert isinstance(out, Dropped) and out.reason is DropReason.OTHERHOST
    out2 = vtep().handle(replace(rx(f), dst_ip="2001:0DB8:1:0::10"), SEC)
    assert isinstance(out2[-1], Decapsulated)


def test_outer_ce_traffic_class_over_not_ect_inner_is_dropped() -> None:
    f = icmp_echo(C2_MAC, C1_MAC, C2_IP, C1_IP)
    [*_, out] = vtep().handle(rx(f, tos=3), SEC)
    assert isinstance(out, Dropped) and out.reason is DropReason.IP_TUNNEL_ECN


# --------------------------------------------------------------------------- configuration


def test_fdb_entries_keep_ipv6_remotes_as_wireshark_prints_them() -> None:
    v = vtep()
    assert v.handle(FdbAdd(VNI, C2_MAC, "2001:DB8:2:0:0:0:0:10"), 0) == [
        Installed("vxlan0", "fdb", VNI, C2_MAC, NODE2_IP6, True, 0, "user")]
    assert v.handle(FdbAdd(VNI, C2_MAC, NODE2_IP6), 0) == []  # the same entry
    assert v.handle(FdbAppend(VNI, C2_MAC, "2001:db8:2:0::11"), 0) == [
        Installed("vxlan0", "fdb", VNI, C2_MAC, NODE3_IP6, True, 0, "user")]
    assert v.handle(FdbDel(VNI, C2_MAC, "2001:0db8:2::10"), 0) == [
        Removed("vxlan0", "fdb", VNI, C2_MAC, NODE2_IP6, 0, "user")]
    entry = v.lookup(VNI, C2_MAC)
    assert entry is not None and entry.remotes == (NODE3_IP6,)


def test_control_plane_programs_ipv6_vteps_and_proxy_arp_answers() -> None:
    cp = ControlPlane(NODE1_IP6)
    ops = cp.handle(PeerAdd(VNI, C2_IP, C2_MAC, NODE2_IP6), 0)
    assert ops == [NeighAdd(VNI, C2_IP, C2_MAC, reason="docker peerAdd"),
                   FdbAdd(VNI, C2_MAC, NODE2_IP6, static=True, reason="docker peerAdd")]
    v = Vtep(VtepConfig.docker(NODE1_IP6, NODE1_MAC, next_hops={"::/0": NODE1_GW_MAC}))
    for op in ops:
        v.handle(op, 0)  # type: ignore[arg-type]
    [reply] = v.handle(VtepTransmit(VNI, arp_request(C1_MAC, C1_IP, C2_IP)), 0)
    assert isinstance(reply, ArpProxied) and reply.mac == C2_MAC
    e = transmit_one(v, icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP))
    assert e.ip_dst == NODE2_IP6 and e.udp_checksum == "compute"
    # An IPv6 FDB entry of a static peer is not migrated by traffic from another VTEP.
    out = v.handle(rx(icmp_echo(C2_MAC, C1_MAC, C2_IP, C1_IP), src=NODE3_IP6), SEC)
    assert isinstance(out[0], Dropped) and out[0].reason is DropReason.VXLAN_ENTRY_EXISTS


def test_ipv6_bridge_local_entry_is_not_proxied() -> None:
    v = Vtep(VtepConfig.docker(NODE1_IP6, NODE1_MAC))
    v.handle(NeighAdd(VNI, C2_IP, C2_MAC), 0)
    v.handle(FdbAdd(VNI, C2_MAC, "::"), 0)
    [out] = v.handle(VtepTransmit(VNI, arp_request(C1_MAC, C1_IP, C2_IP)), 0)
    assert isinstance(out, Dropped) and out.reason is DropReason.ARP_REDUCE


@pytest.mark.parametrize(("kw", "message"), [
    ({"local_ip": "2001:db8::zz"}, "not an IPv4 or IPv6 address"),
    ({"group": "239.1.1.1"}, "different address families"),
    ({"group": "2001:db8::1"}, "not a multicast address"),
    ({"group": "ff::1"}, "not a multicast address"),  # 00ff::1 is not in ff00::/8
    ({"flow_label": 1 << 20}, "flow_label must be 20 bits"),
])
def test_bad_ipv6_configuration_is_a_model_error(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        config(**kw)


def test_config_knows_its_family() -> None:
    assert config().ipv6 and config(local_ip="2001:DB8:1::10").local_ip == NODE1_IP6
    assert not VtepConfig("172.31.1.5", NODE1_MAC).ipv6
