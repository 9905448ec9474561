"""Construct adapters shared by the layer schemas (addresses as Wireshark displays them)."""

from __future__ import annotations

from typing import Any

from construct import Adapter, Bytes, Container

from vxlankit.addr import ip6_bytes, ip6_str, ip_bytes, ip_str, mac_bytes, mac_str


class _MacAdapter(Adapter):  # type: ignore[misc]
    def _decode(self, obj: bytes, context: Any, path: Any) -> str:
        return mac_str(obj)

    def _encode(self, obj: str, context: Any, path: Any) -> bytes:
        return mac_bytes(obj)


class _IPv4Adapter(Adapter):  # type: ignore[misc]
    def _decode(self, obj: bytes, context: Any, path: Any) -> str:
        return ip_str(obj)

    def _encode(self, obj: str, context: Any, path: Any) -> bytes:
        return ip_bytes(obj)


class _IPv6Adapter(Adapter):  # type: ignore[misc]
    def _decode(self, obj: bytes, context: Any, path: Any) -> str:
        return ip6_str(obj)

    def _encode(self, obj: str, context: Any, path: Any) -> bytes:
        return ip6_bytes(obj)


MacAddress = _MacAdapter(Bytes(6))
IPv4Address = _IPv4Adapter(Bytes(4))
IPv6Address = _IPv6Adapter(Bytes(16))


def as_bytes(value: Any, name: str) -> bytes:
    """A bytes field's value as ``bytes``.  Anything but a bytes-like object is a TypeError:
    ``bytes(4)`` would silently be four zero bytes (and ``bytes(1 << 62)`` exhaust memory)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{name} must be bytes, not {type(value).__name__}")


def schema_fields(parsed: Container) -> dict[str, Any]:
    """A parsed Construct container as a vxlankit field dict: helpers (``_x``) and absent
    (``None``) conditional fields dropped, so it compares directly with the fast decoders."""
    return {
        key: value
        for key, value in parsed.items()
        if not key.startswith("_") and value is not None
    }
