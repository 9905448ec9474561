"""``vxlankit stats``: what a capture holds, capinfos-style, and what the overlay did.

Feed :class:`OverlayStats` decoded records (``add``), one capture after another
(``start_file``), then read ``to_dict()`` (the ``--json`` form) or ``render()`` (text):

* per file: format, link types, packets, bytes, first/last packet time, duration;
* per VNI: packets and bytes (a packet counts once for each VNI in it);
* per VTEP pair (the outer IPs of a hop, either direction): packets each way, bytes, first/last
  time, VNIs;
* inner conversations: per (innermost VNI, inner address pair): packets each way, bytes,
  protocols; a pair seen one way on one VNI and the other way on another (routed between the
  subnets of one overlay) is one conversation listing both VNIs.  Addresses are the inner IPv4
  addresses (ARP: sender and target protocol addresses), or the inner MACs for anything else;
* pings, per tap: ICMP and ICMPv6 echo requests matched to replies seen on the same tap, by
  (VNI, inner IPs, identifier, sequence), a reply on another VNI than its request's matching
  too (the routed case): requests, replies, lost, round-trip min/avg/max/mdev as ping prints
  them, per (tap, VNI, requester, responder);
* ARP, per tap: requests and the replies to them on the same tap, the time to the reply, and
  the requests left unanswered there;
* paths and hops: each echo and ARP packet seen on several taps, the taps in time order
  (:mod:`vxlankit.present.taps`), and per hop (tap, next tap, kind of packet) the one-way
  delay's min/avg/max.

A tap is a pcapng interface, or with several files a file and interface; pairing never crosses
taps, since a request seen on one tap and its reply on another give no host's round trip.
Packets that are not VXLAN count as VNI ``None`` ("-" in text) in the inner tables, so a
capture taken inside the overlay gets its pings and ARPs checked too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from vxlankit.codec import LINKTYPE_NAMES
from vxlankit.layers.ipv4 import PROTOCOL_NAMES
from vxlankit.layers.registry import spec_for
from vxlankit.layers.spec import NETWORK, TUNNEL
from vxlankit.packet import Layer, Packet
from vxlankit.present.run import RecordLike
from vxlankit.present.taps import PathFinder, TapPath, rtt_summary
from vxlankit.present.timeformat import epoch_str, format_seconds, utc_text

__all__ = ["FileInfo", "OverlayStats"]

_NS = 1_000_000_000
_NUMBER = re.compile(r"-?\d+(\.\d+)?%?")


def _utc(ts_ns: int | None) -> str:
    if ts_ns is None:
        return "n/a"
    secs, frac = divmod(ts_ns, _NS)
    return utc_text(secs, "%Y-%m-%d %H:%M:%S") + f".{frac // 1000:06d} UTC"


def _ms(ns: int | float) -> float:
    return round(ns / 1e6, 6)


class FileInfo:
    """The capinfos part: one per capture file."""

    def __init__(self, path: str, format: str) -> None:
        self.path = path
        self.format = format
        self.linktypes: list[int] = []
        self.packets = 0
        self.bytes = 0
        self.captured_bytes = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.error: str | None = None

    @property
    def duration_ns(self) -> int:
        if self.first_ns is None or self.last_ns is None:
            return 0
        return self.last_ns - self.first_ns

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "format": self.format,
            "link_types": [{"linktype": lt, "name": LINKTYPE_NAMES.get(lt, "unknown")}
                           for lt in self.linktypes],
            "packets": self.packets,
            "bytes": self.bytes,
            "captured_bytes": self.captured_bytes,
            "first_time": None if self.first_ns is None else epoch_str(self.first_ns),
            "last_time": None if self.last_ns is None else epoch_str(self.last_ns),
            "duration": format_seconds(self.duration_ns, 9),
            "error": self.error,
        }


class _Pair:
    __slots__ = ("a", "b", "ab", "ba", "bytes", "first", "last", "extra")

    def __init__(self, a: str, b: str, ts: int) -> None:
        self.a = a
        self.b = b
        self.ab = 0
        self.ba = 0
        self.bytes = 0
        self.first = ts
        self.last = ts
        self.extra: dict[Any, None] = {}  # ordered set: VNIs (VTEP pairs) or protocols

    def add(self, src: str, length: int, ts: int, extra: Any) -> None:
        if src == self.a:
            self.ab += 1
        else:
            self.ba += 1
        self.bytes += length
        if ts < self.first:
            self.first = ts
        if ts > self.last:
            self.last = ts
        self.extra[extra] = None


class _Ping:
    __slots__ = ("requests", "replies", "duplicates", "unmatched", "rtts", "reply_vnis")

    def __init__(self) -> None:
        self.reply_vnis: dict[Tunnel, None] = {}  # other VNIs the replies came back on
        self.requests = 0
        self.replies = 0
        self.duplicates = 0
        self.unmatched = 0
        self.rtts: list[int] = []


class _Arp:
    __slots__ = ("requests", "first", "last", "replies", "pending", "times")

    def __init__(self, ts: int) -> None:
        self.requests = 0
        self.first = ts
        self.last = ts
        self.replies = 0
        self.pending: int | None = None  # the first request since the last reply
        self.times: list[int] = []  # request (the first of a retried run) to reply


Tunnel = int | str  # a VXLAN VNI, or another tunnel's kind and id ("Geneve vni 10")


def _tunnel_id(layer: Layer) -> Tunnel | None:
    """What a tunnel header is counted under: a VXLAN (or GPE) VNI as the number it is, any
    other tunnel as its kind and id as the one-line hop shows them."""
    if layer.proto == "vxlan":
        vni: int | None = layer.fields.get("vxlan.vni")
        return vni
    spec = spec_for(layer)
    if spec is None:
        return None
    ident = spec.hop(layer.fields) if spec.hop is not None else ""
    return f"{spec.short} {ident}" if ident else spec.short


def _inner(layers: list[Layer]) -> tuple[list[tuple[str, str, Tunnel]], int]:
    """(hops as (outer src, outer dst, tunnel), index of the first inner layer).  A tunnel
    straight inside another (ERSPAN in GRE) is part of the same hop."""
    hops: list[tuple[str, str, Tunnel]] = []
    last_net: Layer | None = None
    start = 0
    after_tunnel = False
    for i, layer in enumerate(layers):
        spec = spec_for(layer)
        role = spec.role if spec is not None else ""
        if role == NETWORK:
            last_net = layer
        elif role == TUNNEL:
            ident = _tunnel_id(layer)
            if ident is not None:
                if after_tunnel and hops and not isinstance(hops[-1][2], int):
                    src, dst, outer = hops[-1]
                    hops[-1] = (src, dst, f"{outer} {ident}")
                else:
                    p = last_net.proto if last_net is not None else ""
                    f = last_net.fields if last_net is not None else {}
                    if p + ".src" in f:
                        hops.append((f[p + ".src"], f[p + ".dst"], ident))
                    else:
                        hops.append(("?", "?", ident))
            last_net = None
            start = i + 1
        after_tunnel = role == TUNNEL
    return hops, start


def _vkey(vni: Tunnel | None) -> tuple[bool, bool, int, str]:
    """Sort key for a tunnel id: VXLAN VNIs in number order, then the other tunnels, then
    none."""
    if vni is None:
        return True, True, 0, ""
    if isinstance(vni, int):
        return False, False, vni, ""
    return False, True, 0, vni


_ECHO_KINDS = {(family, request): f"{family} echo {'request' if request else 'reply'}"
               for family in ("ICMP", "ICMPv6") for request in (True, False)}


def _describe(key: Any) -> tuple[str, str]:
    """A path key (see ``OverlayStats._echo`` and ``_arp``) as (kind, which packet)."""
    kind = key[0]
    if kind == "ARP request":
        return kind, f"who-has {key[2]} tell {key[1]}"
    if kind == "ARP reply":
        return kind, f"{key[1]} is-at {key[3]}"
    return kind, f"{key[1]} > {key[2]} id={key[3]:#06x} seq={key[4]}"


class OverlayStats:
    """Accumulates everything ``vxlankit stats`` reports."""

    def __init__(self) -> None:
        self.files: list[FileInfo] = []
        self.packets = 0
        self.vxlan_packets = 0
        self.vnis: dict[Tunnel, list[int]] = {}  # vni (or tunnel) -> [packets, bytes]
        self.vteps: dict[tuple[str, str], _Pair] = {}
        self.conversations: dict[tuple[Any, ...], _Pair] = {}
        # (VNI, transport, end, end) -> the 5-tuple conversation (tshark -z conv,tcp / udp);
        # an end is "address:port", the pair in sorted order.
        self.transports: dict[tuple[Any, ...], _Pair] = {}
        # Everything below is per tap: a number into ``self.taps``.
        self.taps: list[tuple[int, int, str | None]] = []  # (file index, interface id, name)
        self._tap_numbers: dict[tuple[int, int, str | None], int] = {}
        self.pings: dict[tuple[Any, ...], _Ping] = {}  # (tap, vni, src, dst)
        self._requests: dict[tuple[Any, ...], int] = {}  # (tap, vni, src, dst, id, seq) -> ts
        # (tap, src, dst, id, seq) -> VNIs of the overlay requests: a routed echo's reply comes
        # back on the requester's subnet's VNI, not on the VNI the request went out on.
        self._request_vnis: dict[tuple[Any, ...], list[Tunnel]] = {}
        self._answered: set[tuple[Any, ...]] = set()
        self.arp_requests: dict[tuple[Any, ...], _Arp] = {}  # (tap, vni, target, asker)
        self._arp_replies: set[tuple[Any, ...]] = set()  # (tap, vni, responder, asker)
        self.paths = PathFinder(_describe)

    def start_file(self, path: str, format: str) -> FileInfo:
        info = FileInfo(path, format)
        self.files.append(info)
        return info

    def add_all(self, items: Iterable[tuple[RecordLike, Packet]]) -> None:
        for record, packet in items:
            self.add(record, packet)

    def add(self, record: RecordLike, packet: Packet) -> None:
        if not self.files:
            self.start_file("-", "")
        info = self.files[-1]
        ts = record.ts_ns
        length = record.orig_len
        info.packets += 1
        info.bytes += length
        info.captured_bytes += record.cap_len
        linktype = record.interface.linktype
        if linktype not in info.linktypes:
            info.linktypes.append(linktype)
        if info.first_ns is None or ts < info.first_ns:
            info.first_ns = ts
        if info.last_ns is None or ts > info.last_ns:
            info.last_ns = ts
        self.packets += 1
        iface = record.interface
        where = (len(self.files) - 1, getattr(iface, "id", 0), iface.name)
        tap = self._tap_numbers.get(where)
        if tap is None:
            tap = self._tap_numbers[where] = len(self.taps)
            self.taps.append(where)

        layers = packet.layers
        hops, start = _inner(layers)
        vni: Tunnel | None = None
        if hops:
            self.vxlan_packets += 1
            seen: set[Tunnel] = set()
            for src, dst, hop_vni in hops:
                if hop_vni not in seen:
                    seen.add(hop_vni)
                    counts = self.vnis.setdefault(hop_vni, [0, 0])
                    counts[0] += 1
                    counts[1] += length
                key = (src, dst) if src <= dst else (dst, src)
                pair = self.vteps.get(key)
                if pair is None:
                    pair = self.vteps[key] = _Pair(src, dst, ts)
                pair.add(src, length, ts, hop_vni)
            vni = hops[-1][2]
        self._inner_stats(layers, start, vni, ts, length, tap)

    def _inner_stats(self, layers: list[Layer], start: int, vni: Tunnel | None, ts: int,
                     length: int, tap: int) -> None:
        macs: tuple[str, str] | None = None
        ip: Layer | None = None
        top: Layer | None = None
        payload: bytes | None = None
        for layer in layers[start:]:
            proto = layer.proto
            if proto == "eth":
                if macs is None and "eth.src" in layer.fields:
                    macs = (layer.fields["eth.src"], layer.fields["eth.dst"])
            elif proto in ("arp", "icmp", "icmpv6", "udp", "tcp") and top is None:
                top = layer
            elif proto == "data" and payload is None:
                payload = layer.fields.get("data.data")
            elif (spec := spec_for(layer)) is not None and spec.role == NETWORK:
                if ip is None:
                    ip = layer
            elif spec is not None and spec.role == TUNNEL:
                break
        src = dst = None
        label = "?"
        net = ip.proto if ip is not None else ""
        if ip is not None and net + ".src" in ip.fields:
            src, dst = ip.fields[net + ".src"], ip.fields[net + ".dst"]
            number = ip.fields.get("ip.proto" if net == "ip" else "ipv6.nxt")
            label = (PROTOCOL_NAMES.get(number, f"{net}.proto={number}")
                     if isinstance(number, int) else f"{net}.proto={number}")
            top_spec = spec_for(top) if top is not None and top.proto != "arp" else None
            if top_spec is not None:
                label = top_spec.short
        elif top is not None and top.proto == "arp" and "arp.src.proto_ipv4" in top.fields:
            src, dst = top.fields["arp.src.proto_ipv4"], top.fields["arp.dst.proto_ipv4"]
            label = "ARP"
        elif macs is not None:
            src, dst = macs
            label = "eth"
        if src is not None and dst is not None:
            key = (vni, src, dst) if src <= dst else (vni, dst, src)
            conv = self.conversations.get(key)
            if conv is None:
                conv = self.conversations[key] = _Pair(src, dst, ts)
            conv.add(src, length, ts, label)
        if top is None:
            return
        f = top.fields
        proto = top.proto
        if (proto == "tcp" or proto == "udp") and src is not None and proto + ".srcport" in f:
            a, b = f"{src}:{f[proto + '.srcport']}", f"{dst}:{f[proto + '.dstport']}"
            tkey = (vni, proto, a, b) if a <= b else (vni, proto, b, a)
            pair = self.transports.get(tkey)
            if pair is None:
                pair = self.transports[tkey] = _Pair(tkey[2], tkey[3], ts)
            pair.add(a, length, ts, f.get("tcp.stream"))
        if proto == "icmp" and src is not None and dst is not None and "icmp.ident" in f:
            itype = f["icmp.type"]
            if itype in (8, 0):
                ip_id = ip.fields.get("ip.id") if ip is not None else None
                self._echo(tap, vni, ts, src, dst, itype == 8, f["icmp.ident"], f["icmp.seq"],
                           ("ICMP", ip_id, hash(payload)))
        elif (proto == "icmpv6" and src is not None and dst is not None
              and "icmpv6.echo.identifier" in f and f.get("icmpv6.type") in (128, 129)):
            self._echo(tap, vni, ts, src, dst, f["icmpv6.type"] == 128,
                       f["icmpv6.echo.identifier"], f["icmpv6.echo.sequence_number"],
                       ("ICMPv6", None, hash(payload)))
        elif proto == "arp" and "arp.src.proto_ipv4" in f:
            self._arp(tap, vni, ts, f)

    def _echo(self, tap: int, vni: Tunnel | None, ts: int, src: str, dst: str, request: bool,
              ident: int, seq: int, content: tuple[str, Any, int]) -> None:
        self.paths.add((_ECHO_KINDS[content[0], request], src, dst, ident, seq, *content[1:]),
                       tap, ts)
        if request:
            req = (tap, vni, src, dst, ident, seq)
            ping = self.pings.setdefault((tap, vni, src, dst), _Ping())
            if req in self._requests:
                ping.duplicates += 1
            else:
                self._requests[req] = ts
                ping.requests += 1
                if vni is not None:
                    self._request_vnis.setdefault((tap, *req[2:]), []).append(vni)
            return
        req = (tap, vni, dst, src, ident, seq)
        if req not in self._requests and vni is not None:
            other = [v for v in self._request_vnis.get((tap, *req[2:]), ()) if v != vni]
            if other:
                req = (tap, other[0], *req[2:])  # routed between subnets: the request's row
        ping = self.pings.setdefault((tap, req[1], dst, src), _Ping())
        if req[1] != vni and vni is not None:
            ping.reply_vnis[vni] = None
        sent = self._requests.get(req)
        if sent is None or req in self._answered or ts < sent:
            ping.unmatched += 1
        else:
            self._answered.add(req)
            ping.replies += 1
            ping.rtts.append(ts - sent)

    def _arp(self, tap: int, vni: Tunnel | None, ts: int, f: dict[str, Any]) -> None:
        op = f["arp.opcode"]
        spa, tpa = f["arp.src.proto_ipv4"], f["arp.dst.proto_ipv4"]
        if op == 1:
            self.paths.add(("ARP request", spa, tpa, f.get("arp.src.hw_mac")), tap, ts)
            if spa == tpa:  # gratuitous ARP announces, it asks nothing
                return
            arp = self.arp_requests.get((tap, vni, tpa, spa))
            if arp is None:
                arp = self.arp_requests[(tap, vni, tpa, spa)] = _Arp(ts)
            arp.requests += 1
            arp.last = max(arp.last, ts)
            if arp.pending is None:
                arp.pending = ts
        elif op == 2:
            self.paths.add(("ARP reply", spa, tpa, f.get("arp.src.hw_mac")), tap, ts)
            self._arp_replies.add((tap, vni, spa, tpa))
            asked = self.arp_requests.get((tap, vni, spa, tpa))
            if asked is not None and asked.pending is not None:
                asked.replies += 1
                asked.times.append(ts - asked.pending)
                asked.pending = None

    # ---------------------------------------------------------------------------- results

    def vni_rows(self) -> list[dict[str, Any]]:
        return [{"vni": vni, "packets": c[0], "bytes": c[1]}
                for vni, c in sorted(self.vnis.items(), key=lambda kv: _vkey(kv[0]))]

    def _sorted_vteps(self) -> list[_Pair]:
        return sorted(self.vteps.values(), key=lambda p: (-(p.ab + p.ba), p.a, p.b))

    def vtep_rows(self) -> list[dict[str, Any]]:
        rows = []
        for pair in self._sorted_vteps():
            rows.append({"a": pair.a, "b": pair.b, "packets": pair.ab + pair.ba,
                         "packets_ab": pair.ab, "packets_ba": pair.ba, "bytes": pair.bytes,
                         "first_time": epoch_str(pair.first), "last_time": epoch_str(pair.last),
                         "vnis": list(pair.extra)})
        return rows

    def conversation_rows(self) -> list[dict[str, Any]]:
        """One row per (VNI, address pair); a pair that went one way on one VNI and the
        other way on another (routed between an overlay's subnets: each direction rides the
        destination subnet's VNI) is one row, with ``vnis`` naming every VNI it crossed."""
        groups: dict[tuple[str, str], list[tuple[int, _Pair]]] = {}
        for (vni, _, _), conv in self.conversations.items():
            if vni is not None:
                groups.setdefault((conv.a, conv.b) if conv.a <= conv.b else (conv.b, conv.a),
                                  []).append((vni, conv))
        # id(first pair of a routed group) -> the group's (VNI, pair), in VNI order.
        merged: dict[int, list[tuple[int, _Pair]]] = {}
        skip: set[int] = set()
        for members in groups.values():
            one_way = all(not conv.ab or not conv.ba for _, conv in members)
            if len(members) > 1 and one_way:
                members.sort(key=lambda m: _vkey(m[0]))
                merged[id(members[0][1])] = members
                skip.update(id(conv) for _, conv in members[1:])
        rows = []
        items = sorted(self.conversations.items(),
                       key=lambda kv: (*_vkey(kv[0][0]),
                                       -(kv[1].ab + kv[1].ba), kv[1].a, kv[1].b))
        for (vni, _, _), conv in items:
            if id(conv) in skip:
                continue
            group = merged.get(id(conv), [(vni, conv)])
            vnis = [v for v, _ in group if v is not None]
            ab = ba = nbytes = 0
            protocols: list[str] = []
            first, last = conv.first, conv.last
            for _, member in group:
                same = member.a == conv.a
                ab += member.ab if same else member.ba
                ba += member.ba if same else member.ab
                nbytes += member.bytes
                protocols += [p for p in member.extra if p not in protocols]
                first, last = min(first, member.first), max(last, member.last)
            rows.append({"vni": vni, "vnis": vnis, "a": conv.a, "b": conv.b,
                         "packets": ab + ba, "packets_ab": ab, "packets_ba": ba,
                         "bytes": nbytes, "protocols": protocols,
                         "first_time": epoch_str(first), "last_time": epoch_str(last)})
        return rows

    def transport_rows(self) -> list[dict[str, Any]]:
        """One row per (VNI, TCP or UDP, address:port pair): tshark's ``-z conv,tcp`` and
        ``conv,udp``; a TCP row names the tcp.stream numbers it covers."""
        rows = []
        for (vni, proto, _, _), pair in sorted(
                self.transports.items(), key=lambda kv: (*_vkey(kv[0][0]),
                                                         kv[0][1], -(kv[1].ab + kv[1].ba),
                                                         kv[0][2], kv[0][3])):
            rows.append({"vni": vni, "protocol": proto, "a": pair.a, "b": pair.b,
                         "packets": pair.ab + pair.ba, "packets_ab": pair.ab,
                         "packets_ba": pair.ba, "bytes": pair.bytes,
                         "streams": [n for n in pair.extra if n is not None],
                         "first_time": epoch_str(pair.first), "last_time": epoch_str(pair.last)})
        return rows

    def tap_name(self, tap: int) -> str:
        """A tap as the tables name it: the interface's name (``#ID`` when it has none and the
        file has several interfaces); with several files, the file's path before it."""
        file_index, if_id, name = self.taps[tap]
        own = name or None
        if own is None and sum(1 for t in self.taps if t[0] == file_index) > 1:
            own = f"#{if_id}"
        path = self._short_path(file_index)
        if len(self.files) > 1:
            return f"{path}:{own}" if own else path
        return own or path

    def _short_path(self, file_index: int) -> str:
        """A file's name without its directory, unless another file has the same name."""
        if file_index >= len(self.files):
            return "-"
        path = self.files[file_index].path
        base = os.path.basename(path) or path
        same = sum(1 for info in self.files if (os.path.basename(info.path) or info.path) == base)
        return base if same == 1 else path

    def tap_rows(self) -> list[dict[str, Any]]:
        return [{"tap": self.tap_name(i), "file": self.files[f].path if f < len(self.files)
                 else "-", "interface_id": if_id, "interface_name": name}
                for i, (f, if_id, name) in enumerate(self.taps)]

    def ping_rows(self) -> list[dict[str, Any]]:
        rows = []
        for (tap, vni, src, dst), ping in sorted(self.pings.items(),
                                                 key=lambda kv: (kv[0][0], *_vkey(kv[0][1]),
                                                                 kv[0][2], kv[0][3])):
            if not ping.requests and not ping.unmatched:
                continue
            rtt = rtt_summary(ping.rtts)
            lost = ping.requests - ping.replies
            rows.append({
                "tap": self.tap_name(tap),
                "vni": vni, "vnis": [] if vni is None else [vni, *ping.reply_vnis],
                "src": src, "dst": dst, "requests": ping.requests,
                "replies": ping.replies, "lost": lost,
                "loss": round(lost / ping.requests, 6) if ping.requests else 0.0,
                "duplicates": ping.duplicates, "unmatched_replies": ping.unmatched,
                "rtt_min_ms": _ms(rtt.min_ns) if rtt else None,
                "rtt_avg_ms": _ms(rtt.avg_ns) if rtt else None,
                "rtt_max_ms": _ms(rtt.max_ns) if rtt else None,
                "rtt_mdev_ms": _ms(rtt.mdev_ns) if rtt else None,
                "rtt": rtt.text() if rtt else None,
            })
        return rows

    def _arp_items(self) -> list[tuple[tuple[Any, ...], _Arp]]:
        return sorted(self.arp_requests.items(),
                      key=lambda kv: (kv[0][0], *_vkey(kv[0][1]), kv[1].first))

    def _unanswered(self) -> list[tuple[tuple[Any, ...], _Arp]]:
        return [(key, arp) for key, arp in self._arp_items() if key not in self._arp_replies]

    def arp_rows(self) -> list[dict[str, Any]]:
        """ARP requests that no reply answered on the tap that saw them."""
        rows = []
        for (tap, vni, target, asker), arp in self._unanswered():
            rows.append({"tap": self.tap_name(tap), "vni": vni, "who_has": target,
                         "tell": asker, "requests": arp.requests,
                         "first_time": epoch_str(arp.first), "last_time": epoch_str(arp.last)})
        return rows

    def arp_exchange_rows(self) -> list[dict[str, Any]]:
        """Every ARP question per tap: requests, the replies seen to them on that tap, and the
        time from a request (the first of a retried run) to its reply."""
        rows = []
        for (tap, vni, target, asker), arp in self._arp_items():
            times = rtt_summary(arp.times)
            rows.append({"tap": self.tap_name(tap), "vni": vni, "who_has": target,
                         "tell": asker, "requests": arp.requests, "replies": arp.replies,
                         "reply_min_ms": _ms(times.min_ns) if times else None,
                         "reply_avg_ms": _ms(times.avg_ns) if times else None,
                         "reply_max_ms": _ms(times.max_ns) if times else None,
                         "first_time": epoch_str(arp.first), "last_time": epoch_str(arp.last)})
        return rows

    def tap_paths(self) -> list[TapPath]:
        """Every echo and ARP packet seen on two taps or more, with its way across them."""
        return [path for path in self.paths.paths() if len(path.steps) > 1]

    def path_rows(self, paths: list[TapPath] | None = None) -> list[dict[str, Any]]:
        rows = []
        for path in self.tap_paths() if paths is None else paths:
            first = path.steps[0].ts_ns
            rows.append({"packet": path.kind, "what": path.what,
                         "taps": [{"tap": self.tap_name(step.tap),
                                   "time": epoch_str(step.ts_ns),
                                   "since_first_ms": _ms(step.ts_ns - first)}
                                  for step in path.steps]})
        return rows

    def hop_rows(self, paths: list[TapPath] | None = None) -> list[dict[str, Any]]:
        """Per hop (a tap, the next tap that saw the same packet, the kind of packet): how
        many packets took it and their one-way delay."""
        rows = []
        for hop in self.paths.hops(self.tap_paths() if paths is None else paths):
            t = hop.times
            rows.append({"from": self.tap_name(hop.src), "to": self.tap_name(hop.dst),
                         "packet": hop.kind, "packets": t.count, "min_ms": _ms(t.min_ns),
                         "avg_ms": _ms(t.avg_ns), "max_ms": _ms(t.max_ns),
                         "times": t.short()})
        return rows

    def to_dict(self) -> dict[str, Any]:
        paths = self.tap_paths()
        return {
            "files": [info.to_dict() for info in self.files],
            "packets": self.packets,
            "vxlan_packets": self.vxlan_packets,
            "vnis": self.vni_rows(),
            "vtep_pairs": self.vtep_rows(),
            "conversations": self.conversation_rows(),
            "transport_conversations": self.transport_rows(),
            "taps": self.tap_rows(),
            "pings": self.ping_rows(),
            "arp": self.arp_exchange_rows(),
            "arp_unanswered": self.arp_rows(),
            "hops": self.hop_rows(paths),
            "paths": self.path_rows(paths),
        }

    def render(self) -> str:
        out: list[str] = []
        for info in self.files:
            links = ", ".join(f"{LINKTYPE_NAMES.get(lt, 'unknown')} ({lt})"
                              for lt in info.linktypes) or "n/a"
            out += [
                f"File name:           {info.path}",
                f"File type:           {info.format or 'n/a'}",
                f"Link types:          {links}",
                f"Number of packets:   {info.packets}",
                f"Data size:           {info.bytes} bytes"
                + (f" ({info.captured_bytes} captured)" if info.captured_bytes != info.bytes
                   else ""),
                f"First packet time:   {_utc(info.first_ns)}",
                f"Last packet time:    {_utc(info.last_ns)}",
                f"Capture duration:    {format_seconds(info.duration_ns, 6)} seconds",
            ]
            if info.error:
                out.append(f"Damaged:             {info.error}")
            out.append("")
        out.append(f"VXLAN packets: {self.vxlan_packets} of {self.packets}")
        out.append("")

        def vni_text(vni: Any) -> str:
            return "-" if vni is None else str(vni)

        def vnis_text(row: dict[str, Any]) -> str:
            return ",".join(map(str, row["vnis"])) if row["vnis"] else "-"

        out += _table("VNIs", ["VNI", "Packets", "Bytes"],
                      [[r["vni"], r["packets"], r["bytes"]] for r in self.vni_rows()])
        out += _table("VTEP pairs", ["A", "B", "Packets", "A->B", "B->A", "Bytes", "First",
                                     "Last", "VNIs"],
                      [[p.a, p.b, p.ab + p.ba, p.ab, p.ba, p.bytes, _utc(p.first),
                        _utc(p.last), ",".join(map(str, p.extra))]
                       for p in self._sorted_vteps()])
        out += _table("Inner conversations", ["VNI", "A", "B", "Packets", "A->B", "B->A",
                                              "Bytes", "Protocols"],
                      [[vnis_text(r), r["a"], r["b"], r["packets"], r["packets_ab"],
                        r["packets_ba"], r["bytes"], ",".join(r["protocols"])]
                       for r in self.conversation_rows()])

        out += _table("TCP and UDP conversations", ["VNI", "Proto", "A", "B", "Packets",
                                                    "A->B", "B->A", "Bytes", "Streams"],
                      [[vni_text(r["vni"]), r["protocol"].upper(), r["a"], r["b"],
                        r["packets"], r["packets_ab"], r["packets_ba"], r["bytes"],
                        ",".join(map(str, r["streams"])) or "-"]
                       for r in self.transport_rows()])

        out += _table("Pings (ICMP echo; request and reply on the same tap)",
                      ["Tap", "VNI", "From", "To", "Sent", "Received", "Lost", "Loss",
                       "Unmatched", "RTT min/avg/max/mdev ms"],
                      [[r["tap"], vnis_text(r), r["src"], r["dst"], r["requests"], r["replies"],
                        r["lost"], f"{r['loss'] * 100:.0f}%" if r["requests"] else "-",
                        r["unmatched_replies"], r["rtt"] or "-"]
                       for r in self.ping_rows()])
        out += _table("ARP (request and reply on the same tap)",
                      ["Tap", "VNI", "Who has", "Tell", "Requests", "Replies",
                       "Reply min/avg/max ms"],
                      [[r["tap"], vni_text(r["vni"]), r["who_has"], r["tell"], r["requests"],
                        r["replies"], "-" if r["reply_min_ms"] is None else
                        f"{r['reply_min_ms']:.3f}/{r['reply_avg_ms']:.3f}/{r['reply_max_ms']:.3f}"]
                       for r in self.arp_exchange_rows()])
        out += _table("Unanswered ARP requests", ["Tap", "VNI", "Who has", "Tell", "Requests",
                                                  "First"],
                      [[self.tap_name(key[0]), vni_text(key[1]), key[2], key[3], arp.requests,
                        _utc(arp.first)] for key, arp in self._unanswered()])
        out += _table("Hops (one way: the same packet on a tap, then on the next)",
                      ["From", "To", "Packet", "Count", "min/avg/max ms"],
                      [[r["from"], r["to"], r["packet"], r["packets"], r["times"]]
                       for r in self.hop_rows()])
        return "\n".join(out).rstrip("\n")


def _table(title: str, headers: list[str], rows: list[list[Any]]) -> list[str]:
    lines = [f"{title}:"]
    if not rows:
        return lines + ["  (none)", ""]
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        parts = []
        for i, cell in enumerate(row):
            numeric = i and _NUMBER.fullmatch(cell) is not None
            parts.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        lines.append("  " + "  ".join(parts).rstrip())
    lines.append("")
    return lines
