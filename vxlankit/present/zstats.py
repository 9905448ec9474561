"""tshark's ``-z`` statistics: ``io,phs``, ``conv,TYPE``, ``endpoints,TYPE`` and ``io,stat,N``.

``vxlankit stats -z conv,ip`` (or ``decode -q -z ...``) prints the table tshark prints for the
same argument, with the same numbers: each counts every layer of its protocol in a frame (the
outer and the inner IPv4 header of a VXLAN frame are two conversations, as in tshark), a row's
bytes are whole frame lengths, rows are sorted by frames, most first, ties in the order first
seen.  ``--per-tunnel`` splits each table by the tunnel that carries the layer (``vni 4096``,
Geneve's VNI, a GRE key; ``underlay`` for layers in no tunnel), which tshark cannot do.

Addresses are printed as numbers (tshark ``-n``).  Each statistic also has a JSON form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vxlankit.errors import StatisticError
from vxlankit.layers.registry import ALIASES, FIELDS, spec_for
from vxlankit.layers.spec import EXTENSION, TUNNEL
from vxlankit.packet import Packet
from vxlankit.present.filter import compile_filter
from vxlankit.present.run import RecordLike

__all__ = ["ZStat", "parse_zstat", "ZSTAT_KINDS"]

_NS = 1_000_000_000
_WIDE = "=" * 80

# conv/endpoints types: (tshark's title, the layer, its address fields, its port fields)
_TYPES: dict[str, tuple[str, str, tuple[str, str], tuple[str, str] | None]] = {
    "eth": ("Ethernet", "eth", ("eth.src", "eth.dst"), None),
    "ip": ("IPv4", "ip", ("ip.src", "ip.dst"), None),
    "ipv6": ("IPv6", "ipv6", ("ipv6.src", "ipv6.dst"), None),
    "udp": ("UDP", "udp", ("", ""), ("udp.srcport", "udp.dstport")),
    "tcp": ("TCP", "tcp", ("", ""), ("tcp.srcport", "tcp.dstport")),
}
ZSTAT_KINDS = ("io,phs", *(f"conv,{t}" for t in _TYPES), *(f"endpoints,{t}" for t in _TYPES),
               "io,stat,INTERVAL")


def format_size(size: int) -> str:
    """wsutil's format_size with SI prefixes, as tshark's conversation tables print bytes."""
    if size < 10_000:
        return f"{size} bytes"
    for prefix in ("k", "M", "G", "T", "P"):
        size //= 1000
        if size < 10_000:
            return f"{size} {prefix}B"
    return f"{size} EB"


def _tunnel_of(packet: Packet, index: int) -> str:
    """What names the tunnel innermost around layer ``index``: ``vni 4096``, ``underlay``."""
    for layer in reversed(packet.layers[:index]):
        spec = spec_for(layer)
        if spec is not None and spec.role == TUNNEL:
            hop = spec.hop(layer.fields) if spec.hop is not None else ""
            return f"{spec.short or spec.name} {hop}".strip()
    return "underlay"


@dataclass
class _Conv:
    a: str
    b: str
    first_ns: int
    last_ns: int
    a_frames: int = 0  # a -> b (tshark's "->", tx)
    a_bytes: int = 0
    b_frames: int = 0  # b -> a ("<-", rx)
    b_bytes: int = 0


@dataclass
class _End:
    name: str
    port: str
    tx_frames: int = 0
    tx_bytes: int = 0
    rx_frames: int = 0
    rx_bytes: int = 0


@dataclass
class _Phs:
    frames: int = 0
    bytes: int = 0
    children: dict[str, _Phs] = field(default_factory=dict)


# Rows of an io,stat table (with ``--json`` there is no limit: it lists the intervals that have
# packets only).
MAX_IOSTAT_ROWS = 1_000_000


class ZStat:
    """One ``-z`` statistic: ``add`` every packet in order, then ``render`` or ``to_dict``."""

    def __init__(self, kind: str, arg: str, filter_expr: str | None, per_tunnel: bool,
                 interval_ns: int = 0) -> None:
        self.kind = kind  # "conv", "endpoints", "phs" or "iostat"
        self.arg = arg  # the conv/endpoints type
        self.filter_expr = filter_expr
        self.test = None if filter_expr is None else compile_filter(
            filter_expr, known_fields=[*FIELDS, *ALIASES])
        self.per_tunnel = per_tunnel
        self.interval_ns = interval_ns
        self.first_ns: int | None = None
        self.last_ns = 0
        self.convs: dict[str, dict[tuple[Any, ...], _Conv]] = {}
        self.ends: dict[str, dict[tuple[str, str], _End]] = {}
        self.phs = _Phs()
        self.buckets: dict[int, list[int]] = {}

    def add(self, record: RecordLike, packet: Packet) -> None:
        ts = record.ts_ns
        if self.first_ns is None:
            self.first_ns = ts
        self.last_ns = max(self.last_ns, ts)
        if self.test is not None and not self.test(packet):
            return
        size = record.orig_len
        if self.kind == "phs":
            self._add_phs(packet, size)
        elif self.kind == "iostat":
            bucket = self.buckets.setdefault((ts - self.first_ns) // self.interval_ns, [0, 0])
            bucket[0] += 1
            bucket[1] += size
        else:
            self._add_pairs(packet, ts, size)

    def _add_pairs(self, packet: Packet, ts: int, size: int) -> None:
        _, proto, addrs, ports = _TYPES[self.arg]
        for i, layer in enumerate(packet.layers):
            if layer.proto != proto:
                continue
            f = layer.fields
            if ports is None:
                if addrs[0] not in f:
                    continue
                src, dst = str(f[addrs[0]]), str(f[addrs[1]])
            else:
                if ports[0] not in f:
                    continue
                below = packet.addresses_below(i)
                if below is None:
                    continue
                src, dst = f"{below[0]}:{f[ports[0]]}", f"{below[1]}:{f[ports[1]]}"
            group = _tunnel_of(packet, i) if self.per_tunnel else ""
            if self.kind == "conv":
                self._conv(group, src, dst, f.get("tcp.stream"), ts, size)
            else:
                self._endpoint(group, src, size, tx=True)
                self._endpoint(group, dst, size, tx=False)

    def _conv(self, group: str, src: str, dst: str, stream: Any, ts: int, size: int) -> None:
        table = self.convs.setdefault(group, {})
        key = (stream, *sorted((src, dst)))
        conv = table.get(key)
        if conv is None:
            conv = table[key] = _Conv(src, dst, ts, ts)
        conv.first_ns = min(conv.first_ns, ts)
        conv.last_ns = max(conv.last_ns, ts)
        if src == conv.a:
            conv.a_frames += 1
            conv.a_bytes += size
        else:
            conv.b_frames += 1
            conv.b_bytes += size

    def _endpoint(self, group: str, name: str, size: int, tx: bool) -> None:
        address, _, port = name.rpartition(":") if self.arg in ("udp", "tcp") else (name, "", "")
        table = self.ends.setdefault(group, {})
        end = table.get((address, port))
        if end is None:
            end = table[(address, port)] = _End(address, port)
        if tx:
            end.tx_frames += 1
            end.tx_bytes += size
        else:
            end.rx_frames += 1
            end.rx_bytes += size

    def _add_phs(self, packet: Packet, size: int) -> None:
        node = self.phs
        node.frames += 1
        node.bytes += size
        covered = False  # inside a layer whose item covers its payload (ICMP's data)
        for layer in packet.layers:
            spec = spec_for(layer)
            proto = layer.proto
            if proto in ("trailer", "fcs") or (proto == "data" and covered):
                continue
            if spec is not None and spec.role == EXTENSION:
                continue
            name = proto
            if spec is not None and spec.role == TUNNEL and self.per_tunnel and spec.hop:
                name = f"{proto} ({spec.hop(layer.fields)})"
            node = node.children.setdefault(name, _Phs())
            node.frames += 1
            node.bytes += size
            covered = spec is not None and spec.covers == "payload" and layer.length > 0

    # ---------------------------------------------------------------- output

    def _sorted(self, rows: list[Any], frames: Callable[[Any], int]) -> list[Any]:
        # tshark: most frames first; ties in the order first seen (a stable sort).
        return sorted(rows, key=lambda row: -frames(row))

    def _groups(self, tables: dict[str, Any]) -> list[tuple[str, Any]]:
        return sorted(tables.items(), key=lambda kv: (kv[0] != "underlay", kv[0])) or [("", {})]

    def render(self) -> str:
        if self.kind == "phs":
            return self._render_phs()
        if self.kind == "iostat":
            return self._render_iostat()
        title, _, _, ports = _TYPES[self.arg]
        shown = self.filter_expr or "<No Filter>"
        lines: list[str] = []
        tables = self.convs if self.kind == "conv" else self.ends
        for group, table in self._groups(tables):
            suffix = f" ({group})" if self.per_tunnel and group else ""
            what = "Conversations" if self.kind == "conv" else "Endpoints"
            lines += [_WIDE, f"{title} {what}{suffix}", f"Filter:{shown}"]
            if self.kind == "conv":
                pad = " " * 12 if ports else ""
                lines.append(f"{pad}                                               |       <-"
                             "      | |       ->      | |     Total     |    Relative    |   "
                             "Duration   |")
                lines.append(f"{pad}                                               | Frames  "
                             "Bytes | | Frames  Bytes | | Frames  Bytes |      Start     |    "
                             "          |")
                width = 26 if ports else 20
                for c in self._sorted(list(table.values()), lambda c: c.a_frames + c.b_frames):
                    start = (c.first_ns - (self.first_ns or 0)) / _NS
                    # tshark subtracts the two times as seconds in floating point; so do we,
                    # for the same rounding in the last printed digit.
                    duration = (c.last_ns - (self.first_ns or 0)) / _NS - start
                    lines.append(
                        f"{c.a:<{width}} <-> {c.b:<{width}}  {c.b_frames:6d} "
                        f"{format_size(c.b_bytes):<9}  {c.a_frames:6d} "
                        f"{format_size(c.a_bytes):<9}  {c.a_frames + c.b_frames:6d} "
                        f"{format_size(c.a_bytes + c.b_bytes):<9}  {start:14.9f}   "
                        f"{duration:12.4f}")
            else:
                port_head = "Port  ||  " if ports else ""
                lines.append(f"                       |  {port_head}Packets  | |  Bytes  | | Tx "
                             "Packets | | Tx Bytes | | Rx Packets | | Rx Bytes |")
                for e in self._sorted(list(table.values()), lambda e: e.tx_frames + e.rx_frames):
                    port = f"      {e.port:>5}     " if ports else "      "
                    lines.append(
                        f"{e.name:<20}{port}{e.tx_frames + e.rx_frames:6d}     "
                        f"{e.tx_bytes + e.rx_bytes:9d}     {e.tx_frames:6d}       "
                        f"{e.tx_bytes:9d}      {e.rx_frames:6d}       {e.rx_bytes:9d}   ")
            lines.append(_WIDE)
        return "\n".join(lines)

    def _render_phs(self) -> str:
        lines = ["", "=" * 67, "Protocol Hierarchy Statistics",
                 f"Filter: {self.filter_expr or ''}", ""]

        def walk(node: _Phs, depth: int) -> None:
            for name, child in node.children.items():
                lines.append(f"{'  ' * depth + name:<40} frames:{child.frames} "
                             f"bytes:{child.bytes}")
                walk(child, depth + 1)

        walk(self.phs, 0)
        lines.append("=" * 67)
        return "\n".join(lines)

    def _render_iostat(self) -> str:
        step = self.interval_ns
        duration = ((self.last_ns - (self.first_ns or 0)) / _NS) if self.first_ns else 0.0
        count = max(self.buckets, default=-1) + 1
        if count > MAX_IOSTAT_ROWS:
            # The table has a row for every interval, empty ones too: a far timestamp (a
            # damaged one) would ask for billions of them.  The JSON form lists only those
            # with packets.
            raise StatisticError(
                f"-z {self.name}: the packets span {duration:.0f} s, {count} intervals of "
                f"{step / _NS:g} s; the table holds at most {MAX_IOSTAT_ROWS} (choose a "
                "longer interval, or --json, which lists only the intervals with packets)")
        rows = []
        for n in range(count):
            frames, size = self.buckets.get(n, [0, 0])
            low = n * step / _NS
            high = "Dur" if n == count - 1 else f"{(n + 1) * step / _NS:g}"
            rows.append((f"{low:g} <> {high}", frames, size))
        first = max([len("Interval")] + [len(r[0]) for r in rows])
        lines = ["", "IO Statistics", f"Duration: {duration:.6f} secs",
                 f"Interval: {step / _NS:g} secs",
                 f"Filter: {self.filter_expr or '<No Filter>'}",
                 f"{'Interval':<{first}} | {'Frames':>8} | {'Bytes':>12}"]
        lines += [f"{r[0]:<{first}} | {r[1]:>8} | {r[2]:>12}" for r in rows]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stat": self.name, "filter": self.filter_expr}
        if self.kind == "phs":
            def tree(node: _Phs) -> list[dict[str, Any]]:
                return [{"protocol": name, "frames": c.frames, "bytes": c.bytes,
                         "children": tree(c)} for name, c in node.children.items()]
            out["protocols"] = tree(self.phs)
        elif self.kind == "iostat":
            out["interval"] = self.interval_ns / _NS
            out["intervals"] = [{"start": n * self.interval_ns / _NS, "frames": b[0],
                                 "bytes": b[1]} for n, b in sorted(self.buckets.items())]
        elif self.kind == "conv":
            out["tables"] = [{"tunnel": group or None, "rows": [
                {"a": c.a, "b": c.b, "frames_a_to_b": c.a_frames, "bytes_a_to_b": c.a_bytes,
                 "frames_b_to_a": c.b_frames, "bytes_b_to_a": c.b_bytes,
                 "relative_start": (c.first_ns - (self.first_ns or 0)) / _NS,
                 "duration": (c.last_ns - c.first_ns) / _NS}
                for c in self._sorted(list(t.values()), lambda c: c.a_frames + c.b_frames)]}
                for group, t in self._groups(self.convs)]
        else:
            out["tables"] = [{"tunnel": group or None, "rows": [
                {"address": e.name, **({"port": int(e.port)} if e.port else {}),
                 "tx_frames": e.tx_frames, "tx_bytes": e.tx_bytes, "rx_frames": e.rx_frames,
                 "rx_bytes": e.rx_bytes}
                for e in self._sorted(list(t.values()), lambda e: e.tx_frames + e.rx_frames)]}
                for group, t in self._groups(self.ends)]
        return out

    @property
    def name(self) -> str:
        if self.kind == "phs":
            return "io,phs"
        if self.kind == "iostat":
            return f"io,stat,{self.interval_ns / _NS:g}"
        return f"{self.kind},{self.arg}"


def parse_zstat(spec: str, per_tunnel: bool = False) -> ZStat:
    """``-z`` argument ``spec`` (tshark's syntax, a display filter after the type) as a
    :class:`ZStat`; :class:`~vxlankit.errors.StatisticError` for one vxlankit does not have, and
    :class:`~vxlankit.errors.FilterError` for a filter that does not compile."""
    parts = spec.split(",", 2)
    head = ",".join(parts[:2])
    if head == "io,phs":
        rest = spec[len("io,phs"):].lstrip(",") or None
        return ZStat("phs", "", rest, per_tunnel)
    if head == "io,stat" and len(parts) == 3:
        interval, _, rest = parts[2].partition(",")
        try:
            seconds = float(interval)
        except ValueError:
            raise StatisticError(f"-z {spec}: the interval '{interval}' is not a number of "
                             "seconds") from None
        if not 0.000001 <= seconds <= 86_400 * 366:
            raise StatisticError(f"-z {spec}: the interval must be from 0.000001 to "
                             f"{86_400 * 366} seconds")
        return ZStat("iostat", "", rest or None, per_tunnel, round(seconds * _NS))
    if len(parts) >= 2 and parts[0] in ("conv", "endpoints") and parts[1] in _TYPES:
        return ZStat(parts[0], parts[1], parts[2] if len(parts) == 3 else None, per_tunnel)
    raise StatisticError(f"-z {spec}: not a statistic vxlankit has (it has: "
                     f"{', '.join(ZSTAT_KINDS)}, each optionally followed by ',FILTER')")
