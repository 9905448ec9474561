"""``vxlankit trace``: what would happen to one packet, from the hosts' saved tables.

``trace(state, options)`` builds the models over a ``NetworkState`` (``vxlankit.state``),
injects the packet at the namespace that owns the source address, follows it until it is
delivered or dropped, then does the same for the answer.  docs/trace.md describes the output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vxlankit.errors import StateError
from vxlankit.state.edit import Edit, apply_edits
from vxlankit.state.load import NetworkState
from vxlankit.trace.engine import Drop, Hop, TraceEngine, find_source, inject
from vxlankit.trace.packets import Probe


@dataclass(frozen=True)
class TraceOptions:
    src: str
    dst: str
    proto: str = "icmp"
    dport: int = 0
    size: int | None = None  # IP total length; None: ping's default (84) or the minimum
    df: bool = False
    vni: int | None = None
    edits: tuple[Edit, ...] = ()


@dataclass(frozen=True)
class TraceReport:
    options: TraceOptions
    source: str  # "namespace device"
    verdict: str  # delivered | dropped
    hops: tuple[Hop, ...]
    drop: Drop | None
    delivered_at: tuple[str, ...] = field(default_factory=tuple)

    @property
    def delivered(self) -> bool:
        return self.verdict == "delivered"

    def to_json(self) -> dict[str, Any]:
        o = self.options
        return {
            "verdict": self.verdict,
            "from": o.src, "to": o.dst, "proto": o.proto, "dport": o.dport or None,
            "size": o.size, "df": o.df, "source": self.source,
            "what_if": [e.text() for e in o.edits],
            "delivered_at": list(self.delivered_at),
            "hops": [h.to_json() for h in self.hops],
            "drop": self.drop.to_json() if self.drop else None,
        }

    def render(self) -> str:
        o = self.options
        head = (f"trace {o.src} > {o.dst} {o.proto.upper()}"
                + (f" port {o.dport}" if o.dport else "")
                + f", {o.size} B{' DF' if o.df else ''}, from {self.source}")
        lines = [head]
        for e in o.edits:
            lines.append(f"what-if: {e.text()}")
        phase = None
        n = 0
        for h in self.hops:
            if h.phase != phase:
                phase = h.phase
                lines.append(f"-- {phase}")
            n += 1
            where = f"{h.host} {h.device}" if h.device != "-" else h.host
            lines.append(f"{n:3}  {where}: {h.action}")
            if h.entry:
                lines.append(f"       entry:   {h.entry}")
            if h.headers:
                lines.append(f"       packet:  {h.headers}")
            if h.outer:
                lines.append(f"       outer:   {h.outer}")
        if self.drop is None:
            lines.append(f"verdict: delivered ({', '.join(self.delivered_at)})")
        else:
            d = self.drop
            lines.append(f"verdict: dropped on {d.host} {d.device} during the {d.phase}: "
                         f"SKB_DROP_REASON_{d.reason}" if _kernel_reason(d.reason) else
                         f"verdict: dropped on {d.host} {d.device} during the {d.phase}: "
                         f"{d.reason}")
            lines.append(f"  kind:    {d.kind}")
            lines.append(f"  why:     {d.detail}")
            if d.cause:
                lines.append(f"  cause:   {d.cause}")
            for i, fix in enumerate(d.fix):
                lines.append(f"  {'fix:' if i == 0 else '':8} {fix}")
            if d.what_if:
                lines.append(f"  try:     vxlankit trace ... {d.what_if}")
        return "\n".join(lines) + "\n"


# Linux's own drop reason names (include/net/dropreason-core.h); the others are vxlankit's.
_KERNEL_REASONS = frozenset({
    "NO_SOCKET", "OTHERHOST", "VXLAN_INVALID_HDR", "VXLAN_VNI_NOT_FOUND", "VXLAN_ENTRY_EXISTS",
    "VXLAN_NO_REMOTE", "MAC_INVALID_SOURCE", "IP_INHDR", "IP_NOROUTES", "PKT_TOO_BIG",
    "NEIGH_FAILED", "DEV_READY", "IP_TUNNEL_ECN", "UDP_CSUM", "LOCAL_MAC",
})


def _kernel_reason(reason: str) -> bool:
    return reason in _KERNEL_REASONS


def trace(state: NetworkState, options: TraceOptions) -> TraceReport:
    if options.proto not in ("icmp", "udp", "tcp"):
        raise StateError(f"--proto must be icmp, udp or tcp, not {options.proto!r}")
    if options.proto != "icmp" and not options.dport:
        raise StateError(f"--proto {options.proto} needs --dport")
    state = apply_edits(state, list(options.edits))
    ns, dev = find_source(state, options.src, options.vni)
    src_ip = options.src.rpartition(":")[2]
    minimum = Probe(src_ip, options.dst, options.proto).minimum()
    size = options.size if options.size is not None else max(84, minimum)
    if not minimum <= size <= 65535:
        raise StateError(f"--size {size}: an IPv4 {options.proto.upper()} packet is "
                         f"{minimum} to 65535 bytes")
    options = TraceOptions(options.src, options.dst, options.proto, options.dport, size,
                           options.df, options.vni, options.edits)
    probe = Probe(src_ip, options.dst, options.proto, options.dport, size=size, df=options.df)
    engine = TraceEngine(state)
    request = inject(engine, "request", ns, probe)
    delivered = []
    drop = None
    if request.delivered:
        delivered.append(request.delivered)
        dst_ns = request.delivered.split(" ")[0]
        reply = inject(engine, "reply", dst_ns, probe.reversed(), reply=True)
        if reply.delivered:
            delivered.append(reply.delivered)
        else:
            drop = _the_drop(reply.drops, dst_ns)
    else:
        drop = _the_drop(request.drops, ns)
    return TraceReport(options, f"{ns} {dev.name}", "dropped" if drop else "delivered",
                       tuple(engine.hops), drop, tuple(delivered))


def _the_drop(drops: list[Drop], ns: str) -> Drop:
    """The drop that ended the walk: the last one recorded (a flood's other branches end
    quietly: ignored, not dropped)."""
    if drops:
        return drops[-1]
    return Drop(ns, "-", "NO_PATH", "loss", "the packet went nowhere: every branch was "
                "ignored by the hosts it reached", (), "", "")


__all__ = ["TraceOptions", "TraceReport", "trace"]
