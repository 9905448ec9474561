"""Network Service Header (RFC 8300), as tshark 4.0 shows it.

Base header and Service Path header:

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Ver|O|U|    TTL    |   Length  |U|U|U|U|MD Type| Next Protocol |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          Service Path Identifier (SPI)        | Service Index |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

``nsh.length`` counts the whole NSH in 4-byte words.  The U bit after O is the C ("critical
metadata") bit of the drafts, and tshark 4.0 still calls it ``nsh.CBit``; ``nsh.mdtype`` is the
whole third byte, as tshark reads it (its four unassigned bits included).

MD type 1: four 4-byte context headers (``nsh.contextheader``, a repeated field: every 4-byte
word of the metadata area, normally 4).  MD type 2: zero or more TLVs, each

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          Metadata Class       |      Type     |U|    Length   |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                   Variable-Length Metadata                    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

with ``Length`` in bytes and the value padded to a 4-byte boundary.  The TLV fields are
repeated fields (one list entry per TLV, in wire order): ``nsh.metadataclass``,
``nsh.metadatatype``, ``nsh.metadataunassignedbit``, ``nsh.metadatalen``, and ``nsh.metadata``,
which, as in tshark, has an entry only for each TLV whose length is not 0.

Authoritative for encoding: every field above but the views of the first word's bits
(``nsh.version``, ``nsh.Obit``, ``nsh.CBit``, ``nsh.ttl``, ``nsh.length`` are themselves the
authoritative bit fields), and two vxlankit-own fields that exist so that any header re-encodes
byte for byte: ``nsh.metadata_pad`` (each TLV's padding bytes; present only when some are not
zero) and ``nsh.rest`` (header bytes no field covers: the metadata of an MD type other than 1
and 2, or what follows the last whole MD type 2 TLV).  With ``fix_lengths``, ``nsh.length`` is
computed from the metadata; ``nsh.nextproto`` left ``None`` is inferred from the next layer.
"""

from __future__ import annotations

import struct
from typing import Any

from construct import (
    Bytes,
    Computed,
    FixedSized,
    GreedyBytes,
    GreedyRange,
    Int8ub,
    Int16ub,
    Int24ub,
    Rebuild,
    Struct,
    Switch,
    this,
)

from vxlankit.errors import EncodeError
from vxlankit.layers._common import as_bytes
from vxlankit.layers.spec import BOOL, BYTES, TUNNEL, UINT, Field, LayerSpec, Span, Walk, need
from vxlankit.packet import MALFORMED, Layer

PROTO = "nsh"
HEADER_LEN = 8  # base + service path header
ETHERTYPE = 0x894F
GPE_NEXT_PROTO = 4

MD_TYPE_1 = 1
MD_TYPE_2 = 2

NEXT_IPV4, NEXT_IPV6, NEXT_ETHERNET, NEXT_NSH, NEXT_MPLS = 1, 2, 3, 4, 5
NEXT_PROTOCOL_NAMES = {NEXT_IPV4: "IPv4", NEXT_IPV6: "IPv6", NEXT_ETHERNET: "Ethernet",
                       NEXT_NSH: "NSH", NEXT_MPLS: "MPLS"}
MD_TYPE_NAMES = {0: "Reserved", MD_TYPE_1: "Fixed length", MD_TYPE_2: "Variable length",
                 0xF: "Experimental"}

# The repeated fields of MD type 2, in TLV order.
TLV_FIELDS = ("nsh.metadataclass", "nsh.metadatatype", "nsh.metadataunassignedbit",
              "nsh.metadatalen", "nsh.metadata")


def _pad(n: int) -> int:
    return -n % 4


# ---------------------------------------------------------------------------- the reference

_TLV = Struct(
    "class" / Int16ub,
    "type" / Int8ub,
    "_ul" / Int8ub,
    "value" / Bytes(this._ul & 0x7F),
    "pad" / Bytes(-(this._ul & 0x7F) % 4),
)
_MD1 = Struct("words" / GreedyRange(Bytes(4)), "rest" / GreedyBytes)
_MD2 = Struct("tlvs" / GreedyRange(_TLV), "rest" / GreedyBytes)
_MD_OTHER = Struct("rest" / GreedyBytes)

SCHEMA = Struct(
    "_w0" / Rebuild(Int16ub, (this["nsh.version"] << 14) | (this["nsh.Obit"] << 13)
                    | (this["nsh.CBit"] << 12) | (this["nsh.ttl"] << 6) | this["nsh.length"]),
    "nsh.version" / Computed(this._w0 >> 14),
    "nsh.Obit" / Computed((this._w0 >> 13) & 1),
    "nsh.CBit" / Computed((this._w0 >> 12) & 1),
    "nsh.ttl" / Computed((this._w0 >> 6) & 0x3F),
    "nsh.length" / Computed(this._w0 & 0x3F),
    "nsh.mdtype" / Int8ub,
    "nsh.nextproto" / Int8ub,
    "nsh.spi" / Int24ub,
    "nsh.si" / Int8ub,
    # The metadata area: the rest of the nsh.length words (a header of length < 2 is not
    # read past its 8 fixed bytes).
    "_md" / FixedSized(lambda c: max(0, (c["nsh.length"] << 2) - HEADER_LEN), Switch(
        this["nsh.mdtype"], {MD_TYPE_1: _MD1, MD_TYPE_2: _MD2}, default=_MD_OTHER)),
)


def schema_fields(parsed: Any) -> dict[str, Any]:
    """A ``SCHEMA`` parse as the fast decoder's field dict."""
    fields = {k: v for k, v in parsed.items() if not k.startswith("_")}
    md = parsed["_md"]
    words = md.get("words")
    if words:
        fields["nsh.contextheader"] = list(words)
    tlvs = md.get("tlvs")
    if tlvs:
        fields["nsh.metadataclass"] = [t["class"] for t in tlvs]
        fields["nsh.metadatatype"] = [t["type"] for t in tlvs]
        fields["nsh.metadataunassignedbit"] = [t["_ul"] >> 7 for t in tlvs]
        fields["nsh.metadatalen"] = [t["_ul"] & 0x7F for t in tlvs]
        values = [t["value"] for t in tlvs if t["value"]]
        if values:
            fields["nsh.metadata"] = values
        if any(any(t["pad"]) for t in tlvs):
            fields["nsh.metadata_pad"] = [t["pad"] for t in tlvs]
    if md["rest"]:
        fields["nsh.rest"] = md["rest"]
    return fields


def schema_build_input(fields: dict[str, Any]) -> dict[str, Any]:
    """A field dict as ``SCHEMA.build`` input (the metadata area as its sub-structure)."""
    md: dict[str, Any] = {"rest": fields.get("nsh.rest", b"")}
    if fields["nsh.mdtype"] == MD_TYPE_1:
        md["words"] = fields.get("nsh.contextheader", [])
    elif fields["nsh.mdtype"] == MD_TYPE_2:
        count = len(fields.get("nsh.metadataclass", []))
        lens = fields.get("nsh.metadatalen", [])
        pads = fields.get("nsh.metadata_pad") or [bytes(_pad(n)) for n in lens]
        values = iter(fields.get("nsh.metadata", []))
        md["tlvs"] = [{"class": fields["nsh.metadataclass"][i],
                       "type": fields["nsh.metadatatype"][i],
                       "_ul": (fields["nsh.metadataunassignedbit"][i] << 7) | lens[i],
                       "value": next(values) if lens[i] else b"", "pad": pads[i]}
                      for i in range(count)]
    return {**fields, "_md": md}


# ---------------------------------------------------------------------------- fast paths

_S = struct.Struct("!HBBI")
_TLV_HEAD = struct.Struct("!HBB")


def header_length(buf: bytes, off: int) -> int:
    """The header's length in bytes, as its length field says (at least the 8 fixed bytes)."""
    return max(HEADER_LEN, (buf[off + 1] & 0x3F) << 2)


def decode(buf: bytes, off: int) -> dict[str, Any]:
    """The header at ``off``: its 8 fixed bytes and the metadata ``nsh.length`` covers (the
    caller has checked that it is all there)."""
    w0, mdtype, nxt, word = _S.unpack_from(buf, off)
    length = w0 & 0x3F
    fields: dict[str, Any] = {
        "nsh.version": w0 >> 14,
        "nsh.Obit": (w0 >> 13) & 1,
        "nsh.CBit": (w0 >> 12) & 1,
        "nsh.ttl": (w0 >> 6) & 0x3F,
        "nsh.length": length,
        "nsh.mdtype": mdtype,
        "nsh.nextproto": nxt,
        "nsh.spi": word >> 8,
        "nsh.si": word & 0xFF,
    }
    pos = off + HEADER_LEN
    end = off + max(HEADER_LEN, length << 2)
    if mdtype == MD_TYPE_1:
        if end > pos:
            fields["nsh.contextheader"] = [buf[p:p + 4] for p in range(pos, end - 3, 4)]
            pos += (end - pos) & ~3
    elif mdtype == MD_TYPE_2:
        classes: list[int] = []
        types: list[int] = []
        ubits: list[int] = []
        lens: list[int] = []
        values: list[bytes] = []
        pads: list[bytes] = []
        while pos + 4 <= end:
            mclass, mtype, ul = _TLV_HEAD.unpack_from(buf, pos)
            vlen = ul & 0x7F
            stop = pos + 4 + vlen + _pad(vlen)
            if stop > end:
                break
            classes.append(mclass)
            types.append(mtype)
            ubits.append(ul >> 7)
            lens.append(vlen)
            if vlen:  # as tshark: no nsh.metadata for an empty value
                values.append(buf[pos + 4:pos + 4 + vlen])
            pads.append(buf[pos + 4 + vlen:stop])
            pos = stop
        if classes:
            fields["nsh.metadataclass"] = classes
            fields["nsh.metadatatype"] = types
            fields["nsh.metadataunassignedbit"] = ubits
            fields["nsh.metadatalen"] = lens
            if values:
                fields["nsh.metadata"] = values
            if any(any(p) for p in pads):
                fields["nsh.metadata_pad"] = pads
    if end > pos:
        fields["nsh.rest"] = buf[pos:end]
    return fields


def _metadata(fields: dict[str, Any]) -> bytes:
    """The metadata area the fields describe."""
    out = bytearray()
    mdtype = fields["nsh.mdtype"]
    if mdtype == MD_TYPE_1:
        for word in fields.get("nsh.contextheader", ()):
            word = as_bytes(word, "nsh.contextheader")
            if len(word) != 4:
                raise EncodeError(f"nsh.contextheader must be 4 bytes each, got {len(word)}")
            out += word
    elif mdtype == MD_TYPE_2:
        classes = fields.get("nsh.metadataclass", [])
        count = len(classes)
        columns = [fields.get(name, []) for name in TLV_FIELDS[:4]]
        pads = fields.get("nsh.metadata_pad")
        if any(len(column) != count for column in columns) or (
                pads is not None and len(pads) != count):
            raise EncodeError("nsh: the MD type 2 TLV fields must have one entry per TLV")
        # One nsh.metadata per TLV whose length is not 0 (as tshark shows them); a length
        # left None is the next value's.
        values = iter(fields.get("nsh.metadata", []))
        for i, (mclass, mtype, ubit, vlen) in enumerate(zip(*columns, strict=True)):
            value = b"" if vlen == 0 else as_bytes(next(values, b""), "nsh.metadata")
            if vlen is None:
                vlen = len(value)
            elif len(value) != vlen:
                raise EncodeError(f"nsh.metadata of TLV {i} is {len(value)} bytes, "
                                  f"nsh.metadatalen says {vlen}")
            if not 0 <= vlen <= 0x7F or not 0 <= ubit <= 1:
                raise EncodeError(f"nsh.metadatalen {vlen} does not fit in 7 bits")
            fill = (bytes(_pad(vlen)) if pads is None
                    else as_bytes(pads[i], "nsh.metadata_pad"))
            out += _TLV_HEAD.pack(mclass, mtype, (ubit << 7) | vlen) + value + fill
    out += as_bytes(fields.get("nsh.rest", b""), "nsh.rest")
    return bytes(out)


def _pack(fields: dict[str, Any], length: int, nxt: int) -> bytes:
    values = (fields["nsh.version"], fields["nsh.Obit"], fields["nsh.CBit"], fields["nsh.ttl"],
              length)
    limits = (3, 1, 1, 0x3F, 0x3F)
    for name, value, limit in zip(("nsh.version", "nsh.Obit", "nsh.CBit", "nsh.ttl",
                                   "nsh.length"), values, limits, strict=True):
        if not 0 <= value <= limit:
            raise EncodeError(f"{name} {value} does not fit in its bits")
    spi = fields["nsh.spi"]
    if not 0 <= spi < 1 << 24:
        raise EncodeError(f"nsh.spi {spi} does not fit in 24 bits")
    w0 = (values[0] << 14) | (values[1] << 13) | (values[2] << 12) | (values[3] << 6) | length
    return _S.pack(w0, fields["nsh.mdtype"], nxt, (spi << 8) | fields["nsh.si"])


def encode(fields: dict[str, Any]) -> bytes:
    """The header as the fields say, ``nsh.length`` included (whatever the metadata's size)."""
    return _pack(fields, fields["nsh.length"], fields["nsh.nextproto"]) + _metadata(fields)


# ---------------------------------------------------------------------------- the house's view


def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
    buf = walk.buf
    avail = walk.end - off
    if avail < HEADER_LEN:
        walk.cut(PROTO, off, HEADER_LEN)
        return None, off
    if walk.depth >= walk.max_depth:
        walk.errors.append(f"nsh: tunnel depth limit {walk.max_depth} reached at offset {off}; "
                           "rest kept as data")
        walk.data(off)
        return None, off
    length = (buf[off + 1] & 0x3F) << 2
    if length < HEADER_LEN:
        fields = decode(buf, off)
        walk.layers.append(Layer(PROTO, fields, off, HEADER_LEN, status=MALFORMED))
        walk.errors.append(f"nsh: length {length >> 2} words < 2 at offset {off + 1}")
        return "data", off + HEADER_LEN
    if length > avail:
        walk.cut(PROTO, off, length)
        return None, off
    walk.depth += 1
    fields = decode(buf, off)
    layer = Layer(PROTO, fields, off, length)
    walk.layers.append(layer)
    mdtype = fields["nsh.mdtype"]
    if mdtype == MD_TYPE_1 and length != 24:
        layer.status = MALFORMED
        walk.errors.append(f"nsh: MD type 1 with length {length >> 2} words (6 expected) at "
                           f"offset {off + 1}")
    elif mdtype == MD_TYPE_2 and "nsh.rest" in fields:
        layer.status = MALFORMED
        walk.errors.append(f"nsh: MD type 2 TLV runs past the header's {length} bytes at offset "
                           f"{off + length - len(fields['nsh.rest'])}")
    if fields["nsh.version"]:
        layer.notes += (f"version {fields['nsh.version']} (RFC 8300 defines 0)",)
    if "nsh.metadata_pad" in fields:
        layer.notes += ("non-zero MD type 2 padding",)
    return walk.tables["nsh.next_proto"].get(fields["nsh.nextproto"], "data"), off + length


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    metadata = _metadata(fields)
    filled = False
    length = fields.get("nsh.length")
    if fix_lengths or length is None:
        if len(metadata) % 4:
            raise EncodeError(f"nsh: metadata of {len(metadata)} bytes is not a whole number "
                              "of 4-byte words")
        new = (HEADER_LEN + len(metadata)) >> 2
        if new > 0x3F:
            raise EncodeError(f"nsh: {new} words do not fit in nsh.length")
        filled = length is None
        length = new
    nxt = fields.get("nsh.nextproto")
    if nxt is None:
        nxt = need(next_value, "nsh.nextproto")
        filled = True
    return _pack(fields, length, nxt) + metadata, filled


# Where a repeated field's occurrences sit varies: the whole metadata area is its span.
def _span(layer: Layer, name: str) -> Span | None:
    if name in _FIXED:
        return None
    return HEADER_LEN, max(0, layer.length - HEADER_LEN), None


def _title(f: dict[str, Any]) -> str:
    if "nsh.spi" not in f:
        return ""
    return f", SPI: {f['nsh.spi']}, SI: {f['nsh.si']}"


def info(layer: Layer) -> str:
    f = layer.fields
    if "nsh.spi" not in f:
        return "Network Service Header"
    return f"SPI {f['nsh.spi']}, SI {f['nsh.si']}"


_OWN = ("vxlankit's own: {}; kept so that the header re-encodes byte for byte")
SPEC = LayerSpec(
    name=PROTO, title="Network Service Header", role=TUNNEL, header_len=HEADER_LEN,
    schema=SCHEMA, dissect=dissect, emit=emit, short="NSH", carries="table",
    selectors=(("vxlan.next_proto", GPE_NEXT_PROTO), ("ethertype", ETHERTYPE),
               ("nsh.next_proto", NEXT_NSH)),
    next_table="nsh.next_proto", next_field="nsh.nextproto", span=_span, title_extra=_title,
    info=info,
    fields=(
        Field("nsh.version", UINT, (0, 2, 0xC000)),
        Field("nsh.Obit", BOOL, (0, 2, 0x2000)),
        Field("nsh.CBit", BOOL, (0, 2, 0x1000)),
        Field("nsh.ttl", UINT, (0, 2, 0x0FC0), hex=2),
        Field("nsh.length", UINT, (0, 2, 0x003F)),
        Field("nsh.mdtype", UINT, (2, 1, None), names=MD_TYPE_NAMES),
        Field("nsh.nextproto", UINT, (3, 1, None), names=NEXT_PROTOCOL_NAMES),
        Field("nsh.spi", UINT, (4, 3, None)),
        Field("nsh.si", UINT, (7, 1, None)),
        Field("nsh.contextheader", BYTES, repeated=True),
        Field("nsh.metadataclass", UINT, repeated=True, size=2),
        Field("nsh.metadatatype", UINT, repeated=True, size=1),
        Field("nsh.metadataunassignedbit", UINT, hex=2, repeated=True, size=1),
        Field("nsh.metadatalen", UINT, hex=2, repeated=True, size=1),
        Field("nsh.metadata", BYTES, repeated=True),
        Field("nsh.metadata_pad", BYTES, repeated=True,
              doc=_OWN.format("each MD type 2 TLV's padding to 4 bytes, when some is not "
                              "zero (Wireshark skips it)")),
        Field("nsh.rest", BYTES,
              doc=_OWN.format("header bytes no other field covers (the metadata of an MD "
                              "type other than 1 and 2, or what follows the last whole TLV)")),
    ),
)
_FIXED = frozenset(f.name for f in SPEC.fields if f.span is not None)
