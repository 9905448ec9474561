"""The longest-prefix-match table shared by the VTEP's next-hop resolution and the router.

``PrefixTable`` maps IPv4 prefixes (``"10.1.1.0/24"``, ``"0.0.0.0/0"``, parsed by
``vxlankit.addr.ipv4_prefix``) to values; ``lookup(address)`` gives the value of the longest
prefix that contains the address, as the kernel's FIB lookup picks the most specific route.
For a prefix given twice (``"10.1.0.0/8"`` and ``"10.0.0.0/8"`` are the same network once host
bits are cleared), the first one added wins.

Each prefix length has a dict from network to value, and a lookup tries the lengths present,
longest first: at most 33 dict lookups, whatever the number of routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from vxlankit.addr import ip_str, ipv4_prefix

V = TypeVar("V")


class PrefixTable(Generic[V]):
    """IPv4 prefix -> value, with longest-prefix-match lookup."""

    __slots__ = ("_by_length", "_order")

    def __init__(self) -> None:
        self._by_length: dict[int, dict[int, V]] = {}
        # (mask, networks of that length): longest prefix first, the order lookups try.
        self._order: list[tuple[int, dict[int, V]]] = []

    def add(self, prefix: str, value: V) -> None:
        """Add ``prefix`` -> ``value``; raises ``EncodeError`` if ``prefix`` is not an IPv4
        prefix.  A prefix already present keeps its first value."""
        net, mask = ipv4_prefix(prefix)
        length = bin(mask).count("1")
        networks = self._by_length.get(length)
        if networks is None:
            networks = self._by_length[length] = {}
            self._order = [(_mask(n), self._by_length[n])
                           for n in sorted(self._by_length, reverse=True)]
        networks.setdefault(net, value)

    def lookup(self, address: int) -> V | None:
        """The value of the longest prefix containing ``address`` (an IPv4 address as an
        integer, ``vxlankit.addr.ip_int``), or None when no prefix contains it."""
        for mask, networks in self._order:
            net = address & mask
            if net in networks:
                return networks[net]
        return None

    def __len__(self) -> int:
        return sum(len(networks) for networks in self._by_length.values())

    def __iter__(self) -> Iterator[tuple[str, V]]:
        """``("network/length", value)`` for every prefix, longest first, then as added."""
        for length in sorted(self._by_length, reverse=True):
            for net, value in self._by_length[length].items():
                yield f"{ip_str(net.to_bytes(4, 'big'))}/{length}", value


def _mask(length: int) -> int:
    return (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF


__all__ = ["PrefixTable"]
