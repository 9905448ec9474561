"""The diagnoses in replay's report: JSON shape, the text section, healthy captures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.diagnose.frames import N1, N2, ROUTER, echo, icmp_error, vxlan, write
from vxlankit.cli import main
from vxlankit.diagnose import KINDS
from vxlankit.replay import replay

CAPTURES = sorted((Path(__file__).resolve().parents[2] / "captures").glob("*.pcap*"))


@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_healthy_synth_captures_have_no_error_or_warning(path: Path) -> None:
    assert len(CAPTURES) >= 6
    found = replay(str(path)).to_json()["diagnoses"]
    assert [d for d in found if d["severity"] != "info"] == []


def _faulty(tmp_path: Path) -> str:
    big = vxlan(echo(size=1400), df=True)
    return write(tmp_path / "mtu.pcapng", [
        ("node1/eth0", big),
        ("node1/eth0", icmp_error(big, ROUTER, N1, 3, 4, bytes(2) + (1400).to_bytes(2, "big"))),
        ("node1/eth0", vxlan(echo(), N1, N2, flags=0))], ("node1/eth0",))


def test_json_diagnoses_shape_and_order(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["replay", "--json", _faulty(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert list(doc)[0] == "diagnoses"
    found = doc["diagnoses"]
    assert [d["kind"] for d in found] == ["mtu", "linux_drop"]
    for d in found:
        assert d["severity"] in ("error", "warning", "info")
        assert d["summary"] and d["cause"] and isinstance(d["check"], list)
        assert isinstance(d["evidence"]["packets"], list)
        assert d["kind"] in KINDS


def test_text_report_starts_with_the_diagnosis(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["replay", _faulty(tmp_path)])
    lines = result.stdout.splitlines()
    assert lines[0] == "Diagnosis: 2 errors"
    assert lines[1].startswith("  ERROR mtu: VXLAN from 172.31.1.10 to 192.168.1.10 is too big")
    assert any(line.strip().startswith("check: the largest inner MTU that fits this path is "
                                       "1350") for line in lines)
    assert lines.index("Diagnosis: 2 errors") < next(
        i for i, line in enumerate(lines) if "packets," in line and "with VXLAN" in line)


def test_every_kind_has_words_that_format(tmp_path: Path) -> None:
    # Each kind's cause and checks name only facts its detectors pass; a typo in a
    # placeholder would raise KeyError the first time that kind is found in the wild.
    import string
    for kind in KINDS.values():
        for text in (kind.cause, *kind.check):
            names = {f for _, f, _, _ in string.Formatter().parse(text) if f}
            assert all(n.isidentifier() for n in names), (kind.name, names)
    assert set(KINDS) >= {"mtu", "outer_fragmentation", "vni_mismatch", "port_mismatch", "loss",
                          "unanswered_arp", "unknown_unicast", "mac_flap", "linux_drop",
                          "checksum_offload", "low_entropy", "ttl_expired", "duplicate_ip"}
