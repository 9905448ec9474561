"""The longest-prefix-match table shared by the VTEP and the router (vxlankit/model/lpm.py)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vxlankit.addr import ip_int
from vxlankit.errors import EncodeError
from vxlankit.model.lpm import PrefixTable


def lookup(table: PrefixTable[str], address: str) -> str | None:
    return table.lookup(ip_int(address))


def test_longest_prefix_wins_whatever_the_order_added() -> None:
    routes = [("0.0.0.0/0", "default"), ("192.168.0.0/16", "16"), ("192.168.1.0/24", "24"),
              ("192.168.1.6/32", "host")]
    for ordered in (routes, routes[::-1]):
        t: PrefixTable[str] = PrefixTable()
        for prefix, value in ordered:
            t.add(prefix, value)
        assert lookup(t, "10.9.9.9") == "default"
        assert lookup(t, "192.168.7.1") == "16"
        assert lookup(t, "192.168.1.5") == "24"
        assert lookup(t, "192.168.1.6") == "host"
        assert lookup(t, "192.168.1.7") == "24"


def test_no_containing_prefix_is_none() -> None:
    t: PrefixTable[str] = PrefixTable()
    assert lookup(t, "10.0.0.1") is None
    t.add("10.1.1.0/24", "br0")
    assert lookup(t, "10.1.2.1") is None
    assert lookup(t, "10.1.1.255") == "br0"
    assert lookup(t, "10.1.0.255") is None


def test_host_bits_are_cleared_and_the_first_value_for_a_prefix_wins() -> None:
    t: PrefixTable[str] = PrefixTable()
    t.add("10.1.2.3/8", "first")
    t.add("10.0.0.0/8", "second")
    assert lookup(t, "10.200.0.1") == "first"
    assert len(t) == 1
    assert list(t) == [("10.0.0.0/8", "first")]


def test_iteration_is_longest_first_then_as_added() -> None:
    t: PrefixTable[str] = PrefixTable()
    for prefix in ("0.0.0.0/0", "11.1.1.0/24", "10.1.1.0/24", "10.0.0.0/8", "10.1.1.1/32"):
        t.add(prefix, prefix)
    assert [p for p, _ in t] == ["10.1.1.1/32", "11.1.1.0/24", "10.1.1.0/24", "10.0.0.0/8",
                                 "0.0.0.0/0"]
    assert len(t) == 5


@pytest.mark.parametrize("bad", ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/x", "10.0.0/8",
                                 "10.0.0.256/24", "/8"])
def test_bad_prefixes_raise_encode_errors(bad: str) -> None:
    with pytest.raises(EncodeError):
        PrefixTable[str]().add(bad, "x")


_PREFIX = st.builds(lambda addr, length: f"{ipaddress.IPv4Address(addr)}/{length}",
                    st.integers(0, 2**32 - 1), st.integers(0, 32))


@given(prefixes=st.lists(_PREFIX, max_size=12), probes=st.lists(st.integers(0, 2**32 - 1),
                                                                   max_size=20))
def test_matches_a_linear_scan_of_the_networks(prefixes: list[str], probes: list[int]) -> None:
    """The reference: every network containing the address, the longest, the first added."""
    t: PrefixTable[int] = PrefixTable()
    networks = []
    for i, prefix in enumerate(prefixes):
        t.add(prefix, i)
        networks.append((ipaddress.IPv4Network(prefix, strict=False), i))
    # Probe the networks' own edges too, where off-by-one masks would show.
    edges = [int(n.network_address) for n, _ in networks] + [
        int(n.broadcast_address) for n, _ in networks]
    for address in probes + edges:
        ip = ipaddress.IPv4Address(address)
        matching = [(n.prefixlen, -i, i) for n, i in networks if ip in n]
        expected = max(matching)[2] if matching else None
        assert t.lookup(address) == expected


# ------------------------------------------------------------------------------------ IPv6

def test_ipv6_prefixes_are_a_table_of_their_own() -> None:
    t: PrefixTable[str] = PrefixTable()
    t.add("0.0.0.0/0", "v4 default")
    t.add("2001:db8:1::/64", "node1")
    t.add("2001:db8::/32", "doc")
    t.add("::/0", "v6 default")
    assert t.lookup_ip("2001:db8:1::10") == "node1"
    assert t.lookup_ip("2001:db8:2::10") == "doc"
    assert t.lookup_ip("fe80::1") == "v6 default"
    assert t.lookup_ip("10.0.0.1") == "v4 default"
    # ::10.0.0.1 and 10.0.0.1 are the same integer; the family keeps them apart.
    assert t.lookup(ip_int("10.0.0.1"), 6) == "v6 default"
    assert [p for p, _ in t] == ["0.0.0.0/0", "2001:db8:1::/64", "2001:db8::/32", "::/0"]
    assert len(t) == 4


def test_ipv6_host_bits_cleared_and_first_value_wins() -> None:
    t: PrefixTable[str] = PrefixTable()
    t.add("2001:DB8:1::99/64", "first")
    t.add("2001:db8:1::/64", "second")
    assert list(t) == [("2001:db8:1::/64", "first")]
    assert t.lookup_ip("2001:db8:1:0:ffff::1") == "first"
    assert t.lookup_ip("2001:db8:1:1::1") is None


@pytest.mark.parametrize("bad", ["2001:db8::", "2001:db8::/129", "2001:db8::/x",
                                 "2001:db8:::1/64", "/64"])
def test_bad_ipv6_prefixes_raise_encode_errors(bad: str) -> None:
    with pytest.raises(EncodeError):
        PrefixTable[str]().add(bad, "x")


_PREFIX6 = st.builds(lambda addr, length: f"{ipaddress.IPv6Address(addr)}/{length}",
                     st.integers(0, 2**128 - 1), st.integers(0, 128))


@given(prefixes=st.lists(_PREFIX6, max_size=12),
       probes=st.lists(st.integers(0, 2**128 - 1), max_size=20))
def test_ipv6_matches_a_linear_scan_of_the_networks(prefixes: list[str], probes: list[int]
                                                    ) -> None:
    t: PrefixTable[int] = PrefixTable()
    networks = []
    for i, prefix in enumerate(prefixes):
        t.add(prefix, i)
        networks.append((ipaddress.IPv6Network(prefix, strict=False), i))
    edges = [int(n.network_address) for n, _ in networks] + [
        int(n.broadcast_address) for n, _ in networks]
    for address in probes + edges:
        ip = ipaddress.IPv6Address(address)
        matching = [(n.prefixlen, -i, i) for n, i in networks if ip in n]
        expected = max(matching)[2] if matching else None
        assert t.lookup(address, 6) == expected
        assert t.lookup_ip(str(ip)) == expected
