"""Docker's overlay control plane, reduced to what it does to the kernel tables.

Docker spreads endpoint records (network, IP, MAC, the host's VTEP address) by gossip
(NetworkDB in swarm mode, Serf before it).  For every remote endpoint the overlay driver's
peerAdd (libnetwork drivers/overlay/peerdb.go) installs two things in the network's sandbox:

* a permanent neighbour entry, ``ip neigh replace IP lladdr MAC dev vxlanN nud permanent``,
  so that the VTEP can answer ARP for the endpoint by proxy (arp_reduce);
* a permanent FDB entry, ``bridge fdb replace MAC dev vxlanN self dst VTEP``, so that frames
  to the endpoint's MAC are sent to the right host, and so that vxlan_snoop never migrates it.

peerDelete removes both, and also the bridge's learned entry for the MAC (osl DeleteNeighbor
deletes the NTF_MASTER entry), so br0 stops sending the MAC to the VTEP at once.

The functions here return those kernel operations as model input events; ``ControlPlane`` is
the peer database that decides them, including the "endpoint moved to another host" case that
peerAdd handles by deleting the stale entries first.  The peer database has no timers: ``now``
is accepted for symmetry with the devices and not used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vxlankit.addr import docker_mac
from vxlankit.model.events import (
    BridgeFdbDel,
    ControlInput,
    FdbAdd,
    FdbDel,
    ModelError,
    NeighAdd,
    NeighDel,
    PeerAdd,
    PeerDelete,
    VtepInput,
)

DeviceInput = VtepInput | BridgeFdbDel


def docker_container_mac(ip: str) -> str:
    """The MAC Docker gives a container: 02:42 and the four octets of its IPv4 address
    (10.0.0.3 -> 02:42:0a:00:00:03)."""
    return docker_mac(ip)


def peer_add(vni: int, ip: str, mac: str, vtep_ip: str) -> list[DeviceInput]:
    """What libnetwork's peerAdd programs for a remote endpoint, in its order."""
    return [
        NeighAdd(vni, ip, mac, reason="docker peerAdd"),
        FdbAdd(vni, mac, vtep_ip, static=True, reason="docker peerAdd"),
    ]


def peer_delete(vni: int, ip: str, mac: str, vtep_ip: str) -> list[DeviceInput]:
    """What libnetwork's peerDelete removes, in its order: the VTEP's FDB entry, the bridge's
    learned entry for the MAC, then the neighbour entry."""
    return [
        FdbDel(vni, mac, vtep_ip, reason="docker peerDelete"),
        BridgeFdbDel(mac, reason="docker peerDelete"),
        NeighDel(vni, ip, reason="docker peerDelete"),
    ]


class ControlPlane:
    """The overlay driver's peer database for one host (the one whose VTEP is ``local_vtep``).

    ``handle(PeerAdd | PeerDelete, now)`` returns the device events to apply, VTEP events
    (``NeighAdd``, ``FdbAdd``, ...) for the host's Vtep and ``BridgeFdbDel`` for its bridge.
    Endpoints behind ``local_vtep`` are recorded but program nothing: local containers are
    reached through their veth, not through the VTEP.
    """

    __slots__ = ("local_vtep", "_peers")

    def __init__(self, local_vtep: str) -> None:
        self.local_vtep = local_vtep
        # (vni, ip) -> (mac, vtep): Docker looks peers up by IP (peerDbSearch).
        self._peers: dict[tuple[int, str], tuple[str, str]] = {}

    def peers(self) -> dict[tuple[int, str], tuple[str, str]]:
        return dict(self._peers)

    def handle(self, event: ControlInput, now: int) -> list[DeviceInput]:
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise ModelError(f"not a control-plane event: {event!r}")
        return handler(self, event)

    def _add(self, ev: PeerAdd) -> list[DeviceInput]:
        key = (ev.vni, ev.ip)
        old = self._peers.get(key)
        self._peers[key] = (ev.mac, ev.vtep_ip)
        if old == (ev.mac, ev.vtep_ip):
            return []
        ops: list[DeviceInput] = []
        if old is not None and old[1] != self.local_vtep:
            old_mac, old_vtep = old
            # The IP now belongs to an endpoint elsewhere (a task rescheduled before its
            # delete arrived): peerAdd clears the stale kernel state first.
            ops.append(FdbDel(ev.vni, old_mac, old_vtep, reason="docker peerAdd: stale"))
            if old_mac != ev.mac:
                ops.append(BridgeFdbDel(old_mac, reason="docker peerAdd: stale"))
        if ev.vtep_ip != self.local_vtep:
            ops.extend(peer_add(ev.vni, ev.ip, ev.mac, ev.vtep_ip))
        elif old is not None:
            ops.append(NeighDel(ev.vni, ev.ip, reason="docker peerAdd: now local"))
        return ops

    def _delete(self, ev: PeerDelete) -> list[DeviceInput]:
        key = (ev.vni, ev.ip)
        if self._peers.get(key) != (ev.mac, ev.vtep_ip):
            # A delete for a record we do not hold (or hold differently) is stale gossip:
            # peerDbDelete keeps the newer record and the kernel state that goes with it.
            return []
        del self._peers[key]
        if ev.vtep_ip == self.local_vtep:
            return []
        return peer_delete(ev.vni, ev.ip, ev.mac, ev.vtep_ip)


__all__ = ["ControlPlane", "DeviceInput", "docker_container_mac", "peer_add", "peer_delete"]


# Event handling as a table (h11, aioquic), as the bridge and the VTEP do it.
_HANDLERS: dict[type, Callable[[ControlPlane, Any], list[DeviceInput]]] = {
    PeerAdd: ControlPlane._add,
    PeerDelete: ControlPlane._delete,
}
