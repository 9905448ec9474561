"""The full-stack codec: ``decode`` bytes into a Packet, ``encode`` layers back into bytes."""

from vxlankit.codec.decode import decode
from vxlankit.codec.encode import encode
from vxlankit.codec.options import (
    DEFAULT_OPTIONS,
    ETHERTYPES,
    GPE_NEXT_PROTOCOLS,
    IP_PROTOCOLS,
    LINKTYPE_NAMES,
    LINKTYPES,
    UDP_PORTS,
    DecodeOptions,
)

__all__ = [
    "DEFAULT_OPTIONS",
    "ETHERTYPES",
    "GPE_NEXT_PROTOCOLS",
    "IP_PROTOCOLS",
    "LINKTYPES",
    "LINKTYPE_NAMES",
    "UDP_PORTS",
    "DecodeOptions",
    "decode",
    "encode",
]
