"""Whole-frame round trips over every stack the strategies make: VXLAN (plain, GBP, reserved
bits, nested), VXLAN-GPE (Ethernet and IPv4 inside), ICMP, UDP, ARP with padding, 802.3, with
0-3 VLAN tags (an 802.1ad S-tag outermost), on Ethernet, raw IPv4, SLL, SLL2 and NULL links."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import KINDS, LINKS, Frame, copy_layers, frames, set_fields
from vxlankit import decode, encode
from vxlankit.layers.registry import LAYERS
from vxlankit.layers.spec import EXTENSION
from vxlankit.packet import (
    CHECKSUM_GOOD,
    CHECKSUM_NOT_PRESENT,
    CHECKSUM_UNVERIFIED,
    OK,
    Layer,
    Packet,
)

_ADDED = re.compile(r"(\.status|_calculated)$")
_V6_EXTENSIONS = frozenset(spec.proto for spec in LAYERS if spec.role == EXTENSION)


def strip_added(packet: Packet) -> list[Layer]:
    """The decoded layers without what decode adds (checksum statuses, calculated values)."""
    return [Layer(lay.proto, {k: v for k, v in lay.fields.items() if not _ADDED.search(k)},
                  raw=lay.raw) for lay in packet.layers]


def check_fields_survive(frame: Frame) -> None:
    """decode(encode(x, False, False)) == x on everything the strategy set, and the decoded
    packet writes back to the same bytes."""
    wire = encode(copy_layers(frame.layers), fix_lengths=False, compute_checksums=False)
    packet = decode(wire, frame.linktype)
    assert [lay.proto for lay in packet.layers] == [lay.proto for lay in frame.layers], (
        packet, packet.errors)
    for made, got in zip(frame.layers, packet.layers, strict=True):
        wanted = set_fields(made)
        assert {k: got.fields.get(k) for k in wanted} == wanted, (made.proto, got)
        assert got.raw is None
    assert encode(packet, fix_lengths=False, compute_checksums=False) == wire
    # With every length and checksum explicit (taken from the decode), nothing is filled in:
    # the same bytes come out, and they decode to the same packet.
    explicit = strip_added(packet)
    assert encode(explicit, fix_lengths=False, compute_checksums=False) == wire
    assert decode(encode(explicit, fix_lengths=False, compute_checksums=False),
                  frame.linktype) == packet


def check_fixups(frame: Frame) -> None:
    """encode with fix-ups gives a frame whose every checksum is good (or absent) and whose
    lengths agree, and the fix-ups are idempotent."""
    wire = encode(copy_layers(frame.layers))
    packet = decode(wire, frame.linktype)
    assert packet.errors == [], packet
    assert all(lay.status == OK for lay in packet.layers), packet
    for lay in packet.layers:
        for name, value in lay.fields.items():
            if name == "gre.checksum.status" and not lay["gre.flags.checksum"]:
                # The checksum word of a routed (R) header without C: not verified, as tshark
                assert value == CHECKSUM_UNVERIFIED, packet
            elif name.endswith(".status"):
                assert value in (CHECKSUM_GOOD, CHECKSUM_NOT_PRESENT), (name, packet)
    layers = packet.layers
    for i, lay in enumerate(layers):
        if lay.proto == "ipv6":
            # The payload length counts what follows the 40-byte header: the extension
            # headers, then the upper layer whose own length ends where it ends.
            end = lay.offset + 40 + lay["ipv6.plen"]
            assert end <= len(wire)
            upper = next(x for x in layers[i + 1:] if x.proto not in _V6_EXTENSIONS)
            if upper.proto == "udp":
                assert upper.offset + upper["udp.length"] == end, packet
            continue
        if lay.proto != "ip":
            continue
        end = lay.offset + lay["ip.len"]
        assert lay["ip.hdr_len"] == lay.length
        assert end <= len(wire)
        nxt = layers[i + 1]
        if nxt.proto == "udp":
            assert nxt["udp.length"] == lay["ip.len"] - lay["ip.hdr_len"]
        if nxt.proto == "icmp":
            inside = [x for x in layers[i + 1:] if x.proto in ("icmp", "data")]
            assert inside[-1].offset + inside[-1].length == end
    assert encode(packet) == wire


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_round_trip_by_kind(kind: str, data: st.DataObject) -> None:
    frame = data.draw(frames(kind=kind), label="frame")
    check_fields_survive(frame)
    check_fixups(frame)


@pytest.mark.parametrize("link", LINKS)
@given(data=st.data())
def test_round_trip_by_link(link: str, data: st.DataObject) -> None:
    frame = data.draw(frames(link=link), label="frame")
    check_fields_survive(frame)
    check_fixups(frame)
