"""``decode -T fields -e FIELD ... [-E OPTION=VALUE ...]``: tshark's field columns.

One line per packet, one column per ``-e`` field, as ``tshark -T fields`` prints them: every
occurrence of a field in the packet (outer first; a repeated field's values in wire order)
joined by the aggregator, integers in decimal or, for a field Wireshark shows in hex, as
``0x`` and two digits a byte of the field, addresses as text, bytes as plain hex digits, and
an absent field as an empty column.  ``-E`` takes tshark's options: ``header=y|n``,
``separator=/t|/s|C``, ``occurrence=f|l|a``, ``aggregator=,|/s|C``, ``quote=d|s|n``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from vxlankit.layers.registry import ALIASES, FIELDS, field_for, frame_protocols
from vxlankit.layers.spec import Field
from vxlankit.packet import Packet
from vxlankit.present.run import DecodedRecord, frame_time_ns, frame_values
from vxlankit.present.timeformat import epoch_str, format_seconds

__all__ = ["FieldsFormat", "field_lines", "fields_format", "unknown_fields"]

# The frame's own fields (from the capture record, not the decoded packet).
FRAME_FIELDS = frozenset({
    "frame.number", "frame.time_epoch", "frame.time_relative", "frame.time_delta",
    "frame.time_delta_displayed", "frame.len", "frame.cap_len", "frame.protocols",
    "frame.interface_id", "frame.interface_name",
})


@dataclass(frozen=True)
class FieldsFormat:
    """What ``-e`` and ``-E`` asked for."""

    names: tuple[str, ...]
    header: bool = False
    separator: str = "\t"
    occurrence: str = "a"  # "f", "l" or "a"
    aggregator: str = ","
    quote: str = ""


def _char(value: str, what: str) -> str:
    if value == "/t":
        return "\t"
    if value == "/s":
        return " "
    if len(value) != 1:
        raise ValueError(f"-E {what}={value}: one character, /t or /s")
    return value


def fields_format(names: Iterable[str], options: Iterable[str]) -> FieldsFormat:
    """The format of ``-e names`` and ``-E options``; ValueError (tshark's wording) for an
    option it does not know."""
    values: dict[str, Any] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep:
            raise ValueError(f"Invalid -E parameter \"{option}\" (expected OPTION=VALUE)")
        if key == "header":
            if value not in ("y", "n"):
                raise ValueError(f"-E header={value}: y or n")
            values["header"] = value == "y"
        elif key == "separator":
            values["separator"] = _char(value, key)
        elif key == "aggregator":
            values["aggregator"] = _char(value, key)
        elif key == "occurrence":
            if value not in ("f", "l", "a"):
                raise ValueError(f"-E occurrence={value}: f, l or a")
            values["occurrence"] = value
        elif key == "quote":
            if value not in ("d", "s", "n"):
                raise ValueError(f"-E quote={value}: d, s or n")
            values["quote"] = {"d": '"', "s": "'", "n": ""}[value]
        else:
            raise ValueError(f"Invalid -E parameter \"{key}\" (header, separator, occurrence, "
                             "aggregator or quote)")
    return FieldsFormat(tuple(names), **values)


def unknown_fields(names: Iterable[str]) -> list[str]:
    """The names neither the registry, its aliases nor the frame fields know."""
    return [n for n in names if n not in FIELDS and n not in ALIASES and n not in FRAME_FIELDS]


def _text(field: Field | None, value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        if field is not None and field.hex:
            width = 2 * field.span[1] if field.span is not None else field.hex
            return f"0x{value:0{width}x}"
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        sep = field.sep if field is not None else ""
        return bytes(value).hex(sep) if sep else bytes(value).hex()
    return str(value)


def _shown(name: str, packet: Packet) -> list[str]:
    """Every occurrence of ``name`` (or of the fields an alias stands for), as text, each
    formatted as the layer that holds it declares the field (VXLAN-GPE's vxlan.flags is one
    byte, VXLAN's two)."""
    return [_text(field_for(fields, n), value)
            for fields, n, value in packet.occurrences(ALIASES.get(name, (name,)))]


def _frame_value(name: str, item: DecodedRecord, shown_ts_ns: int) -> Any:
    rec = item.record
    ns = frame_time_ns(name, item, shown_ts_ns)
    if ns is not None:
        return epoch_str(ns) if name == "frame.time_epoch" else format_seconds(ns, 9)
    if name == "frame.protocols":
        return frame_protocols(item.packet)
    return frame_values(rec, rec.interface).get(name)  # the record's own (what -Y reads)


def _column(name: str, item: DecodedRecord, fmt: FieldsFormat, shown_ts_ns: int) -> str:
    if name in FRAME_FIELDS:
        value = _frame_value(name, item, shown_ts_ns)
        shown = [] if value is None else [_text(None, value)]
    else:
        shown = _shown(name, item.packet)
    occurrence = fmt.occurrence
    if occurrence == "f":
        shown = shown[:1]
    elif occurrence == "l":
        shown = shown[-1:]
    text = fmt.aggregator.join(shown)
    return f"{fmt.quote}{text}{fmt.quote}" if fmt.quote and shown else text


def field_lines(items: Iterable[DecodedRecord], fmt: FieldsFormat) -> Iterator[str]:
    """The header (when asked for), then a line per packet.  ``items`` are the packets shown,
    from one capture: ``frame.time_delta_displayed`` counts from the one shown before."""
    if fmt.header:
        yield fmt.separator.join(fmt.names)
    shown: int | None = None
    for item in items:
        ts = item.record.ts_ns
        before = ts if shown is None else shown
        yield fmt.separator.join(_column(name, item, fmt, before) for name in fmt.names)
        shown = ts
