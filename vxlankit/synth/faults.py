"""``synth ping --fault KIND``: one misconfiguration of the seed's overlay, and what it
changes in the scenario.  The models then behave as the kernel does under it; the kind
``replay`` names for each is in ``EXPECTED`` (docs/synth.md, docs/diagnosis.md).

``vni`` and ``remote`` make C2 ping C1 as well: a VNI mismatch or a stale FDB entry shows on
the wire only when both ends send."""

from __future__ import annotations

from dataclasses import dataclass

STALE_REMOTE = "172.31.1.99"  # where node2's stale entry sends C1's frames: nobody is there
SMALL_UNDERLAY_MTU = 1400
FAULT_PING_SIZE = 1400  # ping -s under mtu/fragment when none is given: 1428-byte packets


@dataclass(frozen=True)
class Fault:
    name: str
    help: str
    underlay_mtu: int | None = None  # the router's link into node2's subnet
    df: str | None = None  # the VTEPs' outer DF policy
    node2_vni_offset: int = 0
    node2_port: int | None = None
    stale_remote: str | None = None  # node2: static FDB entry for C1's MAC there
    vtep_ttl: int = 0
    drop_neighbour: bool = False  # node1's VTEP misses C2's neighbour entry
    drop_fdb: bool = False  # node1's VTEP misses C2's FDB entry
    both_ways: bool = False


FAULTS: dict[str, Fault] = {f.name: f for f in (
    Fault("mtu", "the underlay link into node2's subnet has MTU 1400 and the VTEPs set DF "
          "(df set): the router answers ICMP fragmentation needed, then the VTEP itself",
          underlay_mtu=SMALL_UNDERLAY_MTU, df="set"),
    Fault("fragment", "the same small link, DF clear (Linux's default): the router fragments "
          "the VXLAN datagrams and node2 reassembles them", underlay_mtu=SMALL_UNDERLAY_MTU,
          df="unset"),
    Fault("vni", "node2's vxlan device has VNI+1: each side drops the other's packets "
          "(VXLAN_VNI_NOT_FOUND)", node2_vni_offset=1, both_ways=True),
    Fault("port", "node2's vxlan device uses dstport 8472 (Linux's default), node1's 4789: "
          "node2 answers ICMP port unreachable", node2_port=8472),
    Fault("remote", f"node2 has a static FDB entry for C1's MAC pointing at {STALE_REMOTE}: "
          "vxlan_snoop drops C1's frames (VXLAN_ENTRY_EXISTS), C2's go to the wrong host",
          stale_remote=STALE_REMOTE, both_ways=True),
    Fault("ttl", "the VTEPs send with TTL 1 (ip link ... ttl 1): the underlay router answers "
          "ICMP time exceeded", vtep_ttl=1),
    Fault("neigh", "node1's VTEP lacks C2's neighbour entry: arp_reduce drops C1's ARP "
          "(L3 miss), nobody answers", drop_neighbour=True),
    Fault("fdb", "node1's VTEP lacks C2's FDB entry: the echo is dropped at node1 "
          "(L2 miss, VXLAN_NO_REMOTE)", drop_fdb=True),
)}

# The diagnosis ``replay --json`` gives for each fault's capture.
EXPECTED = {"mtu": "mtu", "fragment": "outer_fragmentation", "vni": "vni_mismatch",
            "port": "port_mismatch", "remote": "loss", "ttl": "ttl_expired",
            "neigh": "unanswered_arp", "fdb": "unknown_unicast"}
