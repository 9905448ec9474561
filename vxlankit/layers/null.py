"""BSD loopback ("NULL", link type 0): a 4-byte address family in the capturing host's order.

    +-------------------------------+
    | address family (host order)   |   2 = AF_INET; 24, 28 or 30 = AF_INET6 (BSD flavours)
    +-------------------------------+

The byte order is not recorded anywhere, so (like libpcap and Wireshark) it is inferred: a
family fits in 16 bits, so a value with its low half zero was written by the other byte order.
``null.byte_order`` (vxlankit's name) keeps what was seen so that the header re-encodes.
"""

from __future__ import annotations

import struct
from typing import Any

from construct import Int32ub, Int32ul, Struct

from vxlankit.layers.spec import LINK, STRING, UINT, Field, LayerSpec, Walk
from vxlankit.packet import Layer

PROTO = "null"
HEADER_LEN = 4
AF_INET = 2
AF_INET6 = (10, 24, 28, 30)

SCHEMA_LE = Struct("null.family" / Int32ul)
SCHEMA_BE = Struct("null.family" / Int32ub)


def decode(buf: bytes, off: int) -> dict[str, Any]:
    (little,) = struct.unpack_from("<I", buf, off)
    if little & 0xFFFF:
        return {"null.family": little, "null.byte_order": "little"}
    (big,) = struct.unpack_from(">I", buf, off)
    return {"null.family": big, "null.byte_order": "big"}


def encode(fields: dict[str, Any]) -> bytes:
    byte_order = fields.get("null.byte_order", "little")
    if byte_order not in ("little", "big"):
        raise ValueError(f"null.byte_order must be 'little' or 'big', not {byte_order!r}")
    order = "<I" if byte_order == "little" else ">I"
    return struct.pack(order, fields["null.family"])


# --------------------------------------------------------------------------------------------
# The house's view of the BSD loopback header


def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
    if walk.end - off < HEADER_LEN:
        walk.cut(PROTO, off, HEADER_LEN)
        return None, off
    fields = decode(walk.buf, off)
    walk.layers.append(Layer(PROTO, fields, off, HEADER_LEN))
    return walk.tables["null.family"].get(fields["null.family"], "data"), off + HEADER_LEN


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    return encode(fields), False


SPEC = LayerSpec(
    name=PROTO, title="Null/Loopback", role=LINK, header_len=HEADER_LEN, schema=SCHEMA_LE,
    dissect=dissect, emit=emit, selectors=(("linktype", 0),), next_table="null.family",
    fields=(
        Field("null.family", UINT, (0, 4, None)),
        Field("null.byte_order", STRING, (0, 4, None),
              doc="vxlankit's own: the byte order the family was written in"),
    ),
)
