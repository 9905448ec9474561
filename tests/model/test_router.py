"""The sandbox router model, by scripted event -> output."""

from __future__ import annotations

import pytest

from tests.model.frames import MS, SEC
from tests.model.playbook import Playbook
from vxlankit import build, decode, encode
from vxlankit.checksum import internet_checksum
from vxlankit.model.events import (
    ArpInfo,
    Dropped,
    DropReason,
    Forwarded,
    Frame,
    FrameReceived,
    IpInfo,
    Learned,
    ModelError,
)
from vxlankit.model.router import Router, RouterInterface, _decrease_ttl, gateway_address

BR0_MAC = "02:42:aa:00:00:01"
BR1_MAC = "02:42:bb:00:00:01"
C1_MAC = "02:42:0a:01:01:02"
C2_MAC = "02:42:0b:01:01:02"
BCAST = "ff:ff:ff:ff:ff:ff"


def router() -> Router:
    return Router("router@node1", [RouterInterface("br0", "10.1.1.0/24", "10.1.1.1", BR0_MAC),
                                   RouterInterface("br1", "11.1.1.0/24", "11.1.1.1", BR1_MAC)])


def arp_frame(op: int, src_mac: str, src_ip: str, dst_mac: str, dst_ip: str,
              eth_dst: str) -> Frame:
    return Frame(eth_dst, src_mac, 0x0806, ArpInfo(op, src_mac, src_ip, dst_mac, dst_ip))


def echo(src: str, dst: str, ttl: int = 64, eth_src: str = C1_MAC,
         eth_dst: str = BR0_MAC, seq: int = 1, payload: bytes = b"ping" * 4) -> Frame:
    raw = encode([build.eth(dst=eth_dst, src=eth_src),
                  build.ipv4(src=src, dst=dst, ttl=ttl, df=True),
                  build.icmp_echo(7, seq), build.payload(payload)])
    return Frame(eth_dst, eth_src, 0x0800, None, IpInfo(src, dst, 1, ttl, 0, True), raw[14:])


def ip_frame(dst_mac: str, src_mac: str, packet: bytes) -> Frame:
    d = decode(packet, linktype=228)
    return Frame(dst_mac, src_mac, 0x0800, None,
                 IpInfo(d["ip.src"], d["ip.dst"], d["ip.proto"], d["ip.ttl"], d["ip.dsfield"],
                        bool(d["ip.flags.df"])), packet)


def test_gateway_is_the_first_host_address() -> None:
    assert gateway_address("10.1.1.0/24") == "10.1.1.1"
    assert gateway_address("11.1.1.77/16") == "11.1.0.1"


def test_answers_arp_for_its_gateway_address_only_on_its_interface() -> None:
    request = arp_frame(1, C1_MAC, "10.1.1.2", "00:00:00:00:00:00", "10.1.1.1", BCAST)
    reply = Frame(C1_MAC, BR0_MAC, 0x0806, ArpInfo(2, BR0_MAC, "10.1.1.1", C1_MAC, "10.1.1.2"))
    assert (
        Playbook(router())
        >> FrameReceived("br0", request)
        << Learned("router@node1", None, C1_MAC, "10.1.1.2", 0, "arp_process")
        << Forwarded("router@node1", "br0", reply)
        # br1's gateway is not answered on br0, and other hosts' ARP is none of its business.
        >> FrameReceived("br0", arp_frame(1, C1_MAC, "10.1.1.2", "00:00:00:00:00:00",
                                          "11.1.1.1", BCAST))
        >> FrameReceived("br0", arp_frame(1, C1_MAC, "10.1.1.2", "00:00:00:00:00:00",
                                          "10.1.1.9", BCAST))
    )


def test_routes_between_subnets_arping_for_the_next_hop_then_forwarding() -> None:
    r = router()
    packet = echo("10.1.1.2", "11.1.1.2")
    out = r.handle(FrameReceived("br0", packet), 1 * SEC)
    assert out == [Forwarded("router@node1", "br1", arp_frame(
        1, BR1_MAC, "11.1.1.1", "00:00:00:00:00:00", "11.1.1.2", BCAST))]
    answer = arp_frame(2, C2_MAC, "11.1.1.2", BR1_MAC, "11.1.1.1", BR1_MAC)
    out = r.handle(FrameReceived("br1", answer), 1_100 * MS)
    assert out[0] == Learned("router@node1", None, C2_MAC, "11.1.1.2", 1_100 * MS, "arp_process")
    assert isinstance(out[1], Forwarded) and out[1].port == "br1"
    routed = out[1].frame
    assert (routed.dst, routed.src) == (C2_MAC, BR1_MAC)
    d = decode(routed.payload, linktype=228)
    assert d["ip.ttl"] == 63 and d["ip.checksum.status"] == 1
    assert d["icmp.checksum.status"] == 1
    # Only the TTL and the header checksum changed.
    diff = [i for i, (a, b) in enumerate(zip(packet.payload, routed.payload, strict=True))
            if a != b]
    assert set(diff) <= {8, 10, 11}
    # Known neighbour now: the next packet goes straight out.
    out = r.handle(FrameReceived("br0", echo("10.1.1.2", "11.1.1.2", seq=2)), 2 * SEC)
    assert len(out) == 1 and isinstance(out[0], Forwarded) and out[0].frame.dst == C2_MAC


def test_ttl_expiry_drops_and_sends_time_exceeded_back() -> None:
    r = router()
    r.handle(FrameReceived("br0", arp_frame(1, C1_MAC, "10.1.1.2", "00:00:00:00:00:00",
                                            "10.1.1.1", BCAST)), 0)
    packet = echo("10.1.1.2", "11.1.1.2", ttl=1)
    out = r.handle(FrameReceived("br0", packet), 1 * SEC)
    assert isinstance(out[0], Dropped) and out[0].reason is DropReason.IP_TTL_EXCEEDED
    assert isinstance(out[1], Forwarded) and out[1].port == "br0"
    d = decode(out[1].frame.payload, linktype=228)
    assert (d["ip.src"], d["ip.dst"]) == ("10.1.1.1", "10.1.1.2")
    assert (d["icmp.type"], d["icmp.code"]) == (11, 0)
    assert d["icmp.checksum.status"] == 1 and d["ip.checksum.status"] == 1
    quoted = d.layer("data")
    # icmp_send quotes the whole packet when it fits in 576 bytes (this one is 44 bytes).
    assert quoted is not None and quoted["data.data"] == packet.payload[:44]
    assert len(packet.payload) == 44
    assert out[1].frame.dst == C1_MAC


def _big(df: bool, size: int = 1400) -> Frame:
    body = bytes(size)
    frame = echo("10.1.1.2", "11.1.1.2", seq=1, payload=body)
    if not df:
        raw = bytearray(frame.payload)
        raw[6] &= ~0x40
        raw[10:12] = b"\0\0"
        raw[10:12] = internet_checksum(bytes(raw[:20])).to_bytes(2, "big")
        frame = Frame(frame.dst, frame.src, frame.ethertype, None, frame.ip, bytes(raw))
    return frame


def _narrow_router() -> Router:
    r = Router("r", [RouterInterface("br0", "10.1.1.0/24", "10.1.1.1", BR0_MAC),
                     RouterInterface("br1", "11.1.1.0/24", "11.1.1.1", BR1_MAC, mtu=1000)])
    r.neighbours["br0"]["10.1.1.2"] = C1_MAC
    r.neighbours["br1"]["11.1.1.2"] = C2_MAC
    return r


def test_df_packet_larger_than_the_next_link_gets_fragmentation_needed() -> None:
    packet = _big(df=True)
    out = _narrow_router().handle(FrameReceived("br0", packet), SEC)
    assert isinstance(out[0], Dropped) and out[0].reason is DropReason.PKT_TOO_BIG
    assert isinstance(out[1], Forwarded) and out[1].port == "br0"
    d = decode(out[1].frame.payload, linktype=228)
    assert (d["icmp.type"], d["icmp.code"]) == (3, 4)
    assert d["icmp.unused"] == (1000).to_bytes(4, "big")  # the next-hop MTU
    quoted = d.layer("data")
    assert quoted is not None and quoted["data.data"] == packet.payload[:548]
    assert d["ip.len"] == 576  # icmp_send's ceiling


def test_packet_without_df_is_fragmented_to_the_next_link() -> None:
    packet = _big(df=False)
    out = _narrow_router().handle(FrameReceived("br0", packet), SEC)
    assert [type(o) for o in out] == [Forwarded, Forwarded]
    pieces = [o.frame.payload for o in out if isinstance(o, Forwarded)]
    assert [len(p) for p in pieces] == [996, 20 + 1428 - 20 - 976]
    heads = [decode(p, linktype=228) for p in pieces]
    # The offset is in 8-byte units: 122 is 976 bytes.
    assert [(h["ip.flags.mf"], h["ip.frag_offset"]) for h in heads] == [(1, 0), (0, 122)]
    assert all(h["ip.checksum.status"] == 1 and h["ip.ttl"] == 63 for h in heads)
    assert pieces[0][20:] + pieces[1][20:] == packet.payload[20:]


def test_router_originated_packets_get_successive_ip_ids() -> None:
    r = router()
    ids = []
    for seq in (1, 2, 3):
        out = r.handle(FrameReceived("br0", echo("10.1.1.2", "12.0.0.1", seq=seq)), 1 * SEC)
        assert isinstance(out[1], Forwarded)
        ids.append(decode(out[1].frame.payload, linktype=228)["ip.id"])
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]


def test_longest_prefix_wins_whatever_the_interface_order() -> None:
    wide = RouterInterface("br0", "10.0.0.0/8", "10.0.0.1", BR0_MAC)
    narrow = RouterInterface("br1", "10.1.0.0/16", "10.1.0.1", BR1_MAC)
    for interfaces in ([wide, narrow], [narrow, wide]):
        r = Router("r", interfaces)
        assert r.route("10.1.2.3") is narrow
        assert r.route("10.2.0.1") is wide
        assert r.route("11.0.0.1") is None


def test_no_route_sends_net_unreachable() -> None:
    out = router().handle(FrameReceived("br0", echo("10.1.1.2", "12.0.0.1")), 1 * SEC)
    assert isinstance(out[0], Dropped) and out[0].reason is DropReason.IP_NOROUTES
    d = decode(out[1].frame.payload, linktype=228)
    assert (d["icmp.type"], d["icmp.code"]) == (3, 0)


def test_no_error_about_an_error() -> None:
    error = encode([build.ipv4(src="10.1.1.2", dst="12.0.0.1"), build.icmp(3, 1),
                    build.payload(b"\x45" + bytes(27))])
    out = router().handle(FrameReceived("br0", ip_frame(BR0_MAC, C1_MAC, error)), 1 * SEC)
    assert len(out) == 1 and isinstance(out[0], Dropped)


def test_answers_ping_to_its_gateway_address() -> None:
    out = router().handle(FrameReceived("br0", echo("10.1.1.2", "10.1.1.1")), 1 * SEC)
    assert len(out) == 1 and isinstance(out[0], Forwarded)
    d = decode(out[0].frame.payload, linktype=228)
    assert d["icmp.type"] == 0 and d["icmp.checksum.status"] == 1


def test_frames_for_other_macs_are_ignored_and_unknown_ports_rejected() -> None:
    assert router().handle(FrameReceived("br0", echo("10.1.1.2", "11.1.1.2",
                                                     eth_dst=C2_MAC)), 0) == []
    with pytest.raises(ModelError):
        router().handle(FrameReceived("br9", echo("10.1.1.2", "11.1.1.2")), 0)


@pytest.mark.parametrize("ttl", [2, 64, 255])
def test_incremental_checksum_equals_recomputed(ttl: int) -> None:
    packet = echo("10.1.1.2", "11.1.1.2", ttl=ttl).payload
    lowered = _decrease_ttl(packet)
    header = bytearray(lowered[:20])
    header[10:12] = b"\0\0"
    assert int.from_bytes(lowered[10:12], "big") == internet_checksum(header)


# ------------------------------------------------------------------------------------ IPv6

N1_MAC = "0a:00:00:00:01:10"
N2_MAC = "0a:00:00:00:02:10"
GW1_MAC = "0a:00:00:00:01:01"
GW2_MAC = "0a:00:00:00:02:01"


def underlay6() -> Router:
    r = Router("underlay-router", [
        RouterInterface("node1", "2001:db8:1::/64", "2001:db8:1::1", GW1_MAC),
        RouterInterface("node2", "2001:db8:2::/64", "2001:db8:2::1", GW2_MAC)])
    r.neighbours["node2"]["2001:db8:2::10"] = N2_MAC
    return r


def udp6(dst: str, hlim: int = 64) -> Frame:
    raw = encode([build.eth(dst=GW1_MAC, src=N1_MAC),
                  build.ipv6(src="2001:db8:1::10", dst=dst, hlim=hlim),
                  build.udp(sport=50000, dport=4789), build.payload(b"x" * 20)])
    return Frame(GW1_MAC, N1_MAC, 0x86DD, None, None, raw[14:])


def test_ipv6_is_forwarded_with_the_hop_limit_decremented_and_macs_rewritten() -> None:
    f = udp6("2001:db8:2::10")
    [out] = underlay6().handle(FrameReceived("node1", f), 0)
    assert isinstance(out, Forwarded) and out.port == "node2"
    assert (out.frame.dst, out.frame.src, out.frame.ethertype) == (N2_MAC, GW2_MAC, 0x86DD)
    assert out.frame.payload[7] == 63
    assert out.frame.payload[:7] + out.frame.payload[8:] == f.payload[:7] + f.payload[8:]
    d = decode(encode([build.eth(dst=N2_MAC, src=GW2_MAC, type=0x86DD),
                       build.payload(out.frame.payload)]))
    assert d["ipv6.hlim"] == 63 and d["udp.checksum.status"] == 1  # no checksum to fix


@pytest.mark.parametrize(("dst", "hlim", "reason"), [
    ("2001:db8:3::10", 64, DropReason.IP_NOROUTES),  # no route
    ("2001:db8:2::10", 1, DropReason.IP_TTL_EXCEEDED),
    ("2001:db8:2::11", 64, DropReason.IP_NOROUTES),  # no neighbour: no NDP in the model
])
def test_ipv6_drops(dst: str, hlim: int, reason: DropReason) -> None:
    [out] = underlay6().handle(FrameReceived("node1", udp6(dst, hlim)), 0)
    assert isinstance(out, Dropped) and out.reason is reason


def test_ipv6_for_the_router_itself_or_another_mac_is_ignored_and_bad_header_dropped() -> None:
    r = underlay6()
    assert r.handle(FrameReceived("node1", udp6("2001:db8:1::1")), 0) == []
    f = udp6("2001:db8:2::10")
    assert r.handle(FrameReceived("node1", Frame(N2_MAC, N1_MAC, 0x86DD, None, None,
                                                 f.payload)), 0) == []
    [out] = r.handle(FrameReceived("node1", Frame(GW1_MAC, N1_MAC, 0x86DD, None, None,
                                                  b"\x45" + f.payload[1:])), 0)
    assert isinstance(out, Dropped) and out.reason is DropReason.IP_INHDR
