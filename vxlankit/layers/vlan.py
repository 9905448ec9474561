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
from typing import Any

from construct import Computed, Int16ub, Rebuild, Struct, this

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
