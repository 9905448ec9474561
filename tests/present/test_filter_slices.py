"""Slices, protocol bytes, ``frame.time*`` and ``frame.protocols`` in display filters, against
tshark on the project's and the shared captures."""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support import real_capture, real_capture_names, require_real_dir, require_tshark
from vxlankit.capture.reader import open_capture
from vxlankit.codec import decode
from vxlankit.layers.registry import ALIASES, FIELDS, PROTOCOLS
from vxlankit.present.filter import FilterExprError, _protocol_bytes, compile_filter
from vxlankit.present.frametimes import absolute_ns, relative_ns
from vxlankit.present.run import decode_capture
from vxlankit.present.slices import SliceError, cut, parse_slice

KNOWN = [*FIELDS, *ALIASES]
CAPTURES = Path(__file__).resolve().parents[2] / "captures"
MULTI_TAP = CAPTURES / "synth-ping-vni4096-proxy.pcapng"


def _numbers(path: Path, expr: str) -> tuple[list[int], list[int]]:
    test = compile_filter(expr, known_fields=KNOWN)
    ours = [item.record.number for item in decode_capture(str(path), filter=test)]
    # tshark reads absolute times in local time; so does vxlankit: both run in UTC here.
    env = {**os.environ, "TZ": "UTC"}
    out = subprocess.run([require_tshark(), "-r", str(path), "-Y", expr, "-T", "fields", "-e",
                          "frame.number"], capture_output=True, text=True, check=True,
                         env=env).stdout
    return ours, [int(n) for n in out.split()]


@pytest.mark.parametrize("expr", [
    "eth.src[0:3] == 02:42:0a", "eth.src[-1] == 03", "eth.src[1-2] == 42:0a",
    "eth.src[0:2,4] == 02:42:00", "ip.src[0:2] == 0a:00", "ip.dst[3:] == 04",
    "vxlan[4:3] == 00:10:00", "frame[12:2] == 08:06", "frame[0:1] == 02",
    "frame contains 0a:00:00:04", "icmp contains 00:01", "icmp[0:1] == 08",
    "udp[2:2] == 12:b5", "eth[12:2] == 08:00 && vxlan", "eth.dst[0:2] == ff:ff",
    "frame.time_relative > 0.001", "frame.time_relative <= 0.0012",
    "frame.time_delta < 0.0001", 'frame.time >= "2026-01-01 00:00:00"',
    'frame.time < "Jan  1, 2026 00:00:00.001"', "frame.time_epoch > 1767225600.002",
    'frame.protocols contains "vxlan"', 'frame.protocols == "eth:ethertype:arp"',
])
def test_selects_as_tshark(expr: str) -> None:
    ours, theirs = _numbers(MULTI_TAP, expr)
    assert ours == theirs
    assert ours  # each selects something here


@pytest.mark.parametrize("expr", ["eth.src[0:3] == 02:42:0b", "ip.dst[3:] == 05",
                                  "frame contains 0a:00:00:05", "frame.time_relative > 10",
                                  'frame.protocols contains "tcp"', "eth.src[0:3] != 02:42:0a"])
def test_selects_nothing_as_tshark(expr: str) -> None:
    ours, theirs = _numbers(MULTI_TAP, expr)
    assert ours == theirs == []


@pytest.mark.parametrize("expr", [
    "ipv6[6:1] == 3a", "ipv6[40:1] == 3a", "icmpv6 contains 87", "ipv6.src[0:2] == fe:80",
    "frame.protocols contains \"icmpv6\"",
])
def test_ipv6_bytes_as_tshark(expr: str) -> None:
    ours, theirs = _numbers(real_capture("tcpdump_icmpv6.pcap"), expr)
    assert ours == theirs


@pytest.mark.parametrize("expr", ["erspan[0:1] == 11", "erspan contains 08:00",
                                  "gre[2:2] == 88:be"])
def test_tunnel_bytes_as_tshark(expr: str) -> None:
    ours, theirs = _numbers(real_capture("tcpdump_erspan-type-ii-1.pcap"), expr)
    assert ours == theirs and ours


def test_protocol_bytes_cover_what_tsharks_items_cover() -> None:
    """A protocol's bytes in a filter are what its tree item covers in tshark (PDML's size),
    for every layer of every capture: ICMP's message, IPv6 through its extension headers."""
    require_real_dir()
    paths = [CAPTURES / n for n in sorted(os.listdir(CAPTURES)) if ".pcap" in n]
    paths += [real_capture(n) for n in real_capture_names()]
    compared = 0
    for path in paths:
        pdml = subprocess.run([require_tshark(), "-n", "-r", str(path), "-T", "pdml"],
                              capture_output=True, text=True, check=True).stdout
        theirs = [[(p.get("name"), int(p.get("size") or 0)) for p in packet.findall("proto")]
                  for packet in ET.fromstring(pdml).iter("packet")]
        with open_capture(path) as reader:
            for number, record in enumerate(reader, 1):
                packet = decode(record.data, record.interface.linktype)
                # tshark decodes VXLAN on 4789 only: what it reads as data has no item.
                if "8472" in path.name:
                    continue
                for proto in {layer.proto for layer in packet.layers} & PROTOCOLS:
                    sizes = [size for name, size in theirs[number - 1] if name == proto]
                    ours = [len(b) for b in _protocol_bytes(proto)(packet)]
                    if sizes:
                        assert ours == sizes[:len(ours)], (path.name, number, proto)
                        compared += 1
    assert compared > 1500


@pytest.mark.parametrize(("expr", "reason"), [
    ("udp.srcport[0:1] == 01", "only byte strings, addresses and strings can be sliced"),
    ("eth.src[0:0] == 02", "has length 0"),
    ("eth.src[x] == 02", "is not a slice range"),
    ("eth.src[0:3 == 02", "never closed"),
    ("eth.src[3-1] == 02", "from a lower to a higher offset"),
    ("[0:1] == 02", "must follow a field or protocol name"),
    ('frame.time_relative > "1"', "is quoted"),
    ("frame.time_relative > 1s", "is not a number of seconds"),
    ('frame.time > "yesterday"', "is not a date and time"),
    ("frame.time_relative contains 1", "'contains' applies to strings"),
])
def test_rejected_as_tshark_would(expr: str, reason: str) -> None:
    with pytest.raises(FilterExprError, match=reason):
        test = compile_filter(expr, known_fields=KNOWN)
        # literals are typed by the first value they meet
        list(decode_capture(str(MULTI_TAP), filter=test))


def test_slice_ranges() -> None:
    data = bytes(range(10))
    assert cut(data, parse_slice("0:3")) == b"\0\1\2"
    assert cut(data, parse_slice("-2:")) == b"\x08\x09"
    assert cut(data, parse_slice(":2,8-9")) == b"\0\1\x08\x09"
    assert cut(data, parse_slice("9")) == b"\x09"
    assert cut(data, parse_slice("8:3")) is None  # runs off the end: nothing to compare
    assert cut(data, parse_slice("-11")) is None
    assert cut(data, parse_slice("10")) is None
    with pytest.raises(SliceError):
        parse_slice("1,,2")


def test_time_literals() -> None:
    assert relative_ns("0.000000001") == 1
    assert relative_ns("-1.5") == -1_500_000_000
    assert absolute_ns("1767225600.5") == 1_767_225_600_500_000_000
    assert absolute_ns("2026-01-01T00:00:00.25Z") == 1_767_225_600_250_000_000
    assert absolute_ns("Jan  1, 2026 00:00:00 UTC") == 1_767_225_600_000_000_000
