"""ICMP (RFC 792).  Echo request/reply fully; other types keep their 4 rest-of-header bytes.

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     Type      |     Code      |          Checksum             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |   Identifier (echo)           |   Sequence number (echo)      |
    |   ... or the type's rest of header (unused, pointer, gateway) |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     Data ...  (a ``data`` layer after this one)
    +-+-+-+-+-

Echo: ``icmp.ident``, ``icmp.seq``.  Destination unreachable, source quench, time exceeded:
``icmp.unused`` (bytes, Wireshark's name).  Any other type: ``icmp.rest`` (vxlankit's name).
The checksum covers the whole ICMP message, data included; the codec verifies it.
"""

from __future__ import annotations

import struct
from typing import Any

from construct import Bytes, Int8ub, Int16ub, Struct, Switch, this

from vxlankit.checksum import internet_checksum
from vxlankit.checksum import verify as checksum_ok
from vxlankit.layers._common import as_bytes
from vxlankit.layers.spec import (
    BYTES,
    CHECKSUM_PAYLOAD,
    TRANSPORT,
    UINT,
    Field,
    LayerSpec,
    Walk,
)
from vxlankit.packet import CHECKSUM_GOOD, CHECKSUM_UNVERIFIED, Layer

PROTO = "icmp"
HEADER_LEN = 8
ECHO_REPLY = 0
DEST_UNREACHABLE = 3
SOURCE_QUENCH = 4
ECHO_REQUEST = 8
TIME_EXCEEDED = 11
_ECHO = (ECHO_REPLY, ECHO_REQUEST)
_UNUSED = (DEST_UNREACHABLE, SOURCE_QUENCH, TIME_EXCEEDED)

_echo = Struct("icmp.ident" / Int16ub, "icmp.seq" / Int16ub)
SCHEMA = Struct(
    "icmp.type" / Int8ub,
    "icmp.code" / Int8ub,
    "icmp.checksum" / Int16ub,
    "_rest"
    / Switch(
        this["icmp.type"],
        {
            ECHO_REPLY: _echo,
            ECHO_REQUEST: _echo,
            DEST_UNREACHABLE: Struct("icmp.unused" / Bytes(4)),
            SOURCE_QUENCH: Struct("icmp.unused" / Bytes(4)),
            TIME_EXCEEDED: Struct("icmp.unused" / Bytes(4)),
        },
        default=Struct("icmp.rest" / Bytes(4)),
    ),
)


def schema_fields(parsed: Any) -> dict[str, Any]:
    """Flatten the parsed Switch branch into one field dict, as the fast decoder returns."""
    fields = {k: v for k, v in parsed.items() if not k.startswith("_")}
    fields.update({k: v for k, v in parsed["_rest"].items() if not k.startswith("_")})
    return fields


def schema_build_input(fields: dict[str, Any]) -> dict[str, Any]:
    rest = {k: v for k, v in fields.items() if k not in ("icmp.type", "icmp.code", "icmp.checksum")}
    return {**fields, "_rest": rest}


_S = struct.Struct("!BBHHH")
_S4 = struct.Struct("!BBH4s")


def decode(buf: bytes, off: int) -> dict[str, Any]:
    itype, code, csum, a, b = _S.unpack_from(buf, off)
    if itype in _ECHO:
        return {"icmp.type": itype, "icmp.code": code, "icmp.checksum": csum,
                "icmp.ident": a, "icmp.seq": b}
    rest = bytes(buf[off + 4 : off + 8])
    name = "icmp.unused" if itype in _UNUSED else "icmp.rest"
    return {"icmp.type": itype, "icmp.code": code, "icmp.checksum": csum, name: rest}


def encode(fields: dict[str, Any]) -> bytes:
    itype = fields["icmp.type"]
    if itype in _ECHO:
        return _S.pack(itype, fields["icmp.code"], fields["icmp.checksum"],
                       fields["icmp.ident"], fields["icmp.seq"])
    name = "icmp.unused" if itype in _UNUSED else "icmp.rest"
    rest = as_bytes(fields.get(name, b"\x00\x00\x00\x00"), name)
    if len(rest) != 4:
        raise ValueError(f"{name} must be 4 bytes")
    return _S4.pack(itype, fields["icmp.code"], fields["icmp.checksum"], rest)


# --------------------------------------------------------------------------------------------
# The house's view of ICMP


def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
    end = walk.end
    if end - off < HEADER_LEN:
        walk.cut(PROTO, off, HEADER_LEN)
        return None, off
    buf = walk.buf
    fields = decode(buf, off)
    walk.layers.append(Layer(PROTO, fields, off, HEADER_LEN))
    if walk.verify and walk.ip_complete:
        if checksum_ok(buf[off:end]):
            fields["icmp.checksum.status"] = CHECKSUM_GOOD
        else:
            calc = internet_checksum(buf[off:off + 2] + buf[off + 4:end])
            walk.bad_checksum(fields, PROTO, off + 2, calc)
    else:
        fields["icmp.checksum.status"] = CHECKSUM_UNVERIFIED
    walk.data(off + HEADER_LEN)  # what follows is the message's data (no dispatch table)
    return None, end


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    if fields.get("icmp.checksum") is not None:
        return encode(fields), False
    return encode({**fields, "icmp.checksum": 0}), True


SPEC = LayerSpec(
    name=PROTO, title="Internet Control Message Protocol", role=TRANSPORT, covers="payload",
    header_len=HEADER_LEN, schema=SCHEMA, dissect=dissect, emit=emit, short="ICMP",
    selectors=(("ip.proto", 1),), checksum=CHECKSUM_PAYLOAD, checksum_at=2,
    fields=(
        Field("icmp.type", UINT, (0, 1, None), names={
            0: "Echo (ping) reply", 3: "Destination unreachable", 4: "Source quench",
            5: "Redirect", 8: "Echo (ping) request", 11: "Time-to-live exceeded"}),
        Field("icmp.code", UINT, (1, 1, None)),
        Field("icmp.checksum", UINT, (2, 2, None), hex=4, varies=True),
        Field("icmp.checksum.status", UINT, (2, 2, None), size=1, at_span=False),
        Field("icmp.checksum_calculated", UINT, (2, 2, None), hex=4,
              doc="vxlankit's own: the right checksum, when icmp.checksum is bad", at_span=False),
        Field("icmp.ident", UINT, (4, 2, None), hex=4),
        Field("icmp.seq", UINT, (6, 2, None), varies=True),
        Field("icmp.unused", BYTES, (4, 4, None)),
        Field("icmp.rest", BYTES, (4, 4, None),
              doc="vxlankit's own: the rest-of-header of types Wireshark dissects in detail"),
    ),
)
