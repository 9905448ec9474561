"""The kernel's tables after the exchange, from ``bridge -j fdb show`` and ``ip -j neigh show``.

``dump`` keeps iproute2's JSON as it is (written to ``-o DIR``); ``vxlan_fdb`` and
``bridge_fdb`` read the two tables the lab compares with the models out of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from vxlankit.errors import LabError
from vxlankit.lab.netns import Netns

ZERO_MAC = "00:00:00:00:00:00"


@dataclass(frozen=True)
class KernelFdbEntry:
    mac: str
    target: str  # a VTEP's FDB: the remote VTEP (dst); a bridge's: the port
    permanent: bool


def dump(net: Netns, namespaces: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Per namespace (short name): ``{"fdb": [...], "neigh": [...]}``, iproute2's JSON."""
    out: dict[str, dict[str, Any]] = {}
    for ns in namespaces:
        tables: dict[str, Any] = {}
        for key, argv in (("fdb", ("bridge", "-j", "fdb", "show")),
                          ("neigh", ("ip", "-j", "neigh", "show"))):
            text = net.exec(ns, *argv).stdout.strip()
            try:
                tables[key] = json.loads(text) if text else []
            except json.JSONDecodeError as exc:
                raise LabError(f"{' '.join(argv)} in {net.name(ns)} gave no JSON: {exc}"
                               ) from None
        out[ns] = tables
    return out


def _permanent(row: dict[str, Any]) -> bool:
    return row.get("state") == "permanent"


def vxlan_fdb(rows: list[dict[str, Any]], device: str) -> list[KernelFdbEntry]:
    """The VTEP's own FDB (``self`` entries with a ``dst``) of ``device``, all-zeros flood
    entries included."""
    return [KernelFdbEntry(r["mac"], r["dst"], _permanent(r)) for r in rows
            if r.get("ifname") == device and "dst" in r and "master" not in r]


def bridge_fdb(rows: list[dict[str, Any]], bridge: str) -> list[KernelFdbEntry]:
    """The bridge's learned MAC table: ``master <bridge>`` entries that are not the bridge's
    own ports' addresses (those are permanent, configuration rather than learning)."""
    return [KernelFdbEntry(r["mac"], r["ifname"], False) for r in rows
            if r.get("master") == bridge and not _permanent(r)]
