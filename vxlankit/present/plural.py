"""Counted nouns for what people read: ``1 packet``, ``2 packets``, ``1 FDB entry``."""

from __future__ import annotations

_VOWELS = frozenset("aeiou")


def plural(noun: str) -> str:
    """English plural of the last word of ``noun``: ``entry`` -> ``entries``, ``reply`` ->
    ``replies``, ``conversation`` -> ``conversations`` (``ey``/``ay`` keep their ``y``)."""
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in _VOWELS:
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "sh", "ch")):
        return noun + "es"
    return noun + "s"


def counted(n: int, noun: str, plural_form: str | None = None) -> str:
    """``n`` and ``noun``, in the plural unless ``n`` is 1 (``plural_form``: an irregular
    plural, else :func:`plural`)."""
    if n == 1:
        return f"1 {noun}"
    return f"{n} {plural_form or plural(noun)}"
