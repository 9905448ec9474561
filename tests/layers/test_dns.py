"""DNS and mDNS: the layer's own behaviour (views of the sections, name compression and its
failures, TCP framing, building a query from fields), what -V, JSON and -Y make of it, and its
agreement with tshark on the captures that hold DNS.  Golden header vectors and the schema
comparison are in test_golden.py and test_schema_equivalence.py."""

from __future__ import annotations

import struct
import subprocess
import time
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from tests.codec.test_robustness import decode_checked
from tests.support import REAL_DIR, real_capture, require_tshark
from vxlankit import build, decode, encode
from vxlankit.capture.reader import open_capture
from vxlankit.crosscheck import crosscheck, render_text
from vxlankit.layers import dns
from vxlankit.layers.registry import FIELDS
from vxlankit.packet import MALFORMED, OK, TRUNCATED, Layer, Packet
from vxlankit.present.filter import compile_filter
from vxlankit.present.jsonl import dumps, packet_object
from vxlankit.present.tree import packet_tree

DNS_UDP = REAL_DIR.parent / "next" / "tcpdump_dns_udp.pcap"
VXLAN_DNS = "suricata-verify_vxlan-decoder-03_vxlan.pcap"


def _udp(message: bytes | Layer, sport: int = 40000, dport: int = 53) -> bytes:
    body = message if isinstance(message, Layer) else build.payload(message)
    return encode([build.eth("02:00:00:00:00:02", "02:00:00:00:00:01"),
                   build.ipv4("192.0.2.1", "192.0.2.2"), build.udp(sport, dport), body])


def _message(flags: int, counts: tuple[int, int, int, int], sections: bytes,
             ident: int = 0x1234) -> bytes:
    return struct.pack("!HHHHHH", ident, flags, *counts) + sections


EXAMPLE_Q = b"\x07example\x03com\x00" + b"\x00\x01\x00\x01"


def _records(path: Any) -> list[bytes]:
    with open_capture(path) as reader:
        return [record.data for record in reader]


# ---------------------------------------------------------------------------- the capture


def test_capture_views_match_hand_read_values() -> None:
    query, response = (decode(data) for data in _records(real_capture(
        "../next/tcpdump_dns_udp.pcap")))
    assert query.protocols == response.protocols == "eth:ip:udp:dns"
    q = query.layers[-1]
    assert (q["dns.id"], q["dns.flags"], q["dns.count.add_rr"]) == (0x5934, 0x0120, 1)
    assert q["dns.qry.name"] == ["www.tcpdump.org"] and q["dns.qry.name.len"] == [15]
    assert q["dns.count.labels"] == [3] and q["dns.resp.name"] == ["<Root>"]
    assert q["dns.rr.udp_payload_size"] == [4096] and "dns.resp.class" not in q.fields
    assert "dns.flags.rcode" not in q.fields and q["dns.flags.authenticated"] == 1
    r = response.layers[-1]
    assert r["dns.flags.authoritative"] == 1 and r["dns.flags.rcode"] == 0
    assert r["dns.a"] == ["192.139.46.66", "198.199.88.104", "209.87.249.18", "97.107.133.15"]
    assert r["dns.aaaa"] == ["2607:f0b0:f::babe:f00d", "2600:3c03::f03c:91ff:fe96:e8ef"]
    assert r["dns.ns"] == ["sns.cooperix.net", "nic.sandelman.ca"]
    assert len(r["dns.resp.name"]) == 9 and len(r["dns.resp.ttl"]) == 8  # OPT has no TTL
    for packet, data in zip((query, response), _records(DNS_UDP), strict=True):
        assert encode(packet, fix_lengths=False, compute_checksums=False) == data
        assert encode(packet) == data


def test_info_agrees_with_tshark() -> None:
    tshark = require_tshark()
    path = real_capture("../next/tcpdump_dns_udp.pcap")
    out = subprocess.run([tshark, "-r", str(path), "-T", "fields", "-e", "_ws.col.Info"],
                         capture_output=True, text=True, check=True, timeout=60)
    theirs = out.stdout.splitlines()
    ours = [dns.info(decode(data).layers[-1]) for data in _records(path)]
    assert ours == theirs and len(ours) == 2


def test_crosscheck_dns_capture_agrees_with_tshark() -> None:
    require_tshark()
    report = crosscheck(real_capture("../next/tcpdump_dns_udp.pcap"))
    assert report.ok, render_text(report)
    assert report.layers_by_protocol["dns"] == 2 and report.fields_compared > 100


def test_crosscheck_dns_in_vxlan_agrees_with_tshark() -> None:
    require_tshark()
    report = crosscheck(real_capture(VXLAN_DNS))
    assert report.ok, render_text(report)
    assert report.layers_by_protocol["dns"] == 16 and report.fields_compared > 0


def test_tree_json_and_filter() -> None:
    packet = decode(_records(real_capture("../next/tcpdump_dns_udp.pcap"))[1])
    tree = "\n".join(packet_tree(packet))
    assert "Domain Name System (dns), bytes 42-265, response, ID: 0x5934" in tree
    assert "    dns.flags: 0x8500" in tree and "    dns.flags.rcode: 0 (No error)" in tree
    assert tree.count("    dns.resp.type: 1 (A)") == 4
    assert "    dns.qry.class: 0x0001 (IN)" in tree
    text = dumps(packet_object(packet))
    assert '"dns.ns":["sns.cooperix.net","nic.sandelman.ca"]' in text
    known = frozenset(FIELDS)
    assert compile_filter('dns.qry.name == "www.tcpdump.org"', known)(packet)
    assert compile_filter("dns.a == 97.107.133.15", known)(packet)
    assert compile_filter("dns.flags.response == 1 && dns.count.answers == 2", known)(packet)
    assert not compile_filter('dns.qry.name == "example.com"', known)(packet)


# ---------------------------------------------------------------------------- building


def test_a_query_built_from_fields() -> None:
    query = Layer("dns", {"dns.id": 0xBEEF, "dns.flags": 0x0100, "dns.count.queries": None,
                          "dns.qry.name": "example.com", "dns.qry.type": 1,
                          "dns.qry.class": 1})
    wire = _udp(query)
    assert wire[42:] == _message(0x0100, (1, 0, 0, 0), EXAMPLE_Q, 0xBEEF)
    packet = decode(wire)
    layer = packet.layers[-1]
    assert packet.ok and layer["dns.qry.name"] == ["example.com"]
    assert dns.info(layer) == "Standard query 0xbeef A example.com"
    assert compile_filter('dns.qry.name == "example.com"', frozenset(FIELDS))(packet)
    several = Layer("dns", {"dns.id": 1, "dns.qry.name": ["a.example", "<Root>"],
                            "dns.qry.type": [28, 2], "dns.qry.class": [1, 1]})
    again = decode(_udp(several)).layers[-1]
    assert again["dns.qry.name"] == ["a.example", "<Root>"] and again["dns.flags"] == 0x0100
    assert again["dns.count.queries"] == 2


def test_tcp_length_prefix_and_several_messages() -> None:
    one = _message(0x0100, (1, 0, 0, 0), EXAMPLE_Q)
    two = _message(0x8180, (1, 1, 0, 0), EXAMPLE_Q + b"\xc0\x0c\x00\x01\x00\x01"
                   + b"\x00\x00\x00\x3c\x00\x04\x5d\xb8\xd8\x22", 0x1235)
    segment = struct.pack("!H", len(one)) + one + struct.pack("!H", len(two)) + two
    tcp = Layer("tcp", {"tcp.srcport": 53, "tcp.dstport": 40000, "tcp.seq_raw": 1,
                        "tcp.ack_raw": 1, "tcp.hdr_len": None, "tcp.flags": 0x018,
                        "tcp.window_size_value": 512, "tcp.checksum": None,
                        "tcp.urgent_pointer": 0})
    wire = encode([build.eth("02:00:00:00:00:02", "02:00:00:00:00:01"),
                   build.ipv4("192.0.2.1", "192.0.2.2"), tcp, build.payload(segment)])
    packet = decode(wire)
    assert packet.protocols == "eth:ip:tcp:dns:dns" and packet.ok
    assert [lay["dns.length"] for lay in packet.layers[3:]] == [len(one), len(two)]
    assert packet.layers[4]["dns.a"] == ["93.184.216.34"]
    assert encode(packet) == wire
    packet.layers[3].fields["dns.length"] = None  # filled in again
    assert encode(packet) == wire
    cut = decode(wire[:-5])
    assert cut.layers[-1].status == TRUNCATED
    assert any("continues past the segment" in error for error in cut.errors)


def test_mdns_is_its_own_protocol_with_dns_fields() -> None:
    question = b"\x03foo\x05local\x00" + b"\x00\x0c\x80\x01"  # PTR, QU, class IN
    answer = (b"\xc0\x0c\x00\x01\x80\x01" + b"\x00\x00\x00\x78\x00\x04\x0a\x00\x00\x05")
    packet = decode(_udp(_message(0x8400, (1, 1, 0, 0), question + answer, 0), 5353, 5353))
    layer = packet.layers[-1]
    assert packet.protocols == "eth:ip:udp:mdns" and packet.ok
    assert (layer["dns.qry.class"], layer["dns.qry.qu"]) == ([1], [1])
    assert (layer["dns.resp.class"], layer["dns.resp.cache_flush"]) == ([1], [1])
    assert dns.info(layer) == ('Standard query response 0x0000 PTR foo.local, "QU" question '
                               "A, cache flush 10.0.0.5")


# ---------------------------------------------------------------------------- malformed


def _malformed(sections: bytes, counts: tuple[int, int, int, int] = (1, 0, 0, 0)
               ) -> tuple[Packet, Layer]:
    wire = _udp(_message(0x8180, counts, sections))
    packet = decode(wire)
    assert encode(packet, fix_lengths=False, compute_checksums=False) == wire
    layer = packet.layers[-1]
    assert layer.proto == "dns" and layer.status == MALFORMED
    return packet, layer


def test_a_pointer_loop_is_malformed() -> None:
    packet, layer = _malformed(b"\xc0\x0c\x00\x01\x00\x01")  # the name points at itself
    assert any("compression pointer loop" in error for error in packet.errors)
    two = b"\x01a\xc0\x0e" + b"\x01b\xc0\x0c" + b"\x00\x01\x00\x01"  # a -> b -> a
    packet, _ = _malformed(two)
    assert any("loop" in error for error in packet.errors)


def test_bad_names_and_short_sections_are_malformed() -> None:
    cases = {
        b"\xc0\xff\x00\x01\x00\x01": "points past the end",
        b"\x41a\x00\x00\x01\x00\x01": "label type 0x40",
        b"\x09abc": "runs past the end",
        EXAMPLE_Q[:-2]: "question at",
        (b"\x3f" + b"x" * 63) * 5 + b"\x00\x00\x01\x00\x01": "longer than 255",
    }
    for sections, error in cases.items():
        packet, _ = _malformed(sections)
        assert any(error in e for e in packet.errors), (sections, packet.errors)
    # One question promised, two counted: the views keep the one that is there.
    packet, layer = _malformed(EXAMPLE_Q, (2, 0, 0, 0))
    assert layer["dns.qry.name"] == ["example.com"]
    # A record whose data runs past the end
    packet, layer = _malformed(EXAMPLE_Q + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x01\x00\x09"
                               + b"\x01", (1, 1, 0, 0))
    assert "dns.resp.name" not in layer.fields


def test_a_long_pointer_chain_costs_little() -> None:
    # 2000 questions, each naming the end of a chain of 2186 pointers (each to the one before,
    # the first to a root label): 4.4 million steps to walk in full, stopped by the work
    # budget (16 steps a byte).
    count = 2000
    chain_at = 12 + 6 * count
    links = (0x3FFF - chain_at - 1) // 2 + 1
    chain = b"\x00" + b"".join(
        struct.pack("!H", 0xC000 | (chain_at + 2 * j - 1 if j else chain_at))
        for j in range(links))
    last = chain_at + 1 + 2 * (links - 1)
    questions = (struct.pack("!H", 0xC000 | last) + b"\x00\x01\x00\x01") * count
    start = time.perf_counter()
    packet = decode(_udp(_message(0x0100, (count, 0, 0, 0), questions + chain)))
    assert time.perf_counter() - start < 5
    assert packet.layers[-1].status == MALFORMED
    assert any("work budget" in error for error in packet.errors), packet.errors


@given(body=st.binary(max_size=120), counts=st.tuples(*[st.integers(0, 5)] * 4),
       flags=st.integers(0, 0xFFFF))
@example(body=b"\xc0\x0c\x00\x01\x00\x01", counts=(1, 0, 0, 0), flags=0x8180)
@example(body=b"\x01a\xc0\x0e\x01b\xc0\x0c", counts=(2, 3, 0, 0), flags=0)
def test_any_bytes_after_udp_53_decode(body: bytes, counts: tuple[int, int, int, int],
                                       flags: int) -> None:
    for wire in (_udp(_message(flags, counts, body)), _udp(body), _udp(body, 5353, 5353)):
        packet = decode_checked(wire, 1)
        if len(packet.layers) < 4:  # an empty datagram: no message
            assert not body
            continue
        layer = packet.layers[3]
        assert layer.proto in ("dns", "mdns")
        dns.info(layer)  # the one-line text never raises either
        if layer.status == OK:
            assert not packet.errors


@given(body=st.binary(max_size=80))
def test_any_bytes_after_tcp_53_decode(body: bytes) -> None:
    tcp = Layer("tcp", {"tcp.srcport": 40000, "tcp.dstport": 53, "tcp.seq_raw": 1,
                        "tcp.ack_raw": 1, "tcp.hdr_len": None, "tcp.flags": 0x018,
                        "tcp.window_size_value": 512, "tcp.checksum": None,
                        "tcp.urgent_pointer": 0})
    wire = encode([build.eth("02:00:00:00:00:02", "02:00:00:00:00:01"),
                   build.ipv4("192.0.2.1", "192.0.2.2"), tcp, build.payload(body)])
    decode_checked(wire, 1)
