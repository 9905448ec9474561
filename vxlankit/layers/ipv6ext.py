"""IPv6 extension headers (RFC 8200 section 4), and IPsec's AH (RFC 4302) and ESP (RFC 4303).

Each is a layer of its own, as tshark's ``frame.protocols`` lists them (``ipv6.hopopts``,
``ipv6.routing``, ``ipv6.fraghdr``, ``ipv6.dstopts``, ``ah``, ``esp``); each but ESP hands on
to the ``ip.proto`` table with its Next Header.

    Hop-by-Hop / Destination Options (0 / 60)        Routing (43)
    +---------------+---------------+-------------   +-------+-------+--------+-------------+
    |  Next Header  |  Hdr Ext Len  |  Options...    |  Nxt  |  Len  |  Type  |  Segs Left  |
    +---------------+---------------+-------------   +-------+-------+--------+-------------+
    (8 + 8 * Hdr Ext Len bytes in all)               |  type-specific data ...              |

    Fragment (44)
    +---------------+---------------+-------------------------+-----+-+
    |  Next Header  |   Reserved    |    Fragment Offset      | Res |M|
    +---------------+---------------+-------------------------+-----+-+
    |                         Identification                          |
    +-----------------------------------------------------------------+

    AH (51): Next Header, Payload Len (4-byte units - 2), Reserved (2), SPI (4), Sequence (4),
    ICV (the rest).  ESP (50): SPI (4), Sequence (4), then encrypted data (a ``data`` layer).

Options and routing data are kept whole, as bytes (``ipv6.hopopts.options``,
``ipv6.dstopts.options``, ``ipv6.routing.data``: vxlankit's names; tshark dissects each
option).  The Next Header fields are the authoritative ones for encoding, ``.len`` the
length in 8-byte units after the first 8 (``.len_oct``, the whole header in bytes, is a view).

Rules for the walk: a routing header with segments left names the final destination (type 0:
its last address, type 2: the home address, type 4 SRH: segment 0), which the pseudo-header
of UDP/TCP uses (RFC 8200 8.1); a fragment header makes the payload incomplete for checksums;
a later fragment (offset > 0) is data.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from construct import Bytes, Computed, Int8ub, Int16ub, Int32ub, Rebuild, Struct, this

from vxlankit.errors import EncodeError
from vxlankit.layers._common import as_bytes
from vxlankit.layers.spec import BOOL, BYTES, EXTENSION, UINT, Field, LayerSpec, Walk, need
from vxlankit.packet import MALFORMED, TRUNCATED, Layer

HOPOPTS = "ipv6.hopopts"
ROUTING = "ipv6.routing"
FRAGHDR = "ipv6.fraghdr"
DSTOPTS = "ipv6.dstopts"
AH = "ah"
ESP = "esp"

IP_PROTO_HOPOPTS = 0
IP_PROTO_ROUTING = 43
IP_PROTO_FRAGMENT = 44
IP_PROTO_ESP = 50
IP_PROTO_AH = 51
IP_PROTO_DSTOPTS = 60

ROUTING_SOURCE = 0  # RFC 2460 type 0 (deprecated by RFC 5095)
ROUTING_MIPV6 = 2  # RFC 6275 type 2: one home address
ROUTING_SRH = 4  # RFC 8754 segment routing header


def _options_schema(p: str) -> Any:
    return Struct(
        f"{p}.nxt" / Int8ub,
        f"{p}.len" / Int8ub,
        f"{p}.len_oct" / Computed((this[f"{p}.len"] + 1) * 8),
        f"{p}.options" / Bytes(this[f"{p}.len_oct"] - 2),
    )


SCHEMA_HOPOPTS = _options_schema(HOPOPTS)
SCHEMA_DSTOPTS = _options_schema(DSTOPTS)
SCHEMA_ROUTING = Struct(
    "ipv6.routing.nxt" / Int8ub,
    "ipv6.routing.len" / Int8ub,
    "ipv6.routing.len_oct" / Computed((this["ipv6.routing.len"] + 1) * 8),
    "ipv6.routing.type" / Int8ub,
    "ipv6.routing.segleft" / Int8ub,
    "ipv6.routing.data" / Bytes(this["ipv6.routing.len_oct"] - 4),
)
SCHEMA_FRAGHDR = Struct(
    "ipv6.fraghdr.nxt" / Int8ub,
    "ipv6.fraghdr.reserved_octet" / Int8ub,
    "_off" / Rebuild(Int16ub, (this["ipv6.fraghdr.offset"] << 3)
                     | (this["ipv6.fraghdr.reserved_bits"] << 1) | this["ipv6.fraghdr.more"]),
    "ipv6.fraghdr.offset" / Computed(this._off >> 3),
    "ipv6.fraghdr.reserved_bits" / Computed((this._off >> 1) & 3),
    "ipv6.fraghdr.more" / Computed(this._off & 1),
    "ipv6.fraghdr.ident" / Int32ub,
)
SCHEMA_AH = Struct(
    "ah.next_header" / Int8ub,
    "ah.length" / Int8ub,
    "ah.reserved" / Bytes(2),
    "ah.spi" / Int32ub,
    "ah.sequence" / Int32ub,
    # A length under 12 bytes (ah.length < 1) is malformed; the codec reads no ICV then.
    "ah.icv" / Bytes((this["ah.length"] >= 1) * ((this["ah.length"] + 2) * 4 - 12)),
)
SCHEMA_ESP = Struct("esp.spi" / Int32ub, "esp.sequence" / Int32ub)

_FRAG = struct.Struct("!BBHI")
_AH = struct.Struct("!BB2sII")
_ESP = struct.Struct("!II")


# --------------------------------------------------------------------------------------------
# Fast paths: decode(buf, off) of a whole header (the caller checked it is all there),
# encode(fields) from the authoritative fields.


def _options_decode(p: str) -> Callable[[bytes, int], dict[str, Any]]:
    nxt_name, len_name, oct_name, opt_name = (f"{p}.nxt", f"{p}.len", f"{p}.len_oct",
                                              f"{p}.options")

    def decode(buf: bytes, off: int) -> dict[str, Any]:
        n = (buf[off + 1] + 1) * 8
        return {nxt_name: buf[off], len_name: buf[off + 1], oct_name: n,
                opt_name: bytes(buf[off + 2:off + n])}

    return decode


def _options_encode(p: str) -> Callable[[dict[str, Any]], bytes]:
    def encode(fields: dict[str, Any]) -> bytes:
        return pack_options(fields[f"{p}.nxt"], fields[f"{p}.len"], fields[f"{p}.options"],
                            f"{p}.options")

    return encode


def pack_options(nxt: int, length: int, options: Any, name: str) -> bytes:
    return bytes((nxt, length)) + as_bytes(options, name)


decode_hopopts = _options_decode(HOPOPTS)
decode_dstopts = _options_decode(DSTOPTS)
encode_hopopts = _options_encode(HOPOPTS)
encode_dstopts = _options_encode(DSTOPTS)


def decode_routing(buf: bytes, off: int) -> dict[str, Any]:
    n = (buf[off + 1] + 1) * 8
    return {"ipv6.routing.nxt": buf[off], "ipv6.routing.len": buf[off + 1],
            "ipv6.routing.len_oct": n, "ipv6.routing.type": buf[off + 2],
            "ipv6.routing.segleft": buf[off + 3], "ipv6.routing.data": bytes(buf[off + 4:off + n])}


def encode_routing(fields: dict[str, Any]) -> bytes:
    return bytes((fields["ipv6.routing.nxt"], fields["ipv6.routing.len"],
                  fields["ipv6.routing.type"], fields["ipv6.routing.segleft"])) + as_bytes(
        fields["ipv6.routing.data"], "ipv6.routing.data")


def decode_fraghdr(buf: bytes, off: int) -> dict[str, Any]:
    nxt, reserved, word, ident = _FRAG.unpack_from(buf, off)
    return {"ipv6.fraghdr.nxt": nxt, "ipv6.fraghdr.reserved_octet": reserved,
            "ipv6.fraghdr.offset": word >> 3, "ipv6.fraghdr.reserved_bits": (word >> 1) & 3,
            "ipv6.fraghdr.more": word & 1, "ipv6.fraghdr.ident": ident}


def encode_fraghdr(fields: dict[str, Any]) -> bytes:
    return pack_fraghdr(fields["ipv6.fraghdr.nxt"], fields["ipv6.fraghdr.reserved_octet"],
                        fields["ipv6.fraghdr.offset"], fields["ipv6.fraghdr.reserved_bits"],
                        fields["ipv6.fraghdr.more"], fields["ipv6.fraghdr.ident"])


def pack_fraghdr(nxt: int, reserved: int, offset: int, reserved_bits: int, more: int,
                 ident: int) -> bytes:
    if not (0 <= offset <= 0x1FFF and 0 <= reserved_bits <= 3 and more in (0, 1)):
        raise ValueError(f"ipv6.fraghdr.offset {offset} / reserved_bits {reserved_bits} / more "
                         f"{more} do not fit in 13 / 2 / 1 bits")
    return _FRAG.pack(nxt, reserved, (offset << 3) | (reserved_bits << 1) | more, ident)


def ah_length(length_field: int) -> int:
    """The whole AH header's bytes from its Payload Len field (RFC 4302 2.2)."""
    return (length_field + 2) * 4


def decode_ah(buf: bytes, off: int) -> dict[str, Any]:
    nxt, length, reserved, spi, seq = _AH.unpack_from(buf, off)
    n = ah_length(length)
    return {"ah.next_header": nxt, "ah.length": length, "ah.reserved": reserved,
            "ah.spi": spi, "ah.sequence": seq,
            "ah.icv": bytes(buf[off + 12:off + n]) if n > 12 else b""}


def encode_ah(fields: dict[str, Any]) -> bytes:
    return _AH.pack(fields["ah.next_header"], fields["ah.length"],
                    _reserved(fields["ah.reserved"]), fields["ah.spi"],
                    fields["ah.sequence"]) + as_bytes(fields["ah.icv"], "ah.icv")


def _reserved(value: Any) -> bytes:
    raw = as_bytes(value, "ah.reserved")
    if len(raw) != 2:
        raise ValueError(f"ah.reserved must be 2 bytes, got {len(raw)}")
    return raw


def decode_esp(buf: bytes, off: int) -> dict[str, Any]:
    spi, seq = _ESP.unpack_from(buf, off)
    return {"esp.spi": spi, "esp.sequence": seq}


def encode_esp(fields: dict[str, Any]) -> bytes:
    return _ESP.pack(fields["esp.spi"], fields["esp.sequence"])


# --------------------------------------------------------------------------------------------
# Where a routing header sends the packet in the end (RFC 8200 8.1)


def final_destination(rtype: int, segleft: int, data: bytes) -> bytes | None:
    """The final destination a routing header names (``data``: the bytes after its first 4),
    or None when it has no segments left or a type whose addresses vxlankit does not read."""
    if segleft == 0:
        return None
    if rtype == ROUTING_SOURCE and len(data) >= 20:
        count = (len(data) - 4) // 16
        return bytes(data[4 + 16 * (count - 1):4 + 16 * count])
    if rtype == ROUTING_MIPV6 and len(data) >= 20:
        return bytes(data[4:20])
    if rtype == ROUTING_SRH and len(data) >= 20:
        return bytes(data[4:20])  # segment list[0] is the last segment
    return None


def chain_destination(payload: bytes | bytearray, dst: bytes, nxt: int) -> bytes:
    """Walk extension headers (``payload``: the bytes after an IPv6 header whose Next Header
    is ``nxt``) and return the final destination a routing header names, else ``dst``."""
    i = 0
    while nxt in (IP_PROTO_HOPOPTS, IP_PROTO_DSTOPTS, IP_PROTO_ROUTING, IP_PROTO_FRAGMENT,
                  IP_PROTO_AH) and i + 8 <= len(payload):
        if nxt == IP_PROTO_FRAGMENT:
            n = 8
        elif nxt == IP_PROTO_AH:
            n = ah_length(payload[i + 1])
        else:
            n = (payload[i + 1] + 1) * 8
        if nxt == IP_PROTO_ROUTING and i + n <= len(payload):
            final = final_destination(payload[i + 2], payload[i + 3], bytes(payload[i + 4:i + n]))
            if final is not None:
                dst = final
        nxt = payload[i]
        i += n
    return dst


# --------------------------------------------------------------------------------------------
# The house's view


def _header(walk: Walk, off: int, proto: str, length: int) -> int:
    """Check ``length`` bytes of header are there: 0 if so, else the layer is cut."""
    avail = walk.end - off
    if avail < length:
        walk.cut(proto, off, length)
        return -1
    return 0


def _options_dissect(p: str, decode: Callable[[bytes, int], dict[str, Any]]
                     ) -> Callable[[Walk, int], tuple[str | None, int]]:
    def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
        if walk.end - off < 2:
            walk.cut(p, off, 8)
            return None, off
        n = (walk.buf[off + 1] + 1) * 8
        if _header(walk, off, p, n) < 0:
            return None, off
        fields = decode(walk.buf, off)
        walk.layers.append(Layer(p, fields, off, n))
        return walk.tables["ip.proto"].get(fields[f"{p}.nxt"], "data"), off + n

    return dissect


dissect_hopopts = _options_dissect(HOPOPTS, decode_hopopts)
dissect_dstopts = _options_dissect(DSTOPTS, decode_dstopts)


def dissect_routing(walk: Walk, off: int) -> tuple[str | None, int]:
    if walk.end - off < 2:
        walk.cut(ROUTING, off, 8)
        return None, off
    n = (walk.buf[off + 1] + 1) * 8
    if _header(walk, off, ROUTING, n) < 0:
        return None, off
    fields = decode_routing(walk.buf, off)
    walk.layers.append(Layer(ROUTING, fields, off, n))
    final = final_destination(fields["ipv6.routing.type"], fields["ipv6.routing.segleft"],
                              fields["ipv6.routing.data"])
    if final is not None and len(walk.ip_src) == 16:
        walk.ip_dst = final
        walk.ip_pseudo = int.from_bytes(walk.ip_src + final, "big")
    return walk.tables["ip.proto"].get(fields["ipv6.routing.nxt"], "data"), off + n


def dissect_fraghdr(walk: Walk, off: int) -> tuple[str | None, int]:
    if _header(walk, off, FRAGHDR, 8) < 0:
        return None, off
    fields = decode_fraghdr(walk.buf, off)
    walk.layers.append(Layer(FRAGHDR, fields, off, 8))
    walk.ip_complete = False  # one fragment of a datagram: no checksum over it can be checked
    if fields["ipv6.fraghdr.offset"]:
        return "data", off + 8  # only the first fragment carries the next header
    return walk.tables["ip.proto"].get(fields["ipv6.fraghdr.nxt"], "data"), off + 8


def dissect_ah(walk: Walk, off: int) -> tuple[str | None, int]:
    if _header(walk, off, AH, 12) < 0:
        return None, off
    n = ah_length(walk.buf[off + 1])
    fields = decode_ah(walk.buf, off)
    layer = Layer(AH, fields, off, 12)
    walk.layers.append(layer)
    if n < 12:
        layer.status = MALFORMED
        walk.errors.append(f"ah: length {fields['ah.length']} < 1 at offset {off + 1}")
        return "data", off + 12
    if n > walk.end - off:
        layer.status = TRUNCATED
        layer.length = walk.end - off
        layer.raw = walk.buf[off:walk.end]
        walk.errors.append(f"ah: truncated ICV at offset {off}: header {n}, "
                           f"{walk.end - off} bytes left")
        return None, off
    layer.length = n
    return walk.tables["ip.proto"].get(fields["ah.next_header"], "data"), off + n


def dissect_esp(walk: Walk, off: int) -> tuple[str | None, int]:
    if _header(walk, off, ESP, 8) < 0:
        return None, off
    walk.layers.append(Layer(ESP, decode_esp(walk.buf, off), off, 8))
    return "data", off + 8  # encrypted: nothing more to read


# --------------------------------------------------------------------------------------------
# Encoding


def _options_emit(p: str) -> Callable[[dict[str, Any], int | None, bool], tuple[bytes, bool]]:
    nxt_name, len_name, opt_name = f"{p}.nxt", f"{p}.len", f"{p}.options"

    def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
             ) -> tuple[bytes, bool]:
        get = fields.get
        nxt, length = get(nxt_name), get(len_name)
        options = as_bytes(get(opt_name, b"\x01\x04\0\0\0\0"), opt_name)  # default: PadN
        filled = nxt is None or length is None
        if nxt is None:
            nxt = need(next_value, nxt_name)
        if fix_lengths or length is None:
            length = _units(len(options) + 2, opt_name)
        return pack_options(nxt, length, options, opt_name), filled

    return emit


def _units(total: int, name: str) -> int:
    if total % 8 or not 8 <= total <= 2048:
        raise EncodeError(f"{name} must make the header a multiple of 8 bytes from 8 to 2048, "
                          f"got {total}")
    return total // 8 - 1


def emit_routing(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
                 ) -> tuple[bytes, bool]:
    get = fields.get
    nxt, length = get("ipv6.routing.nxt"), get("ipv6.routing.len")
    data = as_bytes(get("ipv6.routing.data", bytes(4)), "ipv6.routing.data")
    filled = nxt is None or length is None
    if nxt is None:
        nxt = need(next_value, "ipv6.routing.nxt")
    if fix_lengths or length is None:
        length = _units(len(data) + 4, "ipv6.routing.data")
    return bytes((nxt, length, get("ipv6.routing.type") or 0,
                  get("ipv6.routing.segleft") or 0)) + data, filled


def emit_fraghdr(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
                 ) -> tuple[bytes, bool]:
    get = fields.get
    nxt = get("ipv6.fraghdr.nxt")
    filled = nxt is None
    if nxt is None:
        nxt = need(next_value, "ipv6.fraghdr.nxt")
    return pack_fraghdr(nxt, get("ipv6.fraghdr.reserved_octet") or 0,
                        get("ipv6.fraghdr.offset") or 0, get("ipv6.fraghdr.reserved_bits") or 0,
                        get("ipv6.fraghdr.more") or 0, get("ipv6.fraghdr.ident") or 0), filled


def emit_ah(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
            ) -> tuple[bytes, bool]:
    get = fields.get
    nxt, length = get("ah.next_header"), get("ah.length")
    icv = as_bytes(get("ah.icv", b""), "ah.icv")
    filled = nxt is None or length is None
    if nxt is None:
        nxt = need(next_value, "ah.next_header")
    if fix_lengths or length is None:
        if len(icv) % 4 or len(icv) > 1008:
            raise EncodeError(f"ah.icv must be a multiple of 4 bytes up to 1008, got {len(icv)}")
        length = (12 + len(icv)) // 4 - 2
    return _AH.pack(nxt, length, _reserved(get("ah.reserved", bytes(2))), get("ah.spi") or 0,
                    get("ah.sequence") or 0) + icv, filled


def emit_esp(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
             ) -> tuple[bytes, bool]:
    get = fields.get
    return _ESP.pack(get("esp.spi") or 0, get("esp.sequence") or 0), False


# --------------------------------------------------------------------------------------------
# Specs

def _options_span(layer: Layer, name: str) -> tuple[int, int, int | None] | None:
    if name.endswith(".options") or name == "ipv6.routing.data":
        start = 4 if name == "ipv6.routing.data" else 2
        return (start, max(0, layer.length - start), None)
    return None


def _options_spec(p: str, title: str, number: int, schema: Any,
                  dissect: Callable[[Walk, int], tuple[str | None, int]]) -> LayerSpec:
    return LayerSpec(
        name=p, title=title, role=EXTENSION, header_len=8, schema=schema, dissect=dissect,
        emit=_options_emit(p), selectors=(("ip.proto", number),), next_table="ip.proto",
        next_field=f"{p}.nxt", span=_options_span,
        fields=(
            Field(f"{p}.nxt", UINT, (0, 1, None)),
            Field(f"{p}.len", UINT, (1, 1, None)),
            Field(f"{p}.len_oct", UINT, (1, 1, None), size=2, at_span=False),
            Field(f"{p}.options", BYTES,
                  doc="vxlankit's own: the option bytes whole (Wireshark dissects each "
                      "option as ipv6.opt.*)"),
        ),
    )


SPEC_HOPOPTS = _options_spec(HOPOPTS, "IPv6 Hop-by-Hop Option", IP_PROTO_HOPOPTS,
                             SCHEMA_HOPOPTS, dissect_hopopts)
SPEC_DSTOPTS = _options_spec(DSTOPTS, "Destination Options for IPv6", IP_PROTO_DSTOPTS,
                             SCHEMA_DSTOPTS, dissect_dstopts)

SPEC_ROUTING = LayerSpec(
    name=ROUTING, title="Routing Header for IPv6", role=EXTENSION, header_len=8,
    schema=SCHEMA_ROUTING, dissect=dissect_routing, emit=emit_routing,
    selectors=(("ip.proto", IP_PROTO_ROUTING),), next_table="ip.proto",
    next_field="ipv6.routing.nxt", span=_options_span,
    fields=(
        Field("ipv6.routing.nxt", UINT, (0, 1, None)),
        Field("ipv6.routing.len", UINT, (1, 1, None)),
        Field("ipv6.routing.len_oct", UINT, (1, 1, None), size=2, at_span=False),
        Field("ipv6.routing.type", UINT, (2, 1, None), names={
            0: "IPv6 Source Routing", 2: "Type 2 Routing", 3: "RPL Source Route",
            4: "Segment Routing"}),
        Field("ipv6.routing.segleft", UINT, (3, 1, None)),
        Field("ipv6.routing.data", BYTES,
              doc="vxlankit's own: the type-specific data whole (Wireshark dissects it per "
                  "routing type)"),
    ),
)

SPEC_FRAGHDR = LayerSpec(
    name=FRAGHDR, title="Fragment Header for IPv6", role=EXTENSION, header_len=8,
    schema=SCHEMA_FRAGHDR, dissect=dissect_fraghdr, emit=emit_fraghdr,
    selectors=(("ip.proto", IP_PROTO_FRAGMENT),), next_table="ip.proto",
    next_field="ipv6.fraghdr.nxt",
    fields=(
        Field("ipv6.fraghdr.nxt", UINT, (0, 1, None)),
        Field("ipv6.fraghdr.reserved_octet", UINT, (1, 1, None), hex=2),
        Field("ipv6.fraghdr.offset", UINT, (2, 2, 0xFFF8)),
        Field("ipv6.fraghdr.reserved_bits", UINT, (2, 2, 0x0006)),
        Field("ipv6.fraghdr.more", BOOL, (2, 2, 0x0001)),
        Field("ipv6.fraghdr.ident", UINT, (4, 4, None), hex=8),
    ),
)

SPEC_AH = LayerSpec(
    name=AH, title="Authentication Header", role=EXTENSION, header_len=12, short="AH",
    schema=SCHEMA_AH, dissect=dissect_ah, emit=emit_ah,
    selectors=(("ip.proto", IP_PROTO_AH),), next_table="ip.proto", next_field="ah.next_header",
    span=lambda layer, name: (12, max(0, layer.length - 12), None) if name == "ah.icv" else None,
    fields=(
        Field("ah.next_header", UINT, (0, 1, None)),
        Field("ah.length", UINT, (1, 1, None)),
        Field("ah.reserved", BYTES, (2, 2, None)),
        Field("ah.spi", UINT, (4, 4, None), hex=8),
        Field("ah.sequence", UINT, (8, 4, None)),
        Field("ah.icv", BYTES),
    ),
)

SPEC_ESP = LayerSpec(
    name=ESP, title="Encapsulating Security Payload", role=EXTENSION, header_len=8,
    short="ESP", schema=SCHEMA_ESP, dissect=dissect_esp, emit=emit_esp,
    selectors=(("ip.proto", IP_PROTO_ESP),),
    info=lambda layer: (f"ESP (SPI=0x{layer.fields['esp.spi']:08x})"
                        if "esp.spi" in layer.fields else ""),
    fields=(
        Field("esp.spi", UINT, (0, 4, None), hex=8),
        Field("esp.sequence", UINT, (4, 4, None)),
    ),
)

SPECS = (SPEC_HOPOPTS, SPEC_ROUTING, SPEC_FRAGHDR, SPEC_DSTOPTS, SPEC_AH, SPEC_ESP)
