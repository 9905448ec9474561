"""The time column: tshark's ``-t`` formats, and exact seconds from integer nanoseconds.

Timestamps are integer nanoseconds everywhere; these turn them into text without a float, so
nothing is rounded: ``format_seconds`` (truncated to a number of decimals), ``epoch_str``
(tshark's ``frame.time_epoch``), ``time_digits`` (how many decimals a resolution deserves) and
``Clock``, the time column of the one-line summary in each of ``TIME_FORMATS``.
"""

from __future__ import annotations

import time

__all__ = ["TIME_FORMATS", "Clock", "epoch_str", "format_seconds", "time_digits", "utc_text"]

TIME_FORMATS = ("r", "a", "ad", "e", "d", "dd", "u", "ud")
_NS = 1_000_000_000


def time_digits(tsresol: int) -> int:
    """Decimals to show for a timestamp resolution: 6 (microseconds) or 9 (finer)."""
    return 9 if tsresol > 1_000_000 else 6


def format_seconds(ns: int, digits: int = 6) -> str:
    """Nanoseconds as seconds with ``digits`` decimals (truncated), exact: no float."""
    sign = ""
    if ns < 0:
        sign = "-"
        ns = -ns
    secs, frac = divmod(ns, _NS)
    if digits == 9:
        return f"{sign}{secs}.{frac:09d}"
    if digits == 6:
        return f"{sign}{secs}.{frac // 1000:06d}"
    scaled = frac // 10 ** (9 - digits)
    return f"{sign}{secs}.{scaled:0{digits}d}" if digits else f"{sign}{secs}"


def epoch_str(ts_ns: int) -> str:
    """tshark's ``frame.time_epoch``: seconds with nine decimals, exact from integer ns."""
    return format_seconds(ts_ns, 9)


class Clock:
    """Formats the time column in one of tshark's ``-t`` formats.

    r: since the first packet; d: since the previous packet; dd: since the previous packet shown;
    e: epoch; a/ad: local time of day (with date); u/ud: the same in UTC.
    """

    __slots__ = ("fmt", "digits", "prev_shown", "_sec", "_prefix")

    def __init__(self, fmt: str = "r", digits: int = 6) -> None:
        if fmt not in TIME_FORMATS:
            raise ValueError(f"unknown time format {fmt!r}: use one of {', '.join(TIME_FORMATS)}")
        self.fmt = fmt
        self.digits = digits
        self.prev_shown: int | None = None
        self._sec = -1
        self._prefix = ""

    def __call__(self, ts: int, first: int, prev: int) -> str:
        fmt = self.fmt
        if fmt == "r":
            text = format_seconds(ts - first, self.digits)
        elif fmt == "e":
            text = format_seconds(ts, self.digits)
        elif fmt == "d":
            text = format_seconds(ts - prev, self.digits)
        elif fmt == "dd":
            shown = self.prev_shown
            text = format_seconds(0 if shown is None else ts - shown, self.digits)
        else:
            secs, frac = divmod(ts, _NS)
            if secs != self._sec:
                pattern = "%Y-%m-%d %H:%M:%S" if fmt.endswith("d") else "%H:%M:%S"
                self._prefix = utc_text(secs, pattern, local=fmt[0] != "u")
                self._sec = secs
            digits = self.digits
            text = f"{self._prefix}.{frac // 10 ** (9 - digits):0{digits}d}"
        self.prev_shown = ts
        return text


def utc_text(secs: int, pattern: str, local: bool = False) -> str:
    """``time.strftime(pattern)`` of ``secs`` since the epoch (UTC, or local time), or, for a
    time no calendar function takes (a damaged or far-future timestamp), the seconds as
    ``@SECONDS`` so that the output still says what the capture holds."""
    try:
        return time.strftime(pattern, time.localtime(secs) if local else time.gmtime(secs))
    except (OverflowError, OSError, ValueError):
        return f"@{secs}"
