"""The VTEP's ND proxy (``proxy`` on a Linux vxlan device): neigh_reduce answers a Neighbor
Solicitation for an overlay IPv6 address in the neighbour table with the Neighbor
Advertisement vxlan_na_create builds, and consumes every other NS.  Expectations are written
from drivers/net/vxlan/vxlan_core.c (vxlan_xmit, neigh_reduce, vxlan_na_create) and RFC 4861;
the byte-level checks decode what the frames adapter encodes."""

from __future__ import annotations

import pytest

from tests.model.frames import C1_MAC, C2_MAC, NODE1_IP, NODE1_MAC, NODE2_IP, VNI
from vxlankit import build
from vxlankit.codec import decode, encode
from vxlankit.frames import frame_bytes, frame_from_bytes, nd_layers
from vxlankit.layers.icmpv6 import options as nd_options
from vxlankit.model.controlplane import peer_add
from vxlankit.model.events import (
    Dropped,
    DropReason,
    Encapsulated,
    FdbAdd,
    FdbAppend,
    Frame,
    Installed,
    L3Miss,
    NdInfo,
    NdProxied,
    NeighAdd,
    NeighDel,
    Removed,
    VtepTransmit,
)
from vxlankit.model.vtep import Vtep, VtepConfig
from vxlankit.packet import Layer

C1_IP6 = "fd00:10::3"
C2_IP6 = "fd00:10::4"
C2_GROUP = "ff02::1:ff00:4"
C2_GROUP_MAC = "33:33:ff:00:00:04"


def vtep(**kw: object) -> Vtep:
    v = Vtep(VtepConfig.docker(NODE1_IP, NODE1_MAC, next_hops={"0.0.0.0/0": NODE1_MAC},
                               **kw))
    for event in peer_add(VNI, C2_IP6, C2_MAC, NODE2_IP):
        v.handle(event, 0)  # type: ignore[arg-type]
    return v


def ns_frame(target: str = C2_IP6, src: str = C1_IP6, dst: str = C2_GROUP, *,
             eth_dst: str = C2_GROUP_MAC, opts: bytes | None = None, code: int = 0,
             tclass: int = 0, eth_src: str = C1_MAC) -> Frame:
    fields: dict[str, object] = {
        "icmpv6.type": 135, "icmpv6.code": code, "icmpv6.checksum": None,
        "icmpv6.reserved": bytes(4), "icmpv6.nd.ns.target_address": target,
        "icmpv6.options": nd_options((1, bytes.fromhex(eth_src.replace(":", ""))))
        if opts is None else opts}
    data = encode([build.eth(dst=eth_dst, src=eth_src),
                   build.ipv6(src=src, dst=dst, hlim=255, tclass=tclass),
                   Layer("icmpv6", fields)])
    return frame_from_bytes(data)


def expected_na(dst_ip: str = C1_IP6, dst_mac: str = C1_MAC, tclass: int = 0) -> Frame:
    return Frame(dst_mac, C2_MAC, 0x86DD, nd=NdInfo(
        C2_IP6, dst_ip, 136, C2_IP6, 0x60000000, 2, C2_MAC, 255, tclass))


def test_known_target_is_answered_with_the_kernels_na() -> None:
    v = vtep()
    out = v.handle(VtepTransmit(VNI, ns_frame()), 1)
    assert out == [NdProxied("vxlan0", VNI, C2_IP6, C2_MAC, expected_na())]
    # The NA on the wire: what vxlan_na_create builds, 86 bytes, no padding.
    data = frame_bytes(out[0].frame)
    assert len(data) == 14 + 40 + 32
    p = decode(data)
    assert not p.errors
    eth, ip6, na = p.layer("eth"), p.layer("ipv6"), p.layer("icmpv6")
    assert eth is not None and ip6 is not None and na is not None
    assert (eth["eth.dst"], eth["eth.src"]) == (C1_MAC, C2_MAC)
    assert (ip6["ipv6.src"], ip6["ipv6.dst"], ip6["ipv6.hlim"], ip6["ipv6.plen"],
            ip6["ipv6.nxt"], ip6["ipv6.tclass"], ip6["ipv6.flow"]) == (
        C2_IP6, C1_IP6, 255, 32, 58, 0, 0)
    assert na["icmpv6.type"] == 136 and na["icmpv6.code"] == 0
    assert na["icmpv6.checksum.status"] == 1  # computed, verified good
    assert (na["icmpv6.nd.na.flag.r"], na["icmpv6.nd.na.flag.s"],
            na["icmpv6.nd.na.flag.o"]) == (False, True, True)
    assert na["icmpv6.nd.na.target_address"] == C2_IP6
    assert na["icmpv6.opt.type"] == [2] and na["icmpv6.opt.length"] == [1]
    assert [bytes(x).hex(":") for x in na["icmpv6.opt.target_linkaddr"]] == [C2_MAC]


def test_reply_goes_to_the_source_link_layer_option_else_the_ethernet_source() -> None:
    v = vtep()
    other = "02:00:00:00:00:99"
    out = v.handle(VtepTransmit(VNI, ns_frame(opts=nd_options(
        (1, bytes.fromhex(other.replace(":", "")))))), 1)
    assert isinstance(out[0], NdProxied) and out[0].frame.dst == other
    # No option (a unicast NS reconfirming a neighbour may carry none): the Ethernet source.
    out = v.handle(VtepTransmit(VNI, ns_frame(dst=C2_IP6, eth_dst=C2_MAC, opts=b"")), 2)
    assert out == [NdProxied("vxlan0", VNI, C2_IP6, C2_MAC, expected_na())]
    # An option of another type first (a nonce, RFC 3971) is stepped over.
    opts = nd_options((14, bytes(6)), (1, bytes.fromhex(other.replace(":", ""))))
    out = v.handle(VtepTransmit(VNI, ns_frame(opts=opts)), 3)
    assert isinstance(out[0], NdProxied) and out[0].frame.dst == other


def test_priority_bits_of_the_traffic_class_are_copied() -> None:
    # pip6->priority = ipv6_hdr(request)->priority: the high four bits of the traffic class.
    out = vtep().handle(VtepTransmit(VNI, ns_frame(tclass=0xB9)), 1)
    assert out == [NdProxied("vxlan0", VNI, C2_IP6, C2_MAC, expected_na(tclass=0xB0))]


def test_unknown_target_is_consumed_not_flooded() -> None:
    v = vtep()
    v.handle(FdbAppend(VNI, "00:00:00:00:00:00", NODE2_IP), 0)  # a default entry exists
    ns = ns_frame(target="fd00:10::9", dst="ff02::1:ff00:9", eth_dst="33:33:ff:00:00:09")
    out = v.handle(VtepTransmit(VNI, ns), 5)
    assert out == [L3Miss("vxlan0", VNI, "fd00:10::9", 5),
                   Dropped("vxlan0", DropReason.NEIGH_REDUCE, ns,
                           "no neighbour entry for fd00:10::9; the NS is not flooded")]
    out = vtep(l3miss=False).handle(VtepTransmit(VNI, ns), 5)
    assert [type(o) for o in out] == [Dropped]


def test_dad_ns_is_answered_as_the_kernel_does() -> None:
    """Duplicate Address Detection: source ::, no source link-layer option (RFC 4861 7.2.2).
    neigh_reduce has no test of the source address, so a known target is answered, to ::
    (vxlan_na_create copies the NS's source), from the Ethernet source's side: the prober
    learns that the address is in use behind the VTEP."""
    ns = ns_frame(src="::", opts=b"")
    out = vtep().handle(VtepTransmit(VNI, ns), 1)
    assert out == [NdProxied("vxlan0", VNI, C2_IP6, C2_MAC, expected_na(dst_ip="::"))]
    # A DAD probe for an address nobody holds is consumed like any unknown target.
    ns = ns_frame(target="fd00:10::9", src="::", opts=b"")
    assert [type(o) for o in vtep(l3miss=False).handle(VtepTransmit(VNI, ns), 1)] == [Dropped]


@pytest.mark.parametrize(("target", "dst"), [("ff02::1", C2_GROUP), (C2_IP6, "::1")])
def test_multicast_target_or_loopback_destination_is_consumed(target: str, dst: str) -> None:
    v = vtep()
    v.handle(NeighAdd(VNI, "ff02::1", C2_MAC), 0)
    out = v.handle(VtepTransmit(VNI, ns_frame(target=target, dst=dst)), 1)
    assert len(out) == 1 and isinstance(out[0], Dropped)
    assert out[0].reason is DropReason.NEIGH_REDUCE


def test_bridge_local_neighbour_is_not_answered() -> None:
    v = vtep()
    v.handle(FdbAdd(VNI, C2_MAC, "0.0.0.0"), 0)
    out = v.handle(VtepTransmit(VNI, ns_frame()), 1)
    assert len(out) == 1 and isinstance(out[0], Dropped)
    assert out[0].detail == f"{C2_IP6} is a bridge-local neighbour"


def test_option_of_length_zero_makes_no_reply() -> None:
    out = vtep().handle(VtepTransmit(VNI, ns_frame(opts=bytes(8))), 1)
    assert len(out) == 1 and isinstance(out[0], Dropped)
    assert out[0].reason is DropReason.NEIGH_REDUCE


def test_what_is_not_an_ns_goes_through_the_fdb() -> None:
    """vxlan_xmit hands neigh_reduce ICMPv6 type 135 code 0 right after the IPv6 header only;
    an NA, an NS with another code, an echo are forwarded as any frame."""
    v = vtep()
    odd = ns_frame(code=1, dst=C2_IP6, eth_dst=C2_MAC)
    out = v.handle(VtepTransmit(VNI, odd), 1)
    assert [type(o) for o in out] == [Encapsulated] and out[0].frame == odd  # type: ignore
    na = frame_from_bytes(encode([build.eth(dst=C2_MAC, src=C1_MAC), *nd_layers(
        NdInfo(C1_IP6, C2_IP6, 136, C1_IP6, 0x60000000, 2, C1_MAC))]))
    assert [type(o) for o in v.handle(VtepTransmit(VNI, na), 2)] == [Encapsulated]


def test_proxy_off_floods_the_ns() -> None:
    v = Vtep(VtepConfig(NODE1_IP, NODE1_MAC, next_hops={"0.0.0.0/0": NODE1_MAC}))
    v.handle(FdbAppend(VNI, "00:00:00:00:00:00", NODE2_IP), 0)
    v.handle(NeighAdd(VNI, C2_IP6, C2_MAC), 0)
    out = v.handle(VtepTransmit(VNI, ns_frame()), 1)
    assert [type(o) for o in out] == [Encapsulated]


def test_ipv6_neighbours_are_kept_canonical() -> None:
    v = Vtep(VtepConfig.docker(NODE1_IP, NODE1_MAC))
    assert v.handle(NeighAdd(VNI, "FD00:10:0::4", C2_MAC), 0) == [
        Installed("vxlan0", "neigh", VNI, C2_IP6, C2_MAC, True, 0, "user")]
    assert v.neighbours(VNI) == {C2_IP6: C2_MAC}
    assert v.handle(NeighDel(VNI, "fd00:10:0:0::4"), 1) == [
        Removed("vxlan0", "neigh", VNI, C2_IP6, C2_MAC, 1, "user")]
