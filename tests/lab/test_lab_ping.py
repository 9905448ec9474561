"""`vxlankit lab ping` on the real kernel: both modes agree with the models and the synth, the
capture carries the overlay, and nothing the lab made is left behind, whatever way it ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import require_lab
from vxlankit.capture.reader import open_capture
from vxlankit.cli import main
from vxlankit.codec import decode
from vxlankit.errors import LabError
from vxlankit.lab import LabFaults, LabOptions, leftovers, run_lab_ping
from vxlankit.lab import ping as lab_ping
from vxlankit.lab.netns import NETNS_DIR, unique_prefix

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("mode", ["docker", "learning"])
def test_lab_ping_agrees_in_both_modes(mode: str, tmp_path: Path) -> None:
    require_lab()
    result = CliRunner().invoke(main, ["lab", "ping", "--mode", mode, "-c", "2", "-o",
                                       str(tmp_path), "--json"], catch_exceptions=False)
    doc = json.loads(result.output)
    assert result.exit_code == 0, [v for v in doc["verdicts"] if not v["agree"]]
    assert doc["ok"] and doc["ping"] == {"sent": 2, "received": 2, "synth_received": 2}
    assert leftovers(doc["prefix"]) == []
    checks = {(v["check"], v["subject"]): v for v in doc["verdicts"]}
    # Every kind of verdict was made, and the FDBs compared are not empty: each VTEP holds the
    # other container's MAC behind the other host.
    assert checks[("model vs kernel", "node1 vxlan FDB, VNI 4096")]["detail"].startswith(
        "02:42:0a:00:00:04 -> 192.168.1.10")
    assert checks[("model vs kernel", "node2 vxlan FDB, VNI 4096")]["detail"].startswith(
        "02:42:0a:00:00:03 -> 172.31.1.10")
    for tap in ("node1/veth-C1", "node1/eth0", "node2/eth0", "node2/veth-C2"):
        assert checks[("synth vs kernel", tap)]["agree"]
        assert checks[("synth vs kernel", tap)]["declared"]["timestamps"] >= 4
    assert {d["difference"] for d in doc["declared"]} >= {"ip.id", "udp.srcport", "icmp.ident"}
    # The capture: an interface per tap, named as synth's, and the overlay's VNI on the wire.
    capture = tmp_path / f"lab-ping-{mode}.pcapng"
    names: set[str] = set()
    vnis = []
    with open_capture(str(capture)) as reader:
        for record in reader:
            names.add(record.interface.name or "")
            vxlan = decode(record.data, record.interface.linktype).layer("vxlan")
            if vxlan is not None:
                vnis.append(vxlan["vxlan.vni"])
    assert names == set(doc["taps"])
    assert len(vnis) >= 8 and set(vnis) == {4096}
    tables = json.loads((tmp_path / f"lab-ping-{mode}-tables.json").read_text())
    assert {"fdb", "neigh"} <= set(tables["node1-sbox"])


def test_a_fault_is_reported_as_a_difference() -> None:
    require_lab()
    report = run_lab_ping(LabOptions(count=1, faults=LabFaults(vni=4097)))
    assert leftovers(report.prefix) == []
    assert not report.ok and report.ping.received == 0
    differ = {v.subject for v in report.verdicts if not v.agree}
    assert "C1 -> C2 echoes" in differ and "node2/veth-C2" in differ


def test_everything_is_removed_after_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    require_lab()
    prefix = unique_prefix()
    made: list[str] = []

    def broken(net: object, lab: object, options: object) -> None:
        made.extend(leftovers(prefix))
        raise LabError("ping broke on purpose")

    monkeypatch.setattr(lab_ping, "_ping", broken)
    with pytest.raises(LabError, match="on purpose"):
        run_lab_ping(LabOptions(prefix=prefix))
    assert len(made) == 7  # the namespaces were there when it failed
    assert leftovers(prefix) == []


def test_keep_leaves_the_namespaces_and_says_how_to_remove_them() -> None:
    require_lab()
    prefix = unique_prefix()
    try:
        report = run_lab_ping(LabOptions(count=1, keep=True, prefix=prefix))
        assert report.kept and sorted(report.namespaces) == leftovers(prefix)
        assert "remove them with: ip netns del " in report.render()
        subprocess.run(report.cleanup, shell=True, check=True)  # noqa: S602 (our own text)
        assert leftovers(prefix) == []
    finally:
        for name in leftovers(prefix):
            subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_run_removes_everything(sig: signal.Signals) -> None:
    require_lab()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "vxlankit", "lab", "ping", "-c", "20",
                             "-i", "0.5"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    prefix = f"vxk-{proc.pid}-"
    try:
        # Wait until the lab has built its containers (the last namespaces made), then stop it
        # while ping runs.
        deadline = time.monotonic() + 30
        while not any(n.endswith("-c2") for n in leftovers(prefix)):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the lab never built its namespaces"
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert b"interrupted" in err
    assert leftovers(prefix) == []
    assert not any(p.name.startswith(prefix) for p in NETNS_DIR.iterdir())
