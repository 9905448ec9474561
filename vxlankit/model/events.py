"""Values the sans-IO models take and give: frames, input events, output events.

Everything here is a frozen, slotted dataclass.  Addresses are Wireshark-style strings
(``"02:42:0a:00:00:03"``, ``"10.0.0.3"``), VNIs are ints, time is ``now``: integer nanoseconds
on whatever clock the caller uses (capture timestamps, ``ts_ns``, usually), given to every call
and never read from the system.

Input events are what a caller hands to a device's ``handle(event, now)``; output events are
what it gets back, in the order the device produced them.  An output names the device that
produced it (``device``) so that a transcript of several devices reads on its own, and the
table-changing outputs (``Learned``, ``Moved``, ``Aged``, ``Installed``, ``Removed``) carry the
time and a ``reason`` naming the kernel path that would have done the same thing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from vxlankit.errors import VxlanKitError

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD

ARPOP_REQUEST = 1
ARPOP_REPLY = 2
ARPHRD_ETHER = 1
ARPHRD_IEEE802 = 6

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58

NDISC_NEIGHBOUR_SOLICITATION = 135
NDISC_NEIGHBOUR_ADVERTISEMENT = 136
ND_OPT_SOURCE_LL_ADDR = 1
ND_OPT_TARGET_LL_ADDR = 2

# ``vxlan.flags`` is the first 16 bits of the header, as Wireshark and vxlankit.layers.vxlan
# read it: the RFC 7348 I flag (0x08 in the first octet) is 0x0800 here.
VXLAN_FLAG_I = 0x0800
VXLAN_FLAG_G = 0x8000  # Group Based Policy present (draft-smith-vxlan-group-policy)
VXLAN_FLAG_D = 0x0040  # GBP "don't learn"
VXLAN_FLAG_A = 0x0008  # GBP "policy applied"

IANA_VXLAN_PORT = 4789
ZERO_MAC = "00:00:00:00:00:00"
ANY_IP = "0.0.0.0"
ANY_IP6 = "::"  # an IPv6 VTEP's "no remote" (vxlan_addr_any)


class ModelError(VxlanKitError):
    """A model was driven in a way that has no meaning: a port or VNI it was never given."""


_T = TypeVar("_T")


def _fast_init(cls: type[_T]) -> type[_T]:
    """Give a frozen, slotted dataclass an equivalent ``__init__`` that is twice as fast.

    A frozen dataclass's generated ``__init__`` stores each field through
    ``object.__setattr__``, which dominates the cost of building an output on the per-packet
    path (an ``Encapsulated`` has 17 fields).  Storing through the slot descriptors directly
    does the same thing without the frozen check; like dataclasses itself, the function is
    generated so that the stores are unrolled.  Signature, defaults, equality, hashing,
    ``replace()`` and immutability after construction are unchanged.
    """
    names: list[str] = []
    params: list[str] = []
    namespace: dict[str, object] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.default_factory is not dataclasses.MISSING or f.init is False:
            raise TypeError(f"{cls.__name__}.{f.name}: _fast_init supports plain fields only")
        names.append(f.name)
        namespace[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
    body = "".join(f"    _set_{n}(self, {n})\n" for n in names) or "    pass\n"
    exec(f"def __init__(self, {', '.join(params)}):\n{body}", namespace)  # noqa: S102
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    setattr(cls, "__init__", init)  # noqa: B010 - mypy rejects assigning to a method
    return cls


# --------------------------------------------------------------------------- frames


@_fast_init
@dataclass(frozen=True, slots=True)
class ArpInfo:
    """The parsed body of an ARP packet (Wireshark ``arp.*``)."""

    opcode: int
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str
    # arp_reduce() checks these before answering; a proxy can only answer Ethernet/IPv4 ARP.
    hw_type: int = ARPHRD_ETHER
    proto_type: int = ETH_P_IP
    hw_size: int = 6
    proto_size: int = 4


@_fast_init
@dataclass(frozen=True, slots=True)
class IpInfo:
    """The parts of an inner IPv4 header the models look at.

    ``tos`` and ``df`` matter because the outer header inherits ECN (always) and DF (with
    ``df="inherit"``) from the inner one; ``sport``/``dport`` feed the UDP source-port hash.
    """

    src: str
    dst: str
    proto: int
    ttl: int = 64
    tos: int = 0
    df: bool = False
    sport: int | None = None
    dport: int | None = None


@_fast_init
@dataclass(frozen=True, slots=True)
class NdInfo:
    """An IPv6 Neighbor Discovery message (RFC 4861) a model builds, with its IPv6 header:
    what the VTEP's ND proxy answers (vxlan_na_create).  ``icmp_type`` 135 (NS) or 136 (NA);
    ``flags`` the NA's 32-bit flags word (R 0x80000000, S 0x40000000, O 0x20000000);
    ``target`` the target address; one link-layer address option, ``option`` 1 (source) or 2
    (target) with ``lladdr``, or none.  ``tclass`` and ``hop_limit`` are the IPv6 header's."""

    ip_src: str
    ip_dst: str
    icmp_type: int
    target: str
    flags: int = 0
    option: int | None = None
    lladdr: str | None = None
    hop_limit: int = 255
    tclass: int = 0


@_fast_init
@dataclass(frozen=True, slots=True)
class Frame:
    """An Ethernet frame as a value.

    ``payload`` is everything after the 14-byte Ethernet header (VLAN tags included), so that a
    decoded frame can be written back byte for byte.  A frame the model builds itself (a proxy
    ARP reply) has ``payload == b""`` and is fully described by ``arp``; an encoder builds the
    28-byte ARP body from it and adds no padding (the kernel's arp_create() does not pad).  A
    proxy Neighbor Advertisement is described by ``nd`` the same way (IPv6 header, the 24-byte
    NA and its option: 72 bytes after Ethernet, no padding).
    """

    dst: str
    src: str
    ethertype: int
    arp: ArpInfo | None = None
    ip: IpInfo | None = None
    payload: bytes = b""
    nd: NdInfo | None = None


# --------------------------------------------------------------------------- input events


@_fast_init
@dataclass(frozen=True, slots=True)
class FrameReceived:
    """Bridge input: a frame enters the bridge on ``port`` (br_handle_frame)."""

    port: str
    frame: Frame


@_fast_init
@dataclass(frozen=True, slots=True)
class BridgeFdbAdd:
    """Bridge input: ``bridge fdb replace MAC dev PORT master static``.

    Static entries are never aged and never moved by learning (Linux needs ``sticky`` as well
    for the latter; see docs/models.md).
    """

    mac: str
    port: str
    reason: str = "user"


@_fast_init
@dataclass(frozen=True, slots=True)
class BridgeFdbDel:
    """Bridge input: ``bridge fdb del MAC dev ... master`` (static or learned alike)."""

    mac: str
    reason: str = "user"


@_fast_init
@dataclass(frozen=True, slots=True)
class VtepTransmit:
    """VTEP input: the bridge hands ``frame`` to the vxlan device of ``vni`` (vxlan_xmit)."""

    vni: int
    frame: Frame


@_fast_init
@dataclass(frozen=True, slots=True)
class VxlanReceived:
    """VTEP input: a UDP datagram from the underlay reached the VXLAN socket (vxlan_rcv).

    ``flags``, ``gbp`` and ``reserved8`` are the header words as ``vxlan.flags`` (16 bits),
    ``vxlan.gbp`` (16 bits: the group policy ID, or reserved) and ``vxlan.reserved8``; ``tos``
    is the outer IPv4 TOS byte or IPv6 traffic class, needed for ECN decapsulation.
    ``src_ip``/``dst_ip`` are IPv4 or IPv6 text as Wireshark prints it.  ``udp_checksum`` is the
    outer UDP checksum as received (None: not known); over IPv6 a zero one is dropped unless the
    VTEP has ``udp6_zero_csum_rx``.
    """

    src_ip: str
    dst_ip: str
    sport: int
    dport: int
    vni: int
    frame: Frame
    flags: int = VXLAN_FLAG_I
    gbp: int = 0
    reserved8: int = 0
    tos: int = 0
    udp_checksum: int | None = None


@_fast_init
@dataclass(frozen=True, slots=True)
class FdbAdd:
    """VTEP input: ``bridge fdb replace MAC dev vxlanN dst REMOTE [static|dynamic]``.

    Replaces the entry's remotes with ``(remote,)``, as netlink NeighSet (NLM_F_REPLACE) does.
    ``static`` is NUD_PERMANENT/NUD_NOARP: never aged, never migrated by learning.
    """

    vni: int
    mac: str
    remote: str
    static: bool = True
    reason: str = "user"


@_fast_init
@dataclass(frozen=True, slots=True)
class FdbAppend:
    """VTEP input: ``bridge fdb append MAC dev vxlanN dst REMOTE``.

    Adds one more remote; with ``mac == ZERO_MAC`` this builds the head-end replication list
    that unknown unicast and broadcast/multicast frames are sent to.
    """

    vni: int
    mac: str
    remote: str
    reason: str = "user"


@_fast_init
@dataclass(frozen=True, slots=True)
class FdbDel:
    """VTEP input: ``bridge fdb del MAC dev vxlanN [dst REMOTE]``.

    Without ``remote`` the whole entry goes; with it, that remote only (and the entry with it
    when it was the last one).
    """

    vni: int
    mac: str
    remote: str | None = None
    reason: str = "user"


@_fast_init
@dataclass(frozen=True, slots=True)
class NeighAdd:
    """VTEP input: ``ip neigh replace IP lladdr MAC dev vxlanN nud permanent``."""

    vni: int
    ip: str
    mac: str
    reason: str = "user"


@_fast_init
@dataclass(frozen=True, slots=True)
class NeighDel:
    """VTEP input: ``ip neigh del IP dev vxlanN``."""

    vni: int
    ip: str
    reason: str = "user"


@_fast_init
@dataclass(frozen=True, slots=True)
class PeerAdd:
    """Control-plane input: gossip says endpoint ``ip``/``mac`` of network ``vni`` lives
    behind the VTEP ``vtep_ip`` (libnetwork overlay peerAdd)."""

    vni: int
    ip: str
    mac: str
    vtep_ip: str


@_fast_init
@dataclass(frozen=True, slots=True)
class PeerDelete:
    """Control-plane input: gossip says that endpoint is gone (libnetwork peerDelete)."""

    vni: int
    ip: str
    mac: str
    vtep_ip: str


@_fast_init
@dataclass(frozen=True, slots=True)
class PathMtu:
    """VTEP input: the host's route to ``remote`` learned a path MTU of ``mtu`` bytes, from an
    ICMP fragmentation needed (IPv6: packet too big) about a datagram sent to it
    (ipv4_update_pmtu / ip6_update_pmtu; the route cache is the host's, so every vxlan device
    of the host sees it).  A ``Host`` model's ``PmtuLearned`` output is what feeds it."""

    remote: str
    mtu: int


BridgeInput = FrameReceived | BridgeFdbAdd | BridgeFdbDel
VtepInput = (VtepTransmit | VxlanReceived | FdbAdd | FdbAppend | FdbDel | NeighAdd | NeighDel
             | PathMtu)
ControlInput = PeerAdd | PeerDelete

# --------------------------------------------------------------------------- output events


class DropReason(str, Enum):
    """Why a device dropped (or consumed without forwarding) a frame.

    Values are the Linux ``SKB_DROP_REASON_*`` names where one exists, so a model transcript can
    be set beside ``perf trace -e skb:kfree_skb`` output; the rest are named after the kernel
    function that makes the decision.
    """

    # bridge
    MAC_INVALID_SOURCE = "MAC_INVALID_SOURCE"  # br_handle_frame / vxlan_snoop
    BRIDGE_SAME_PORT = "BRIDGE_SAME_PORT"  # should_deliver(): never back out of the ingress
    BRIDGE_NO_EGRESS = "BRIDGE_NO_EGRESS"  # br_flood() found no other port
    # VTEP, receive path
    UDP_NO_SOCKET = "NO_SOCKET"  # no VXLAN socket on that UDP port
    OTHERHOST = "OTHERHOST"  # outer destination is neither us nor a group we joined
    VXLAN_INVALID_HDR = "VXLAN_INVALID_HDR"  # I flag clear, or reserved bits (Linux policy)
    VXLAN_VNI_NOT_FOUND = "VXLAN_VNI_NOT_FOUND"
    LOCAL_MAC = "LOCAL_MAC"  # inner source is the vxlan device's own MAC: a loop
    VXLAN_ENTRY_EXISTS = "VXLAN_ENTRY_EXISTS"  # vxlan_snoop: won't migrate a static entry
    IP_TUNNEL_ECN = "IP_TUNNEL_ECN"  # outer CE over a not-ECT inner packet
    UDP_CSUM = "UDP_CSUM"  # a zero UDP checksum over IPv6 without udp6zerocsumrx
    # VTEP, transmit path
    VXLAN_NO_REMOTE = "VXLAN_NO_REMOTE"  # no FDB entry and no default entry (vxlan_xmit)
    ARP_REDUCE = "ARP_REDUCE"  # proxy on: arp_reduce() consumed an ARP it did not answer
    NEIGH_REDUCE = "NEIGH_REDUCE"  # proxy on: neigh_reduce() consumed an NS it did not answer
    NO_NEXT_HOP = "NO_NEXT_HOP"  # the model has no underlay next-hop MAC for the remote
    # sandbox router (ip_forward, ip_route_input)
    IP_INHDR = "IP_INHDR"  # an IPv4 header that does not parse
    IP_NOROUTES = "IP_NOROUTES"  # no route to the destination
    IP_TTL_EXCEEDED = "IP_TTL_EXCEEDED"  # ip_forward(): TTL <= 1 ("too_many_hops")
    PKT_TOO_BIG = "PKT_TOO_BIG"  # ip_forward(): DF set and larger than the next hop's MTU;
    # a VTEP: larger than the path MTU to the remote and no ICMP to answer with


@_fast_init
@dataclass(frozen=True, slots=True)
class Forwarded:
    """Bridge output: ``frame`` leaves on ``port`` (br_forward)."""

    device: str
    port: str
    frame: Frame


@_fast_init
@dataclass(frozen=True, slots=True)
class Flooded:
    """Bridge output: ``frame`` leaves on every port in ``ports`` (br_flood).

    ``kind`` is ``"broadcast"``, ``"multicast"`` or ``"unknown-unicast"``.
    """

    device: str
    ports: tuple[str, ...]
    frame: Frame
    kind: str


@_fast_init
@dataclass(frozen=True, slots=True)
class Dropped:
    """A device dropped or consumed ``frame``; ``detail`` says it in words."""

    device: str
    reason: DropReason
    frame: Frame | None
    detail: str = ""


@_fast_init
@dataclass(frozen=True, slots=True)
class Learned:
    """A learning table gained ``mac`` -> ``location`` (a bridge port, or a remote VTEP IP).

    ``vni`` is None for the bridge.  ``reason`` names the kernel path (``br_fdb_update``,
    ``vxlan_snoop``).
    """

    device: str
    vni: int | None
    mac: str
    location: str
    now: int
    reason: str


@_fast_init
@dataclass(frozen=True, slots=True)
class Moved:
    """A learned ``mac`` moved from ``old`` to ``new`` (bridge port change, VTEP migration)."""

    device: str
    vni: int | None
    mac: str
    old: str
    new: str
    now: int
    reason: str


@_fast_init
@dataclass(frozen=True, slots=True)
class Aged:
    """A learned entry expired: last refreshed at ``last_seen``, gone from ``expired_at``
    (= last_seen + ageing time); ``now`` is when the model noticed."""

    device: str
    vni: int | None
    mac: str
    location: str
    last_seen: int
    expired_at: int
    now: int


@_fast_init
@dataclass(frozen=True, slots=True)
class LimitReached:
    """A new ``mac`` was not learned because ``limit`` learned entries already exist.

    The frame itself is still handled (Linux: fdb_create() / vxlan_fdb_create() fail, the
    packet goes on).
    """

    device: str
    vni: int | None
    mac: str
    limit: int
    now: int


@_fast_init
@dataclass(frozen=True, slots=True)
class Installed:
    """A table entry was put in by configuration (control plane, user), not by learning.

    ``table`` is ``"fdb"`` or ``"neigh"``; ``key`` the MAC (fdb) or IP (neigh); ``value`` the
    port / remote VTEP IP (fdb) or MAC (neigh).
    """

    device: str
    table: str
    vni: int | None
    key: str
    value: str
    static: bool
    now: int
    reason: str


@_fast_init
@dataclass(frozen=True, slots=True)
class Removed:
    """A table entry was taken out by configuration (see ``Installed`` for the fields)."""

    device: str
    table: str
    vni: int | None
    key: str
    value: str
    now: int
    reason: str


@_fast_init
@dataclass(frozen=True, slots=True)
class Decapsulated:
    """VTEP output: the inner ``frame`` of VNI ``vni`` goes up to the bridge, having come from
    the VTEP at ``from_vtep``."""

    device: str
    vni: int
    frame: Frame
    from_vtep: str


@_fast_init
@dataclass(frozen=True, slots=True)
class Encapsulated:
    """VTEP output: one underlay frame, with every header value an encoder needs.

    Ethernet ``eth_src`` -> ``eth_dst`` (type IPv4); IPv4 ``ip_src`` -> ``ip_dst`` with
    ``ip_id``, ``ttl``, ``tos``, ``df``, protocol UDP, no options; UDP ``sport`` -> ``dport``
    with checksum ``udp_checksum`` (``"zero"``: 0, ``"compute"``: the real one); VXLAN
    ``flags``/``gbp``/``reserved8`` and ``vni``; then ``frame``.  Lengths and the IPv4 header
    checksum follow from these.

    With an IPv6 underlay (``ip_src``/``ip_dst`` are IPv6 text) the IP header is IPv6 (type
    0x86DD): ``ttl`` is the hop limit, ``tos`` the traffic class, ``flow_label`` the flow label,
    next header UDP, no extension headers; ``ip_id`` is 0 and ``df`` False (IPv6 has neither),
    and ``udp_checksum`` is ``"compute"`` unless the VTEP has ``udp6_zero_csum_tx``.
    """

    device: str
    vni: int
    frame: Frame
    eth_src: str
    eth_dst: str
    ip_src: str
    ip_dst: str
    ip_id: int
    ttl: int
    tos: int
    df: bool
    sport: int
    dport: int
    udp_checksum: str
    flags: int = VXLAN_FLAG_I
    gbp: int = 0
    reserved8: int = 0
    flow_label: int = 0


@_fast_init
@dataclass(frozen=True, slots=True)
class ArpProxied:
    """VTEP output: arp_reduce() answered a request for ``ip`` with ``mac`` from the neighbour
    table; ``frame`` is the reply, which goes back up to the bridge (netif_rx on the vxlan
    device) as if it had come from the remote host."""

    device: str
    vni: int
    ip: str
    mac: str
    frame: Frame


@_fast_init
@dataclass(frozen=True, slots=True)
class NdProxied:
    """VTEP output: neigh_reduce() answered a Neighbor Solicitation for ``ip`` with ``mac``
    from the neighbour table; ``frame`` is the Neighbor Advertisement (vxlan_na_create), which
    goes back up to the bridge (netif_rx on the vxlan device) as if the target had sent it."""

    device: str
    vni: int
    ip: str
    mac: str
    frame: Frame


@_fast_init
@dataclass(frozen=True, slots=True)
class L2Miss:
    """VTEP output: no FDB entry for unicast ``mac`` (an RTM_GETNEIGH to listeners)."""

    device: str
    vni: int
    mac: str
    now: int


@_fast_init
@dataclass(frozen=True, slots=True)
class L3Miss:
    """VTEP output: no neighbour entry for ``ip`` (an RTM_GETNEIGH to listeners)."""

    device: str
    vni: int
    ip: str
    now: int


@_fast_init
@dataclass(frozen=True, slots=True)
class TooBig:
    """VTEP output: ``frame`` was too big for the path MTU to its remote.  The VTEP answers
    with ``icmp``, an ICMP fragmentation needed (MTU ``mtu``, the path MTU less the VXLAN
    headroom) from the inner destination to the inner source, which goes back into the
    bridge as if received (skb_tunnel_check_pmtu, iptunnel_pmtud_build_icmp,
    vxlan_encap_bypass; Linux 5.9+)."""

    device: str
    vni: int
    mtu: int
    frame: Frame
    icmp: Frame


@_fast_init
@dataclass(frozen=True, slots=True)
class PmtuLearned:
    """Host output: an ICMP fragmentation needed told the host that the path to ``remote``
    carries ``mtu`` bytes (feed it to the host's VTEPs as ``PathMtu``)."""

    device: str
    remote: str
    mtu: int
    now: int


@_fast_init
@dataclass(frozen=True, slots=True)
class UdpDelivered:
    """Host output: a whole UDP datagram (reassembled when it came in fragments) for a socket
    bound to ``dport``; ``frame`` is the Ethernet frame as the socket's owner sees it."""

    device: str
    dport: int
    frame: Frame


Output = (
    Forwarded
    | Flooded
    | Dropped
    | Learned
    | Moved
    | Aged
    | LimitReached
    | Installed
    | Removed
    | Decapsulated
    | Encapsulated
    | ArpProxied
    | NdProxied
    | L2Miss
    | L3Miss
    | TooBig
    | PmtuLearned
    | UdpDelivered
)

__all__ = [
    "ANY_IP",
    "ANY_IP6",
    "ARPHRD_ETHER",
    "ARPHRD_IEEE802",
    "ARPOP_REPLY",
    "ARPOP_REQUEST",
    "ETH_P_ARP",
    "ETH_P_IP",
    "ETH_P_IPV6",
    "IANA_VXLAN_PORT",
    "IPPROTO_ICMP",
    "IPPROTO_ICMPV6",
    "IPPROTO_TCP",
    "IPPROTO_UDP",
    "VXLAN_FLAG_A",
    "VXLAN_FLAG_D",
    "VXLAN_FLAG_G",
    "VXLAN_FLAG_I",
    "ZERO_MAC",
    "Aged",
    "ArpInfo",
    "ArpProxied",
    "BridgeFdbAdd",
    "BridgeFdbDel",
    "BridgeInput",
    "ControlInput",
    "Decapsulated",
    "DropReason",
    "Dropped",
    "Encapsulated",
    "FdbAdd",
    "FdbAppend",
    "FdbDel",
    "Flooded",
    "Forwarded",
    "Frame",
    "FrameReceived",
    "Installed",
    "IpInfo",
    "L2Miss",
    "L3Miss",
    "Learned",
    "LimitReached",
    "ModelError",
    "ND_OPT_SOURCE_LL_ADDR",
    "ND_OPT_TARGET_LL_ADDR",
    "NDISC_NEIGHBOUR_ADVERTISEMENT",
    "NDISC_NEIGHBOUR_SOLICITATION",
    "NdInfo",
    "NdProxied",
    "Moved",
    "NeighAdd",
    "NeighDel",
    "Output",
    "PathMtu",
    "PeerAdd",
    "PmtuLearned",
    "PeerDelete",
    "Removed",
    "TooBig",
    "UdpDelivered",
    "VtepInput",
    "VtepTransmit",
    "VxlanReceived",
]
