"""The frames adapters: the from-bytes VXLAN hop reader used by replay equals the full path
(decode, then vxlan_received) wherever it answers, and the encoders write model outputs."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.codec.realcaptures import iter_real_frames
from tests.strategies import Frame as GeneratedFrame
from tests.strategies import frames
from vxlankit import decode, encode
from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions
from vxlankit.frames import fast_path_ports, fast_vxlan_received, vxlan_received
from vxlankit.synth.ping import PingOptions, synthesize_ping

PORTS = fast_path_ports(DEFAULT_OPTIONS)


def _full(data: bytes, linktype: int) -> tuple[str, list[object]]:
    packet = decode(data, linktype)
    first = packet.layers[0] if packet.layers else None
    mac = first.fields.get("eth.dst", "") if first is not None and first.proto == "eth" else ""
    return mac, [hop for _, hop in vxlan_received(packet)]


def _check(data: bytes, linktype: int) -> bool:
    """True when the fast path answered (and then agreed)."""
    assert PORTS is not None
    fast = fast_vxlan_received(data, linktype, *PORTS)
    if fast is None:
        return False
    mac, hops = _full(data, linktype)
    assert fast[1] == hops, data.hex()
    if hops:
        assert fast[0] == mac
    return True


def test_real_captures_agree() -> None:
    answered = sum(_check(data, linktype) for _, _, linktype, data in iter_real_frames())
    assert answered > 100  # most real VXLAN frames take the fast path


@pytest.mark.parametrize("arp", ["proxy", "flood"])
def test_synthesized_captures_agree(arp: str) -> None:
    result = synthesize_ping(PingOptions(arp=arp, count=3,
                                         subnets=("10.0.0.0/24",) if arp == "flood"
                                         else ("10.1.1.0/24", "11.1.1.0/24")))
    assert all(_check(p.data, 1) for p in result.packets)


@settings(max_examples=300)
@given(frames())
def test_generated_frames_agree(frame: GeneratedFrame) -> None:
    data = encode(frame.layers)
    _check(data, frame.linktype)


@settings(max_examples=200)
@given(st.data())
def test_damaged_frames_agree(data: st.DataObject) -> None:
    frame = data.draw(frames(kind=data.draw(st.sampled_from(["vxlan-icmp", "vxlan-arp", "gbp"])),
                             link="eth"))
    raw = bytearray(encode(frame.layers))
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    for _ in range(rng.randrange(1, 4)):
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    cut = data.draw(st.integers(0, len(raw)))
    _check(bytes(raw[:cut]), 1)
    _check(bytes(raw), 1)


def test_other_options_take_the_full_path() -> None:
    assert fast_path_ports(DecodeOptions(fcs_len=4)) is None
    assert fast_path_ports(DecodeOptions(ethertypes={0x0800: "ip"})) is None
    ports = fast_path_ports(DEFAULT_OPTIONS.with_vxlan_ports([9999]))
    assert ports is not None and ports[0] == frozenset({9999})
