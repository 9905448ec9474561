"""The times of ``frame.time*`` as display filters compare them, in integer nanoseconds.

``frame.time`` and ``frame.time_epoch`` are absolute (Wireshark's FT_ABSOLUTE_TIME): a literal
is a quoted date, ``"2026-12-07 10:00:00"``, ``"2026-12-07T10:00:00.5Z"`` or
``"Dec  7, 2026 10:00:00"`` (local time unless it ends in ``Z`` or ``UTC``, as in tshark), or a
number of seconds since the epoch.  ``frame.time_relative`` (since the first packet) and
``frame.time_delta`` (since the previous packet captured) are relative: a literal is a number of
seconds, ``0.001`` or ``-1.5``.  Each value is an ``int`` subclass, so the filter tells the two
kinds apart by type and compares nanoseconds exactly.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

__all__ = ["AbsoluteTime", "RelativeTime", "TimeLiteralError", "absolute_ns", "relative_ns"]

_NS = 10**9


class AbsoluteTime(int):
    """Nanoseconds since the epoch."""


class RelativeTime(int):
    """Nanoseconds between two packets."""


class TimeLiteralError(ValueError):
    """A literal that is not a time of the kind the field holds."""


_SECONDS_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d",
            "%b %d, %Y %H:%M:%S", "%b %d, %Y %H:%M", "%b %d, %Y")
_FRACTION_RE = re.compile(r"^(.*?:[0-9]{2})\.([0-9]{1,9})(.*)$")


def relative_ns(text: str) -> int:
    """``text`` (seconds, as written in a filter) in nanoseconds."""
    if not _SECONDS_RE.fullmatch(text):
        raise TimeLiteralError(f"'{text}' is not a number of seconds (such as 0.001)")
    try:
        return int(Decimal(text) * _NS)
    except InvalidOperation:
        raise TimeLiteralError(f"'{text}' is not a number of seconds") from None


def absolute_ns(text: str) -> int:
    """``text`` (a date, or seconds since the epoch) in nanoseconds since the epoch."""
    if _SECONDS_RE.fullmatch(text):
        return relative_ns(text)
    body = " ".join(text.split())
    utc = False
    for suffix in (" UTC", "UTC", "Z"):
        if body.endswith(suffix):
            body, utc = body[: -len(suffix)].rstrip(), True
            break
    fraction = 0
    m = _FRACTION_RE.match(body)
    if m is not None:
        body = m.group(1) + m.group(3)
        fraction = int(m.group(2).ljust(9, "0"))
    for fmt in _FORMATS:
        try:
            when = datetime.strptime(body, fmt)
        except ValueError:
            continue
        if utc:
            when = when.replace(tzinfo=timezone.utc)
        try:
            seconds = int(when.timestamp())
        except (OverflowError, OSError, ValueError):
            break
        return seconds * _NS + fraction
    raise TimeLiteralError(f"'{text}' is not a date and time (such as \"2026-12-07 10:00:00\", "
                           "\"Dec  7, 2026 10:00:00\") or seconds since the epoch")
