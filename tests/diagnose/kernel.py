"""The seed's overlay on the real kernel, for the diagnosis tests: scripts/kernel-overlay.sh
builds it with plain iproute2 in network namespaces (no vxlankit model involved), one fault at
a time; dumpcap captures the four taps synth uses.

The script's namespaces (``VXK_PREFIX`` unique per build; ``down`` in ``finally`` deletes
exactly them): router, node1/node2 (eth0; the vxlan sockets), sbox1/sbox2 (br0, vxlan0,
veth-cN), c1/c2 (10.0.0.3, 10.0.0.4).  Modes ``learning`` and ``docker``; faults: synth's
names (``mtu``, ``fragment``, ``vni``, ``port``, ``remote``, ``ttl``, ``neigh``, ``fdb``: the
script's header), ``links-mtu`` (every underlay link at MTU 1400), and the older names
``vni-mismatch``, ``port-mismatch`` (node2's dstport 4790), ``wrong-fdb``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import missing, require_tool
from vxlankit.capture.reader import open_capture
from vxlankit.capture.writer import PcapngWriter

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kernel-overlay.sh"
C1_MAC, C2_MAC = "02:42:0a:00:00:03", "02:42:0a:00:00:04"
N1, N2 = "172.31.1.10", "192.168.1.10"
STALE = "172.31.1.99"
# tap name -> (namespace, interface)
TAPS = {"node1/veth-c1": ("sbox1", "veth-c1"), "node1/eth0": ("node1", "eth0"),
        "node2/eth0": ("node2", "eth0"), "node2/veth-c2": ("sbox2", "veth-c2")}


def require_netns() -> None:
    """Skip (fail under CI=true) without root, bash, iproute2, ping or dumpcap."""
    for tool in ("bash", "ip", "bridge", "ping", "dumpcap"):
        require_tool(tool)
    if os.geteuid() != 0:
        missing("network namespaces need root")
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if probe.returncode != 0:
        missing(f"ip netns does not work here: {probe.stderr.strip()}")


@dataclass
class Overlay:
    prefix: str

    def ns(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def ping(self, ns: str, dst: str, *, count: int = 2, size: int = 56) -> str:
        """ping, bounded: ``count`` echoes 0.3 s apart, 1 s to wait for the last."""
        done = subprocess.run(["ip", "netns", "exec", self.ns(ns), "ping", "-n", "-c",
                               str(count), "-i", "0.3", "-W", "1", "-s", str(size), dst],
                              capture_output=True, text=True, timeout=30)
        return done.stdout


def _script(prefix: str, *args: str) -> None:
    done = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env={**os.environ, "VXK_PREFIX": prefix}, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"kernel-overlay.sh {' '.join(args)}: {done.stderr.strip()}")


@contextmanager
def overlay(mode: str, fault: str | None = None) -> Iterator[Overlay]:
    """The overlay, deleted on the way out whatever happens."""
    require_netns()
    prefix = f"vxkd{os.getpid() % 100000}{(fault or 'ok')[:4]}{mode[0]}-"
    try:
        _script(prefix, "up", mode, *([fault] if fault else []))
        yield Overlay(prefix)
    finally:
        _script(prefix, "down")


@contextmanager
def captured(o: Overlay, out: Path) -> Iterator[None]:
    """dumpcap on the four taps (one process each: they are in four namespaces), merged into
    ``out``: one pcapng interface per tap, named ``node/interface`` as synth names them."""
    procs = []
    files = {}
    for tap, (ns, iface) in TAPS.items():
        path = out.parent / f"{out.stem}-{tap.replace('/', '-')}.pcapng"
        files[tap] = path
        cmd = ["ip", "netns", "exec", o.ns(ns), "dumpcap", "-q", "-i", iface, "-w", str(path)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True))
    try:
        # dumpcap says nothing with -q; wait until each file exists and has its interfaces.
        deadline = time.monotonic() + 10
        while any(not p.exists() or p.stat().st_size == 0 for p in files.values()):
            if time.monotonic() > deadline:
                raise RuntimeError("dumpcap did not start")
            time.sleep(0.05)
        time.sleep(0.3)
        yield
        time.sleep(0.3)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    records = []
    for tap, path in files.items():
        with open_capture(str(path)) as reader:
            for rec in reader:
                records.append((rec.ts_ns, tap, rec.data))
        path.unlink()
    records.sort(key=lambda r: r[0])
    with PcapngWriter(str(out), userappl="tests/diagnose/kernel.py") as ng:
        ids = {tap: ng.add_interface(tap, 1, tsresol=10**9) for tap in TAPS}
        for ts, tap, data in records:
            ng.write(data, ts, ids[tap])
