"""The seed scenario end to end: C1 (10.0.0.3, node1) pings C2 (10.0.0.4, node2) over Docker's
overlay, with a tiny in-test harness wiring two hosts' models together."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tests.model.frames import (
    C1_IP,
    C1_MAC,
    C2_IP,
    C2_MAC,
    MS,
    NODE1_GW_MAC,
    NODE1_IP,
    NODE1_MAC,
    NODE2_GW_MAC,
    NODE2_IP,
    NODE2_MAC,
    SEC,
    VNI,
    VXLAN1_MAC,
    VXLAN2_MAC,
    arp_reply,
    arp_request,
    icmp_echo,
)
from vxlankit.model import (
    ArpProxied,
    Bridge,
    BridgeFdbDel,
    BridgeInput,
    ControlPlane,
    Decapsulated,
    Encapsulated,
    Flooded,
    Forwarded,
    Frame,
    FrameReceived,
    L2Miss,
    L3Miss,
    Learned,
    PeerAdd,
    Vtep,
    VtepConfig,
    VtepTransmit,
    VxlanReceived,
)


@dataclass
class Host:
    name: str
    bridge: Bridge
    vtep: Vtep
    control: ControlPlane
    delivered: list[tuple[str, Frame]] = field(default_factory=list)
    log: list[Any] = field(default_factory=list)


def make_host(name: str, ip: str, mac: str, gw: str, dev_mac: str, veth: str) -> Host:
    cfg = VtepConfig.docker(ip, mac, dev_mac=dev_mac, next_hops={"0.0.0.0/0": gw})
    return Host(name, Bridge("br0", [veth, "vxlan0"]), Vtep(cfg), ControlPlane(ip))


class Overlay:
    """Routes each output to the device that receives it, breadth first."""

    def __init__(self, *hosts: Host) -> None:
        self.hosts = {h.vtep.config.local_ip: h for h in hosts}
        self.underlay: list[Encapsulated] = []

    def gossip(self, event: PeerAdd, now: int) -> None:
        for host in self.hosts.values():
            for op in host.control.handle(event, now):
                if isinstance(op, BridgeFdbDel):
                    host.log.extend(host.bridge.handle(op, now))
                else:
                    host.log.extend(host.vtep.handle(op, now))

    def send(self, host: Host, port: str, frame: Frame, now: int) -> None:
        queue: deque[tuple[Host, object]] = deque([(host, FrameReceived(port, frame))])
        while queue:
            h, event = queue.popleft()
            if isinstance(event, FrameReceived | BridgeFdbDel):
                bridge_event: BridgeInput = event
                outputs: list[Any] = h.bridge.handle(bridge_event, now)
            else:
                assert isinstance(event, VtepTransmit | VxlanReceived)
                outputs = h.vtep.handle(event, now)
            h.log.extend(outputs)
            for out in outputs:
                if isinstance(out, Forwarded | Flooded):
                    ports = (out.port,) if isinstance(out, Forwarded) else out.ports
                    for p in ports:
                        if p == "vxlan0":
                            queue.append((h, VtepTransmit(VNI, out.frame)))
                        else:
                            h.delivered.append((p, out.frame))
                elif isinstance(out, ArpProxied | Decapsulated):
                    queue.append((h, FrameReceived("vxlan0", out.frame)))
                elif isinstance(out, Encapsulated):
                    self.underlay.append(out)
                    peer = self.hosts[out.ip_dst]
                    queue.append((peer, VxlanReceived(
                        out.ip_src, out.ip_dst, out.sport, out.dport, out.vni, out.frame,
                        out.flags, out.gbp, out.reserved8, out.tos)))


def test_c1_pings_c2_across_the_overlay() -> None:
    node1 = make_host("node1", NODE1_IP, NODE1_MAC, NODE1_GW_MAC, VXLAN1_MAC, "veth-c1")
    node2 = make_host("node2", NODE2_IP, NODE2_MAC, NODE2_GW_MAC, VXLAN2_MAC, "veth-c2")
    net = Overlay(node1, node2)
    net.gossip(PeerAdd(VNI, C1_IP, C1_MAC, NODE1_IP), 0)
    net.gossip(PeerAdd(VNI, C2_IP, C2_MAC, NODE2_IP), 0)

    # C1 does not know C2's MAC: its ARP floods br0 and reaches the VTEP, which answers by
    # proxy with C2's own MAC (not the VTEP's, whatever the book says), from gossip.
    net.send(node1, "veth-c1", arp_request(C1_MAC, C1_IP, C2_IP), 1 * SEC)
    assert node1.delivered == [("veth-c1", arp_reply(C2_MAC, C2_IP, C1_MAC, C1_IP))]
    assert net.underlay == []  # the ARP never left node1
    bridge1 = node1.bridge.entries()
    assert (bridge1[C1_MAC].port, bridge1[C2_MAC].port) == ("veth-c1", "vxlan0")

    # The echo request goes straight to vxlan0, out to node2 in VXLAN/UDP/IP.
    request = icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP)
    net.send(node1, "veth-c1", request, 2 * SEC)
    assert len(net.underlay) == 1
    wire = net.underlay[0]
    assert (wire.eth_src, wire.eth_dst, wire.ip_src, wire.ip_dst) == (
        NODE1_MAC, NODE1_GW_MAC, NODE1_IP, NODE2_IP)
    assert (wire.dport, wire.vni, wire.flags, wire.ttl, wire.frame) == (
        4789, VNI, 0x0800, 64, request)
    assert 32768 <= wire.sport <= 60999  # Linux: ip_local_port_range
    # node2 decapsulates by VNI; br0 does not know C2 yet and floods to its only veth.
    assert node2.delivered == [("veth-c2", request)]
    assert Decapsulated("vxlan0", VNI, request, NODE1_IP) in node2.log

    # C2 answers: ARP by proxy on node2, then the reply back across.
    net.send(node2, "veth-c2", arp_request(C2_MAC, C2_IP, C1_IP), 3 * SEC)
    reply = icmp_echo(C2_MAC, C1_MAC, C2_IP, C1_IP)
    net.send(node2, "veth-c2", reply, 3_500 * MS)
    assert node1.delivered[-1] == ("veth-c1", reply)
    assert [u.ip_dst for u in net.underlay] == [NODE2_IP, NODE1_IP]
    assert net.underlay[1].eth_dst == NODE2_GW_MAC

    for host in (node1, node2):
        # Docker's static entries mean nothing is learned by the VTEPs, and nothing missed.
        assert not any(isinstance(e, L2Miss | L3Miss) for e in host.log)
        assert not any(isinstance(e, Learned) and e.device == "vxlan0" for e in host.log)
