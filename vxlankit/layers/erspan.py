"""ERSPAN (Cisco's Encapsulated Remote SPAN, draft-foschiano-erspan), carried by GRE.

Type I: GRE protocol 0x88BE without a sequence number.  No ERSPAN header: the payload is the
mirrored Ethernet frame.  tshark 4.0 still shows an (empty) ``erspan`` layer, and so does
vxlankit (a layer with no fields and no bytes).

Type II: GRE 0x88BE with the S bit; 8 bytes.

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  Ver  |          VLAN         | COS | En|T|    Session ID     |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |      Reserved         |                  Index                |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Type III: GRE 0x22EB; 12 bytes, then an 8-byte platform-specific sub-header when O is set.

    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  Ver  |          VLAN         | COS |BSO|T|     Session ID    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                          Timestamp                            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |             SGT               |P|    FT   |   Hw ID   |D|Gra|O|
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  Platf ID |            Platform Specific Info  (O set)        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                  Platform Specific Info                       |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

The header type comes from the version field (1: II, 2: III), as in Wireshark; another
version is malformed (``erspan.version`` and ``erspan.vlan`` are kept, the rest is data).  The
payload is an Ethernet frame, except for type III with a frame type (FT) other than 0, kept as
data (tshark 4.0 does not dissect those either).  The sub-header's fields depend on the
platform ID as tshark 4.0 reads them: platforms 0 and 7 ``erspan.pid7.*``, 1 ``pid1``,
3 ``pid3``, 4 ``pid4``, 5 and 6 ``pid5``; any other ``erspan.pid.rsvd``, which tshark shows
masked to its low 26 bits: vxlankit keeps the 32 bits above them in its own
``erspan.pid.rsvd_upper`` so the sub-header re-encodes.

Encoding: every field is authoritative (they cover the header bit for bit); a layer without
``erspan.version`` is type I (no bytes).  With ``fix_lengths`` O follows the sub-header:
set when ``erspan.platid`` is present, clear when not.
"""

from __future__ import annotations

import struct
from typing import Any

from construct import (
    Adapter,
    BitsInteger,
    BitStruct,
    If,
    Int64ub,
    Pass,
    Struct,
    Switch,
    this,
)

from vxlankit.layers.gre import FLAG_S, PROTO_ERSPAN
from vxlankit.layers.spec import BOOL, TUNNEL, UINT, Field, LayerSpec, Walk
from vxlankit.packet import MALFORMED, TRUNCATED, Layer

PROTO = "erspan"
TYPE_II = 1
TYPE_III = 2
LEN_II = 8
LEN_III = 12
SUB_LEN = 8
VERSION_NAMES = {TYPE_II: "Type II", TYPE_III: "Type III"}
FT_ETHERNET = 0

# The sub-header's layouts: the bit fields of the 64-bit word after the 6-bit platform ID,
# (name, mask), as tshark 4.0 shows each platform.
_LAYOUTS: dict[str, tuple[tuple[str, int], ...]] = {
    "pid1": (("erspan.pid1.rsvd1", 0x03FFF000_00000000), ("erspan.pid1.vsmid", 0xFFF_00000000),
             ("erspan.pid1.port_index", 0xFFFFFFFF)),
    "pid3": (("erspan.pid3.rsvd1", 0x03FFC000_00000000),
             ("erspan.pid3.port_index", 0x3FFF_00000000),
             ("erspan.pid3.timestamp", 0xFFFFFFFF)),
    "pid4": (("erspan.pid4.rsvd1", 0x03FFC000_00000000), ("erspan.pid4.rsvd2", 0x3FFF_00000000),
             ("erspan.pid4.rsvd3", 0xFFFFFFFF)),
    "pid5": (("erspan.pid5.switchid", 0x03FF0000_00000000),
             ("erspan.pid5.port_index", 0xFFFF_00000000),
             ("erspan.pid5.timestamp", 0xFFFFFFFF)),
    "pid7": (("erspan.pid7.rsvd1", 0x03F00000_00000000),
             ("erspan.pid7.source_index", 0xFFFFF_00000000),
             ("erspan.pid7.timestamp", 0xFFFFFFFF)),
    "pid": (("erspan.pid.rsvd_upper", 0x03FFFFFF_FC000000), ("erspan.pid.rsvd", 0x3FFFFFF)),
}
PLATFORM_LAYOUT = {0: "pid7", 1: "pid1", 3: "pid3", 4: "pid4", 5: "pid5", 6: "pid5", 7: "pid7"}


def layout_of(platid: int) -> str:
    return PLATFORM_LAYOUT.get(platid, "pid")


def _shift(mask: int) -> int:
    return (mask & -mask).bit_length() - 1


class _SubHeader(Adapter):  # type: ignore[misc]
    """The 8-byte platform sub-header as its platform's fields (the reference: by mask)."""

    def _decode(self, obj: int, context: Any, path: Any) -> dict[str, int]:
        platid = obj >> 58
        out = {"erspan.platid": platid}
        for name, mask in _LAYOUTS[layout_of(platid)]:
            out[name] = (obj & mask) >> _shift(mask)
        return out

    def _encode(self, obj: dict[str, int], context: Any, path: Any) -> int:
        platid = obj["erspan.platid"]
        word = platid << 58
        for name, mask in _LAYOUTS[layout_of(platid)]:
            word |= (obj[name] << _shift(mask)) & mask
        return word


_TYPE_II = BitStruct(
    "erspan.cos" / BitsInteger(3), "erspan.encap" / BitsInteger(2),
    "erspan.truncated" / BitsInteger(1), "erspan.spanid" / BitsInteger(10),
    "erspan.reserved" / BitsInteger(12), "erspan.index" / BitsInteger(20),
)
_TYPE_III = Struct(
    "_b" / BitStruct(
        "erspan.cos" / BitsInteger(3), "erspan.bso" / BitsInteger(2),
        "erspan.truncated" / BitsInteger(1), "erspan.spanid" / BitsInteger(10),
        "erspan.timestamp" / BitsInteger(32), "erspan.sgt" / BitsInteger(16),
        "erspan.p" / BitsInteger(1), "erspan.ft" / BitsInteger(5), "erspan.hw" / BitsInteger(6),
        "erspan.direction" / BitsInteger(1), "erspan.gra" / BitsInteger(2),
        "erspan.o" / BitsInteger(1),
    ),
    "_sub" / If(this._b["erspan.o"] == 1, _SubHeader(Int64ub)),
)
SCHEMA = Struct(
    "_h" / BitStruct("erspan.version" / BitsInteger(4), "erspan.vlan" / BitsInteger(12)),
    "_rest" / Switch(this._h["erspan.version"], {TYPE_II: _TYPE_II, TYPE_III: _TYPE_III},
                     default=Pass),
)


def schema_fields(parsed: Any) -> dict[str, Any]:
    """The parsed containers flattened into one field dict, as the fast decoder returns."""
    out: dict[str, Any] = {}

    def add(container: Any) -> None:
        for key, value in container.items():
            if key.startswith("_"):
                if isinstance(value, dict):
                    add(value)
            elif value is not None:
                out[key] = value

    add(parsed)
    return out


def schema_build_input(fields: dict[str, Any]) -> dict[str, Any]:
    version = fields["erspan.version"]
    head = {"erspan.version": version, "erspan.vlan": fields["erspan.vlan"]}
    rest: Any = None
    if version == TYPE_II:
        rest = fields
    elif version == TYPE_III:
        rest = {"_b": fields, "_sub": fields if "erspan.platid" in fields else None}
    return {"_h": head, "_rest": rest}


_II = struct.Struct("!HHI")
_III = struct.Struct("!HHIHH")
_SUB = struct.Struct("!II")


def _sub_fields(buf: bytes, off: int) -> dict[str, Any]:
    w1, w2 = _SUB.unpack_from(buf, off)
    platid = w1 >> 26
    kind = layout_of(platid)
    if kind == "pid7":
        return {"erspan.platid": platid, "erspan.pid7.rsvd1": (w1 >> 20) & 0x3F,
                "erspan.pid7.source_index": w1 & 0xFFFFF, "erspan.pid7.timestamp": w2}
    if kind == "pid1":
        return {"erspan.platid": platid, "erspan.pid1.rsvd1": (w1 >> 12) & 0x3FFF,
                "erspan.pid1.vsmid": w1 & 0xFFF, "erspan.pid1.port_index": w2}
    if kind == "pid3":
        return {"erspan.platid": platid, "erspan.pid3.rsvd1": (w1 >> 14) & 0xFFF,
                "erspan.pid3.port_index": w1 & 0x3FFF, "erspan.pid3.timestamp": w2}
    if kind == "pid4":
        return {"erspan.platid": platid, "erspan.pid4.rsvd1": (w1 >> 14) & 0xFFF,
                "erspan.pid4.rsvd2": w1 & 0x3FFF, "erspan.pid4.rsvd3": w2}
    if kind == "pid5":
        return {"erspan.platid": platid, "erspan.pid5.switchid": (w1 >> 16) & 0x3FF,
                "erspan.pid5.port_index": w1 & 0xFFFF, "erspan.pid5.timestamp": w2}
    return {"erspan.platid": platid, "erspan.pid.rsvd_upper": ((w1 & 0x3FFFFFF) << 6) | (w2 >> 26),
            "erspan.pid.rsvd": w2 & 0x3FFFFFF}


def _sub_words(fields: dict[str, Any]) -> bytes:
    platid = fields["erspan.platid"]
    kind = layout_of(platid)
    if kind == "pid7":
        w1 = (fields["erspan.pid7.rsvd1"] << 20) | fields["erspan.pid7.source_index"]
        w2 = fields["erspan.pid7.timestamp"]
    elif kind == "pid1":
        w1 = (fields["erspan.pid1.rsvd1"] << 12) | fields["erspan.pid1.vsmid"]
        w2 = fields["erspan.pid1.port_index"]
    elif kind == "pid3":
        w1 = (fields["erspan.pid3.rsvd1"] << 14) | fields["erspan.pid3.port_index"]
        w2 = fields["erspan.pid3.timestamp"]
    elif kind == "pid4":
        w1 = (fields["erspan.pid4.rsvd1"] << 14) | fields["erspan.pid4.rsvd2"]
        w2 = fields["erspan.pid4.rsvd3"]
    elif kind == "pid5":
        w1 = (fields["erspan.pid5.switchid"] << 16) | fields["erspan.pid5.port_index"]
        w2 = fields["erspan.pid5.timestamp"]
    else:
        upper = fields["erspan.pid.rsvd_upper"]
        w1 = upper >> 6
        w2 = ((upper & 0x3F) << 26) | fields["erspan.pid.rsvd"]
    if not 0 <= w1 < 1 << 26:
        raise ValueError("an ERSPAN platform sub-header field does not fit its bits")
    return _SUB.pack((platid << 26) | w1, w2)


def decode(buf: bytes, off: int, sub: bool = True) -> dict[str, Any]:
    """A type II or III header at ``off`` (with its sub-header when O is set and ``sub``),
    or the first word of another version."""
    w0 = buf[off] << 8 | buf[off + 1]
    version = w0 >> 12
    fields: dict[str, Any] = {"erspan.version": version, "erspan.vlan": w0 & 0xFFF}
    if version == TYPE_II:
        _, w1, w2 = _II.unpack_from(buf, off)
        fields.update({"erspan.cos": w1 >> 13, "erspan.encap": (w1 >> 11) & 3,
                       "erspan.truncated": (w1 >> 10) & 1, "erspan.spanid": w1 & 0x3FF,
                       "erspan.reserved": w2 >> 20, "erspan.index": w2 & 0xFFFFF})
    elif version == TYPE_III:
        _, w1, ts, sgt, w3 = _III.unpack_from(buf, off)
        fields.update({"erspan.cos": w1 >> 13, "erspan.bso": (w1 >> 11) & 3,
                       "erspan.truncated": (w1 >> 10) & 1, "erspan.spanid": w1 & 0x3FF,
                       "erspan.timestamp": ts, "erspan.sgt": sgt, "erspan.p": w3 >> 15,
                       "erspan.ft": (w3 >> 10) & 0x1F, "erspan.hw": (w3 >> 4) & 0x3F,
                       "erspan.direction": (w3 >> 3) & 1, "erspan.gra": (w3 >> 1) & 3,
                       "erspan.o": w3 & 1})
        if w3 & 1 and sub:
            fields.update(_sub_fields(buf, off + LEN_III))
    return fields


def _bits(fields: dict[str, Any], *spec: tuple[str, int]) -> int:
    """Fields packed into one word, most significant first: (name, width) pairs."""
    word = 0
    for name, width in spec:
        value = fields[name]
        if not 0 <= value < 1 << width:
            raise ValueError(f"{name} {value} does not fit in {width} bits")
        word = (word << width) | value
    return word


def encode(fields: dict[str, Any]) -> bytes:
    """The header the fields describe: none without ``erspan.version`` (type I)."""
    if "erspan.version" not in fields:
        return b""
    w0 = _bits(fields, ("erspan.version", 4), ("erspan.vlan", 12))
    version = fields["erspan.version"]
    if version == TYPE_II:
        return _II.pack(w0, _bits(fields, ("erspan.cos", 3), ("erspan.encap", 2),
                                  ("erspan.truncated", 1), ("erspan.spanid", 10)),
                        _bits(fields, ("erspan.reserved", 12), ("erspan.index", 20)))
    if version != TYPE_III:
        return struct.pack("!H", w0)
    out = _III.pack(w0, _bits(fields, ("erspan.cos", 3), ("erspan.bso", 2),
                              ("erspan.truncated", 1), ("erspan.spanid", 10)),
                    _bits(fields, ("erspan.timestamp", 32)), _bits(fields, ("erspan.sgt", 16)),
                    _bits(fields, ("erspan.p", 1), ("erspan.ft", 5), ("erspan.hw", 6),
                          ("erspan.direction", 1), ("erspan.gra", 2), ("erspan.o", 1)))
    if "erspan.platid" in fields:
        out += _sub_words(fields)
    return out


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    if fix_lengths and fields.get("erspan.version") == TYPE_III:
        o = 1 if "erspan.platid" in fields else 0
        if fields.get("erspan.o") != o:
            return encode({**fields, "erspan.o": o}), False
    return encode(fields), False


# --------------------------------------------------------------------------------------------
# The house's view of ERSPAN


def _type_i(walk: Walk) -> bool:
    """Whether the GRE header before this has protocol 0x88BE and no sequence number."""
    if not walk.layers:
        return False
    gre = walk.layers[-1]
    f = gre.fields
    return (gre.proto == "gre" and f.get("gre.proto") == PROTO_ERSPAN
            and not f.get("gre.flags_and_version", 0) & FLAG_S)


def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
    if _type_i(walk):
        walk.layers.append(Layer(PROTO, {}, off, 0))
        return "eth", off
    buf = walk.buf
    end = walk.end
    if end - off < 2:
        walk.cut(PROTO, off, 2)
        return None, off
    version = buf[off] >> 4
    if version not in (TYPE_II, TYPE_III):
        fields = decode(buf, off)
        walk.layers.append(Layer(PROTO, fields, off, 2, status=MALFORMED,
                                 notes=(f"unknown ERSPAN version {version}",)))
        walk.errors.append(f"erspan: unknown version {version} at offset {off}")
        return "data", off + 2
    need = LEN_II if version == TYPE_II else LEN_III
    if end - off < need:
        walk.cut(PROTO, off, need)
        return None, off
    if version == TYPE_II:
        walk.layers.append(Layer(PROTO, decode(buf, off), off, LEN_II))
        return "eth", off + LEN_II
    fields = decode(buf, off, sub=False)
    size = LEN_III
    if fields["erspan.o"]:
        size += SUB_LEN
        if end - off < size:
            walk.layers.append(Layer(PROTO, fields, off, end - off, status=TRUNCATED,
                                     raw=buf[off:end]))
            walk.errors.append(f"erspan: truncated platform sub-header at offset "
                               f"{off + LEN_III}: {end - off - LEN_III} of {SUB_LEN} bytes")
            return None, off
        fields.update(_sub_fields(buf, off + LEN_III))
    walk.layers.append(Layer(PROTO, fields, off, size))
    return ("eth" if fields["erspan.ft"] == FT_ETHERNET else "data"), off + size


def _title(f: dict[str, Any]) -> str:
    version = f.get("erspan.version")
    if version is None:
        return ""
    return ", " + VERSION_NAMES.get(version, "Unknown")


def info(layer: Layer) -> str:
    """The Info column tshark 4.0 writes when nothing inside ERSPAN is dissected."""
    return "ERSPAN:"


def hop(f: dict[str, Any]) -> str:
    """ERSPAN's part of a one-line tunnel hop: its session (span) id; type I has none."""
    return f"session {f['erspan.spanid']}" if "erspan.spanid" in f else ""


def _mask32(mask: int) -> tuple[int, int, int]:
    return (12, 4, mask >> 32) if mask >> 32 else (16, 4, mask)


def _sub_field(name: str, mask: int, doc: str = "") -> Field:
    return Field(name, UINT, _mask32(mask), doc=doc)


SPEC = LayerSpec(
    name=PROTO, title="Encapsulated Remote Switch Packet ANalysis", role=TUNNEL, covers="payload",
    header_len=0, schema=SCHEMA, dissect=dissect, emit=emit, short="ERSPAN", carries="eth",
    selectors=(("gre.proto", PROTO_ERSPAN), ("gre.proto", 0x22EB)), title_extra=_title,
    info=info, hop=hop,
    fields=(
        Field("erspan.version", UINT, (0, 2, 0xF000), names={
            TYPE_II: "Type II", TYPE_III: "Type III"}),
        Field("erspan.vlan", UINT, (0, 2, 0x0FFF)),
        Field("erspan.cos", UINT, (2, 2, 0xE000)),
        Field("erspan.encap", UINT, (2, 2, 0x1800), names={
            0: "Originally without VLAN tag", 1: "ISL tag stripped",
            2: "802.1Q tag stripped", 3: "VLAN tag preserved in frame"}),
        Field("erspan.bso", UINT, (2, 2, 0x1800), names={
            0: "Good or unknown integrity", 1: "Short frame", 2: "Oversized frame",
            3: "Bad frame"}),
        Field("erspan.truncated", UINT, (2, 2, 0x0400)),
        Field("erspan.spanid", UINT, (2, 2, 0x03FF),
              column="ERSPAN session id (first ERSPAN II/III header)"),
        Field("erspan.reserved", UINT, (4, 4, 0xFFF00000)),
        Field("erspan.index", UINT, (4, 4, 0x000FFFFF)),
        Field("erspan.timestamp", UINT, (4, 4, None)),
        Field("erspan.sgt", UINT, (8, 2, None)),
        Field("erspan.p", UINT, (10, 2, 0x8000)),
        Field("erspan.ft", UINT, (10, 2, 0x7C00), names={0: "Ethernet", 2: "IP"}),
        Field("erspan.hw", UINT, (10, 2, 0x03F0)),
        Field("erspan.direction", BOOL, (10, 2, 0x0008)),
        Field("erspan.gra", UINT, (10, 2, 0x0006), names={
            0: "100 microseconds", 1: "100 nanoseconds", 2: "IEEE 1588",
            3: "Custom granularity"}),
        Field("erspan.o", UINT, (10, 2, 0x0001)),
        Field("erspan.platid", UINT, (12, 4, 0xFC000000)),
        *(_sub_field(name, mask) for kind in ("pid1", "pid3", "pid4", "pid5", "pid7")
          for name, mask in _LAYOUTS[kind]),
        Field("erspan.pid.rsvd", UINT, (12, 8, 0x3FFFFFF)),
        Field("erspan.pid.rsvd_upper", UINT, (12, 8, 0x03FFFFFF_FC000000),
              doc="vxlankit's own: bits 26-57 of the reserved sub-header of a platform "
                  "tshark 4.0 has no layout for (its erspan.pid.rsvd shows the low 26 bits)"),
    ),
)
