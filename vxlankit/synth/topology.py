"""The seed's overlay: two Docker hosts on routed underlay subnets, containers on each.

node1 (underlay 172.31.1.0/24) and node2 (192.168.1.0/24) are joined by a router; with
``underlay="ipv6"`` the same two routed networks are the documentation prefixes 2001:db8:1::/64
and 2001:db8:2::/64 (RFC 3849), the hosts ``::10`` and the router ``::1`` in each.  Each host
has a sandbox with, per overlay subnet, a bridge ``br<i>`` and a VTEP ``vxlan<i>`` (UDP 4789,
its own VNI: Docker allocates one per subnet, consecutively), a veth per container, and, when
there are several subnets, the sandbox's IP stack routing between the bridges (gateway = the
subnet's first host address).  By default there is one subnet, 10.0.0.0/24, with C1 = 10.0.0.3
on node1 and C2 = 10.0.0.4 on node2, as in the seed chapter; MACs are what Docker derives.
With ``inner="ipv6"`` the containers also have IPv6 addresses in the unique local prefix
fd00:10::/64 (RFC 4193), the host number as the IPv4 one's: C1 = fd00:10::3, C2 = fd00:10::4.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

from vxlankit.addr import docker_mac, mac_str

DEFAULT_VNI = 4096  # where Docker's swarm VNI allocator starts
MAX_VNI = (1 << 24) - 1
DEFAULT_SUBNET = "10.0.0.0/24"
DEFAULT_START_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z: a fixed start keeps runs equal
TARGETS = ("remote", "same-subnet", "same-host")
UNDERLAYS = ("ipv4", "ipv6")
# node name, eth0 address, underlay subnet; per underlay family.
UNDERLAY_NODES = {
    "ipv4": (("node1", "172.31.1.10", "172.31.1.0/24"),
             ("node2", "192.168.1.10", "192.168.1.0/24")),
    "ipv6": (("node1", "2001:db8:1::10", "2001:db8:1::/64"),
             ("node2", "2001:db8:2::10", "2001:db8:2::/64")),
}
INNERS = ("ipv4", "ipv6")
INNER6_PREFIX = "fd00:10::/64"  # the overlay's IPv6 subnet with --inner ipv6 (a ULA prefix)
FIRST_CONTAINER_HOST = 3  # .1 is the gateway, .2 the network's load-balancer endpoint


@dataclass(frozen=True)
class Subnet:
    index: int
    prefix: str
    gateway: str
    vni: int

    @property
    def bridge(self) -> str:
        return f"br{self.index}"

    @property
    def vxlan(self) -> str:
        return f"vxlan{self.index}"

    def contains(self, ip: str) -> bool:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(self.prefix)


@dataclass(frozen=True)
class Container:
    name: str
    node: str
    ip: str
    mac: str
    subnet: int
    ip6: str | None = None  # with --inner ipv6: the container's address in INNER6_PREFIX

    @property
    def veth(self) -> str:
        return f"veth-{self.name}"


@dataclass(frozen=True)
class Node:
    name: str
    ip: str  # underlay address of eth0, the VTEPs' local IP
    mac: str  # eth0's MAC
    subnet: str  # underlay subnet
    gateway_ip: str
    gateway_mac: str  # the underlay router's MAC on this node's subnet
    bridge_macs: tuple[str, ...]  # per overlay subnet: br<i>'s MAC (the gateway's MAC)
    vxlan_macs: tuple[str, ...]  # per overlay subnet: vxlan<i>'s own MAC


@dataclass(frozen=True)
class Topology:
    nodes: tuple[Node, ...]
    containers: tuple[Container, ...]
    subnets: tuple[Subnet, ...]
    port: int
    inner: str = "ipv4"

    @property
    def vni(self) -> int:
        return self.subnets[0].vni

    @property
    def routed(self) -> bool:
        return len(self.subnets) > 1

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def container(self, name: str) -> Container:
        return next(c for c in self.containers if c.name == name)

    def subnet_of(self, ip: str) -> Subnet | None:
        return next((s for s in self.subnets if s.contains(ip)), None)


def _random_mac(rng: random.Random) -> str:
    # Locally administered, unicast: what a kernel gives a virtual device (eth_random_addr).
    raw = bytearray(rng.randbytes(6))
    raw[0] = (raw[0] & 0xFE) | 0x02
    return mac_str(bytes(raw))


def _host(prefix: str, n: int) -> str:
    return str(ipaddress.ip_network(prefix, strict=False).network_address + n)


def seed_topology(vni: int = DEFAULT_VNI, port: int = 4789, seed: int = 0,
                  subnets: tuple[str, ...] = (DEFAULT_SUBNET,),
                  target: str = "remote", underlay: str = "ipv4",
                  inner: str = "ipv4") -> Topology:
    """The seed chapter's overlay.  ``subnets``: the overlay's subnets (VNIs ``vni``,
    ``vni + 1``...).  ``target`` places C2: ``remote`` (the other node, in the last subnet),
    ``same-subnet`` (the other node, C1's subnet) or ``same-host`` (node1, the last subnet).
    ``underlay``: the hosts' network, ``ipv4`` or ``ipv6`` (only the addresses differ).
    ``inner``: ``ipv6`` gives the containers IPv6 addresses too (one subnet only)."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
    if underlay not in UNDERLAYS:
        raise ValueError(f"underlay must be one of {UNDERLAYS}, not {underlay!r}")
    if inner not in INNERS:
        raise ValueError(f"inner must be one of {INNERS}, not {inner!r}")
    if inner == "ipv6" and (len(subnets) > 1 or target == "same-host"):
        raise ValueError("--inner ipv6 has one subnet and C2 on node2 (no routed IPv6 overlay)")
    if vni + len(subnets) - 1 > MAX_VNI:
        raise ValueError(f"{len(subnets)} subnets take VNIs {vni}..{vni + len(subnets) - 1}, "
                         f"past the largest VNI {MAX_VNI}")
    nets: list[Subnet] = []
    networks: list[ipaddress.IPv4Network] = []
    for i, prefix in enumerate(subnets):
        network = ipaddress.ip_network(prefix, strict=False)
        if not isinstance(network, ipaddress.IPv4Network):
            raise ValueError(f"subnet {prefix} is not IPv4: the overlay's subnets are IPv4 "
                             "(--inner ipv6 gives the containers IPv6 addresses too)")
        if network.num_addresses < 8:
            raise ValueError(f"subnet {prefix} is too small for a gateway and containers")
        clash = next((other for other in networks if other.overlaps(network)), None)
        if clash is not None:
            raise ValueError(f"subnet {prefix} overlaps {clash}: each subnet needs its own "
                             "addresses (the sandbox routes between them)")
        networks.append(network)
        nets.append(Subnet(i, str(network), _host(prefix, 1), vni + i))
    rng = random.Random(f"topology:{seed}")
    nodes = []
    for name, ip, under in UNDERLAY_NODES[underlay]:
        mac, gw_mac = _random_mac(rng), _random_mac(rng)
        bridges = tuple(_random_mac(rng) for _ in nets)
        vxlans = tuple(_random_mac(rng) for _ in nets)
        nodes.append(Node(name, ip, mac, under, _host(under, 1), gw_mac, bridges, vxlans))
    c1_net = nets[0]
    c2_net = c1_net if target == "same-subnet" else nets[-1]
    c2_node = "node1" if target == "same-host" else "node2"
    c1_ip = _host(c1_net.prefix, FIRST_CONTAINER_HOST)
    c2_ip = _host(c2_net.prefix, FIRST_CONTAINER_HOST + (1 if c2_net is c1_net else 0))
    c1_ip6 = c2_ip6 = None
    if inner == "ipv6":
        c1_ip6 = _host(INNER6_PREFIX, FIRST_CONTAINER_HOST)
        c2_ip6 = _host(INNER6_PREFIX, FIRST_CONTAINER_HOST + 1)
    c1 = Container("C1", "node1", c1_ip, docker_mac(c1_ip), c1_net.index, c1_ip6)
    c2 = Container("C2", c2_node, c2_ip, docker_mac(c2_ip), c2_net.index, c2_ip6)
    return Topology(tuple(nodes), (c1, c2), tuple(nets), port, inner)
