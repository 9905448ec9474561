"""Readers compiled from the specs for one shape equal the decoder, field by field, on every
packet of every capture and on generated frames; and every field a spec places (``span``,
``at_span``) is where the decoder reads it."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import given, settings

from tests import strategies as strat
from tests.codec.realcaptures import iter_real_frames, require_real_dir
from vxlankit import build, encode
from vxlankit.codec import decode
from vxlankit.layers.registry import LAYERS
from vxlankit.layers.shapes import ShapeError, shape_reader
from vxlankit.packet import Layer, Packet
from vxlankit.synth.ping import PingOptions, synthesize_ping

_BY_PROTO: dict[str, list[Any]] = {}
for _spec in LAYERS:
    _BY_PROTO.setdefault(_spec.proto, []).append(_spec)


def _spec_of(layer: Any) -> Any:
    """The spec that made ``layer``: the one whose claiming field it has, else the plain one."""
    specs = _BY_PROTO.get(layer.proto, [])
    for spec in specs:
        if spec.claims is not None and spec.claims in layer.fields:
            return spec
    return next((spec for spec in specs if spec.claims is None), None)


def _shape(packet: Packet, limit: int = 99) -> tuple[tuple[str, ...], list[tuple[str, Any]]]:
    """The longest run of whole fixed-size headers from the start of ``packet``, and the
    (name#N, decoded value) of every field they place."""
    shape: list[str] = []
    expected: list[tuple[str, Any]] = []
    seen: dict[str, int] = {}
    at = 0
    for layer in packet.layers:
        spec = _spec_of(layer)
        if (spec is None or layer.raw is not None or layer.offset != at
                or layer.length != spec.header_len or layer.status != "ok"
                or len(shape) == limit):
            break
        shape.append(spec.name)
        at += spec.header_len
        for field in spec.fields:
            value = layer.fields.get(field.name)
            if field.span is None or not field.at_span or value is None \
                    or type(value) is list:
                continue
            count = seen[field.name] = seen.get(field.name, 0) + 1
            expected.append((f"{field.name}#{count}", int(value) if type(value) is bool
                             else value))
    return tuple(shape), expected


@functools.cache
def _reader(shape: tuple[str, ...], names: tuple[str, ...]) -> Any:
    return shape_reader(shape, names)


def _check(data: bytes, linktype: int = 1) -> int:
    """The reader of the packet's shape reads what the decoder decoded; the fields checked."""
    if linktype != 1:
        return 0
    packet = decode(data, linktype)
    shape, expected = _shape(packet)
    while True:
        if len(shape) < 2:
            return 0
        try:
            reader = _reader(shape, tuple(name for name, _ in expected))
            break
        except ShapeError:
            # a layer hands on by a rule a shape cannot check (VXLAN-GPE's next protocol
            # has no fixed place): the shape up to it
            shape, expected = _shape(packet, len(shape) - 1)
    got = reader.read(data)
    assert got is not None, (shape, data.hex())
    assert list(got) == [value for _, value in expected], (shape, data.hex())
    return len(expected)


def test_real_captures() -> None:
    require_real_dir()  # skips (fails under CI) without ../shared
    checked = sum(_check(data, linktype) for _, _, linktype, data in iter_real_frames())
    assert checked > 5000


def test_synthesized_exchanges() -> None:
    for options in (PingOptions(count=2), PingOptions(count=2, underlay="ipv6"),
                    PingOptions(count=2, arp="flood")):
        assert sum(_check(p.data) for p in synthesize_ping(options).packets) > 100


@settings(max_examples=300)
@given(strat.frames())
def test_generated_frames(frame: Any) -> None:
    _check(encode(frame.layers), frame.linktype)


def test_the_underlay_shape_reads_what_fast_outer_frame_needs() -> None:
    names = ("eth.dst", "eth.src", "ip.dsfield", "ip.len", "ip.flags.df", "ip.frag_offset",
             "ip.ttl", "ip.src", "ip.dst", "udp.srcport", "udp.dstport")
    reader = shape_reader(("eth", "ip", "udp"), names)
    wire = encode([build.eth("02:00:00:00:00:0b", "02:00:00:00:00:0a"),
                   build.ipv4("172.31.1.10", "192.168.1.10", ttl=63, df=True, dscp=10),
                   build.udp(40000, 4789), build.vxlan(4096), build.eth(),
                   build.ipv4("10.0.0.3", "10.0.0.4"), build.icmp_echo()])
    assert reader.read(wire) == ("02:00:00:00:00:0b", "02:00:00:00:00:0a", 40, len(wire) - 14,
                                 1, 0, 63, "172.31.1.10", "192.168.1.10", 40000, 4789)
    # not that shape: IPv4 options, TCP, an 802.1Q tag, too short
    assert reader.read(wire[:41]) is None
    with_options = encode([build.eth(), build.ipv4("1.1.1.1", "2.2.2.2", options=b"\x01" * 4),
                           build.udp(1, 2)])
    assert reader.read(with_options) is None
    tagged = encode([build.eth(), build.vlan(5), build.ipv4("1.1.1.1", "2.2.2.2"),
                     build.udp(1, 2)])
    assert reader.read(tagged) is None
    assert shape_reader(("eth", "vlan", "ip", "udp"), ["vlan.id", "udp.dstport"]).read(
        tagged) == (5, 2)


def test_scaled_lengths_and_size_placed_fields() -> None:
    """A length in words reads as the decoder gives it, in bytes (``Field.scale``); ARP's
    addresses read where the fast paths' shape puts them (``LayerSpec.places``)."""
    wire = encode([build.eth(), build.ipv4("1.1.1.1", "2.2.2.2"),
                   Layer("tcp", {"tcp.srcport": 1, "tcp.dstport": 2})])
    assert shape_reader(("eth", "ip", "tcp"), ["ip.hdr_len", "tcp.hdr_len"]).read(wire) == (
        20, 20)
    request = encode([build.eth(), build.arp(sender_mac="02:00:00:00:00:03",
                                             sender_ip="10.0.0.3", target_ip="10.0.0.4")])
    got = shape_reader(("eth", "arp"), ["arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4",
                                        "arp.dst.proto_ipv4"]).read(request)
    packet = decode(request)
    fields = packet.layers[1].fields
    assert got == (1, "02:00:00:00:00:03", "10.0.0.3", "10.0.0.4")
    assert fields["arp.src.hw_mac"] == got[1]


def test_what_cannot_be_read_is_refused() -> None:
    for shape, names, reason in (
            (("eth", "ip"), ["ip.checksum_calculated"], "not read where it sits"),
            (("eth", "ip"), ["ip.checksum.status"], "not read where it sits"),
            (("eth", "ip"), ["udp.srcport"], "0 layers with udp.srcport"),
            (("eth", "nosuch"), ["eth.src"], "no layer named"),
            (("eth", "tcp"), ["eth.src"], "never hands on to tcp"),
            ((), ["eth.src"], "empty shape")):
        with pytest.raises(ShapeError, match=reason):
            shape_reader(shape, names)


def test_plan_reads_byte_ranges_as_numbers() -> None:
    """``ranges`` (a consumer's cache keys) are read as big-endian numbers in the same unpack as
    the fields, after them; more than 8 bytes, or outside the shape, is refused."""
    from vxlankit.layers.shapes import plan_shape

    wire = encode([build.eth(), build.ipv4("1.2.3.4", "5.6.7.8"), build.udp(1, 2)])
    plan = plan_shape(("ip",), ["ip.proto"], checked=False, ranges=[(12, 20), (0, 2)])
    env = dict(plan.env)
    exec(f"def read(buf, off):\n    {plan.unpack}\n    return ({', '.join(plan.values)},)",
         env)
    assert env["read"](wire, 14) == (17, int.from_bytes(wire[26:34], "big"),
                                     int.from_bytes(wire[14:16], "big"))
    for bad in ((12, 21), (0, 9)):
        with pytest.raises(ShapeError):
            plan_shape(("ip",), [], ranges=[bad])


def test_where_and_tests_compile_to_whole_word_compares() -> None:
    """``where`` makes the reader decline bytes whose fields lack those values; each of
    ``tests`` is returned as a truth value.  Fields that share a word are compared in one
    test of it, as a hand-written reader would (IPv4's version and IHL: ``== 0x45``)."""
    reader = shape_reader(("eth", "ip"), ["ip.proto"], checked=False,
                          where={"ip.version": 4, "ip.hdr_len": 20},
                          tests=({"ip.flags.df": 1, "ip.frag_offset": 0},
                                 {"ip.flags.mf": 1},
                                 {"ip.flags.mf": 0, "ip.frag_offset": 0}))
    assert "== 0x45" in reader.source and "not v" in reader.source
    df = encode([build.eth(), build.ipv4("1.1.1.1", "2.2.2.2", df=True), build.udp(1, 2)])
    assert reader.read(df) == (17, True, False, True)
    later = encode([build.eth(), build.ipv4("1.1.1.1", "2.2.2.2", frag_offset=8),
                    build.udp(1, 2)])
    assert reader.read(later) == (17, False, False, False)
    options = encode([build.eth(), build.ipv4("1.1.1.1", "2.2.2.2", options=b"\x01" * 4),
                      build.udp(1, 2)])
    assert reader.read(options) is None
    # a value no bits can give declines everything
    never = shape_reader(("eth", "ip"), ["ip.proto"], checked=False, where={"ip.hdr_len": 21})
    assert never.read(df) is None
