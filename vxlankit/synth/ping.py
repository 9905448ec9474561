"""``synth ping``: the seed's overlay ping, produced by running the reference models.

Nothing here writes a packet by hand.  Containers (``actors.ContainerStack``) make frames, the
bridge and VTEP models of each host decide where they go, the VTEP's ``Encapsulated`` outputs
become underlay frames through ``frames.encapsulated_bytes``, the router forwards them, and the
receiving VTEP decapsulates what ``codec.decode`` reads back.  Taps record what a capture at
each point would see; a ladder of steps records who handed what to whom.

Timing is a small discrete-event simulation in integer nanoseconds, with delays drawn from a
``random.Random`` seeded by ``--seed``: same seed, same bytes.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vxlankit.codec import decode
from vxlankit.frames import encapsulated_bytes, frame_bytes, frame_from_bytes, vxlan_received
from vxlankit.model.bridge import Bridge
from vxlankit.model.controlplane import peer_add
from vxlankit.model.events import (
    ArpProxied,
    Decapsulated,
    Encapsulated,
    FdbAppend,
    Flooded,
    Forwarded,
    Frame,
    FrameReceived,
    Output,
    VtepTransmit,
)
from vxlankit.model.vtep import Vtep, VtepConfig
from vxlankit.synth.actors import ContainerStack, Echo, Router
from vxlankit.synth.topology import DEFAULT_START_NS, DEFAULT_VNI, Topology, seed_topology

ARP_MODES = ("proxy", "flood")
VTEP_PORT = "vxlan0"

# Delay ranges in nanoseconds: a veth/bridge hop, a VTEP's work, one underlay link, a
# container's kernel answering.  Realistic orders of magnitude, not a benchmark.
_HOP = (3_000, 9_000)
_VTEP = (2_000, 6_000)
_WIRE = (120_000, 380_000)
_STACK = (8_000, 30_000)


@dataclass(frozen=True)
class PingOptions:
    vni: int = DEFAULT_VNI
    count: int = 4
    interval: float = 1.0
    size: int = 56
    arp: str = "proxy"
    seed: int = 0
    port: int = 4789
    start_ns: int = DEFAULT_START_NS


@dataclass(frozen=True)
class TapPacket:
    ts_ns: int
    tap: str
    data: bytes


@dataclass(frozen=True)
class LadderStep:
    ts_ns: int
    src: str
    dst: str
    label: str


@dataclass
class SynthResult:
    options: PingOptions
    topology: Topology
    taps: tuple[str, ...]
    packets: list[TapPacket]
    ladder: list[LadderStep]
    events: list[Output]
    bridges: dict[str, Bridge]
    vteps: dict[str, Vtep]
    echoes: list[Echo] = field(default_factory=list)

    def tap_packets(self, tap: str) -> list[TapPacket]:
        return [p for p in self.packets if p.tap == tap]

    @property
    def lanes(self) -> tuple[str, ...]:
        n1, n2 = (n.name for n in self.topology.nodes)
        c1, c2 = (c.name for c in self.topology.containers)
        return (c1, f"br0@{n1}", f"vxlan0@{n1}", "underlay", f"vxlan0@{n2}", f"br0@{n2}", c2)


def frame_label(data: bytes) -> str:
    """A short name for a frame, for ladder arrows."""
    packet = decode(data)
    vxlan = packet.layer("vxlan")
    prefix = f"VXLAN VNI {vxlan['vxlan.vni']}: " if vxlan is not None else ""
    arp = packet.layer("arp", -1)
    if arp is not None and "arp.dst.proto_ipv4" in arp.fields:
        target, sender = arp["arp.dst.proto_ipv4"], arp["arp.src.proto_ipv4"]
        if arp["arp.opcode"] == 1:
            return f"{prefix}ARP who-has {target} tell {sender}"
        return f"{prefix}ARP {sender} is-at {arp['arp.src.hw_mac']}"
    icmp = packet.layer("icmp", -1)
    if icmp is not None and icmp["icmp.type"] in (0, 8):
        kind = "request" if icmp["icmp.type"] == 8 else "reply"
        return f"{prefix}ICMP echo {kind} seq={icmp['icmp.seq']}"
    return prefix + packet.protocols


class _Scenario:
    def __init__(self, options: PingOptions) -> None:
        if options.arp not in ARP_MODES:
            raise ValueError(f"--arp must be one of {ARP_MODES}, not {options.arp!r}")
        self.o = options
        self.topo = seed_topology(options.vni, options.port, options.seed)
        self.rng = random.Random(f"timing:{options.seed}")
        self.queue: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []
        self.seq = 0
        self.packets: list[TapPacket] = []
        self.ladder: list[LadderStep] = []
        self.events: list[Output] = []
        self.bridges: dict[str, Bridge] = {}
        self.vteps: dict[str, Vtep] = {}
        self.stacks: dict[str, ContainerStack] = {}
        self.port_owner: dict[tuple[str, str], str] = {}  # (node, port) -> container
        stack_rng = random.Random(f"stacks:{options.seed}")
        for c in self.topo.containers:
            self.stacks[c.name] = ContainerStack(c.name, c.ip, c.mac, stack_rng)
            self.port_owner[(c.node, c.veth)] = c.name
        for node in self.topo.nodes:
            ports = [c.veth for c in self.topo.containers if c.node == node.name] + [VTEP_PORT]
            self.bridges[node.name] = Bridge(f"br0@{node.name}", ports)
            hops = {other.subnet: node.gateway_mac for other in self.topo.nodes
                    if other is not node}
            common: dict[str, Any] = {"port": options.port, "next_hops": hops,
                                      "dev_mac": node.vxlan_mac,
                                      "ip_id_start": self.rng.randrange(0x10000)}
            if options.arp == "proxy":
                config = VtepConfig.docker(node.ip, node.mac, (options.vni,),
                                           name=f"vxlan0@{node.name}", **common)
            else:
                config = VtepConfig(node.ip, node.mac, name=f"vxlan0@{node.name}",
                                    vnis=(options.vni,), learning=True, proxy=False, **common)
            self.vteps[node.name] = Vtep(config)
        self.router = Router(
            {n.name: (n.subnet, n.gateway_mac) for n in self.topo.nodes},
            {n.ip: n.mac for n in self.topo.nodes},
        )
        self._control_plane()

    # -- set-up

    def _control_plane(self) -> None:
        now = self.o.start_ns / 1e9
        for node in self.topo.nodes:
            vtep = self.vteps[node.name]
            if self.o.arp == "proxy":
                # Docker's gossip: every remote endpoint becomes a neighbour + static FDB entry.
                for c in self.topo.containers:
                    if c.node != node.name:
                        remote = self.topo.node(c.node)
                        for event in peer_add(self.o.vni, c.ip, c.mac, remote.ip):
                            self.events.extend(vtep.handle(event, now))  # type: ignore[arg-type]
            else:
                # RFC 7348 flood-and-learn with head-end replication to every other VTEP.
                for other in self.topo.nodes:
                    if other is not node:
                        event = FdbAppend(self.o.vni, "00:00:00:00:00:00", other.ip,
                                          reason="head-end replication list")
                        self.events.extend(vtep.handle(event, now))

    # -- the event loop

    def at(self, t: int, fn: Callable[..., None], *args: Any) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (t, self.seq, fn, args))

    def delay(self, span: tuple[int, int]) -> int:
        return self.rng.randrange(span[0], span[1])

    def run(self) -> None:
        c1, c2 = self.topo.containers
        interval_ns = round(self.o.interval * 1e9)
        for i in range(self.o.count):
            self.at(self.o.start_ns + i * interval_ns + self.delay(_STACK), self.ping, c1.name,
                    c2.ip, i + 1)
        while self.queue:
            t, _, fn, args = heapq.heappop(self.queue)
            fn(t, *args)
        self.packets.sort(key=lambda p: p.ts_ns)
        self.ladder.sort(key=lambda s: s.ts_ns)

    def tap(self, t: int, name: str, data: bytes) -> None:
        self.packets.append(TapPacket(t, name, data))

    def step(self, t: int, src: str, dst: str, data: bytes, label: str | None = None) -> None:
        self.ladder.append(LadderStep(t, src, dst, label or frame_label(data)))

    # -- containers

    def ping(self, t: int, name: str, dst_ip: str, seq: int) -> None:
        for data in self.stacks[name].ping(dst_ip, seq, self.o.size, t):
            self.container_send(t, name, data)

    def container_send(self, t: int, name: str, data: bytes) -> None:
        c = self.topo.container(name)
        self.tap(t, f"{c.node}/{c.veth}", data)
        self.step(t, name, f"br0@{c.node}", data)
        self.at(t + self.delay(_HOP), self.bridge_receive, c.node, c.veth, frame_from_bytes(data),
                data)

    def container_receive(self, t: int, name: str, data: bytes) -> None:
        c = self.topo.container(name)
        self.tap(t, f"{c.node}/{c.veth}", data)
        for reply in self.stacks[name].receive(data, t):
            self.at(t + self.delay(_STACK), self.container_send, name, reply)

    # -- host devices

    def bridge_receive(self, t: int, node: str, port: str, frame: Frame, data: bytes) -> None:
        outputs = self.bridges[node].handle(FrameReceived(port, frame), t / 1e9)
        for out in outputs:
            if isinstance(out, Forwarded):
                self.bridge_deliver(t, node, out.port, frame, data)
            elif isinstance(out, Flooded):
                for egress in out.ports:
                    self.bridge_deliver(t, node, egress, frame, data)
            else:
                self.events.append(out)

    def bridge_deliver(self, t: int, node: str, port: str, frame: Frame, data: bytes) -> None:
        if port == VTEP_PORT:
            self.step(t, f"br0@{node}", f"vxlan0@{node}", data)
            self.at(t + self.delay(_HOP), self.vtep_transmit, node, frame, data)
            return
        name = self.port_owner[(node, port)]
        self.step(t, f"br0@{node}", name, data)
        self.at(t + self.delay(_HOP), self.container_receive, name, data)

    def vtep_transmit(self, t: int, node: str, frame: Frame, data: bytes) -> None:
        for out in self.vteps[node].handle(VtepTransmit(self.o.vni, frame), t / 1e9):
            self.events.append(out)
            if isinstance(out, Encapsulated):
                wire = encapsulated_bytes(out)
                sent = t + self.delay(_VTEP)
                self.tap(sent, f"{node}/eth0", wire)
                self.step(sent, f"vxlan0@{node}", "underlay", wire)
                self.at(sent + self.delay(_WIRE), self.route, wire)
            elif isinstance(out, ArpProxied):
                reply = frame_bytes(out.frame)
                self.step(t, f"vxlan0@{node}", f"br0@{node}", reply,
                          "proxy " + frame_label(reply))
                self.at(t + self.delay(_VTEP), self.bridge_receive, node, VTEP_PORT,
                        frame_from_bytes(reply), reply)

    def route(self, t: int, wire: bytes) -> None:
        forwarded = self.router.forward(wire)
        if forwarded is None:
            return
        node, out = forwarded
        self.at(t + self.delay(_WIRE), self.underlay_receive, node, out)

    def underlay_receive(self, t: int, node: str, wire: bytes) -> None:
        self.tap(t, f"{node}/eth0", wire)
        self.step(t, "underlay", f"vxlan0@{node}", wire)
        for _, event in vxlan_received(decode(wire))[:1]:
            for out in self.vteps[node].handle(event, t / 1e9):
                self.events.append(out)
                if isinstance(out, Decapsulated):
                    inner = frame_bytes(out.frame)
                    self.step(t, f"vxlan0@{node}", f"br0@{node}", inner,
                              "decap " + frame_label(inner))
                    self.at(t + self.delay(_VTEP), self.bridge_receive, node, VTEP_PORT,
                            out.frame, inner)


def synthesize_ping(options: PingOptions | None = None) -> SynthResult:
    """Run the seed's ping exchange through the models and return what every tap saw."""
    options = options or PingOptions()
    scenario = _Scenario(options)
    scenario.run()
    topo = scenario.topo
    taps = []
    for c, node in ((topo.containers[0], topo.nodes[0]), (topo.containers[1], topo.nodes[1])):
        taps.append(f"{c.node}/{c.veth}")
        taps.append(f"{node.name}/eth0")
    order = (taps[0], taps[1], taps[3], taps[2])  # C1's veth, node1, node2, C2's veth
    return SynthResult(options, topo, order, scenario.packets, scenario.ladder, scenario.events,
                       scenario.bridges, scenario.vteps, scenario.stacks[topo.containers[0].name]
                       .echoes)
