"""The bulk path gives the rich decoder's values, packet by packet.

Rich side: ``vxlankit.capture`` reader + ``vxlankit.codec.decode`` + ``row_from_packet``.
Bulk side: the bulk record walk + the vectorised decoder (+ its fallback).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.bulk._support import (
    assert_same_rows,
    bulk_rows,
    overlay_frames,
    rich_rows,
    synth_captures,
    write_pcap,
)
from tests.codec.realcaptures import (
    real_capture,
    real_capture_names,
    require_real_dir,
)
from tests.strategies import frames as codec_frames
from vxlankit import build, encode
from vxlankit.bulk import fast
from vxlankit.bulk.columns import COLUMN_NAMES, rows_to_dicts
from vxlankit.bulk.fast import decode_batch
from vxlankit.bulk.frames import batch_from_frames
from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions
from vxlankit.layers.registry import FIELDS
from vxlankit.packet import Layer, Packet

REAL = real_capture_names()


def test_real_captures_are_there() -> None:
    # Skips on a machine without the shared folder; under CI its absence fails the run.
    folder = require_real_dir()
    assert REAL, f"no captures in {folder}"


@pytest.mark.parametrize("name", REAL)
def test_real_capture(name: str) -> None:
    path = real_capture(name)
    got, _ = bulk_rows([path])
    assert_same_rows(got, rich_rows(path), name)


@pytest.mark.parametrize("name", ["tcpdump_vxlan.pcap", "tcpdump_vxlan_port_8472.pcap",
                                  "suricata-verify_vxlan-decoder-03_vxlan.pcap",
                                  "pcapplusplus_Vxlan1.pcap"])
def test_real_vxlan_captures_take_the_fast_path(name: str) -> None:
    """Plain VXLAN traffic must not need the fallback (else the equality above proves little
    about the vectorised decoder)."""
    got, fallback = bulk_rows([real_capture(name)])
    assert got and fallback == 0


def test_real_capture_with_bad_checksums() -> None:
    # ndpi_vxlan.pcap: most outer UDP checksums are wrong (offloaded): the fast path reports
    # them as the rich decoder does (status 0, the error with the right value) itself.
    path = real_capture("ndpi_vxlan.pcap")
    got, fallback = bulk_rows([path])
    bad = [r for r in got if r["vxlankit.errors"]]
    assert len(bad) >= 70 and fallback == 0
    assert all("bad checksum" in r["vxlankit.errors"] for r in bad)
    assert {r["udp.checksum.status"] for r in bad} == {0}
    assert_same_rows(got, rich_rows(path), path.name)


def test_synthesized_captures(tmp_path: Path) -> None:
    for path in synth_captures(tmp_path):
        got, fallback = bulk_rows([path])
        assert_same_rows(got, rich_rows(path), path.name)
        assert fallback == 0, path.name


def test_options_are_honoured(tmp_path: Path) -> None:
    """Port tables and checksum verification change what the rich decoder reports; the bulk
    path follows the same options."""
    path = real_capture("tcpdump_vxlan_port_8472.pcap")
    no_8472 = DEFAULT_OPTIONS.with_vxlan_ports([4789])
    unverified = DecodeOptions(verify_checksums=False)
    shallow = DecodeOptions(max_depth=0)
    for options in (no_8472, unverified, shallow):
        got, _ = bulk_rows([path], options)
        assert_same_rows(got, rich_rows(path, options), repr(options)[:60])
    got, _ = bulk_rows([path], no_8472)
    assert all(r["vxlan.vni"] is None for r in got)
    got, _ = bulk_rows([path], unverified)
    assert {r["ip.checksum.status"] for r in got} == {2}


def _varied_frames() -> list[bytes]:
    """Hand-made frames for the branches of the walk: each kind the fast path handles, and
    each kind it must hand to the fallback."""
    def overlay(*inner: Layer, dport: int = 4789, outer_tags: int = 0,
                tunnel: Layer | None = None) -> bytes:
        layers = [build.eth(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")]
        layers += [build.vlan(id=7 + i) for i in range(outer_tags)]
        layers += [build.ipv4(src="192.0.2.1", dst="192.0.2.2"), build.udp(40000, dport,
                                                                          checksum=0),
                   tunnel or build.vxlan(vni=5001)]
        return encode(layers + list(inner))

    inner_eth = build.eth(src="0a:00:00:00:00:01", dst="0a:00:00:00:00:02")
    echo = [build.ipv4(src="10.0.0.1", dst="10.0.0.2"), build.icmp_echo(ident=9, seq=1),
            build.payload(b"x" * 56)]
    frames = [
        overlay(inner_eth, *echo),
        overlay(inner_eth, *echo, dport=8472),
        overlay(inner_eth, *echo, outer_tags=1),
        overlay(inner_eth, *echo, outer_tags=2),
        overlay(inner_eth, *echo, tunnel=build.vxlan_gbp(vni=3000001, group=100,
                                                         dont_learn=True)),
        overlay(inner_eth, build.arp(sender_mac="0a:00:00:00:00:01", sender_ip="10.0.0.1",
                                     target_ip="10.0.0.2"), build.padding(bytes(18))),
        overlay(inner_eth, build.ipv4(src="10.0.0.1", dst="10.0.0.2"),
                build.udp(5300, 5301), build.payload(b"q" * 30)),
        overlay(inner_eth, build.ipv4(src="10.0.0.1", dst="10.0.0.2", options=b"\x01" * 4),
                build.icmp_echo(ident=1, seq=2)),  # inner IP options: fallback
        overlay(inner_eth, build.ipv4(src="10.0.0.1", dst="10.0.0.2", mf=True),
                build.icmp_echo(ident=1, seq=3), build.payload(b"y" * 20)),  # first fragment
        overlay(inner_eth, build.ipv4(src="10.0.0.1", dst="10.0.0.2", frag_offset=100, proto=1),
                build.payload(b"z" * 24)),  # later fragment: data
        overlay(inner_eth, *echo, dport=4790),  # VXLAN-GPE port: fallback
        overlay(inner_eth, build.ipv4(src="10.0.0.1", dst="10.0.0.2"),
                build.udp(1, 4789, checksum=0), build.vxlan(vni=2),
                build.eth(), *echo),  # nested VXLAN: fallback (deeper than the prefix)
        encode([build.eth(), *echo]),  # no tunnel at all
        encode([build.eth(), build.arp(sender_ip="10.9.9.9", target_ip="10.9.9.8")]),
        encode([build.eth(), build.ipv6("2001:db8::1", "2001:db8::2", nxt=59)]),
    ]
    full = overlay(inner_eth, *echo)
    frames += [full[:n] for n in (10, 20, 40, 45, 60, 70, 90, 100)]  # snaplen cuts
    broken = bytearray(full)
    broken[24] ^= 0xFF  # outer IP checksum
    frames.append(bytes(broken))
    return frames


def test_varied_frames(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "varied.pcap", _varied_frames())
    got, fallback = bulk_rows([path])
    assert_same_rows(got, rich_rows(path), "varied.pcap")
    assert 0 < fallback < len(got)
    stacks = {r["frame.protocols"] for r in got}
    assert "eth:ethertype:vlan:ethertype:vlan:ethertype:ip:udp:vxlan:eth:ethertype:ip:icmp:data" \
        in stacks
    assert {r["vxlankit.status"] for r in got} == {"ok", "truncated"}


def test_snaplen_truncation_takes_the_fast_path(tmp_path: Path) -> None:
    """A capture cut at a snaplen past the inner headers is truncated without errors; the
    vectorised decoder handles it (header-only captures are common)."""
    full = encode([build.eth(), build.ipv4(src="192.0.2.1", dst="192.0.2.2"),
                   build.udp(1, 4789, checksum=0), build.vxlan(vni=1), build.eth(),
                   build.ipv4(src="10.0.0.1", dst="10.0.0.2"), build.icmp_echo(1, 1),
                   build.payload(bytes(200))])
    frames = [full[:96]] * 5
    path = write_pcap(tmp_path / "snap.pcap", frames, snaplen=96,
                      orig_lens=[len(full)] * 5)
    got, fallback = bulk_rows([path])
    assert_same_rows(got, rich_rows(path), "snap.pcap")
    assert fallback == 0
    assert {r["vxlankit.status"] for r in got} == {"truncated"}
    assert {r["icmp.checksum.status"] for r in got} == {2}


def _compare_batch(frames: list[bytes], linktype: int = 1) -> int:
    batch = batch_from_frames(frames, linktype)
    fast, fallback = decode_batch(batch)
    rich, _ = decode_batch(batch, rich_only=True)
    got, want = rows_to_dicts(fast.to_arrow()), rows_to_dicts(rich.to_arrow())
    assert_same_rows(got, want, "batch")
    return fallback


@st.composite
def mutated(draw: st.DrawFn, frames: st.SearchStrategy[bytes]) -> bytes:
    """A frame, sometimes cut short or with one byte changed (so some must fall back)."""
    data = draw(frames)
    mode = draw(st.integers(0, 3))
    if mode == 0:
        return data[:draw(st.integers(0, len(data)))]
    if mode == 1 and data:
        at = draw(st.integers(0, len(data) - 1))
        flipped = bytearray(data)
        flipped[at] ^= draw(st.integers(1, 255))
        return bytes(flipped)
    return data


def _encoded(frame: object) -> bytes:
    return encode(frame.layers)  # type: ignore[attr-defined]


any_frames = codec_frames(link="eth").map(_encoded)


@settings(max_examples=60)
@given(st.lists(mutated(st.one_of(overlay_frames(), any_frames)), min_size=1, max_size=16))
def test_hypothesis_bulk_equals_rich(frames: list[bytes]) -> None:
    _compare_batch(frames)


@settings(max_examples=40)
@given(st.lists(overlay_frames(), min_size=1, max_size=16))
def test_hypothesis_overlay_frames_never_fall_back(frames: list[bytes]) -> None:
    assert _compare_batch(frames) == 0


# The link header in front of the IP (or ARP) packet, per link type the frames strategy
# draws besides Ethernet: NULL 4, raw IP (IPv4, IPv6) 0, Linux SLL 16, SLL2 20 bytes.
_LINK_HEADER = {0: 4, 101: 0, 228: 0, 229: 0, 113: 16, 276: 20}
_ON_ETH = re.compile(r"offset (\d+)")


def _on_ethernet(data: bytes, linktype: int) -> bytes:
    """The same IP (or ARP) packet as ``data`` carries, on an Ethernet link instead."""
    body = data[_LINK_HEADER[linktype]:]
    protocol = {113: data[14:16], 276: data[0:2]}.get(linktype)  # SLL's, SLL2's EtherType
    if protocol is not None:
        etype = int.from_bytes(protocol, "big")
    else:  # raw IP and NULL: the version the IP header starts with
        etype = 0x86DD if body[:1] and body[0] >> 4 == 6 else 0x0800
    return encode([build.eth(src="02:00:00:00:00:01", dst="02:00:00:00:00:02",
                             type=etype)]) + body


def _as_other_link(row: dict[str, Any], linktype: int) -> dict[str, Any]:
    """A row of the Ethernet-framed packet as the original link type's row would read: no
    outer Ethernet header (the inner one is the first), the link's own protocols in front,
    offsets in error messages moved by the header size difference."""
    shift = 14 - _LINK_HEADER[linktype]
    out = dict(row)
    for name in ("eth.dst", "eth.src", "eth.type"):
        out[name] = row[name + "#2"]
        out[name + "#2"] = None  # a third Ethernet header has no column
    for name in ("frame.len", "frame.cap_len"):
        out[name] = row[name] - shift
    link = {0: "null", 113: "sll:ethertype", 276: "sll:ethertype"}.get(linktype)
    rest = row["frame.protocols"].removeprefix("eth:ethertype:")
    out["frame.protocols"] = f"{link}:{rest}" if link else rest
    if row["vxlankit.errors"] is not None:
        out["vxlankit.errors"] = _ON_ETH.sub(lambda m: f"offset {int(m[1]) - shift}",
                                             row["vxlankit.errors"])
    return out


def _check_other_link(frames: list[tuple[bytes, int]]) -> int:
    """Frames of other link types all take the fallback, and their rows equal those of the
    same packets framed in Ethernet, which the vectorised decoder reads (where it can): the
    reference is not the rich decoder's raw-IP/SLL/NULL path the fallback runs.  Returns how
    many of the Ethernet-framed packets the vectorised decoder answered."""
    answered = 0
    for data, linktype in frames:
        got, fallback = decode_batch(batch_from_frames([data], linktype))
        assert fallback == 1, (linktype, data.hex())
        on_eth, eth_fallback = decode_batch(batch_from_frames([_on_ethernet(data, linktype)]))
        [row] = rows_to_dicts(got.to_arrow())
        [eth_row] = rows_to_dicts(on_eth.to_arrow())
        want = _as_other_link(eth_row, linktype)
        if row["eth.dst#2"] is not None:  # the third Ethernet header of the framed packet
            want["eth.dst#2"], want["eth.src#2"], want["eth.type#2"] = (
                row["eth.dst#2"], row["eth.src#2"], row["eth.type#2"])
        assert_same_rows([row], [want], f"link type {linktype}")
        answered += 1 - eth_fallback
    return answered


@given(st.lists(codec_frames().filter(lambda f: f.link != "eth")
                .map(lambda f: (encode(f.layers), f.linktype)), min_size=1, max_size=6))
def test_hypothesis_other_link_types(frames: list[tuple[bytes, int]]) -> None:
    """Other link types always take the fallback, and still give the values the vectorised
    decoder gives for the same packet on Ethernet."""
    _check_other_link(frames)


def _other_link_frames() -> list[tuple[bytes, int]]:
    """An overlay ping on each other link type (all of them in the vectorised decoder's
    reach once framed in Ethernet)."""
    inner = [build.eth(src="0a:00:00:00:00:01", dst="0a:00:00:00:00:02"),
             build.ipv4(src="10.0.0.1", dst="10.0.0.2"), build.icmp_echo(ident=9, seq=1),
             build.payload(b"x" * 56)]
    packet = encode([build.ipv4(src="192.0.2.1", dst="192.0.2.2"), build.udp(40000, 4789),
                     build.vxlan(vni=5001), *inner])
    sll = bytes.fromhex("0000 0001 0006 020000000001 0000 0800")
    sll2 = bytes.fromhex("0800 0000 00000002 0001 00 06 020000000001 0000")
    return [(packet, 101), (packet, 228), (b"\x02\x00\x00\x00" + packet, 0),
            (sll + packet, 113), (sll2 + packet, 276)]


def test_other_link_types_are_compared_with_the_vectorised_decoder() -> None:
    assert _check_other_link(_other_link_frames()) == 5


def test_other_link_check_catches_a_broken_rich_decoder(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """The deliberate break, kept: the rich decoder, which the fallback runs, gets the inner
    IPv4 source wrong on every link type but Ethernet; the check above catches it."""
    real = fast.decode

    def broken(data: bytes, linktype: int = 1, options: DecodeOptions = DEFAULT_OPTIONS
               ) -> Packet:
        packet = real(data, linktype, options)
        ip = packet.layer("ip", 2)
        if linktype != 1 and ip is not None:
            ip.fields["ip.src"] = "10.9.9.9"
        return packet

    monkeypatch.setattr(fast, "decode", broken)
    for frame in _other_link_frames():
        with pytest.raises(pytest.fail.Exception, match="ip.src#2"):
            _check_other_link([frame])


def test_columns_are_named_after_wireshark_fields() -> None:
    assert len(set(COLUMN_NAMES)) == len(COLUMN_NAMES)
    for name in COLUMN_NAMES:
        base = name.partition("#")[0]
        assert base in FIELDS or base.split(".")[0] in {"frame", "vxlankit"}, name


def test_checksums_of_many_equal_lengths(tmp_path: Path) -> None:
    """Payload checksums of lengths shared by many packets are summed as one block per length
    (odd and even lengths, UDP and ICMP); a bad one among them is reported as the rich
    decoder reports it."""
    frames = []
    for i in range(200):
        inner = [build.eth(), build.ipv4(src="10.0.0.1", dst="10.0.0.2")]
        if i % 2:
            inner += [build.icmp_echo(ident=i, seq=i), build.payload(bytes([i]) * (33 + i % 3))]
        else:
            inner += [build.udp(5000 + i, 9000), build.payload(bytes([i]) * (20 + i % 3))]
        frame = bytearray(encode([build.eth(), build.ipv4(src="192.0.2.1", dst="192.0.2.2"),
                                  build.udp(40000, 4789), build.vxlan(vni=9), *inner]))
        if i % 37 == 0:
            frame[-1] ^= 0x5A  # corrupts the inner and the outer UDP or ICMP checksum
        frames.append(bytes(frame))
    path = write_pcap(tmp_path / "sums.pcap", frames)
    got, fallback = bulk_rows([path])
    assert_same_rows(got, rich_rows(path), "sums.pcap")
    assert fallback == 0
    assert len([r for r in got if r["vxlankit.errors"]]) == len(range(0, 200, 37))
    assert {r["udp.checksum.status"] for r in got} == {0, 1}
