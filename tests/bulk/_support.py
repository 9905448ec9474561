"""Helpers for the bulk tests: reference rows from the rich path, captures to run them on.

The reference side reads captures with ``vxlankit.capture``'s reader and decodes each record
with ``vxlankit.codec.decode``: nothing of the bulk path (its record walk, batches or
vectorised decoder) is involved, so a match checks all of it at once.
"""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from tests.support import require_module
from vxlankit import build, encode
from vxlankit.bulk.columns import row_from_packet, rows_to_dicts
from vxlankit.bulk.fast import rich_options
from vxlankit.bulk.writers import decoded_batches
from vxlankit.capture.reader import open_capture
from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions, decode
from vxlankit.layers import geneve as geneve_layer
from vxlankit.packet import Layer
from vxlankit.synth.output import write_result
from vxlankit.synth.ping import PingOptions, synthesize_ping


def rich_rows(path: str | os.PathLike[str], options: DecodeOptions = DEFAULT_OPTIONS
              ) -> list[dict[str, Any]]:
    rows = []
    with open_capture(path) as reader:
        for record in reader:
            iface = record.interface
            packet = decode(record.data, iface.linktype, rich_options(options, iface.fcslen))
            row = {
                "frame.number": record.number,
                "frame.time_epoch": record.ts_ns,
                "frame.len": record.orig_len,
                "frame.cap_len": len(record.data),
                "frame.interface_id": iface.id,
                "frame.interface_name": iface.name,
            }
            row.update(row_from_packet(packet))
            rows.append(row)
    return rows


def bulk_rows(paths: list[str | os.PathLike[str]],
              options: DecodeOptions = DEFAULT_OPTIONS) -> tuple[list[dict[str, Any]], int]:
    """Rows of every packet through the bulk path, and how many took the fallback."""
    rows: list[dict[str, Any]] = []
    fallback = 0
    for batch, fell in decoded_batches(paths, options):
        rows.extend(rows_to_dicts(batch))
        fallback += fell
    return rows, fallback


def assert_same_rows(got: list[dict[str, Any]], want: list[dict[str, Any]], where: str) -> None:
    assert len(got) == len(want), f"{where}: {len(got)} rows, expected {len(want)}"
    for a, b in zip(got, want, strict=True):
        if a != b:
            diff = {k: (a.get(k), b.get(k)) for k in {*a, *b} if a.get(k) != b.get(k)}
            pytest.fail(f"{where}, packet {b['frame.number']}: bulk != rich: {diff}")


def dask_or_skip() -> Any:
    """``distributed``, or skip (fail under CI, where it must be installed)."""
    return require_module("distributed")


# ------------------------------------------------------------------------------ captures


def synth_captures(folder: Path) -> list[Path]:
    """The seed ping in both ARP modes: every tap as pcapng, the underlay tap as pcap."""
    out = []
    for arp in ("proxy", "flood"):
        result = synthesize_ping(PingOptions(count=3, arp=arp, seed=7))
        every = folder / f"ping-{arp}.pcapng"
        write_result(result, str(every))
        underlay = folder / f"ping-{arp}-underlay.pcap"
        write_result(result, str(underlay), tap=result.taps[1])
        out += [every, underlay]
    return out


def write_pcap(path: Path, frames: list[bytes], *, linktype: int = 1, snaplen: int = 65535,
               orig_lens: list[int] | None = None) -> Path:
    """A microsecond pcap, one record per frame, a millisecond apart."""
    parts = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)]
    for i, frame in enumerate(frames):
        orig = orig_lens[i] if orig_lens is not None else len(frame)
        parts.append(struct.pack("<IIII", 1_700_000_000 + i // 1000, (i % 1000) * 1000,
                                 len(frame), orig))
        parts.append(frame)
    path.write_bytes(b"".join(parts))
    return path


# ------------------------------------------------------------------ overlay frame strategy

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
# Ports no layer claims (a random 53 or 5353 makes the payload DNS, 4790 VXLAN-GPE): the
# payloads these frames carry are plain data, whichever port is the lower.
_PLAIN_UDP = u16.filter(lambda p: p not in DEFAULT_OPTIONS.udp_ports)
_PLAIN_TCP = u16.filter(lambda p: p not in DEFAULT_OPTIONS.other_tables["tcp.port"])
u32 = st.integers(0, 0xFFFFFFFF)
macs = st.binary(min_size=6, max_size=6).map(lambda b: b.hex(":"))
ipv4s = st.binary(min_size=4, max_size=4).map(lambda b: ".".join(str(x) for x in b))
ipv6s = st.binary(min_size=16, max_size=16).map(lambda b: socket.inet_ntop(socket.AF_INET6, b))
VXLAN_PORTS = (4789, 8472, 4790)


@st.composite
def inner_payload(draw: st.DrawFn) -> list[Layer]:
    """What an inner Ethernet frame carries: ICMP (echo or not), ARP, UDP, TCP over IPv4, or
    UDP or an ICMPv6 echo over IPv6."""
    kind = draw(st.sampled_from(["echo", "icmp", "arp", "udp", "tcp", "ipv6"]))
    if kind == "arp":
        return [build.arp(opcode=draw(st.sampled_from([1, 2])), sender_mac=draw(macs),
                          sender_ip=draw(ipv4s), target_mac=draw(macs), target_ip=draw(ipv4s))]
    if kind == "ipv6":
        data = draw(st.binary(max_size=40))
        inner6 = build.ipv6(src=draw(ipv6s), dst=draw(ipv6s), hlim=draw(u8))
        tail = [build.payload(data)] if data else []
        if draw(st.booleans()):
            return [inner6, build.udp(draw(_PLAIN_UDP), draw(_PLAIN_UDP), checksum=None), *tail]
        echo = Layer("icmpv6", {"icmpv6.type": draw(st.sampled_from([128, 129])),
                                "icmpv6.code": 0, "icmpv6.checksum": None,
                                "icmpv6.echo.identifier": draw(u16),
                                "icmpv6.echo.sequence_number": draw(u16)})
        return [inner6, echo, *tail]
    ip = build.ipv4(src=draw(ipv4s), dst=draw(ipv4s), ttl=draw(u8), id=draw(u16),
                    df=draw(st.booleans()))
    data = draw(st.binary(max_size=70))
    tail = [build.payload(data)] if data else []
    if kind == "echo":
        return [ip, build.icmp_echo(ident=draw(u16), seq=draw(u16), reply=draw(st.booleans())),
                *tail]
    if kind == "icmp":
        return [ip, build.icmp(draw(st.sampled_from([3, 5, 11, 13])), code=draw(u8),
                               rest=draw(st.binary(min_size=4, max_size=4))), *tail]
    if kind == "udp":
        dport = draw(_PLAIN_UDP)
        checksum = draw(st.sampled_from([None, 0]))
        return [ip, build.udp(draw(_PLAIN_UDP), dport, checksum=checksum), *tail]
    words = draw(st.integers(0, 10))
    segment = Layer("tcp", {
        "tcp.srcport": draw(_PLAIN_TCP), "tcp.dstport": draw(_PLAIN_TCP), "tcp.seq_raw": draw(u32),
        "tcp.ack_raw": draw(u32), "tcp.hdr_len": None, "tcp.flags": draw(st.integers(0, 0xFFF)),
        "tcp.window_size_value": draw(u16), "tcp.checksum": None,
        "tcp.urgent_pointer": draw(u16),
        "tcp.options": draw(st.binary(min_size=4 * words, max_size=4 * words))})
    return [ip, segment, *tail]


@st.composite
def geneve_headers(draw: st.DrawFn) -> Layer:
    """A Geneve header (version 0) with up to three options of up to 8 bytes of data; the
    protocol type and lengths are left for encode to fill in."""
    count = draw(st.integers(0, 3))
    fields: dict[str, Any] = {
        "geneve.version": 0, "geneve.option.length": None, "geneve.flags": draw(u8),
        "geneve.proto_type": None, "geneve.vni": draw(st.integers(0, 0xFFFFFF)),
        "geneve.reserved": draw(st.sampled_from([0, 0xFF]))}
    if count:
        fields["geneve.option.class"] = [draw(u16) for _ in range(count)]
        fields["geneve.option.type"] = [draw(u8) for _ in range(count)]
        fields["geneve.option.flags"] = [draw(st.integers(0, 7)) for _ in range(count)]
        fields["geneve.option.unknown.data"] = [
            draw(st.sampled_from([b"", b"\x00\x01\x02\x03", bytes(range(8))]))
            for _ in range(count)]
    geneve_layer.derive(fields)
    return Layer("geneve", fields)


@st.composite
def overlay_frames(draw: st.DrawFn, tunnels: tuple[str, ...] = ("vxlan", "gbp", "geneve")
                   ) -> bytes:
    """A well-formed overlay frame of the kinds the vectorised decoder is meant for: outer and
    inner Ethernet (with up to one 802.1Q tag each), IPv4 without options or IPv6 without
    extension headers, UDP to 4789 or
    8472 with or without a checksum and VXLAN (RFC 7348 or GBP flags), or UDP to 6081 and
    Geneve (with a few options), and an inner payload from ``inner_payload``; padding and
    trailers as real NICs leave them."""
    payload = draw(inner_payload())
    inner: list[Layer] = [build.eth(dst=draw(macs), src=draw(macs))]
    if draw(st.booleans()):
        inner.append(build.vlan(id=draw(st.integers(0, 4095)), priority=draw(st.integers(0, 7))))
    inner += payload
    if draw(st.booleans()):
        size = len(encode(inner))
        if size < 60:
            inner.append(build.padding(bytes(60 - size)))
    kind = draw(st.sampled_from(tunnels))
    dport = draw(st.sampled_from([4789, 8472]))
    if kind == "gbp":
        tunnel = build.vxlan_gbp(vni=draw(st.integers(0, 0xFFFFFF)), group=draw(u16),
                                 dont_learn=draw(st.booleans()),
                                 policy_applied=draw(st.booleans()))
    elif kind == "geneve":
        tunnel = draw(geneve_headers())
        dport = geneve_layer.PORT
    else:
        tunnel = build.vxlan(vni=draw(st.integers(0, 0xFFFFFF)))
    outer: list[Layer] = [build.eth(dst=draw(macs), src=draw(macs))]
    if draw(st.integers(0, 3)) == 0:
        outer.append(build.vlan(id=draw(st.integers(0, 4095))))
    if draw(st.integers(0, 3)) == 0:
        network = build.ipv6(src=draw(ipv6s), dst=draw(ipv6s), hlim=draw(u8),
                             flow=draw(st.integers(0, 0xFFFFF)))
    else:
        network = build.ipv4(src=draw(ipv4s), dst=draw(ipv4s), ttl=draw(u8), id=draw(u16),
                             df=draw(st.booleans()))
    outer += [
        network,
        # A VTEP's source port is ephemeral (Linux: 32768-60999): above the tunnel's port, so
        # Wireshark's lower-port rule picks the tunnel (a source port of 4790 would be GPE).
        build.udp(draw(st.integers(32768, 0xFFFF)), dport,
                  checksum=draw(st.sampled_from([None, 0]))),
        tunnel,
    ]
    frame = encode(outer + inner)
    if draw(st.integers(0, 3)) == 0:
        frame += draw(st.binary(min_size=1, max_size=6))  # bytes past the IP packet
    return frame
