"""MAC, IPv4 and IPv6 addresses: parsing, and formatting the way Wireshark displays them."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable

from vxlankit.errors import EncodeError

BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"

_HEX2 = "[0-9A-Fa-f]{2}"
_HEX4 = "[0-9A-Fa-f]{4}"
_MAC_RE = re.compile(rf"{_HEX2}(?P<sep>[:-]){_HEX2}(?:(?P=sep){_HEX2}){{4}}"
                     rf"|{_HEX4}\.{_HEX4}\.{_HEX4}|[0-9A-Fa-f]{{12}}")
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4_RE = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def mac_str(raw: bytes) -> str:
    """Six bytes -> ``"00:16:3e:08:71:cf"`` (lower case, as tshark prints it)."""
    return raw.hex(":")


# Parsed addresses, memoised: frames built in bulk repeat a handful of addresses, and the
# validating parse costs more than the rest of a header's packing.  Bounded, and cleared when
# full, so a stream of distinct addresses costs no more than parsing each.
_CACHE_MAX = 4096
_macs: dict[str, bytes] = {}
_ips: dict[str, bytes] = {}


def mac_bytes(text: str | bytes) -> bytes:
    """``"00:16:3e:08:71:cf"`` (also ``-`` separated, ``0016.3e08.71cf`` or bare hex) -> six
    bytes.  Anything else, a mis-grouped string included, is an ``EncodeError``."""
    if type(text) is str:
        raw = _macs.get(text)
        if raw is not None:
            return raw
    if isinstance(text, (bytes, bytearray)):
        if len(text) != 6:
            raise EncodeError(f"MAC address must be 6 bytes, got {len(text)}")
        return bytes(text)
    if not isinstance(text, str) or not _MAC_RE.fullmatch(text):
        raise EncodeError(f"not a MAC address: {text!r}")
    raw = bytes.fromhex(text.replace(":", "").replace("-", "").replace(".", ""))
    if len(_macs) >= _CACHE_MAX:
        _macs.clear()
    _macs[text] = raw
    return raw


def ip_str(raw: bytes) -> str:
    """Four bytes -> dotted quad."""
    return socket.inet_ntoa(raw)


def ip_bytes(text: str | bytes) -> bytes:
    """Dotted quad (four decimal numbers 0-255, no leading zeros) -> four bytes.

    Stricter than ``inet_aton``, which also takes ``1.2.3.010`` (octal: .8), ``1.2.3.0x10`` and
    ``1.2.3.4 trailing junk``."""
    if type(text) is str:
        raw = _ips.get(text)
        if raw is not None:
            return raw
    if isinstance(text, (bytes, bytearray)):
        if len(text) != 4:
            raise EncodeError(f"IPv4 address must be 4 bytes, got {len(text)}")
        return bytes(text)
    if not isinstance(text, str) or not _IPV4_RE.fullmatch(text):
        raise EncodeError(f"not an IPv4 address: {text!r}")
    raw = socket.inet_aton(text)
    if len(_ips) >= _CACHE_MAX:
        _ips.clear()
    _ips[text] = raw
    return raw


_ip6s: dict[str, bytes] = {}


def ip6_str(raw: bytes) -> str:
    """Sixteen bytes -> RFC 5952 text, as tshark prints it (the C library's ``inet_ntop``,
    which Wireshark calls too: ``::ffff:1.2.3.4`` for a mapped address)."""
    return socket.inet_ntop(socket.AF_INET6, raw)


# The text of an IP header's address pair, memoised for the fast paths (a capture has few
# pairs); bounded like the parse caches.
_PAIR_MAX = 1 << 16
_pairs: dict[bytes, tuple[str, str]] = {}


def pair_str(addrs: bytes) -> tuple[str, str]:
    """An IP header's source and destination, as they sit one after the other (8 bytes: IPv4,
    32: IPv6), as text."""
    found = _pairs.get(addrs)
    if found is None:
        if len(_pairs) >= _PAIR_MAX:
            _pairs.clear()
        half = len(addrs) >> 1
        text = ip_str if half == 4 else ip6_str
        found = _pairs[addrs] = (text(addrs[:half]), text(addrs[half:]))
    return found


def ip6_bytes(text: str | bytes) -> bytes:
    """IPv6 text (any RFC 4291 form, no zone) -> sixteen bytes; anything else an EncodeError."""
    if type(text) is str:
        raw = _ip6s.get(text)
        if raw is not None:
            return raw
    if isinstance(text, (bytes, bytearray)):
        if len(text) != 16:
            raise EncodeError(f"IPv6 address must be 16 bytes, got {len(text)}")
        return bytes(text)
    if not isinstance(text, str):
        raise EncodeError(f"not an IPv6 address: {text!r}")
    try:
        raw = socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError):
        raise EncodeError(f"not an IPv6 address: {text!r}") from None
    if len(_ip6s) >= _CACHE_MAX:
        _ip6s.clear()
    _ip6s[text] = raw
    return raw


def ip_int(text: str) -> int:
    return int.from_bytes(ip_bytes(text), "big")


def ipv4_prefix(text: str) -> tuple[int, int]:
    """``"10.1.1.0/24"`` -> (the network as an integer, host bits cleared; the mask)."""
    net, sep, length = text.partition("/")
    if not sep or not length.isdigit() or int(length) > 32:
        raise EncodeError(f"not an IPv4 prefix: {text!r}")
    mask = (0xFFFFFFFF << (32 - int(length))) & 0xFFFFFFFF
    return ip_int(net) & mask, mask


def is_group_mac(mac: str) -> bool:
    """True for broadcast and multicast MACs (I/G bit of the first octet)."""
    return bool(int(mac[0:2], 16) & 0x01)


def docker_mac(ip: str) -> str:
    """The MAC Docker derives for a container: ``02:42`` followed by the four IPv4 octets."""
    return mac_str(b"\x02\x42" + ip_bytes(ip))


def text_cache(convert: Callable[[bytes], str], limit: int = 65536,
               texts: dict[bytes, str] | None = None) -> Callable[[bytes], str]:
    """``convert`` (address bytes -> text) remembered by the bytes (in ``texts``, when given:
    a reader may look there first, a dict's ``get`` costing less than a call), up to ``limit``
    of them (then forgotten at once): a capture repeats a few addresses millions of times,
    and a dict lookup is cheaper than formatting.  The fast paths' address texts."""
    if texts is None:
        texts = {}

    def text(raw: bytes) -> str:
        found = texts.get(raw)
        if found is None:
            if len(texts) >= limit:
                texts.clear()
            found = texts[raw] = convert(raw)
        return found

    return text


MAC_TEXTS: dict[bytes, str] = {}
IP_TEXTS: dict[bytes, str] = {}
IP6_TEXTS: dict[bytes, str] = {}
mac_text = text_cache(mac_str, texts=MAC_TEXTS)
ip_text = text_cache(ip_str, texts=IP_TEXTS)
ip6_text = text_cache(ip6_str, texts=IP6_TEXTS)
