"""The seed's overlay built on the kernel: the addresses and MACs of ``synth``'s topology, in
network namespaces.

Namespaces (short names; ``Netns`` adds the run's prefix)::

    router        one veth to each node, forwarding, the underlay gateways
    node1, node2  eth0 on the underlay; each vxlan device's UDP socket lives here
    node1-sbox    br0 (the overlay gateway's address), vxlan0, the bridge side of veth-C1
    node2-sbox    the same for node2
    c1, c2        the containers: eth0 with Docker's MAC for their address

vxlan0 is created in the node's namespace and moved into the sandbox, as Docker's libnetwork
does: the device serves the sandbox, its socket and underlay routing stay with the host.  The
MACs are ``synth``'s (``seed_topology``), so that both write the same frames; the underlay's
neighbours are set statically (``synth`` does not model underlay ARP either).

``LabFaults`` breaks the overlay on purpose, on node2's side, for the diagnosis work that
builds on this (issue #17); the default is none.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from vxlankit.errors import LabError
from vxlankit.lab.netns import Netns
from vxlankit.synth.topology import DEFAULT_SUBNET, DEFAULT_VNI, Topology, seed_topology

MODES = ("docker", "learning")
OVERLAY_MTU = 1450  # what Docker gives the overlay's devices: 1500 less VXLAN's 50 bytes
ZERO_MAC = "00:00:00:00:00:00"


@dataclass(frozen=True)
class LabFaults:
    """Ways to break the overlay (None or False: not broken).  ``vxlankit.lab.faults`` maps
    each of ``synth ping --fault``'s kinds onto these.

    On node2: ``vni``: its vxlan0 has this VNI instead of the overlay's; ``port``: its vxlan0
    uses this UDP port (listens on it and sends to it); ``c1_vtep``: its static FDB entry for
    C1's MAC points at this underlay address instead of node1's.  On node1:
    ``no_c2_neigh`` / ``no_c2_fdb``: its vxlan0 lacks the neighbour / FDB entry Docker's
    gossip installs for C2 (docker mode only).  The underlay: ``underlay_mtu``: every underlay
    link's MTU (below the overlay's 1450 + 50, full-size frames no longer fit);
    ``router_mtu``: the MTU of the router's route into node2's subnet (its link stays at 1500,
    so that node2's large datagrams still reach it: a veth drops what exceeds its peer's MTU).
    Both VTEPs: ``df`` (set | unset | inherit), ``ttl`` (their outer TTL)."""

    vni: int | None = None
    port: int | None = None
    underlay_mtu: int | None = None
    c1_vtep: str | None = None
    router_mtu: int | None = None
    df: str | None = None
    ttl: int | None = None
    no_c2_neigh: bool = False
    no_c2_fdb: bool = False

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.vni, self.port, self.underlay_mtu,
                                           self.c1_vtep, self.router_mtu, self.df, self.ttl)) \
            or self.no_c2_neigh or self.no_c2_fdb


@dataclass(frozen=True)
class LabSpec:
    mode: str = "docker"
    vni: int = DEFAULT_VNI
    port: int = 4789
    subnet: str = DEFAULT_SUBNET
    seed: int = 0  # picks synth's MACs
    faults: LabFaults = field(default_factory=LabFaults)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise LabError(f"mode must be one of {MODES}, not {self.mode!r}")
        if (self.faults.no_c2_neigh or self.faults.no_c2_fdb) and self.mode != "docker":
            raise LabError("a missing neighbour or FDB entry for C2 is a fault of Docker's "
                           "gossip: use --mode docker (learning mode installs neither)")


@dataclass(frozen=True)
class TapPoint:
    """Where a tap is captured: ``ifname`` in namespace ``ns`` (short name)."""

    tap: str
    ns: str
    ifname: str
    synth: bool  # a tap ``synth ping`` writes too (the others are the lab's own)


@dataclass(frozen=True)
class BuiltLab:
    spec: LabSpec
    topology: Topology
    taps: tuple[TapPoint, ...]

    @staticmethod
    def sandbox(node: str) -> str:
        return f"{node}-sbox"

    @staticmethod
    def container_ns(name: str) -> str:
        return name.lower()

    @property
    def namespaces(self) -> tuple[str, ...]:
        nodes = [n.name for n in self.topology.nodes]
        return ("router", *nodes, *(self.sandbox(n) for n in nodes),
                *(self.container_ns(c.name) for c in self.topology.containers))


def lab_topology(spec: LabSpec) -> Topology:
    """``synth``'s topology for these settings: the addresses and MACs the lab uses."""
    try:
        return seed_topology(spec.vni, spec.port, spec.seed, (spec.subnet,))
    except ValueError as exc:
        raise LabError(str(exc)) from None


def tap_points(topo: Topology) -> tuple[TapPoint, ...]:
    """synth's taps in synth's order (each container's side of its veth, each node's eth0),
    then the lab's own: each sandbox's vxlan0, which shows the bridge's traffic through the
    VTEP both ways (what the bridge model is fed)."""
    c1, c2 = topo.containers
    n1, n2 = topo.nodes
    sub = topo.subnets[0]
    return (
        TapPoint(f"{c1.node}/{c1.veth}", BuiltLab.container_ns(c1.name), "eth0", True),
        TapPoint(f"{n1.name}/eth0", n1.name, "eth0", True),
        TapPoint(f"{n2.name}/eth0", n2.name, "eth0", True),
        TapPoint(f"{c2.node}/{c2.veth}", BuiltLab.container_ns(c2.name), "eth0", True),
        TapPoint(f"{n1.name}/{sub.vxlan}", BuiltLab.sandbox(n1.name), sub.vxlan, False),
        TapPoint(f"{n2.name}/{sub.vxlan}", BuiltLab.sandbox(n2.name), sub.vxlan, False),
    )


def build(net: Netns, spec: LabSpec) -> BuiltLab:
    """Make the overlay in ``net``'s namespaces.  Everything made is recorded in ``net``, so
    leaving its ``with`` block removes it, also when this fails half-way."""
    topo = lab_topology(spec)
    if len(topo.containers) != 2 or topo.containers[1].node == topo.containers[0].node:
        raise LabError("the lab builds C1 on node1 and C2 on node2 only")
    lab = BuiltLab(spec, topo, tap_points(topo))
    for ns in lab.namespaces:
        net.add(ns)
    _underlay(net, topo, spec.faults)
    for node in topo.nodes:
        _sandbox(net, lab, node.name)
    return lab


def _underlay(net: Netns, topo: Topology, faults: LabFaults) -> None:
    net.sysctl("router", "net.ipv4.ip_forward=1")
    mtu = str(faults.underlay_mtu or 1500)
    for i, node in enumerate(topo.nodes, 1):
        plen = ipaddress.ip_network(node.subnet).prefixlen
        rif = f"eth{i}"
        net.ip("router", "link", "add", rif, "address", node.gateway_mac, "mtu", mtu,
               "type", "veth", "peer", "name", "eth0", "address", node.mac, "mtu", mtu,
               "netns", net.name(node.name))
        net.ip("router", "addr", "add", f"{node.gateway_ip}/{plen}", "dev", rif)
        net.ip("router", "link", "set", rif, "up")
        net.ip(node.name, "addr", "add", f"{node.ip}/{plen}", "dev", "eth0")
        net.ip(node.name, "link", "set", "eth0", "up")
        net.ip(node.name, "route", "add", "default", "via", node.gateway_ip)
        # Resolved in advance, as synth assumes: underlay ARP is not what the lab is about.
        net.ip(node.name, "neigh", "replace", node.gateway_ip, "lladdr", node.gateway_mac,
               "dev", "eth0", "nud", "permanent")
        net.ip("router", "neigh", "replace", node.ip, "lladdr", node.mac, "dev", rif,
               "nud", "permanent")
    if faults.router_mtu is not None:
        # ip_forward honours a route's MTU (ip_dst_mtu_maybe_forward): the router's way into
        # node2's subnet is the small one, the links stay at 1500 both ways.
        last = topo.nodes[-1]
        net.ip("router", "route", "replace", str(ipaddress.ip_network(last.subnet)), "dev",
               f"eth{len(topo.nodes)}", "proto", "kernel", "scope", "link", "src",
               last.gateway_ip, "mtu", str(faults.router_mtu))


def _sandbox(net: Netns, lab: BuiltLab, node_name: str) -> None:
    spec, topo = lab.spec, lab.topology
    faults = spec.faults
    node = topo.node(node_name)
    sub = topo.subnets[0]
    sbox = lab.sandbox(node_name)
    second = node is topo.nodes[1]
    vni = faults.vni if second and faults.vni is not None else sub.vni
    port = faults.port if second and faults.port is not None else spec.port
    flags = ["learning", "proxy", "l2miss", "l3miss"] if spec.mode == "docker" else []
    if faults.df is not None:
        flags += ["df", faults.df]
    if faults.ttl is not None:
        flags += ["ttl", str(faults.ttl)]
    vx = sub.vxlan
    net.ip(node_name, "link", "add", vx, "address", node.vxlan_macs[0], "mtu",
           str(OVERLAY_MTU), "type", "vxlan", "id", str(vni), "dstport", str(port), *flags)
    net.ip(node_name, "link", "set", vx, "netns", net.name(sbox))
    # No multicast snooping: a snooping bridge joins 224.0.0.106 and sends IGMP reports,
    # which a learning overlay would flood to the other host.
    net.ip(sbox, "link", "add", sub.bridge, "address", node.bridge_macs[0], "type", "bridge",
           "mcast_snooping", "0")
    plen = ipaddress.ip_network(sub.prefix).prefixlen
    net.ip(sbox, "addr", "add", f"{sub.gateway}/{plen}", "dev", sub.bridge)
    net.ip(sbox, "link", "set", vx, "master", sub.bridge)
    for c in topo.containers:
        if c.node != node_name:
            continue
        cns = lab.container_ns(c.name)
        net.ip(sbox, "link", "add", c.veth, "mtu", str(OVERLAY_MTU), "type", "veth",
               "peer", "name", "eth0", "address", c.mac, "mtu", str(OVERLAY_MTU),
               "netns", net.name(cns))
        net.ip(sbox, "link", "set", c.veth, "master", sub.bridge)
        net.ip(cns, "addr", "add", f"{c.ip}/{plen}", "dev", "eth0")
        net.ip(sbox, "link", "set", c.veth, "up")
        net.ip(cns, "link", "set", "eth0", "up")
    net.ip(sbox, "link", "set", sub.bridge, "up")
    net.ip(sbox, "link", "set", vx, "up")
    for other in topo.nodes:
        if other is node:
            continue
        if spec.mode == "learning":
            # RFC 7348 head-end replication: flood to every other VTEP, learn the rest.
            net.bridge(sbox, "fdb", "append", ZERO_MAC, "dev", vx, "dst", other.ip,
                       "self", "permanent")
        for c in topo.containers:
            if c.node != other.name:
                continue
            vtep = other.ip
            wrong = second and faults.c1_vtep is not None and c is topo.containers[0]
            if wrong:
                vtep = faults.c1_vtep or vtep
            # What Docker's gossip would have installed on node1 for C2, lost on purpose.
            lost = not second and c is topo.containers[1]
            if spec.mode == "docker" and not (lost and faults.no_c2_neigh):
                # Docker's gossip (peerAdd): a permanent neighbour and FDB entry per peer.
                net.ip(sbox, "neigh", "add", c.ip, "lladdr", c.mac, "dev", vx, "nud",
                       "permanent")
            if (spec.mode == "docker" and not (lost and faults.no_c2_fdb)) or wrong:
                net.bridge(sbox, "fdb", "add", c.mac, "dev", vx, "dst", vtep, "self",
                           "permanent")
