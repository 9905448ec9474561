"""One line per packet: the encapsulation at a glance.

A VXLAN packet reads outer VTEPs, VNI, then the inner frame, one ``|`` per tunnel hop::

        1 0.000000 192.168.203.1 -> 192.168.202.1 VXLAN 148 vni 100 | 00:16:3e:37:f6:04 -> \
00:30:88:01:00:02 192.168.203.3 -> 192.168.203.5 ICMP echo request id=1292 seq=1

Anything else gets tshark's columns: number, time, source, destination, protocol, length, info::

        3 0.000505 10.10.10.2 -> 10.10.10.1 ICMP 98 echo request id=8339 seq=1

Markers in brackets: after a VNI ``[GBP 100 D A]``, ``[GPE NSH]``, ``[I=0]``,
``[reserved bits]``; at the end ``[truncated]``, ``[malformed]``, ``[bad ip checksum]`` (udp,
icmp), ``[bad fcs]``, ``[error]`` (another decode problem: see ``-V``).

Two implementations give the same text.  ``packet_summary`` works on a decoded
:class:`~vxlankit.packet.Packet` and is the reference.  ``fast_summary`` reads the bytes of the
common shapes (Ethernet, up to two VLAN tags, IPv4 without options, UDP, VXLAN, ARP, ICMP, UDP,
TCP) directly, verifying the same checksums, and returns ``None`` for anything else, which the
caller then decodes in full; the test-suite proves the two equal on every real capture and on
mutated frames.  The fast path is what keeps ``vxlankit decode`` ahead of tshark.

The time column's formats are in ``timeformat``, the colours in ``palette``; their public names
are re-exported from here.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from vxlankit.addr import pair_str
from vxlankit.checksum import verify as _checksum_ok
from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions, decode
from vxlankit.codec.analysis import Analysis
from vxlankit.codec.decode import dissect_frame, dissect_transport
from vxlankit.codec.options import fast_path_applies
from vxlankit.layers import headers
from vxlankit.layers.ipv4 import PROTOCOL_NAMES
from vxlankit.layers.registry import LAYERS, UDP_MESSAGES, spec_for
from vxlankit.layers.shapes import shape_reader
from vxlankit.layers.spec import NETWORK, TRANSPORT, TUNNEL, Walk
from vxlankit.layers.udp import port_layer
from vxlankit.layers.vxlan import NEXT_PROTOCOL_NAMES, reserved_bits
from vxlankit.packet import CHECKSUM_BAD, MALFORMED, OK, TRUNCATED, Layer, Packet
from vxlankit.present.palette import ANSI, PLAIN, Palette
from vxlankit.present.run import DecodedRecord, FastPathTally, RecordLike, options_for
from vxlankit.present.timeformat import TIME_FORMATS, Clock, epoch_str, format_seconds, time_digits

__all__ = [
    "ANSI",
    "PLAIN",
    "TIME_FORMATS",
    "Palette",
    "Summarizer",
    "epoch_str",
    "fast_summary",
    "format_seconds",
    "packet_summary",
    "time_digits",
]

ARROW = " -> "
_NS = 1_000_000_000


# --------------------------------------------------------------------------------------------
# Pieces shared by both implementations (so that they cannot drift apart in wording)

_ICMP_UNREACH = {0: "net", 1: "host", 2: "protocol", 3: "port", 4: "fragmentation needed",
                 9: "net prohibited", 10: "host prohibited", 13: "administratively prohibited"}
_ETHERTYPE_NAMES = {0x86DD: "IPv6", 0x8847: "MPLS", 0x8848: "MPLS", 0x88CC: "LLDP",
                    0x8809: "LACP", 0x88E5: "MACsec", 0x8906: "FCoE", 0x894F: "NSH",
                    0x0800: "IPv4", 0x0806: "ARP"}
_TCP_FLAGS = ((0x01, "FIN"), (0x02, "SYN"), (0x04, "RST"), (0x08, "PSH"), (0x10, "ACK"),
              (0x20, "URG"), (0x40, "ECE"), (0x80, "CWR"))


def _icmp_info(itype: int | None, code: int | None, ident: int | None, seq: int | None) -> str:
    if itype == 8 or itype == 0:
        kind = "echo request" if itype == 8 else "echo reply"
        if ident is None:
            return kind
        return f"{kind} id={ident} seq={seq}"
    if itype == 3:
        reason = _ICMP_UNREACH.get(code if code is not None else -1)
        return f"dest unreachable ({reason})" if reason else f"dest unreachable code={code}"
    if itype == 11:
        return "time exceeded" if code == 0 else f"time exceeded code={code}"
    if itype is None:
        return ""
    return f"type={itype} code={code}"


def _arp_info(op: int | None, sha: str | None, spa: str | None, tpa: str | None) -> str:
    if op == 1 and spa is not None and tpa is not None:
        return f"who-has {tpa} tell {spa}"
    if op == 2 and spa is not None and sha is not None:
        return f"{spa} is-at {sha}"
    return "" if op is None else f"opcode {op}"


def _tcp_info(seg: bytes, payload_len: int | None) -> str:
    """Ports and flags from the first bytes of a TCP header (vxlankit does not dissect TCP)."""
    if len(seg) < 14:
        return ""
    sport, dport = struct.unpack_from("!HH", seg)
    bits = seg[13]
    names = [name for bit, name in _TCP_FLAGS if bits & bit]
    text = f"{sport}{ARROW}{dport} [{', '.join(names)}]" if names else f"{sport}{ARROW}{dport}"
    if payload_len is not None:
        text += f" len={max(0, payload_len - (seg[12] >> 4) * 4)}"
    return text


def _gbp_mark(gbp: int, flag_d: int, flag_a: int) -> str:
    return "[GBP " + str(gbp) + (" D" if flag_d else "") + (" A" if flag_a else "") + "]"


def _hop(src: str, dst: str, vni: Any, marks: str, length: str, pal: Palette) -> str:
    """One VXLAN hop: ``src -> dst VXLAN [len] vni N [marks]``."""
    return _tunnel_hop(src, dst, "VXLAN", f"vni {vni}", marks, length, pal)


def _tunnel_hop(src: str, dst: str, kind: str, ident: str, marks: str, length: str,
                pal: Palette) -> str:
    """One tunnel hop: ``src -> dst KIND [len] [ident] [marks]`` (``ident``: "vni 100",
    "key 7", ...)."""
    text = _tunnel_text(kind, ident, marks, length, pal)
    if pal.reset:
        return f"{pal.addr}{src}{pal.reset}{ARROW}{pal.addr}{dst}{pal.reset} {text}"
    return f"{src}{ARROW}{dst} {text}"


def _tunnel_text(kind: str, ident: str, marks: str, length: str, pal: Palette) -> str:
    """A tunnel header's part of a hop; a tunnel straight inside another (ERSPAN in GRE)
    adds its own to the same hop."""
    if pal.reset:
        mark = f" {pal.mark}{marks}{pal.reset}" if marks else ""
        named = f" {pal.vni}{ident}{pal.reset}" if ident else ""
        return f"{pal.proto}{kind}{pal.reset}{length}{named}{mark}"
    return f"{kind}{length}{' ' + ident if ident else ''}{' ' + marks if marks else ''}"


def _plain(src: str, dst: str, proto: str, length: int, info: str, pal: Palette) -> str:
    tail = f" {info}" if info else ""
    if pal.reset:
        return (f"{pal.addr}{src}{pal.reset}{ARROW}{pal.addr}{dst}{pal.reset} "
                f"{pal.proto}{proto}{pal.reset} {length}{tail}")
    return f"{src}{ARROW}{dst} {proto} {length}{tail}"


def _inner(macs: tuple[str, str] | None, nets: tuple[str, str] | None, proto: str, info: str,
           pal: Palette) -> str:
    parts = []
    if macs is not None:
        parts.append(f"{macs[0]}{ARROW}{macs[1]}")
    if nets is not None:
        if pal.reset:
            parts.append(f"{pal.addr}{nets[0]}{pal.reset}{ARROW}{pal.addr}{nets[1]}{pal.reset}")
        else:
            parts.append(f"{nets[0]}{ARROW}{nets[1]}")
    parts.append(f"{pal.proto}{proto}{pal.reset}" if pal.reset else proto)
    if info:
        parts.append(info)
    return " ".join(parts)


def _end(marks: list[str], pal: Palette) -> str:
    if not marks:
        return ""
    text = " ".join(f"[{m}]" for m in marks)
    return f" {pal.bad}{text}{pal.reset}" if pal.reset else " " + text


# --------------------------------------------------------------------------------------------
# The reference: from a decoded Packet


def _hop_marks(fields: dict[str, Any], notes: Sequence[str]) -> str:
    marks = []
    if "vxlan.next_proto" in fields:
        nxt = fields["vxlan.next_proto"]
        marks.append(f"[GPE {NEXT_PROTOCOL_NAMES.get(nxt, nxt)}]")
        if not fields.get("vxlan.i_bit", 1):
            marks.append("[I=0]")
    else:
        if fields.get("vxlan.flag_g"):
            marks.append(_gbp_mark(fields["vxlan.gbp"], fields["vxlan.flag_d"],
                                   fields["vxlan.flag_a"]))
        if "vxlan.flag_i" in fields and not fields["vxlan.flag_i"]:
            marks.append("[I=0]")
    if "reserved bits set" in notes:
        marks.append("[reserved bits]")
    return " ".join(marks)


def _end_marks(layers: Sequence[Layer], errors: Sequence[str],
               marks: list[str] | None = None) -> list[str]:
    """The end markers of ``layers`` (after ``marks`` already found, not repeated)."""
    marks = [] if marks is None else marks
    for layer in layers:
        status = layer.status
        if status == TRUNCATED:
            if "truncated" not in marks:
                marks.append("truncated")
        elif status == MALFORMED and "malformed" not in marks:
            marks.append("malformed")
        fields = layer.fields
        proto = layer.proto
        if proto == "fcs":
            if fields.get("eth.fcs.status") == CHECKSUM_BAD:
                marks.append("bad fcs")
        elif fields.get(proto + ".checksum.status") == CHECKSUM_BAD:
            mark = f"bad {proto} checksum"
            if mark not in marks:
                marks.append(mark)
    if errors and not marks:
        marks.append("error")
    return marks


def _application(layers: Sequence[Layer], i: int) -> tuple[str, str] | None:
    """(protocol column, info) of the application layer at ``i`` above UDP or TCP (DNS), as
    tshark names the packet after its highest protocol; None when there is none."""
    if i >= len(layers):
        return None
    layer = layers[i]
    spec = spec_for(layer)
    if spec is None or spec.info is None or spec.role == TUNNEL or layer.status != OK:
        return None
    return spec.short, spec.info(layer)


def _describe(layers: Sequence[Layer], start: int, inner: bool, frame_len: int,
              pal: Palette) -> str:
    """The frame from ``layers[start]`` on: addresses, protocol and info."""
    macs: tuple[str, str] | None = None
    nets: tuple[str, str] | None = None
    proto = ""
    info = ""
    etype: int | None = None
    n = len(layers)
    i = start
    while i < n:  # link layers
        layer = layers[i]
        p = layer.proto
        f = layer.fields
        if p == "eth":
            if macs is None and "eth.src" in f:
                macs = (f["eth.src"], f["eth.dst"])
            etype = f.get("eth.type", etype)
        elif p == "vlan" or p == "ieee8021ad":
            etype = f.get(p + ".etype", etype)
        elif p == "sll":
            etype = f.get("sll.etype", etype)
        elif p != "null":
            break
        i += 1
    top = layers[i] if i < n else None
    if top is None or top.proto in ("trailer", "fcs"):
        proto = layers[i - 1].proto if i > start else "?"
    elif (net := spec_for(top)) is not None and net.role == NETWORK:
        layer = top
        f = layer.fields
        p = top.proto
        if p + ".src" in f:
            nets = (f[p + ".src"], f[p + ".dst"])
        j = i + 1
        while j < n and layers[j].proto.startswith(p + "."):  # IPv6 extension headers
            j += 1
        nxt = layers[j] if j < n else None
        nproto = nxt.proto if nxt is not None else ""
        before = spec_for(layers[j - 1])
        ipproto = (layers[j - 1].fields.get(before.next_field)
                   if before is not None and before.next_field else None)
        if nxt is not None and nproto == "icmp":
            g = nxt.fields
            proto = "ICMP"
            info = _icmp_info(g.get("icmp.type"), g.get("icmp.code"), g.get("icmp.ident"),
                              g.get("icmp.seq"))
        elif nxt is not None and nproto == "udp" and (app := _application(layers, j + 1)):
            proto, info = app
        elif nxt is not None and nproto == "udp":
            g = nxt.fields
            proto = "UDP"
            if "udp.srcport" in g:
                info = f"{g['udp.srcport']}{ARROW}{g['udp.dstport']} len={g['udp.length'] - 8}"
        elif nxt is not None and nproto == "tcp" and (app := _application(layers, j + 1)):
            proto, info = app
        elif nxt is not None and (spec := spec_for(nxt)) is not None and spec.info is not None:
            proto = spec.short
            info = spec.info(nxt)
        elif ipproto is not None and f.get("ip.frag_offset"):
            proto = PROTOCOL_NAMES.get(ipproto, "IPv4")
            info = f"fragment offset={f['ip.frag_offset'] * 8}"
        elif ipproto == 6:
            proto = "TCP"
            if nxt is not None and nproto == "data":
                plen = (f["ip.len"] - f["ip.hdr_len"] if p == "ip" and layer.status == "ok"
                        else None)
                info = _tcp_info(nxt.fields.get("data.data", b""), plen)
        elif ipproto is not None:
            proto = PROTOCOL_NAMES.get(ipproto, net.short)
            if proto == net.short:
                info = f"proto={ipproto}"
        else:
            proto = net.short
    elif top.proto == "arp":
        f = top.fields
        proto = "ARP"
        info = _arp_info(f.get("arp.opcode"), f.get("arp.src.hw_mac"),
                         f.get("arp.src.proto_ipv4"), f.get("arp.dst.proto_ipv4"))
    elif top.proto == "data":
        if etype is not None:
            proto = _ETHERTYPE_NAMES.get(etype, f"ethertype 0x{etype:04x}")
        elif macs is not None:
            proto = "LLC"
        else:
            proto = "data"
        info = f"len={top.length}" if (inner and proto == "data") else ""
    else:
        proto = top.proto
    if inner:
        return _inner(macs, nets, proto, info, pal)
    src, dst = nets if nets is not None else macs if macs is not None else ("?", "?")
    return _plain(src, dst, proto, frame_len, info, pal)


def packet_summary(packet: Packet, frame_len: int | None = None, pal: Palette = PLAIN) -> str:
    """The line for ``packet`` without its number and time columns.

    ``frame_len`` is the length on the wire (``frame.len``); by default the captured length.
    """
    length = len(packet.data) if frame_len is None else frame_len
    return _render(packet.layers, length, pal, [], _end_marks(packet.layers, packet.errors))


def _render(layers: Sequence[Layer], length: int, pal: Palette, hops: list[str],
            marks: list[str]) -> str:
    """The line for ``layers``, after the ``hops`` a fast path has read by hand (their bytes
    are not in ``layers``), with the end ``marks``."""
    last_net: Layer | None = None
    inner = 0
    after_tunnel = False  # the previous layer was a tunnel header (ERSPAN right after GRE)
    for i, layer in enumerate(layers):
        spec = spec_for(layer)
        role = spec.role if spec is not None else ""
        if role == NETWORK:
            last_net = layer
        elif role == TUNNEL and spec is not None:
            f = layer.fields
            hop_marks = _hop_marks(f, layer.notes) if layer.proto == "vxlan" else (
                "[reserved bits]" if "reserved bits set" in layer.notes else "")
            ident = spec.hop(f) if spec.hop is not None else ""
            if after_tunnel and hops:
                hops[-1] += " " + _tunnel_text(spec.short, ident, hop_marks, "", pal)
            else:
                net = last_net.fields if last_net is not None else {}
                prefix = last_net.proto if last_net is not None else ""
                hops.append(_tunnel_hop(net.get(prefix + ".src", "?"),
                                        net.get(prefix + ".dst", "?"), spec.short, ident,
                                        hop_marks,
                                        "" if hops else f" {length}", pal))
            last_net = None
            inner = i + 1
        after_tunnel = role == TUNNEL
    end = _end(marks, pal)
    if not hops:
        return _describe(layers, 0, False, length, pal) + end
    hops.append(_describe(layers, inner, True, length, pal))
    return " | ".join(hops) + end


# --------------------------------------------------------------------------------------------
# The fast path: straight from the bytes, for the shapes that need no full decode

_ntoa = socket.inet_ntoa
# Each header the hand-read path takes is read by a reader compiled from its layer's spec
# (layers/headers.py); the checks that the bytes are that header are the path's.
_read_eth, _read_tag, _read_ip = headers.ETH, headers.TAGS, headers.IPV4
_read_ip6, _read_udp, _read_vxlan = headers.IPV6, headers.UDP, headers.VXLAN
_read_icmp, _read_arp = headers.ICMP, headers.ARP
# IPv6 next headers the hand-read path takes on (UDP, TCP, ICMPv6, GRE); extension headers
# and the rest go to the steps.
_IP6_HAND = frozenset({17, 6, 58, 47})


def _vxlan_marks(flag_g: int, flag_i: int, flag_d: int, flag_a: int, reserved: int,
                 gbp: int, reserved8: int) -> str:
    """The marks of a VXLAN hop from its header's fields (``_hop_marks`` of the layer the
    decoder makes of them)."""
    marks = []
    if flag_g:
        marks.append(_gbp_mark(gbp, flag_d, flag_a))
    if not flag_i:
        marks.append("[I=0]")
    if reserved_bits(reserved, reserved8, flag_g, gbp):  # the decoder's "reserved bits set"
        marks.append("[reserved bits]")
    return " ".join(marks)


# Transports the fast paths do not read by hand but through their layer's own step and
# one-line text (TCP).
_TRANSPORT_SPECS = {spec.name: spec for spec in LAYERS
                    if spec.role == TRANSPORT and spec.info is not None}


def _transport(data: bytes, off: int, end: int, ip_off: int, kind: str,
               options: DecodeOptions, analysis: Analysis | None, v6: bool = False
               ) -> tuple[str, str, str] | None:
    """(protocol column, info, bad-checksum mark or "") of the transport header at ``off``
    (its IPv4 header at ``ip_off``, its payload ending at ``end``), by the layer's own step;
    ``None`` when it has anything else to report (the full decoder's case)."""
    spec = _TRANSPORT_SPECS[kind]
    if spec.line is not None:  # straight from the bytes
        addrs = data[ip_off + 8:ip_off + 40] if v6 else data[ip_off + 12:ip_off + 20]
        src = dst = ""
        run = analysis.running(spec.proto) if analysis is not None else None
        if run is not None:
            src, dst = pair_str(addrs)
        assert spec.next_table is not None
        found_line = spec.line(data, off, end, int.from_bytes(addrs, "big"),
                               options.tables[spec.next_table], options.verify_checksums, run,
                               src, dst)
        if found_line is None:
            return None
        text, bad = found_line
        return spec.short, text, f"bad {spec.proto} checksum" if bad else ""
    found = dissect_transport(data, off, end, ip_off, kind, options, analysis, bare=True,
                              v6=v6)
    if found is None:
        return None
    layers, errors, _, _ = found
    assert spec.info is not None
    return spec.short, spec.info(layers[0]), f"bad {spec.proto} checksum" if errors else ""


def _by_steps(data: bytes, frame_off: int, end: int, frame_len: int, hops: list[str],
              bad: list[str], options: DecodeOptions, pal: Palette,
              analysis: Analysis | None, counter: FastPathTally | None) -> str | None:
    """The rest of a line from the Ethernet frame at ``frame_off`` on, by the layers' own
    dissect steps (what the hand-read shapes do not cover: another network, tunnel or
    application layer, IPv4 options, fragments); ``hops`` and ``bad`` are what was read by hand
    before it.  ``None`` when the frame has more to report than bad checksums (a cut or
    malformed header; bytes past a length field are not in the line): the full decoder's
    case."""
    walk = dissect_frame(data, frame_off, end, options, len(hops))
    layers = walk.layers
    if any(layer.status != OK for layer in layers) or not all(
            " bad checksum at offset " in error for error in walk.errors):
        return None
    if analysis is not None:
        analysis(Packet(layers, walk.errors))
    if counter is not None:
        counter.steps += 1
    return _render(layers, frame_len, pal, hops, _end_marks(layers, walk.errors, list(bad)))


# Tunnels the hand-read path does not read itself but through their own steps (VXLAN it
# reads by hand).
_TUNNEL_SPECS = {spec.name: spec for spec in LAYERS if spec.role == TUNNEL
                 and spec.name != "vxlan"}


# Layers above UDP that end the frame with a message of their own (DNS, mDNS): what names a
# datagram in the one-line text, read by their own steps.
_APPLICATION_SPECS = {spec.name: spec for spec in LAYERS
                      if spec.name in UDP_MESSAGES and spec.info is not None}


_NO_PORTS: dict[int, str] = {}


def _application_step(data: bytes, off: int, end: int, kind: str, options: DecodeOptions
                      ) -> tuple[str, str] | None:
    """(protocol column, info) of the message at ``off`` (to ``end``) by its layer's own
    step, as the reference names the packet after it; ``None`` when it is not whole and alone
    (the general case then)."""
    spec = _APPLICATION_SPECS[kind]
    if spec.line is not None:  # straight from the bytes
        found = spec.line(data, off, end, 0, _NO_PORTS, options.verify_checksums, None, "", "")
        return None if found is None else (spec.short, found[0])
    walk = Walk(data, end, options.tables, options.verify_checksums, options.max_depth)
    nxt, _ = spec.dissect(walk, off)
    layers = walk.layers
    if nxt is not None or walk.errors or walk.trailers or len(layers) != 1 or (
            layers[0].status != OK):
        return None
    assert spec.info is not None
    return spec.short, spec.info(layers[0])


def _tunnels(data: bytes, off: int, end: int, kind: str, src: str, dst: str, hops: list[str],
             bad: list[str], frame_len: int, options: DecodeOptions, pal: Palette
             ) -> int | None:
    """Tunnel headers from ``off`` (Geneve, GRE and the ERSPAN in it...), each by its layer's
    own step, up to the inner Ethernet frame: adds their hop to ``hops`` (and bad checksums
    to ``bad``) and returns where the inner frame starts; ``None`` (nothing added) when they
    lead anywhere else or have more to report than a bad checksum."""
    walk = Walk(data, end, options.tables, options.verify_checksums, options.max_depth)
    walk.depth = len(hops)
    nxt: str | None = kind
    while nxt in _TUNNEL_SPECS:
        assert nxt is not None
        nxt, off = _TUNNEL_SPECS[nxt].dissect(walk, off)
    layers = walk.layers
    if nxt != "eth" or walk.trailers or walk.end != end or any(
            layer.status != OK for layer in layers) or not all(
            " bad checksum at offset " in error for error in walk.errors):
        return None
    text = ""
    for layer in layers:
        spec = _TUNNEL_SPECS[layer.proto] if layer.proto in _TUNNEL_SPECS else spec_for(layer)
        assert spec is not None
        ident = spec.hop(layer.fields) if spec.hop is not None else ""
        marks = _hop_marks(layer.fields, layer.notes) if layer.proto == "vxlan" else (
            "[reserved bits]" if "reserved bits set" in layer.notes else "")
        if not text:
            text = _tunnel_hop(src, dst, spec.short, ident, marks,
                               "" if hops else f" {frame_len}", pal)
        else:
            text += " " + _tunnel_text(spec.short, ident, marks, "", pal)
        if layer.fields.get(layer.proto + ".checksum.status") == CHECKSUM_BAD:
            mark = f"bad {layer.proto} checksum"
            if mark not in bad:
                bad.append(mark)
    hops.append(text)
    return off


def fast_summary(data: bytes, frame_len: int, options: DecodeOptions = DEFAULT_OPTIONS,
                 pal: Palette = PLAIN, analysis: Analysis | None = None,
                 counter: FastPathTally | None = None) -> str | None:
    """``packet_summary(decode(data, 1, options), frame_len)`` for an Ethernet frame of a common
    shape, read without a full decode; ``None`` when the frame needs the full decoder.

    Bad checksums are common in real captures (checksum offload on the capturing host), so they
    are handled here: they only add end markers."""
    if options.fcs_len:
        return None
    ethertypes = options.fast_ethertypes  # plain dicts: a lookup costs less
    udp_ports = options.fast_udp_ports
    ip_protocols = options.fast_ip_protocols
    verify = options.verify_checksums
    max_depth = options.max_depth
    end = len(data)
    off = 0
    hops: list[str] = []
    bad: list[str] = []  # the "[bad ... checksum]" end markers, in layer order
    while True:
        frame_off = off  # where this (outer or inner) Ethernet frame starts, and its bounds
        frame_end = end
        nbad = len(bad)
        if off + 14 > end:
            return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                             options, pal, analysis, counter)
        dst, src, etype = _read_eth(data, off)  # type: ignore[misc]  # 14 bytes are there
        off += 14
        if etype < 0x0600:
            return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                             options, pal, analysis, counter)
        kind = ethertypes.get(etype)
        tags = 0
        while kind == "vlan" or kind == "ieee8021ad":
            if off + 4 > end or tags == 2:
                return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                 options, pal, analysis, counter)
            etype = _read_tag[kind](data, off)[0]  # type: ignore[index]
            off += 4
            tags += 1
            kind = ethertypes.get(etype)
        if kind == "ip" or kind == "ipv6":
            if kind == "ip":
                if off + 20 > end:
                    return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                     options, pal, analysis, counter)
                version, ihl, tlen, more, frag_offset, ipproto, _ = _read_ip(  # type: ignore[misc]
                    data, off)
                if (version != 4 or ihl != 20 or tlen < 20 or off + tlen > end or more
                        or frag_offset):
                    return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                     options, pal, analysis, counter)
                if verify and not _checksum_ok(data[off:off + 20]) and (
                        "bad ip checksum" not in bad):
                    bad.append("bad ip checksum")
                end = off + tlen
                ip_off = off
                off += 20
                v6 = False
                addrs = data[ip_off + 12:ip_off + 20]
                net_src, net_dst = pair_str(addrs)
            else:
                # IPv6 without extension headers (those, and jumbograms: the steps)
                if off + 40 > end:
                    return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                     options, pal, analysis, counter)
                version, plen, ipproto = _read_ip6(data, off)  # type: ignore[misc]
                if version != 6 or not plen or off + 40 + plen > end or (
                        ipproto not in _IP6_HAND):
                    return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                     options, pal, analysis, counter)
                end = off + 40 + plen
                ip_off = off
                off += 40
                v6 = True
                addrs = data[ip_off + 8:ip_off + 40]
                net_src, net_dst = pair_str(addrs)
            pkind = ip_protocols.get(ipproto)
            if pkind in _TUNNEL_SPECS:  # GRE
                inner = _tunnels(data, off, end, pkind, net_src, net_dst, hops, bad,
                                 frame_len, options, pal)
                if inner is None:
                    return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                     options, pal, analysis, counter)
                off = inner
                continue
            if pkind == "udp":
                if off + 8 > end:
                    return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                     options, pal, analysis, counter)
                sport, dport, ulen, ucsum = _read_udp(data, off)  # type: ignore[misc]
                if ulen < 8 or off + ulen > end:
                    return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                     options, pal, analysis, counter)
                if ucsum and verify and not _checksum_ok(
                        data[off:off + ulen], int.from_bytes(addrs, "big") + 17 + ulen
                ) and "bad udp checksum" not in bad:
                    bad.append("bad udp checksum")
                end = off + ulen
                ukind = port_layer(udp_ports, sport, dport)
                if ukind == "vxlan":
                    if off + 16 > end or len(hops) >= max_depth:
                        return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                         options, pal, analysis, counter)
                    g, i, d, a, reserved, gbp, vni, reserved8 = _read_vxlan(  # type: ignore[misc]
                        data, off + 8)
                    hops.append(_hop(net_src, net_dst, vni,
                                     _vxlan_marks(g, i, d, a, reserved, gbp, reserved8),
                                     "" if hops else f" {frame_len}", pal))
                    off += 16
                    continue
                if ukind in _TUNNEL_SPECS:
                    inner = _tunnels(data, off + 8, end, ukind, net_src, net_dst, hops,
                                     bad, frame_len, options, pal)
                    if inner is not None:
                        off = inner
                        continue
                app = (_application_step(data, off + 8, end, ukind, options)
                       if ukind in _APPLICATION_SPECS else None)
                if app is not None:
                    proto, info = app
                elif ukind is not None:
                    return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                     options, pal, analysis, counter)
                else:
                    proto = "UDP"
                    info = f"{sport}{ARROW}{dport} len={ulen - 8}"
            elif pkind == "icmp" and not v6:
                if off + 8 > end:
                    return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                     options, pal, analysis, counter)
                itype, code, _, ident, seq = _read_icmp(data, off)  # type: ignore[misc]
                if verify and not _checksum_ok(data[off:end]):
                    bad.append("bad icmp checksum")
                proto = "ICMP"
                if itype == 0 or itype == 8:
                    info = _icmp_info(itype, code, ident, seq)
                else:
                    info = _icmp_info(itype, code, None, None)
            elif pkind is not None and pkind in _TRANSPORT_SPECS:
                found = _transport(data, off, end, ip_off, pkind, options, analysis, v6)
                if found is None:
                    return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                     options, pal, analysis, counter)
                proto, info, bad_mark = found
                if bad_mark:
                    bad.append(bad_mark)
            elif pkind is None and not v6:
                if ipproto == 6:
                    proto = "TCP"
                    info = _tcp_info(data[off:end], tlen - 20) if off < end else ""
                else:
                    proto = PROTOCOL_NAMES.get(ipproto, "IPv4")
                    info = f"proto={ipproto}" if proto == "IPv4" else ""
            else:
                return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                 options, pal, analysis, counter)
            nets = (net_src, net_dst)
            if hops:
                hops.append(_inner((src, dst), nets, proto, info, pal))
                return " | ".join(hops) + _end(bad, pal)
            return _plain(nets[0], nets[1], proto, frame_len, info, pal) + _end(bad, pal)
        if kind == "arp":
            if off + 28 > end:
                return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                 options, pal, analysis, counter)
            htype, ptype, hlen, plen, op, sha, spa, _, tpa = _read_arp(  # type: ignore[misc]
                data, off)
            if hlen != 6 or plen != 4 or ptype != 0x0800 or htype not in (1, 6):
                return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                 options, pal, analysis, counter)
            info = _arp_info(op, sha, spa, tpa)
            if hops:
                hops.append(_inner((src, dst), None, "ARP", info, pal))
                return " | ".join(hops) + _end(bad, pal)
            return _plain(src, dst, "ARP", frame_len, info, pal) + _end(bad, pal)
        if kind is None:
            if off >= end:
                return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                                 options, pal, analysis, counter)
            proto = _ETHERTYPE_NAMES.get(etype, f"ethertype 0x{etype:04x}")
            if hops:
                hops.append(_inner((src, dst), None, proto, "", pal))
                return " | ".join(hops) + _end(bad, pal)
            return _plain(src, dst, proto, frame_len, "", pal) + _end(bad, pal)
        return _by_steps(data, frame_off, frame_end, frame_len, hops, bad[:nbad],
                         options, pal, analysis, counter)


# What the commonest shape's line needs (Ethernet / IPv4 / UDP / VXLAN / Ethernet / IPv4 /
# ICMP, 92 bytes), read by one reader compiled from the seven specs: None unless the outer
# header is IPv4 without options, not a fragment, carrying UDP; the last value says whether
# the inner header is so too (both tests compiled to whole-word compares).  After one 802.1Q
# tag it reads from offset 4: the tag's EtherType then sits where the Ethernet header's would.
# An inner ARP or UDP is told apart by the values themselves.
_COMMON = shape_reader(
    ("eth", "ip", "udp", "vxlan", "eth", "ip", "icmp"),
    ("ip.len", "udp.dstport", "udp.length", "udp.checksum", "eth.type#2", "ip.len#2",
     "ip.proto#2", "icmp.type", "icmp.code", "icmp.ident", "icmp.seq"), checked=False,
    where={"eth.type": 0x0800, "ip.version": 4, "ip.hdr_len": 20, "ip.flags.mf": 0,
           "ip.frag_offset": 0, "ip.proto": 17},
    tests=({"ip.version#2": 4, "ip.hdr_len#2": 20, "ip.flags.mf#2": 0,
            "ip.frag_offset#2": 0},)).read
_CACHE_MAX = 1 << 16


def make_fast_summary(options: DecodeOptions = DEFAULT_OPTIONS, pal: Palette = PLAIN,
                      analysis: Analysis | None = None, counter: FastPathTally | None = None
                      ) -> Callable[[bytes, int], str | None]:
    """A ``fast_summary`` bound to ``options`` and ``pal``, faster still for the commonest shape
    (Ethernet [802.1Q] / IPv4 / UDP / VXLAN / Ethernet / IPv4 or ARP, one hop, plain text), for
    which it caches the text of addresses and VXLAN headers."""
    if not fast_path_applies(options) or options.max_depth < 1 or pal.reset:
        def general(data: bytes, frame_len: int) -> str | None:
            return fast_summary(data, frame_len, options, pal, analysis, counter)
        return general
    udp_ports = options.fast_udp_ports
    vxlan_ports = frozenset(p for p, n in udp_ports.items() if n == "vxlan")
    # Source ports that take a datagram before its VXLAN destination port would (a lower
    # port with a layer of its own: udp.port_layer's rule), as the two bytes on the wire.
    lower_claimed = frozenset(p.to_bytes(2, "big") for p, n in udp_ports.items()
                              if p and n != "vxlan" and p < max(vxlan_ports, default=0))
    transports = {number: name for number, name in options.ip_protocols.items()
                  if name in _TRANSPORT_SPECS}
    pairs: dict[bytes, str] = {}  # 8 bytes of IPv4 source + destination -> "a -> b"
    macs: dict[bytes, str] = {}  # 12 bytes of MAC destination + source -> "src -> dst"
    heads: dict[bytes, str] = {}  # 8 bytes of VXLAN header -> " vni N [marks] | "
    read_common = _COMMON
    read_arp = _read_arp
    from_bytes = int.from_bytes

    def pair(key: bytes) -> str:
        text = pairs.get(key)
        if text is None:
            if len(pairs) >= _CACHE_MAX:
                pairs.clear()
            text = pairs[key] = f"{_ntoa(key[:4])}{ARROW}{_ntoa(key[4:])}"
        return text

    def mac_pair(key: bytes) -> str:
        text = macs.get(key)
        if text is None:
            if len(macs) >= _CACHE_MAX:
                macs.clear()
            text = macs[key] = f"{key[6:].hex(':')}{ARROW}{key[:6].hex(':')}"
        return text

    def head(key: bytes) -> str:
        text = heads.get(key)
        if text is None:
            if len(heads) >= _CACHE_MAX:
                heads.clear()
            g, i, d, a, reserved, gbp, vni, reserved8 = _read_vxlan(key)  # type: ignore[misc]
            marks = _vxlan_marks(g, i, d, a, reserved, gbp, reserved8)
            mark = " " + marks if marks else ""
            text = heads[key] = f" vni {vni}{mark} | "
        return text

    prefixes: dict[bytes, tuple[str, str]] = {}
    get_prefix = prefixes.get
    numbers: dict[int, str] = {}

    def number(value: int) -> str:
        if len(numbers) >= _CACHE_MAX:
            numbers.clear()
        text = numbers[value] = str(value)
        return text

    def prefix(key: bytes, inner_ips: bool) -> tuple[str, str]:
        """(text before the frame length, text after it) for bytes 26-62 of the frame (outer
        IPs, UDP, VXLAN, inner MACs), followed by the inner IPs (bytes 76-84) if any."""
        if len(prefixes) >= _CACHE_MAX:
            prefixes.clear()
        ips = f"{pair(key[36:])} " if inner_ips else ""
        found = prefixes[key] = (f"{pair(key[:8])} VXLAN ",
                                 f"{head(key[16:24])}{mac_pair(key[24:36])} {ips}")
        return found

    def common(data: bytes, frame_len: int) -> str | None:
        n = len(data)
        b = 4 if data[12:14] == b"\x81\x00" else 0  # one 802.1Q tag shifts everything by 4
        if n < 92 + b:
            return fast_summary(data, frame_len, options, pal, analysis, counter)
        found = read_common(data, b)
        if found is None:
            return fast_summary(data, frame_len, options, pal, analysis, counter)
        (tlen, dport, ulen, ucsum, ietype, itlen, iproto, itype, icode, ident, seq,
         inner_ip) = found
        uend = 34 + b + ulen
        if (14 + b + tlen > n or ulen < 16 or uend > 14 + b + tlen
                or dport not in vxlan_ports or data[34 + b:36 + b] in lower_claimed):
            return fast_summary(data, frame_len, options, pal, analysis, counter)
        bad = ""  # the end markers of bad checksums (in layer order, each name once)
        if from_bytes(data[14 + b:34 + b], "big") % 0xFFFF:
            bad = " [bad ip checksum]"
        if ucsum and ((from_bytes(data[34 + b:uend], "big") << (8 if ulen & 1 else 0))
                      + from_bytes(data[26 + b:34 + b], "big") + 17 + ulen) % 0xFFFF:
            bad += " [bad udp checksum]"
        if ietype == 0x0800:
            if uend < 92 + b:
                return fast_summary(data, frame_len, options, pal, analysis, counter)
            end = 64 + b + itlen
            if not inner_ip or itlen < 20 or end > uend:
                return fast_summary(data, frame_len, options, pal, analysis, counter)
            if from_bytes(data[64 + b:84 + b], "big") % 0xFFFF and "[bad ip" not in bad:
                bad += " [bad ip checksum]"
            if iproto == 1:
                total = from_bytes(data[84 + b:end], "big") << (8 if itlen & 1 else 0)
                if end < 92 + b:
                    return fast_summary(data, frame_len, options, pal, analysis, counter)
                if not total or total % 0xFFFF:
                    bad += " [bad icmp checksum]"
                key = data[26 + b:62 + b] + data[76 + b:84 + b]
                text = get_prefix(key) or prefix(key, True)
                # int -> str costs more than a dict lookup: cache the repetitive numbers
                flen = numbers.get(frame_len) or number(frame_len)
                if itype == 8:  # an echo whatever its code, as _icmp_info has it
                    return "%s%s%sICMP echo request id=%s seq=%d%s" % (  # noqa: UP031
                        text[0], flen, text[1], numbers.get(ident) or number(ident), seq,
                        bad)
                if itype == 0:
                    return "%s%s%sICMP echo reply id=%s seq=%d%s" % (  # noqa: UP031
                        text[0], flen, text[1], numbers.get(ident) or number(ident), seq,
                        bad)
                info = "ICMP " + _icmp_info(itype, icode, None, None)
            elif iproto in transports:
                segment = _transport(data, 84 + b, end, 64 + b, transports[iproto], options,
                                     analysis)
                if segment is None:
                    return fast_summary(data, frame_len, options, pal, analysis, counter)
                info = f"{segment[0]} {segment[1]}"
                if segment[2]:
                    bad += f" [{segment[2]}]"
            elif iproto == 17:
                if end < 92 + b:
                    return fast_summary(data, frame_len, options, pal, analysis, counter)
                w1, w2, w3, w4 = _read_udp(data, 84 + b)  # type: ignore[misc]
                if w3 < 8 or 84 + b + w3 > end:
                    return fast_summary(data, frame_len, options, pal, analysis, counter)
                app = None
                if w2 in udp_ports or w1 in udp_ports:
                    # a message that ends the frame (DNS), by its layer; anything else: the
                    # general path
                    ukind = port_layer(udp_ports, w1, w2)
                    if ukind not in _APPLICATION_SPECS:
                        return fast_summary(data, frame_len, options, pal, analysis, counter)
                    assert ukind is not None
                    app = _application_step(data, 92 + b, 84 + b + w3, ukind, options)
                    if app is None:
                        return fast_summary(data, frame_len, options, pal, analysis, counter)
                if w4 and ((from_bytes(data[84 + b:84 + b + w3], "big")
                            << (8 if w3 & 1 else 0))
                           + from_bytes(data[76 + b:84 + b], "big") + 17 + w3) % 0xFFFF:
                    if "[bad udp" not in bad:
                        bad += " [bad udp checksum]"
                if app is None:
                    info = f"UDP {w1}{ARROW}{w2} len={w3 - 8}"
                else:
                    info = f"{app[0]} {app[1]}" if app[1] else app[0]
            else:
                return fast_summary(data, frame_len, options, pal, analysis, counter)
            key = data[26 + b:62 + b] + data[76 + b:84 + b]
            found = get_prefix(key) or prefix(key, True)
            return f"{found[0]}{frame_len}{found[1]}{info}{bad}"
        if ietype == 0x0806:
            if uend < 92 + b:  # the message runs past the datagram: the decoder says how
                return fast_summary(data, frame_len, options, pal, analysis, counter)
            htype, ptype, hlen, plen, op, sha, spa, _, tpa = read_arp(  # type: ignore[misc]
                data, 64 + b)
            if hlen != 6 or plen != 4 or ptype != 0x0800 or htype not in (1, 6):
                return fast_summary(data, frame_len, options, pal, analysis, counter)
            info = _arp_info(op, sha, spa, tpa)
            key = data[26 + b:62 + b]
            found = get_prefix(key) or prefix(key, False)
            return f"{found[0]}{frame_len}{found[1]}ARP {info}{bad}"
        return fast_summary(data, frame_len, options, pal, analysis, counter)

    return common


# --------------------------------------------------------------------------------------------
# Lines


def interface_label(iface: Any) -> str:
    """An interface as the one-line view names it: its ``if_name`` (``node1/eth0``), else its
    number (``#1``)."""
    name = getattr(iface, "name", None)
    return name if name else f"#{getattr(iface, 'id', 0)}"


class Summarizer:
    """Makes the full lines: number, time, summary.

    ``line`` works from a :class:`DecodedRecord`; ``fast_lines`` goes straight from records,
    decoding in full only the frames the fast path declines.
    """

    def __init__(self, time_format: str = "r", pal: Palette = PLAIN,
                 options: DecodeOptions = DEFAULT_OPTIONS, digits: int | None = None,
                 interfaces: Sequence[Any] | None = None) -> None:
        self.clock = Clock(time_format, digits or 6)
        self.fixed_digits = digits is not None
        self.pal = pal
        self.options = options
        # The capture's interfaces as its reader finds them (a list that grows: a reader's
        # ``interfaces``).  With more than one, each line names its interface (the tap) after
        # the time; with one, or without the list, lines are as tshark's.
        self.interfaces = interfaces
        self._tap_known = -1
        self._tap_width = 0

    def tap(self, iface: Any) -> str:
        """The interface column for a record on ``iface`` (with its trailing space), or ""
        while the capture has a single interface."""
        interfaces = self.interfaces
        if interfaces is None or len(interfaces) < 2:
            return ""
        if len(interfaces) != self._tap_known:  # an IDB came: the column may widen
            self._tap_known = len(interfaces)
            self._tap_width = max(len(interface_label(i)) for i in interfaces)
        return f"{interface_label(iface):<{self._tap_width}} "

    def set_resolution(self, tsresol: int) -> None:
        """Show as many decimals as the capture's timestamps have (unless fixed)."""
        if not self.fixed_digits:
            self.clock.digits = time_digits(tsresol)

    def line(self, item: DecodedRecord) -> str:
        rec = item.record
        when = self.clock(rec.ts_ns, item.first_ts_ns, item.prev_ts_ns)
        tap = self.tap(rec.interface) if self.interfaces is not None else ""
        return (f"{rec.number:>5} {when} {tap}"
                f"{packet_summary(item.packet, rec.orig_len, self.pal)}")

    def fast_lines(self, records: Iterable[RecordLike], count: int | None = None,
                   tally: FastPathTally | None = None) -> Iterator[str]:
        """Lines for every record (at most ``count``), as ``line`` would make them; ``tally``
        counts the records the fast path answered and those decoded in full."""
        if count is not None and count >= 0:
            records = islice(records, count)  # one line per record: count records
        clock = self.clock
        pal = self.pal
        options = self.options
        cache: dict[int, DecodeOptions] = {}
        analyze = Analysis()  # one for the fast path and the full decoder: they share the capture
        fast = make_fast_summary(options, pal, analyze, tally)
        first = prev = 0
        started = False
        iface: Any = None
        opts = options
        use_fast = False
        linktype = 1
        relative = False
        second_start = -_NS  # the time column: the second being printed, and its text
        second_text = ""
        interfaces = self.interfaces
        known = 0 if interfaces is None else len(interfaces)
        tap = ""
        for rec in records:
            ts = rec.ts_ns
            if rec.interface is not iface or (interfaces is not None
                                              and len(interfaces) != known):
                iface = rec.interface
                if interfaces is not None:
                    known = len(interfaces)
                    tap = self.tap(iface)
                if not started:
                    started = True
                    first = prev = ts
                    self.set_resolution(iface.tsresol)
                    relative = clock.fmt == "r" and clock.digits == 6
                linktype = iface.linktype
                opts = options if iface.fcslen is None else options_for(options, iface, cache)
                use_fast = linktype == 1 and opts is options
            text = fast(rec.data, rec.orig_len) if use_fast else None
            if text is None:
                text = packet_summary(analyze(decode(rec.data, linktype, opts)), rec.orig_len,
                                      pal)
                if tally is not None:
                    tally.full += 1
            elif tally is not None:
                tally.fast += 1
            delta = ts - first
            if relative and 0 <= delta - second_start < _NS:  # the same second as before
                yield "%5d %s%06d %s%s" % (  # noqa: UP031
                    rec.number, second_text, (delta - second_start) // 1000, tap, text)
            elif relative and delta >= 0:
                secs, frac = divmod(delta, _NS)
                second_start = secs * _NS
                second_text = f"{secs}."
                yield "%5d %s%06d %s%s" % (  # noqa: UP031
                    rec.number, second_text, frac // 1000, tap, text)
            else:
                yield f"{rec.number:>5} {clock(ts, first, prev)} {tap}{text}"
            prev = ts
