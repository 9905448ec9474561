"""Wireshark's field types, and turning PDML ``show`` strings and vxlankit values into one form.

PDML gives every field as the string tshark displays (``show``): ``0x0800`` for a hexadecimal
integer, ``20`` for a decimal one, ``1``/``0`` for a boolean, colon-separated hex for bytes.
Which of these a field uses is not guessable from the string (``10`` may be ten or sixteen), so
the normalisation is driven by the field's declared type from ``tshark -G fields`` of the tshark
actually run, never by guessing from the value.

One wrinkle decides how integers are read: ``-G fields`` lists one declaration per abbreviation,
but a few abbreviations are declared twice with different bases (``vxlan.flags_reserved`` is
FT_UINT16 BASE_HEX for VXLAN and FT_UINT8 BASE_DEC for VXLAN-GPE).  tshark always writes a
hexadecimal display with its ``0x`` prefix, so for an integer type the prefix, not the listed
base, says which base the string is in.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from vxlankit.errors import VxlanKitError
from vxlankit.layers.registry import LAYERS

_INT_TYPES = frozenset({
    "FT_UINT8", "FT_UINT16", "FT_UINT24", "FT_UINT32", "FT_UINT40", "FT_UINT48", "FT_UINT56",
    "FT_UINT64", "FT_INT8", "FT_INT16", "FT_INT24", "FT_INT32", "FT_INT40", "FT_INT48",
    "FT_INT56", "FT_INT64", "FT_CHAR", "FT_FRAMENUM",
})
_HEX_BASES = frozenset({"BASE_HEX", "BASE_HEX_DEC"})

# Only these protocols' fields are ever looked up; keeping the rest of the ~240k-line table
# would cost memory for nothing.
FIELD_PREFIXES = frozenset({spec.proto for spec in LAYERS} | {"ieee8021ah", "data"})


class CrosscheckError(VxlanKitError):
    """tshark or pyshark is missing, or tshark could not dissect the capture."""


@dataclass(frozen=True)
class FieldType:
    """One row of ``tshark -G fields``: the abbreviation, its FT_ type and its display base."""

    name: str
    ftype: str
    base: str

    @property
    def is_int(self) -> bool:
        return self.ftype in _INT_TYPES

    @property
    def hex_digits(self) -> int:
        """Digits tshark pads a hexadecimal value to (two per byte of the integer type)."""
        if self.ftype == "FT_UINT24" or self.ftype == "FT_INT24":
            return 6
        for bits in ("64", "56", "48", "40", "32", "16", "8"):
            if self.ftype.endswith(bits):
                return int(bits) // 4
        return 2


@dataclass(frozen=True)
class TsharkInfo:
    path: str
    version: str
    fields: Mapping[str, FieldType]


def _run(args: list[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, check=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        raise CrosscheckError(f"running {' '.join(args)} failed: {exc}") from None
    return done.stdout.decode("utf-8", "replace")


@lru_cache(maxsize=4)
def tshark_info(path: str) -> TsharkInfo:
    """Version and field table of the tshark at ``path`` (run once per path per process)."""
    version_text = _run([path, "--version"]).splitlines()
    first = version_text[0] if version_text else ""
    # "TShark (Wireshark) 4.0.17 (Git v4.0.17 packaged as ...)"
    words = first.split()
    version = words[2] if len(words) > 2 and words[0] == "TShark" else first.strip()
    fields: dict[str, FieldType] = {}
    for line in _run([path, "-G", "fields"]).splitlines():
        parts = line.split("\t")
        if len(parts) < 6 or parts[0] != "F":
            continue
        name = parts[2]
        if name.split(".", 1)[0] not in FIELD_PREFIXES:
            continue
        # An abbreviation registered twice (rare) keeps its first declaration, as tshark's own
        # display filter engine does.
        fields.setdefault(name, FieldType(name, parts[3], parts[5]))
    if not fields:
        raise CrosscheckError(f"{path} -G fields listed no fields of the compared protocols")
    return TsharkInfo(path, version, fields)


def parse_show(show: str, ftype: FieldType) -> Any:
    """The value a PDML ``show`` string stands for, in vxlankit's representation.

    A string that does not parse as its declared type is returned unchanged, so that it shows
    up as a disagreement rather than being guessed at.
    """
    text = show.strip()
    try:
        if ftype.is_int:
            if text.startswith(("0x", "0X")):
                return int(text, 16)
            if ftype.base == "BASE_OCT":
                return int(text, 8)
            return int(text, 10)
        if ftype.ftype == "FT_BOOLEAN":
            lowered = text.lower()
            if lowered in ("1", "true"):
                return 1
            if lowered in ("0", "false"):
                return 0
            return text
        if ftype.ftype == "FT_BYTES":
            return bytes.fromhex(text.replace(":", ""))
        if ftype.ftype == "FT_ETHER":
            return text.lower()
    except ValueError:
        return show
    return text


def normalise(value: Any, ftype: FieldType) -> Any:
    """vxlankit's value in the representation :func:`parse_show` gives."""
    if ftype.is_int or ftype.ftype == "FT_BOOLEAN":
        if isinstance(value, (bool, int)):
            return int(value)
        return value
    if ftype.ftype == "FT_BYTES":
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        return value
    if ftype.ftype == "FT_ETHER" and isinstance(value, str):
        return value.lower()
    return value


def render(value: Any, ftype: FieldType | None) -> str:
    """A value as tshark would show it, so both columns of a disagreement read alike."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex(":")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int) and ftype is not None and ftype.is_int:
        if ftype.base in _HEX_BASES and value >= 0:
            return f"0x{value:0{ftype.hex_digits}x}"
        return str(value)
    return str(value)
