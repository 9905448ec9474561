"""A number wider than its field is refused as tshark refuses it (issue #14: `vxlan.vni ==
99999999` matched nothing and exited 0), and every width agrees with Wireshark's types."""

from __future__ import annotations

import subprocess

import pytest

from tests.support import require_tshark
from vxlankit.layers.registry import ALIASES, FIELDS, LAYERS
from vxlankit.layers.spec import UINT
from vxlankit.present.filter import FilterExprError, compile_filter, uint_max

KNOWN = [*FIELDS, *ALIASES]
REFUSED = [
    ("vxlan.vni == 99999999", 16777215), ("udp.port == 70000", 65535), ("ip.ttl > 256", 255),
    ("vxlan.vni in {1..99999999}", 16777215), ("tcp.flags == 0x10000", 65535),
    ("dns.resp.ttl == 4294967296", 4294967295), ("geneve.vni in {1 2 16777216}", 16777215),
    ("tcp.port != 65536", 65535), ("icmp.type >= 0x100", 255),
    ("frame.len > 99999999999", 4294967295), ("frame.number == 4294967296", 4294967295),
    ("ip.len == -70000", 65535),
]
ACCEPTED = ["vxlan.vni == 16777215", "tcp.flags == 0x1000", "ip.dsfield.dscp == 64",
            "udp.port in {53 4789}", "tcp.options.mss_val == 65535", "ip.src == 10.0.0.3",
            "frame.len > 4294967295", "vxlan.vni >= -1", "ip.len == -1"]


@pytest.mark.parametrize(("expr", "top"), REFUSED)
def test_too_wide_is_refused(expr: str, top: int) -> None:
    with pytest.raises(FilterExprError, match=f"too big for this field, maximum {top}"):
        compile_filter(expr, known_fields=KNOWN)


@pytest.mark.parametrize("expr", ACCEPTED)
def test_tshark_accepts_what_fits(expr: str) -> None:
    out = subprocess.run([require_tshark(), "-r", "/dev/null", "-Y", expr],
                         capture_output=True, text=True)
    assert "too big" not in out.stderr, out.stderr


@pytest.mark.parametrize("expr", ACCEPTED)
def test_what_fits_compiles(expr: str) -> None:
    compile_filter(expr, known_fields=KNOWN)


@pytest.mark.parametrize(("expr", "top"), [r for r in REFUSED if " {1 2 " not in r[0]])
def test_tshark_refuses_them_too(expr: str, top: int) -> None:
    """The same filters, the same maximum in tshark's message (but a set without commas,
    which tshark 4.0 refuses before it reads the numbers)."""
    out = subprocess.run([require_tshark(), "-r", "/dev/null", "-Y", expr],
                         capture_output=True, text=True)
    assert f"too big for this field, maximum {top}" in out.stderr


_FT_BYTES = {"FT_UINT8": 1, "FT_UINT16": 2, "FT_UINT24": 3, "FT_UINT32": 4, "FT_UINT40": 5,
             "FT_UINT48": 6, "FT_UINT56": 7, "FT_UINT64": 8, "FT_FRAMENUM": 4}


def test_widths_are_wiresharks() -> None:
    """Every unsigned field Wireshark also has is declared with its FT_UINTn width (the span's
    length, or ``size`` where the bytes it sits in are not the value: a checksum status)."""
    out = subprocess.run([require_tshark(), "-G", "fields"], capture_output=True, text=True,
                         check=True).stdout
    types = {cols[2]: cols[3] for cols in (line.split("\t") for line in out.splitlines())
             if cols[0] == "F" and len(cols) > 3}
    wrong = []
    checked = 0
    for spec in LAYERS:
        for f in spec.fields:
            if f.type == UINT and f.name in types and types[f.name] in _FT_BYTES:
                checked += 1
                if f.width != _FT_BYTES[types[f.name]]:
                    wrong.append((spec.name, f.name, f.width, types[f.name]))
    assert not wrong
    assert checked > 150


def test_own_fields_without_a_width_are_not_checked() -> None:
    assert uint_max("sll.reserved") is None
    assert uint_max("udp.port") == 65535  # an alias: its fields' width
