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

import socket
import struct
from typing import Any

from construct import Bytes, Computed, Int8ub, Int16ub, Rebuild, Struct, this

from vxlankit.addr import ip_bytes
from vxlankit.layers._common import IPv4Address, as_bytes

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
_ntoa = socket.inet_ntoa


def header_length(buf: bytes, off: int) -> int:
    return (buf[off] & 0x0F) << 2


def decode(buf: bytes, off: int) -> dict[str, Any]:
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
        "ip.src": _ntoa(src),
        "ip.dst": _ntoa(dst),
        "ip.options": bytes(buf[off + 20 : off + hdr_len]) if hdr_len > 20 else b"",
    }


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
