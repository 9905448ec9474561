"""A minimal real-kernel overlay for the diagnosis tests: the seed's two hosts in network
namespaces, built with plain iproute2 (no vxlankit model involved), one fault at a time,
captured with dumpcap on the four taps synth uses.

Namespaces (unique prefix per build, all deleted in ``finally``):
  router  eth1 172.31.1.1/24 (to node1), eth2 192.168.1.1/24 (to node2), forwarding on
  node1   eth0 172.31.1.10/24; br0 with vxlan0 (VNI 4096, dstport 4789, MTU 1450) and veth-c1
  node2   the same with 192.168.1.10 and veth-c2
  c1, c2  eth0 10.0.0.3/24 and 10.0.0.4/24, Docker's MACs, MTU 1450
IPv6 is off everywhere, so nothing but the test's traffic is on the wire.

``mode="learning"``: RFC 7348 flood and learn (an all-zeros FDB entry to the other VTEP).
``mode="docker"``: ``proxy l2miss l3miss`` with a permanent neighbour and FDB entry for the
remote container, as Docker's gossip programs them.
Faults: ``mtu`` (the router's link to node2 and node2's eth0 at MTU 1400, the VTEPs with
``df set``), ``vni`` (node2's VNI 4097), ``port`` (node2's dstport 8472), ``remote`` (node2: a
static FDB entry for C1's MAC at 172.31.1.99).
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

C1_MAC, C2_MAC = "02:42:0a:00:00:03", "02:42:0a:00:00:04"
N1, N2 = "172.31.1.10", "192.168.1.10"
STALE = "172.31.1.99"
TAPS = (("node1", "veth-c1"), ("node1", "eth0"), ("node2", "eth0"), ("node2", "veth-c2"))


def require_netns() -> None:
    """Skip (fail under CI=true) without root, iproute2, ping or dumpcap."""
    for tool in ("ip", "bridge", "ping", "dumpcap"):
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

    def run(self, ns: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.ns(ns), *cmd], capture_output=True,
                              text=True, check=check, timeout=30)

    def ip(self, ns: str, *args: str) -> None:
        subprocess.run(["ip", "-n", self.ns(ns), *args], check=True, capture_output=True,
                       timeout=30)

    def ping(self, ns: str, dst: str, *, count: int = 2, size: int = 56) -> str:
        """ping, bounded: ``count`` echoes 0.3 s apart, 1 s to wait for the last."""
        done = self.run(ns, "ping", "-n", "-c", str(count), "-i", "0.3", "-W", "1", "-s",
                        str(size), dst, check=False)
        return done.stdout


NAMES = ("router", "node1", "node2", "c1", "c2")


def _build(o: Overlay, mode: str, fault: str | None) -> None:
    for name in NAMES:
        subprocess.run(["ip", "netns", "add", o.ns(name)], check=True, capture_output=True)
        o.run(name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
              "net.ipv6.conf.default.disable_ipv6=1")
        o.ip(name, "link", "set", "lo", "up")
    o.run("router", "sysctl", "-qw", "net.ipv4.ip_forward=1")
    small = fault == "mtu"
    for i, (node, ip, gw, sub) in enumerate(((("node1", N1, "172.31.1.1", "/24")),
                                             (("node2", N2, "192.168.1.1", "/24"))), 1):
        o.ip("router", "link", "add", f"eth{i}", "type", "veth", "peer", "name", "eth0",
             "netns", o.ns(node))
        o.ip("router", "addr", "add", gw + sub, "dev", f"eth{i}")
        mtu = "1400" if small and i == 2 else "1500"
        o.ip("router", "link", "set", f"eth{i}", "mtu", mtu, "up")
        o.ip(node, "addr", "add", ip + sub, "dev", "eth0")
        o.ip(node, "link", "set", "eth0", "mtu", mtu, "up")
        o.ip(node, "route", "add", "default", "via", gw)
    for i, (node, local, remote, cont, mac, addr, other_mac, other_addr) in enumerate((
            ("node1", N1, N2, "c1", C1_MAC, "10.0.0.3", C2_MAC, "10.0.0.4"),
            ("node2", N2, N1, "c2", C2_MAC, "10.0.0.4", C1_MAC, "10.0.0.3")), 1):
        second = i == 2
        vni = "4097" if fault == "vni" and second else "4096"
        port = "8472" if fault == "port" and second else "4789"
        extra = ["proxy", "l2miss", "l3miss"] if mode == "docker" else []
        if fault == "mtu":
            extra += ["df", "set"]
        # No "dev eth0", as Docker: the device's MTU is then not capped by eth0's.
        o.ip(node, "link", "add", "vxlan0", "type", "vxlan", "id", vni, "local", local,
             "dstport", port, *extra)
        o.ip(node, "link", "set", "vxlan0", "mtu", "1450")
        o.ip(node, "link", "add", "br0", "type", "bridge")
        o.ip(node, "link", "set", "vxlan0", "master", "br0")
        o.ip(node, "link", "add", f"veth-{cont}", "type", "veth", "peer", "name", "eth0",
             "netns", o.ns(cont))
        o.ip(node, "link", "set", f"veth-{cont}", "mtu", "1450", "master", "br0", "up")
        o.ip(node, "link", "set", "vxlan0", "up")
        o.ip(node, "link", "set", "br0", "up")
        o.ip(cont, "link", "set", "eth0", "address", mac, "mtu", "1450", "up")
        o.ip(cont, "addr", "add", addr + "/24", "dev", "eth0")
        if mode == "docker":
            o.ip(node, "neigh", "add", other_addr, "lladdr", other_mac, "dev", "vxlan0",
                 "nud", "permanent")
            o.run(node, "bridge", "fdb", "add", other_mac, "dev", "vxlan0", "dst", remote,
                  "self", "permanent")
        else:
            o.run(node, "bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vxlan0",
                  "dst", remote)
        if fault == "remote" and second:
            o.run(node, "bridge", "fdb", "replace", C1_MAC, "dev", "vxlan0", "dst", STALE,
                  "self", "permanent")


@contextmanager
def overlay(mode: str, fault: str | None = None) -> Iterator[Overlay]:
    """The overlay, deleted on the way out whatever happens."""
    require_netns()
    o = Overlay(f"vxkd{os.getpid() % 100000}{fault or 'ok'}{mode[0]}-")
    try:
        _build(o, mode, fault)
        yield o
    finally:
        for name in NAMES:
            subprocess.run(["ip", "netns", "del", o.ns(name)], capture_output=True)


@contextmanager
def captured(o: Overlay, out: Path) -> Iterator[None]:
    """dumpcap on the four taps (one process per namespace), merged into ``out``: one
    pcapng interface per tap, named ``node/interface`` as synth names them."""
    procs = []
    files = {}
    for node in ("node1", "node2"):
        ifaces = [i for n, i in TAPS if n == node]
        path = out.parent / f"{out.stem}-{node}.pcapng"
        files[node] = path
        cmd = ["ip", "netns", "exec", o.ns(node), "dumpcap", "-q", "-w", str(path)]
        for iface in ifaces:
            cmd += ["-i", iface]
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
    for node, path in files.items():
        with open_capture(str(path)) as reader:
            for rec in reader:
                records.append((rec.ts_ns, f"{node}/{rec.interface.name}", rec.data))
        path.unlink()
    records.sort(key=lambda r: r[0])
    with PcapngWriter(str(out), userappl="tests/diagnose/kernel.py") as ng:
        ids = {f"{n}/{i}": ng.add_interface(f"{n}/{i}", 1, tsresol=10**9) for n, i in TAPS}
        for ts, tap, data in records:
            ng.write(data, ts, ids[tap])
