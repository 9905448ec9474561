"""TCP, the registry's proof layer: golden vectors both ways, the struct path against the
Construct schema (hypothesis), checksums with the pseudo-header, options, stream analysis, and
tshark's one-line text."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from vxlankit.checksum import internet_checksum, pseudo_header_sum
from vxlankit.codec import decode, encode
from vxlankit.codec.analysis import Analysis
from vxlankit.layers import tcp
from vxlankit.layers._common import schema_fields
from vxlankit.layers.registry import LAYERS, TABLES
from vxlankit.packet import CHECKSUM_BAD, CHECKSUM_GOOD, OK, Layer

# 37180 -> 22 [SYN] Seq=0 Win=64240 MSS=1460 SACK_PERM TSval=3007444187 TSecr=0 WS=128
# (packet 1 of suricata-verify's vxlan-decoder-03 capture, inner TCP header).
SYN_HEX = ("913c0016e7d8ab4500000000a002faf0e5ee0000"
           "020405b40402080ab341f4db0000000001030307")
SYN_FIELDS: dict[str, Any] = {
    "tcp.srcport": 37180, "tcp.dstport": 22, "tcp.seq_raw": 3889736517, "tcp.ack_raw": 0,
    "tcp.hdr_len": 40, "tcp.flags": 0x002, "tcp.window_size_value": 64240,
    "tcp.checksum": 0xE5EE, "tcp.urgent_pointer": 0,
    "tcp.options": bytes.fromhex("020405b40402080ab341f4db0000000001030307"),
}
VIEWS = {"tcp.flags.syn": 1, "tcp.flags.ack": 0, "tcp.flags.res": 0, "tcp.flags.ae": 0,
         "tcp.flags.str": "\u00b7" * 10 + "S\u00b7", "tcp.options.mss_val": 1460,
         "tcp.options.wscale.shift": 7, "tcp.options.wscale.multiplier": 128,
         "tcp.options.timestamp.tsval": 3007444187, "tcp.options.timestamp.tsecr": 0}

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


def test_golden_fast_decode() -> None:
    fields = tcp.decode(bytes.fromhex(SYN_HEX), 0)
    assert {k: fields[k] for k in SYN_FIELDS} == SYN_FIELDS
    assert {k: fields[k] for k in VIEWS} == VIEWS
    assert "tcp.options.sack.count" not in fields


def test_golden_schema_parse() -> None:
    assert schema_fields(tcp.SCHEMA.parse(bytes.fromhex(SYN_HEX))) == SYN_FIELDS


def test_golden_fast_encode() -> None:
    assert tcp.encode(SYN_FIELDS).hex() == SYN_HEX


def test_golden_schema_build() -> None:
    assert tcp.SCHEMA.build(SYN_FIELDS).hex() == SYN_HEX


_OPTIONS = st.integers(0, 10).flatmap(lambda words: st.binary(min_size=4 * words,
                                                               max_size=4 * words))


@given(sport=u16, dport=u16, seq=u32, ack=u32, flags=st.integers(0, 0xFFF), window=u16,
       checksum=u16, urgent=u16, options=_OPTIONS)
def test_fields_encode_like_schema(sport: int, dport: int, seq: int, ack: int, flags: int,
                                   window: int, checksum: int, urgent: int,
                                   options: bytes) -> None:
    fields = {"tcp.srcport": sport, "tcp.dstport": dport, "tcp.seq_raw": seq,
              "tcp.ack_raw": ack, "tcp.hdr_len": 20 + len(options), "tcp.flags": flags,
              "tcp.window_size_value": window, "tcp.checksum": checksum,
              "tcp.urgent_pointer": urgent, "tcp.options": options}
    wire = tcp.encode(fields)
    assert wire == tcp.SCHEMA.build(fields)
    back = tcp.decode(wire, 0)
    assert {k: back.get(k, b"") for k in fields} == fields
    assert schema_fields(tcp.SCHEMA.parse(wire)) == fields


@given(st.binary(min_size=20, max_size=80))
def test_bytes_decode_like_schema(data: bytes) -> None:
    fields = tcp.decode(data, 0)
    hdr_len = fields["tcp.hdr_len"]
    if hdr_len <= len(data):
        parsed = schema_fields(tcp.SCHEMA.parse(data))
        if hdr_len <= 20:
            parsed.pop("tcp.options")  # the schema reads none; the fast path shows none
        assert {k: fields[k] for k in parsed} == parsed


@given(st.binary(max_size=120), st.integers(0, 119))
def test_any_bytes_decode_without_raising(data: bytes, cut: int) -> None:
    frame = bytes.fromhex("020000000001020000000002080045000028000100004006000"
                          "0c0a80001c0a80002") + data
    for variant in (frame, frame[:14 + 20 + cut]):
        packet = decode(variant)
        assert encode(packet, fix_lengths=False, compute_checksums=False) == variant


def _frame(tcp_fields: dict[str, Any], payload: bytes = b"") -> bytes:
    layers = [Layer("eth", {"eth.dst": "02:00:00:00:00:01", "eth.src": "02:00:00:00:00:02",
                            "eth.type": None}),
              Layer("ip", {"ip.src": "192.0.2.1", "ip.dst": "192.0.2.2", "ip.proto": None}),
              Layer("tcp", dict(tcp_fields))]
    if payload:
        layers.append(Layer("data", {"data.data": payload}))
    return encode(layers)


def test_encode_computes_the_pseudo_header_checksum() -> None:
    wire = _frame({**SYN_FIELDS, "tcp.checksum": None}, b"hello")
    segment = bytearray(wire[34:])
    given_checksum = int.from_bytes(segment[16:18], "big")
    segment[16:18] = b"\0\0"
    assert given_checksum == internet_checksum(
        segment, pseudo_header_sum(bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]), 6,
                                   len(segment)))
    assert wire[23] == 6  # ip.proto filled in from the registry's inverse table
    packet = decode(wire)
    layer = packet.layer("tcp")
    assert layer is not None and layer.status == OK
    assert layer["tcp.checksum.status"] == CHECKSUM_GOOD
    assert layer["tcp.len"] == 5
    assert packet.protocols == "eth:ip:tcp:data"


def test_bad_checksum_is_reported_with_the_right_value() -> None:
    wire = bytearray(_frame({**SYN_FIELDS, "tcp.checksum": None}))
    right = int.from_bytes(wire[50:52], "big")
    wire[50:52] = ((right + 1) & 0xFFFF).to_bytes(2, "big")
    packet = decode(bytes(wire))
    layer = packet.layer("tcp")
    assert layer is not None
    assert layer["tcp.checksum.status"] == CHECKSUM_BAD
    assert layer["tcp.checksum_calculated"] == right
    assert any(e.startswith("tcp: bad checksum at offset 50") for e in packet.errors)


def test_header_length_past_the_data_is_malformed() -> None:
    wire = bytearray(_frame({**SYN_FIELDS, "tcp.options": b"", "tcp.hdr_len": 20}))
    wire[46] = 0xF0  # data offset 15 words: 60 bytes, only 20 there (and 6 of padding)
    packet = decode(bytes(wire))
    layer = packet.layer("tcp")
    assert layer is not None and layer.status == "malformed"
    assert encode(packet, fix_lengths=False, compute_checksums=False) == bytes(wire)


def test_streams_number_and_relative_sequence_numbers() -> None:
    client = {**SYN_FIELDS, "tcp.checksum": None}
    server = {**SYN_FIELDS, "tcp.srcport": 22, "tcp.dstport": 37180, "tcp.seq_raw": 1000,
              "tcp.ack_raw": 3889736518, "tcp.flags": 0x012, "tcp.checksum": None}
    ack = {**SYN_FIELDS, "tcp.seq_raw": 3889736518, "tcp.ack_raw": 1001, "tcp.flags": 0x010,
           "tcp.options": b"", "tcp.window_size_value": 502, "tcp.checksum": None}

    def swapped(frame: bytes) -> bytes:  # server -> client: swap the IP addresses
        return frame[:26] + frame[30:34] + frame[26:30] + frame[34:]

    analyze = Analysis()
    packets = [analyze(decode(f)) for f in (_frame(client), swapped(_frame(server)),
                                              _frame(ack))]
    layers = [p.layer("tcp") for p in packets]
    assert all(layer is not None for layer in layers)
    got = [(lay["tcp.stream"], lay["tcp.seq"], lay.get("tcp.ack"), lay["tcp.window_size"])
           for lay in layers if lay is not None]
    # Window scaling agreed in both SYNs (shift 7): the third segment's window is scaled.
    # The SYN's tcp.ack is its number as sent (0), as tshark shows it without the ACK flag.
    assert got == [(0, 0, 0, 64240), (0, 0, 1, 64240), (0, 1, 1, 502 * 128)]


def test_one_line_like_tshark() -> None:
    layer = Layer("tcp", tcp.decode(bytes.fromhex(SYN_HEX), 0))
    layer.fields["tcp.seq"] = 0
    layer.fields["tcp.len"] = 0
    assert tcp.info(layer) == ("37180 \u2192 22 [SYN] Seq=0 Win=64240 Len=0 MSS=1460 SACK_PERM"
                               " TSval=3007444187 TSecr=0 WS=128")


def test_tcp_is_one_registry_line() -> None:
    assert [spec.name for spec in LAYERS].count("tcp") == 1
    assert TABLES["ip.proto"][6] == "tcp"
    assert "tcp.port" in TABLES  # the table TCP's payload is looked up in (empty by default)
