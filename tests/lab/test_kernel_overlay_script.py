"""The model matches the kernel on captures vxlankit did not build: scripts/kernel-overlay.sh
makes the seed's overlay with plain iproute2 (the kernel's own random MACs, real underlay ARP),
dumpcap captures it, C1 pings C2, and `replay` of the capture learns what the kernel's vxlan
devices learned."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support import require_lab
from vxlankit.lab.capture import Dumpcaps, merge
from vxlankit.lab.compare import vtep_verdict
from vxlankit.lab.netns import Netns, leftovers, unique_prefix
from vxlankit.lab.tables import dump, vxlan_fdb
from vxlankit.lab.topology import TapPoint
from vxlankit.replay import replay

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kernel-overlay.sh"
NODES = (("node1", "sbox1", "172.31.1.10"), ("node2", "sbox2", "192.168.1.10"))


def _script(prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], env={**os.environ, "VXK_PREFIX": prefix},
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("mode", ["learning", "docker"])
def test_replay_of_a_plain_iproute2_overlay_learns_the_kernels_fdb(mode: str) -> None:
    require_lab()
    prefix = unique_prefix()
    try:
        up = _script(prefix, "up", mode)
        assert up.returncode == 0, up.stderr
        names = _script(prefix, "names").stdout.split()
        assert sorted(names) == leftovers(prefix) and len(names) == 7
        # A Netns over the script's namespaces: it runs dumpcap and ping there, and deletes
        # nothing (it made nothing).
        with tempfile.TemporaryDirectory() as tmp, Netns(prefix) as net:
            taps = tuple(TapPoint(f"{node}/eth0", node, "eth0", True) for node, _, _ in NODES)
            caps = Dumpcaps(net, taps, Path(tmp))
            caps.start()
            ping = net.exec("c1", "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "1",
                            "10.0.0.4", check=False)
            caps.stop()
            assert " 2 received" in ping.stdout, ping.stdout
            tables = dump(net, ("sbox1", "sbox2"))
            path = Path(tmp) / "plain.pcapng"
            packets = merge(caps.read(), tuple(t.tap for t in taps), str(path), comment="")
            report = replay(str(path))
        assert leftovers(prefix), "the Netns deleted namespaces it did not make"
        # Underlay ARP (the script leaves it dynamic) and 2 x 2 echoes seen twice each.
        assert packets >= 8 and report.vxlan_packets >= 8
        for node, sbox, ip in NODES:
            kernel = vxlan_fdb(tables[sbox]["fdb"], "vxlan0")
            assert [e for e in kernel if e.mac != "00:00:00:00:00:00"], (node, kernel)
            verdict = vtep_verdict(report, node, ip, 4096, kernel)
            assert verdict.agree, verdict.detail
    finally:
        down = _script(prefix, "down")
        assert down.returncode == 0, down.stderr
    assert leftovers(prefix) == []


def test_the_script_refuses_an_unknown_mode_or_fault() -> None:
    assert _script(unique_prefix(), "up", "sideways").returncode == 2
    assert _script(unique_prefix(), "up", "docker", "gremlins").returncode == 2
    assert _script(unique_prefix(), "up", "learning", "neigh").returncode == 2
