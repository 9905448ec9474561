"""``vxlankit stats``' TCP and UDP conversations (by 5-tuple) against tshark's ``-z conv,tcp``
and ``-z conv,udp`` on a real capture with both inside VXLAN."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.support import real_capture, require_tshark
from vxlankit.present.run import decode_capture
from vxlankit.present.stats import OverlayStats

_ROW = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+) bytes\s+(\d+)\s+(\d+) bytes\s+(\d+)\s+"
                  r"(\d+) bytes")


def _tshark(path: str, proto: str) -> dict[frozenset[str], tuple[int, int]]:
    out = subprocess.run([require_tshark(), "-r", path, "-n", "-q", "-d", "udp.port==8472,vxlan",
                          "-z", f"conv,{proto}"], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    rows = {}
    for line in out.splitlines():
        m = _ROW.match(line)
        if m:
            rows[frozenset((m[1], m[2]))] = (int(m[7]), int(m[8]))
    return rows


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_transport_conversations_agree_with_tshark(proto: str) -> None:
    path = str(real_capture("suricata-verify_vxlan-decoder-03_vxlan.pcap"))
    stats = OverlayStats()
    for item in decode_capture(path):
        stats.add(item.record, item.packet)
    ours = {frozenset((r["a"], r["b"])): (r["packets"], r["bytes"])
            for r in stats.transport_rows() if r["protocol"] == proto}
    theirs = _tshark(path, proto)
    # tshark counts the outer (underlay) UDP conversation too; vxlankit's rows are inner.
    theirs = {k: v for k, v in theirs.items()
              if not any(e.endswith((":4789", ":8472")) for e in k)}
    assert ours == theirs
    assert len(ours) >= 4
