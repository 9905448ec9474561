"""`vxlankit lab ping --fault KIND` on the real kernel, for every kind the lab makes: the
kernel's ping ends as the fault implies, replay names the fault's kind on the lab's capture,
and synth ping with the same --fault agrees with the kernel, tap by tap, in the verdict table
(exit 0).  Needs root (skips without it, fails under CI=true); every namespace is removed."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.support import require_lab
from vxlankit.cli import main
from vxlankit.errors import LabError
from vxlankit.lab import LabFaults, LabOptions, leftovers, run_lab_ping
from vxlankit.lab.faults import fault_kinds, lab_faults
from vxlankit.synth.faults import EXPECTED, FAULTS

# The kernel's answered echoes out of 3 under each fault (C1's ping): under mtu, only the
# third, sent in fragments once C1 has learned the path MTU from the VTEP's own ICMP.
ANSWERED = {"mtu": 1, "fragment": 3, "vni": 0, "port": 0, "remote": 0, "ttl": 0, "neigh": 0,
            "fdb": 0}
# Learning mode cannot lose what Docker's gossip installs; these show the rest there.
LEARNING = ("mtu", "vni", "remote")


def test_every_synth_fault_is_made_by_the_lab() -> None:
    assert set(fault_kinds()) == set(FAULTS) == set(ANSWERED)


def _run(mode: str, kind: str) -> dict[str, object]:
    result = CliRunner().invoke(main, ["lab", "ping", "--mode", mode, "-c", "3", "--fault",
                                       kind, "--json"], catch_exceptions=False)
    doc: dict[str, object] = json.loads(result.output)
    assert leftovers(str(doc["prefix"])) == []
    disagree = [v for v in doc["verdicts"] if not v["agree"]]  # type: ignore[union-attr]
    assert result.exit_code == 0 and doc["ok"], (mode, kind, disagree)
    return doc


@pytest.mark.parametrize("mode", ["docker", "learning"])
def test_each_fault_on_the_kernel_agrees_with_synth(mode: str) -> None:
    require_lab()
    kinds = list(ANSWERED) if mode == "docker" else list(LEARNING)
    for kind in kinds:
        doc = _run(mode, kind)
        ping = doc["ping"]
        assert ping == {"sent": 3, "received": ANSWERED[kind],  # type: ignore[comparison-overlap]
                        "synth_received": ANSWERED[kind]}, (kind, ping)
        if FAULTS[kind].both_ways:
            assert doc["ping_back"] == {"sent": 3, "received": 0}, kind
        verdicts = {(v["check"], v["subject"]): v for v in doc["verdicts"]}  # type: ignore[union-attr]
        row = verdicts[("replay", f"diagnoses (expected {EXPECTED[kind]})")]
        # replay names the kind on the kernel's capture (and on synth's: the row agrees).
        assert row["agree"] and EXPECTED[kind] in row["detail"], (kind, row)
        # The four taps synth writes were compared packet by packet.
        taps = [v for (check, _), v in verdicts.items() if check == "synth vs kernel"
                and "/" in v["subject"]]
        assert len(taps) == 4 and all(v["agree"] for v in taps), kind


def test_the_lab_refuses_what_it_cannot_make() -> None:
    # Refused before anything is built, so this needs no root.
    for kind in ("neigh", "fdb"):
        with pytest.raises(LabError, match="needs --mode docker"):
            run_lab_ping(LabOptions(mode="learning", fault=kind))
    with pytest.raises(LabError, match="the lab makes mtu, fragment"):
        lab_faults("gremlins", 4096, "docker")
    with pytest.raises(LabError, match="one or the other"):
        run_lab_ping(LabOptions(fault="vni", faults=LabFaults(port=8472)))
    runner = CliRunner()
    for args in (["--fault", "gremlins"], ["--fault", "vni", "--fault", "port"],
                 ["--fault", "vni", "--fault", "port=8472"]):
        result = runner.invoke(main, ["lab", "ping", *args])
        assert result.exit_code == 2, (args, result.output)


def test_kinds_map_to_the_kernel_configuration() -> None:
    assert lab_faults("vni", 4096, "docker") == LabFaults(vni=4097)
    assert lab_faults("port", 4096, "docker") == LabFaults(port=8472)
    assert lab_faults("remote", 4096, "learning") == LabFaults(c1_vtep="172.31.1.99")
    assert lab_faults("mtu", 4096, "docker") == LabFaults(router_mtu=1400, df="set")
    assert lab_faults("fragment", 4096, "docker") == LabFaults(router_mtu=1400, df="unset")
    assert lab_faults("ttl", 4096, "docker") == LabFaults(ttl=1)
    assert lab_faults("neigh", 4096, "docker") == LabFaults(no_c2_neigh=True)
    assert lab_faults("fdb", 4096, "docker") == LabFaults(no_c2_fdb=True)
