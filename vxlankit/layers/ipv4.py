"""IPv4 header (RFC 791).

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Version|  IHL  |   DSCP    |ECN|          Total Length         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |         Identification        |R|D|M|      Fragment Offset    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  Time to Live |    Protocol   |         Header Checksum       |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                       Source Address                          |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Destination Address                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Options (IHL > 5), kept as bytes           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Authoritative fields for encoding are the ones that span whole bits of the wire:
``ip.version``, ``ip.hdr_len`` (bytes, as Wireshark shows it), ``ip.dsfield``, ``ip.len``,
``ip.id``, ``ip.flags`` (the three flag bits, 0x02 = DF), ``ip.frag_offset`` (8-byte units, as
tshark's value), ``ip.ttl``, ``ip.proto``, ``ip.checksum``, ``ip.src``, ``ip.dst``,
``ip.options``.  ``ip.dsfield.dscp/ecn`` and ``ip.flags.rb/df/mf`` are views decoded from them.
``ip.options`` is vxlankit's own name (Wireshark dissects each option instead).
"""

from __future__ import annotations

import struct
from typing import Any

from construct import Bytes, Computed, Int8ub, Int16ub, Rebuild, Struct, this

from vxlankit.addr import IP_TEXTS, ip_bytes, ip_text
from vxlankit.checksum import internet_checksum
from vxlankit.checksum import verify as checksum_ok
from vxlankit.errors import EncodeError
from vxlankit.layers._common import IPv4Address, as_bytes
from vxlankit.layers.spec import (
    BOOL,
    BYTES,
    CHECKSUM_HEADER,
    IPV4,
    NETWORK,
    UINT,
    Field,
    LayerSpec,
    Span,
    Walk,
    need,
)
from vxlankit.packet import CHECKSUM_GOOD, CHECKSUM_UNVERIFIED, MALFORMED, TRUNCATED, Layer

PROTO = "ip"
MIN_HEADER_LEN = 20
PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
FLAG_DF = 0x02
FLAG_MF = 0x01

SCHEMA = Struct(
    "_vihl" / Rebuild(Int8ub, (this["ip.version"] << 4) | (this["ip.hdr_len"] >> 2)),
    "ip.version" / Computed(this._vihl >> 4),
    "ip.hdr_len" / Computed((this._vihl & 0x0F) << 2),
    "ip.dsfield" / Int8ub,
    "ip.dsfield.dscp" / Computed(this["ip.dsfield"] >> 2),
    "ip.dsfield.ecn" / Computed(this["ip.dsfield"] & 0x03),
    "ip.len" / Int16ub,
    "ip.id" / Int16ub,
    "_ffo" / Rebuild(Int16ub, (this["ip.flags"] << 13) | this["ip.frag_offset"]),
    "ip.flags" / Computed(this._ffo >> 13),
    "ip.flags.rb" / Computed((this._ffo >> 15) & 1),
    "ip.flags.df" / Computed((this._ffo >> 14) & 1),
    "ip.flags.mf" / Computed((this._ffo >> 13) & 1),
    "ip.frag_offset" / Computed(this._ffo & 0x1FFF),
    "ip.ttl" / Int8ub,
    "ip.proto" / Int8ub,
    "ip.checksum" / Int16ub,
    "ip.src" / IPv4Address,
    "ip.dst" / IPv4Address,
    # IHL < 5 is malformed; the codec reports it and reads no options (a False factor: 0).
    "ip.options"
    / Bytes((this["ip.hdr_len"] > MIN_HEADER_LEN) * (this["ip.hdr_len"] - MIN_HEADER_LEN)),
)

_S = struct.Struct("!BBHHHBBH4s4s")
_ips = IP_TEXTS.get


def header_length(buf: bytes, off: int) -> int:
    return (buf[off] & 0x0F) << 2


def decode(buf: bytes, off: int) -> dict[str, Any]:
    return _decode(buf, off)[0]


def _decode(buf: bytes, off: int) -> tuple[dict[str, Any], int, int, int, int, int, bytes,
                                          bytes]:
    """``decode``'s fields, and what ``dissect`` goes on with (version and IHL byte, header
    length, total length, flags and offset word, protocol, source and destination bytes)
    without looking them up again."""
    vihl, tos, tlen, ident, ffo, ttl, proto, csum, src, dst = _S.unpack_from(buf, off)
    hdr_len = (vihl & 0x0F) << 2
    return {
        "ip.version": vihl >> 4,
        "ip.hdr_len": hdr_len,
        "ip.dsfield": tos,
        "ip.dsfield.dscp": tos >> 2,
        "ip.dsfield.ecn": tos & 0x03,
        "ip.len": tlen,
        "ip.id": ident,
        "ip.flags": ffo >> 13,
        "ip.flags.rb": ffo >> 15,
        "ip.flags.df": (ffo >> 14) & 1,
        "ip.flags.mf": (ffo >> 13) & 1,
        "ip.frag_offset": ffo & 0x1FFF,
        "ip.ttl": ttl,
        "ip.proto": proto,
        "ip.checksum": csum,
        "ip.src": _ips(src) or ip_text(src),  # the shared cache: a few addresses repeat
        "ip.dst": _ips(dst) or ip_text(dst),
        "ip.options": bytes(buf[off + 20 : off + hdr_len]) if hdr_len > 20 else b"",
    }, vihl, hdr_len, tlen, ffo, proto, src, dst


def encode(fields: dict[str, Any]) -> bytes:
    return pack(fields["ip.version"], fields["ip.hdr_len"], fields["ip.dsfield"],
                fields["ip.len"], fields["ip.id"], fields["ip.flags"], fields["ip.frag_offset"],
                fields["ip.ttl"], fields["ip.proto"], fields["ip.checksum"], fields["ip.src"],
                fields["ip.dst"], fields.get("ip.options", b""))


def pack(version: int, hdr_len: int, dsfield: int, length: int, ident: int, flags: int,
         frag_offset: int, ttl: int, proto: int, checksum: int, src: str, dst: str,
         options: Any) -> bytes:
    """The header from its authoritative values (``encode`` reads them from fields)."""
    if not 0 <= version <= 15:
        raise ValueError(f"ip.version {version} does not fit in 4 bits")
    if not 0 <= hdr_len <= 60 or hdr_len % 4:
        raise ValueError(f"ip.hdr_len {hdr_len} is not a multiple of 4 from 0 to 60")
    if not (0 <= flags <= 7 and 0 <= frag_offset <= 0x1FFF):
        raise ValueError(f"ip.flags {flags} / ip.frag_offset {frag_offset} do not fit in "
                         "3 / 13 bits")
    return _S.pack(
        (version << 4) | (hdr_len >> 2), dsfield, length, ident, (flags << 13) | frag_offset,
        ttl, proto, checksum, ip_bytes(src), ip_bytes(dst),
    ) + (options if type(options) is bytes else as_bytes(options, "ip.options"))


def derive(fields: dict[str, Any]) -> None:
    """Refresh the view fields from the authoritative ones (after a builder or a fix-up)."""
    tos = fields["ip.dsfield"]
    flags = fields["ip.flags"]
    fields["ip.dsfield.dscp"] = tos >> 2
    fields["ip.dsfield.ecn"] = tos & 0x03
    fields["ip.flags.rb"] = (flags >> 2) & 1
    fields["ip.flags.df"] = (flags >> 1) & 1
    fields["ip.flags.mf"] = flags & 1


OPT_EOL = 0
OPT_NOP = 1
OPT_LSRR = 0x83
OPT_SSRR = 0x89


def final_destination(options: bytes, dst: bytes) -> bytes:
    """The address an upper-layer pseudo-header names: with a loose or strict source route the
    route's last address (RFC 791 3.1; RFC 1122 4.1.3.3 / RFC 9293 3.1: the final
    destination), else the header's destination (what Linux and Wireshark both use)."""
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == OPT_EOL:
            break
        if kind == OPT_NOP:
            i += 1
            continue
        if i + 1 >= len(options) or options[i + 1] < 2:
            break  # malformed: no route can be trusted
        length = options[i + 1]
        if kind in (OPT_LSRR, OPT_SSRR) and length >= 7 and i + length <= len(options):
            return bytes(options[i + length - 4:i + length])
        i += length
    return bytes(dst)


# --------------------------------------------------------------------------------------------
# The house's view of IPv4


def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
    buf = walk.buf
    end = walk.end
    avail = end - off
    if avail < MIN_HEADER_LEN:
        walk.cut(PROTO, off, MIN_HEADER_LEN)
        return None, off
    fields, vihl, hdr_len, total, ffo, proto, src, dst = _decode(buf, off)
    layer = Layer(PROTO, fields, off, MIN_HEADER_LEN)
    walk.layers.append(layer)
    errors = walk.errors
    if vihl >> 4 != 4 or hdr_len < MIN_HEADER_LEN:
        layer.status = MALFORMED
        fields["ip.options"] = b""
        fields["ip.checksum.status"] = CHECKSUM_UNVERIFIED
        errors.append(f"ip: malformed header at offset {off}: version "
                      f"{fields['ip.version']}, header length {hdr_len}")
        return "data", off + MIN_HEADER_LEN
    if hdr_len > avail:
        layer.status = TRUNCATED
        layer.length = avail
        layer.raw = buf[off:end]
        fields["ip.checksum.status"] = CHECKSUM_UNVERIFIED
        errors.append(f"ip: truncated options at offset {off}: header {hdr_len}, "
                      f"{avail} bytes left")
        return None, off
    layer.length = hdr_len
    if walk.verify:
        if checksum_ok(buf[off:off + hdr_len]):
            fields["ip.checksum.status"] = CHECKSUM_GOOD
        else:
            calc = internet_checksum(buf[off:off + 10] + buf[off + 12:off + hdr_len])
            walk.bad_checksum(fields, PROTO, off + 10, calc)
    else:
        fields["ip.checksum.status"] = CHECKSUM_UNVERIFIED
    payload_start = off + hdr_len
    if total < hdr_len:
        layer.status = MALFORMED
        errors.append(f"ip: total length {total} < header length {hdr_len} at offset {off + 2}")
        return "data", payload_start
    if total > avail:
        layer.status = TRUNCATED
        walk.ip_complete = False
        errors.append(f"ip: truncated at offset {off}: total length {total}, "
                      f"{avail} bytes captured")
    else:
        walk.ip_complete = True
        walk.limit(off + total)
    if hdr_len > MIN_HEADER_LEN:
        dst = final_destination(fields["ip.options"], dst)
    walk.ip_src = src
    walk.ip_dst = dst
    # Addresses as one integer: congruent (mod 0xffff) to their pseudo-header word sum.
    walk.ip_pseudo = int.from_bytes(src + dst, "big")
    walk.ip_v6 = False
    if ffo & 0x1FFF:
        return "data", payload_start  # only first fragments carry the next header
    if ffo & 0x2000:
        walk.ip_complete = False
    return walk.tables["ip.proto"].get(proto, "data"), payload_start


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    """The header with its ``None`` fields filled in, straight from the fields (no copy: this
    is most of the work of building a frame); and whether anything was filled."""
    get = fields.get
    options = get("ip.options", b"")
    hdr_len = get("ip.hdr_len")
    proto = get("ip.proto")
    length = get("ip.len")
    checksum = get("ip.checksum")
    filled = hdr_len is None or proto is None or length is None or checksum is None
    if fix_lengths or hdr_len is None:
        options = as_bytes(options, "ip.options")
        if len(options) % 4:
            raise EncodeError(f"ip.options must be a multiple of 4 bytes, got {len(options)}")
        hdr_len = MIN_HEADER_LEN + len(options)
    if proto is None:
        proto = need(next_value, "ip.proto")
    version, dsfield, flags = get("ip.version"), get("ip.dsfield"), get("ip.flags")
    frag_offset, ident, ttl = get("ip.frag_offset"), get("ip.id"), get("ip.ttl")
    return pack(
        4 if version is None else version, hdr_len, dsfield or 0, length or 0, ident or 0,
        flags or 0, frag_offset or 0, 64 if ttl is None else ttl, proto, checksum or 0,
        fields["ip.src"], fields["ip.dst"], options,
    ), filled or version is None or ttl is None


def pseudo_addresses(packet: bytes | bytearray, header_len: int) -> tuple[bytes, bytes]:
    """The source and destination an upper layer's pseudo-header names, from the header
    (``packet[:header_len]``, what follows it up to the upper layer after it)."""
    dst = packet[16:20]
    if header_len > MIN_HEADER_LEN:
        return bytes(packet[12:16]), final_destination(bytes(packet[MIN_HEADER_LEN:header_len]),
                                                       bytes(dst))
    return bytes(packet[12:16]), bytes(dst)


def _span(layer: Layer, name: str) -> Span | None:
    return (20, max(0, layer.length - 20), None) if name == "ip.options" else None


def _title(f: dict[str, Any]) -> str:
    return f", Src: {f['ip.src']}, Dst: {f['ip.dst']}" if "ip.src" in f else ""


# One map of IP protocol numbers to names, for every consumer that shows one.
PROTOCOL_NAMES = {1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 47: "GRE", 50: "ESP", 51: "AH",
                  58: "ICMPv6", 89: "OSPF", 132: "SCTP"}

SPEC = LayerSpec(
    name=PROTO, title="Internet Protocol Version 4", role=NETWORK, header_len=MIN_HEADER_LEN,
    schema=SCHEMA, dissect=dissect, emit=emit, short="IPv4", hdr_len_field="ip.hdr_len",
    selectors=(("ethertype", 0x0800), ("linktype", 228), ("ip.version", 4),
               ("vxlan.next_proto", 1), ("null.family", 2), ("ip.proto", 4),
               ("nsh.next_proto", 1)),
    next_table="ip.proto", next_field="ip.proto", length_at=2,
    checksum=CHECKSUM_HEADER, checksum_at=10, span=_span, title_extra=_title,
    pseudo_addresses=pseudo_addresses,
    aliases=(("ip.addr", ("ip.src", "ip.dst")),),
    fields=(
        Field("ip.version", UINT, (0, 1, 0xF0)),
        Field("ip.hdr_len", UINT, (0, 1, 0x0F), scale=4),
        Field("ip.dsfield", UINT, (1, 1, None), hex=2),
        Field("ip.dsfield.dscp", UINT, (1, 1, 0xFC)),
        Field("ip.dsfield.ecn", UINT, (1, 1, 0x03)),
        Field("ip.len", UINT, (2, 2, None), varies=True),
        Field("ip.id", UINT, (4, 2, None), hex=4, varies=True),
        Field("ip.flags", UINT, (6, 1, 0xE0), hex=1, names={
            0: "none", 1: "More fragments", 2: "Don't fragment", 4: "Reserved bit"}),
        Field("ip.flags.rb", BOOL, (6, 1, 0x80)),
        Field("ip.flags.df", BOOL, (6, 1, 0x40)),
        Field("ip.flags.mf", BOOL, (6, 1, 0x20)),
        Field("ip.frag_offset", UINT, (6, 2, 0x1FFF)),
        Field("ip.ttl", UINT, (8, 1, None)),
        Field("ip.proto", UINT, (9, 1, None), names=PROTOCOL_NAMES),
        Field("ip.checksum", UINT, (10, 2, None), hex=4, varies=True),
        Field("ip.checksum.status", UINT, (10, 2, None), size=1, at_span=False),
        Field("ip.checksum_calculated", UINT, (10, 2, None), hex=4, at_span=False),
        Field("ip.src", IPV4, (12, 4, None)),
        Field("ip.dst", IPV4, (16, 4, None)),
        Field("ip.options", BYTES,
              doc="vxlankit's own: the raw option bytes (Wireshark dissects each option)"),
    ),
)
