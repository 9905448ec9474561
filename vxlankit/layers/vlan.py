"""IEEE 802.1Q VLAN tag (TPID 0x8100) and 802.1ad service tag (TPID 0x88a8, also 0x9100).

The TPID is the EtherType of the layer before; this header is what follows it:

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    | PCP |D|        VLAN ID        |      EtherType of payload     |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Wireshark names a C-tag ``vlan`` and an S-tag ``ieee8021ad``.  tshark 4.0 shows no EtherType
field in an S-tag; vxlankit keeps it as ``ieee8021ad.etype`` (its own name) so the tag re-encodes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from construct import Computed, Int16ub, Rebuild, Struct, this

from vxlankit.layers.ethernet import ETHERTYPE_NAMES
from vxlankit.layers.spec import BOOL, SHIM, UINT, Field, LayerSpec, Walk, need
from vxlankit.packet import Layer

PROTO = "vlan"
PROTO_SERVICE = "ieee8021ad"
HEADER_LEN = 4

SCHEMA = Struct(
    "_tci" / Rebuild(
        Int16ub,
        (this["vlan.priority"] << 13) | (this["vlan.dei"] << 12) | this["vlan.id"],
    ),
    "vlan.priority" / Computed(this._tci >> 13),
    "vlan.dei" / Computed((this._tci >> 12) & 1),
    "vlan.id" / Computed(this._tci & 0x0FFF),
    "vlan.etype" / Int16ub,
)

_S = struct.Struct("!HH")


def decode(buf: bytes, off: int, proto: str = PROTO) -> dict[str, Any]:
    tci, etype = _S.unpack_from(buf, off)
    return {
        f"{proto}.priority": tci >> 13,
        f"{proto}.dei": (tci >> 12) & 1,
        f"{proto}.id": tci & 0x0FFF,
        f"{proto}.etype": etype,
    }


def encode(fields: dict[str, Any], proto: str = PROTO) -> bytes:
    priority = fields[f"{proto}.priority"]
    dei = fields[f"{proto}.dei"]
    vid = fields[f"{proto}.id"]
    if not (0 <= priority <= 7 and 0 <= dei <= 1 and 0 <= vid <= 0x0FFF):
        raise ValueError(f"{proto}: priority {priority}, dei {dei}, id {vid} do not fit in "
                         "3, 1 and 12 bits")
    return _S.pack((priority << 13) | (dei << 12) | vid, fields[f"{proto}.etype"])


# --------------------------------------------------------------------------------------------
# The house's view: one spec for each tag kind (Wireshark names them apart)


def _dissector(proto: str) -> Callable[[Walk, int], tuple[str | None, int]]:
    etype_name = proto + ".etype"

    def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
        if walk.end - off < HEADER_LEN:
            walk.cut(proto, off, HEADER_LEN)
            return None, off
        fields = decode(walk.buf, off, proto)
        walk.layers.append(Layer(proto, fields, off, HEADER_LEN))
        return walk.tables["ethertype"].get(fields[etype_name], "data"), off + HEADER_LEN

    return dissect


def _emitter(proto: str) -> Callable[[dict[str, Any], int | None, bool], tuple[bytes, bool]]:
    name = proto + ".etype"

    def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
             ) -> tuple[bytes, bool]:
        if fields.get(name) is not None:
            return encode(fields, proto), False
        return encode({**fields, name: need(next_value, name)}, proto), True

    return emit


def _fields(proto: str) -> tuple[Field, ...]:
    return (
        Field(f"{proto}.priority", UINT, (0, 2, 0xE000)),
        Field(f"{proto}.dei", BOOL, (0, 2, 0x1000)),
        Field(f"{proto}.id", UINT, (0, 2, 0x0FFF)),
        Field(f"{proto}.etype", UINT, (2, 2, None), hex=4, names=ETHERTYPE_NAMES,
              doc="" if proto == PROTO else "vxlankit's own: tshark 4.0 shows no EtherType "
              "in an S-tag; kept so that the tag re-encodes"),
    )


SPEC = LayerSpec(
    name=PROTO, title="802.1Q Virtual LAN", role=SHIM, header_len=HEADER_LEN,
    schema=SCHEMA, dissect=_dissector(PROTO), emit=_emitter(PROTO),
    selectors=(("ethertype", 0x8100),), next_table="ethertype", next_field="vlan.etype",
    ethertype_field="vlan.etype",
    fields=_fields(PROTO),
)
SPEC_SERVICE = LayerSpec(
    name=PROTO_SERVICE, title="IEEE 802.1ad", role=SHIM, header_len=HEADER_LEN,
    dissect=_dissector(PROTO_SERVICE), emit=_emitter(PROTO_SERVICE),
    # 0x9100: the pre-standard QinQ TPID still seen on older switches
    selectors=(("ethertype", 0x88A8), ("ethertype", 0x9100)), next_table="ethertype",
    next_field="ieee8021ad.etype", ethertype_field="ieee8021ad.etype",
    fields=_fields(PROTO_SERVICE),
)
