"""``synth ping``: the seed's overlay ping, produced by running the reference models.

Nothing here writes a packet by hand.  Containers (``actors.ContainerStack``) make frames, the
bridge and VTEP models of each host decide where they go, the VTEP's ``Encapsulated`` outputs
become underlay frames through ``frames.encapsulated_bytes``, the router forwards them, and the
receiving VTEP decapsulates what ``codec.decode`` reads back.  Taps record what a capture at
each point would see; a ladder of steps records who handed what to whom.

Timing is a small discrete-event simulation in integer nanoseconds, with delays drawn from a
``random.Random`` seeded by ``--seed``: same seed, same bytes.  ``--delay HOP=MS``
(``PingOptions.delays``) fixes the delay of a hop (:data:`HOPS`); the draw is still made and
thrown away, so every other hop keeps the time it has without the option.  The scheduler's
time is the models' ``now`` as it is; the devices age their tables when they next handle a
frame (the simulation schedules no ticks, so the bytes never depend on the ageing timers).
"""

from __future__ import annotations

import gc
import heapq
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions, decode
from vxlankit.frames import (
    encapsulated_bytes,
    fast_outer_frame,
    fast_path_ports,
    fast_vxlan_received,
    frame_at,
    frame_bytes,
    vxlan_received,
)
from vxlankit.model.bridge import Bridge
from vxlankit.model.controlplane import peer_add
from vxlankit.model.events import (
    ArpProxied,
    Decapsulated,
    Encapsulated,
    FdbAdd,
    FdbAppend,
    FdbDel,
    Flooded,
    Forwarded,
    Frame,
    FrameReceived,
    NdProxied,
    NeighDel,
    Output,
    PathMtu,
    PmtuLearned,
    TooBig,
    UdpDelivered,
    VtepTransmit,
    VxlanReceived,
)
from vxlankit.model.host import Host
from vxlankit.model.router import Router, RouterInterface
from vxlankit.model.vtep import Vtep, VtepConfig
from vxlankit.packet import Packet
from vxlankit.present.taps import RttSummary, rtt_summary
from vxlankit.synth.actors import ContainerStack, Echo
from vxlankit.synth.faults import FAULTS, Fault
from vxlankit.synth.topology import (
    DEFAULT_START_NS,
    DEFAULT_SUBNET,
    DEFAULT_VNI,
    INNER6_PREFIX,
    Node,
    Subnet,
    Topology,
    seed_topology,
)

ARP_MODES = ("proxy", "flood")
ROUTER_PORT = "router"

# Delay ranges in nanoseconds: a veth/bridge hop, a VTEP's work, one underlay link, a
# container's kernel answering.  Realistic orders of magnitude, not a benchmark.
_HOP = (3_000, 9_000)
_VTEP = (2_000, 6_000)
_WIRE = (120_000, 380_000)
_STACK = (8_000, 30_000)
_DECODED_KEPT = 32
# The underlay's devices (the router, a host's IP stack) read the outer headers only: what the
# UDP datagram carries stays undecoded, and no tunnel port is there to get wrong.
_OUTER_ONLY = DEFAULT_OPTIONS.with_vxlan_ports([], gpe_ports=()).with_geneve_ports([])

# The hops whose delay ``--delay HOP=MS`` fixes, and what names them further (HOP@WHO): a
# container for its veth and its stack, a node for the rest.
HOPS: dict[str, str] = {
    "veth": "a container's veth, either way: container to bridge, bridge to container",
    "bridge": "a bridge to its vxlan device or to the sandbox's router",
    "vtep": "a VTEP's work: encapsulating to eth0, decapsulating to the bridge, an ARP or "
            "ND proxy answer",
    "underlay": "one node's eth0 to the other's, through the underlay router (half each "
                "link); underlay@NODE: leaving NODE",
    "router": "the sandbox's router forwarding between two of its bridges",
    "stack": "a container's kernel answering (an echo reply, an ARP reply, the echo queued "
             "behind an ARP request)",
}
_BY_CONTAINER = ("veth", "stack")


def parse_delay(text: str) -> tuple[str, int]:
    """``HOP=MS`` or ``HOP@WHO=MS`` (``underlay=0.5``, ``vtep@node2=0.02``) as (hop, ns)."""
    hop, sep, value = text.partition("=")
    hop = hop.strip()
    if not sep or not hop:
        raise ValueError(f"--delay {text!r}: expected HOP=MS, e.g. underlay=0.5")
    try:
        delay_ms = float(value)
    except ValueError:
        raise ValueError(f"--delay {text!r}: {value!r} is not a number of milliseconds") from None
    if not 0 <= delay_ms <= 60_000:
        raise ValueError(f"--delay {text!r}: milliseconds must be from 0 to 60000")
    return hop, round(delay_ms * 1_000_000)


@dataclass(frozen=True)
class PingOptions:
    vni: int = DEFAULT_VNI
    count: int = 4
    interval_ns: int = 10**9  # between echo requests (the CLI's -i is in seconds)
    size: int = 56
    arp: str = "proxy"
    seed: int = 0
    port: int = 4789
    start_ns: int = DEFAULT_START_NS
    subnets: tuple[str, ...] = (DEFAULT_SUBNET,)
    to: str = "remote"
    underlay: str = "ipv4"  # the hosts' network: "ipv4" or "ipv6"
    inner: str = "ipv4"  # the containers' ping: "ipv4" or "ipv6" (NDP, ICMPv6)
    # Fixed one-way delays in ns, (HOP or HOP@WHO, ns) pairs (:data:`HOPS`): a later pair for
    # the same name wins, HOP@WHO before HOP.
    delays: tuple[tuple[str, int], ...] = ()
    fault: str | None = None  # one of synth.faults.FAULTS
    # ping numbers its echoes from 1 in 16 bits: after 65535 comes 0 (iputils, -c > 65535).
    first_seq: int = 1


@dataclass(frozen=True)
class TapPacket:
    ts_ns: int
    tap: str
    data: bytes


@dataclass(frozen=True)
class LadderStep:
    """An arrow: ``src`` hands the frame to ``dst`` at ``ts_ns``; it gets there at
    ``arrive_ns``."""

    ts_ns: int
    src: str
    dst: str
    label: str
    arrive_ns: int | None = None

    @property
    def one_way_ns(self) -> int | None:
        return None if self.arrive_ns is None else self.arrive_ns - self.ts_ns


@dataclass(frozen=True)
class _Step:
    """A ladder step as the simulation records it: the frame, not yet its label (``label``:
    one given outright).  Labels take a decode each, and most runs (``-c 20000``) draw no
    ladder."""

    ts_ns: int
    src: str
    dst: str
    data: bytes
    prefix: str = ""
    arrive_ns: int | None = None
    label: str | None = None

    def done(self, options: DecodeOptions) -> LadderStep:
        label = self.label or self.prefix + frame_label(self.data, options)
        return LadderStep(self.ts_ns, self.src, self.dst, label, self.arrive_ns)


@dataclass
class SynthResult:
    options: PingOptions
    topology: Topology
    taps: tuple[str, ...]
    packets: list[TapPacket]
    steps: list[_Step]  # in time order; ``ladder`` labels them on first use
    events: list[Output]
    bridges: dict[tuple[str, int], Bridge]
    vteps: dict[tuple[str, int], Vtep]
    routers: dict[str, Router]
    echoes: list[Echo] = field(default_factory=list)

    @cached_property
    def ladder(self) -> list[LadderStep]:
        """Who handed which frame to whom, in time order, each step labelled."""
        options = receiver_options(v.config.port for v in self.vteps.values())
        return [step.done(options) for step in self.steps]

    def tap_packets(self, tap: str) -> list[TapPacket]:
        return [p for p in self.packets if p.tap == tap]

    @property
    def pinger_tap(self) -> str:
        """The tap on the pinging container's interface (C1's veth)."""
        c1 = self.topology.containers[0]
        return f"{c1.node}/{c1.veth}"

    def rtt(self) -> RttSummary | None:
        """ping's summary of the answered echoes, timed as ``vxlankit stats`` times them on
        :attr:`pinger_tap`: from the request's frame to the reply's."""
        return rtt_summary([e.rtt_ns for e in self.echoes if e.rtt_ns is not None])

    def vtep(self, node: str, subnet: int = 0) -> Vtep:
        return self.vteps[(node, subnet)]

    @property
    def lanes(self) -> tuple[str, ...]:
        """The ladder's lanes, left to right, that some step uses: C1, node1's devices,
        the underlay, node2's devices in mirror order, C2."""
        topo = self.topology
        n1, n2 = (n.name for n in topo.nodes)
        subnets = topo.subnets

        def host(node: str, mirror: bool) -> list[str]:
            bridges = [f"{s.bridge}@{node}" for s in subnets]
            vxlans = [f"{s.vxlan}@{node}" for s in subnets]
            lanes = [bridges[0], f"router@{node}", *bridges[1:], *vxlans]
            return lanes[::-1] if mirror else lanes

        order = ["C1", *host(n1, False), "underlay", *host(n2, True), "C2"]
        used = {step.src for step in self.steps} | {step.dst for step in self.steps}
        return tuple(lane for lane in order if lane in used)


def receiver_options(ports: Iterable[int]) -> DecodeOptions:
    """How the scenario's VTEPs read the underlay: VXLAN on exactly their ``ports``, as Linux
    vxlan devices with those ``dstport``s do (no GPE port beside them)."""
    return DEFAULT_OPTIONS.with_vxlan_ports(sorted(set(ports)), gpe_ports=())


def frame_label(data: bytes, options: DecodeOptions = DEFAULT_OPTIONS) -> str:
    """A short name for a frame, for ladder arrows (``options``: which UDP port is VXLAN)."""
    packet = decode(data, 1, options)
    vxlan = packet.layer("vxlan")
    prefix = f"VXLAN VNI {vxlan['vxlan.vni']}: " if vxlan is not None else ""
    arp = packet.layer("arp", -1)
    if arp is not None and "arp.dst.proto_ipv4" in arp.fields:
        target, sender = arp["arp.dst.proto_ipv4"], arp["arp.src.proto_ipv4"]
        if arp["arp.opcode"] == 1:
            return f"{prefix}ARP who-has {target} tell {sender}"
        return f"{prefix}ARP {sender} is-at {arp['arp.src.hw_mac']}"
    icmp = packet.layer("icmp", -1)
    ip = packet.layer("ip", -1)
    if icmp is not None and icmp["icmp.type"] in (0, 8):
        kind = "request" if icmp["icmp.type"] == 8 else "reply"
        ttl = f" ttl={ip['ip.ttl']}" if ip is not None else ""
        return f"{prefix}ICMP echo {kind} seq={icmp['icmp.seq']}{ttl}"
    if icmp is not None:
        return f"{prefix}ICMP type {icmp['icmp.type']} code {icmp['icmp.code']}"
    icmp6 = packet.layer("icmpv6", -1)
    ip6 = packet.layer("ipv6", -1)
    if icmp6 is not None and ip6 is not None:
        return prefix + _icmpv6_label(icmp6.fields, ip6.fields)
    return prefix + packet.protocols


def _icmpv6_label(f: dict[str, Any], ip6: dict[str, Any]) -> str:
    itype = f["icmpv6.type"]
    if itype == 135 and "icmpv6.nd.ns.target_address" in f:
        return f"NS who-has {f['icmpv6.nd.ns.target_address']} tell {ip6['ipv6.src']}"
    if itype == 136 and "icmpv6.nd.na.target_address" in f:
        tll = f.get("icmpv6.opt.target_linkaddr") or []
        mac = bytes(tll[0]).hex(":") if tll else "?"
        return f"NA {f['icmpv6.nd.na.target_address']} is-at {mac}"
    if itype in (128, 129) and "icmpv6.echo.sequence_number" in f:
        kind = "request" if itype == 128 else "reply"
        return (f"ICMPv6 echo {kind} seq={f['icmpv6.echo.sequence_number']} "
                f"hlim={ip6['ipv6.hlim']}")
    return f"ICMPv6 type {itype} code {f['icmpv6.code']}"


class _Scenario:
    def __init__(self, options: PingOptions) -> None:
        if options.arp not in ARP_MODES:
            raise ValueError(f"--arp must be one of {ARP_MODES}, not {options.arp!r}")
        if options.arp == "flood" and len(options.subnets) > 1:
            # Every host's sandbox owns the gateway addresses.  Docker gets away with that
            # because its VTEPs answer ARP by proxy and drop what they cannot answer (l3miss),
            # so a gateway ARP never leaves the host; flood-and-learn would carry it to every
            # host, and each sandbox would answer with its own MAC.
            raise ValueError("--arp flood cannot route between subnets: each host's sandbox "
                             "answers for the same gateway addresses, so flooded gateway ARP "
                             "gets one reply per host; use --arp proxy (Docker's way)")
        self.fault = _fault(options)
        self.o = options
        self.topo = seed_topology(options.vni, options.port, options.seed, options.subnets,
                                  options.to, options.underlay, options.inner)
        topo = self.topo
        self.fixed = self._fixed_delays(options.delays)
        self.rng = random.Random(f"timing:{options.seed}")
        self.queue: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []
        self.seq = 0
        self._decoded: dict[bytes, Packet] = {}
        self._hops_of: tuple[bytes, list[VxlanReceived]] = (b"", [])
        self.packets: list[TapPacket] = []
        self.ladder: list[_Step] = []
        self.events: list[Output] = []
        self.bridges: dict[tuple[str, int], Bridge] = {}
        self.vteps: dict[tuple[str, int], Vtep] = {}
        self.routers: dict[str, Router] = {}
        self.link_last: dict[str, int] = {}  # an underlay link's latest arrival: see fifo()
        self.stacks: dict[str, ContainerStack] = {}
        self.port_owner: dict[tuple[str, str], str] = {}  # (node, veth) -> container
        stack_rng = random.Random(f"stacks:{options.seed}")
        for c in topo.containers:
            net = topo.subnets[c.subnet]
            if c.ip6 is not None:  # --inner ipv6: the stack that pings is the IPv6 one
                self.stacks[c.name] = ContainerStack(c.name, c.ip6, c.mac, stack_rng,
                                                     INNER6_PREFIX)
            else:
                self.stacks[c.name] = ContainerStack(
                    c.name, c.ip, c.mac, stack_rng, net.prefix,
                    net.gateway if topo.routed else None)
            self.port_owner[(c.node, c.veth)] = c.name
        for node in topo.nodes:
            for net in topo.subnets:
                ports = [c.veth for c in topo.containers
                         if c.node == node.name and c.subnet == net.index]
                ports.append(net.vxlan)
                if topo.routed:
                    ports.append(ROUTER_PORT)
                self.bridges[(node.name, net.index)] = Bridge(f"{net.bridge}@{node.name}", ports)
                self.vteps[(node.name, net.index)] = Vtep(self._vtep_config(node, net.index))
            if topo.routed:
                self.routers[node.name] = Router(f"router@{node.name}", [
                    RouterInterface(net.bridge, net.prefix, net.gateway,
                                    node.bridge_macs[net.index])
                    for net in topo.subnets])
        # The underlay router between the nodes' subnets: the same model as a sandbox's, with
        # the nodes' addresses resolved (underlay ARP is not what this scenario is about).
        small = self.fault.underlay_mtu or 1500
        self.underlay = Router("underlay-router", [
            RouterInterface(n.name, n.subnet, n.gateway_ip, n.gateway_mac,
                            small if n is topo.nodes[-1] else 1500) for n in topo.nodes])
        for n in topo.nodes:
            self.underlay.neighbours[n.name][n.ip] = n.mac
        # Each host's own stack (IPv4 underlay): the VXLAN sockets, reassembly, ICMP.
        self.hosts = {n.name: Host(f"host@{n.name}", n.ip, n.mac, n.gateway_mac,
                                   tuple({v.config.port for (name, _), v in self.vteps.items()
                                          if name == n.name}),
                                   random.Random(f"host:{options.seed}:{n.name}").randrange(
                                       0x10000))
                      for n in topo.nodes}
        # The receiving VTEPs decapsulate what arrives on their ports, whatever they are.
        self.receive_options = receiver_options(v.config.port for v in self.vteps.values())
        fast_ports = fast_path_ports(self.receive_options)
        assert fast_ports is not None  # only the VXLAN ports differ from the defaults
        self.receive_ports = fast_ports
        self._control_plane()

    def node_vni(self, node: str, index: int) -> int:
        """The VNI ``node``'s device for subnet ``index`` has (a fault may make them differ)."""
        second = node == self.topo.nodes[-1].name
        return self.topo.subnets[index].vni + (self.fault.node2_vni_offset if second else 0)

    def _fixed_delays(self, delays: tuple[tuple[str, int], ...]) -> dict[str, int]:
        containers = [c.name for c in self.topo.containers]
        nodes = [n.name for n in self.topo.nodes]
        fixed: dict[str, int] = {}
        for name, ns in delays:
            hop, _, who = name.partition("@")
            if hop not in HOPS:
                raise ValueError(f"--delay: no hop named {hop!r}; hops: {', '.join(HOPS)}")
            if who:
                allowed = containers if hop in _BY_CONTAINER else nodes
                if who not in allowed:
                    raise ValueError(f"--delay: {hop}@{who}: {hop} is named by "
                                     f"{' or '.join(allowed)}")
            if ns < 0:
                raise ValueError(f"--delay {name}: a delay cannot be negative")
            fixed[name] = ns
        return fixed

    def _vtep_config(self, node: Node, index: int) -> VtepConfig:
        net = self.topo.subnets[index]
        fault = self.fault
        hops = {other.subnet: node.gateway_mac for other in self.topo.nodes if other is not node}
        second = node is self.topo.nodes[-1]
        port = fault.node2_port if second and fault.node2_port else self.o.port
        common: dict[str, Any] = {"port": port, "next_hops": hops,
                                  "dev_mac": node.vxlan_macs[index],
                                  "ip_id_start": self.rng.randrange(0x10000),
                                  "name": f"{net.vxlan}@{node.name}"}
        if fault.df is not None:
            common["df"] = fault.df
        if fault.vtep_ttl:
            common["ttl"] = fault.vtep_ttl
        vni = self.node_vni(node.name, index)
        if self.o.arp == "proxy":
            return VtepConfig.docker(node.ip, node.mac, (vni,), **common)
        return VtepConfig(node.ip, node.mac, vnis=(vni,), learning=True, proxy=False,
                          **common)

    # -- set-up

    def _control_plane(self) -> None:
        now = self.o.start_ns
        topo = self.topo
        for node in topo.nodes:
            for net in topo.subnets:
                vtep = self.vteps[(node.name, net.index)]
                vni = self.node_vni(node.name, net.index)
                if self.o.arp == "proxy":
                    # Docker's gossip: each remote endpoint becomes a neighbour and a static
                    # FDB entry on the VTEP of its subnet.
                    for c in topo.containers:
                        if c.node != node.name and c.subnet == net.index:
                            remote = topo.node(c.node)
                            for event in peer_add(vni, c.ip, c.mac, remote.ip):
                                self.events.extend(vtep.handle(event, now))  # type: ignore[arg-type]
                            if c.ip6 is not None:
                                # A dual-stack endpoint: its IPv6 address too, for the ND
                                # proxy (the FDB entry is the same: no change).
                                for event in peer_add(vni, c.ip6, c.mac, remote.ip):
                                    self.events.extend(vtep.handle(event, now))  # type: ignore[arg-type]
                else:
                    # RFC 7348 flood-and-learn: head-end replication to every other VTEP.
                    for other in topo.nodes:
                        if other is not node:
                            event = FdbAppend(vni, "00:00:00:00:00:00", other.ip,
                                              reason="head-end replication list")
                            self.events.extend(vtep.handle(event, now))
        self._inject_fault(now)

    def _inject_fault(self, now: int) -> None:
        """What the fault changes in the tables the control plane (or the user) programmed."""
        fault = self.fault
        n1, n2 = self.topo.nodes
        c1, c2 = self.topo.containers
        first, second = self.vteps[(n1.name, 0)], self.vteps[(n2.name, 0)]
        changes: list[tuple[Vtep, Any]] = []
        if fault.stale_remote:
            changes.append((second, FdbAdd(self.node_vni(n2.name, 0), c1.mac,
                                           fault.stale_remote, static=True,
                                           reason="fault: a stale remote")))
        if fault.drop_neighbour:
            changes.append((first, NeighDel(self.node_vni(n1.name, 0), c2.ip,
                                            reason="fault: gossip lost")))
        if fault.drop_fdb:
            changes.append((first, FdbDel(self.node_vni(n1.name, 0), c2.mac,
                                          reason="fault: gossip lost")))
        for vtep, event in changes:
            self.events.extend(vtep.handle(event, now))

    # -- the event loop

    def at(self, t: int, fn: Callable[..., None], *args: Any) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (t, self.seq, fn, args))

    def decode(self, data: bytes) -> Packet:
        """``data`` decoded, from a few recent frames' decodes: a frame is looked at on its way
        in and again where it arrives (the same inner bytes at C1's and C2's veth)."""
        packet = self._decoded.get(data)
        if packet is None:
            if len(self._decoded) >= _DECODED_KEPT:
                del self._decoded[next(iter(self._decoded))]
            packet = self._decoded[data] = decode(data)
        return packet

    def frame(self, data: bytes) -> Frame:
        frame = frame_at(self.decode(data), 0)
        if frame is None:
            raise ValueError("not an Ethernet frame")
        return frame

    @staticmethod
    def outer_frame(wire: bytes) -> Frame:
        """An underlay frame as the underlay's devices read it: its outer headers."""
        frame = fast_outer_frame(wire) or frame_at(decode(wire, 1, _OUTER_ONLY), 0)
        if frame is None:
            raise ValueError("not an Ethernet frame")
        return frame

    def received_hops(self, wire: bytes) -> list[VxlanReceived]:
        """The VXLAN hop of an underlay frame, read as the receiving VTEPs read it: on their
        ports, from the bytes when the frame has the common shape."""
        if wire is self._hops_of[0]:
            return self._hops_of[1]  # the router's lane choice read this frame a moment ago
        fast = fast_vxlan_received(wire, 1, *self.receive_ports)
        if fast is not None:
            hops = fast[1]
        else:
            hops = [hop for _, hop in vxlan_received(decode(wire, 1, self.receive_options))]
        self._hops_of = (wire, hops[:1])
        return hops[:1]

    def delay(self, span: tuple[int, int], hop: str, who: str, half: int | None = None) -> int:
        """A random delay in ``span``, unless ``--delay`` fixed this hop's (``half``: which of
        the underlay's two links, 0 or 1, each taking half the fixed delay)."""
        drawn = self.rng.randrange(span[0], span[1])  # drawn either way: see the module doc
        fixed = self.fixed.get(f"{hop}@{who}", self.fixed.get(hop))
        if fixed is None:
            return drawn
        if half is None:
            return fixed
        return fixed // 2 if half == 0 else fixed - fixed // 2

    def run(self) -> None:
        c1, c2 = self.topo.containers
        for i in range(self.o.count):
            # When ping fires, jittered: a start, not a hop, so --delay leaves it random.
            start = self.rng.randrange(_STACK[0], _STACK[1])
            self.at(self.o.start_ns + i * self.o.interval_ns + start, self.ping,
                    c1.name, c2.ip6 or c2.ip, (self.o.first_seq + i) & 0xFFFF)
        if self.fault.both_ways:
            for i in range(self.o.count):
                start = self.rng.randrange(_STACK[0], _STACK[1])
                self.at(self.o.start_ns + i * self.o.interval_ns + self.o.interval_ns // 2
                        + start, self.ping, c2.name, c1.ip, (self.o.first_seq + i) & 0xFFFF)
        # The run allocates hundreds of thousands of long-lived objects (frames, taps, steps)
        # and no garbage cycles: the cyclic collector would only walk them, again and again.
        collecting = gc.isenabled()
        gc.disable()
        try:
            queue, pop = self.queue, heapq.heappop
            while queue:
                t, _, fn, args = pop(queue)
                fn(t, *args)
        finally:
            if collecting:
                gc.enable()
        self.packets.sort(key=lambda p: p.ts_ns)
        self.ladder.sort(key=lambda s: s.ts_ns)

    def fifo(self, link: str, arrive: int) -> int:
        """``arrive``, or just after the previous arrival over ``link`` (a hop: a veth, a
        bridge port, a VTEP's way out, an underlay link): each delivers in order, as the
        kernel's queues do, so that the fragments of one packet, sent back to back, arrive
        as they were sent."""
        arrive = max(arrive, self.link_last.get(link, -1) + 1)
        self.link_last[link] = arrive
        return arrive

    def tap(self, t: int, name: str, data: bytes) -> None:
        self.packets.append(TapPacket(t, name, data))

    def step(self, t: int, src: str, dst: str, data: bytes, label: str | None = None, *,
             arrive: int | None = None, prefix: str = "") -> None:
        self.ladder.append(_Step(t, src, dst, data, prefix, arrive, label))

    def bridge_lane(self, node: str, index: int) -> str:
        return f"{self.topo.subnets[index].bridge}@{node}"

    # -- containers

    def ping(self, t: int, name: str, dst_ip: str, seq: int) -> None:
        for data in self.stacks[name].ping(dst_ip, seq, self.o.size, t):
            self.container_send(t, name, data)

    def container_send(self, t: int, name: str, data: bytes) -> None:
        c = self.topo.container(name)
        self.tap(t, f"{c.node}/{c.veth}", data)
        self.stacks[name].frame_sent(data, t)
        arrive = self.fifo(f"{name}>bridge", t + self.delay(_HOP, "veth", name))
        self.step(t, name, self.bridge_lane(c.node, c.subnet), data, arrive=arrive)
        self.at(arrive, self.bridge_receive, c.node, c.subnet, c.veth,
                self.frame(data), data)

    def container_receive(self, t: int, name: str, data: bytes) -> None:
        c = self.topo.container(name)
        self.tap(t, f"{c.node}/{c.veth}", data)
        for reply in self.stacks[name].receive(data, t, self.decode(data)):
            self.at(self.fifo(f"{name}>stack", t + self.delay(_STACK, "stack", name)),
                    self.container_send, name, reply)

    # -- host devices

    def bridge_receive(self, t: int, node: str, index: int, port: str, frame: Frame,
                       data: bytes) -> None:
        if self.topo.routed:
            # A capture on the bridge device: every frame the bridge takes in, on any port.
            self.tap(t, f"{node}/{self.topo.subnets[index].bridge}", data)
        outputs = self.bridges[(node, index)].handle(FrameReceived(port, frame), t)
        for out in outputs:
            if isinstance(out, Forwarded):
                self.bridge_deliver(t, node, index, out.port, frame, data)
            elif isinstance(out, Flooded):
                for egress in out.ports:
                    self.bridge_deliver(t, node, index, egress, frame, data)
            else:
                self.events.append(out)

    def bridge_deliver(self, t: int, node: str, index: int, port: str, frame: Frame,
                       data: bytes) -> None:
        lane = self.bridge_lane(node, index)
        net = self.topo.subnets[index]
        if port == net.vxlan:
            arrive = self.fifo(f"{lane}>{port}", t + self.delay(_HOP, "bridge", node))
            self.step(t, lane, f"{net.vxlan}@{node}", data, arrive=arrive)
            self.at(arrive, self.vtep_transmit, node, index, frame, data)
        elif port == ROUTER_PORT:
            arrive = self.fifo(f"{lane}>{port}", t + self.delay(_HOP, "bridge", node))
            if frame.dst in (self.topo.node(node).bridge_macs[index], "ff:ff:ff:ff:ff:ff"):
                self.step(t, lane, f"router@{node}", data, arrive=arrive)
            self.at(arrive, self.router_receive, node, index, frame)
        else:
            name = self.port_owner[(node, port)]
            arrive = self.fifo(f"{lane}>{port}", t + self.delay(_HOP, "veth", name))
            self.step(t, lane, name, data, arrive=arrive)
            self.at(arrive, self.container_receive, name, data)

    def router_receive(self, t: int, node: str, index: int, frame: Frame) -> None:
        router = self.routers[node]
        for out in router.handle(FrameReceived(self.topo.subnets[index].bridge, frame), t):
            if isinstance(out, Forwarded):
                egress = next(n.index for n in self.topo.subnets if n.bridge == out.port)
                data = frame_bytes(out.frame)
                arrive = self.fifo(f"router@{node}>{egress}",
                                   t + self.delay(_STACK, "router", node))
                self.step(t, f"router@{node}", self.bridge_lane(node, egress), data,
                          arrive=arrive)
                self.at(arrive, self.bridge_receive, node, egress, ROUTER_PORT,
                        self.frame(data), data)
            else:
                self.events.append(out)

    def vtep_transmit(self, t: int, node: str, index: int, frame: Frame, data: bytes) -> None:
        net = self.topo.subnets[index]
        vni = self.node_vni(node, index)
        for out in self.vteps[(node, index)].handle(VtepTransmit(vni, frame), t):
            self.events.append(out)
            if isinstance(out, Encapsulated):
                wire = encapsulated_bytes(out)
                sent = self.fifo(f"{node}/eth0", t + self.delay(_VTEP, "vtep", node))
                self.tap(sent, f"{node}/eth0", wire)
                arrive = self.fifo(f"{node}->router",
                                   sent + self.delay(_WIRE, "underlay", node, half=0))
                self.step(sent, f"{net.vxlan}@{node}", "underlay", wire, arrive=arrive)
                self.at(arrive, self.route, node, wire)
            elif isinstance(out, (ArpProxied, NdProxied)):
                reply = frame_bytes(out.frame)
                arrive = self.fifo(f"{net.vxlan}@{node}>bridge",
                                   t + self.delay(_VTEP, "vtep", node))
                self.step(t, f"{net.vxlan}@{node}", self.bridge_lane(node, index), reply,
                          prefix="proxy ", arrive=arrive)
                self.at(arrive, self.bridge_receive, node, index, net.vxlan,
                        self.frame(reply), reply)
            elif isinstance(out, TooBig):
                # vxlan_encap_bypass: the ICMP comes back in through the vxlan port.
                icmp = frame_bytes(out.icmp)
                arrive = self.fifo(f"{net.vxlan}@{node}>bridge",
                                   t + self.delay(_VTEP, "vtep", node))
                self.step(t, f"{net.vxlan}@{node}", self.bridge_lane(node, index), icmp,
                          f"ICMP frag needed (mtu {out.mtu})", arrive=arrive)
                self.at(arrive, self.bridge_receive, node, index, net.vxlan, out.icmp, icmp)

    def route(self, t: int, node: str, wire: bytes) -> None:
        for out in self.underlay.handle(FrameReceived(node, self.outer_frame(wire)), t):
            if isinstance(out, Forwarded):
                routed = frame_bytes(out.frame)
                arrive = self.fifo(f"router->{out.port}",
                                   t + self.delay(_WIRE, "underlay", node, half=1))
                # The arrow leaves the underlay when the router sends the frame on, so that
                # its one-way time is the second link's.
                net = self._receiving_subnet(routed)
                if net is not None:
                    self.step(t, "underlay", f"{net.vxlan}@{out.port}", routed, arrive=arrive)
                self.at(arrive, self.underlay_receive, out.port, routed)
            else:
                self.events.append(out)

    def _receiving_subnet(self, wire: bytes) -> Subnet | None:
        by_vni = {net.vni: net for net in self.topo.subnets}
        for event in self.received_hops(wire):
            return by_vni.get(event.vni)
        return None

    def underlay_receive(self, t: int, node: str, wire: bytes) -> None:
        self.tap(t, f"{node}/eth0", wire)
        if self.o.underlay != "ipv4":
            for event in self.received_hops(wire):
                self.vtep_receive(t, node, event, wire)
            return
        host = self.hosts[node]
        for out in host.handle(FrameReceived("eth0", self.outer_frame(wire)), t):
            if isinstance(out, UdpDelivered):
                whole = frame_bytes(out.frame)
                for event in self.received_hops(wire if whole == wire else whole):
                    self.vtep_receive(t, node, event, whole)
            elif isinstance(out, Forwarded):
                # The host's own ICMP error, out of eth0 to the router.
                sent = self.fifo(f"{node}/eth0", t + self.delay(_VTEP, "vtep", node))
                reply = frame_bytes(out.frame)
                self.tap(sent, f"{node}/eth0", reply)
                arrive = self.fifo(f"{node}->router",
                                   sent + self.delay(_WIRE, "underlay", node, half=0))
                self.step(sent, f"host@{node}", "underlay", reply, arrive=arrive)
                self.at(arrive, self.route, node, reply)
            elif isinstance(out, PmtuLearned):
                self.events.append(out)
                for (name, _), vtep in self.vteps.items():
                    if name == node:
                        self.events.extend(vtep.handle(PathMtu(out.remote, out.mtu), t))
            else:
                self.events.append(out)

    def vtep_receive(self, t: int, node: str, event: VxlanReceived, wire: bytes) -> None:
        """The datagram reaches the vxlan socket of ``node``: the device that serves its VNI,
        or (no device does) the first one, which drops it as vxlan_rcv does."""
        mine = [(index, vtep) for (name, index), vtep in sorted(self.vteps.items())
                if name == node]
        serving = [(i, v) for i, v in mine if event.vni in v.config.vnis]
        index, vtep = (serving or mine)[0]  # no device serves it: the model drops it
        net = self.topo.subnets[index]
        for out in vtep.handle(event, t):
            self.events.append(out)
            if isinstance(out, Decapsulated):
                inner = frame_bytes(out.frame)
                arrive = self.fifo(f"{net.vxlan}@{node}>bridge",
                                   t + self.delay(_VTEP, "vtep", node))
                self.step(t, f"{net.vxlan}@{node}", self.bridge_lane(node, net.index),
                          inner, prefix="decap ", arrive=arrive)
                self.at(arrive, self.bridge_receive, node, net.index, net.vxlan, out.frame,
                        inner)


def _fault(options: PingOptions) -> Fault:
    """The fault ``options`` asks for (none: a fault that changes nothing)."""
    if options.fault is None:
        return Fault("none", "")
    fault = FAULTS.get(options.fault)
    if fault is None:
        raise ValueError(f"--fault must be one of {', '.join(FAULTS)}, not {options.fault!r}")
    if (len(options.subnets) > 1 or options.to != "remote" or options.underlay != "ipv4"
            or options.inner != "ipv4"):
        raise ValueError("--fault works on the seed's overlay: one subnet, C2 on node2, an "
                         "IPv4 underlay and IPv4 containers")
    if (fault.drop_neighbour or fault.drop_fdb) and options.arp != "proxy":
        raise ValueError(f"--fault {fault.name} removes what Docker's gossip installs: it "
                         "needs --arp proxy")
    return fault


def synthesize_ping(options: PingOptions | None = None) -> SynthResult:
    """Run the seed's ping exchange through the models and return what every tap saw."""
    options = options or PingOptions()
    scenario = _Scenario(options)
    scenario.run()
    topo = scenario.topo
    c1, c2 = topo.containers
    n1, n2 = topo.nodes
    taps = [f"{c1.node}/{c1.veth}"]
    if topo.routed:
        taps += [f"{n1.name}/{s.bridge}" for s in topo.subnets]
    taps += [f"{n1.name}/eth0", f"{n2.name}/eth0"]
    if topo.routed:
        taps += [f"{n2.name}/{s.bridge}" for s in topo.subnets]
    taps.append(f"{c2.node}/{c2.veth}")
    return SynthResult(options, topo, tuple(taps), scenario.packets, scenario.ladder,
                       scenario.events, scenario.bridges, scenario.vteps, scenario.routers,
                       scenario.stacks[c1.name].echoes)
