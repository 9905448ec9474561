"""The seed's overlay: two Docker hosts on routed underlay subnets, one container on each.

node1 (underlay 172.31.1.0/24) and node2 (192.168.1.0/24) are joined by a router.  Each host
has a sandbox with a bridge br0, a VTEP vxlan0 (UDP 4789) and a veth per container.  C1 =
10.0.0.3 on node1, C2 = 10.0.0.4 on node2, with the MACs Docker derives from their IPs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from vxlankit.addr import docker_mac, mac_str

DEFAULT_VNI = 4096  # where Docker's swarm VNI allocator starts
DEFAULT_START_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z: a fixed start keeps runs equal


@dataclass(frozen=True)
class Container:
    name: str
    node: str
    ip: str
    mac: str

    @property
    def veth(self) -> str:
        return f"veth-{self.name}"


@dataclass(frozen=True)
class Node:
    name: str
    ip: str  # underlay address of eth0, the VTEP's local IP
    mac: str  # eth0's MAC
    subnet: str
    gateway_ip: str
    gateway_mac: str  # the router's MAC on this node's subnet
    vxlan_mac: str  # the vxlan0 device's own MAC


@dataclass(frozen=True)
class Topology:
    nodes: tuple[Node, ...]
    containers: tuple[Container, ...]
    vni: int
    port: int

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def container(self, name: str) -> Container:
        return next(c for c in self.containers if c.name == name)

    def container_at(self, ip: str) -> Container | None:
        return next((c for c in self.containers if c.ip == ip), None)


def _random_mac(rng: random.Random) -> str:
    # Locally administered, unicast: what a kernel gives a virtual device (eth_random_addr).
    raw = bytearray(rng.randbytes(6))
    raw[0] = (raw[0] & 0xFE) | 0x02
    return mac_str(bytes(raw))


def seed_topology(vni: int = DEFAULT_VNI, port: int = 4789, seed: int = 0) -> Topology:
    """The seed chapter's two-node, two-container overlay."""
    rng = random.Random(f"topology:{seed}")
    node1 = Node("node1", "172.31.1.10", _random_mac(rng), "172.31.1.0/24", "172.31.1.1",
                 _random_mac(rng), _random_mac(rng))
    node2 = Node("node2", "192.168.1.10", _random_mac(rng), "192.168.1.0/24", "192.168.1.1",
                 _random_mac(rng), _random_mac(rng))
    c1 = Container("C1", "node1", "10.0.0.3", docker_mac("10.0.0.3"))
    c2 = Container("C2", "node2", "10.0.0.4", docker_mac("10.0.0.4"))
    return Topology((node1, node2), (c1, c2), vni, port)
