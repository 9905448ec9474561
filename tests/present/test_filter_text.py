"""``contains`` and ``matches`` (``~``) in display filters, against tshark on the captures that
carry names and strings (DNS, inside VXLAN too), and their errors."""

from __future__ import annotations

import subprocess

import pytest

from tests.support import real_capture, require_tshark
from vxlankit.errors import FilterError
from vxlankit.present.filter import compile_filter
from vxlankit.present.run import decode_capture

FILTERS = [
    'dns.qry.name contains "tcpdump"',
    'dns.qry.name contains "amazonaws"',
    'dns.qry.name matches "^ec2-"',
    'dns.qry.name matches "IN-ADDR"',  # case-insensitive, as in Wireshark
    'dns.qry.name ~ "\\\\.org$"',
    "eth.src contains 02:85",
    'not dns.qry.name contains "arpa"',
    'dns.resp.name contains "sandelman"',
]


def _tshark_numbers(path: str, expr: str) -> list[int]:
    out = subprocess.run([require_tshark(), "-r", path, "-n", "-Y", expr, "-T", "fields", "-e",
                          "frame.number"], capture_output=True, text=True, check=True).stdout
    return [int(line) for line in out.split()]


@pytest.mark.parametrize("expr", FILTERS)
@pytest.mark.parametrize("name", ["tcpdump_dns_udp.pcap",
                                  "suricata-verify_vxlan-decoder-03_vxlan.pcap"])
def test_matches_tshark(name: str, expr: str) -> None:
    path = str(real_capture(name))
    test = compile_filter(expr)
    ours = [item.record.number for item in decode_capture(path) if test(item.packet)]
    assert ours == _tshark_numbers(path, expr)


def test_some_filters_select_something() -> None:
    path = str(real_capture("suricata-verify_vxlan-decoder-03_vxlan.pcap"))
    test = compile_filter('dns.qry.name contains "amazonaws"')
    assert sum(1 for item in decode_capture(path) if test(item.packet)) > 3


@pytest.mark.parametrize(("expr", "message"), [
    ('dns.qry.name matches "("', "bad regular expression"),
    ("dns.qry.name matches abc", "needs a quoted regular expression"),
    ('dns.a contains "192."', "'contains' applies to strings"),  # tshark refuses it too
    ("udp.srcport contains 5", "'contains' applies to strings"),
])
def test_errors(expr: str, message: str) -> None:
    path = str(real_capture("tcpdump_dns_udp.pcap"))
    with pytest.raises(FilterError, match=message):  # at compile time, or at the first value
        test = compile_filter(expr)
        for item in decode_capture(path):
            test(item.packet)


def test_contains_on_byte_fields_is_a_subsequence_by_hand() -> None:
    """A byte field: the literal's bytes anywhere in the value (hex or a quoted string)."""
    from vxlankit.packet import Layer, Packet

    packet = Packet([Layer("data", {"data.data": b"\x01SSH-2.0\xff", "data.len": 10})])
    assert compile_filter("data.data contains 53:53:48")(packet)
    assert compile_filter('data.data contains "SH-2"')(packet)
    assert compile_filter("data.data contains 2e:30:ff")(packet)
    assert not compile_filter("data.data contains 48:53")(packet)
    assert compile_filter('data.data matches "^.ssh"')(packet)  # bytes as latin-1, no case
