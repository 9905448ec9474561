"""The Internet checksum (RFC 1071) and the IPv4 pseudo-header (RFC 768)."""

from __future__ import annotations


def ones_complement_sum(data: bytes | bytearray | memoryview, start: int = 0) -> int:
    """16-bit one's complement sum of ``data`` (big-endian words) plus ``start``, folded, not
    inverted.

    Uses 2**16 == 1 (mod 0xffff): a byte string read as one big integer is congruent to the
    sum of its 16-bit words, so one C-level conversion and one modulo replace a word loop.  A
    non-zero total that is a multiple of 0xffff folds to 0xffff (one's complement "-0")."""
    value = int.from_bytes(data, "big")
    if len(data) & 1:
        value <<= 8
    value += start
    folded = value % 0xFFFF
    return folded if folded or not value else 0xFFFF


def internet_checksum(data: bytes | bytearray | memoryview, start: int = 0) -> int:
    """The value to put in a checksum field (the field itself zeroed in ``data``)."""
    return ~ones_complement_sum(data, start) & 0xFFFF


def pseudo_header_sum(src: bytes, dst: bytes, proto: int, length: int) -> int:
    """Partial sum of the IPv4 pseudo-header used by UDP and TCP checksums."""
    return ones_complement_sum(src + dst + bytes((0, proto)) + length.to_bytes(2, "big"))


def udp_checksum(src: bytes, dst: bytes, segment: bytes | bytearray | memoryview) -> int:
    """UDP checksum over pseudo-header + segment (checksum field zeroed); 0 is sent as 0xffff."""
    return transport_checksum(src, dst, 17, segment, True)


def transport_checksum(src: bytes, dst: bytes, proto: int,
                       segment: bytes | bytearray | memoryview, zero_is_none: bool) -> int:
    """A UDP or TCP checksum over the IPv4 pseudo-header and ``segment`` (checksum field
    zeroed).  Where 0 means "no checksum" (UDP), a computed 0 is sent as 0xffff."""
    value = internet_checksum(segment, pseudo_header_sum(src, dst, proto, len(segment)))
    return value or 0xFFFF if zero_is_none else value


def verify(data: bytes | bytearray | memoryview, start: int = 0) -> bool:
    """True when ``data`` (checksum field included) sums to 0xffff, i.e. its checksum is right.

    ``ones_complement_sum(data, start) == 0xffff``, inlined: decoding verifies three
    checksums a packet."""
    value = int.from_bytes(data, "big")
    if len(data) & 1:
        value <<= 8
    value += start
    return value % 0xFFFF == 0 and value != 0
