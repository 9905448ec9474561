"""Display filters for ``vxlankit decode -Y EXPR``: a small subset of Wireshark's, same semantics.

``compile_filter("vxlan.vni == 100 and ip.src#2 == 10.0.0.0/24")`` parses once and returns a
:class:`Filter`, a callable ``Packet -> bool`` made of nested closures.  Grammar, semantics and
the differences from Wireshark 4.0 are in ``docs/filters.md``; the points that shape this code:

* A literal is typed by the *field*, and vxlankit only learns a field's type from its values
  (ints, MAC strings, dotted-quad strings, bytes).  So literals are converted lazily, at the
  first comparison against a value of a given Python type, and the conversion is cached per
  comparison node.  A literal that does not fit the field raises :class:`FilterExprError` then,
  as Wireshark would have refused the filter: silently matching nothing would hide the typo.
* Multi-occurrence fields follow Wireshark >= 3.6: ``==`` and the orderings match if *any*
  occurrence does, ``!=`` only if *all* differ (``~=`` is "any differs"), and every comparison
  is false when the field is absent.
* ``field#N`` and ``field#[ranges]`` are Wireshark 4.0's layer operator: the field as found
  in the Nth layer of its protocol, not simply the Nth value found; negative numbers count
  back from the highest layer number that has the field.
"""

from __future__ import annotations

import enum
import operator
import re
import socket
from collections.abc import Callable, Collection
from typing import Any, NoReturn

from vxlankit.errors import FilterError
from vxlankit.layers.registry import ALIASES, DECLARATIONS, FIELDS, spec_for
from vxlankit.layers.registry import PROTOCOLS as REGISTRY_PROTOCOLS
from vxlankit.layers.spec import BOOL, EXTENSION, IPV4, IPV6, UINT
from vxlankit.packet import Packet
from vxlankit.present.frametimes import (
    AbsoluteTime,
    RelativeTime,
    TimeLiteralError,
    absolute_ns,
    relative_ns,
)
from vxlankit.present.slices import Slice, SliceError, cut, parse_slice

__all__ = ["PROTOCOLS", "Filter", "FilterExprError", "compile_filter"]

# Protocol names vxlankit's decoder can produce as ``Layer.proto``.  A bare dotless name is a
# protocol test; when ``known_fields`` is given these (and the first component of every known
# field) are the accepted protocol names.
PROTOCOLS: frozenset[str] = REGISTRY_PROTOCOLS

Test = Callable[[Packet], bool]
ValuePred = Callable[[Any], bool]


class FilterExprError(FilterError):
    """A filter that does not parse, or whose literal does not fit the field it is compared to.

    ``column`` is 1-based; it points at the offending token (or one past the end of the
    expression when the expression stops too early).
    """

    def __init__(self, reason: str, expr: str, column: int) -> None:
        super().__init__(f'filter: {reason} at column {column}: "{expr}"')
        self.reason = reason
        self.expr = expr
        self.column = column


# --------------------------------------------------------------------------------------------
# Lexer

# Relational operators, by every spelling Wireshark 4.0 accepts, mapped to one canonical form.
_RELOPS = {
    "==": "==", "eq": "==", "any_eq": "==",
    "!=": "!=", "ne": "!=", "all_ne": "!=",
    "===": "===", "all_eq": "===",
    "~=": "~=", "any_ne": "~=",
    "<": "<", "lt": "<",
    "<=": "<=", "le": "<=",
    ">": ">", "gt": ">",
    ">=": ">=", "ge": ">=",
    "contains": "contains", "matches": "matches", "~": "matches",
}  # fmt: skip
_KEYWORDS = {"and": "and", "or": "or", "not": "not", "in": "in"}
# Wireshark operators we deliberately leave out; naming them beats "unexpected word".
_UNSUPPORTED = {"bitwise_and", "xor"}

# Longest first, so that "===" is not read as "==" followed by "=".
_SYMBOLS = (
    ("===", "op"), ("==", "op"), ("!=", "op"), ("~=", "op"), ("<=", "op"), (">=", "op"),
    ("~", "op"),
    ("&&", "and"), ("||", "or"), ("..", ".."),
    ("<", "op"), (">", "op"), ("!", "not"),
    ("(", "("), (")", ")"), ("{", "{"), ("}", "}"), (",", ","),
)  # fmt: skip
_SYMBOL_HINTS = {
    "=": "'=' is not an operator (did you mean '=='?)",
    "&": "bitwise '&' is not supported (did you mean '&&'?)",
    "|": "'|' is not an operator (did you mean '||'?)",
    "[": "a slice ('[i:j]') must follow a field or protocol name",
    "^": "'^^' (xor) is not supported",
}

# Field names, MACs, addresses, numbers and byte strings all lex as one "word".  A dot may not be
# followed by another dot, so "1..10" inside a set splits into "1", "..", "10".
_WORD_RE = re.compile(r"[A-Za-z0-9_:/\-]+(?:\.(?!\.)[A-Za-z0-9_:/\-]*)*")
_SPACE_RE = re.compile(r"\s+")
_LAYER_RE = re.compile(r"#(?:(-?[0-9]+)|\[([^\]]*)\])")
_LAYER_RANGE_RE = re.compile(r"(-?[0-9]+)(?:(:)([0-9]+)?|-(-?[0-9]+))?")
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*")

_ESCAPES = {
    "n": b"\n", "t": b"\t", "r": b"\r", "a": b"\a", "b": b"\b", "f": b"\f", "v": b"\v",
    "\\": b"\\", '"': b'"', "'": b"'",
}  # fmt: skip


class _Tok:
    __slots__ = ("kind", "text", "col", "value")

    def __init__(self, kind: str, text: str, col: int, value: Any = None) -> None:
        self.kind = kind  # word string op and or not in ( ) { } , .. # slice unsupported end
        self.text = text  # exactly as written
        self.col = col  # 1-based
        self.value = value  # op: canonical operator; string: bytes; #: layer ranges; slice

    def describe(self) -> str:
        return "the end of the filter" if self.kind == "end" else f"'{self.text}'"


def _lex(expr: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(expr)
    while i < n:
        space = _SPACE_RE.match(expr, i)
        if space:
            i = space.end()
            continue
        col = i + 1
        ch = expr[i]
        if ch == '"':
            value, i = _lex_string(expr, i)
            toks.append(_Tok("string", expr[col - 1 : i], col, value))
            continue
        if ch == "#":
            layer = _LAYER_RE.match(expr, i)
            if layer is None:
                what = ("the '[' after '#' is never closed" if expr[i + 1 : i + 2] == "["
                        else "expected a layer number or '[' after '#'")  # fmt: skip
                raise FilterExprError(what, expr, col + 1)
            if layer.group(1) is not None:
                ranges = [_layer_range(layer.group(1), expr, col + 1)]
            else:
                ranges = _layer_ranges(layer.group(2), expr, col + 2)
            toks.append(_Tok("#", layer.group(0), col, tuple(ranges)))
            i = layer.end()
            continue
        if ch == "[" and toks and toks[-1].kind in ("word", "#"):
            close = expr.find("]", i)
            if close < 0:
                raise FilterExprError("the '[' of this slice is never closed", expr, col)
            try:
                cut_ranges = parse_slice(expr[i + 1 : close])
            except SliceError as exc:
                raise FilterExprError(str(exc), expr, col + 1) from None
            toks.append(_Tok("slice", expr[i : close + 1], col, cut_ranges))
            i = close + 1
            continue
        for sym, kind in _SYMBOLS:
            if expr.startswith(sym, i):
                toks.append(_Tok(kind, sym, col, _RELOPS.get(sym)))
                i += len(sym)
                break
        else:
            word = _WORD_RE.match(expr, i)
            if word is None:
                hint = _SYMBOL_HINTS.get(ch, f"unexpected character '{ch}'")
                raise FilterExprError(hint, expr, col)
            text = word.group(0)
            if text in _RELOPS:
                toks.append(_Tok("op", text, col, _RELOPS[text]))
            elif text in _KEYWORDS:
                toks.append(_Tok(_KEYWORDS[text], text, col))
            elif text in _UNSUPPORTED:
                toks.append(_Tok("unsupported", text, col))
            else:
                toks.append(_Tok("word", text, col))
            i = word.end()
    toks.append(_Tok("end", "", n + 1))
    return toks


# One range of Wireshark's layer operator: (first layer, how many layers; None = to the end).
# A negative first counts back from the highest layer that has the field (-1 is that layer).
_LayerRange = tuple[int, int | None]


def _layer_range(text: str, expr: str, col: int) -> _LayerRange:
    """``N`` (bare, after '#'), or inside brackets ``N``, ``N:len``, ``N:``, ``first-last``."""
    m = _LAYER_RANGE_RE.fullmatch(text)
    if m is None:
        if text.startswith(":"):
            raise FilterExprError(f"layer range '{text}' needs a first layer: '1{text}'", expr, col)
        raise FilterExprError(f"'{text}' is not a layer number or range", expr, col)
    first_text, colon, length, last = m.groups()
    first = int(first_text)
    if first == 0:
        raise FilterExprError("layer numbers start at 1 (-1 is the last layer)", expr, col)
    if last is not None:
        # Wireshark leaves a negative "last" unadjusted, which makes "-2--1" match nothing;
        # this grammar cannot express that, and a negative first is refused here instead.
        if first < 0 or int(last) <= first:
            raise FilterExprError(
                f"layer range '{text}' must run from a lower to a higher positive layer",
                expr, col,
            )  # fmt: skip
        return first, int(last) - first + 1
    if colon is None:
        return first, 1
    if length is None:
        return first, None
    if int(length) == 0:
        raise FilterExprError(f"layer range '{text}' has length 0", expr, col)
    return first, int(length)


def _layer_ranges(body: str, expr: str, col: int) -> list[_LayerRange]:
    ranges = []
    for part in body.split(","):
        lead = len(part) - len(part.lstrip())
        ranges.append(_layer_range(part.strip(), expr, col + lead))
        col += len(part) + 1
    return ranges


def _lex_string(expr: str, start: int) -> tuple[bytes, int]:
    """The bytes of the quoted string at ``start`` and the index just past its closing quote.

    Kept as bytes because ``\\xNN`` escapes name bytes, which matters for byte fields.
    """
    out = bytearray()
    i = start + 1
    while i < len(expr):
        ch = expr[i]
        if ch == '"':
            return bytes(out), i + 1
        if ch != "\\":
            out += ch.encode()
            i += 1
            continue
        esc = expr[i + 1 : i + 2]
        if esc in _ESCAPES:
            out += _ESCAPES[esc]
            i += 2
        elif esc == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", expr[i + 2 : i + 4]):
            out.append(int(expr[i + 2 : i + 4], 16))
            i += 4
        elif re.fullmatch(r"[0-7]{3}", expr[i + 1 : i + 4]) and int(expr[i + 1 : i + 4], 8) < 256:
            out.append(int(expr[i + 1 : i + 4], 8))
            i += 4
        else:
            raise FilterExprError(f"unknown escape '\\{esc}' in string", expr, i + 1)
    raise FilterExprError("the closing quote of this string is missing", expr, start + 1)


# --------------------------------------------------------------------------------------------
# Literals and value types


class _Kind(enum.Enum):
    INT = "integers"
    IPV4 = "IPv4 addresses"
    IPV6 = "IPv6 addresses"
    MAC = "MAC addresses"
    BYTES = "byte strings"
    STR = "strings"
    ABSTIME = "absolute times"
    RELTIME = "relative times"


_MAC_VALUE_RE = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}")
_IPV4_VALUE_RE = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")


def _is_ipv6(value: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6, value)
    except (OSError, ValueError):
        return False
    return True


def _kind_of(value: Any) -> _Kind | None:
    # Classifying a str by its shape is safe only because it happens once per field (see
    # _typed): a Wireshark field has one type, so its first value speaks for all of them.
    if isinstance(value, AbsoluteTime):
        return _Kind.ABSTIME
    if isinstance(value, RelativeTime):
        return _Kind.RELTIME
    if isinstance(value, (int, float)):  # bool is an int: Wireshark's booleans are 0/1
        return _Kind.INT
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _Kind.BYTES
    if isinstance(value, str):
        if _MAC_VALUE_RE.fullmatch(value):
            return _Kind.MAC
        if _IPV4_VALUE_RE.fullmatch(value):
            return _Kind.IPV4
        if ":" in value and _is_ipv6(value):
            return _Kind.IPV6
        return _Kind.STR
    return None


_FULL_MASK = 0xFFFFFFFF
_FULL_MASK6 = (1 << 128) - 1
_FULL = {"IPv4 addresses": _FULL_MASK, "IPv6 addresses": _FULL_MASK6}
_INT_RE = re.compile(r"([+-]?)(0[xX][0-9A-Fa-f]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_IPV4_LITERAL_RE = re.compile(
    r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})(?:/([0-9]{1,3}))?"
)
_HEX_GROUP_RE = re.compile(r"(?:[0-9A-Fa-f]{2})+")


class _BadLiteral(Exception):
    """Internal: why a literal does not convert; _Literal adds the column and expression."""


def _parse_int(text: str) -> int:
    m = _INT_RE.fullmatch(text)
    if m is None:
        # Wireshark spells booleans True/False (and TRUE/FALSE); accepting any case costs
        # nothing and the fields hold 0/1 anyway.
        if text.lower() in ("true", "false"):
            return int(text.lower() == "true")
        raise _BadLiteral(f"'{text}' is not a valid number")
    sign, body = m.groups()
    if body[:2] in ("0x", "0X"):
        number = int(body[2:], 16)
    elif body[:2] in ("0b", "0B"):
        number = int(body[2:], 2)
    elif body.startswith("0") and len(body) > 1:  # C's strtoul: a leading 0 means octal
        number = int(body[1:], 8)
    else:
        number = int(body)
    return -number if sign == "-" else number


def _parse_ipv4(text: str) -> tuple[int, int]:
    """``(address, netmask)``; a plain address has the full /32 mask."""
    m = _IPV4_LITERAL_RE.fullmatch(text)
    if m is None or any(int(octet) > 255 for octet in m.groups()[:4]):
        raise _BadLiteral(f"'{text}' is not a valid IPv4 address or CIDR block")
    addr = int.from_bytes(bytes(int(octet) for octet in m.groups()[:4]), "big")
    bits = 32 if m.group(5) is None else int(m.group(5))
    if bits > 32:
        raise _BadLiteral(f"netmask bits in '{text}' must be at most 32, not {bits}")
    return addr, (_FULL_MASK << (32 - bits)) & _FULL_MASK


def _parse_ipv6(text: str) -> tuple[int, int]:
    """``(address, netmask)`` of ``2001:db8::1`` or ``2001:db8::/32``; a plain address has
    the full /128 mask."""
    addr_text, slash, bits_text = text.partition("/")
    try:
        addr = int.from_bytes(socket.inet_pton(socket.AF_INET6, addr_text), "big")
    except (OSError, ValueError):
        raise _BadLiteral(f"'{text}' is not a valid IPv6 address or prefix") from None
    if not slash:
        return addr, _FULL_MASK6
    if not bits_text.isdigit() or int(bits_text) > 128:
        raise _BadLiteral(f"netmask bits in '{text}' must be a number up to 128")
    bits = int(bits_text)
    return addr, (_FULL_MASK6 << (128 - bits)) & _FULL_MASK6


def _parse_hex_bytes(text: str, what: str, example: str) -> bytes:
    """``aa:bb:cc``, ``aa-bb-cc``, ``aabb.cc``, ``aabbcc``: groups of hex pairs, one separator."""
    seps = {ch for ch in text if ch in ":-."}
    groups = text.split(next(iter(seps))) if len(seps) == 1 else [text]
    # Mixed separators leave a separator inside a group, which the hex check then rejects.
    if not all(_HEX_GROUP_RE.fullmatch(group) for group in groups):
        raise _BadLiteral(f"'{text}' is not a valid {what}: write hex byte pairs such as {example}")
    return bytes.fromhex("".join(groups))


def _convert(kind: _Kind, text: str, quoted: bytes | None) -> Any:
    """The literal as a comparison key for ``kind`` (see ``_KEYS``), or ``_BadLiteral``."""
    if kind in (_Kind.ABSTIME, _Kind.RELTIME):
        try:
            if kind is _Kind.RELTIME:
                if quoted is not None:
                    raise _BadLiteral(f"{text} is quoted: write seconds as a number, 0.001")
                return relative_ns(text)
            return absolute_ns(text if quoted is None
                               else quoted.decode("utf-8", "surrogateescape"))
        except TimeLiteralError as exc:
            raise _BadLiteral(str(exc)) from None
    if quoted is not None:
        if kind is _Kind.BYTES:
            return len(quoted), quoted
        if kind is _Kind.STR:
            return quoted.decode("utf-8", "surrogateescape")
        # Wireshark 4.0 refuses quoted numbers and addresses too ("cannot be converted from a
        # string"); accepting them would make filters that tshark rejects.
        raise _BadLiteral(f"{text} is quoted, which only string and byte fields allow")
    if kind is _Kind.INT:
        return _parse_int(text)
    if kind is _Kind.IPV4:
        return _parse_ipv4(text)
    if kind is _Kind.IPV6:
        return _parse_ipv6(text)
    if kind is _Kind.MAC:
        raw = _parse_hex_bytes(text, "MAC address", "00:16:3e:08:71:cf")
        if len(raw) != 6:
            raise _BadLiteral(f"'{text}' is not a valid MAC address: {len(raw)} bytes, not 6")
        return raw
    if kind is _Kind.BYTES:
        raw = _parse_hex_bytes(text, "byte string", "aa:bb:cc")
        return len(raw), raw
    return text  # an unquoted word compared with a string field is that string, as in 4.0


def _uint_max(name: str) -> int | None:
    """The largest value field ``name`` can hold, as Wireshark's FT_UINTn type of it (the
    widest of its declarations; an alias: of the fields it stands for), or None when a
    declaration gives no width."""
    if name in _FRAME_WIDTHS:
        return (1 << 8 * _FRAME_WIDTHS[name]) - 1
    widest = 0
    for n in ALIASES.get(name, (name,)):
        for f in DECLARATIONS.get(n, ()):
            if f.type != UINT or not f.width:
                return None
            widest = max(widest, f.width)
    return (1 << 8 * widest) - 1 if widest else None


# The record's own numbers, FT_UINT32 in Wireshark (the times and texts are not numbers).
_FRAME_WIDTHS = {"frame.number": 4, "frame.len": 4, "frame.cap_len": 4,
                 "frame.interface_id": 4}
_UINT_MAX: dict[str, int | None] = {}


def uint_max(name: str) -> int | None:
    """:func:`_uint_max`, cached: the filter compiler asks for every comparison."""
    try:
        return _UINT_MAX[name]
    except KeyError:
        found = _UINT_MAX[name] = _uint_max(name)
        return found


class _Literal:
    """A value as written in the filter; converted per field type on first use, then cached."""

    __slots__ = ("tok", "expr", "_cache")

    def __init__(self, tok: _Tok, expr: str) -> None:
        self.tok = tok
        self.expr = expr
        self._cache: dict[_Kind, Any] = {}

    def as_kind(self, kind: _Kind, field: str) -> Any:
        try:
            return self._cache[kind]
        except KeyError:
            pass
        quoted = self.tok.value if self.tok.kind == "string" else None
        try:
            key = _convert(kind, self.tok.text, quoted)
        except _BadLiteral as exc:
            raise FilterExprError(
                f"{exc} ({field} holds {kind.value})", self.expr, self.tok.col
            ) from None
        self._cache[kind] = key
        return key


# --------------------------------------------------------------------------------------------
# Building predicates


def _ip_key(value: str) -> int:
    return int.from_bytes(socket.inet_aton(value), "big")


def _ip6_key(value: str) -> int:
    return int.from_bytes(socket.inet_pton(socket.AF_INET6, value), "big")


def _mac_key(value: str) -> bytes:
    return bytes.fromhex(value.replace(":", ""))


def _bytes_key(value: Any) -> tuple[int, bytes]:
    # Wireshark 4.0 orders FT_BYTES by length first, then memcmp (tshark: "data.data > a6" is
    # true of a 48-byte payload starting 0x39), which is not Python's bytes order.
    return len(value), bytes(value)


# How a field value becomes comparable with a converted literal; None means "as it is".
# MACs are fixed-length, so plain bytes order is FT_ETHER's memcmp.
_KEYS: dict[_Kind, Callable[[Any], Any] | None] = {
    _Kind.INT: None,
    _Kind.STR: None,
    _Kind.BYTES: _bytes_key,
    _Kind.MAC: _mac_key,
    _Kind.IPV4: _ip_key,
    _Kind.IPV6: _ip6_key,
    _Kind.ABSTIME: None,
    _Kind.RELTIME: None,
}
_VALUE_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _never(value: Any) -> bool:
    return False


def _value_pred(kind: _Kind, op: str, key: Any) -> ValuePred:
    """``value <op> literal`` for one value of ``kind``; ``key`` is the converted literal."""
    fn = _VALUE_OPS[op]
    if kind is _Kind.IPV4:
        addr, mask = key
        if mask == _FULL_MASK and op in ("==", "!="):
            # The common case: values are canonical dotted quads, so compare the text.
            dotted = socket.inet_ntoa(addr.to_bytes(4, "big"))
            return lambda v: fn(v, dotted)
        # Wireshark compares IPv4 values under the literal's netmask, so "== 10.0.0.0/8" is
        # membership and "> 10.0.0.0/8" means "above the whole block".
        net = addr & mask
        return lambda v: fn(_ip_key(v) & mask, net)
    if kind is _Kind.IPV6:
        addr6, mask6 = key
        if mask6 == _FULL_MASK6 and op in ("==", "!="):
            text = socket.inet_ntop(socket.AF_INET6, addr6.to_bytes(16, "big"))  # canonical
            return lambda v: fn(v, text)
        net6 = addr6 & mask6
        return lambda v: fn(_ip6_key(v) & mask6, net6)
    if kind is _Kind.MAC and op in ("==", "!="):
        colon_hex = key.hex(":")  # the value's own spelling; lower() covers upper-case producers
        return lambda v: fn(v.lower(), colon_hex)
    to_key = _KEYS[kind]
    if to_key is None:
        return lambda v: fn(v, key)
    convert = to_key
    return lambda v: fn(convert(v), key)


def _between(above: ValuePred, below: ValuePred) -> ValuePred:
    return lambda v: above(v) and below(v)


_Members = list[tuple["_Literal", "_Literal | None"]]  # (value, None) or (low, high) of a range


def _set_pred(kind: _Kind, members: _Members, field: str) -> ValuePred:
    """``value in {a, b, lo..hi}``: a frozenset lookup for plain members, predicates for others."""
    exact: set[Any] = set()
    others: list[ValuePred] = []
    for lo, hi in members:
        low = lo.as_kind(kind, field)
        if hi is not None:
            above = _value_pred(kind, ">=", low)
            below = _value_pred(kind, "<=", hi.as_kind(kind, field))
            others.append(_between(above, below))
        elif kind in (_Kind.IPV4, _Kind.IPV6) and low[1] != _FULL[kind.value]:
            others.append(_value_pred(kind, "==", low))
        else:
            exact.add(low[0] if kind in (_Kind.IPV4, _Kind.IPV6) else low)
    frozen = frozenset(exact)
    to_key = _KEYS[kind]
    if to_key is None and not others:
        return lambda v: v in frozen
    convert = to_key if to_key is not None else (lambda v: v)
    if not others:
        return lambda v: convert(v) in frozen
    return lambda v: convert(v) in frozen or any(p(v) for p in others)


# The capture record's fields a filter can test (``Packet.frame``, which
# ``vxlankit.present.run.decode_records`` sets when a filter names one).
FRAME_FIELDS = frozenset({"frame.number", "frame.len", "frame.cap_len", "frame.interface_id",
                           "frame.interface_name", "frame.comment", "frame.time",
                           "frame.time_epoch", "frame.time_relative", "frame.time_delta",
                           "frame.protocols"})
# Those that need the capture's first and previous timestamps (or the whole stack).
FRAME_TIMES = frozenset({"frame.time", "frame.time_epoch", "frame.time_relative",
                         "frame.time_delta"})


# Field types ``contains`` and ``matches`` refuse (tshark: "cannot be converted").
_NOT_TEXT = {UINT: "integers", BOOL: "integers", IPV4: "IPv4 addresses", IPV6: "IPv6 addresses"}


def _text_pred(op: str, literal: _Literal, field: str, expr: str
               ) -> Callable[[_Kind], ValuePred]:
    """``contains`` (a substring, or a byte subsequence) and ``matches``/``~`` (a regular
    expression, case-insensitive as in Wireshark 4.0) for string and byte fields (MAC
    addresses are bytes); numbers and IP addresses are an error at their first value, as
    tshark refuses them."""
    tok = literal.tok
    raw = tok.value if tok.kind == "string" else None

    def build(kind: _Kind) -> ValuePred:
        if op == "matches":
            if raw is None:
                raise FilterExprError("matches needs a quoted regular expression", expr,
                                      tok.col)
            try:
                pattern = re.compile(raw.decode("utf-8", "surrogateescape"), re.IGNORECASE)
            except re.error as exc:
                raise FilterExprError(f"bad regular expression: {exc}", expr,
                                      tok.col) from None
            if kind is _Kind.BYTES:
                return lambda value: pattern.search(bytes(value).decode("latin-1")) is not None
            return lambda value: pattern.search(str(value)) is not None
        if kind is _Kind.BYTES:
            _, needle = literal.as_kind(kind, field)
            return lambda value: needle in bytes(value)
        if kind in (_Kind.INT, _Kind.IPV4, _Kind.IPV6, _Kind.ABSTIME, _Kind.RELTIME):
            raise FilterExprError(f"{field} holds {kind.value}: 'contains' applies to "
                                  "strings and byte strings", expr, tok.col)
        text = raw.decode("utf-8", "surrogateescape") if raw is not None else tok.text
        return lambda value: text in str(value)

    return build


def _typed(build: Callable[[_Kind], ValuePred]) -> ValuePred:
    """Dispatch on the value's Python type, building (and caching) the predicate on first sight.

    Each comparison node tests one field, so this cache is per field: the literal is converted
    once, and a str field is classified (MAC / IPv4 / plain) once, by its first value.
    """
    by_type: dict[type, ValuePred] = {}

    def pred(value: Any) -> bool:
        p = by_type.get(type(value))
        if p is None:
            kind = _kind_of(value)
            # A value of a type filters cannot compare (None, a list...) never matches.
            p = _never if kind is None else build(kind)
            by_type[type(value)] = p
        return p(value)

    return pred


def _in_layers(ranges: tuple[_LayerRange, ...], num: int, top: int) -> bool:
    """Wireshark 4.0's drange_contains_layer: is layer ``num`` selected, ``top`` the highest."""
    for first, count in ranges:
        low = first + top + 1 if first < 0 else first
        if low <= num and (count is None or num < low + count):
            return True
    return False


def _add(found: list[Any], value: Any) -> None:
    """One field's occurrences: a repeated field's list gives each of its values."""
    if type(value) is list:
        found.extend(value)
    else:
        found.append(value)


def _values_of(name: str, ranges: tuple[_LayerRange, ...] | None) -> Callable[[Packet], list[Any]]:
    either = ALIASES.get(name)  # "tcp.port": the source or destination port, in layer order
    if either is not None:
        def any_of(pkt: Packet) -> list[Any]:
            found: list[Any] = []
            for layer in pkt.layers:
                for n in either:
                    if n in layer.fields:
                        _add(found, layer.fields[n])
            return found
        if ranges is None:
            return any_of
        names: tuple[str, ...] = either
    else:
        names = (name,)
    if ranges is None:
        return lambda pkt: pkt.values(name)

    # Wireshark's layer operator numbers each occurrence by the layer of its own protocol it
    # sits in, so "#2" is the field inside the second ip layer even when the first ip layer
    # lacks it; negative numbers count back from the highest such number *that has the field*.
    def at_layers(pkt: Packet) -> list[Any]:
        seen: dict[str, int] = {}
        found: list[tuple[int, Any]] = []
        for layer in pkt.layers:
            count = seen.get(layer.proto, 0) + 1
            seen[layer.proto] = count
            for n in names:
                if n in layer.fields:
                    value = layer.fields[n]
                    for one in value if type(value) is list else (value,):
                        found.append((count, one))
        if not found:
            return []
        top = max(num for num, _ in found)
        return [value for num, value in found if _in_layers(ranges, num, top)]

    return at_layers


def _protocol_bytes(name: str) -> Callable[[Packet], list[Any]]:
    """The bytes of every layer of protocol ``name`` (``frame``: the whole frame), as
    Wireshark's protocol fields hold them: what the layer's tree item covers."""
    if name == "frame":
        return lambda pkt: [bytes(pkt.data)]

    def of(pkt: Packet) -> list[Any]:
        data, layers = pkt.data, pkt.layers
        found = []
        for i, layer in enumerate(layers):
            if layer.proto != name:
                continue
            stop = layer.offset + layer.length
            spec = spec_for(layer)
            covers = spec.covers if spec is not None else "header"
            if covers == "payload" and layer.length:  # no header of its own: covers nothing
                stop = max([stop] + [x.offset + x.length for x in layers[i + 1:]
                                     if x.proto not in _AFTER_DATA])
            elif covers == "extensions":
                for x in layers[i + 1:]:
                    below = spec_for(x)
                    if below is None or below.role != EXTENSION:
                        break
                    stop = x.offset + x.length
            found.append(bytes(data[layer.offset:stop]))
        return found

    return of


# Layers after a packet's data: what a protocol's bytes never reach.
_AFTER_DATA = frozenset({"trailer", "fcs"})


def _value_bytes(value: Any) -> bytes | None:
    """A value as the bytes a slice cuts, by the kind the filter reads it as: a MAC's six
    bytes, an address's four or sixteen, a byte string as it is, text as UTF-8; None for a
    number (tshark refuses to slice integers, and so does the parser)."""
    kind = _kind_of(value)
    if kind is _Kind.BYTES:
        return bytes(value)
    if kind is _Kind.MAC:
        return bytes.fromhex(value.replace(":", ""))
    try:
        if kind is _Kind.IPV4:
            return socket.inet_aton(value)
        if kind is _Kind.IPV6:
            return socket.inet_pton(socket.AF_INET6, value)
    except OSError:  # shaped like an address, but not one (999.1.1.1): its text
        pass
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return None


def _sliced(values_of: Callable[[Packet], list[Any]], ranges: Slice
            ) -> Callable[[Packet], list[Any]]:
    """The slice ``ranges`` of each value (those a range does not fit give nothing)."""
    def of(pkt: Packet) -> list[Any]:
        found = []
        for value in values_of(pkt):
            raw = _value_bytes(value)
            part = None if raw is None else cut(raw, ranges)
            if part is not None:
                found.append(part)
        return found

    return of


def _quantified(op: str, values_of: Callable[[Packet], list[Any]], pred: ValuePred) -> Test:
    """Apply ``pred`` (already ``==`` for "===", ``!=`` for "!=" and "~=") over the occurrences.

    Absent field -> false for every operator, "!=" included (tshark: "icmp.type != 8" does not
    match ARP frames), so "!=" is not quite "not ==".  The per-value predicate carries the
    negation itself so that a value filters cannot compare fails "==" and "!=" alike.
    """
    if op in ("!=", "==="):

        def every(pkt: Packet) -> bool:
            values = values_of(pkt)
            return bool(values) and all(map(pred, values))

        return every
    return lambda pkt: any(map(pred, values_of(pkt)))


def _all_of(tests: list[Test]) -> Test:
    """A chain of "and"s as one test (flat: a chain of any length runs without recursion)."""
    return lambda pkt: all(test(pkt) for test in tests)


def _any_of(tests: list[Test]) -> Test:
    return lambda pkt: any(test(pkt) for test in tests)


# Parentheses that the recursive parser takes for sure; deeper ones may hit Python's recursion
# limit, which is reported as a filter error.
_MAX_NESTING = 100

# --------------------------------------------------------------------------------------------
# Parser: precedence not > and > or (tshark: "a or b and c" is "a or (b and c)").


class _Parser:
    def __init__(self, expr: str, known_fields: frozenset[str] | None) -> None:
        self.expr = expr
        self.toks = _lex(expr)
        self.pos = 0
        self.known_fields = known_fields
        if known_fields is None:
            self.known_protocols: frozenset[str] | None = None
        else:
            self.known_protocols = PROTOCOLS | {"frame"} | {
                f.split(".", 1)[0] for f in known_fields}
        self.fields: set[str] = set()
        self.protocols: set[str] = set()

    # -- token helpers

    @property
    def peek(self) -> _Tok:
        return self.toks[self.pos]

    def take(self) -> _Tok:
        tok = self.toks[self.pos]
        if tok.kind != "end":
            self.pos += 1
        return tok

    def fail(self, reason: str, tok: _Tok) -> NoReturn:
        raise FilterExprError(reason, self.expr, tok.col)

    def expected(self, what: str, after: _Tok | None) -> NoReturn:
        tok = self.peek
        reason = f"expected {what}" if after is None else f"expected {what} after '{after.text}'"
        if tok.kind != "end":
            reason += f", found {tok.describe()}"
        self.fail(reason, tok)

    # -- grammar

    def parse(self) -> Test:
        if self.peek.kind == "end":
            self.fail("the expression is empty", self.peek)
        test = self.or_expr(None)
        if self.peek.kind != "end":
            if self.peek.kind == ")":
                self.fail("')' has no matching '('", self.peek)
            self.expected("'and', 'or' or the end of the filter", None)
        return test

    def or_expr(self, after: _Tok | None) -> Test:
        terms = [self.and_expr(after)]
        while self.peek.kind == "or":
            op = self.take()
            terms.append(self.and_expr(op))
        return terms[0] if len(terms) == 1 else _any_of(terms)

    def and_expr(self, after: _Tok | None) -> Test:
        terms = [self.not_expr(after)]
        while self.peek.kind == "and":
            op = self.take()
            terms.append(self.not_expr(op))
        return terms[0] if len(terms) == 1 else _all_of(terms)

    def not_expr(self, after: _Tok | None) -> Test:
        # A run of "not"s is counted, not recursed into: any number of them parses.
        negations = 0
        while self.peek.kind == "not":
            after = self.take()
            negations += 1
        inner = self.primary(after)
        if negations % 2:
            return lambda pkt: not inner(pkt)
        return inner

    def primary(self, after: _Tok | None) -> Test:
        tok = self.peek
        if tok.kind == "(":
            self.take()
            inner = self.or_expr(tok)
            if self.peek.kind != ")":
                if self.peek.kind == "end":
                    self.fail(f"expected ')' (to close the '(' from column {tok.col})", self.peek)
                self.expected(f"')' (to close the '(' from column {tok.col})", None)
            self.take()
            return inner
        if tok.kind == "word":
            return self.test()
        self.expected("a field, a protocol, 'not' or '('", after)

    def test(self) -> Test:
        name_tok = self.take()
        name = name_tok.text
        if not _NAME_RE.fullmatch(name):
            self.fail(f"expected a field or protocol name, found '{name}'", name_tok)
        # A protocol name has no dot, but for those that have one (ipv6.hopopts, tshark's too).
        is_protocol = "." not in name or name in PROTOCOLS
        if self.known_fields is not None and self.known_protocols is not None:
            known = name in self.known_protocols if is_protocol else name in self.known_fields
            if not known and name in FRAME_FIELDS:
                known = True
            elif not known and name.startswith("frame."):
                self.fail(f"'{name}': this frame field is not supported in filters yet (these "
                          f"are: {', '.join(sorted(FRAME_FIELDS))})", name_tok)
            if not known:
                self.fail(f"'{name}' is neither a field nor a protocol name", name_tok)

        layers: tuple[_LayerRange, ...] | None = None
        if self.peek.kind == "#":
            hash_tok = self.take()
            if is_protocol:
                self.fail(f"'{name}' is a protocol; layer numbers apply to fields", hash_tok)
            layers = hash_tok.value
        ranges: Slice | None = None
        if self.peek.kind == "slice":
            slice_tok = self.take()
            declared = FIELDS.get(name)
            if not is_protocol and declared is not None and declared.type in (UINT, BOOL):
                self.fail(f"{name} holds {_NOT_TEXT[declared.type]}: only byte strings, "
                          "addresses and strings can be sliced", slice_tok)
            ranges = slice_tok.value

        nxt = self.peek
        if nxt.kind == "unsupported":
            self.fail(f"the '{nxt.text}' operator is not supported by vxlankit filters", nxt)
        negate = nxt.kind == "not" and self.toks[self.pos + 1].kind == "in"
        if is_protocol:
            self.protocols.add(name)
        else:
            self.fields.add(name)
        if nxt.kind not in ("op", "in") and not negate and ranges is None:
            if is_protocol:
                if name == "frame":
                    return lambda pkt: True
                return lambda pkt: any(layer.proto == name for layer in pkt.layers)
            if layers is None:
                either = ALIASES.get(name)
                if either is not None:  # "tcp.port": a packet with either port field
                    return lambda pkt: any(n in pkt for n in either)
                return lambda pkt: name in pkt
            values_at = _values_of(name, layers)
            return lambda pkt: bool(values_at(pkt))

        # A protocol stands for its bytes (compared, searched and sliced as a byte string).
        values_of = _protocol_bytes(name) if is_protocol else _values_of(name, layers)
        if ranges is not None:
            values_of = _sliced(values_of, ranges)
            if nxt.kind not in ("op", "in") and not negate:
                sliced = values_of
                return lambda pkt: bool(sliced(pkt))
        if nxt.kind == "op" and nxt.value in ("contains", "matches"):
            declared = FIELDS.get(name)
            if ranges is None and declared is not None and declared.type in _NOT_TEXT:
                self.fail(f"{name} holds {_NOT_TEXT[declared.type]}: '{nxt.value}' applies to "
                          "strings and byte strings", nxt)
            op_tok = self.take()
            literal = self.value(op_tok)
            text_pred = _text_pred(op_tok.value, literal, name, self.expr)
            return _quantified("==", values_of, _typed(text_pred))
        if nxt.kind == "op":
            op_tok = self.take()
            literal = self.value(op_tok)
            if ranges is None and not is_protocol:
                self.fits(name, literal)
            op: str = op_tok.value
            per_value = {"===": "==", "~=": "!="}.get(op, op)
            pred = _typed(lambda kind: _value_pred(kind, per_value, literal.as_kind(kind, name)))
            return _quantified(op, values_of, pred)

        if negate:
            self.take()
        in_tok = self.take()
        members = self.members(in_tok)
        if ranges is None and not is_protocol:
            for low, high in members:
                self.fits(name, low)
                if high is not None:
                    self.fits(name, high)
        member_pred = _typed(lambda kind: _set_pred(kind, members, name))
        found = _quantified("==", values_of, member_pred)
        # "not in" is plain negation: true when the field is absent (tshark agrees).
        return (lambda pkt: not found(pkt)) if negate else found

    def fits(self, name: str, literal: _Literal) -> None:
        """A number wider than the field is refused as tshark refuses it (a typo, or the
        wrong field: it could never match)."""
        top = uint_max(name)
        tok = literal.tok
        if top is None or tok.kind != "word":
            return
        try:
            number = _parse_int(tok.text)
        except _BadLiteral:
            return
        # tshark weighs a negative number by its digits ("-70000": "70000" too big)
        if abs(number) > top:
            self.fail(f'"{tok.text.lstrip("-")}" too big for this field, maximum {top}', tok)

    def value(self, after: _Tok) -> _Literal:
        tok = self.peek
        if tok.kind not in ("word", "string"):
            self.expected("a value", after)
        if tok.kind == "word" and self.known_fields is not None and tok.text in self.known_fields:
            self.fail(f"comparing two fields ('{tok.text}') is not supported", tok)
        self.take()
        return _Literal(tok, self.expr)

    def members(self, in_tok: _Tok) -> _Members:
        if self.peek.kind != "{":
            self.expected("'{' to start the set", in_tok)
        after = self.take()
        members: _Members = []
        while True:
            low = self.value(after)
            high: _Literal | None = None
            if self.peek.kind == "..":
                high = self.value(self.take())
            members.append((low, high))
            if self.peek.kind == "}":
                self.take()
                return members
            if self.peek.kind == ",":
                after = self.take()
            elif self.peek.kind in ("word", "string"):
                # Whitespace-separated members: the pre-4.0 syntax, still handy on a command line.
                after = self.toks[self.pos - 1]
            else:
                self.expected("',', '}' or another value in the set", self.toks[self.pos - 1])


# --------------------------------------------------------------------------------------------
# Public API


class Filter:
    """A compiled display filter: call it with a :class:`Packet` to get True or False.

    ``fields`` and ``protocols`` name everything the filter looks at, so a caller can tell
    whether a partial (fast-path) decode supplies enough to evaluate it.
    """

    __slots__ = ("expr", "fields", "protocols", "_test")

    def __init__(
        self, expr: str, test: Test, fields: frozenset[str], protocols: frozenset[str]
    ) -> None:
        self.expr = expr
        self.fields = fields
        self.protocols = protocols
        self._test = test

    def __call__(self, packet: Packet) -> bool:
        return self._test(packet)

    def __repr__(self) -> str:
        return f"Filter({self.expr!r})"


def compile_filter(expr: str, known_fields: Collection[str] | None = None) -> Filter:
    """Parse ``expr`` once into a :class:`Filter`.

    With ``known_fields``, names are checked as Wireshark checks them: a dotted name must be a
    known field and a dotless one a protocol (``PROTOCOLS`` or the first component of a known
    field).  Raises :class:`FilterExprError` (a :class:`~vxlankit.errors.FilterError`) with the
    column of the problem.  A literal that does not fit its field's type is reported when the
    filter first meets a value of that field.
    """
    known = None if known_fields is None else frozenset(known_fields)
    parser = _Parser(expr, known)
    try:
        test = parser.parse()
    except RecursionError:  # parentheses nested hundreds deep
        raise FilterExprError(f"parentheses nested too deeply (at most {_MAX_NESTING})", expr,
                              1) from None
    return Filter(expr, test, frozenset(parser.fields), frozenset(parser.protocols))
