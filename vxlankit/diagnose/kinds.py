"""The kinds of diagnosis: severity, the likely cause and what to check, in one table.

A detector (path.py, overlay.py, loss.py, hygiene.py) decides that a kind applies and with
which facts; the words come from here, formatted with those facts, so that every kind reads
the same way wherever it is found.  docs/diagnosis.md describes each kind and the kernel
behaviour behind it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"error": 0, "warning": 1, "info": 2}
VXLAN_OVERHEAD = {4: 50, 6: 70}  # outer IP + UDP + VXLAN + inner Ethernet (vxlan_headroom)


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    severity: Severity
    cause: str
    check: tuple[str, ...]


_DROP_CHECK = (
    "perf trace -e skb:kfree_skb   (on {vtep}: the kernel's drop reason, per packet)",
    "ip -s -d link show type vxlan   (the device's settings and its rx/tx error counters)",
)

KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("mtu", "error",
         "VXLAN adds {overhead} bytes (outer IP, UDP, VXLAN, inner Ethernet): an inner packet "
         "of {size} bytes needs a {needed}-byte underlay path, and the path carries "
         "{path_mtu}. With DF on the outer header (ip link ... df set|inherit) the router "
         "before the small link drops it and sends ICMP fragmentation needed to the VTEP; the "
         "VTEP (Linux 5.9+, skb_tunnel_check_pmtu) then refuses the next such frame itself "
         "with an ICMP fragmentation needed (MTU {inner_mtu}) to the inner source.",
         ("the largest inner MTU that fits this path is {inner_mtu}",
          "ip link set dev vxlan0 mtu {inner_mtu}   (and the containers' interfaces: Docker: "
          "docker network create -d overlay -o com.docker.network.driver.mtu={inner_mtu} ...)",
          "or raise the underlay MTU to {needed} on every link between the VTEPs "
          "(ip link set dev eth0 mtu {needed})",
          "tracepath -n {remote}   (from {local}: the path MTU hop by hop)")),
    Kind("outer_fragmentation", "warning",
         "The outer IPv4 header has DF clear (Linux's default, df unset), so a router whose "
         "next link is smaller than the {size}-byte VXLAN packet fragments it, and {remote} "
         "reassembles it before vxlan_rcv sees it. It works, slowly: one lost fragment loses "
         "the whole frame, and a middlebox that drops fragments black-holes the traffic.",
         ("make the overlay fit: ip link set dev vxlan0 mtu {inner_mtu}   (Docker: -o "
          "com.docker.network.driver.mtu={inner_mtu})",
          "or raise the underlay MTU to {needed} on every link between the VTEPs",
          "tracepath -n {remote}   (from {local}: where the path narrows to {path_mtu})")),
    Kind("vni_mismatch", "error",
         "The same conversation travels directly between the endpoints (inner TTLs {ttls}, "
         "the endpoints' own MACs: no router in between) but on VNI {vni_a} one way and VNI "
         "{vni_b} the other: the two VTEPs are configured with different VNIs for one "
         "network. vxlan_rcv finds no device for a VNI it does not serve and drops the packet "
         "(VXLAN_VNI_NOT_FOUND).",
         ("ip -d link show type vxlan   (on each host: the device's 'id')",
          "recreate one side with the other's VNI: ip link add vxlan0 type vxlan id {vni_a} "
          "dstport {port} ...",
          "Docker: docker network inspect NET --format '{{{{json .Options}}}}'   "
          "(com.docker.network.driver.overlay.vxlanid_list) on both nodes")),
    Kind("routed", "info",
         "The conversation crosses a router between the overlay's subnets (inner TTL lowered "
         "to {ttls}, a router's MAC as source): a request rides the destination subnet's VNI "
         "and the answer the source subnet's. Not a fault.",
         ()),
    Kind("port_mismatch", "error",
         "{peer} has no UDP socket on port {port}: its UDP stack drops the datagram before "
         "any vxlan device sees it (__udp4_lib_rcv: no socket, UdpNoPorts) and answers ICMP "
         "port unreachable. The two VTEPs use different VXLAN ports: Linux's vxlan default "
         "dstport is 8472 when none is given, the IANA port (and Docker's) is 4789.",
         ("ip -d link show type vxlan   (on both hosts: 'dstport')",
          "recreate one side on the other's port: ip link add vxlan0 type vxlan id VNI "
          "dstport {other_port} ...",
          "ss -ulpn | grep -E '4789|8472'   (on {peer}: the port it listens on)")),
    Kind("loss", "error", "{explanation}", ()),
    Kind("wrong_remote", "error",
         "{vtep} sends frames for {mac} to {wrong} while {mac}'s own frames reach it from "
         "{right}: its FDB has an entry for {mac} pointing at the wrong host, and a static "
         "one is never moved by learning: vxlan_snoop drops every frame from {mac} that "
         "arrives from {right} (VXLAN_ENTRY_EXISTS), and the answers go to {wrong}.",
         ("bridge fdb show dev vxlan0 | grep {mac}   (on {vtep})",
          "bridge fdb replace {mac} dev vxlan0 dst {right} static   (or delete it and let "
          "learning work: bridge fdb del {mac} dev vxlan0)",
          "Docker: the entry comes from the overlay's gossip: a peer left behind by a "
          "container that moved; check docker network inspect -v on both nodes")),
    Kind("unanswered_arp", "warning",
         "Nobody answered ARP for {target}. With the VTEP's proxy on (Docker's overlay) "
         "arp_reduce answers only from the vxlan device's neighbour table and never floods: "
         "with no entry for {target} it drops the request and raises an L3 miss "
         "(vxlan_ip_miss, RTM_GETNEIGH to the control plane). Without proxy the request was "
         "flooded and no host behind the VTEPs has {target}.",
         ("ip neigh show dev vxlan0 | grep {target}   (the entry the control plane should have "
          "installed)",
          "ip monitor neigh   (the L3 misses as they happen; Docker handles them itself)",
          "Docker: the peer did not reach this node by gossip: docker network inspect -v NET "
          "on both nodes, and TCP/UDP 7946 between them")),
    Kind("unknown_unicast", "warning",
         "{vtep} had no FDB entry for {mac}: vxlan_xmit falls back to the all-zeros "
         "(default) entry and floods the frame to every remote in it (head-end replication) "
         "or to the group; with no default entry it drops the frame and raises an L2 miss "
         "(vxlan_fdb_miss), as Docker's overlay (l2miss) does.",
         ("bridge fdb show dev vxlan0 | grep {mac}   (on {vtep})",
          "ip monitor neigh   (the L2 misses)",
          "bridge fdb append {mac} dev vxlan0 dst REMOTE_VTEP   (or fix the control plane "
          "that should install it)")),
    Kind("mac_flap", "warning",
         "{mac} arrives at {vtep} from {remotes}: a loop, a container that moved, two "
         "endpoints with one MAC, or a spoof. With learning on, vxlan_snoop moves the FDB "
         "entry each time and the traffic for {mac} follows whichever came last.",
         ("bridge fdb show dev vxlan0 | grep {mac}   (on {vtep}, a few times)",
          "docker network inspect -v NET   (which endpoints have {mac})")),
    Kind("linux_drop", "error", "{explanation}", _DROP_CHECK),
    Kind("checksum_offload", "info",
         "The {what} checksums that do not verify are all on packets {sender} sent, captured "
         "at {tap}, while what {sender} receives there verifies: the capture was taken on the "
         "sending host before the NIC (or veth) filled the checksum in (TX checksum "
         "offload). Not corruption on the wire.",
         ("ethtool -k eth0 | grep checksum   (on {sender}'s host)",
          "capture on the receiving side to see the checksums as sent")),
    Kind("low_entropy", "warning",
         "{flows} inner flows from {src} to {dst} all ride UDP source port {port}: RFC 7348 "
         "asks the VTEP to hash each inner flow into the source port so that ECMP and RSS "
         "spread them; with one port they all take one path and one receive queue.",
         ("ip -d link show type vxlan   (the 'srcport' range; Linux hashes into the "
          "ephemeral range by default)",
          "ip link set vxlan0 type vxlan srcport 49152 65535   (where the VTEP allows it)")),
    Kind("ttl_expired", "error",
         "A router between {src} and {dst} dropped the VXLAN packet because its TTL ran out "
         "and said so with ICMP time exceeded: the VTEP sends with TTL {ttl} "
         "(ip link ... ttl N) and the underlay path has more hops than that.",
         ("ip -d link show type vxlan   (its 'ttl'; 0/auto means 64)",
          "ip link set dev vxlan0 type vxlan ttl 64   (or recreate the device without ttl)")),
    Kind("duplicate_ip", "error",
         "{ip} is claimed by {macs} ({domain}): two endpoints have the same address, or a "
         "proxy answers from a stale entry; traffic for {ip} goes to whichever answered last.",
         ("arping -D -I eth0 {ip}   (from an endpoint on that network: duplicate detection)",
          "docker network inspect -v NET   (the endpoints' addresses)",
          "ip neigh show dev vxlan0 | grep {ip}   (a proxy's entry)")),
)}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One finding: its kind, how severe, a one-line summary, the likely cause, what to
    check or change, and the evidence (packet numbers, VNIs, VTEPs, taps, and facts)."""

    kind: str
    severity: Severity
    summary: str
    cause: str
    check: tuple[str, ...]
    packets: tuple[int, ...]
    vni: tuple[int, ...] = ()
    vtep: tuple[str, ...] = ()
    taps: tuple[str, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        evidence: dict[str, Any] = {"packets": list(self.packets)}
        if self.vni:
            evidence["vni"] = list(self.vni)
        if self.vtep:
            evidence["vtep"] = list(self.vtep)
        if self.taps:
            evidence["taps"] = list(self.taps)
        evidence.update(self.facts)
        return {"kind": self.kind, "severity": self.severity, "summary": self.summary,
                "cause": self.cause, "check": list(self.check), "evidence": evidence}

    @property
    def order(self) -> tuple[int, int, str]:
        return (SEVERITY_RANK[self.severity], self.packets[0] if self.packets else 0,
                self.kind)


def make(kind: str, summary: str, words: Mapping[str, Any], *, packets: Iterable[int] = (),
         vni: Iterable[int] = (), vtep: Iterable[str] = (), taps: Iterable[str] = (),
         facts: Mapping[str, Any] | None = None, severity: Severity | None = None,
         checks: Iterable[str] = (), cause: str | None = None) -> Diagnosis:
    """A diagnosis of ``kind``: cause and checks from the table, formatted with ``words``;
    ``checks`` come first, for what only the detector knows to suggest; ``cause`` replaces
    the table's where the detector knows better."""
    spec = KINDS[kind]
    return Diagnosis(
        kind, severity or spec.severity, summary, cause or spec.cause.format(**words),
        tuple(dict.fromkeys([*checks, *(line.format(**words) for line in spec.check)])),
        tuple(sorted(set(packets))), tuple(sorted(set(vni))), tuple(sorted(set(vtep))),
        tuple(dict.fromkeys(taps)), dict(facts or {}))


def numbers_text(packets: Iterable[int], limit: int = 8) -> str:
    """``"packets 3, 7, 9"`` (the first few, then how many more)."""
    got = sorted(set(packets))
    if not got:
        return "no packet numbers"
    shown = ", ".join(str(n) for n in got[:limit])
    more = f" and {len(got) - limit} more" if len(got) > limit else ""
    return f"packet{'s' if len(got) > 1 else ''} {shown}{more}"
