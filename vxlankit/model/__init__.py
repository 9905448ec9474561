"""Sans-IO reference models of the devices on a VXLAN overlay: a Linux bridge, a Linux VTEP and
Docker's overlay control plane.  Each takes an input event and ``now`` (integer nanoseconds)
and returns a list of output events; ``next_deadline()`` tells when ``tick(now)`` next has
something to do.  None of them does I/O, reads a clock or draws random numbers.  See
docs/models.md.
"""

from vxlankit.model.bridge import Bridge, BridgeEntry, PortConfig
from vxlankit.model.controlplane import (
    ControlPlane,
    DeviceInput,
    docker_container_mac,
    peer_add,
    peer_delete,
)
from vxlankit.model.events import *  # noqa: F403 - the event vocabulary is the package's API
from vxlankit.model.events import __all__ as _events_all
from vxlankit.model.vtep import FdbEntry, Vtep, VtepConfig

__all__ = [
    *_events_all,
    "Bridge",
    "BridgeEntry",
    "ControlPlane",
    "DeviceInput",
    "FdbEntry",
    "PortConfig",
    "Vtep",
    "VtepConfig",
    "docker_container_mac",
    "peer_add",
    "peer_delete",
]
