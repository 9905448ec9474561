"""One packet, vxlankit's decode against tshark's dissection, layer by layer.

Layers are paired by protocol and occurrence (the second ``eth`` of each side is the inner
Ethernet header of a VXLAN frame).  Within a pair every field both sides show is compared, after
normalising both values by the field's Wireshark type.  Where a name occurs more than once in a
PDML layer (pyshark folds nested protocols into their parent), the occurrence that lies inside
vxlankit's header is the one compared.

Bytes after a payload (vxlankit's ``trailer`` layer) are compared as a region: the bytes must be
the same, while the split into ``eth.padding``/``eth.trailer`` may differ (see the allow-list).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from vxlankit.crosscheck import allowlist
from vxlankit.crosscheck.fieldtypes import FieldType, normalise, parse_show, render
from vxlankit.crosscheck.report import ABSENT, LAYER, PRESENT, Allowed, Disagreement
from vxlankit.crosscheck.wireshark import ANCHORS, WsField, WsLayer
from vxlankit.layers.registry import ETHERTYPE_FIELDS, LAYERS
from vxlankit.packet import TRUNCATED, Layer, Packet

COMPARED_PROTOCOLS = tuple(dict.fromkeys(spec.proto for spec in LAYERS))
# Every name tshark 4.0 gives bytes after a payload, whichever dissector found them.
WS_TRAILER_FIELDS = frozenset({"eth.padding", "eth.trailer", "vlan.trailer",
                               "ieee8021ah.trailer", "sll.trailer"})
_QINQ_OLD = 0x9100
_OUR_TRAILER_FIELDS = ("eth.padding", "eth.trailer")


class Tally:
    """What the comparison of many packets adds up to."""

    def __init__(self, types: Mapping[str, FieldType]) -> None:
        self.types = types
        self.layers_compared = 0
        self.layers_by_protocol: Counter[str] = Counter()
        self.fields_compared = 0
        self.disagreements: list[Disagreement] = []
        self.not_shown: Counter[str] = Counter()
        self._allowed: dict[tuple[str, str, str], list[Any]] = {}

    def disagree(self, packet: int, layer: str, occurrence: int, name: str, ours: str,
                 theirs: str) -> None:
        self.disagreements.append(Disagreement(packet, layer, occurrence, name, ours, theirs))

    def allow(self, rule: allowlist.Rule, packet: int, layer: str, name: str,
              example: str) -> None:
        key = (rule.key, layer, name)
        entry = self._allowed.get(key)
        if entry is None:
            self._allowed[key] = [rule, 1, packet, example]
        else:
            entry[1] += 1

    def allowed(self) -> list[Allowed]:
        return [Allowed(rule.key, layer, name, rule.reason, count, first, example)
                for (_, layer, name), (rule, count, first, example) in self._allowed.items()]


def compare_packet(number: int, ours: Packet, theirs: list[WsLayer], tally: Tally) -> None:
    data = [(layer.offset, layer.offset + layer.length) for layer in ours.layers
            if layer.proto == "data"]
    theirs = _rename_qinq(number, ours, theirs, tally)
    ws_by_proto: dict[str, list[WsLayer]] = {}
    for ws in theirs:
        if ws.proto in COMPARED_PROTOCOLS:
            ws_by_proto.setdefault(ws.proto, []).append(ws)
    seen: Counter[str] = Counter()
    nested_taken: set[tuple[str, int | None]] = set()
    for layer in ours.layers:
        if layer.proto not in COMPARED_PROTOCOLS:
            continue
        seen[layer.proto] += 1
        occurrence = seen[layer.proto]
        candidates = ws_by_proto.get(layer.proto, [])
        if occurrence > len(candidates):
            host = _nested_host(theirs, layer)
            if host is not None:
                # A protocol tshark dissects inside its parent's tree (IPv6 extension headers
                # in ipv6): its fields are in the parent's PDML layer, picked by position.
                nested_taken.add((layer.proto, layer.offset))
                tally.layers_compared += 1
                tally.layers_by_protocol[layer.proto] += 1
                _compare_layer(number, layer, occurrence, host, tally)
                continue
            if layer.status == TRUNCATED and not layer.fields:
                tally.allow(allowlist.RULES[allowlist.CUT_HEADER], number, layer.proto, LAYER,
                            f"packet {number}: {layer.length} of the header's bytes at offset "
                            f"{layer.offset}")
            else:
                tally.disagree(number, layer.proto, occurrence, LAYER, PRESENT, ABSENT)
            continue
        tally.layers_compared += 1
        tally.layers_by_protocol[layer.proto] += 1
        _compare_layer(number, layer, occurrence, candidates[occurrence - 1], tally)
    ws_seen: Counter[str] = Counter()
    for index, ws in enumerate(theirs):
        if ws.proto not in COMPARED_PROTOCOLS:
            continue
        ws_seen[ws.proto] += 1
        if ws_seen[ws.proto] > seen[ws.proto]:
            _wireshark_only(number, ws.proto, ws_seen[ws.proto], ws.start,
                            _carrier(theirs, index), data, tally)
    for ws in theirs:
        for proto, start in _nested(ws):
            if (proto, start) in nested_taken or (proto == "ip" and ("ipv6", start) in
                                                  nested_taken):
                continue  # (tshark's IPv6 dissector adds a hidden ip.version: the same header)
            ws_seen[proto] += 1
            _wireshark_only(number, proto, ws_seen[proto], start, ws.proto, data, tally)
    _compare_trailers(number, ours, theirs, tally)


_TYPE_FIELDS = tuple(ETHERTYPE_FIELDS.values())


def _rename_qinq(number: int, ours: Packet, theirs: list[WsLayer], tally: Tally) -> list[WsLayer]:
    """tshark's ``vlan`` layers for tags vxlankit reads as 802.1ad (TPID 0x9100), renamed to
    ``ieee8021ad`` so that they pair with vxlankit's (see the allow-list)."""
    offsets = set()
    previous: Layer | None = None
    for layer in ours.layers:
        if layer.proto == "ieee8021ad" and previous is not None and any(
                previous.fields.get(name) == _QINQ_OLD for name in _TYPE_FIELDS):
            offsets.add(layer.offset)
        previous = layer
    if not offsets:
        return theirs
    out = []
    for ws in theirs:
        if ws.proto == "vlan" and ws.start in offsets:
            fields = {("ieee8021ad." + name[5:] if name.startswith("vlan.")
                       and name not in WS_TRAILER_FIELDS else name): items
                      for name, items in ws.fields.items()}
            tally.allow(allowlist.RULES[allowlist.QINQ_9100], number, "ieee8021ad", LAYER,
                        f"packet {number}: tag at offset {ws.start}")
            ws = WsLayer("ieee8021ad", fields)
        out.append(ws)
    return out


def _carrier(theirs: list[WsLayer], index: int) -> str:
    """The protocol that handed Wireshark this layer: the nearest one before it that vxlankit
    does not decode, or else the layer just before it."""
    for ws in reversed(theirs[:index]):
        if ws.proto not in COMPARED_PROTOCOLS:
            return ws.proto
    return theirs[index - 1].proto if index else "frame"


def _nested(ws: WsLayer) -> list[tuple[str, int | None]]:
    """Compared protocols tshark dissected inside ``ws`` (pyshark keeps their fields in ``ws``),
    each with where it starts, in the order they occur."""
    found: list[tuple[str, int | None]] = []
    start = ws.start
    for proto, anchor in ANCHORS.items():
        occurrences = ws.fields.get(anchor, [])
        # The layer's own header is the first occurrence of its own anchor.
        nested = occurrences[1:] if proto == ws.proto else occurrences
        # A nested protocol is carried in the payload, after the header that holds it; an anchor
        # at or before that header's start re-reads the same bytes (tshark's IPv6 dissector,
        # called for a version-6 header behind EtherType IPv4, adds its own ip.version).
        found += [(proto, item.pos) for item in nested
                  if item.pos is None or start is None or item.pos > start]
    return sorted(found, key=lambda item: -1 if item[1] is None else item[1])


def _nested_host(theirs: list[WsLayer], layer: Layer) -> WsLayer | None:
    """The PDML layer holding, nested, a header of ``layer``'s protocol at its offset."""
    anchor = ANCHORS.get(layer.proto)
    for ws in theirs:
        if ws.proto != layer.proto and any(
                item.pos == layer.offset for item in ws.fields.get(anchor or "", ())):
            return ws
    return None


def _wireshark_only(number: int, proto: str, occurrence: int, start: int | None, carrier: str,
                    data: list[tuple[int, int]], tally: Tally) -> None:
    if start is not None and any(lo <= start < hi for lo, hi in data):
        tally.allow(allowlist.RULES[allowlist.WIRESHARK_ONLY_LAYER], number, proto, LAYER,
                    f"packet {number}: {proto} at offset {start}, beneath {carrier}")
        return
    tally.disagree(number, proto, occurrence, LAYER, ABSENT, PRESENT)


def _pick(occurrences: list[WsField], lo: int, hi: int) -> WsField:
    for item in occurrences:
        if item.pos is not None and lo <= item.pos < hi:
            return item
    return occurrences[0]


def _compare_layer(number: int, layer: Layer, occurrence: int, ws: WsLayer,
                   tally: Tally) -> None:
    lo, hi = layer.offset, layer.offset + max(layer.length, 1)
    for name, value in layer.fields.items():
        _compare_field(number, layer.proto, occurrence, name, value, ws.fields.get(name), lo, hi,
                       ws, tally)


def _compare_field(number: int, proto: str, occurrence: int, name: str, value: Any,
                   occurrences: list[WsField] | None, lo: int, hi: int, ws: WsLayer | None,
                   tally: Tally) -> None:
    ftype = tally.types.get(name)
    if ftype is None:
        rule = allowlist.VXLANKIT_ONLY_FIELDS.get(name)
        if rule is None:
            tally.disagree(number, proto, occurrence, name, render(value, None),
                           "(no such Wireshark field)")
        else:
            shown = render(value, None) or "(empty)"
            tally.allow(rule, number, proto, name, f"packet {number}: {shown}")
        return
    if name == "ip.dst" and ws is not None:
        current = [item for item in ws.fields.get("ip.cur_rt", []) if item.pos == lo + 16]
        if current:
            tally.fields_compared += 1
            if normalise(value, ftype) == parse_show(current[0].show, ftype):
                tally.allow(allowlist.RULES[allowlist.SOURCE_ROUTE], number, proto, name,
                            f"packet {number}: {value}")
            else:
                tally.disagree(number, proto, occurrence, name, render(value, ftype),
                               f"ip.cur_rt={current[0].show}")
            return
    if not occurrences:
        tally.not_shown[name] += 1
        return
    if type(value) is list:
        _compare_repeated(number, proto, occurrence, name, value, occurrences, lo, hi, ftype,
                          tally)
        return
    item = _pick(occurrences, lo, hi)
    tally.fields_compared += 1
    if normalise(value, ftype) == parse_show(item.show, ftype):
        return
    if name == "icmp.unused" and ws is not None and _icmp_unused_split(value, ws, lo):
        tally.allow(allowlist.RULES[allowlist.ICMP_UNUSED_SPLIT], number, proto, name,
                    f"packet {number}: {render(value, ftype)}")
        return
    tally.disagree(number, proto, occurrence, name, render(value, ftype), item.show)


def _compare_repeated(number: int, proto: str, occurrence: int, name: str, values: list[Any],
                      occurrences: list[WsField], lo: int, hi: int, ftype: FieldType,
                      tally: Tally) -> None:
    """A repeated field (options, records): its values in wire order against tshark's
    occurrences inside the layer, one by one, and their count."""
    theirs = [item for item in occurrences if item.pos is not None and lo <= item.pos < hi]
    if not theirs and all(item.pos is None for item in occurrences):
        theirs = occurrences
    j = 0
    for i, value in enumerate(values):
        mine = normalise(value, ftype)
        if j < len(theirs) and mine == parse_show(theirs[j].show, ftype):
            tally.fields_compared += 1
            j += 1
            continue
        if isinstance(value, (bytes, bytearray)) and not value:
            continue  # tshark adds no item for some empty byte strings (Geneve option data)
        tally.fields_compared += 1
        tally.disagree(number, proto, occurrence, f"{name}[{i}]", render(value, ftype),
                       theirs[j].show if j < len(theirs) else ABSENT)
        j += 1
    if len(theirs) > j:
        tally.fields_compared += 1
        tally.disagree(number, proto, occurrence, name, f"{len(values)} occurrences",
                       f"{len(theirs)} occurrences")


# How tshark 4.0 may show the 4 bytes vxlankit calls icmp.unused, and each piece's width.
_ICMP_UNUSED_PIECES = {"icmp.unused": 0, "icmp.length": 1, "icmp.mtu": 2}


def _icmp_unused_split(value: Any, ws: WsLayer, start: int) -> bool:
    """Whether the pieces tshark shows in bytes 4-7 of the ICMP header (icmp.unused, the
    RFC 4884 icmp.length, the RFC 1191 icmp.mtu) rebuild vxlankit's ``value`` exactly."""
    if not isinstance(value, (bytes, bytearray)) or len(value) != 4:
        return False
    pieces: dict[int, bytes] = {}
    for name, width in _ICMP_UNUSED_PIECES.items():
        for item in ws.fields.get(name, []):
            if item.pos is None or not start + 4 <= item.pos < start + 8:
                continue
            try:
                chunk = (bytes.fromhex(item.show.replace(":", "")) if not width
                         else int(item.show).to_bytes(width, "big"))
            except (ValueError, OverflowError):
                return False
            pieces[item.pos - start] = chunk
    rebuilt = b""
    for offset in sorted(pieces):
        if offset != 4 + len(rebuilt):
            return False
        rebuilt += pieces[offset]
    return rebuilt == bytes(value)


def _ws_trailer_fields(theirs: list[WsLayer]) -> list[WsField]:
    found = [item for ws in theirs for name, occurrences in ws.fields.items()
             if name in WS_TRAILER_FIELDS for item in occurrences if item.pos is not None]
    return sorted(found, key=lambda item: item.pos if item.pos is not None else -1)


def _bytes_of(item: WsField) -> bytes | None:
    try:
        return bytes.fromhex(item.show.replace(":", ""))
    except ValueError:
        return None


def _compare_trailers(number: int, ours: Packet, theirs: list[WsLayer], tally: Tally) -> None:
    ws_fields: list[WsField] | None = None
    occurrence = 0
    for layer in ours.layers:
        if layer.proto not in ("trailer", "fcs"):
            continue
        occurrence += 1
        if layer.proto == "fcs":
            _compare_fcs(number, layer, occurrence, theirs, tally)
        names = [name for name in _OUR_TRAILER_FIELDS if name in layer.fields]
        if not names:
            continue
        if ws_fields is None:
            ws_fields = _ws_trailer_fields(theirs)
        mine = b"".join(bytes(layer.fields[name]) for name in names)
        start = layer.offset
        ours_split = []
        pos = start
        for name in names:
            ours_split.append((name, pos))
            pos += len(layer.fields[name])
        inside = [item for item in ws_fields
                  if item.pos is not None and start <= item.pos < start + len(mine)]
        if not inside:
            # tshark shows nothing for bytes past an IPv4 datagram on a raw-IP or NULL link, and
            # nothing when a trailer heuristic (f5ethtrailer, ...) claimed them and failed.
            for name in names:
                tally.not_shown[name] += 1
            continue
        chunks = [_bytes_of(item) for item in inside]
        label = "+".join(names)
        tally.fields_compared += len(names)
        theirs_bytes = b"".join(c for c in chunks if c is not None)
        if None in chunks or theirs_bytes != mine:
            shown = " ".join(f"{item.name}={item.show}" for item in inside)
            tally.disagree(number, "trailer", occurrence, label, mine.hex(":"), shown)
            continue
        theirs_split = [(item.name, item.pos) for item in inside]
        if theirs_split != ours_split:
            rule = allowlist.RULES[allowlist.TRAILER_NAMING]
            ws_label = "+".join(item.name for item in inside)
            tally.allow(rule, number, "trailer", rule.subject,
                        f"packet {number}: {len(mine)} bytes at offset {start}, {label} / "
                        f"{ws_label}")


def _compare_fcs(number: int, layer: Layer, occurrence: int, theirs: list[WsLayer],
                 tally: Tally) -> None:
    """The FCS fields, wherever tshark put them (the outermost Ethernet layer)."""
    lo, hi = layer.offset, layer.offset + max(layer.length, 1)
    for name, value in layer.fields.items():
        if name in _OUR_TRAILER_FIELDS:
            continue  # an FCS of another length: compared with the trailer bytes
        shown = [item for ws in theirs for item in ws.fields.get(name, [])]
        _compare_field(number, "fcs", occurrence, name, value, shown, lo, hi, None, tally)
