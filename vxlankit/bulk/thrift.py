"""Thrift's compact protocol, as Parquet writes its footer: read into a tree and written back
byte for byte.

Only what splicing Parquet files needs (:mod:`vxlankit.bulk.splice`): a struct is kept as its
fields in wire order, each ``[field id, wire type, value]``, so that a footer read and written
again is the same bytes, and a caller can change a number in place without knowing the rest of
the schema.  Lists and sets are ``(element type, [values])``, maps ``(key type, value type,
[(key, value)])``; integers are Python ints, binaries bytes, doubles floats, booleans bools.

The format (https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md):
a field header is one byte, the field id's delta from the previous one in its high nibble
(1-15) and the type in the low nibble, or a zero high nibble, the type and the id as a zigzag
varint; a boolean field's value is its type (1 true, 2 false); integers are zigzag varints;
binaries a varint length and the bytes; a list a byte holding its size (under 15) and element
type, or 0xF and the element type followed by the size as a varint.
"""

from __future__ import annotations

import struct
from typing import Any

STOP, TRUE, FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT = range(13)
_INTS = (BYTE, I16, I32, I64)
# Nesting deeper than any Parquet footer, and far below Python's recursion limit.
_MAX_DEPTH = 64

Field = list[Any]  # [field id, wire type, value]


class ThriftError(ValueError):
    """Bytes that are not a well-formed compact-protocol struct."""


def _varint_at(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ThriftError(f"varint too long at byte {pos}")


def _zigzag_at(data: bytes, pos: int) -> tuple[int, int]:
    b = data[pos]
    if b < 0x80:  # one byte: most numbers of a footer
        return (b >> 1) ^ -(b & 1), pos + 1
    n, pos = _varint_at(data, pos)
    return (n >> 1) ^ -(n & 1), pos


def _value_at(data: bytes, pos: int, kind: int, depth: int) -> tuple[Any, int]:
    if kind == I32 or kind == I64 or kind == I16:
        return _zigzag_at(data, pos)
    if kind == BINARY:
        size, pos = _varint_at(data, pos)
        end = pos + size
        if end > len(data):
            raise ThriftError(f"a {size}-byte value runs past the end at byte {pos}")
        return data[pos:end], end
    if kind == STRUCT:
        return _struct_at(data, pos, depth + 1)
    if kind == LIST or kind == SET:
        head = data[pos]
        pos += 1
        size, elem = head >> 4, head & 0x0F
        if size == 15:
            size, pos = _varint_at(data, pos)
        items = []
        for _ in range(size):
            item, pos = _element_at(data, pos, elem, depth + 1)
            items.append(item)
        return (elem, items), pos
    if kind == BYTE:
        return struct.unpack_from("b", data, pos)[0], pos + 1
    if kind == MAP:
        size, pos = _varint_at(data, pos)
        if size == 0:
            return (0, 0, []), pos
        types = data[pos]
        pos += 1
        key_type, val_type = types >> 4, types & 0x0F
        pairs = []
        for _ in range(size):
            key, pos = _element_at(data, pos, key_type, depth + 1)
            val, pos = _element_at(data, pos, val_type, depth + 1)
            pairs.append((key, val))
        return (key_type, val_type, pairs), pos
    if kind == DOUBLE:
        return struct.unpack_from("<d", data, pos)[0], pos + 8
    raise ThriftError(f"unknown type {kind} at byte {pos}")


def _element_at(data: bytes, pos: int, kind: int, depth: int) -> tuple[Any, int]:
    if kind == TRUE or kind == FALSE:  # in a container a boolean is a byte of its own
        return data[pos] == TRUE, pos + 1
    return _value_at(data, pos, kind, depth)


def _struct_at(data: bytes, pos: int, depth: int) -> tuple[list[Field], int]:
    if depth > _MAX_DEPTH:
        raise ThriftError(f"nested deeper than {_MAX_DEPTH} at byte {pos}")
    fields: list[Field] = []
    last = 0
    while True:
        head = data[pos]
        pos += 1
        kind = head & 0x0F
        if kind == STOP:
            return fields, pos
        if head > 0x0F:
            last += head >> 4
        else:
            last, pos = _zigzag_at(data, pos)
        if kind == TRUE or kind == FALSE:
            fields.append([last, kind, kind == TRUE])
        else:
            value, pos = _value_at(data, pos, kind, depth)
            fields.append([last, kind, value])


def read_struct(data: bytes | memoryview, pos: int = 0) -> tuple[list[Field], int]:
    """The struct at ``pos`` and the offset just past it."""
    data = bytes(data)
    try:
        return _struct_at(data, pos, 0)
    except IndexError:
        raise ThriftError("truncated") from None
    except struct.error as exc:
        raise ThriftError(str(exc)) from None


def _varint(out: bytearray, n: int) -> None:
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _zigzag(out: bytearray, n: int) -> None:
    _varint(out, (n << 1) ^ (n >> 63) if n < 0 else n << 1)


def _value(out: bytearray, kind: int, value: Any) -> None:
    if kind in (I16, I32, I64):
        _zigzag(out, value)
    elif kind == BYTE:
        out += struct.pack("b", value)
    elif kind == BINARY:
        _varint(out, len(value))
        out += value
    elif kind == STRUCT:
        _struct(out, value)
    elif kind in (LIST, SET):
        elem, items = value
        if len(items) < 15:
            out.append(len(items) << 4 | elem)
        else:
            out.append(0xF0 | elem)
            _varint(out, len(items))
        for item in items:
            _element(out, elem, item)
    elif kind == MAP:
        key, val, items = value
        _varint(out, len(items))
        if items:
            out.append(key << 4 | val)
            for k, v in items:
                _element(out, key, k)
                _element(out, val, v)
    elif kind == DOUBLE:
        out += struct.pack("<d", value)
    else:
        raise ThriftError(f"cannot write type {kind}")


def _element(out: bytearray, kind: int, value: Any) -> None:
    if kind in (TRUE, FALSE):
        out.append(TRUE if value else FALSE)
    else:
        _value(out, kind, value)


def _struct(out: bytearray, fields: list[Field]) -> None:
    last = 0
    for fid, kind, value in fields:
        wire = (TRUE if value else FALSE) if kind in (TRUE, FALSE) else kind
        delta = fid - last
        if 0 < delta <= 15:
            out.append(delta << 4 | wire)
        else:
            out.append(wire)
            _zigzag(out, fid)
        if kind not in (TRUE, FALSE):
            _value(out, kind, value)
        last = fid
    out.append(STOP)


def write_struct(fields: list[Field]) -> bytes:
    """``fields`` in the compact protocol: what :func:`read_struct` read, the same bytes."""
    out = bytearray()
    _struct(out, fields)
    return bytes(out)


def get(fields: list[Field], fid: int) -> Field | None:
    """The field with id ``fid``, or None."""
    for item in fields:
        if item[0] == fid:
            return item
    return None
