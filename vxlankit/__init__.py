"""vxlankit: VXLAN overlay networks, byte for byte.

The public API: :func:`decode` and :func:`encode` for frames, :mod:`vxlankit.build` for making
layers, :func:`open_capture` and :func:`write_capture` for capture files, and the error
hierarchy.  Everything else is reachable through its module.
"""

from vxlankit import build
from vxlankit.capture import open_capture, write_capture
from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions, decode, encode
from vxlankit.errors import (
    CaptureError,
    DecodeError,
    EncodeError,
    FilterError,
    MalformedError,
    TruncatedError,
    VxlanKitError,
)
from vxlankit.packet import Layer, Packet

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_OPTIONS",
    "CaptureError",
    "DecodeError",
    "DecodeOptions",
    "EncodeError",
    "FilterError",
    "Layer",
    "MalformedError",
    "Packet",
    "TruncatedError",
    "VxlanKitError",
    "__version__",
    "build",
    "decode",
    "encode",
    "open_capture",
    "write_capture",
]
