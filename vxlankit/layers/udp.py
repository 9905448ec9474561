"""UDP header (RFC 768).

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          Source Port          |       Destination Port        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |            Length             |           Checksum            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

A zero checksum means "none computed" (always acceptable over IPv4; RFC 7348 section 5 asks
VTEPs to send zero).  The checksum covers an IPv4 pseudo-header, this header and the payload.
"""

from __future__ import annotations

import struct
from typing import Any

from construct import Int16ub, Struct

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
    sport, dport, length, csum = _S.unpack_from(buf, off)
    return {"udp.srcport": sport, "udp.dstport": dport, "udp.length": length,
            "udp.checksum": csum}


def encode(fields: dict[str, Any]) -> bytes:
    return _S.pack(fields["udp.srcport"], fields["udp.dstport"], fields["udp.length"],
                   fields["udp.checksum"])


pack = _S.pack  # (srcport, dstport, length, checksum): ``encode`` from values
