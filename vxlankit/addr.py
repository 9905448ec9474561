"""MAC and IPv4 addresses: parsing, and formatting the way Wireshark displays them."""

from __future__ import annotations

import socket

from vxlankit.errors import EncodeError

BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"


def mac_str(raw: bytes) -> str:
    """Six bytes -> ``"00:16:3e:08:71:cf"`` (lower case, as tshark prints it)."""
    return raw.hex(":")


def mac_bytes(text: str | bytes) -> bytes:
    """``"00:16:3e:08:71:cf"`` (also ``-`` or ``.`` separated, or bare hex) -> six bytes."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) != 6:
            raise EncodeError(f"MAC address must be 6 bytes, got {len(text)}")
        return bytes(text)
    cleaned = text.replace(":", "").replace("-", "").replace(".", "")
    try:
        raw = bytes.fromhex(cleaned)
    except ValueError:
        raise EncodeError(f"not a MAC address: {text!r}") from None
    if len(raw) != 6:
        raise EncodeError(f"not a MAC address: {text!r}")
    return raw


def ip_str(raw: bytes) -> str:
    """Four bytes -> dotted quad."""
    return socket.inet_ntoa(raw)


def ip_bytes(text: str | bytes) -> bytes:
    """Dotted quad -> four bytes."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) != 4:
            raise EncodeError(f"IPv4 address must be 4 bytes, got {len(text)}")
        return bytes(text)
    try:
        raw = socket.inet_aton(text)
    except (OSError, TypeError):
        raise EncodeError(f"not an IPv4 address: {text!r}") from None
    if text.count(".") != 3:
        raise EncodeError(f"not an IPv4 address: {text!r}")
    return raw


def ip_int(text: str) -> int:
    return int.from_bytes(ip_bytes(text), "big")


def is_group_mac(mac: str) -> bool:
    """True for broadcast and multicast MACs (I/G bit of the first octet)."""
    return bool(int(mac[0:2], 16) & 0x01)


def docker_mac(ip: str) -> str:
    """The MAC Docker derives for a container: ``02:42`` followed by the four IPv4 octets."""
    return mac_str(b"\x02\x42" + ip_bytes(ip))


def hex_bytes(raw: bytes) -> str:
    """Bytes the way Wireshark shows an FT_BYTES field: colon-separated hex."""
    return raw.hex(":")
