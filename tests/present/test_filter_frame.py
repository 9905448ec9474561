"""``frame.*`` in display filters: the capture record's own fields, against tshark."""

from __future__ import annotations

import subprocess

import pytest

from tests.support import real_capture, require_tshark
from vxlankit.layers.registry import ALIASES, FIELDS
from vxlankit.present.filter import compile_filter
from vxlankit.present.run import decode_capture

KNOWN = [*FIELDS, *ALIASES]


@pytest.mark.parametrize("expr", [
    "frame.number == 3", "frame.len > 140 && icmp", "frame.cap_len <= 92",
    "frame.number >= 4 and not arp", "frame.number in {2, 9}",
])
def test_frame_fields_select_as_tshark(expr: str) -> None:
    path = str(real_capture("tcpdump_vxlan.pcap"))
    test = compile_filter(expr, known_fields=KNOWN)
    ours = [item.record.number for item in decode_capture(path, filter=test)]
    out = subprocess.run([require_tshark(), "-r", path, "-Y", expr, "-T", "fields", "-e",
                          "frame.number"], capture_output=True, text=True, check=True).stdout
    assert ours == [int(n) for n in out.split()]
    assert ours  # each of these selects something here


@pytest.mark.parametrize("expr", ['frame.interface_name == "node2/eth0"',
                                  "frame.interface_id == 2 || frame.interface_id == 0"])
def test_interfaces_of_a_multi_tap_pcapng(expr: str) -> None:
    from pathlib import Path
    path = str(Path(__file__).resolve().parents[2] / "captures"
               / "synth-ping-vni4096-proxy.pcapng")
    test = compile_filter(expr, known_fields=KNOWN)
    ours = [item.record.number for item in decode_capture(path, filter=test)]
    out = subprocess.run([require_tshark(), "-r", path, "-Y", expr, "-T", "fields", "-e",
                          "frame.number"], capture_output=True, text=True, check=True).stdout
    assert ours == [int(n) for n in out.split()] and ours
