"""The outcome of a cross-check: counts, every disagreement, every allowed difference."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from vxlankit.present.plural import counted

# A field name standing for a whole layer (present on one side only) or a whole packet.
LAYER = "(layer)"
PACKET = "(packet)"
ABSENT = "(absent)"
PRESENT = "(present)"


@dataclass(frozen=True)
class Disagreement:
    """One value (or layer) on which vxlankit and Wireshark differ.

    ``packet`` is the frame number (1-based, as tshark counts); ``layer`` and ``occurrence`` say
    which header (``ip`` 2 is the inner IPv4 header of a VXLAN frame); ``ours`` and ``theirs`` are
    both as tshark would display them.
    """

    packet: int
    layer: str
    occurrence: int
    field: str
    ours: str
    theirs: str


@dataclass(frozen=True)
class Allowed:
    """A difference the allow-list covers, counted over the packets compared."""

    rule: str
    layer: str
    field: str
    reason: str
    count: int
    first_packet: int
    example: str


@dataclass
class CrosscheckReport:
    path: str
    tshark_version: str
    decode_as: dict[str, str]
    prefs: dict[str, str]
    limit: int | None
    packets_compared: int = 0
    layers_compared: int = 0
    fields_compared: int = 0
    # How many layers of each protocol were paired and compared (eth 2 per VXLAN frame...).
    layers_by_protocol: dict[str, int] = field(default_factory=dict)
    sampled: bool = False
    disagreements: list[Disagreement] = field(default_factory=list)
    allowed: list[Allowed] = field(default_factory=list)
    # Fields vxlankit decoded that Wireshark names but did not show in that packet's layer: not
    # disagreements (only the fields both sides show are compared), listed for transparency.
    not_shown: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.disagreements

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "tshark_version": self.tshark_version,
            "decode_as": dict(self.decode_as),
            "prefs": dict(self.prefs),
            "limit": self.limit,
            "sampled": self.sampled,
            "packets_compared": self.packets_compared,
            "layers_compared": self.layers_compared,
            "fields_compared": self.fields_compared,
            "layers_by_protocol": dict(self.layers_by_protocol),
            "ok": self.ok,
            "disagreements": [asdict(d) for d in self.disagreements],
            "allowed": [asdict(a) for a in self.allowed],
            "not_shown": dict(sorted(self.not_shown.items())),
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in rows]
    return lines


def _cut(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def render_text(report: CrosscheckReport) -> str:
    """The human-readable report: counts, the disagreement table, the allowed differences."""
    packets = counted(report.packets_compared, "packet")
    scope = (f"the first {packets} (--limit {report.limit}; the capture has more)"
             if report.sampled else packets)
    lines = [
        f"vxlankit vs tshark {report.tshark_version}: {report.path}",
        f"compared {counted(report.fields_compared, 'field')} in "
        f"{counted(report.layers_compared, 'layer')} of {scope}",
    ]
    if report.layers_by_protocol:
        lines.append("layers: " + ", ".join(f"{proto} {count}" for proto, count
                                             in sorted(report.layers_by_protocol.items())))
    if report.decode_as:
        lines.append("decode-as: " + ", ".join(f"{k},{v}" for k, v in report.decode_as.items()))
    if report.disagreements:
        lines += ["", f"{counted(len(report.disagreements), 'disagreement')}:"]
        rows = [(str(d.packet), f"{d.layer}#{d.occurrence}", d.field, _cut(d.ours),
                 _cut(d.theirs)) for d in report.disagreements]
        lines += _table(("packet", "layer", "field", "vxlankit", "Wireshark"), rows)
    else:
        lines += ["", "no disagreements"]
    if report.allowed:
        lines += ["", f"{len(report.allowed)} allowed differences (allow-list):"]
        rows = [(str(a.count), a.layer, a.field, a.rule, _cut(a.example, 72))
                for a in report.allowed]
        lines += _table(("count", "layer", "field", "rule", "first seen"), rows)
        lines += ["", "why they are allowed:"]
        reasons: dict[tuple[str, str], None] = {}
        for a in report.allowed:
            subject = a.rule if a.field == LAYER else a.field
            reasons.setdefault((subject, a.reason), None)
        lines += [f"  {subject}: {reason}" for subject, reason in reasons]
    if report.not_shown:
        shown = ", ".join(f"{name} x{count}" for name, count in sorted(report.not_shown.items()))
        lines += ["", f"not compared (vxlankit decodes, Wireshark did not show): {shown}"]
    lines += ["", "OK" if report.ok else "FAILED"]
    return "\n".join(lines) + "\n"
