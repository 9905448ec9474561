"""``lab ping --fault KIND``: ``synth ping --fault``'s kinds, made on the kernel.

One table, ``synth.faults.FAULTS``, says what each kind breaks; ``lab_faults`` turns it into
the lab's ``LabFaults`` (what the builder changes in iproute2 terms), so that the kernel and
the synth are broken the same way by construction.  ``KERNEL`` says, per kind, what the lab
configures, for the docs and the report.
"""

from __future__ import annotations

from vxlankit.errors import LabError
from vxlankit.lab.topology import LabFaults
from vxlankit.synth.faults import FAULT_PING_SIZE, FAULTS, Fault

# What each kind is on the kernel: the iproute2 the lab runs differently.
KERNEL = {
    "mtu": "router: ip route replace 192.168.1.0/24 dev eth2 ... mtu 1400; both vxlan0: df set",
    "fragment": "router: ip route replace 192.168.1.0/24 dev eth2 ... mtu 1400; both vxlan0: "
                "df unset",
    "vni": "node2: ip link add vxlan0 type vxlan id VNI+1 ...; C2 pings C1 too",
    "port": "node2: ip link add vxlan0 type vxlan ... dstport 8472",
    "remote": "node2: bridge fdb add C1-MAC dev vxlan0 dst 172.31.1.99 self permanent; C2 "
              "pings C1 too",
    "ttl": "both vxlan0: ip link add ... type vxlan ... ttl 1",
    "neigh": "node1: no ip neigh add 10.0.0.4 lladdr C2-MAC dev vxlan0 nud permanent",
    "fdb": "node1: no bridge fdb add C2-MAC dev vxlan0 dst 192.168.1.10 self permanent",
}


def fault_kinds() -> tuple[str, ...]:
    """The kinds the lab makes (all of synth's)."""
    return tuple(k for k in FAULTS if k in KERNEL)


def synth_fault(kind: str) -> Fault:
    fault = FAULTS.get(kind)
    if fault is None or kind not in KERNEL:
        raise LabError(f"--fault {kind!r}: the lab makes {', '.join(fault_kinds())} "
                       "(synth ping --fault's kinds), or KEY=VALUE (docs/lab.md)")
    return fault


def lab_faults(kind: str, vni: int, mode: str) -> LabFaults:
    """The kernel configuration that makes ``kind`` (``synth ping --fault``'s) with the
    overlay on ``vni``; refuses, saying why, where the lab cannot make it."""
    fault = synth_fault(kind)
    if (fault.drop_neighbour or fault.drop_fdb) and mode != "docker":
        raise LabError(f"--fault {kind} removes what Docker's gossip installs (a neighbour or "
                       "FDB entry for C2): it needs --mode docker; learning mode has no such "
                       "entry to lose")
    if fault.node2_vni_offset and not 0 <= vni + fault.node2_vni_offset < 1 << 24:
        raise LabError(f"--fault {kind}: VNI {vni} + {fault.node2_vni_offset} is not a VNI")
    return LabFaults(
        vni=vni + fault.node2_vni_offset if fault.node2_vni_offset else None,
        port=fault.node2_port,
        c1_vtep=fault.stale_remote,
        router_mtu=fault.underlay_mtu,
        df=fault.df,
        ttl=fault.vtep_ttl or None,
        no_c2_neigh=fault.drop_neighbour,
        no_c2_fdb=fault.drop_fdb,
    )


def default_size(kind: str | None) -> int:
    """ping -s when none is given: synth's (1400 under a small underlay link, else 56)."""
    if kind is not None and synth_fault(kind).underlay_mtu is not None:
        return FAULT_PING_SIZE
    return 56


def both_ways(kind: str | None) -> bool:
    """Whether C2 pings C1 too (as synth does under this kind)."""
    return kind is not None and synth_fault(kind).both_ways
