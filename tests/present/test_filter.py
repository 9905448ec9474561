"""Display filters: unit tests on hand-built packets, and a cross-check of verdicts with tshark.

The packets are built directly from ``Layer``s so these tests do not depend on the codec.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import vxlankit.present.filter as filter_module
from tests.support import REAL_DIR, real_capture, require_tshark
from vxlankit.errors import FilterError
from vxlankit.packet import Layer, Packet
from vxlankit.present.filter import PROTOCOLS, Filter, FilterExprError, compile_filter

# --------------------------------------------------------------------------------------------
# Hand-built packets for the unit tests


def _vxlan_stack(vni: int, *inner: Layer) -> Packet:
    outer = [
        Layer("eth", {"eth.src": "52:54:00:aa:00:01", "eth.dst": "52:54:00:aa:00:02",
                      "eth.type": 0x0800}, offset=0, length=14),
        Layer("ip", {"ip.src": "172.16.0.1", "ip.dst": "172.16.0.2", "ip.ttl": 64,
                     "ip.proto": 17, "ip.flags.df": 1, "ip.checksum.status": 1},
              offset=14, length=20),
        Layer("udp", {"udp.srcport": 50000, "udp.dstport": 4789}, offset=34, length=8),
        Layer("vxlan", {"vxlan.flags": 0x0800, "vxlan.flag_i": 1, "vxlan.vni": vni},
              offset=42, length=8),
    ]  # fmt: skip
    return Packet(outer + list(inner))


INNER_ETH = Layer("eth", {"eth.src": "00:16:3e:08:71:cf", "eth.dst": "00:16:3e:37:f6:04",
                          "eth.type": 0x0800}, offset=50, length=14)  # fmt: skip
INNER_IP = Layer("ip", {"ip.src": "10.0.0.3", "ip.dst": "10.0.0.4", "ip.ttl": 63,
                        "ip.proto": 1, "ip.flags.df": 0, "ip.checksum.status": 0},
                 offset=64, length=20)  # fmt: skip

# VNI 4096, inner 10.0.0.3 -> 10.0.0.4 echo request whose inner IP checksum is bad.
ICMP_PKT = _vxlan_stack(
    4096,
    INNER_ETH,
    INNER_IP,
    Layer("icmp", {"icmp.type": 8, "icmp.code": 0, "icmp.seq": 7}, offset=84, length=8),
    Layer("data", {"data.data": bytes.fromhex("aabbcc00")}, offset=92, length=4),
    Layer("frame", {"frame.comment": "hello"}),
)
ARP_PKT = _vxlan_stack(
    4096,
    Layer("eth", {"eth.src": "00:16:3e:08:71:cf", "eth.dst": "ff:ff:ff:ff:ff:ff",
                  "eth.type": 0x0806}, offset=50, length=14),
    Layer("arp", {"arp.opcode": 1, "arp.src.hw_mac": "00:16:3e:08:71:cf",
                  "arp.src.proto_ipv4": "10.0.0.3", "arp.dst.hw_mac": "00:00:00:00:00:00",
                  "arp.dst.proto_ipv4": "10.0.0.4"}, offset=64, length=28),
)  # fmt: skip
# Only the *inner* IP header carries options: "ip.opt.len#1" must not find the inner one.
OPTIONS_PKT = _vxlan_stack(
    7,
    INNER_ETH,
    Layer("ip", {"ip.src": "10.0.0.3", "ip.dst": "10.0.0.4", "ip.opt.len": 4}, offset=64,
          length=24),
)
# Only the *outer* IP header carries options: "#-1" counts back from the last layer that has
# the field (Wireshark's rule), so "ip.opt.len#-1" is the outer one here.
OUTER_OPTIONS_PKT = _vxlan_stack(7, INNER_ETH, INNER_IP)
OUTER_OPTIONS_PKT.layers[1].fields["ip.opt.len"] = 8
# Q-in-Q on the underlay: two vlan layers, so vlan.id has two occurrences.
QINQ_PKT = Packet(
    [
        Layer("eth", {"eth.src": "52:54:00:aa:00:01", "eth.dst": "52:54:00:aa:00:02",
                      "eth.type": 0x88A8}),
        Layer("vlan", {"vlan.id": 100, "vlan.etype": 0x8100}),
        Layer("vlan", {"vlan.id": 200, "vlan.etype": 0x0800}),
        Layer("ip", {"ip.src": "172.16.0.1", "ip.dst": "172.16.0.2"}),
    ]
)  # fmt: skip


def _match(expr: str, packet: Packet) -> bool:
    return compile_filter(expr)(packet)


ICMP_CASES = [
    # presence
    ("vxlan", True), ("arp", False), ("vxlan.vni", True), ("arp.opcode", False),
    ("icmp.code", True),  # present with value 0 still matches, as in Wireshark
    ("ip.flags.df#2", True), ("ip.src#3", False),
    # integers, every spelling of every operator
    ("vxlan.vni == 4096", True), ("vxlan.vni eq 4096", True), ("vxlan.vni any_eq 4096", True),
    ("vxlan.vni == 0x1000", True), ("vxlan.vni == 0X1000", True),
    ("vxlan.vni == 010000", True),  # leading zero: octal, like tshark
    ("vxlan.vni == 0b1000000000000", True), ("vxlan.vni == 4095", False),
    ("vxlan.vni != 4096", False), ("vxlan.vni ne 4095", True), ("vxlan.vni all_ne 4095", True),
    ("vxlan.vni < 4097", True), ("vxlan.vni lt 4096", False),
    ("vxlan.vni <= 4096", True), ("vxlan.vni le 4095", False),
    ("vxlan.vni > 4095", True), ("vxlan.vni gt 4096", False),
    ("vxlan.vni >= 4096", True), ("vxlan.vni ge 4097", False),
    ("vxlan.vni==4096", True),  # no spaces needed
    # any / all over two occurrences (ip.ttl is 64 outside, 63 inside)
    ("ip.ttl == 63", True), ("ip.ttl != 63", False), ("ip.ttl != 62", True),
    ("ip.ttl ~= 63", True), ("ip.ttl any_ne 64", True), ("ip.ttl ~= 62", True),
    ("ip.ttl === 63", False), ("ip.ttl all_eq 64", False), ("ip.proto === 17", False),
    ("ip.ttl > 63", True), ("ip.ttl < 63", False), ("ip.ttl >= 64", True),
    # layer numbers
    ("ip.src == 10.0.0.3", True), ("ip.src#1 == 10.0.0.3", False),
    ("ip.src#2 == 10.0.0.3", True), ("ip.src#-1 == 10.0.0.3", True),
    ("ip.src#-2 == 172.16.0.1", True), ("ip.src#-1 == 172.16.0.1", False),
    ("ip.src #2 == 10.0.0.3", True), ("ip.src#2 != 10.0.0.3", False),
    ("ip.src#1 != 10.0.0.3", True), ("ip.src#3 != 10.0.0.3", False),
    ("ip.ttl#1 === 64", True),
    # IPv4: CIDR is membership; orderings are numeric, under the literal's netmask
    ("ip.src == 10.0.0.0/24", True), ("ip.src#1 == 10.0.0.0/24", False),
    ("ip.src == 10.0.0.3/32", True), ("ip.src == 0.0.0.0/0", True),
    ("ip.src != 10.0.0.0/8", False), ("ip.src != 192.168.0.0/16", True),
    ("ip.src ~= 10.0.0.0/8", True), ("ip.dst#2 == 10.0.0.7/30", True),
    ("ip.src#1 > 10.0.0.0/8", True), ("ip.src#2 > 10.0.0.0/8", False),
    ("ip.src#2 >= 10.0.0.0/8", True), ("ip.src#2 < 10.0.0.4", True),
    ("ip.src#2 > 9.255.255.255", True),  # "10.0.0.3" < "9.255..." as text; numerically not
    ("ip.src#2 < 9.255.255.255", False),
    # MACs: any of Wireshark's spellings, ordered as bytes
    ("eth.src == 00:16:3e:08:71:cf", True), ("eth.src == 00-16-3E-08-71-CF", True),
    ("eth.src == 0016.3e08.71cf", True), ("eth.src == 00163e0871cf", True),
    ("eth.src#1 == 00:16:3e:08:71:cf", False),
    ("eth.src#1 > 00:16:3e:08:71:cf", True), ("eth.src#2 < 00:16:3e:08:71:d0", True),
    ("eth.dst == ff:ff:ff:ff:ff:ff", False),
    # bytes
    ("data.data == aa:bb:cc:00", True), ("data.data == aa-bb-cc-00", True),
    ("data.data == aabbcc00", True), ("data.data == aabb.cc00", True),
    # Wireshark orders byte strings by length first, then bytewise
    ("data.data == aa:bb:cc", False), ("data.data > aa:bb:cc", True),
    ("data.data > ff", True), ("data.data < ab", False), ("data.data < 00:00:00:00:00", True),
    ("data.data < aa:bb:cc:01", True), ("data.data >= aa:bb:cc:00", True),
    ("data.data > aa:bb:cb:ff", True), ("data.data in {aa:bb:cb:ff..ff:00:00:00}", True),
    (r'data.data == "\xaa\xbb\xcc\x00"', True), (r'data.data == "\252\273\314\000"', True),
    # booleans compare with 0/1 or True/False
    ("ip.flags.df == 1", True), ("ip.flags.df == True", True), ("ip.flags.df#2 == False", True),
    ("ip.flags.df#2 == false", True), ("ip.flags.df#2 == TRUE", False),
    ("ip.checksum.status == 0", True), ("ip.checksum.status#1 == 0", False),
    # strings
    ('frame.comment == "hello"', True), ("frame.comment == hello", True),
    ('frame.comment > "hella"', True), ('frame.comment != "hello"', False),
    # sets
    ("vxlan.vni in {100 4096}", True), ("vxlan.vni in {100, 4096}", True),
    ("vxlan.vni in {100, 200}", False), ("vxlan.vni in {1..4096}", True),
    ("vxlan.vni in {4097..5000, 1}", False), ("vxlan.vni in {5000..1}", False),
    ("vxlan.vni in {0x0fff .. 0x1001}", True), ("vxlan.vni not in {100, 200}", True),
    ("vxlan.vni not in {4096}", False), ("ip.src in {10.0.0.0/24}", True),
    ("ip.src#1 in {10.0.0.0/24, 172.16.0.0/12}", True), ("ip.src#1 in {10.0.0.0/24}", False),
    ("ip.src in {10.0.0.1..10.0.0.5}", True), ("ip.src in {10.0.0.4..10.0.0.5}", False),
    ("eth.src in {00:16:3e:08:71:cf}", True), ("eth.src#1 in {00-16-3e-08-71-cf}", False),
    ("data.data in {01, aa:bb:cc:00}", True), ('frame.comment in {"hi", "hello"}', True),
    ("arp.opcode not in {1}", True),  # "not in" is plain negation: true when absent
    ("arp.opcode in {1}", False),
    # logic and precedence: not > and > or
    ("arp or vxlan", True), ("arp and vxlan", False), ("not arp", True), ("!arp", True),
    ("!!vxlan", True), ("not not arp", False),
    ("icmp.type == 8 || arp && vxlan.vni == 1", True),  # or(T, and(F, F)), not and(or(T, F), F)
    ("(icmp.type == 8 || arp) && vxlan.vni == 1", False),
    ("not arp and arp", False),  # (not arp) and arp; "not (arp and arp)" would be True
    ("not vxlan or vxlan", True),
    ("not (vxlan or vxlan)", False),
    ("vxlan.vni == 4096 and icmp and ip.src#2 == 10.0.0.3", True),
    ("((vxlan.vni == 1) or (udp.dstport == 4789)) and not (arp)", True),
    ("!ip.src == 10.0.0.3", False), ("! ip.src#1 == 10.0.0.3", True),
]  # fmt: skip


@pytest.mark.parametrize(("expr", "expected"), ICMP_CASES, ids=[c[0] for c in ICMP_CASES])
def test_icmp_packet(expr: str, expected: bool) -> None:
    assert _match(expr, ICMP_PKT) is expected


OTHER_CASES = [
    ("vxlan.vni == 4096 and arp", ARP_PKT, True),
    ("arp.opcode == 1 and eth.dst#2 == ff:ff:ff:ff:ff:ff", ARP_PKT, True),
    ("arp.dst.hw_mac == 00:00:00:00:00:00", ARP_PKT, True),
    ("arp.src.proto_ipv4 == 10.0.0.0/24", ARP_PKT, True),
    ("icmp.type != 8", ARP_PKT, False),  # absent: every comparison is false, "!=" too
    ("icmp.type ~= 8", ARP_PKT, False),
    ("icmp.type === 8", ARP_PKT, False),
    ("not icmp.type == 8", ARP_PKT, True),
    ("ip.src#2", ARP_PKT, False),
    ("ip.src#-1 == 172.16.0.1", ARP_PKT, True),  # the last ip layer is the outer one here
    # the layer operator counts layers of the field's protocol, not values found
    ("ip.opt.len", OPTIONS_PKT, True),
    ("ip.opt.len#1", OPTIONS_PKT, False),
    ("ip.opt.len#2 == 4", OPTIONS_PKT, True),
    ("ip.opt.len#-1 == 4", OPTIONS_PKT, True),
    ("ip.opt.len#-2", OPTIONS_PKT, False),
    ("ip.opt.len#-1 == 8", OUTER_OPTIONS_PKT, True),
    ("ip.opt.len#[-1] == 8", OUTER_OPTIONS_PKT, True),
    ("ip.opt.len#2", OUTER_OPTIONS_PKT, False),
    # bracketed layer ranges, as in Wireshark 4.0: N, N:len, N:, first-last, lists
    ("ip.src#[2] == 10.0.0.3", ICMP_PKT, True),
    ("ip.src#[-1] == 10.0.0.3", ICMP_PKT, True),
    ("ip.src#[-2] == 10.0.0.3", ICMP_PKT, False),
    ("ip.src#[1-2] == 10.0.0.3", ICMP_PKT, True),
    ("ip.src#[1:1] == 10.0.0.3", ICMP_PKT, False),
    ("ip.src#[1:2] == 10.0.0.3", ICMP_PKT, True),
    ("ip.src#[-2:1] == 172.16.0.1", ICMP_PKT, True),
    ("ip.src#[2:] == 172.16.0.1", ICMP_PKT, False),
    ("ip.src#[1:] === 172.16.0.1", ICMP_PKT, False),
    ("ip.src#[3,1] == 172.16.0.1", ICMP_PKT, True),
    ("ip.src#[ 3 , 1 ] == 172.16.0.1", ICMP_PKT, True),
    ("ip.src#[3,4]", ICMP_PKT, False),
    ("ip.src#[1-2] != 172.16.0.1", ICMP_PKT, False),
    ("vlan.id#[1-2] === 100", QINQ_PKT, False),
    ("vlan.id#[1,3] === 100", QINQ_PKT, True),
    ("vlan.id == 200", QINQ_PKT, True),
    ("vlan.id#1 == 200", QINQ_PKT, False),
    ("vlan.id#2 == 200", QINQ_PKT, True),
    ("vlan.id#-1 == 200 and vlan.id#-2 == 100", QINQ_PKT, True),
    ("vlan.id != 100", QINQ_PKT, False),
    ("vlan.id ~= 100", QINQ_PKT, True),
    ("vlan.id === 100", QINQ_PKT, False),
    ("vlan.id in {100..150}", QINQ_PKT, True),
    ("vlan and not vxlan", QINQ_PKT, True),
    ("vxlan.vni", QINQ_PKT, False),
    ("vxlan.vni != 1", QINQ_PKT, False),
    ("vxlan.vni not in {1}", QINQ_PKT, True),
]


@pytest.mark.parametrize(
    ("expr", "packet", "expected"), OTHER_CASES, ids=[c[0] for c in OTHER_CASES]
)
def test_other_packets(expr: str, packet: Packet, expected: bool) -> None:
    assert _match(expr, packet) is expected


def test_values_of_unfilterable_types_never_match_but_are_present() -> None:
    packet = Packet([Layer("x", {"x.dict": {1: 2}, "x.none": None})])
    assert _match("x.dict", packet) and _match("x.none", packet)
    assert not _match("x.dict == 1", packet)
    assert not _match("x.none == 0", packet)
    assert not _match("x.none != 0", packet)


def test_bytearray_and_bool_values_compare_like_bytes_and_ints() -> None:
    packet = Packet([Layer("x", {"x.raw": bytearray(b"\x01\x02"), "x.flag": True})])
    assert _match("x.raw == 01:02 and x.raw < 01:03", packet)
    assert _match("x.flag == 1 and x.flag == True and x.flag > 0", packet)


# --------------------------------------------------------------------------------------------
# Errors: position and what was expected

SYNTAX_ERRORS = [
    ("", 1, "the expression is empty"),
    ("   ", 4, "the expression is empty"),
    ("ip.src == ", 11, "expected a value after '=='"),
    ("ip.src ==", 10, "expected a value after '=='"),
    ("ip.src == and arp", 11, "expected a value after '==', found 'and'"),
    ("arp or", 7, "expected a field, a protocol, 'not' or '(' after 'or'"),
    ("arp and and icmp", 9, "after 'and', found 'and'"),
    ("not", 4, "after 'not'"),
    ("()", 2, "after '(', found ')'"),
    ("(arp", 5, "expected ')' (to close the '(' from column 1)"),
    ("(arp icmp", 6, "expected ')' (to close the '(' from column 1), found 'icmp'"),
    ("ip.src == 1.2.3.4 )", 19, "')' has no matching '('"),
    ("ip.src == 1.2.3.4 1.2.3.5", 19, "expected 'and', 'or' or the end of the filter"),
    ("== 1", 1, "expected a field, a protocol, 'not' or '(', found '=='"),
    ("ip.src = 1.2.3.4", 8, "did you mean '=='"),
    ("ip.src ~ 1.2.3.4", 8, "ip.src holds IPv4 addresses: 'matches' applies to strings"),
    ("arp | icmp", 5, "did you mean '||'"),
    ("udp.dstport & 0xff", 13, "bitwise '&' is not supported"),
    ("ip.src#x == 1", 8, "expected a layer number or '[' after '#'"),
    ("ip.src# 2 == 1", 8, "expected a layer number or '[' after '#'"),
    ("ip.src#0 == 1", 8, "layer numbers start at 1"),
    ("ip.src#[1,0] == 1", 11, "layer numbers start at 1"),
    ("ip.src#[1, x] == 1", 12, "'x' is not a layer number or range"),
    ("ip.src#[1 == 1", 8, "the '[' after '#' is never closed"),
    ("ip.src#[] == 1", 9, "'' is not a layer number or range"),
    ("ip.src#[2-1] == 1", 9, "must run from a lower to a higher positive layer"),
    ("ip.src#[-2--1] == 1", 9, "must run from a lower to a higher positive layer"),
    ("ip.src#[1:0] == 1", 9, "length 0"),
    ("ip.src#[:2] == 1", 9, "needs a first layer: '1:2'"),
    ("vxlan#2", 6, "'vxlan' is a protocol; layer numbers apply to fields"),
    ("ip#2 == 1.2.3.4", 3, "'ip' is a protocol; layer numbers apply to fields"),
    ("ip.src in 1.2.3.4", 11, "expected '{' to start the set after 'in'"),
    ("ip.src in {}", 12, "expected a value after '{', found '}'"),
    ("ip.src in {1.2.3.4,}", 20, "expected a value after ','"),
    ("ip.src in {1.2.3.4", 19, "expected ',', '}' or another value in the set"),
    ("icmp.seq in {1..}", 17, "expected a value after '..'"),
    ("icmp.seq in {1...3}", 17, "unexpected character '.'"),
    ('eth.src == "abc', 12, "the closing quote of this string is missing"),
    (r'frame.comment == "a\qb"', 20, r"unknown escape '\q'"),
    ("ip.src contains 10", 8, "'contains' applies to strings and byte strings"),
    ("ip.src[0:2 == 0a:00", 7, "the '[' of this slice is never closed"),
    ("vxlan.vni[0:1] == 00", 10, "vxlan.vni holds integers: only byte strings"),
    ("10.0.0.1 == ip.src", 1, "expected a field or protocol name, found '10.0.0.1'"),
    ("arp $ icmp", 5, "unexpected character '$'"),
]


@pytest.mark.parametrize(("expr", "column", "fragment"), SYNTAX_ERRORS,
                         ids=[repr(c[0]) for c in SYNTAX_ERRORS])  # fmt: skip
def test_syntax_errors_name_the_column_and_the_expectation(
    expr: str, column: int, fragment: str
) -> None:
    with pytest.raises(FilterError) as info:
        compile_filter(expr)
    err = info.value
    assert isinstance(err, FilterExprError)
    assert err.column == column, str(err)
    assert err.expr == expr
    assert fragment in err.reason, str(err)
    assert str(err) == f'filter: {err.reason} at column {column}: "{expr}"'


def test_error_message_format() -> None:
    with pytest.raises(FilterError) as info:
        compile_filter("ip.src == ")
    assert str(info.value) == "filter: expected a value after '==' at column 11: \"ip.src == \""


TYPE_ERRORS = [
    ("ip.src == 1.2.3", 11, "'1.2.3' is not a valid IPv4 address or CIDR block"),
    ("ip.src == 1.2.3.256", 11, "is not a valid IPv4 address"),
    ("ip.src == 1.2.3.4/33", 11, "netmask bits in '1.2.3.4/33' must be at most 32"),
    ('ip.src == "10.0.0.3"', 11, "quoted"),
    ("ip.src in {10.0.0.3, 3}", 22, "'3' is not a valid IPv4 address"),
    ("eth.src == 00:16:3e", 12, "3 bytes, not 6"),
    ("eth.src == 10.0.0.3", 12, "not a valid MAC address"),
    ("eth.src == 00:16-3e:08:71:cf", 12, "not a valid MAC address"),
    ("icmp.type == 08", 14, "'08' is not a valid number"),
    ('icmp.type == "8"', 14, "quoted"),
    ("icmp.type == 10.0.0.3", 14, "not a valid number"),
    ("vxlan.vni in {1..x}", 18, "'x' is not a valid number"),
    ("data.data == a6:f8:2", 14, "not a valid byte string"),
    ("data.data == xyz", 14, "not a valid byte string"),
]


@pytest.mark.parametrize(("expr", "column", "fragment"), TYPE_ERRORS,
                         ids=[c[0] for c in TYPE_ERRORS])  # fmt: skip
def test_literal_that_does_not_fit_the_field_fails_at_first_use(
    expr: str, column: int, fragment: str
) -> None:
    check = compile_filter(expr)  # the field's type is unknown until a value is seen
    assert check(Packet([Layer("udp", {"udp.srcport": 1})])) is False
    with pytest.raises(FilterExprError) as info:
        check(ICMP_PKT)
    assert info.value.column == column, str(info.value)
    assert fragment in info.value.reason, str(info.value)
    field = expr.split()[0]
    assert f"({field} holds " in info.value.reason


def test_type_error_is_not_raised_for_packets_without_the_field() -> None:
    check = compile_filter("icmp.type == 08 or arp")
    assert check(ARP_PKT) is True
    with pytest.raises(FilterExprError):
        check(ICMP_PKT)


# --------------------------------------------------------------------------------------------
# API: fields, protocols, known_fields, caching


def test_filter_reports_what_it_references() -> None:
    f = compile_filter("vxlan.vni == 1 and (arp or ip.src#2 in {10.0.0.0/8}) and !icmp.type")
    assert isinstance(f, Filter)
    assert f.expr == "vxlan.vni == 1 and (arp or ip.src#2 in {10.0.0.0/8}) and !icmp.type"
    assert f.fields == frozenset({"vxlan.vni", "ip.src", "icmp.type"})
    assert f.protocols == frozenset({"arp"})
    assert repr(f) == f"Filter({f.expr!r})"


def test_known_fields_rejects_unknown_names_like_wireshark() -> None:
    known = {"ip.src", "ip.dst", "vxlan.vni", "tcp.port"}
    assert compile_filter("ip.src == 10.0.0.3 and vxlan", known_fields=known)(ICMP_PKT)
    assert not compile_filter("tcp", known_fields=known)(ICMP_PKT)  # protocol of a known field
    with pytest.raises(FilterExprError) as info:
        compile_filter("vxlan and ip.sorce == 10.0.0.3", known_fields=known)
    assert info.value.reason == "'ip.sorce' is neither a field nor a protocol name"
    assert info.value.column == 11
    with pytest.raises(FilterExprError, match="'foo' is neither a field nor a protocol"):
        compile_filter("foo", known_fields=known)
    with pytest.raises(FilterExprError, match=r"comparing two fields \('ip.dst'\)"):
        compile_filter("ip.src == ip.dst", known_fields=known)


def test_without_known_fields_any_name_compiles_and_missing_ones_never_match() -> None:
    assert not _match("ip.sorce == 10.0.0.3", ICMP_PKT)
    assert not _match("sctp", ICMP_PKT)
    assert _match("not sctp", ICMP_PKT)


def test_protocol_names_cover_the_decoder() -> None:
    assert {"eth", "vlan", "ip", "udp", "vxlan", "arp", "icmp", "data"} <= PROTOCOLS
    for proto in ("eth", "vlan", "ip", "udp", "vxlan", "arp", "icmp", "data"):
        packet = Packet([Layer(proto, {})])
        assert _match(proto, packet)
        assert not _match(f"not {proto}", packet)


def test_literal_converted_once_per_type(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    real = filter_module._convert

    def counting(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(filter_module, "_convert", counting)
    check = compile_filter("ip.src == 10.0.0.0/8 and vxlan.vni in {1, 4096..5000}")
    assert calls == []  # lazy: nothing is converted before a value is seen
    for _ in range(50):
        assert check(ICMP_PKT)
    # one conversion for the CIDR literal, three for the set (1, 4096, 5000)
    assert len(calls) == 4


# --------------------------------------------------------------------------------------------
# Quantifier semantics against a plain reference, for any number of occurrences

_OPS = ["==", "!=", "~=", "===", "<", "<=", ">", ">="]


def _reference(op: str, values: list[int], literal: int) -> bool:
    if op == "==":
        return any(v == literal for v in values)
    if op == "!=":
        return bool(values) and all(v != literal for v in values)
    if op == "~=":
        return any(v != literal for v in values)
    if op == "===":
        return bool(values) and all(v == literal for v in values)
    compare = {"<": int.__lt__, "<=": int.__le__, ">": int.__gt__, ">=": int.__ge__}[op]
    return any(compare(v, literal) for v in values)


@given(
    values=st.lists(st.integers(0, 4), max_size=3),
    op=st.sampled_from(_OPS),
    literal=st.integers(0, 4),
    layer_no=st.sampled_from([None, 1, 2, 3, -1, -2]),
)
def test_quantifiers_match_reference(
    values: list[int], op: str, literal: int, layer_no: int | None
) -> None:
    packet = Packet([Layer("vlan", {"vlan.id": v}) for v in values])
    suffix = "" if layer_no is None else f"#{layer_no}"
    if layer_no is None:
        chosen = values
    else:
        index = layer_no - 1 if layer_no > 0 else len(values) + layer_no
        chosen = [values[index]] if 0 <= index < len(values) else []
    assert _match(f"vlan.id{suffix} {op} {literal}", packet) is _reference(op, chosen, literal)
    members = ", ".join(str(v) for v in {literal, 4 - literal})
    in_set = any(v in (literal, 4 - literal) for v in chosen)
    assert _match(f"vlan.id{suffix} in {{{members}}}", packet) is in_set
    assert _match(f"vlan.id{suffix} not in {{{members}}}", packet) is (not in_set)


# --------------------------------------------------------------------------------------------
# Cross-check with tshark on a real capture
#
# CAPTURE mirrors the ten frames of tcpdump_vxlan.pcap (VNI 100 on UDP 4789; inner ICMP echo
# and ARP).  The values were extracted once with
#   tshark -r tcpdump_vxlan.pcap -T fields -E occurrence=a -e eth.src -e ip.src ... (see FIELDS)
# and are checked against the capture again by test_capture_mirror_matches_tshark.

PCAP = REAL_DIR / "tcpdump_vxlan.pcap"

_OUTER_TO_SERVER = ("36:dc:85:1e:b3:40", "00:16:3e:08:71:cf", "192.168.203.1", "192.168.202.1", 64)
_OUTER_TO_CLIENT = ("00:16:3e:08:71:cf", "36:dc:85:1e:b3:40", "192.168.202.1", "192.168.203.1", 62)
_PING_TAIL = bytes(range(0x10, 0x38))  # bytes 8..47 of every echo payload
# frame: (outer, ip.id, udp.srcport, inner eth src/dst, inner payload)
_ROWS: list[tuple[tuple[Any, ...], int, int, tuple[str, str], tuple[Any, ...]]] = [
    (_OUTER_TO_SERVER, 0xD2C0, 45149, ("00:16:3e:37:f6:04", "00:30:88:01:00:02"),
     ("icmp", "192.168.203.3", "192.168.203.5", 0x0000, 1, 8, 1, "a6f8020000000000")),
    (_OUTER_TO_CLIENT, 0xB802, 42710, ("00:30:88:01:00:02", "ff:ff:ff:ff:ff:ff"),
     ("arp", 1, "00:30:88:01:00:02", "192.168.203.5", "00:00:00:00:00:00", "192.168.203.3")),
    (_OUTER_TO_SERVER, 0xD2C1, 52102, ("00:16:3e:37:f6:04", "00:30:88:01:00:02"),
     ("arp", 2, "00:16:3e:37:f6:04", "192.168.203.3", "00:30:88:01:00:02", "192.168.203.5")),
    (_OUTER_TO_CLIENT, 0xB803, 32894, ("00:30:88:01:00:02", "00:16:3e:37:f6:04"),
     ("icmp", "192.168.203.5", "192.168.203.3", 0xB8B3, 0, 0, 1, "a6f8020000000000")),
    (_OUTER_TO_SERVER, 0xD2C2, 45149, ("00:16:3e:37:f6:04", "00:30:88:01:00:02"),
     ("icmp", "192.168.203.3", "192.168.203.5", 0x0000, 1, 8, 2, "96fd020000000000")),
    (_OUTER_TO_CLIENT, 0xB804, 32894, ("00:30:88:01:00:02", "00:16:3e:37:f6:04"),
     ("icmp", "192.168.203.5", "192.168.203.3", 0xB8B4, 0, 0, 2, "96fd020000000000")),
    (_OUTER_TO_SERVER, 0xD2C3, 45149, ("00:16:3e:37:f6:04", "00:30:88:01:00:02"),
     ("icmp", "192.168.203.3", "192.168.203.5", 0x0000, 1, 8, 3, "a005030000000000")),
    (_OUTER_TO_CLIENT, 0xB805, 32894, ("00:30:88:01:00:02", "00:16:3e:37:f6:04"),
     ("icmp", "192.168.203.5", "192.168.203.3", 0xB8B5, 0, 0, 3, "a005030000000000")),
    (_OUTER_TO_SERVER, 0xD2C4, 45149, ("00:16:3e:37:f6:04", "00:30:88:01:00:02"),
     ("icmp", "192.168.203.3", "192.168.203.5", 0x0000, 1, 8, 4, "390c030000000000")),
    (_OUTER_TO_CLIENT, 0xB806, 32894, ("00:30:88:01:00:02", "00:16:3e:37:f6:04"),
     ("icmp", "192.168.203.5", "192.168.203.3", 0xB8B6, 0, 0, 4, "390c030000000000")),
]  # fmt: skip


def _frame(row: tuple[tuple[Any, ...], int, int, tuple[str, str], tuple[Any, ...]]) -> Packet:
    (esrc, edst, isrc, idst, ttl), ip_id, sport, (inner_src, inner_dst), inner = row
    is_arp = inner[0] == "arp"
    layers = [
        Layer("eth", {"eth.src": esrc, "eth.dst": edst, "eth.type": 0x0800}),
        Layer("ip", {"ip.src": isrc, "ip.dst": idst, "ip.proto": 17, "ip.ttl": ttl,
                     "ip.id": ip_id, "ip.flags.df": 1, "ip.checksum.status": 2,
                     "ip.len": 78 if is_arp else 134}),
        Layer("udp", {"udp.srcport": sport, "udp.dstport": 4789,
                      "udp.length": 58 if is_arp else 114, "udp.checksum.status": 3}),
        Layer("vxlan", {"vxlan.flags": 0x0800, "vxlan.flag_g": 0, "vxlan.flag_i": 1,
                        "vxlan.gbp": 0, "vxlan.vni": 100}),
        Layer("eth", {"eth.src": inner_src, "eth.dst": inner_dst,
                      "eth.type": 0x0806 if is_arp else 0x0800}),
    ]  # fmt: skip
    if is_arp:
        _, opcode, src_mac, src_ip, dst_mac, dst_ip = inner
        layers.append(Layer("arp", {"arp.opcode": opcode, "arp.src.hw_mac": src_mac,
                                    "arp.src.proto_ipv4": src_ip, "arp.dst.hw_mac": dst_mac,
                                    "arp.dst.proto_ipv4": dst_ip}))  # fmt: skip
    else:
        _, src, dst, inner_id, df, icmp_type, seq, head = inner
        layers += [
            Layer("ip", {"ip.src": src, "ip.dst": dst, "ip.proto": 1, "ip.ttl": 64,
                         "ip.id": inner_id, "ip.flags.df": df, "ip.checksum.status": 2,
                         "ip.len": 84}),
            Layer("icmp", {"icmp.type": icmp_type, "icmp.code": 0, "icmp.seq": seq,
                           "icmp.ident": 1292, "icmp.checksum.status": 1}),
            Layer("data", {"data.data": bytes.fromhex(head) + _PING_TAIL}),
        ]  # fmt: skip
    return Packet(layers)


CAPTURE = [_frame(row) for row in _ROWS]
FIELDS = sorted({name for packet in CAPTURE for layer in packet for name in layer.fields})
_TEXT_FIELDS = {"eth.src", "eth.dst", "ip.src", "ip.dst", "arp.src.hw_mac", "arp.dst.hw_mac",
                "arp.src.proto_ipv4", "arp.dst.proto_ipv4"}  # fmt: skip


@pytest.fixture(scope="module")
def tshark() -> str:
    path = require_tshark()
    real_capture(PCAP.name)
    return path


def _run_tshark(tshark: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tshark, "-n", "-r", str(PCAP), *args], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


def _tshark_frames(tshark: str, expr: str) -> list[int] | None:
    """Frames tshark's -Y keeps, or None if it rejects the filter."""
    proc = _run_tshark(tshark, "-Y", expr, "-T", "fields", "-e", "frame.number")
    if proc.returncode != 0:
        return None
    return [int(n) for n in proc.stdout.split()]


# One tshark run per filter costs 0.3-1 s, so filters are evaluated in one run: a Lua tap per
# filter (Listener.new(tap, filter) uses the same display-filter engine as -Y) prints the
# frames it sees.  Builds without Lua fall back to one -Y run per filter.
_LUA = """
local filters = {%s}
for i, f in ipairs(filters) do
  local ok, tap = pcall(Listener.new, "frame", f)
  if ok then
    function tap.packet(pinfo) print("match " .. i .. " " .. pinfo.number) end
  else
    print("reject " .. i)
  end
end
print("loaded")
"""


def _lua_string(text: str) -> str:
    return '"' + "".join(f"\\{byte}" for byte in text.encode()) + '"'


def _tshark_verdicts(tshark: str, exprs: list[str], tmp: Path) -> dict[str, list[int] | None]:
    script = tmp / "filters.lua"
    script.write_text(_LUA % ", ".join(_lua_string(e) for e in exprs))
    proc = _run_tshark(tshark, "-q", "-X", f"lua_script:{script}")
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or "loaded" not in lines:
        return {expr: _tshark_frames(tshark, expr) for expr in exprs}
    verdicts: dict[str, list[int] | None] = {expr: [] for expr in exprs}
    for line in lines:
        word, *numbers = line.split()
        if word == "reject":
            verdicts[exprs[int(numbers[0]) - 1]] = None
        elif word == "match":
            found = verdicts[exprs[int(numbers[0]) - 1]]
            assert found is not None
            found.append(int(numbers[1]))
    return {expr: None if found is None else sorted(found) for expr, found in verdicts.items()}


def _our_frames(expr: str) -> list[int]:
    check = compile_filter(expr, known_fields=FIELDS)
    return [number for number, packet in enumerate(CAPTURE, 1) if check(packet)]


def test_capture_mirror_matches_tshark(tshark: str) -> None:
    fields_args = [arg for name in FIELDS for arg in ("-e", name)]
    proc = _run_tshark(tshark, "-T", "fields", "-E", "occurrence=a", "-E", "separator=|",
                       *fields_args)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = proc.stdout.splitlines()
    assert len(rows) == len(CAPTURE)
    for number, (line, packet) in enumerate(zip(rows, CAPTURE, strict=True), 1):
        for name, text in zip(FIELDS, line.split("|"), strict=True):
            shown = text.split(",") if text else []
            if name == "data.data":
                expected: list[Any] = [bytes.fromhex(v) for v in shown]
            elif name in _TEXT_FIELDS:
                expected = shown
            else:
                expected = [int(v, 0) for v in shown]
            assert packet.values(name) == expected, f"frame {number} {name}"


CROSS_CHECKS = [
    "vxlan.vni == 100 and arp",
    "vxlan.vni == 4096 and arp",
    "ip.src#2 == 192.168.203.3",
    "ip.src#[-1] == 192.168.203.3",
    "ip.src#[-1:] == 192.168.203.1",
    "ip.src#[1,2] == 192.168.203.3",
    "ip.src#[1-2] != 192.168.203.1",
    "ip.src#[-2:2] == 192.168.203.3",
    "ip.src#[ 1 ] == 192.168.203.1",
    "icmp.seq#[-1] == 1",
    "vxlan.flag_i == 0",
    "vxlan.flag_g",
    "ip.checksum.status == 2",
    "icmp.checksum.status == 1 and ip.flags.df#2 == False",
    "ip.src != 192.168.203.1",
    "ip.src ~= 192.168.203.1",
    "ip.src === 192.168.203.1",
    "ip.src == 192.168.203.0/24",
    "ip.src > 192.168.203.0/24",
    "ip.src < 192.168.203.0/24",
    "ip.src in {192.168.203.1..192.168.203.3}",
    "icmp.type != 8",
    "icmp.seq not in {1, 2}",
    "icmp.seq in {2..3, 0x1}",
    "icmp.seq == 04",
    "eth.src == 00-16-3e-37-f6-04",
    "eth.src > 00:16:3e:37:f6:04",
    "eth.dst#2 == ff:ff:ff:ff:ff:ff",
    "eth.type#2 == 0x0806",
    "arp.dst.hw_mac == 00:00:00:00:00:00",
    "data.data >= 96:fd",
    "data.data == a6f8020000000000101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f3031323334353637",
    "icmp.type == 8 or arp and vxlan.vni == 5",
    "not arp and icmp.type == 8",
    "udp.srcport >= 42710 && !(ip.ttl#1 == 62)",
    "ip.dst#1 eq 192.168.202.1 || icmp.seq gt 3",
]


@pytest.fixture(scope="module")
def tshark_verdicts(
    tshark: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[int] | None]:
    return _tshark_verdicts(tshark, CROSS_CHECKS + BOTH_REJECT, tmp_path_factory.mktemp("lua"))


@pytest.mark.parametrize("expr", CROSS_CHECKS)
def test_verdicts_match_tshark(tshark_verdicts: dict[str, list[int] | None], expr: str) -> None:
    assert tshark_verdicts[expr] is not None, f"tshark rejected {expr!r}"
    assert _our_frames(expr) == tshark_verdicts[expr]


BOTH_REJECT = [
    "ip.src == ",
    "(arp",
    "ip.src = 192.168.203.1",
    "ip.src == 192.168.203.1/33",
    "eth.src == 00:16:3e",
    "icmp.seq in {1,}",
    'icmp.seq == "2"',
    "ip.src#[2-1] == 192.168.203.1",
    "ip.src#[1:0] == 192.168.203.1",
]


@pytest.mark.parametrize("expr", BOTH_REJECT)
def test_rejected_like_tshark(tshark_verdicts: dict[str, list[int] | None], expr: str) -> None:
    assert tshark_verdicts[expr] is None, f"tshark accepted {expr!r}"
    with pytest.raises(FilterExprError):
        check = compile_filter(expr, known_fields=FIELDS)
        for packet in CAPTURE:  # type errors surface at the first value of the field
            check(packet)


def test_batched_verdicts_agree_with_dash_y(
    tshark: str, tshark_verdicts: dict[str, list[int] | None]
) -> None:
    # The batch harness itself must not be what makes the other tests pass.
    for expr in ("ip.src#2 == 192.168.203.3", "icmp.type != 8", "(arp"):
        assert _tshark_frames(tshark, expr) == tshark_verdicts[expr], expr


# Values seen in the capture plus near misses, per field; orderings only where tshark allows.
_IPS = ["192.168.203.1", "192.168.203.3", "192.168.203.5", "192.168.202.1", "10.0.0.1",
        "192.168.203.0/24", "192.168.0.0/16", "192.168.203.4/31", "192.168.203.2"]
_MACS = ["36:dc:85:1e:b3:40", "00:16:3e:08:71:cf", "00-16-3e-37-f6-04", "00:30:88:01:00:02",
         "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "0016.3e08.71cf"]
_POOLS: dict[str, tuple[list[str], bool, bool]] = {  # values, orderable, has two layers
    "ip.src": (_IPS, True, True),
    "ip.dst": (_IPS, True, True),
    "eth.src": (_MACS, True, True),
    "eth.dst": (_MACS, True, True),
    "eth.type": (["0x0800", "0x0806", "2048"], True, True),
    "ip.ttl": (["62", "63", "64", "0x40"], True, True),
    "ip.id": (["0xd2c0", "0x0000", "0xb8b3", "0xb805", "0"], True, True),
    "ip.flags.df": (["0", "1", "True", "False"], False, True),
    "udp.srcport": (["45149", "32894", "42710", "52102", "4789"], True, False),
    "vxlan.vni": (["100", "0x64", "0144", "4096"], True, False),
    "icmp.type": (["0", "8", "3"], True, False),
    "icmp.seq": (["1", "2", "3", "4", "5"], True, False),
    "arp.opcode": (["1", "2"], True, False),
    "arp.src.proto_ipv4": (_IPS, True, False),
    "arp.dst.hw_mac": (_MACS, True, False),
    "data.data": (["a6", "96:fd", "39-0c", "a6f802", "a0.05"], True, False),
}  # fmt: skip
_LAYERS = ["", "", "#1", "#2", "#[-1]", "#[1-2]", "#[-1:]", "#[2:1]", "#[-2,2]"]
_EQ_OPS = ["==", "!=", "~=", "===", "eq", "ne"]
_ORDER = ["<", "<=", ">", ">=", "lt", "ge"]


@st.composite
def _atom(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["compare", "compare", "compare", "set", "present"]))
    if kind == "present":
        return draw(st.sampled_from(["arp", "icmp", "vxlan", "data", "ip.src#2", "arp.opcode"]))
    field = draw(st.sampled_from(sorted(_POOLS)))
    values, orderable, layered = _POOLS[field]
    layer = draw(st.sampled_from(_LAYERS)) if layered else ""
    if kind == "set":
        if field in ("ip.flags.df", "data.data"):
            members = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3))
        else:
            plain = [v for v in values if "/" not in v]
            member = st.one_of(
                st.sampled_from(values),
                st.tuples(st.sampled_from(plain), st.sampled_from(plain)).map(
                    lambda pair: f"{pair[0]}..{pair[1]}"
                ),
            )
            members = draw(st.lists(member, min_size=1, max_size=3))
        negate = draw(st.sampled_from(["", "not "]))
        return f"{field}{layer} {negate}in {{{', '.join(members)}}}"
    op = draw(st.sampled_from(_EQ_OPS + _ORDER if orderable else _EQ_OPS))
    return f"{field}{layer} {op} {draw(st.sampled_from(values))}"


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(children, children)
    return st.one_of(
        children.map(lambda c: f"not {c}"),
        children.map(lambda c: f"!({c})"),
        children.map(lambda c: f"({c})"),
        pair.map(lambda p: f"{p[0]} and {p[1]}"),
        pair.map(lambda p: f"{p[0]} || {p[1]}"),
        pair.map(lambda p: f"{p[0]} && {p[1]}"),
        pair.map(lambda p: f"{p[0]} or {p[1]}"),
    )


_FIELD_USE_RE = re.compile(r"([a-z][a-z0-9_]*\.[a-z0-9_.]+)(#)?")


def _mixes_plain_and_layered(expr: str) -> bool:
    """True if a field is used both with and without '#'.

    tshark 4.0 caches a field's values per filter run, so after "ip.src#2 == x" a later plain
    "ip.src" sees only the #2 values: "ip.src#2 == 192.168.203.5 or ip.src == 192.168.202.1"
    misses frame 2.  vxlankit does not reproduce that bug, so such filters are not compared.
    """
    uses: dict[str, set[bool]] = {}
    for name, hash_sign in _FIELD_USE_RE.findall(expr):
        uses.setdefault(name, set()).add(bool(hash_sign))
    return any(len(kinds) > 1 for kinds in uses.values())


def test_mixed_layer_use_is_detected() -> None:
    assert _mixes_plain_and_layered("ip.src#2 == 1.2.3.4 or ip.src == 1.2.3.4")
    assert not _mixes_plain_and_layered("ip.src#1 == 1.2.3.4 and ip.src#[2] == 1.2.3.4")
    assert not _mixes_plain_and_layered("ip.src == 1.2.3.4 and ip.dst#2 == 1.2.3.4")


# One example holding a batch of generated filters, so tshark runs once.  No shrinking: each
# step would be another tshark run; the assertion lists every filter that disagrees.
@settings(max_examples=1, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
          phases=[Phase.explicit, Phase.generate])  # fmt: skip
@given(exprs=st.lists(st.recursive(_atom(), _combine, max_leaves=4), min_size=30, max_size=30,
                      unique=True))  # fmt: skip
def test_generated_verdicts_match_tshark(
    tshark: str, tmp_path_factory: pytest.TempPathFactory, exprs: list[str]
) -> None:
    exprs = [e for e in exprs if not _mixes_plain_and_layered(e)]
    verdicts = _tshark_verdicts(tshark, exprs, tmp_path_factory.mktemp("lua"))
    wrong = [(e, _our_frames(e), verdicts[e]) for e in exprs if _our_frames(e) != verdicts[e]]
    for expr, ours, theirs in wrong:
        note(f"{expr!r}: vxlankit {ours}, tshark {theirs}")
    assert not wrong, wrong
