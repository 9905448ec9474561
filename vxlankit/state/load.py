"""Saved state (``vxlankit state save``) read back as typed, frozen values.

Pure: ``parse_namespace`` takes one namespace's document (iproute2's JSON), ``load_state``
reads folders of them.  Each table row keeps ``text``, the row as iproute2 prints it (``ip
route``, ``ip neigh``, ``bridge fdb``), which is what ``trace`` quotes as the deciding entry.

Names: a namespace is known by its saved ``name`` (the netns name, or the host name for the
namespace ``state save`` ran in).  Folders saved on different hosts may reuse names; a clash
is resolved by prefixing the folder's name (``hostA/node1``).  A veth's peer and a vxlan
device's underlay namespace are resolved through the folder's own ``netns_ids``: nsids are
local to the namespace that prints them and the names to the host that saved them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vxlankit.errors import StateError
from vxlankit.state.save import FORMAT, MANIFEST


@dataclass(frozen=True)
class Address:
    ip: str
    prefixlen: int
    scope: str = "global"

    @property
    def prefix(self) -> str:
        return f"{self.ip}/{self.prefixlen}"


@dataclass(frozen=True)
class VxlanSettings:
    """What ``ip -d link`` says of a vxlan device (the fields the data path uses)."""

    vni: int
    port: int
    learning: bool = True
    proxy: bool = False
    l2miss: bool = False
    l3miss: bool = False
    local: str | None = None
    remote: str | None = None  # "remote" or "group": the device's default destination
    ttl: int = 0
    df: str = "unset"
    ageing: int = 300
    udp_csum: bool = True
    underlay: str | None = None  # the namespace its UDP socket lives in (None: its own)

    def text(self) -> str:
        words = [f"vxlan id {self.vni}"]
        if self.remote:
            words.append(f"remote {self.remote}")
        if self.local:
            words.append(f"local {self.local}")
        words.append(f"dstport {self.port}")
        words.append("" if self.learning else "nolearning")
        words += [w for w, on in (("proxy", self.proxy), ("l2miss", self.l2miss),
                                  ("l3miss", self.l3miss)) if on]
        words.append(f"ttl {self.ttl or 'auto'}")
        if self.df != "unset":
            words.append(f"df {self.df}")
        return " ".join(w for w in words if w)


@dataclass(frozen=True)
class Device:
    ifindex: int
    name: str
    kind: str  # veth, bridge, vxlan, loopback, ether (a device with no info_kind), ...
    mac: str
    mtu: int
    up: bool
    master: str | None = None
    addresses: tuple[Address, ...] = ()
    # A veth's peer: (namespace name, or None for this namespace; its ifindex there).
    peer: tuple[str | None, int] | None = None
    vxlan: VxlanSettings | None = None
    port_learning: bool = True
    port_state: str | None = None
    hairpin: bool = False

    def text(self) -> str:
        parts = [f"{self.name}:" if self.vxlan else f"{self.name}: {self.kind}",
                 f"mtu {self.mtu}"]
        if self.master:
            parts.append(f"master {self.master}")
        parts.append("UP" if self.up else "DOWN")
        if self.vxlan is not None:
            parts.append(self.vxlan.text())
        return " ".join(parts)


@dataclass(frozen=True)
class Route:
    dst: str  # a prefix; "default" is 0.0.0.0/0
    dev: str | None
    gateway: str | None = None
    prefsrc: str | None = None
    protocol: str | None = None
    scope: str | None = None
    metric: int = 0
    type: str = "unicast"
    text: str = ""


@dataclass(frozen=True)
class Neighbour:
    ip: str
    dev: str
    mac: str | None
    state: tuple[str, ...]
    text: str = ""

    @property
    def usable(self) -> bool:
        """An entry the kernel sends to without asking again (not FAILED or INCOMPLETE)."""
        return self.mac is not None and not {"FAILED", "INCOMPLETE"} & set(self.state)


@dataclass(frozen=True)
class FdbRow:
    mac: str
    dev: str
    master: str | None = None
    dst: str | None = None
    state: str = ""  # permanent, static, stale, "" (learned and fresh)
    self_: bool = False
    vni: int | None = None
    port: int | None = None
    text: str = ""


@dataclass(frozen=True)
class Namespace:
    name: str
    netns: str | None
    folder: str
    forwarding: bool
    devices: tuple[Device, ...]
    routes: tuple[Route, ...]
    neighbours: tuple[Neighbour, ...]
    fdb: tuple[FdbRow, ...]

    def device(self, name: str) -> Device | None:
        for dev in self.devices:
            if dev.name == name:
                return dev
        return None

    def by_index(self, ifindex: int) -> Device | None:
        for dev in self.devices:
            if dev.ifindex == ifindex:
                return dev
        return None

    def owns(self, ip: str) -> Device | None:
        for dev in self.devices:
            if any(a.ip == ip for a in dev.addresses):
                return dev
        return None


@dataclass(frozen=True)
class NetworkState:
    namespaces: tuple[Namespace, ...] = field(default_factory=tuple)

    def get(self, name: str) -> Namespace | None:
        for ns in self.namespaces:
            if ns.name == name:
                return ns
        return None

    def find(self, name: str) -> Namespace:
        """A namespace by its name, or by the end of it after a '-' or '/' when that is
        unique (``node1`` for ``vxksh-node1``)."""
        exact = self.get(name)
        if exact is not None:
            return exact
        hits = [ns for ns in self.namespaces
                if ns.name.endswith("-" + name) or ns.name.endswith("/" + name)]
        if len(hits) == 1:
            return hits[0]
        known = ", ".join(ns.name for ns in self.namespaces)
        if hits:
            raise StateError(f"{name!r} names several namespaces: "
                             + ", ".join(ns.name for ns in hits))
        raise StateError(f"no namespace {name!r} in the saved state (there are: {known})")


# ----------------------------------------------------------------------------- text forms

def route_text(row: Mapping[str, Any]) -> str:
    words = [] if row.get("type", "unicast") == "unicast" else [str(row["type"])]
    words.append(str(row.get("dst", "?")))
    for key, word in (("gateway", "via"), ("dev", "dev"), ("protocol", "proto"),
                      ("scope", "scope"), ("prefsrc", "src"), ("metric", "metric")):
        if key in row:
            words += [word, str(row[key])]
    return " ".join(words + [str(f) for f in row.get("flags", [])])


def neigh_text(row: Mapping[str, Any]) -> str:
    words = [str(row.get("dst", "?")), "dev", str(row.get("dev", "?"))]
    if "lladdr" in row:
        words += ["lladdr", str(row["lladdr"])]
    words += [str(s) for s in row.get("state", [])]
    return " ".join(words)


def fdb_text(row: Mapping[str, Any]) -> str:
    words = [str(row.get("mac", "?")), "dev", str(row.get("ifname", "?"))]
    for key, word in (("vlan", "vlan"), ("dst", "dst"), ("port", "port"), ("vni", "vni"),
                      ("src_vni", "src_vni"), ("linkNetNsId", "link-netnsid")):
        if key in row:
            words += [word, str(row[key])]
    words += [str(f) for f in row.get("flags", [])]
    if "master" in row:
        words += ["master", str(row["master"])]
    if row.get("state"):
        words.append(str(row["state"]))
    return " ".join(words)


# ----------------------------------------------------------------------------- parsing

def _prefix(dst: str) -> str:
    if dst == "default":
        return "0.0.0.0/0"
    return dst if "/" in dst else dst + ("/128" if ":" in dst else "/32")


def _list(doc: Mapping[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    rows = doc.get(key, [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise StateError(f"{where}: '{key}' is not a list of objects as iproute2 prints")
    return rows


def parse_namespace(doc: Mapping[str, Any], folder: str = "", *,
                    netns_names: Mapping[str, str] | None = None) -> Namespace:
    """One namespace's saved document.  ``netns_names`` maps a netns name as the saving host
    knew it to the name it has in the loaded state (see the module docstring)."""
    name = str(doc.get("name") or doc.get("netns") or "host")
    where = os.path.join(folder, name) if folder else name
    rename = netns_names or {}
    ids: dict[int, str] = {}
    for row in _list(doc, "netns_ids", where):
        if "nsid" in row and "name" in row:
            ids[int(row["nsid"])] = rename.get(str(row["name"]), str(row["name"]))

    def other(row: Mapping[str, Any]) -> str | None:
        if "link_netnsid" not in row:
            return None
        nsid = int(row["link_netnsid"])
        return ids.get(nsid, f"nsid {nsid}")

    addrs: dict[int, tuple[Address, ...]] = {}
    for row in _list(doc, "addr", where):
        addrs[int(row.get("ifindex", -1))] = tuple(
            Address(str(a["local"]), int(a.get("prefixlen", 32)), str(a.get("scope", "global")))
            for a in row.get("addr_info", []) if a.get("family") == "inet" and "local" in a)
    devices = []
    try:
        for row in _list(doc, "link", where):
            info = row.get("linkinfo", {}) or {}
            kind = str(info.get("info_kind") or ("loopback" if row.get("link_type") ==
                                                 "loopback" else "ether"))
            ifindex = int(row["ifindex"])
            vx = None
            if kind == "vxlan":
                data = info.get("info_data", {}) or {}
                vx = VxlanSettings(
                    vni=int(data.get("id", 0)),
                    port=int(data.get("port", 8472)),
                    learning=bool(data.get("learning", True)),
                    proxy=bool(data.get("proxy", False)),
                    l2miss=bool(data.get("l2miss", False)),
                    l3miss=bool(data.get("l3miss", False)),
                    local=data.get("local"),
                    remote=data.get("remote") or data.get("group"),
                    ttl=int(data.get("ttl", 0) or 0),
                    df=str(data.get("df", "unset")),
                    ageing=int(data.get("ageing", 300)),
                    udp_csum=bool(data.get("udp_csum", True)),
                    underlay=other(row),
                )
            peer = None
            if kind == "veth" and "link_index" in row:
                peer = (other(row), int(row["link_index"]))
            slave = info.get("info_slave_data", {}) or {}
            flags = row.get("flags", [])
            devices.append(Device(
                ifindex=ifindex,
                name=str(row["ifname"]),
                kind=kind,
                mac=str(row.get("address", "00:00:00:00:00:00")),
                mtu=int(row.get("mtu", 1500)),
                up="UP" in flags,
                master=row.get("master"),
                addresses=addrs.get(ifindex, ()),
                peer=peer,
                vxlan=vx,
                port_learning=bool(slave.get("learning", True)),
                port_state=slave.get("state"),
                hairpin=bool(slave.get("hairpin", False)),
            ))
        routes = tuple(
            Route(_prefix(str(r["dst"])), r.get("dev"), r.get("gateway"), r.get("prefsrc"),
                  r.get("protocol"), r.get("scope"), int(r.get("metric", 0)),
                  str(r.get("type", "unicast")), route_text(r))
            for r in _list(doc, "route", where) if ":" not in str(r.get("dst", "")))
        neighbours = tuple(
            Neighbour(str(r["dst"]), str(r.get("dev", "")), r.get("lladdr"),
                      tuple(str(s) for s in r.get("state", [])), neigh_text(r))
            for r in _list(doc, "neigh", where) if ":" not in str(r.get("dst", "")))
        fdb = tuple(
            FdbRow(str(r["mac"]), str(r.get("ifname", "")), r.get("master"), r.get("dst"),
                   str(r.get("state", "")), "self" in r.get("flags", []),
                   int(r["vni"]) if "vni" in r else None,
                   int(r["port"]) if "port" in r else None, fdb_text(r))
            for r in _list(doc, "fdb", where))
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(f"{where}: a row iproute2 would not print ({exc!r})") from None
    forwarding = False
    for row in _list(doc, "netconf", where):
        if row.get("family") == "inet" and row.get("interface") == "all":
            forwarding = row.get("forwarding") in (True, "on", 1)
    return Namespace(name, doc.get("netns"), folder, forwarding, tuple(devices), routes,
                     neighbours, fdb)


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror or exc}", path=path) from None
    except json.JSONDecodeError as exc:
        raise StateError(f"not JSON: {exc}", path=path) from None


def read_folder(folder: str) -> list[dict[str, Any]]:
    """The namespace documents of one saved folder, in the manifest's order."""
    manifest_path = os.path.join(folder, MANIFEST)
    if not os.path.isdir(folder):
        raise StateError("not a folder saved by `vxlankit state save`", path=folder)
    if not os.path.exists(manifest_path):
        raise StateError(f"no {MANIFEST}: not a folder saved by `vxlankit state save`",
                         path=folder)
    manifest = _read_json(manifest_path)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StateError(f"not a vxlankit state manifest (format {FORMAT!r} expected)",
                         path=manifest_path)
    docs = []
    for entry in manifest.get("namespaces", []):
        path = os.path.join(folder, str(entry.get("file", "")))
        doc = _read_json(path)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise StateError("not a saved namespace", path=path)
        docs.append(doc)
    return docs


def load_state(folders: Sequence[str]) -> NetworkState:
    """Folders saved by ``state save`` (one per host, or one for many namespaces)."""
    if not folders:
        raise StateError("no saved state given")
    per_folder = [(folder, read_folder(folder)) for folder in folders]
    return parse_state(per_folder)


def parse_state(per_folder: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]) -> NetworkState:
    counts: dict[str, int] = {}
    for _, docs in per_folder:
        for doc in docs:
            n = str(doc.get("name"))
            counts[n] = counts.get(n, 0) + 1
    namespaces = []
    for folder, docs in per_folder:
        label = os.path.basename(os.path.normpath(folder)) or folder
        rename: dict[str, str] = {}
        for doc in docs:
            n = str(doc.get("name"))
            final = f"{label}/{n}" if counts[n] > 1 else n
            if doc.get("netns"):
                rename[str(doc["netns"])] = final
        for doc in docs:
            ns = parse_namespace(doc, folder, netns_names=rename)
            n = str(doc.get("name"))
            if counts[n] > 1:
                ns = Namespace(f"{label}/{n}", ns.netns, ns.folder, ns.forwarding, ns.devices,
                               ns.routes, ns.neighbours, ns.fdb)
            namespaces.append(ns)
    names = [ns.name for ns in namespaces]
    if len(set(names)) != len(names):
        raise StateError("two saved namespaces have the same name in the same folder name: "
                         "give the folders different names")
    return NetworkState(tuple(namespaces))


__all__ = ["Address", "Device", "FdbRow", "Namespace", "Neighbour", "NetworkState", "Route",
           "VxlanSettings", "fdb_text", "load_state", "neigh_text", "parse_namespace",
           "parse_state", "read_folder", "route_text"]
