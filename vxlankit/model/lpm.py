"""The longest-prefix-match table shared by the VTEP's next-hop resolution and the router.

``PrefixTable`` maps IPv4 prefixes (``"10.1.1.0/24"``, ``"0.0.0.0/0"``, parsed by
``vxlankit.addr.ipv4_prefix``) and IPv6 prefixes (``"2001:db8:1::/64"``, ``"::/0"``) to values;
``lookup(address)`` gives the value of the longest prefix that contains the address, as the
kernel's FIB lookup picks the most specific route.  The two families are separate tables, as
the kernel's are (``::/0`` never matches an IPv4 address, nor ``0.0.0.0/0`` an IPv6 one):
``lookup(address, 6)`` looks an IPv6 address up, ``lookup_ip(text)`` either by its text.
For a prefix given twice (``"10.1.0.0/8"`` and ``"10.0.0.0/8"`` are the same network once host
bits are cleared), the first one added wins.

Each family and prefix length has a dict from network to value, and a lookup tries the lengths
present, longest first: at most 33 (IPv4) or 129 (IPv6) dict lookups, whatever the number of
routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from vxlankit.addr import ip6_bytes, ip6_str, ip_int, ip_str, ipv4_prefix
from vxlankit.errors import EncodeError

V = TypeVar("V")
_BITS = {4: 32, 6: 128}


def ip_version(text: str) -> int:
    """6 for an address or prefix written as IPv6 text (it has a colon), else 4."""
    return 6 if ":" in text else 4


def ip6_int(text: str) -> int:
    """IPv6 text -> its 128-bit integer; ``EncodeError`` for anything else."""
    return int.from_bytes(ip6_bytes(text), "big")


def ip_key(text: str) -> tuple[int, int]:
    """IPv4 or IPv6 text -> (version, the address as an integer)."""
    return (6, ip6_int(text)) if ":" in text else (4, ip_int(text))


def canonical_ip(text: str) -> str:
    """An address as Wireshark prints it: IPv6 in RFC 5952 form (``2001:DB8:0::1`` ->
    ``2001:db8::1``), IPv4 unchanged.  Text that is not an address is returned as it is."""
    if ":" not in text:
        return text
    try:
        return ip6_str(ip6_bytes(text))
    except EncodeError:
        return text


def ipv6_prefix(text: str) -> tuple[int, int]:
    """``"2001:db8:1::/64"`` -> (the network as an integer, host bits cleared; the length)."""
    net, sep, length = text.partition("/")
    if not sep or not length.isdigit() or int(length) > 128:
        raise EncodeError(f"not an IPv6 prefix: {text!r}")
    return ip6_int(net) & _mask(int(length), 128), int(length)


class PrefixTable(Generic[V]):
    """IPv4 and IPv6 prefix -> value, with longest-prefix-match lookup per family."""

    __slots__ = ("_by_length", "_order")

    def __init__(self) -> None:
        # (version, length) -> networks of that length.
        self._by_length: dict[tuple[int, int], dict[int, V]] = {}
        # version -> (mask, networks of that length): longest prefix first, the order lookups
        # try.
        self._order: dict[int, list[tuple[int, dict[int, V]]]] = {4: [], 6: []}

    def add(self, prefix: str, value: V) -> None:
        """Add ``prefix`` -> ``value``; raises ``EncodeError`` if ``prefix`` is not an IPv4 or
        IPv6 prefix.  A prefix already present keeps its first value."""
        version = ip_version(prefix)
        if version == 4:
            net, mask = ipv4_prefix(prefix)
            length = bin(mask).count("1")
        else:
            net, length = ipv6_prefix(prefix)
        networks = self._by_length.get((version, length))
        if networks is None:
            networks = self._by_length[(version, length)] = {}
            bits = _BITS[version]
            self._order[version] = [
                (_mask(n, bits), self._by_length[(v, n)])
                for v, n in sorted(self._by_length, key=lambda k: -k[1]) if v == version]
        networks.setdefault(net, value)

    def lookup(self, address: int, version: int = 4) -> V | None:
        """The value of the longest prefix containing ``address`` (an address as an integer:
        ``vxlankit.addr.ip_int`` for IPv4, ``ip6_int`` with ``version=6``), or None when no
        prefix of that family contains it."""
        for mask, networks in self._order[version]:
            net = address & mask
            if net in networks:
                return networks[net]
        return None

    def lookup_ip(self, text: str) -> V | None:
        """``lookup`` by the address's text, IPv4 or IPv6."""
        version, address = ip_key(text)
        return self.lookup(address, version)

    def __len__(self) -> int:
        return sum(len(networks) for networks in self._by_length.values())

    def __iter__(self) -> Iterator[tuple[str, V]]:
        """``("network/length", value)`` for every prefix, IPv4 then IPv6, each longest first,
        then as added."""
        for version, length in sorted(self._by_length, key=lambda k: (k[0], -k[1])):
            for net, value in self._by_length[(version, length)].items():
                text = (ip_str(net.to_bytes(4, "big")) if version == 4
                        else ip6_str(net.to_bytes(16, "big")))
                yield f"{text}/{length}", value


def _mask(length: int, bits: int = 32) -> int:
    full = (1 << bits) - 1
    return (full << (bits - length)) & full


__all__ = ["PrefixTable", "canonical_ip", "ip6_int", "ip_key", "ip_version", "ipv6_prefix"]
