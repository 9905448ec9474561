"""Wireshark's slice operator for display filters: ``eth.src[0:3]``, ``frame[-4:]``, ``udp[8:2]``.

A slice takes bytes out of a field's value (or a protocol's bytes) and gives a byte string,
compared as one (``eth.src[0:3] == 00:00:5e``).  The ranges are Wireshark's drange syntax,
comma-separated and concatenated in order:

    [i:j]   j bytes from offset i        [i-j]  offsets i to j, both included
    [i]     the byte at offset i         [:j]   the first j bytes
    [i:]    from offset i to the end     negative i: counted from the end (-1 is the last byte)

A range that does not fit the value leaves nothing to compare, so the packet does not match, as
in Wireshark.  What a value's bytes are is the filter's to say (``filter._value_bytes``).
"""

from __future__ import annotations

import re

__all__ = ["SliceError", "Slice", "cut", "parse_slice"]

# One range: (start, length); length None means "to the end".
Slice = tuple[tuple[int, int | None], ...]

_RANGE_RE = re.compile(r"\s*(-?[0-9]+)?\s*(?:(:)\s*([0-9]+)?|-\s*(-?[0-9]+))?\s*")


class SliceError(ValueError):
    """A slice that does not parse; the message says which part and why."""


def parse_slice(body: str) -> Slice:
    """The ranges of the text between ``[`` and ``]``."""
    ranges: list[tuple[int, int | None]] = []
    for part in body.split(","):
        m = _RANGE_RE.fullmatch(part)
        if m is None or not part.strip():
            raise SliceError(f"'{part.strip()}' is not a slice range (i, i:j, i-j, :j or i:)")
        first, colon, length, last = m.groups()
        if first is None and colon is None:
            raise SliceError(f"'{part.strip()}' is not a slice range (i, i:j, i-j, :j or i:)")
        start = int(first) if first is not None else 0
        if last is not None:
            end = int(last)
            if (start < 0) != (end < 0) or end < start:
                raise SliceError(f"slice range '{part.strip()}' must run from a lower to a "
                                 "higher offset on the same side")
            ranges.append((start, end - start + 1))
        elif colon is None:
            ranges.append((start, 1))
        elif length is None:
            ranges.append((start, None))
        else:
            if int(length) == 0:
                raise SliceError(f"slice range '{part.strip()}' has length 0")
            ranges.append((start, int(length)))
    return tuple(ranges)


def cut(data: bytes, ranges: Slice) -> bytes | None:
    """The bytes the ranges select from ``data``; None when one of them does not fit."""
    out = b""
    size = len(data)
    for start, length in ranges:
        if start < 0:
            start += size
            if start < 0:
                return None
        stop = size if length is None else start + length
        if stop > size or start >= size and length is not None:
            return None
        out += data[start:stop]
    return out
