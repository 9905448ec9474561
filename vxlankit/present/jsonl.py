"""JSON Lines: one object per packet, field names and value forms as Wireshark's.

The schema is documented in ``docs/json.md``.  In short::

    {"frame": {"frame.number": 1, "frame.time_epoch": "1368908504.837063000", "frame.len": 148,
               "frame.cap_len": 148, "frame.interface_id": 0,
               "frame.protocols": "eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:icmp:data"},
     "layers": [{"proto": "eth", "offset": 0, "length": 14, "status": "ok",
                 "fields": {"eth.dst": "00:16:3e:08:71:cf", ...}}, ...],
     "errors": []}

Integers are JSON numbers, addresses strings as Wireshark displays them, byte strings
colon-separated hex (Wireshark's FT_BYTES display).  ``frame.time_epoch`` is a string, exact to
the nanosecond (no float on the way).

Speed: the objects are plain dicts holding the packet's own field dicts (no copy), serialised
by one precomputed C encoder whose ``default`` hook turns ``bytes`` into hex.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from vxlankit.packet import Packet
from vxlankit.present.run import DecodedRecord, RecordLike
from vxlankit.present.summary import epoch_str

__all__ = ["SCHEMA_VERSION", "dumps", "frame_protocols", "json_lines", "packet_object",
           "record_json", "record_object"]

SCHEMA_VERSION = 1

# Layers after which tshark lists its "ethertype" pseudo-protocol in frame.protocols.
_TYPED = {"vlan": "vlan.etype", "ieee8021ad": "ieee8021ad.etype", "sll": "sll.etype"}
# vxlankit layers that tshark shows inside another protocol, not in frame.protocols.
_NOT_PROTOCOLS = frozenset({"trailer", "fcs"})


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex(":")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_default, check_circular=False)
dumps = _ENCODER.encode
"""Serialise a JSON-able object (``bytes`` become colon-hex) on one line."""


def frame_protocols(packet: Packet) -> str:
    """The stack in tshark's ``frame.protocols`` spelling (``ethertype`` after typed link
    layers; trailers and FCS are not listed, as tshark keeps them inside ``eth``)."""
    names: list[str] = []
    for layer in packet.layers:
        proto = layer.proto
        if proto in _NOT_PROTOCOLS:
            continue
        names.append(proto)
        if proto == "eth":
            if "eth.type" in layer.fields:
                names.append("ethertype")
        elif proto in _TYPED and _TYPED[proto] in layer.fields:
            names.append("ethertype")
    return ":".join(names)


def packet_object(packet: Packet) -> dict[str, Any]:
    """``{"layers": [...], "errors": [...]}`` for a packet (no frame metadata)."""
    layers: list[dict[str, Any]] = []
    for layer in packet.layers:
        obj: dict[str, Any] = {"proto": layer.proto, "offset": layer.offset,
                               "length": layer.length, "status": layer.status,
                               "fields": layer.fields}
        if layer.notes:
            obj["notes"] = list(layer.notes)
        if layer.raw is not None:
            obj["raw"] = layer.raw
        layers.append(obj)
    return {"layers": layers, "errors": packet.errors}


def record_object(record: RecordLike, packet: Packet, *, file: str | None = None
                  ) -> dict[str, Any]:
    """The whole JSON object of one packet."""
    iface = record.interface
    frame: dict[str, Any] = {
        "frame.number": record.number,
        "frame.time_epoch": epoch_str(record.ts_ns),
        "frame.len": record.orig_len,
        "frame.cap_len": record.cap_len,
    }
    if_id = getattr(iface, "id", None)
    if if_id is not None:
        frame["frame.interface_id"] = if_id
    if iface.name is not None:
        frame["frame.interface_name"] = iface.name
    if record.comment is not None:
        frame["frame.comment"] = record.comment
    frame["frame.protocols"] = frame_protocols(packet)
    obj: dict[str, Any] = {"frame": frame} if file is None else {"file": file, "frame": frame}
    obj.update(packet_object(packet))
    return obj


# --------------------------------------------------------------------------------------------
# The fast writer: the same text as ``dumps(record_object(...))``, built from cached templates
#
# A decoded layer of a given protocol, status and field names always has the same JSON shape,
# so its text is a %-template with a slot per value: ``%d`` for an int (it raises for anything
# else, which sends the layer to the generic encoder), ``"%s"`` for an address string (the codec
# makes them from hex digits, dots and colons only, so they need no escaping), and ``"%s"`` for
# bytes turned into colon-hex first.

_SAFE_STR_FIELDS = frozenset({
    "eth.dst", "eth.src", "ip.src", "ip.dst", "arp.src.hw_mac", "arp.dst.hw_mac",
    "arp.src.proto_ipv4", "arp.dst.proto_ipv4", "sll.src.eth", "null.byte_order",
})
_encode_str = json.encoder.encode_basestring_ascii
_Template = tuple[str, tuple[int, ...]] | None
_templates: dict[tuple[Any, ...], _Template] = {}


def _make_template(proto: str, status: str, fields: dict[str, Any]) -> _Template:
    parts = []
    byte_slots = []
    for slot, (name, value) in enumerate(fields.items(), start=2):
        kind = type(value)
        key = _encode_str(name).replace("%", "%%")
        if kind is int:
            parts.append(f"{key}:%d")
        elif kind is str and name in _SAFE_STR_FIELDS:
            parts.append(f'{key}:"%s"')
        elif kind is bytes:
            parts.append(f'{key}:"%s"')
            byte_slots.append(slot)
        else:
            return None
    head = ('{"proto":' + _encode_str(proto).replace("%", "%%") + ',"offset":%d,"length":%d,'
            '"status":' + _encode_str(status).replace("%", "%%") + ',"fields":{')
    return head + ",".join(parts) + "}}", tuple(byte_slots)


def _layer_json(layer: Any) -> str:
    fields = layer.fields
    if not layer.notes and layer.raw is None:
        key = (layer.proto, layer.status, *fields)
        try:
            template = _templates[key]
        except KeyError:
            if len(_templates) > 4096:
                _templates.clear()
            template = _templates[key] = _make_template(layer.proto, layer.status, fields)
        if template is not None:
            text, byte_slots = template
            values = [layer.offset, layer.length, *fields.values()]
            for slot in byte_slots:
                values[slot] = values[slot].hex(":")
            try:
                return text % tuple(values)
            except TypeError:
                pass
    obj: dict[str, Any] = {"proto": layer.proto, "offset": layer.offset, "length": layer.length,
                           "status": layer.status, "fields": fields}
    if layer.notes:
        obj["notes"] = list(layer.notes)
    if layer.raw is not None:
        obj["raw"] = layer.raw
    return dumps(obj)


def record_json(record: RecordLike, packet: Packet, *, file: str | None = None) -> str:
    """``dumps(record_object(record, packet, file=file))``, several times faster."""
    iface = record.interface
    head = '{"frame":{' if file is None else '{"file":' + _encode_str(file) + ',"frame":{'
    text = (f'{head}"frame.number":{record.number:d},'
            f'"frame.time_epoch":"{epoch_str(record.ts_ns)}",'
            f'"frame.len":{record.orig_len:d},"frame.cap_len":{record.cap_len:d}')
    if_id = getattr(iface, "id", None)
    if if_id is not None:
        text += f',"frame.interface_id":{if_id:d}'
    if iface.name is not None:
        text += ',"frame.interface_name":' + _encode_str(iface.name)
    if record.comment is not None:
        text += ',"frame.comment":' + _encode_str(record.comment)
    errors = packet.errors
    return (f'{text},"frame.protocols":{_encode_str(frame_protocols(packet))}}},"layers":['
            + ",".join([_layer_json(layer) for layer in packet.layers])
            + '],"errors":' + (dumps(errors) if errors else "[]") + "}")


def json_lines(items: Iterable[DecodedRecord], *, file: str | None = None) -> Iterator[str]:
    """One JSON text (no newline) per decoded record."""
    for item in items:
        yield record_json(item.record, item.packet, file=file)
