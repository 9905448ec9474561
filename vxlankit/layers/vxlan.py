"""VXLAN (RFC 7348), its Group Based Policy extension, and VXLAN-GPE.

VXLAN, with the GBP bits (draft-smith-vxlan-group-policy) drawn in:

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |G|R|R|R|I|R|R|R|R|D|R|R|A|R|R|R|        Group Policy ID        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          VXLAN Network Identifier (VNI)       |   Reserved    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

RFC 7348 has only I (0x0800 of ``vxlan.flags``); bytes 2-3 are reserved there, and Wireshark
shows them as ``vxlan.gbp`` either way.  Reserved bits are decoded (``vxlan.flags_reserved``) and
re-encoded, never dropped; I=0 is reported by the codec, not rejected.

VXLAN-GPE (draft-ietf-nvo3-vxlan-gpe, UDP 4790):

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |R|R|Ver|I|P|B|O|           Reserved            | Next Protocol |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          VXLAN Network Identifier (VNI)       |   Reserved    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

tshark 4.0 dissects GPE as protocol ``vxlan`` too, with a one-byte ``vxlan.flags``; vxlankit
does the same, so a GPE layer is the ``vxlan`` layer that has ``vxlan.next_proto``.
Authoritative fields for encoding: ``vxlan.flags``, ``vxlan.gbp`` (or ``vxlan.reserved_16`` and
``vxlan.next_proto`` for GPE), ``vxlan.vni``, ``vxlan.reserved8``; the flag bits are views.
"""

from __future__ import annotations

import struct
from typing import Any

from construct import Computed, Int8ub, Int16ub, Int24ub, Struct, this

from vxlankit.layers.spec import BOOL, TUNNEL, UINT, Field, LayerSpec, Span, Walk, need
from vxlankit.packet import Layer

PROTO = "vxlan"
HEADER_LEN = 8

FLAG_G = 0x8000
FLAG_I = 0x0800
FLAG_D = 0x0040
FLAG_A = 0x0008
RESERVED_MASK = 0xFFFF & ~(FLAG_G | FLAG_I | FLAG_D | FLAG_A)  # 0x77b7, as Wireshark masks it

GPE_FLAG_I = 0x08
GPE_FLAG_P = 0x04
GPE_FLAG_B = 0x02
GPE_FLAG_O = 0x01
GPE_VERSION_MASK = 0x30
GPE_RESERVED_MASK = 0xC2  # R R and B (B was dropped from later drafts; Wireshark masks it)

NEXT_IPV4 = 1
NEXT_IPV6 = 2
NEXT_ETHERNET = 3
NEXT_NSH = 4
NEXT_MPLS = 5
NEXT_PROTOCOL_NAMES = {NEXT_IPV4: "IPv4", NEXT_IPV6: "IPv6", NEXT_ETHERNET: "Ethernet",
                       NEXT_NSH: "NSH", NEXT_MPLS: "MPLS"}

SCHEMA = Struct(
    "vxlan.flags" / Int16ub,
    "vxlan.flag_g" / Computed((this["vxlan.flags"] >> 15) & 1),
    "vxlan.flag_i" / Computed((this["vxlan.flags"] >> 11) & 1),
    "vxlan.flag_d" / Computed((this["vxlan.flags"] >> 6) & 1),
    "vxlan.flag_a" / Computed((this["vxlan.flags"] >> 3) & 1),
    "vxlan.flags_reserved" / Computed(this["vxlan.flags"] & RESERVED_MASK),
    "vxlan.gbp" / Int16ub,
    "vxlan.vni" / Int24ub,
    "vxlan.reserved8" / Int8ub,
)

GPE_SCHEMA = Struct(
    "vxlan.flags" / Int8ub,
    "vxlan.ver" / Computed((this["vxlan.flags"] >> 4) & 0x03),
    "vxlan.i_bit" / Computed((this["vxlan.flags"] >> 3) & 1),
    "vxlan.p_bit" / Computed((this["vxlan.flags"] >> 2) & 1),
    "vxlan.o_bit" / Computed(this["vxlan.flags"] & 1),
    "vxlan.flags_reserved" / Computed(this["vxlan.flags"] & GPE_RESERVED_MASK),
    "vxlan.reserved_16" / Int16ub,
    "vxlan.next_proto" / Int8ub,
    "vxlan.vni" / Int24ub,
    "vxlan.reserved8" / Int8ub,
)

_S = struct.Struct("!HHI")
_G = struct.Struct("!BHBI")


def decode(buf: bytes, off: int) -> dict[str, Any]:
    flags, gbp, word = _S.unpack_from(buf, off)
    return {
        "vxlan.flags": flags,
        "vxlan.flag_g": flags >> 15,
        "vxlan.flag_i": (flags >> 11) & 1,
        "vxlan.flag_d": (flags >> 6) & 1,
        "vxlan.flag_a": (flags >> 3) & 1,
        "vxlan.flags_reserved": flags & RESERVED_MASK,
        "vxlan.gbp": gbp,
        "vxlan.vni": word >> 8,
        "vxlan.reserved8": word & 0xFF,
    }


def _vni_word(fields: dict[str, Any]) -> int:
    vni = fields["vxlan.vni"]
    reserved8 = fields["vxlan.reserved8"]
    if not 0 <= vni < 1 << 24:
        raise ValueError(f"vxlan.vni {vni} does not fit in 24 bits")
    if not 0 <= reserved8 <= 0xFF:
        raise ValueError(f"vxlan.reserved8 {reserved8} does not fit in 8 bits")
    return int((vni << 8) | reserved8)


def encode(fields: dict[str, Any]) -> bytes:
    return _S.pack(fields["vxlan.flags"], fields["vxlan.gbp"], _vni_word(fields))


def derive(fields: dict[str, Any]) -> None:
    flags = fields["vxlan.flags"]
    fields["vxlan.flag_g"] = flags >> 15
    fields["vxlan.flag_i"] = (flags >> 11) & 1
    fields["vxlan.flag_d"] = (flags >> 6) & 1
    fields["vxlan.flag_a"] = (flags >> 3) & 1
    fields["vxlan.flags_reserved"] = flags & RESERVED_MASK


def decode_gpe(buf: bytes, off: int) -> dict[str, Any]:
    flags, reserved, nxt, word = _G.unpack_from(buf, off)
    return {
        "vxlan.flags": flags,
        "vxlan.ver": (flags >> 4) & 0x03,
        "vxlan.i_bit": (flags >> 3) & 1,
        "vxlan.p_bit": (flags >> 2) & 1,
        "vxlan.o_bit": flags & 1,
        "vxlan.flags_reserved": flags & GPE_RESERVED_MASK,
        "vxlan.reserved_16": reserved,
        "vxlan.next_proto": nxt,
        "vxlan.vni": word >> 8,
        "vxlan.reserved8": word & 0xFF,
    }


def encode_gpe(fields: dict[str, Any]) -> bytes:
    return _G.pack(fields["vxlan.flags"], fields["vxlan.reserved_16"], fields["vxlan.next_proto"],
                   _vni_word(fields))


def derive_gpe(fields: dict[str, Any]) -> None:
    flags = fields["vxlan.flags"]
    fields["vxlan.ver"] = (flags >> 4) & 0x03
    fields["vxlan.i_bit"] = (flags >> 3) & 1
    fields["vxlan.p_bit"] = (flags >> 2) & 1
    fields["vxlan.o_bit"] = flags & 1
    fields["vxlan.flags_reserved"] = flags & GPE_RESERVED_MASK


def is_gpe(fields: dict[str, Any]) -> bool:
    return "vxlan.next_proto" in fields


# --------------------------------------------------------------------------------------------
# The house's view: VXLAN (with GBP) and VXLAN-GPE, both shown as "vxlan" as Wireshark does


def _enter(walk: Walk, off: int) -> bool:
    """Whether a tunnel header at ``off`` can be dissected (else the step has said why)."""
    if walk.end - off < HEADER_LEN:
        walk.cut(PROTO, off, HEADER_LEN)
        return False
    if walk.depth >= walk.max_depth:
        walk.errors.append(f"vxlan: tunnel depth limit {walk.max_depth} reached at offset "
                           f"{off}; rest kept as data")
        walk.data(off)
        return False
    walk.depth += 1
    return True


def reserved_bits(flags_reserved: int, reserved8: int, flag_g: int, gbp: int) -> bool:
    """Whether a header sets bits RFC 7348 reserves: the reserved flags, the last byte, or the
    group policy field without the G flag that makes it one (RFC 7348's reserved word)."""
    return bool(flags_reserved or reserved8 or (not flag_g and gbp))


def notes(fields: dict[str, Any]) -> tuple[str, ...]:
    """What the decoder notes of a header's fields (the fast paths write the same)."""
    found: tuple[str, ...] = ()
    if not fields["vxlan.flag_i"]:
        found += ("I flag not set (RFC 7348 requires it)",)
    if reserved_bits(fields["vxlan.flags_reserved"], fields["vxlan.reserved8"],
                     fields["vxlan.flag_g"], fields["vxlan.gbp"]):
        found += ("reserved bits set",)
    return found


def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
    if not _enter(walk, off):
        return None, off
    fields = decode(walk.buf, off)
    walk.layers.append(Layer(PROTO, fields, off, HEADER_LEN, notes=notes(fields)))
    return "eth", off + HEADER_LEN


def dissect_gpe(walk: Walk, off: int) -> tuple[str | None, int]:
    if not _enter(walk, off):
        return None, off
    fields = decode_gpe(walk.buf, off)
    layer = Layer(PROTO, fields, off, HEADER_LEN)
    if not fields["vxlan.i_bit"]:
        layer.notes += ("I flag not set",)
    if fields["vxlan.flags_reserved"] or fields["vxlan.reserved_16"] or fields[
            "vxlan.reserved8"]:
        layer.notes += ("reserved bits set",)
    walk.layers.append(layer)
    return walk.tables["vxlan.next_proto"].get(fields["vxlan.next_proto"], "data"), off + 8


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    """VXLAN or VXLAN-GPE, as the fields say (a GPE header has ``vxlan.next_proto``)."""
    if "vxlan.next_proto" not in fields:
        return encode(fields), False
    if fields["vxlan.next_proto"] is not None:
        return encode_gpe(fields), False
    return encode_gpe({**fields, "vxlan.next_proto": need(next_value, "vxlan.next_proto")}
                      ), True


_SPANS: dict[str, Span] = {
    "vxlan.flags": (0, 2, None), "vxlan.flag_g": (0, 2, 0x8000), "vxlan.flag_i": (0, 2, 0x0800),
    "vxlan.flag_d": (0, 2, 0x0040), "vxlan.flag_a": (0, 2, 0x0008),
    "vxlan.flags_reserved": (0, 2, 0x77B7), "vxlan.gbp": (2, 2, None),
    "vxlan.vni": (4, 3, None), "vxlan.reserved8": (7, 1, None),
}
_GPE_SPANS: dict[str, Span] = {
    "vxlan.flags": (0, 1, None), "vxlan.ver": (0, 1, 0x30), "vxlan.i_bit": (0, 1, 0x08),
    "vxlan.p_bit": (0, 1, 0x04), "vxlan.o_bit": (0, 1, 0x01),
    "vxlan.flags_reserved": (0, 1, 0xC2), "vxlan.reserved_16": (1, 2, None),
    "vxlan.next_proto": (3, 1, None), "vxlan.vni": (4, 3, None), "vxlan.reserved8": (7, 1, None),
}


def _title(f: dict[str, Any]) -> str:
    if "vxlan.vni" not in f:
        return ""
    return f", VNI: {f['vxlan.vni']}" + (", GPE" if "vxlan.next_proto" in f else "")


def _hop(f: dict[str, Any]) -> str:
    return f"vni {f.get('vxlan.vni', '?')}"


_TITLE = "Virtual eXtensible Local Area Network"
SPEC = LayerSpec(
    name=PROTO, title=_TITLE, role=TUNNEL, header_len=HEADER_LEN, schema=SCHEMA,
    dissect=dissect, emit=emit, short="VXLAN", carries="eth", title_extra=_title,
    hop=_hop,
    # 8472 is the Linux kernel's historic default and what flannel uses; 4789 is IANA's.
    selectors=(("udp.port", 4789), ("udp.port", 8472)),
    fields=(
        Field("vxlan.flags", UINT, _SPANS["vxlan.flags"], hex=4, size=2),
        Field("vxlan.flag_g", BOOL, _SPANS["vxlan.flag_g"]),
        Field("vxlan.flag_i", BOOL, _SPANS["vxlan.flag_i"]),
        Field("vxlan.flag_d", BOOL, _SPANS["vxlan.flag_d"]),
        Field("vxlan.flag_a", BOOL, _SPANS["vxlan.flag_a"]),
        Field("vxlan.flags_reserved", UINT, _SPANS["vxlan.flags_reserved"], hex=4, size=2),
        Field("vxlan.gbp", UINT, _SPANS["vxlan.gbp"], size=2),
        Field("vxlan.vni", UINT, _SPANS["vxlan.vni"], size=3),
        Field("vxlan.reserved8", UINT, _SPANS["vxlan.reserved8"], size=1),
    ),
)
SPEC_GPE = LayerSpec(
    name="vxlan-gpe", proto=PROTO, title=_TITLE, role=TUNNEL, header_len=HEADER_LEN,
    schema=GPE_SCHEMA, dissect=dissect_gpe, emit=emit, short="VXLAN", carries="table",
    title_extra=_title, hop=_hop, selectors=(("udp.port", 4790),),
    next_table="vxlan.next_proto", next_field="vxlan.next_proto", claims="vxlan.next_proto",
    fields=(
        Field("vxlan.flags", UINT, _GPE_SPANS["vxlan.flags"], hex=2, size=2),
        Field("vxlan.ver", UINT, _GPE_SPANS["vxlan.ver"], size=1),
        Field("vxlan.i_bit", BOOL, _GPE_SPANS["vxlan.i_bit"]),
        Field("vxlan.p_bit", BOOL, _GPE_SPANS["vxlan.p_bit"]),
        Field("vxlan.o_bit", BOOL, _GPE_SPANS["vxlan.o_bit"]),
        Field("vxlan.flags_reserved", UINT, _GPE_SPANS["vxlan.flags_reserved"], hex=2, size=2),
        Field("vxlan.reserved_16", UINT, _GPE_SPANS["vxlan.reserved_16"], size=2),
        Field("vxlan.next_proto", UINT, _GPE_SPANS["vxlan.next_proto"],
              names=NEXT_PROTOCOL_NAMES, size=1),
        Field("vxlan.vni", UINT, _GPE_SPANS["vxlan.vni"], size=3),
        Field("vxlan.reserved8", UINT, _GPE_SPANS["vxlan.reserved8"], size=1),
    ),
)
