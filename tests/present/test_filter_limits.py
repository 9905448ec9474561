"""Filters of any length parse without recursion limits (issue #14: 1,000 `||` terms, 1,000
`not`s and 300 nested parentheses gave RecursionError tracebacks)."""

from __future__ import annotations

import pytest

from vxlankit import build, decode, encode
from vxlankit.packet import Packet
from vxlankit.present.filter import FilterExprError, compile_filter


def _packet(vni: int) -> Packet:
    return decode(encode([build.eth(), build.ipv4("192.0.2.1", "192.0.2.2"), build.udp(1, 4789),
                          build.vxlan(vni=vni), build.eth(), build.ipv4("10.0.0.3", "10.0.0.4"),
                          build.icmp_echo()]))


def test_long_chains() -> None:
    anyone = compile_filter(" || ".join(f"vxlan.vni == {i}" for i in range(2000)))
    assert anyone(_packet(1999)) and not anyone(_packet(5000))
    everyone = compile_filter(" && ".join(["udp"] * 2000 + ["vxlan.vni == 7"]))
    assert everyone(_packet(7)) and not everyone(_packet(8))


def test_many_nots() -> None:
    assert not compile_filter("not " * 1001 + "icmp")(_packet(1))
    assert compile_filter("! " * 1000 + "icmp")(_packet(1))


def test_deep_parentheses() -> None:
    assert compile_filter("(" * 100 + "icmp" + ")" * 100)(_packet(1))
    with pytest.raises(FilterExprError, match="nested too deeply"):
        compile_filter("(" * 5000 + "icmp" + ")" * 5000)
