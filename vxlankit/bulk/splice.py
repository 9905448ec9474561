"""One Parquet file out of several, without decoding or encoding a page: the row groups of
each part are copied as they are and the footers merged.

This is what lets ``export -j N`` encode Parquet in the workers: pyarrow can only append row
groups it encodes itself, so the process writing the one output file used to encode every page
of every part, and the parts could not go faster than that process.  A Parquet file is the
magic ``PAR1``, the row groups' pages, the footer (a Thrift ``FileMetaData``), the footer's
length and ``PAR1`` again; every place in the footer is an absolute file offset.  Splicing
writes ``PAR1``, then each part's bytes between its magic and its footer, and at the end one
footer: the first part's, with every part's row groups in order, their offsets moved by where
their bytes landed, their ordinals renumbered and the row counts added up.

The parts must have been written alike (same schema and metadata; the writer's name may
differ): the footers' other fields are compared, and a part that differs, is encrypted, has a
page index (an offset index lists its pages' absolute offsets) or holds a field this module
does not know to carry an offset is refused with :class:`SpliceError` before anything of it
is written.

The Thrift definitions: https://github.com/apache/parquet-format/blob/master/src/main/thrift/parquet.thrift
"""

from __future__ import annotations

import struct
from typing import IO, Any

from vxlankit.bulk import thrift

MAGIC = b"PAR1"

# FileMetaData
_F_NUM_ROWS, _F_ROW_GROUPS, _F_CREATED_BY = 3, 4, 6
_F_ENCRYPTION = (8, 9)
_F_KNOWN = frozenset(range(1, 10))
# RowGroup
_RG_COLUMNS, _RG_FILE_OFFSET, _RG_ORDINAL = 1, 5, 7
_RG_KNOWN = frozenset(range(1, 8))
# ColumnChunk: its file offset and the column index's; 4 is the offset index's, whose page
# locations inside it are absolute offsets too (refused: not rewritten here); 8 and 9 are
# encryption's
_CC_META = 3
_CC_OFFSETS = (2, 6)
_CC_OFFSET_INDEX = 4
_CC_ENCRYPTION = (8, 9)
_CC_KNOWN = frozenset(range(1, 10))
# ColumnMetaData: data, index and dictionary pages, bloom filter
_CM_OFFSETS = (9, 10, 11, 14)
_CM_KNOWN = frozenset(range(1, 18))
_I16_MAX = 0x7FFF


class SpliceError(ValueError):
    """A part that cannot be spliced into the file (the caller encodes it instead)."""


def footer(data: bytes | memoryview) -> tuple[list[thrift.Field], int]:
    """A Parquet file's footer, read, and where its pages end (where the footer starts)."""
    size = len(data)
    if size < 12 or bytes(data[:4]) != MAGIC or bytes(data[-4:]) != MAGIC:
        raise SpliceError("not a plain Parquet file (no PAR1 at both ends)")
    length = struct.unpack_from("<I", data, size - 8)[0]
    start = size - 8 - length
    if start < 4:
        raise SpliceError(f"footer length {length} is longer than the file")
    try:
        meta, end = thrift.read_struct(data[start:size - 8])
    except thrift.ThriftError as exc:
        raise SpliceError(f"footer: {exc}") from None
    if end != length:
        raise SpliceError(f"footer ends at {start + end}, not at {size - 8}")
    return meta, start


def _value(fields: list[thrift.Field], fid: int) -> Any:
    found = thrift.get(fields, fid)
    return None if found is None else found[2]


def _check_known(fields: list[thrift.Field], known: frozenset[int], what: str) -> None:
    for fid, _, _ in fields:
        if fid not in known:
            raise SpliceError(f"{what} has field {fid}, which may hold a file offset")


def _shift(fields: list[thrift.Field], fids: tuple[int, ...], shift: int) -> None:
    """The offsets ``fids`` of ``fields`` moved by ``shift`` bytes, in place; 0 is no offset
    (pyarrow writes its deprecated ``file_offset`` so) and stays 0."""
    for fid in fids:
        place = thrift.get(fields, fid)
        if place is not None and place[2]:
            place[2] += shift


def _moved(row_group: list[thrift.Field], shift: int) -> None:
    """``row_group``'s offsets moved by ``shift`` bytes, in place."""
    _check_known(row_group, _RG_KNOWN, "a row group")
    _shift(row_group, (_RG_FILE_OFFSET,), shift)
    for chunk in _value(row_group, _RG_COLUMNS)[1]:
        _check_known(chunk, _CC_KNOWN, "a column chunk")
        if any(thrift.get(chunk, fid) is not None for fid in _CC_ENCRYPTION):
            raise SpliceError("an encrypted column")
        if thrift.get(chunk, _CC_OFFSET_INDEX) is not None:
            raise SpliceError("a page index (its page locations are file offsets)")
        _shift(chunk, _CC_OFFSETS, shift)
        meta = _value(chunk, _CC_META)
        if meta is None:
            raise SpliceError("a column chunk without its metadata")
        _check_known(meta, _CM_KNOWN, "a column's metadata")
        _shift(meta, _CM_OFFSETS, shift)


def _shared(meta: list[thrift.Field]) -> list[thrift.Field]:
    """The footer's fields every part must share: all but the row groups, their count and the
    writer's name (workers of a Dask cluster may run another pyarrow release)."""
    return [f for f in meta if f[0] not in (_F_NUM_ROWS, _F_ROW_GROUPS, _F_CREATED_BY)]


class Splicer:
    """Writes Parquet parts (whole files, as bytes) to ``file`` as one Parquet file."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self._pos = 0
        self._head: list[thrift.Field] | None = None
        self._row_groups: list[list[thrift.Field]] = []
        self._rows = 0

    @property
    def started(self) -> bool:
        return self._head is not None

    def add(self, data: bytes | memoryview) -> None:
        """Append the row groups of one part (all or nothing: a refused part writes nothing)."""
        meta, start = footer(data)
        _check_known(meta, _F_KNOWN, "the file metadata")
        if any(thrift.get(meta, fid) is not None for fid in _F_ENCRYPTION):
            raise SpliceError("an encrypted footer")
        if self._head is not None and _shared(meta) != _shared(self._head):
            raise SpliceError("a part written with another schema or writer")
        pos = self._pos if self._head is not None else len(MAGIC)
        groups = _value(meta, _F_ROW_GROUPS)
        groups = groups[1] if groups is not None else []
        for group in groups:
            _moved(group, pos - 4)
        if self._head is None:
            self._head = meta
            self._file.write(MAGIC)
        for group in groups:
            ordinal = thrift.get(group, _RG_ORDINAL)
            if ordinal is not None:
                if len(self._row_groups) > _I16_MAX:  # an i16: leave it out, as it is optional
                    group.remove(ordinal)
                else:
                    ordinal[2] = len(self._row_groups)
            self._row_groups.append(group)
        self._rows += _value(meta, _F_NUM_ROWS) or 0
        self._file.write(data[4:start])
        self._pos = pos + start - 4

    def close(self) -> None:
        """Write the merged footer (the parts must have included at least one)."""
        if self._head is None:
            raise SpliceError("no part to take the schema from")
        meta = []
        for item in self._head:
            if item[0] == _F_NUM_ROWS:
                item = [_F_NUM_ROWS, item[1], self._rows]
            elif item[0] == _F_ROW_GROUPS:
                item = [_F_ROW_GROUPS, item[1], (thrift.STRUCT, self._row_groups)]
            meta.append(item)
        encoded = thrift.write_struct(meta)
        self._file.write(encoded)
        self._file.write(struct.pack("<I", len(encoded)))
        self._file.write(MAGIC)
