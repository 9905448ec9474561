"""Path MTU in the models: the VTEP's own ICMP fragmentation needed (skb_tunnel_check_pmtu),
the host's port unreachable, PMTU learning and reassembly (model/host.py)."""

from __future__ import annotations

from vxlankit import build, decode, encode
from vxlankit.frames import encapsulated_bytes, frame_bytes, frame_from_bytes
from vxlankit.model.events import (
    Dropped,
    DropReason,
    Encapsulated,
    FdbAdd,
    Forwarded,
    FrameReceived,
    PathMtu,
    PmtuLearned,
    TooBig,
    UdpDelivered,
    VtepTransmit,
)
from vxlankit.model.host import Host
from vxlankit.model.router import fragment
from vxlankit.model.vtep import Vtep, VtepConfig

N1, N2 = "172.31.1.10", "192.168.1.10"
C1_MAC, C2_MAC = "02:42:0a:00:00:03", "02:42:0a:00:00:04"
NIC1, NIC2, GW = "02:00:00:00:01:10", "02:00:00:00:02:10", "02:00:00:00:00:01"


def _echo(size: int, df: bool = True) -> bytes:
    return encode([build.eth(dst=C2_MAC, src=C1_MAC),
                   build.ipv4(src="10.0.0.3", dst="10.0.0.4", df=df, ttl=64),
                   build.icmp_echo(7, 1), build.payload(bytes(size))])


def _vtep(df: str = "set") -> Vtep:
    vtep = Vtep(VtepConfig(N1, NIC1, df=df, next_hops={"0.0.0.0/0": GW}))  # type: ignore[arg-type]
    vtep.handle(FdbAdd(4096, C2_MAC, N2), 0)
    return vtep


def test_frame_over_the_learned_path_mtu_is_answered_by_the_vtep() -> None:
    vtep = _vtep()
    frame = frame_from_bytes(_echo(1400))
    assert isinstance(vtep.handle(VtepTransmit(4096, frame), 1)[0], Encapsulated)
    vtep.handle(PathMtu(N2, 1400), 2)
    (out,) = vtep.handle(VtepTransmit(4096, frame), 3)
    assert isinstance(out, TooBig) and out.mtu == 1350
    d = decode(frame_bytes(out.icmp))
    assert (d["ip.src"], d["ip.dst"]) == ("10.0.0.4", "10.0.0.3")  # the addresses swapped
    assert (out.icmp.dst, out.icmp.src) == (C1_MAC, C2_MAC)  # and the MACs
    assert (d["icmp.type"], d["icmp.code"]) == (3, 4)
    assert d["icmp.unused"] == (1350).to_bytes(4, "big")
    assert d["ip.flags.df"] == 1 and d["ip.id"] == 0 and d["ip.ttl"] == 64
    assert d["icmp.checksum.status"] == 1 and d["ip.checksum.status"] == 1
    assert len(out.icmp.payload) == 576  # trimmed: 548 bytes of the frame quoted


def test_frame_that_fits_the_path_mtu_goes_out() -> None:
    vtep = _vtep()
    vtep.handle(PathMtu(N2, 1400), 0)
    (out,) = vtep.handle(VtepTransmit(4096, frame_from_bytes(_echo(1300))), 1)
    assert isinstance(out, Encapsulated)


def test_too_big_without_df_is_not_answered() -> None:
    vtep = _vtep()
    vtep.handle(PathMtu(N2, 1400), 0)
    (out,) = vtep.handle(VtepTransmit(4096, frame_from_bytes(_echo(1400, df=False))), 1)
    assert isinstance(out, Dropped) and out.reason is DropReason.PKT_TOO_BIG
    (sent,) = _vtep(df="unset").handle(VtepTransmit(4096, frame_from_bytes(_echo(1400,
                                                                                 df=False))), 1)
    assert isinstance(sent, Encapsulated)  # no PMTU learned: out it goes


def _datagram(dport: int, size: int = 40) -> bytes:
    return encode([build.eth(dst=NIC2, src=GW), build.ipv4(src=N1, dst=N2, id=9),
                   build.udp(50000, dport, checksum=0), build.payload(bytes(size))])


def test_host_answers_port_unreachable_for_a_port_without_socket() -> None:
    host = Host("host@node2", N2, NIC2, GW, (8472,))
    sent = _datagram(4789)
    drop, reply = host.handle(FrameReceived("eth0", frame_from_bytes(sent)), 1)
    assert isinstance(drop, Dropped) and drop.reason is DropReason.UDP_NO_SOCKET
    assert isinstance(reply, Forwarded) and reply.frame.dst == GW
    d = decode(frame_bytes(reply.frame))
    assert (d["ip.src"], d["ip.dst"], d["icmp.type"], d["icmp.code"]) == (N2, N1, 3, 3)
    assert d["ip.dsfield"] == 0xC0 and d["ip.flags.df"] == 0
    assert reply.frame.payload[28:] == sent[14:]  # the whole datagram fits in the quote


def test_host_hands_a_datagram_for_its_socket_up() -> None:
    host = Host("host@node2", N2, NIC2, GW, (4789,))
    (out,) = host.handle(FrameReceived("eth0", frame_from_bytes(_datagram(4789))), 1)
    assert isinstance(out, UdpDelivered) and out.dport == 4789


def test_host_reassembles_fragments_for_its_socket() -> None:
    whole = _datagram(4789, size=1500)
    pieces = fragment(whole[14:], 1000)
    host = Host("host@node2", N2, NIC2, GW, (4789,))
    first = frame_from_bytes(whole[:14] + pieces[0])
    assert host.handle(FrameReceived("eth0", first), 1) == []
    (out,) = host.handle(FrameReceived("eth0", frame_from_bytes(whole[:14] + pieces[1])), 2)
    assert isinstance(out, UdpDelivered) and out.frame.payload == whole[14:]


def test_host_learns_the_path_mtu_from_fragmentation_needed() -> None:
    vtep = _vtep()
    (enc,) = vtep.handle(VtepTransmit(4096, frame_from_bytes(_echo(1400))), 1)
    assert isinstance(enc, Encapsulated)
    offender = encapsulated_bytes(enc)
    icmp = encode([build.eth(dst=NIC1, src=GW), build.ipv4(src="172.31.1.1", dst=N1),
                   build.icmp(3, 4, (1400).to_bytes(4, "big")), build.payload(offender[14:562])])
    host = Host("host@node1", N1, NIC1, GW, (4789,))
    (out,) = host.handle(FrameReceived("eth0", frame_from_bytes(icmp)), 2)
    assert isinstance(out, PmtuLearned) and (out.remote, out.mtu) == (N2, 1400)
