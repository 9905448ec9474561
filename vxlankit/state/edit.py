"""What-if edits on a loaded state: what ``trace --set/--fdb-add/--fdb-del/--vxlan`` change,
in memory only (the host and the saved files are never touched).  Pure.

=======================================  ====================================================
edit                                     as if one had run
=======================================  ====================================================
``--set HOST:DEV:mtu=1450``              ``ip -n HOST link set dev DEV mtu 1450``
``--set HOST:DEV:up=0``                  ``ip -n HOST link set dev DEV down``
``--fdb-add HOST:DEV:MAC:DST``           ``bridge -n HOST fdb replace MAC dev DEV dst DST
                                         self permanent`` (DEV a vxlan device)
``--fdb-del HOST:DEV:MAC``               ``bridge -n HOST fdb del MAC dev DEV self``
``--vxlan HOST:DEV:dstport=4789``        DEV recreated with that port (likewise ``vni=``,
                                         ``learning=``, ``proxy=``, ``l2miss=``, ``l3miss=``,
                                         ``local=``, ``remote=``, ``ttl=``, ``df=``)
=======================================  ====================================================

HOST is a namespace's saved name, or its unique end after a '-' (``node1`` for
``vxksh-node1``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from vxlankit.errors import StateError
from vxlankit.state.load import Device, FdbRow, Namespace, NetworkState, VxlanSettings

_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
_BOOL = {"1": True, "on": True, "true": True, "yes": True,
         "0": False, "off": False, "false": False, "no": False}
_VXLAN_INT = ("vni", "dstport", "ttl")
_VXLAN_BOOL = ("learning", "proxy", "l2miss", "l3miss")


@dataclass(frozen=True)
class Edit:
    op: str  # set, fdb-add, fdb-del, vxlan
    host: str
    device: str
    key: str = ""  # set/vxlan: the setting; fdb: the MAC
    value: str = ""  # set/vxlan: the value; fdb-add: the remote

    def text(self) -> str:
        if self.op in ("set", "vxlan"):
            return f"--{self.op} {self.host}:{self.device}:{self.key}={self.value}"
        if self.op == "fdb-add":
            return f"--fdb-add {self.host}:{self.device}:{self.key}:{self.value}"
        return f"--fdb-del {self.host}:{self.device}:{self.key}"


def _split(op: str, text: str, parts: int) -> list[str]:
    bits = text.split(":", parts - 1)
    if len(bits) != parts or not all(bits):
        raise StateError(f"--{op} {text!r}: expected {_FORMS[op]}")
    return bits


_FORMS = {"set": "HOST:DEV:mtu=N", "vxlan": "HOST:DEV:KEY=VALUE (dstport, vni, ...)",
          "fdb-add": "HOST:DEV:MAC:DST", "fdb-del": "HOST:DEV:MAC"}


def parse_edit(op: str, text: str) -> Edit:
    """``--set``, ``--vxlan``, ``--fdb-add`` or ``--fdb-del``'s argument."""
    if op in ("set", "vxlan"):
        host, dev, setting = _split(op, text, 3)
        key, eq, value = setting.partition("=")
        if not eq or not value:
            raise StateError(f"--{op} {text!r}: expected {_FORMS[op]}")
        return Edit(op, host, dev, key, value)
    if op in ("fdb-add", "fdb-del"):
        host, dev, rest = _split(op, text, 3)
        mac, value = rest[:17], rest[18:]
        if not _MAC.match(mac) or (op == "fdb-add") != bool(value) or \
                (value and rest[17] != ":"):
            raise StateError(f"--{op} {text!r}: expected {_FORMS[op]}")
        return Edit(op, host, dev, mac.lower(), value)
    raise StateError(f"unknown edit --{op}")


def apply_edits(state: NetworkState, edits: list[Edit]) -> NetworkState:
    for edit in edits:
        state = apply_edit(state, edit)
    return state


def apply_edit(state: NetworkState, edit: Edit) -> NetworkState:
    ns = state.find(edit.host)
    dev = ns.device(edit.device)
    if dev is None:
        names = ", ".join(d.name for d in ns.devices)
        raise StateError(f"{edit.text()}: {ns.name} has no device {edit.device} "
                         f"(it has {names})")
    if edit.op == "set":
        new_ns = _replace_device(ns, _set(dev, edit))
    elif edit.op == "vxlan":
        new_ns = _replace_device(ns, _vxlan(dev, edit))
    else:
        if dev.vxlan is None:
            raise StateError(f"{edit.text()}: {dev.name} is not a vxlan device (the FDB "
                             "edits change a VTEP's entries)")
        kept = tuple(r for r in ns.fdb if not (r.dev == dev.name and r.master is None
                                              and r.mac == edit.key and r.dst))
        if edit.op == "fdb-del" and len(kept) == len(ns.fdb):
            raise StateError(f"{edit.text()}: {dev.name} in {ns.name} has no FDB entry for "
                             f"{edit.key}")
        if edit.op == "fdb-add":
            row = FdbRow(edit.key, dev.name, None, edit.value, "permanent", True, None, None,
                         f"{edit.key} dev {dev.name} dst {edit.value} self permanent "
                         "(what-if)")
            kept = (*kept, row)
        new_ns = replace(ns, fdb=kept)
    return NetworkState(tuple(new_ns if n.name == ns.name else n for n in state.namespaces))


def _replace_device(ns: Namespace, dev: Device) -> Namespace:
    return replace(ns, devices=tuple(dev if d.name == dev.name else d for d in ns.devices))


def _int(edit: Edit, low: int, high: int) -> int:
    try:
        n = int(edit.value, 0)
    except ValueError:
        raise StateError(f"{edit.text()}: {edit.key} takes a number") from None
    if not low <= n <= high:
        raise StateError(f"{edit.text()}: {edit.key} must be within {low}..{high}")
    return n


def _set(dev: Device, edit: Edit) -> Device:
    if edit.key == "mtu":
        return replace(dev, mtu=_int(edit, 68, 65535))
    if edit.key == "up":
        value = _BOOL.get(edit.value.lower())
        if value is None:
            raise StateError(f"{edit.text()}: up takes 1 or 0")
        return replace(dev, up=value)
    raise StateError(f"{edit.text()}: --set knows mtu= and up=")


def _vxlan(dev: Device, edit: Edit) -> Device:
    vx = dev.vxlan
    if vx is None:
        raise StateError(f"{edit.text()}: {dev.name} is not a vxlan device")
    changes: dict[str, Any] = {}
    key = edit.key
    if key in _VXLAN_INT:
        field = {"dstport": "port"}.get(key, key)
        changes[field] = _int(edit, 0 if key != "dstport" else 1,
                              {"vni": (1 << 24) - 1, "dstport": 65535, "ttl": 255}[key])
    elif key in _VXLAN_BOOL:
        value = _BOOL.get(edit.value.lower())
        if value is None:
            raise StateError(f"{edit.text()}: {key} takes on or off")
        changes[key] = value
    elif key in ("local", "remote"):
        changes[key] = edit.value
    elif key == "df":
        if edit.value not in ("unset", "set", "inherit"):
            raise StateError(f"{edit.text()}: df is unset, set or inherit")
        changes["df"] = edit.value
    else:
        raise StateError(f"{edit.text()}: --vxlan knows " + ", ".join(
            (*_VXLAN_INT, *_VXLAN_BOOL, "local", "remote", "df")))
    new: VxlanSettings = replace(vx, **changes)
    return replace(dev, vxlan=new)


__all__ = ["Edit", "apply_edit", "apply_edits", "parse_edit"]
