"""``vxlankit state save``: the IO edge that records a host's network state as iproute2's JSON.

Read-only: it runs ``ip`` and ``bridge`` show/list commands and nothing else, in the current
network namespace or in named ones (``ip -n NAME``, which enters the namespace and needs
CAP_SYS_ADMIN).  For each namespace it keeps, unchanged, what iproute2 prints:

=============  =================================  ===========================================
key            command                            what the trace reads from it
=============  =================================  ===========================================
link           ``ip -d -j link show``             devices, MTUs, vxlan settings, bridge ports,
                                                  veth peers (``link_index``, ``link_netnsid``)
addr           ``ip -j addr show``                the addresses a namespace owns
route          ``ip -j route show``               the main routing table
neigh          ``ip -j neigh show``               ARP entries (a vxlan device's: its proxy's)
fdb            ``bridge -j fdb show``             bridge MAC tables and vxlan FDBs
bridge_link    ``bridge -j link show``            bridge ports and their state
netconf        ``ip -j netconf show``             IPv4 forwarding
netns_ids      ``ip -j netns list-id``            which namespace each ``link_netnsid`` is
=============  =================================  ===========================================

A veth's peer and a vxlan device's underlay (the namespace its UDP socket lives in, when it
was moved as Docker's libnetwork moves it) are named by ``link_netnsid``, a number local to
the namespace that prints it; ``netns_ids`` turns it into a name (``load`` does that).

The folder gets one ``NAME.json`` per namespace and ``state.json``, the list of them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vxlankit.errors import StateError
from vxlankit.output import SafeOutput

FORMAT = "vxlankit-state"
VERSION = 1
MANIFEST = "state.json"
TIMEOUT_S = 20.0

# (key, argv after the tool's name and its -n option).
COMMANDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("link", "ip", ("-d", "-j", "link", "show")),
    ("addr", "ip", ("-j", "addr", "show")),
    ("route", "ip", ("-j", "route", "show")),
    ("neigh", "ip", ("-j", "neigh", "show")),
    ("fdb", "bridge", ("-j", "fdb", "show")),
    ("bridge_link", "bridge", ("-j", "link", "show")),
    ("netconf", "ip", ("-j", "netconf", "show")),
    ("netns_ids", "ip", ("-j", "netns", "list-id")),
)
TOOLS = (("ip", "iproute2"), ("bridge", "iproute2"))

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        raise StateError(f"`{' '.join(argv)}` did not finish in {TIMEOUT_S:g} s") from None
    except OSError as exc:
        raise StateError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class SavedNamespace:
    name: str
    netns: str | None  # None: the namespace this process runs in
    file: str
    counts: dict[str, int]


@dataclass(frozen=True)
class SaveResult:
    folder: str
    namespaces: tuple[SavedNamespace, ...]

    def render(self) -> str:
        lines = []
        for ns in self.namespaces:
            what = ", ".join(f"{n} {k}" for k, n in ns.counts.items())
            lines.append(f"saved {ns.name}: {what}")
        lines.append(f"wrote {os.path.join(self.folder, MANIFEST)}")
        return "\n".join(lines) + "\n"


def check_tools() -> None:
    missing = [f"`{tool}` (Debian package {pkg})" for tool, pkg in TOOLS
               if shutil.which(tool) is None]
    if missing:
        raise StateError("state save needs " + " and ".join(missing) + ", not found on PATH")


def list_namespaces(run: Runner = _run) -> list[str]:
    """The named network namespaces (``ip -j netns list``), sorted."""
    done = run(["ip", "-j", "netns", "list"])
    if done.returncode != 0:
        raise StateError(f"`ip -j netns list` failed: {_said(done)}")
    rows = _json(done.stdout, "ip -j netns list", None)
    return sorted(str(r["name"]) for r in rows if isinstance(r, dict) and "name" in r)


def _said(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


def _json(text: str, command: str, netns: str | None) -> Any:
    text = text.strip()
    if not text:
        return []
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f" in namespace {netns}" if netns else ""
        raise StateError(f"`{command}`{where} printed no JSON ({exc}); iproute2 too old for "
                         "-j?") from None


def read_namespace(netns: str | None, run: Runner = _run) -> dict[str, Any]:
    """Every table of one namespace (None: the current one), iproute2's JSON unchanged."""
    tables: dict[str, Any] = {}
    for key, tool, args in COMMANDS:
        argv = [tool, *(("-n", netns) if netns else ()), *args]
        command = " ".join(argv)
        done = run(argv)
        if done.returncode != 0:
            said = _said(done)
            low = said.lower()
            if key == "netns_ids" and netns is None and "not permitted" not in low:
                tables[key] = []  # an older iproute2 without list-id: peers stay unnamed
                continue
            if "operation not permitted" in low or "permission denied" in low:
                need = ("root (CAP_SYS_ADMIN, to enter the namespace)" if netns
                        else "CAP_NET_ADMIN")
                raise StateError(f"`{command}` was refused: reading {key} needs {need}; "
                                 f"it said: {said}")
            if netns and ("no such file" in low or "cannot open network namespace" in low):
                raise StateError(f"no network namespace {netns!r} (`ip netns list` shows the "
                                 f"ones there are): `{command}` said: {said}")
            raise StateError(f"`{command}` failed: {said}")
        tables[key] = _json(done.stdout, command, netns)
    return tables


def save_state(folder: str, netns: Sequence[str] = (), *, all_netns: bool = False,
               run: Runner = _run, hostname: str | None = None) -> SaveResult:
    """Record the current namespace (no ``netns``), the named ones, or every named one
    (``all_netns``) into ``folder``, which is made if needed.  Changes nothing on the host."""
    if run is _run:
        check_tools()
    names: list[str | None]
    if all_netns:
        found = list_namespaces(run)
        if not found:
            raise StateError("--all-netns: there are no named network namespaces "
                             "(ip netns list is empty)")
        names = list(found)
    elif netns:
        names = list(dict.fromkeys(netns))
    else:
        names = [None]
    host = hostname or socket.gethostname() or "host"
    documents: list[tuple[str, str | None, dict[str, Any]]] = []
    for ns in names:
        tables = read_namespace(ns, run)
        documents.append((ns or host, ns, tables))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise StateError(f"cannot make {folder}: {exc.strerror or exc}", path=folder) from None
    saved = []
    for name, ns, tables in documents:
        file = _file_name(name)
        doc = {"format": FORMAT, "version": VERSION, "name": name, "netns": ns,
               "hostname": host, **tables}
        _write(os.path.join(folder, file), doc)
        counts = {k: len(tables[k]) for k in ("link", "route", "neigh", "fdb")}
        saved.append(SavedNamespace(name, ns, file, counts))
    manifest = {"format": FORMAT, "version": VERSION, "hostname": host,
                "namespaces": [{"name": s.name, "netns": s.netns, "file": s.file}
                               for s in saved]}
    _write(os.path.join(folder, MANIFEST), manifest)
    return SaveResult(folder, tuple(saved))


def _file_name(name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in name)
    return f"ns-{safe}.json"


def _write(path: str, doc: dict[str, Any]) -> None:
    with SafeOutput(path, StateError) as out:
        out.write((json.dumps(doc, indent=1, sort_keys=False) + "\n").encode())


__all__ = ["COMMANDS", "FORMAT", "MANIFEST", "SaveResult", "SavedNamespace", "check_tools",
           "list_namespaces", "read_namespace", "save_state"]
