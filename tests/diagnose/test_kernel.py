"""On a real Linux overlay (namespaces, plain iproute2: scripts/kernel-overlay.sh through
tests/diagnose/kernel.py), one fault at a time, captured with dumpcap on four taps: replay
--json names the fault by its kind, and finds nothing of severity error on the healthy run.
Needs root (skips without it, fails under CI=true)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.diagnose.kernel import C1_MAC, STALE, captured, overlay
from vxlankit.replay import replay

CASES = [
    ("learning", None, None),
    ("docker", None, None),
    ("learning", "mtu", "mtu"),
    ("learning", "links-mtu", "mtu"),
    ("docker", "vni-mismatch", "vni_mismatch"),
    ("learning", "vni-mismatch", "vni_mismatch"),
    ("learning", "port-mismatch", "port_mismatch"),
    ("docker", "port-mismatch", "port_mismatch"),
    ("docker", "port", "port_mismatch"),  # synth's names: 8472 against 4789
    ("learning", "ttl", "ttl_expired"),
    ("learning", "wrong-fdb", "loss"),
    ("docker", "wrong-fdb", "wrong_remote"),
]
BOTH_WAYS = ("vni-mismatch", "wrong-fdb")
MTU = ("mtu", "links-mtu")


def _capture(tmp_path: Path, mode: str, fault: str | None) -> tuple[str, str]:
    out = tmp_path / f"kernel-{mode}-{fault}.pcapng"
    with overlay(mode, fault) as o, captured(o, out):
        back = None
        if fault in BOTH_WAYS:
            # Both ends ping: these faults show on the wire only when both send.
            back = threading.Thread(target=o.ping, args=("c2", "10.0.0.3"))
            back.start()
        said = o.ping("c1", "10.0.0.4", count=3 if fault in MTU else 2,
                      size=1422 if fault in MTU else 56)
        if back is not None:
            back.join(timeout=30)
    return str(out), said


@pytest.mark.parametrize(("mode", "fault", "kind"), CASES,
                         ids=[f"{m}-{f or 'healthy'}" for m, f, _ in CASES])
def test_replay_names_the_kernel_fault(mode: str, fault: str | None, kind: str | None,
                                       tmp_path: Path) -> None:
    path, said = _capture(tmp_path, mode, fault)
    doc = replay(path).to_json()
    found = doc["diagnoses"]
    assert doc["vxlan_packets"] > 0
    if kind is None:
        assert " 0% packet loss" in said, said
        assert [d for d in found if d["severity"] == "error"] == []
        return
    assert " 0% packet loss" not in said, said
    named = [d for d in found if d["kind"] == kind]
    assert named, found
    assert named[0]["severity"] == "error"
    if kind == "mtu":  # the VTEP answers C1 itself (after the router, under "mtu")
        assert named[0]["evidence"]["inner_mtu"] == 1350
    if kind == "wrong_remote":
        assert named[0]["evidence"]["mac"] == C1_MAC
        assert named[0]["evidence"]["sent_to"] == [STALE]
    if kind == "loss":
        assert named[0]["evidence"]["last_seen"] == "node2/eth0"
        assert named[0]["evidence"]["expected"] == "node2/veth-c2"
