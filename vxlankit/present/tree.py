"""``-V``: every layer and field of a packet, with Wireshark's names, values and byte spans.

::

    Frame 1: 148 bytes on wire (1184 bits), 148 bytes captured (1184 bits)
        frame.time_epoch: 1368908504.837063000
        ...
    Internet Protocol Version 4 (ip), bytes 14-33, Src: 192.168.203.1, Dst: 192.168.202.1
        ip.version: 4                                        byte 14, mask 0xf0
        ...
        ip.checksum: 0x5152 [good]                           bytes 24-25
        ip.checksum.status: good (1)                         bytes 24-25

Byte spans are offsets in the frame (as Wireshark's status bar shows them), inclusive; a field
that is a few bits of its bytes also shows the mask.  Checksums show their status (good, bad
with the value it should have been, unverified, not present).
"""

from __future__ import annotations

from typing import Any

from vxlankit.codec import LINKTYPE_NAMES
from vxlankit.layers.registry import TITLES, field_for, field_of, frame_protocols, spec_for
from vxlankit.packet import (
    CHECKSUM_BAD,
    CHECKSUM_STATUS_NAMES,
    OK,
    Layer,
    Packet,
)
from vxlankit.present.palette import PLAIN, Palette
from vxlankit.present.run import DecodedRecord
from vxlankit.present.timeformat import epoch_str, format_seconds

__all__ = ["LAYER_TITLES", "field_span", "format_value", "packet_tree", "record_tree"]

# Titles, field places, hex widths and value names all come from the layers' specs.
LAYER_TITLES = TITLES

Span = tuple[int, int, int | None]  # (offset in the layer, length, bit mask or None)


def field_span(layer: Layer, name: str) -> Span:
    """Where ``name`` sits in ``layer``: (offset in the layer, length, mask or None)."""
    spec = spec_for(layer)
    if spec is not None:
        if spec.span is not None:
            found = spec.span(layer, name)
            if found is not None:
                return found
        field = field_of(spec, name)
        if field is not None and field.span is not None:
            return field.span
    elif layer.proto == "trailer":
        pad = len(layer.fields.get("eth.padding", b""))
        if name == "eth.padding":
            return 0, pad, None
        if name == "eth.trailer":
            return pad, layer.length - pad, None
    return 0, layer.length, None


def format_value(fields: dict[str, Any], name: str, value: Any) -> str:
    """A field value as ``-V`` shows it."""
    if isinstance(value, (bytes, bytearray)):
        if not value:
            return "(empty)"
        text = bytes(value).hex(":")
        if len(value) > 32:
            text = bytes(value[:32]).hex(":") + f"... ({len(value)} bytes)"
        return text
    if not isinstance(value, int) or isinstance(value, bool):
        return str(value)
    if name.endswith(".checksum.status") or name == "eth.fcs.status":
        return f"{CHECKSUM_STATUS_NAMES.get(value, 'unknown')} ({value})"
    field = field_for(fields, name)
    width = field.hex if field is not None else 0
    text = f"0x{value:0{width}x}" if width else str(value)
    if name == "ip.id" or name == "icmp.ident":
        text += f" ({value})"
    names = field.names if field is not None else None
    if names is not None:
        label = names.get(value)
        if label is not None:
            text += f" ({label})"
    if name.endswith(".checksum") or name == "eth.fcs":
        status = fields.get(name + ".status")
        if status == CHECKSUM_BAD:
            calc = fields.get(name + "_calculated")
            should = f", should be 0x{calc:0{width}x}" if isinstance(calc, int) else ""
            text += f" [bad{should}]"
        elif status is not None:
            text += f" [{CHECKSUM_STATUS_NAMES.get(status, 'unknown')}]"
    return text


def _span_text(start: int, length: int, mask: int | None) -> str:
    if length <= 0:
        return ""
    text = f"byte {start}" if length == 1 else f"bytes {start}-{start + length - 1}"
    if mask is not None:
        text += f", mask 0x{mask:0{length * 2}x}"
    return text


def _layer_title(layer: Layer) -> str:
    title = TITLES.get(layer.proto, layer.proto)
    spec = spec_for(layer)
    extra = spec.title_extra(layer.fields) if spec is not None and spec.title_extra else ""
    span = _span_text(layer.offset, layer.length, None)
    return f"{title} ({layer.proto}), {span}{extra}"


_WIDTH = 52


def packet_tree(packet: Packet, pal: Palette = PLAIN) -> list[str]:
    """The lines of every layer, field, note and error of ``packet`` (no frame header)."""
    lines: list[str] = []
    reset = pal.reset
    for layer in packet.layers:
        title = _layer_title(layer)
        if layer.status != OK:
            title += f" [{layer.status}]"
        lines.append(f"{pal.proto}{title}{reset}" if reset else title)
        fields = layer.fields
        for name, value in fields.items():
            off, size, mask = field_span(layer, name)
            span = _span_text(layer.offset + off, size, mask)
            # A repeated field (options, records): a line per occurrence, as Wireshark's tree.
            for one in value if type(value) is list else (value,):
                shown = format_value(fields, name, one)
                entry = f"    {name}: {shown}"
                pad = " " * max(1, _WIDTH - len(entry))
                if reset and "[bad" in shown:
                    entry = f"    {name}: {pal.bad}{shown}{reset}"
                lines.append(f"{entry}{pad}{pal.dim}{span}{reset}" if span else entry)
        if layer.raw is not None:
            raw = format_value(fields, "raw", layer.raw)
            lines.append(f"    [raw, not dissected: {raw}]")
        for note in layer.notes:
            lines.append(f"    {pal.mark}[note: {note}]{reset}" if reset else f"    [note: {note}]")
    if packet.errors:
        lines.append("Errors")
        for error in packet.errors:
            lines.append(f"    {pal.bad}{error}{reset}" if reset else f"    {error}")
    return lines


def record_tree(item: DecodedRecord, pal: Palette = PLAIN) -> str:
    """The whole ``-V`` text of one decoded record (frame header, then ``packet_tree``)."""
    rec = item.record
    packet = item.packet
    iface = rec.interface
    on = f" on interface {iface.name}" if iface.name else ""
    lines = [
        f"{pal.proto}Frame {rec.number}: {rec.orig_len} bytes on wire ({rec.orig_len * 8} bits), "
        f"{rec.cap_len} bytes captured ({rec.cap_len * 8} bits){on}{pal.reset}",
        f"    frame.time_epoch: {epoch_str(rec.ts_ns)}",
        f"    frame.time_relative: {format_seconds(rec.ts_ns - item.first_ts_ns, 9)}",
        f"    frame.time_delta: {format_seconds(rec.ts_ns - item.prev_ts_ns, 9)}",
        f"    frame.number: {rec.number}",
        f"    frame.len: {rec.orig_len}",
        f"    frame.cap_len: {rec.cap_len}",
        f"    frame.encapsulation: {LINKTYPE_NAMES.get(iface.linktype, 'unknown')} "
        f"(linktype {iface.linktype})",
    ]
    if rec.comment is not None:
        lines.append(f"    frame.comment: {rec.comment}")
    lines.append(f"    frame.protocols: {frame_protocols(packet)}")
    lines.extend(packet_tree(packet, pal))
    return "\n".join(lines)
