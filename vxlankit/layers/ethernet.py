"""Ethernet II (and IEEE 802.3 length) header.

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                     Destination MAC address                   |
    +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                               |                               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+       Source MAC address      +
    |                                                               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |    EtherType (>= 0x0600)      |
    |    or 802.3 length (<= 1500)  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

A value below 0x0600 is an 802.3 length (Wireshark: ``eth.len``); the payload is then kept raw.
"""

from __future__ import annotations

import struct
from typing import Any

from construct import Computed, If, Int16ub, Struct, this

from vxlankit.addr import mac_bytes
from vxlankit.layers._common import MacAddress

PROTO = "eth"
HEADER_LEN = 14
MIN_FRAME = 60  # without FCS; shorter frames are padded on the wire (802.3 clause 4.2.3.3)

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_VLAN = 0x8100
ETHERTYPE_QINQ = 0x88A8
ETHERTYPE_QINQ_OLD = 0x9100
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_MIN = 0x0600


SCHEMA = Struct(
    "eth.dst" / MacAddress,
    "eth.src" / MacAddress,
    "_tl" / Int16ub,  # EtherType or 802.3 length; a build takes it as given (like sll's)
    "eth.type" / If(this._tl >= ETHERTYPE_MIN, Computed(this._tl)),
    "eth.len" / If(this._tl < ETHERTYPE_MIN, Computed(this._tl)),
)

_S = struct.Struct("!6s6sH")


def decode(buf: bytes, off: int) -> dict[str, Any]:
    dst, src, tl = _S.unpack_from(buf, off)
    if tl >= ETHERTYPE_MIN:
        return {"eth.dst": dst.hex(":"), "eth.src": src.hex(":"), "eth.type": tl}
    return {"eth.dst": dst.hex(":"), "eth.src": src.hex(":"), "eth.len": tl}


def encode(fields: dict[str, Any]) -> bytes:
    tl = fields.get("eth.type")
    if tl is None:
        tl = fields["eth.len"]
    return _S.pack(mac_bytes(fields["eth.dst"]), mac_bytes(fields["eth.src"]), tl)
