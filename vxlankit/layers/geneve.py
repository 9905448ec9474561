"""Geneve, Generic Network Virtualization Encapsulation (RFC 8926), UDP port 6081.

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |        Virtual Network Identifier (VNI)       |    Reserved   |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                                                               |
    ~                    Variable-Length Options                    ~
    |                                                               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Each option (Opt Len counts the options' 4-byte words, Length an option's data words):

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          Option Class         |      Type     |R|R|R| Length  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    ~                  Variable-Length Option Data                  ~
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

The high bit of Type is the critical bit.  Protocol Type is an EtherType: 0x6558 (Transparent
Ethernet Bridging) carries an Ethernet frame, 0x0800 IPv4, 0x86DD IPv6.

Fields are tshark 4.0's (packet-geneve.c).  Wireshark shows the header's option length and each
option's length under one name, ``geneve.option.length``, both in bytes: the header's Opt Len
times 4 first, then each option's whole length (4 + its Length times 4).  vxlankit keeps that
order, so ``geneve.option.length`` is a list one longer than the other option lists
(``geneve.option.class``, ``geneve.option.type``, ``geneve.option.flags``,
``geneve.option.unknown.data`` and the views ``geneve.option.type.critical``,
``geneve.option.flags.reserved``), which are absent when the header has no options.
Wireshark calls option data ``geneve.option.unknown.data`` except for Google Cloud's three
options (class 0x0132), which it dissects further; vxlankit keeps every option's data under the
one name.  An option whose length runs past the end of the options is kept with the bytes there
are (the layer is malformed, as Wireshark reports it), so the header re-encodes byte for byte.

Authoritative fields for encoding: ``geneve.version``, ``geneve.option.length`` (with
``fix_lengths`` or left ``None``: from the options), ``geneve.flags``, ``geneve.proto_type``
(``None``: from the next layer), ``geneve.vni``, ``geneve.reserved`` and per option its class,
type, flags (the 3 reserved bits) and data; ``geneve.flags.*`` and the option views are views.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from typing import Any

from construct import (
    Bytes,
    Computed,
    Container,
    FixedSized,
    GreedyBytes,
    GreedyRange,
    Int8ub,
    Int16ub,
    Int24ub,
    Select,
    Struct,
    this,
)

from vxlankit.layers._common import as_bytes
from vxlankit.layers.ethernet import ETHERTYPE_NAMES
from vxlankit.layers.spec import BOOL, BYTES, TUNNEL, UINT, Field, LayerSpec, Span, Walk, need
from vxlankit.packet import MALFORMED, Layer

PROTO = "geneve"
HEADER_LEN = 8
PORT = 6081  # IANA's
OPTION_HEADER_LEN = 4
OPTIONS_LEN_MASK = 0x3F  # of the first byte: the options' length in 4-byte words
MAX_OPTIONS_LEN = OPTIONS_LEN_MASK * 4  # 252 bytes
MAX_OPTION_LEN = OPTION_HEADER_LEN + 0x1F * 4  # 128 bytes

FLAG_O = 0x80  # OAM frame
FLAG_C = 0x40  # critical options present
FLAGS_RESERVED_MASK = 0x3F
OPTION_CRITICAL = 0x80
ETHERTYPE_TEB = 0x6558  # Transparent Ethernet Bridging: an inner Ethernet frame

PROTO_TYPE_NAMES = {**ETHERTYPE_NAMES, ETHERTYPE_TEB: "Transparent Ethernet bridging"}

# Wireshark's class_id_names (packet-geneve.c), a range table: (first, last, name).
OPTION_CLASS_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0000, 0x00FF, "Standard"),
    (0x0100, 0x0100, "Linux"),
    (0x0101, 0x0101, "Open vSwitch"),
    (0x0102, 0x0102, "Open Virtual Networking (OVN)"),
    (0x0103, 0x0103, "In-band Network Telemetry (INT)"),
    (0x0104, 0x0104, "VMware"),
    (0x0105, 0x0105, "Amazon.com, Inc."),
    (0x0106, 0x0106, "Cisco Systems, Inc."),
    (0x0107, 0x0107, "Oracle Corporation"),
    (0x0108, 0x0110, "Amazon.com, Inc."),
    (0x0111, 0x0118, "IBM"),
    (0x0119, 0x0128, "Ericsson"),
    (0x0129, 0x0129, "Oxide Computer Company"),
    (0x0130, 0x0131, "Cisco Systems, Inc."),
    (0x0132, 0x0135, "Google LLC"),
    (0x0136, 0x0136, "InfoQuick Global Connection Tech Ltd."),
    (0x0137, 0xFEFF, "Unassigned"),
    (0xFFF0, 0xFFFF, "Experimental"),
)


class RangeNames(Mapping[int, str]):
    """A value -> name table given as ranges, as Wireshark's range_string is."""

    def __init__(self, ranges: tuple[tuple[int, int, str], ...]) -> None:
        self._ranges = ranges

    def __getitem__(self, value: int) -> str:
        for first, last, name in self._ranges:
            if first <= value <= last:
                return name
        raise KeyError(value)

    def __iter__(self) -> Iterator[int]:
        for first, last, _ in self._ranges:
            yield from range(first, last + 1)

    def __len__(self) -> int:
        return sum(last - first + 1 for first, last, _ in self._ranges)


OPTION_CLASS_NAMES = RangeNames(OPTION_CLASS_RANGES)

# The per-option fields, in the order Wireshark shows them (geneve.option.length aside).
OPTION_FIELDS = ("geneve.option.class", "geneve.option.type", "geneve.option.type.critical",
                 "geneve.option.flags", "geneve.option.flags.reserved",
                 "geneve.option.unknown.data")

_OPTION = Struct(
    "_class" / Int16ub,
    "_type" / Int8ub,
    "_fl" / Int8ub,
    # An option longer than the options left: the bytes there are (malformed, kept).
    "_data" / Select(Bytes((this._fl & 0x1F) * 4), GreedyBytes),
)

SCHEMA = Struct(
    "_vo" / Int8ub,
    "geneve.version" / Computed(this._vo >> 6),
    "_opts_len" / Computed((this._vo & OPTIONS_LEN_MASK) * 4),
    "geneve.flags" / Int8ub,
    "geneve.flags.oam" / Computed((this["geneve.flags"] >> 7) & 1),
    "geneve.flags.critical" / Computed((this["geneve.flags"] >> 6) & 1),
    "geneve.flags.reserved" / Computed(this["geneve.flags"] & FLAGS_RESERVED_MASK != 0),
    "geneve.proto_type" / Int16ub,
    "geneve.vni" / Int24ub,
    "geneve.reserved" / Int8ub,
    "_options" / FixedSized(this._opts_len, GreedyRange(_OPTION)),
)

_S = struct.Struct("!BBHI")
_O = struct.Struct("!HBB")


def _options(buf: bytes, pos: int, end: int, fields: dict[str, Any],
             lengths: list[int]) -> None:
    classes: list[int] = []
    types: list[int] = []
    flags: list[int] = []
    data: list[bytes] = []
    while pos < end:
        cls, typ, fl = _O.unpack_from(buf, pos)
        size = OPTION_HEADER_LEN + (fl & 0x1F) * 4
        classes.append(cls)
        types.append(typ)
        flags.append(fl >> 5)
        lengths.append(size)
        data.append(bytes(buf[pos + 4:min(pos + size, end)]))
        pos += size
    if classes:
        fields["geneve.option.class"] = classes
        fields["geneve.option.type"] = types
        fields["geneve.option.type.critical"] = [t >> 7 for t in types]
        fields["geneve.option.flags"] = flags
        fields["geneve.option.flags.reserved"] = [1 if f else 0 for f in flags]
        fields["geneve.option.unknown.data"] = data


def decode(buf: bytes, off: int) -> dict[str, Any]:
    """The header and its options at ``off`` (the options must all be in ``buf``)."""
    vo, flags, ptype, word = _S.unpack_from(buf, off)
    opts = (vo & OPTIONS_LEN_MASK) * 4
    start = off + HEADER_LEN
    if start + opts > len(buf):
        raise ValueError(f"geneve options ({opts} bytes) run past the data")
    lengths = [opts]
    fields: dict[str, Any] = {
        "geneve.version": vo >> 6,
        "geneve.option.length": lengths,
        "geneve.flags": flags,
        "geneve.flags.oam": flags >> 7,
        "geneve.flags.critical": (flags >> 6) & 1,
        "geneve.flags.reserved": 1 if flags & FLAGS_RESERVED_MASK else 0,
        "geneve.proto_type": ptype,
        "geneve.vni": word >> 8,
        "geneve.reserved": word & 0xFF,
    }
    _options(buf, start, start + opts, fields, lengths)
    return fields


def derive(fields: dict[str, Any]) -> None:
    """Fill in the views (flag bits, critical bits, reserved option flags) from the
    authoritative fields."""
    flags = fields["geneve.flags"]
    fields["geneve.flags.oam"] = flags >> 7
    fields["geneve.flags.critical"] = (flags >> 6) & 1
    fields["geneve.flags.reserved"] = 1 if flags & FLAGS_RESERVED_MASK else 0
    if fields.get("geneve.option.class"):
        fields["geneve.option.type.critical"] = [t >> 7 for t in fields["geneve.option.type"]]
        fields["geneve.option.flags.reserved"] = [
            1 if f else 0 for f in fields["geneve.option.flags"]]


def _option_lists(fields: dict[str, Any]) -> tuple[list[int], list[int], list[int], list[bytes]]:
    classes = list(fields.get("geneve.option.class") or ())
    types = list(fields.get("geneve.option.type") or ())
    flags = list(fields.get("geneve.option.flags") or ())
    data = [as_bytes(d, "geneve.option.unknown.data")
            for d in fields.get("geneve.option.unknown.data") or ()]
    if not len(classes) == len(types) == len(flags) == len(data):
        raise ValueError(f"geneve options: {len(classes)} classes, {len(types)} types, "
                         f"{len(flags)} flags and {len(data)} data: one of each per option")
    return classes, types, flags, data


def _encode(fields: dict[str, Any], proto_type: int, fix_lengths: bool) -> tuple[bytes, bool]:
    classes, types, flags, data = _option_lists(fields)
    given = fields.get("geneve.option.length")
    given = list(given) if given is not None else []
    filled = False
    if given and len(given) != len(classes) + 1:
        if not fix_lengths and all(n is not None for n in given):
            raise ValueError(f"geneve.option.length has {len(given)} values for "
                             f"{len(classes)} options: the header's, then one per option")
        given = []
    if not given:
        given = [None] * (len(classes) + 1)
    chunks = []
    for i, (cls, typ, fl, blob) in enumerate(zip(classes, types, flags, data, strict=True)):
        size = given[i + 1]
        if fix_lengths or size is None:
            if len(blob) % 4:
                raise ValueError(f"geneve option {i}: data of {len(blob)} bytes is not a "
                                 "whole number of 4-byte words")
            filled = filled or size is None
            size = OPTION_HEADER_LEN + len(blob)
        if not (OPTION_HEADER_LEN <= size <= MAX_OPTION_LEN and size % 4 == 0):
            raise ValueError(f"geneve option {i}: length {size} is not 4 to 128 bytes in "
                             "4-byte words")
        if not 0 <= fl <= 7:
            raise ValueError(f"geneve.option.flags {fl} does not fit in 3 bits")
        chunks.append(_O.pack(cls, typ, (fl << 5) | ((size - OPTION_HEADER_LEN) >> 2)) + blob)
    options = b"".join(chunks)
    opts = given[0]
    if fix_lengths or opts is None:
        filled = filled or opts is None
        opts = len(options)
    if not (0 <= opts <= MAX_OPTIONS_LEN and opts % 4 == 0):
        raise ValueError(f"geneve options length {opts} is not 0 to 252 bytes in 4-byte words")
    version = fields["geneve.version"]
    if not 0 <= version <= 3:
        raise ValueError(f"geneve.version {version} does not fit in 2 bits")
    vni = fields["geneve.vni"]
    if not 0 <= vni < 1 << 24:
        raise ValueError(f"geneve.vni {vni} does not fit in 24 bits")
    head = _S.pack((version << 6) | (opts >> 2), fields["geneve.flags"], proto_type,
                   (vni << 8) | fields["geneve.reserved"])
    return head + options, filled


def encode(fields: dict[str, Any]) -> bytes:
    """The header and options exactly as the fields give them (lengths included)."""
    return _encode(fields, fields["geneve.proto_type"], False)[0]


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    proto_type = fields["geneve.proto_type"]
    inferred = proto_type is None
    if inferred:
        proto_type = need(next_value, "geneve.proto_type")
    data, filled = _encode(fields, proto_type, fix_lengths)
    return data, inferred or filled


def schema_fields(parsed: Container) -> dict[str, Any]:
    """A ``SCHEMA`` parse as the fields ``decode`` gives."""
    fields = {k: v for k, v in parsed.items() if not k.startswith("_")}
    options = parsed["_options"]
    fields["geneve.option.length"] = [parsed["_opts_len"]] + [
        OPTION_HEADER_LEN + (o["_fl"] & 0x1F) * 4 for o in options]
    fields["geneve.flags.reserved"] = int(fields["geneve.flags.reserved"])
    if options:
        fields["geneve.option.class"] = [o["_class"] for o in options]
        fields["geneve.option.type"] = [o["_type"] for o in options]
        fields["geneve.option.type.critical"] = [o["_type"] >> 7 for o in options]
        fields["geneve.option.flags"] = [o["_fl"] >> 5 for o in options]
        fields["geneve.option.flags.reserved"] = [1 if o["_fl"] >> 5 else 0 for o in options]
        fields["geneve.option.unknown.data"] = [bytes(o["_data"]) for o in options]
    return fields


def schema_build_input(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields as ``SCHEMA.build`` takes them (the lengths as given)."""
    lengths = fields["geneve.option.length"]
    classes, types, flags, data = _option_lists(fields)
    return {
        **fields,
        "_vo": (fields["geneve.version"] << 6) | (lengths[0] >> 2),
        "_options": [{"_class": c, "_type": t, "_fl": (f << 5) | ((n - 4) >> 2), "_data": d}
                     for c, t, f, n, d in zip(classes, types, flags, lengths[1:], data,
                                              strict=True)],
    }


# --------------------------------------------------------------------------------------------
# The house's view


def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
    if walk.end - off < HEADER_LEN:
        walk.cut(PROTO, off, HEADER_LEN)
        return None, off
    length = HEADER_LEN + (walk.buf[off] & OPTIONS_LEN_MASK) * 4
    if walk.end - off < length:
        walk.cut(PROTO, off, length)
        return None, off
    if walk.depth >= walk.max_depth:
        walk.errors.append(f"geneve: tunnel depth limit {walk.max_depth} reached at offset "
                           f"{off}; rest kept as data")
        walk.data(off)
        return None, off
    walk.depth += 1
    fields = decode(walk.buf, off)
    layer = Layer(PROTO, fields, off, length)
    lengths = fields["geneve.option.length"]
    for i, blob in enumerate(fields.get("geneve.option.unknown.data", ())):
        if lengths[i + 1] != OPTION_HEADER_LEN + len(blob):
            layer.status = MALFORMED
            walk.errors.append(f"geneve: option {i} at offset {off + length - len(blob) - 4}: "
                               f"length {lengths[i + 1]} runs past the end of the options")
    if fields["geneve.version"]:
        layer.notes += (f"unknown version {fields['geneve.version']}",)
    if fields["geneve.flags.reserved"] or fields["geneve.reserved"] or any(
            fields.get("geneve.option.flags", ())):
        layer.notes += ("reserved bits set",)
    walk.layers.append(layer)
    nxt = walk.tables["ethertype"].get(fields["geneve.proto_type"], "data")
    return nxt, off + length


_SPANS: dict[str, Span] = {
    "geneve.version": (0, 1, 0xC0), "geneve.flags": (1, 1, None),
    "geneve.flags.oam": (1, 1, 0x80), "geneve.flags.critical": (1, 1, 0x40),
    "geneve.flags.reserved": (1, 1, 0x3F), "geneve.proto_type": (2, 2, None),
    "geneve.vni": (4, 3, None), "geneve.reserved": (7, 1, None),
}


def _title(f: dict[str, Any]) -> str:
    if "geneve.vni" not in f:
        return ""
    return f", VNI: 0x{f['geneve.vni']:06x}" + (", OAM" if f["geneve.flags.oam"] else "")


def _info(layer: Layer) -> str:
    f = layer.fields
    if "geneve.vni" not in f:
        return "Geneve"
    ptype = f["geneve.proto_type"]
    what = PROTO_TYPE_NAMES.get(ptype, f"0x{ptype:04x} (unknown)")
    oam = ", OAM" if f["geneve.flags.oam"] else ""
    return f"vni {f['geneve.vni']}{oam}, Encapsulated {what}"


def _hop(f: dict[str, Any]) -> str:
    text = f"vni {f.get('geneve.vni', '?')}"
    return text + " [OAM]" if f.get("geneve.flags.oam") else text


SPEC = LayerSpec(
    name=PROTO, title="Generic Network Virtualization Encapsulation", role=TUNNEL, hop=_hop,
    header_len=HEADER_LEN, schema=SCHEMA, dissect=dissect, emit=emit, short="Geneve",
    carries="table", title_extra=_title, info=_info, selectors=(("udp.port", PORT),),
    next_table="ethertype", next_field="geneve.proto_type",
    fields=(
        Field("geneve.version", UINT, _SPANS["geneve.version"]),
        Field("geneve.option.length", UINT, repeated=True, size=1),
        Field("geneve.flags", UINT, _SPANS["geneve.flags"], hex=2),
        Field("geneve.flags.oam", BOOL, _SPANS["geneve.flags.oam"]),
        Field("geneve.flags.critical", BOOL, _SPANS["geneve.flags.critical"]),
        Field("geneve.flags.reserved", BOOL, _SPANS["geneve.flags.reserved"]),
        Field("geneve.proto_type", UINT, _SPANS["geneve.proto_type"], hex=4,
              names=PROTO_TYPE_NAMES),
        Field("geneve.vni", UINT, _SPANS["geneve.vni"], hex=6,
              column="Geneve virtual network identifier (first Geneve header)"),
        Field("geneve.reserved", UINT, _SPANS["geneve.reserved"], hex=2),
        Field("geneve.option.class", UINT, hex=4, names=OPTION_CLASS_NAMES, repeated=True, size=2),
        Field("geneve.option.type", UINT, hex=2, repeated=True, size=1),
        Field("geneve.option.type.critical", BOOL, repeated=True),
        Field("geneve.option.flags", UINT, hex=2, repeated=True, size=1),
        Field("geneve.option.flags.reserved", BOOL, repeated=True),
        Field("geneve.option.unknown.data", BYTES, repeated=True),
    ),
)
