"""GRE (RFC 2784, with RFC 2890's key and sequence number, RFC 1701's routing, RFC 2637's
enhanced GRE for PPTP) and NVGRE (RFC 7637, which is GRE with K set and protocol 0x6558).

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |C|R|K|S|s|Recur|A| Flags | Ver |         Protocol Type         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |      Checksum (optional)      |       Offset (optional)       |  C or R set
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                         Key (optional)                        |  K set
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                 Sequence Number (optional)                    |  S set
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |               Acknowledgment Number (optional)                |  PPTP, A set
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Routing (optional: SREs)                   |  R set
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

As tshark 4.0 reads it: the checksum and offset words are there when C or R is set (RFC
1701); the checksum is verified only when C is set (it covers the GRE header and its payload,
to the end of the IP payload; a bad one is reported, not fatal).  Enhanced GRE (PPTP) is
version 1 with protocol 0x880B: its key is ``gre.key.payload_length`` and ``gre.key.call_id``,
bit 0x0080 is ``gre.flags.ack`` and an acknowledgment number follows the sequence number when
it is set; anything else reads the key whole as ``gre.key`` and counts bit 0x0080 among the
reserved flags (``gre.flags.reserved``, mask 0x00f8).  tshark 4.0 shows NVGRE's key as
``gre.key`` only (no VSID or flow id fields), and so does vxlankit.  Routing SREs are kept raw
in ``gre.sre_list`` (vxlankit's own: Wireshark shows each SRE's fields; RFC 2784 deprecates
them), up to and including the NULL SRE (address family 0, length 0) that ends them.

The payload is looked up in the ``gre.proto`` table (what only GRE carries: ERSPAN 0x88BE
and 0x22EB), then in ``ethertype`` (IPv4, IPv6, 0x6558 Transparent Ethernet Bridging -> an
inner Ethernet frame), as Wireshark does.

Encoding.  ``gre.flags_and_version`` is authoritative and the flag fields are views of it;
the optional fields are written when present in the layer's fields (in wire order).  With
``fix_lengths`` (and whenever ``gre.flags_and_version`` is ``None``) the flag bits follow the
fields instead: C is set when ``gre.checksum`` is present (except with R set, where the
checksum word is there either way and C stays as given), R when ``gre.sre_list`` is,
K when ``gre.key`` (or PPTP's ``gre.key.call_id``) is, S when ``gre.sequence_number`` is,
A (PPTP) when ``gre.ack_number`` is.  ``gre.checksum`` set to ``None`` is computed; with C
clear no checksum is computed whatever the field holds.  ``gre.proto`` set to ``None`` is
taken from the next layer (an ERSPAN layer gets 0x88BE: set 0x22EB for type III yourself).
"""

from __future__ import annotations

import struct
from typing import Any

from construct import Computed, Construct, If, Int16ub, Int32ub, Struct, this
from construct.core import stream_read, stream_write

from vxlankit.checksum import internet_checksum
from vxlankit.checksum import verify as checksum_ok
from vxlankit.errors import EncodeError
from vxlankit.layers._common import as_bytes
from vxlankit.layers.spec import (
    BOOL,
    BYTES,
    CHECKSUM_PAYLOAD,
    TUNNEL,
    UINT,
    Field,
    LayerSpec,
    Span,
    Walk,
    need,
)
from vxlankit.packet import CHECKSUM_GOOD, CHECKSUM_UNVERIFIED, TRUNCATED, Layer

PROTO = "gre"
HEADER_LEN = 4
IP_PROTO = 47

FLAG_C = 0x8000
FLAG_R = 0x4000
FLAG_K = 0x2000
FLAG_S = 0x1000
FLAG_SSR = 0x0800
RECURSION_MASK = 0x0700
FLAG_A = 0x0080
RESERVED_MASK = 0x00F8
RESERVED_MASK_PPTP = 0x0078
VERSION_MASK = 0x0007

PROTO_PPP = 0x880B
PROTO_ERSPAN = 0x88BE
PROTO_ERSPAN3 = 0x22EB
PROTO_TEB = 0x6558

PROTOCOL_NAMES = {0x0800: "IP", 0x86DD: "IPv6", PROTO_TEB: "Transparent Ethernet bridging",
                  PROTO_ERSPAN: "ERSPAN", PROTO_ERSPAN3: "ERSPAN III", PROTO_PPP: "PPP",
                  0x0806: "ARP", 0x8847: "MPLS label switched packet", 0x894F: "NSH"}
VERSION_NAMES = {0: "GRE", 1: "Enhanced GRE"}


def is_pptp(flags: int, proto: int) -> bool:
    """Enhanced GRE (RFC 2637): version 1 carrying PPP, as Wireshark tells it."""
    return flags & VERSION_MASK == 1 and proto == PROTO_PPP


_SRE = struct.Struct("!HBB")


def _sre_end(buf: bytes, off: int) -> int:
    """Where the SRE list starting at ``off`` ends (after its NULL SRE); IndexError or
    struct.error when the bytes end first."""
    i: int = off
    while True:
        family, _, length = _SRE.unpack_from(buf, i)
        i += 4 + int(length)
        if family == 0 and length == 0:
            return i
        if i > len(buf):
            raise IndexError("SRE list runs past the data")


class _SreList(Construct):  # type: ignore[misc]
    """RFC 1701 routing: SREs up to and including the NULL one, as raw bytes."""

    def _parse(self, stream: Any, context: Any, path: Any) -> bytes:
        out = b""
        while True:
            head = bytes(stream_read(stream, 4, path))
            family, _, length = _SRE.unpack(head)
            out += head + bytes(stream_read(stream, length, path))
            if family == 0 and length == 0:
                return out

    def _build(self, obj: Any, stream: Any, context: Any, path: Any) -> bytes:
        data = as_bytes(obj, "gre.sre_list")
        stream_write(stream, data, len(data), path)
        return data


_F = this["gre.flags_and_version"]


def _pptp(c: Any) -> bool:
    return is_pptp(c["gre.flags_and_version"], c["gre.proto"])


def _bit(mask: int, pptp: bool | None = None) -> Any:
    """A schema condition: ``mask`` set in the flags (and the header PPTP's or not)."""
    def cond(c: Any) -> bool:
        return bool(c["gre.flags_and_version"] & mask) and (pptp is None or _pptp(c) == pptp)
    return cond


SCHEMA = Struct(
    "gre.flags_and_version" / Int16ub,
    "gre.flags.checksum" / Computed((_F >> 15) & 1),
    "gre.flags.routing" / Computed((_F >> 14) & 1),
    "gre.flags.key" / Computed((_F >> 13) & 1),
    "gre.flags.sequence_number" / Computed((_F >> 12) & 1),
    "gre.flags.strict_source_route" / Computed((_F >> 11) & 1),
    "gre.flags.recursion_control" / Computed((_F >> 8) & 7),
    "gre.proto" / Int16ub,
    "gre.flags.ack" / If(_pptp, Computed((_F >> 7) & 1)),
    "gre.flags.reserved" / Computed(lambda c: (c["gre.flags_and_version"] & (
        RESERVED_MASK_PPTP if _pptp(c) else RESERVED_MASK)) >> 3),
    "gre.flags.version" / Computed(_F & VERSION_MASK),
    "gre.checksum" / If(_bit(FLAG_C | FLAG_R), Int16ub),
    "gre.offset" / If(_bit(FLAG_C | FLAG_R), Int16ub),
    "gre.key" / If(_bit(FLAG_K, False), Int32ub),
    "gre.key.payload_length" / If(_bit(FLAG_K, True), Int16ub),
    "gre.key.call_id" / If(_bit(FLAG_K, True), Int16ub),
    "gre.sequence_number" / If(_bit(FLAG_S), Int32ub),
    "gre.ack_number" / If(_bit(FLAG_A, True), Int32ub),
    "gre.sre_list" / If(_bit(FLAG_R), _SreList()),
)

_OPTIONAL = ("gre.checksum", "gre.offset", "gre.key", "gre.key.payload_length",
             "gre.key.call_id", "gre.sequence_number", "gre.ack_number", "gre.sre_list")


def schema_build_input(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields as ``SCHEMA.build`` wants them: the optional fields that are absent as
    ``None``."""
    return {**dict.fromkeys(_OPTIONAL), **fields}


_S = struct.Struct("!HH")
_I = struct.Struct("!I")


def header_length(buf: bytes, off: int) -> int:
    """The header's length as its flags say (SREs included); IndexError or struct.error when
    the bytes end before that is known."""
    flags, proto = _S.unpack_from(buf, off)
    n = 4
    if flags & (FLAG_C | FLAG_R):
        n += 4
    if flags & FLAG_K:
        n += 4
    if flags & FLAG_S:
        n += 4
    if flags & FLAG_A and is_pptp(flags, proto):
        n += 4
    if flags & FLAG_R:
        return _sre_end(buf, off + n) - off
    return n


def _views(flags: int, pptp: bool) -> dict[str, Any]:
    views: dict[str, Any] = {
        "gre.flags.checksum": flags >> 15,
        "gre.flags.routing": (flags >> 14) & 1,
        "gre.flags.key": (flags >> 13) & 1,
        "gre.flags.sequence_number": (flags >> 12) & 1,
        "gre.flags.strict_source_route": (flags >> 11) & 1,
        "gre.flags.recursion_control": (flags >> 8) & 7,
    }
    if pptp:
        views["gre.flags.ack"] = (flags >> 7) & 1
        views["gre.flags.reserved"] = (flags & RESERVED_MASK_PPTP) >> 3
    else:
        views["gre.flags.reserved"] = (flags & RESERVED_MASK) >> 3
    views["gre.flags.version"] = flags & VERSION_MASK
    return views


def decode(buf: bytes, off: int) -> dict[str, Any]:
    """The whole header at ``off`` (the caller knows it is all there: ``header_length``)."""
    flags, proto = _S.unpack_from(buf, off)
    pptp = is_pptp(flags, proto)
    fields: dict[str, Any] = {"gre.flags_and_version": flags}
    fields.update(_views(flags, pptp))
    fields["gre.proto"] = proto
    i = off + 4
    if flags & (FLAG_C | FLAG_R):
        fields["gre.checksum"], fields["gre.offset"] = _S.unpack_from(buf, i)
        i += 4
    if flags & FLAG_K:
        if pptp:
            fields["gre.key.payload_length"], fields["gre.key.call_id"] = _S.unpack_from(buf, i)
        else:
            fields["gre.key"] = _I.unpack_from(buf, i)[0]
        i += 4
    if flags & FLAG_S:
        fields["gre.sequence_number"] = _I.unpack_from(buf, i)[0]
        i += 4
    if pptp and flags & FLAG_A:
        fields["gre.ack_number"] = _I.unpack_from(buf, i)[0]
        i += 4
    if flags & FLAG_R:
        fields["gre.sre_list"] = bytes(buf[i:_sre_end(buf, i)])
    return fields


def encode(fields: dict[str, Any]) -> bytes:
    """The header exactly as the fields say: the flags as given, each optional field that is
    present (``None`` written as 0)."""
    get = fields.get
    flags = fields["gre.flags_and_version"]
    proto = fields["gre.proto"]
    out = [_S.pack(flags, proto)]
    if "gre.checksum" in fields or "gre.offset" in fields:
        out.append(_S.pack(get("gre.checksum") or 0, get("gre.offset") or 0))
    if "gre.key" in fields:
        out.append(_I.pack(get("gre.key") or 0))
    elif "gre.key.call_id" in fields or "gre.key.payload_length" in fields:
        out.append(_S.pack(get("gre.key.payload_length") or 0, get("gre.key.call_id") or 0))
    if "gre.sequence_number" in fields:
        out.append(_I.pack(get("gre.sequence_number") or 0))
    if "gre.ack_number" in fields:
        out.append(_I.pack(get("gre.ack_number") or 0))
    if "gre.sre_list" in fields:
        sres = as_bytes(fields["gre.sre_list"], "gre.sre_list")
        try:
            end = _sre_end(sres, 0)
        except (IndexError, struct.error):
            end = -1
        if end != len(sres):
            raise EncodeError("gre.sre_list must be whole SREs ending with the NULL SRE "
                              "(address family 0, length 0)")
        out.append(sres)
    return b"".join(out)


def fixed_flags(fields: dict[str, Any], flags: int | None, proto: int) -> int:
    """``flags`` (or the views', when ``None``) with C, R, K, S (and PPTP's A) set as the
    fields say."""
    get = fields.get
    if flags is None:
        flags = ((get("gre.flags.strict_source_route") or 0) << 11 |
                 (get("gre.flags.recursion_control") or 0) << 8 |
                 (get("gre.flags.reserved") or 0) << 3 | (get("gre.flags.version") or 0))
    flags &= ~(FLAG_R | FLAG_K | FLAG_S)
    if "gre.sre_list" in fields:
        flags |= FLAG_R  # the checksum word is there either way: C stays as given
    elif "gre.checksum" in fields:
        flags |= FLAG_C
    else:
        flags &= ~FLAG_C
    if "gre.key" in fields or "gre.key.call_id" in fields:
        flags |= FLAG_K
    if "gre.sequence_number" in fields:
        flags |= FLAG_S
    if is_pptp(flags, proto):  # elsewhere bit 0x0080 is a reserved bit, kept as given
        flags = flags | FLAG_A if "gre.ack_number" in fields else flags & ~FLAG_A
    return flags


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    flags = fields.get("gre.flags_and_version")
    proto = fields.get("gre.proto")
    filled = flags is None or proto is None or (
        "gre.checksum" in fields and fields["gre.checksum"] is None)
    if proto is None:
        proto = need(next_value, "gre.proto")
    if flags is None or fix_lengths:
        flags = fixed_flags(fields, flags, proto)
    if not 0 <= flags <= 0xFFFF:
        raise ValueError(f"gre.flags_and_version {flags:#x} does not fit in 16 bits")
    return encode({**fields, "gre.flags_and_version": flags, "gre.proto": proto}), filled


# --------------------------------------------------------------------------------------------
# The house's view of GRE


def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
    buf = walk.buf
    end = walk.end
    if end - off < HEADER_LEN:
        walk.cut(PROTO, off, HEADER_LEN)
        return None, off
    if walk.depth >= walk.max_depth:
        walk.errors.append(f"gre: tunnel depth limit {walk.max_depth} reached at offset "
                           f"{off}; rest kept as data")
        walk.data(off)
        return None, off
    try:
        size = header_length(buf[:end], off)
    except (IndexError, struct.error):
        size = -1
    if size < 0 or size > end - off:
        flags, proto = _S.unpack_from(buf, off)
        fields = {"gre.flags_and_version": flags, **_views(flags, is_pptp(flags, proto)),
                  "gre.proto": proto}
        walk.layers.append(Layer(PROTO, fields, off, end - off, status=TRUNCATED,
                                 raw=buf[off:end]))
        walk.errors.append(f"gre: truncated header at offset {off}: the flags need more than "
                           f"the {end - off} bytes left")
        return None, off
    walk.depth += 1
    fields = decode(buf, off)
    flags = fields["gre.flags_and_version"]
    layer = Layer(PROTO, fields, off, size)
    walk.layers.append(layer)
    if "gre.checksum" in fields:
        if not flags & FLAG_C or not walk.verify or not walk.ip_complete:
            fields["gre.checksum.status"] = CHECKSUM_UNVERIFIED
        elif checksum_ok(buf[off:end]):
            fields["gre.checksum.status"] = CHECKSUM_GOOD
        else:
            calc = internet_checksum(buf[off:off + 4] + buf[off + 6:end])
            walk.bad_checksum(fields, PROTO, off + 4, calc)
    proto = fields["gre.proto"]
    tables = walk.tables
    nxt = tables["gre.proto"].get(proto) or tables["ethertype"].get(proto, "data")
    return nxt, off + size


def _span(layer: Layer, name: str) -> Span | None:
    f = layer.fields
    flags = f.get("gre.flags_and_version")
    if flags is None:
        return None
    if name == "gre.flags.reserved" and "gre.flags.ack" in f:
        return 0, 2, RESERVED_MASK_PPTP
    if name in _FIXED:
        return None
    place = 4
    if flags & (FLAG_C | FLAG_R):
        if name.startswith("gre.checksum"):
            return 4, 2, None
        if name == "gre.offset":
            return 6, 2, None
        place = 8
    if "gre.key" in f:
        if name == "gre.key":
            return place, 4, None
        place += 4
    elif "gre.key.call_id" in f:
        if name == "gre.key.payload_length":
            return place, 2, None
        if name == "gre.key.call_id":
            return place + 2, 2, None
        place += 4
    if "gre.sequence_number" in f:
        if name == "gre.sequence_number":
            return place, 4, None
        place += 4
    if "gre.ack_number" in f:
        if name == "gre.ack_number":
            return place, 4, None
        place += 4
    if name == "gre.sre_list":
        return place, max(0, layer.length - place), None
    return None


def _title(f: dict[str, Any]) -> str:
    proto = f.get("gre.proto")
    if proto is None:
        return ""
    name = PROTOCOL_NAMES.get(proto)
    return f", {name}" if name else f", 0x{proto:04x} (unknown)"


def info(layer: Layer) -> str:
    """tshark's Info column for a GRE packet whose payload it does not dissect further:
    ``Encapsulated PPP``, ``Encapsulated 0x1234 (unknown)``."""
    proto = layer.fields.get("gre.proto")
    if proto is None:
        return ""
    name = PROTOCOL_NAMES.get(proto)
    return f"Encapsulated {name}" if name else f"Encapsulated 0x{proto:04x} (unknown)"


def hop(f: dict[str, Any]) -> str:
    """GRE's part of a one-line tunnel hop: its key (NVGRE's VSID and flow id), PPTP's call
    id, or nothing."""
    if "gre.key" in f:
        return f"key {f['gre.key']}"
    if "gre.key.call_id" in f:
        return f"call {f['gre.key.call_id']}"
    return ""


_FLAG_FIELDS = (
    Field("gre.flags_and_version", UINT, (0, 2, None), hex=4),
    Field("gre.flags.checksum", BOOL, (0, 2, FLAG_C)),
    Field("gre.flags.routing", BOOL, (0, 2, FLAG_R)),
    Field("gre.flags.key", BOOL, (0, 2, FLAG_K)),
    Field("gre.flags.sequence_number", BOOL, (0, 2, FLAG_S)),
    Field("gre.flags.strict_source_route", BOOL, (0, 2, FLAG_SSR)),
    Field("gre.flags.recursion_control", UINT, (0, 2, RECURSION_MASK)),
    Field("gre.flags.ack", BOOL, (0, 2, FLAG_A)),
    Field("gre.flags.reserved", UINT, (0, 2, RESERVED_MASK)),
    Field("gre.flags.version", UINT, (0, 2, VERSION_MASK), names=VERSION_NAMES),
    Field("gre.proto", UINT, (2, 2, None), hex=4, names=PROTOCOL_NAMES),
)
_FIXED = frozenset(f.name for f in _FLAG_FIELDS)

SPEC = LayerSpec(
    name=PROTO, title="Generic Routing Encapsulation", role=TUNNEL, header_len=HEADER_LEN,
    schema=SCHEMA, dissect=dissect, emit=emit, short="GRE", carries="table",
    selectors=(("ip.proto", IP_PROTO),), next_table="gre.proto", next_fallback="ethertype",
    next_field="gre.proto", checksum=CHECKSUM_PAYLOAD, checksum_at=4, checksum_flag=FLAG_C,
    span=_span, title_extra=_title, info=info, hop=hop,
    fields=(
        *_FLAG_FIELDS,
        Field("gre.checksum", UINT, hex=4, size=2),
        Field("gre.checksum.status", UINT, size=1),
        Field("gre.checksum_calculated", UINT, hex=4,
              doc="vxlankit's own: the right checksum, when gre.checksum is bad"),
        Field("gre.offset", UINT, size=2),
        Field("gre.key", UINT, hex=8,
              column="GRE key (first GRE header with one; NVGRE: VSID and flow id)", size=4),
        Field("gre.key.payload_length", UINT, size=2),
        Field("gre.key.call_id", UINT, size=2),
        Field("gre.sequence_number", UINT, size=4),
        Field("gre.ack_number", UINT, size=4),
        Field("gre.sre_list", BYTES,
              doc="vxlankit's own: the RFC 1701 routing SREs, raw, up to and including the "
                  "NULL SRE (Wireshark shows each SRE's fields)"),
    ),
)
