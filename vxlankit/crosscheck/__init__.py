"""Cross-check vxlankit's decoding of a capture against Wireshark's (tshark through pyshark).

Every field that vxlankit decodes and Wireshark also shows is compared, layer by layer and
occurrence by occurrence; a layer one side has and the other lacks is reported; known, deliberate
differences come from one allow-list (:mod:`vxlankit.crosscheck.allowlist`) and are reported as
allowed, never dropped.  See ``docs/crosscheck.md``.

::

    from vxlankit.crosscheck import crosscheck, render_text
    report = crosscheck("overlay.pcapng", vxlan_ports=(4789, 8472))
    print(render_text(report))
    raise SystemExit(0 if report.ok else 1)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from os import PathLike
from pathlib import Path

from vxlankit.capture.reader import open_capture
from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions, decode
from vxlankit.codec.analysis import Analysis
from vxlankit.crosscheck.allowlist import RULES, VXLANKIT_ONLY_FIELDS, Rule, all_rules
from vxlankit.crosscheck.compare import COMPARED_PROTOCOLS, Tally, compare_packet
from vxlankit.crosscheck.fieldtypes import CrosscheckError, tshark_info
from vxlankit.crosscheck.report import (
    PACKET,
    Allowed,
    CrosscheckReport,
    Disagreement,
    render_text,
)
from vxlankit.crosscheck.wireshark import PREFS, decode_as_for, dissect, find_tshark
from vxlankit.packet import Packet

DEFAULT_LIMIT = 2000

Hook = Callable[[int, Packet], None]

__all__ = [
    "COMPARED_PROTOCOLS",
    "DEFAULT_LIMIT",
    "RULES",
    "VXLANKIT_ONLY_FIELDS",
    "Allowed",
    "CrosscheckError",
    "CrosscheckReport",
    "Disagreement",
    "Hook",
    "Rule",
    "all_rules",
    "crosscheck",
    "describe_allow_list",
    "render_text",
]


def crosscheck(
    path: str | PathLike[str],
    *,
    vxlan_ports: Sequence[int] = (4789, 8472),
    gpe_ports: Sequence[int] = (4790,),
    geneve_ports: Sequence[int] = (6081,),
    limit: int | None = DEFAULT_LIMIT,
    hook: Hook | None = None,
    tshark_path: str | None = None,
) -> CrosscheckReport:
    """Decode ``path`` with vxlankit and with tshark and compare the two.

    ``vxlan_ports``/``gpe_ports``/``geneve_ports`` are the UDP destination ports decoded as
    VXLAN / VXLAN-GPE / Geneve, on both sides (tshark gets the matching decode-as entries).
    Only the first ``limit`` packets are compared (``None`` or 0: all of them);
    ``report.sampled`` says whether that left any out.
    pyshark reads a few thousand packets a second at best, hence the default.

    ``hook(number, packet)`` is called on each of vxlankit's decoded packets before the
    comparison and may change it; the tests use it to prove that a wrong value is caught.

    Raises :class:`CrosscheckError` when tshark or pyshark is missing or tshark fails, and
    :class:`~vxlankit.errors.CaptureError` when the capture cannot be read.
    """
    source = Path(path)
    if limit is not None and limit < 0:
        raise CrosscheckError(f"limit must be 0 or more, not {limit}", path=str(source))
    limit = limit or None
    tshark = find_tshark(tshark_path)
    info = tshark_info(tshark)
    options = DEFAULT_OPTIONS.with_vxlan_ports(tuple(vxlan_ports), tuple(gpe_ports)
                                               ).with_geneve_ports(tuple(geneve_ports))
    decode_as = decode_as_for(vxlan_ports, gpe_ports, geneve_ports)
    report = CrosscheckReport(str(source), info.version, decode_as, dict(PREFS), limit)
    tally = Tally(info.fields)
    # The FCS length is a property of the interface (pcapng if_fcslen, pcap's FCS bits).
    per_fcslen: dict[int, DecodeOptions] = {0: options}
    analyze = Analysis()
    with open_capture(source) as reader, dissect(source, tshark=tshark, decode_as=decode_as,
                                                 limit=limit) as theirs:
        ours = iter(reader)
        for ws_packet in theirs:
            record = next(ours, None)
            if record is None:
                tally.disagree(ws_packet.number, "frame", 1, PACKET, "(absent)", "(present)")
                continue
            if record.number != ws_packet.number:
                raise CrosscheckError(f"tshark's packet {ws_packet.number} came where vxlankit "
                                      f"read packet {record.number}", path=str(source))
            fcslen = record.interface.fcslen or 0
            if fcslen not in per_fcslen:
                per_fcslen[fcslen] = replace(options, fcs_len=fcslen)
            packet = analyze(decode(record.data, record.interface.linktype,
                                    per_fcslen[fcslen]))
            if hook is not None:
                hook(record.number, packet)
            compare_packet(record.number, packet, ws_packet.layers, tally)
            report.packets_compared += 1
        leftover = next(ours, None)
        if leftover is not None:
            if limit is not None and report.packets_compared >= limit:
                report.sampled = True
            else:
                tally.disagree(leftover.number, "frame", 1, PACKET, "(present)", "(absent)")
    report.layers_compared = tally.layers_compared
    report.fields_compared = tally.fields_compared
    report.layers_by_protocol = dict(tally.layers_by_protocol)
    report.disagreements = tally.disagreements
    report.allowed = tally.allowed()
    report.not_shown = dict(tally.not_shown)
    return report


def describe_allow_list() -> str:
    """The allow-list as text, one entry a line (for a ``--explain`` option or the docs)."""
    return "\n".join(f"{rule.key}: {rule.subject}: {rule.reason}" for rule in all_rules())
