"""UDP header (RFC 768).

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          Source Port          |       Destination Port        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |            Length             |           Checksum            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

A zero checksum means "none computed" over IPv4 (RFC 7348 section 5 asks VTEPs to send zero);
over IPv6 it is illegal (RFC 8200 8.1: status 4, "illegal", as tshark shows it), though tunnels
may send it (RFC 6935), so it is not an error of the packet.  The checksum covers an IPv4 or
IPv6 pseudo-header (the same word sum while the length fits 16 bits), this header and the
payload.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from construct import Int16ub, Struct

from vxlankit.checksum import udp_checksum
from vxlankit.checksum import verify as checksum_ok
from vxlankit.layers.spec import CHECKSUM_PSEUDO, TRANSPORT, UINT, Field, LayerSpec, Walk
from vxlankit.packet import (
    CHECKSUM_GOOD,
    CHECKSUM_ILLEGAL,
    CHECKSUM_NOT_PRESENT,
    CHECKSUM_UNVERIFIED,
    MALFORMED,
    TRUNCATED,
    Layer,
)

PROTO = "udp"
HEADER_LEN = 8
PORT_VXLAN = 4789
PORT_VXLAN_LINUX = 8472  # Linux's historic default (and scapy's): not the IANA port
PORT_VXLAN_GPE = 4790

SCHEMA = Struct(
    "udp.srcport" / Int16ub,
    "udp.dstport" / Int16ub,
    "udp.length" / Int16ub,
    "udp.checksum" / Int16ub,
)

_S = struct.Struct("!HHHH")


def decode(buf: bytes, off: int) -> dict[str, Any]:
    return _decode(buf, off)[0]


def _decode(buf: bytes, off: int) -> tuple[dict[str, Any], int, int, int, int]:
    """``decode``'s fields and the four values, for ``dissect`` to go on with."""
    sport, dport, length, csum = _S.unpack_from(buf, off)
    return {"udp.srcport": sport, "udp.dstport": dport, "udp.length": length,
            "udp.checksum": csum}, sport, dport, length, csum


def encode(fields: dict[str, Any]) -> bytes:
    return _S.pack(fields["udp.srcport"], fields["udp.dstport"], fields["udp.length"],
                   fields["udp.checksum"])


pack = _S.pack  # (srcport, dstport, length, checksum): ``encode`` from values


# --------------------------------------------------------------------------------------------
# The house's view of UDP


def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
    buf = walk.buf
    avail = walk.end - off
    if avail < HEADER_LEN:
        walk.cut(PROTO, off, HEADER_LEN)
        return None, off
    fields, sport, dport, ulen, csum = _decode(buf, off)
    layer = Layer(PROTO, fields, off, HEADER_LEN)
    walk.layers.append(layer)
    if ulen < HEADER_LEN:
        layer.status = MALFORMED
        fields["udp.checksum.status"] = CHECKSUM_UNVERIFIED
        walk.errors.append(f"udp: length {ulen} < 8 at offset {off + 4}")
        return "data", off + HEADER_LEN
    complete = walk.ip_complete
    if ulen > avail:
        complete = False
        if walk.ip_complete:
            layer.status = MALFORMED
            walk.errors.append(f"udp: length {ulen} runs past the IP payload ({avail} bytes) "
                               f"at offset {off + 4}")
        else:
            layer.status = TRUNCATED
            walk.errors.append(f"udp: truncated at offset {off}: length {ulen}, "
                               f"{avail} bytes captured")
    else:
        walk.limit(off + ulen)
    if csum == 0:
        # Over IPv6 a zero checksum is illegal (RFC 8200 8.1): tshark's status 4.  Tunnels may
        # send it (RFC 6935), so it is no error of the packet and the payload is dissected.
        fields["udp.checksum.status"] = CHECKSUM_ILLEGAL if walk.ip_v6 else CHECKSUM_NOT_PRESENT
    elif walk.verify and complete and walk.ip_src:
        if checksum_ok(buf[off:off + ulen], walk.ip_pseudo + 17 + ulen):
            fields["udp.checksum.status"] = CHECKSUM_GOOD
        else:
            segment = buf[off:off + 6] + b"\0\0" + buf[off + 8:off + ulen]
            walk.bad_checksum(fields, PROTO, off + 6,
                              udp_checksum(walk.ip_src, walk.ip_dst, segment))
    else:
        fields["udp.checksum.status"] = CHECKSUM_UNVERIFIED
    # As Wireshark (packet-udp.c decode_udp_ports): the lower port first, then the higher one
    # (a DNS response comes from port 53); port 0 is no port.
    return (port_layer(walk.tables["udp.port"], sport, dport) or "data"), off + HEADER_LEN


def port_layer(ports: Mapping[int, str], sport: int, dport: int) -> str | None:
    """The layer ``ports`` hands a datagram to: the lower port's, else the higher port's
    (Wireshark's decode_udp_ports); port 0 is no port.  The fast paths call this too."""
    low, high = (sport, dport) if sport < dport else (dport, sport)
    return (low and ports.get(low)) or (high and ports.get(high)) or None


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    length, checksum = fields.get("udp.length"), fields.get("udp.checksum")
    return pack(fields["udp.srcport"], fields["udp.dstport"], length or 0,
                checksum or 0), length is None or checksum is None


def _title(f: dict[str, Any]) -> str:
    if "udp.srcport" not in f:
        return ""
    return f", Src Port: {f['udp.srcport']}, Dst Port: {f['udp.dstport']}"


SPEC = LayerSpec(
    name=PROTO, title="User Datagram Protocol", role=TRANSPORT, header_len=HEADER_LEN,
    schema=SCHEMA, dissect=dissect, emit=emit, short="UDP", selectors=(("ip.proto", 17),),
    next_table="udp.port", length_at=4, checksum=CHECKSUM_PSEUDO, checksum_at=6,
    checksum_zero_means_none=True, title_extra=_title,
    aliases=(("udp.port", ("udp.srcport", "udp.dstport")),),
    fields=(
        Field("udp.srcport", UINT, (0, 2, None)),
        Field("udp.dstport", UINT, (2, 2, None)),
        Field("udp.length", UINT, (4, 2, None), varies=True),
        Field("udp.checksum", UINT, (6, 2, None), hex=4, varies=True),
        Field("udp.checksum.status", UINT, (6, 2, None), size=1, at_span=False),
        Field("udp.checksum_calculated", UINT, (6, 2, None), hex=4, at_span=False),
    ),
)
