"""Any bytes decode (problems become statuses and ``Packet.errors``) and write back unchanged;
every prefix of a valid frame is reported as truncated and still round-trips."""

from __future__ import annotations

import sys

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.strategies import KINDS, LINKTYPE_OF, copy_layers, frames
from vxlankit import DecodeError, DecodeOptions, build, decode, encode
from vxlankit.errors import TruncatedError
from vxlankit.packet import (
    CHECKSUM_BAD,
    CHECKSUM_STATUS_NAMES,
    MALFORMED,
    OK,
    TRUNCATED,
    Packet,
)

LINKTYPES = sorted({*LINKTYPE_OF.values(), 147, 65535})  # two that are not supported
OPTIONS = [
    DecodeOptions(),
    DecodeOptions(fcs_len=4),
    DecodeOptions(verify_checksums=False),
    DecodeOptions(max_depth=0),
    DecodeOptions().with_vxlan_ports([4789, 8472, 53, 0], gpe_ports=(4790, 123)),
]


def decode_checked(data: bytes, linktype: int, options: DecodeOptions = OPTIONS[0]) -> Packet:
    """decode, which never raises (README, docs/architecture.md "Decoding never raises": any
    exception fails the test, it is not a skip), then the invariants every decoded packet
    keeps."""
    packet = decode(data, linktype, options)
    assert packet.data == data
    assert packet.linktype == linktype
    position = 0
    for index, layer in enumerate(packet.layers):
        assert layer.status in (OK, TRUNCATED, MALFORMED)
        assert layer.offset == position, packet
        # Every layer holds bytes, except a header cut off before its first byte: that one
        # is truncated, and no header follows it (only the bytes past a length field that
        # ended the payload before it, and the FCS the options split off); and
        # ERSPAN type I, which has no header (an OK layer without fields, as tshark shows it).
        if layer.length <= 0 and layer.proto == "erspan" and layer.status == OK:
            assert layer.length == 0 and not layer.fields and layer.raw is None, packet
        elif layer.length <= 0:
            assert layer.length == 0, packet
            assert layer.status == TRUNCATED and layer.raw == b"", packet
            assert all(later.proto in ("trailer", "fcs")
                       for later in packet.layers[index + 1:]), packet
        if layer.raw is not None:
            assert layer.status == TRUNCATED
            assert layer.raw == data[layer.offset:layer.offset + layer.length]
        for name, value in layer.fields.items():
            if name.endswith("checksum.status"):
                assert value in CHECKSUM_STATUS_NAMES
                if value == CHECKSUM_BAD:
                    assert name.replace(".status", "_calculated") in layer.fields
        position += layer.length
    assert position == len(data), packet
    if any(layer.status == MALFORMED or layer.raw is not None for layer in packet.layers):
        assert packet.errors, packet
    if any(layer.status != OK for layer in packet.layers):
        assert not packet.ok
    assert encode(packet, fix_lengths=False, compute_checksums=False) == data
    return packet


# Long inputs every run, whatever hypothesis draws (it favours short ones).
LONG = bytes(range(200))


@pytest.mark.parametrize("linktype", LINKTYPES)
@given(data=st.binary(max_size=200))
@example(data=LONG)
def test_random_bytes(linktype: int, data: bytes) -> None:
    decode_checked(data, linktype)


@given(data=st.binary(max_size=120), linktype=st.sampled_from(LINKTYPES),
       options=st.sampled_from(OPTIONS))
@example(data=LONG[:120], linktype=1, options=OPTIONS[1])
def test_random_bytes_any_options(data: bytes, linktype: int, options: DecodeOptions) -> None:
    decode_checked(data, linktype, options)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, int]:
    """A valid frame with some bytes overwritten, inserted, deleted, or cut off."""
    frame = draw(frames())
    wire = bytearray(encode(copy_layers(frame.layers), compute_checksums=draw(st.booleans())))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "insert", "delete", "cut", "append"]))
        at = draw(st.integers(0, max(0, len(wire) - 1)))
        if op == "set" and wire:
            wire[at] = draw(st.integers(0, 255))
        elif op == "insert":
            wire[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete":
            del wire[at:at + draw(st.integers(1, 4))]
        elif op == "cut":
            del wire[at:]
        else:
            wire += draw(st.binary(min_size=1, max_size=8))
    return bytes(wire), frame.linktype


@given(case=mutated(), options=st.sampled_from(OPTIONS))
def test_mutated_frames(case: tuple[bytes, int], options: DecodeOptions) -> None:
    wire, linktype = case
    decode_checked(wire, linktype, options)


def _complete_length(packet: Packet) -> int:
    """How many bytes the frame's length fields (or fixed headers) account for: a shorter
    prefix must be reported as truncated, a longer one only loses trailer bytes."""
    for layer in packet.layers:
        if layer.proto == "ip":
            return int(layer.offset + layer["ip.len"])
        if layer.proto == "ipv6":
            return int(layer.offset + 40 + layer["ipv6.plen"])
        if layer.proto == "arp":
            return layer.offset + layer.length
    data = [lay for lay in packet.layers if lay.proto == "data"]
    return data[0].offset if data else len(packet.data)


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_every_prefix(kind: str, data: st.DataObject) -> None:
    frame = data.draw(frames(kind=kind), label="frame")
    wire = encode(copy_layers(frame.layers))
    full = decode_checked(wire, frame.linktype)
    assert full.ok, full
    need = _complete_length(full)
    for size in range(len(wire) + 1):
        prefix = decode_checked(wire[:size], frame.linktype)
        truncated = [lay for lay in prefix.layers if lay.status == TRUNCATED]
        if size < need:
            assert truncated, (size, prefix)
            assert not prefix.ok
        else:
            assert not truncated, (size, prefix)
        # A cut payload is never reported as a bad checksum: it cannot be verified.
        for layer in prefix.layers:
            for name, value in layer.fields.items():
                if name.endswith("checksum.status"):
                    assert value != CHECKSUM_BAD, (size, name, prefix)


def test_a_raising_decoder_fails_the_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deliberate break, kept: a decode that raises (even a DecodeError, which this module
    once turned into a skip) makes ``decode_checked`` fail, never skip."""
    real = decode

    def broken(data: bytes, linktype: int = 1, options: DecodeOptions = OPTIONS[0]) -> Packet:
        if len(data) > 20:
            raise TruncatedError("deliberately broken")
        return real(data, linktype, options)

    monkeypatch.setattr(sys.modules[__name__], "decode", broken)
    wire = encode([build.eth(), build.ipv4(src="10.0.0.1", dst="10.0.0.2"),
                   build.icmp_echo(ident=1, seq=1)])
    decode_checked(wire[:20], 1)
    with pytest.raises(DecodeError):
        try:
            decode_checked(wire, 1)
        except pytest.skip.Exception as exc:
            pytest.fail(f"a raising decoder was skipped, not failed: {exc}")


@given(data=st.data())
def test_any_bytes_like_input(data: st.DataObject) -> None:
    frame = data.draw(frames(), label="frame")
    wire = encode(copy_layers(frame.layers))
    expected = decode(wire, frame.linktype)
    for view in (bytearray(wire), memoryview(wire)):
        packet = decode(view, frame.linktype)
        assert packet == expected
        assert type(packet.data) is bytes and packet.data == wire
        assert packet.errors == expected.errors


def test_a_header_cut_by_a_length_field_then_a_trailer() -> None:
    """Raw IPv4 whose total length ends at its options, proto UDP, with bytes after it: the
    UDP header is cut before its first byte, and the bytes after the datagram are a trailer
    (found by the mutated-frames property)."""
    data = bytes.fromhex("460000180000000000112585000000000000000094040000") + bytes(30)
    packet = decode_checked(data, 228)
    assert [(layer.proto, layer.offset, layer.length) for layer in packet.layers] == [
        ("ip", 0, 24), ("udp", 24, 0), ("trailer", 24, 30)]
