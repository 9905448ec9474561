"""vxlankit: VXLAN overlay networks, byte for byte."""

from vxlankit.errors import (
    CaptureError,
    DecodeError,
    EncodeError,
    MalformedError,
    TruncatedError,
    VxlanKitError,
)
from vxlankit.packet import Layer, Packet

__version__ = "0.1.0"

__all__ = [
    "CaptureError",
    "DecodeError",
    "EncodeError",
    "Layer",
    "MalformedError",
    "Packet",
    "TruncatedError",
    "VxlanKitError",
    "__version__",
]
