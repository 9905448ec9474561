"""``export -Y FILTER`` and ``export -e FIELD``: which rows, and which columns.

The bulk decoder fills the fixed column set (docs/export.md).  ``-e`` chooses columns by
Wireshark name: a name in that set is taken from the bulk batch as it is; any other field the
registry knows (``dns.qry.name``, ``tcp.options.mss_val``, ``ip.src#3``, ``ip.addr``,
``frame.time_relative`` ...) is read from the rich decoder's packet, its ``#N`` occurrence (the
first without ``#``), typed from the field's declaration.  ``-Y`` keeps the rows whose packet
passes the display filter, evaluated exactly as ``vxlankit decode -Y`` evaluates it, on the
rich decoder's packet.

Both readings of the rich packet need every record of a capture in order (``frame.time_delta``,
TCP's relative sequence numbers and ``tcp.stream`` depend on the records before), so they run in
the process that writes; a projection of bulk columns alone runs anywhere, ``-j`` included.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vxlankit.bulk._deps import require
from vxlankit.bulk._numpy import np
from vxlankit.bulk.columns import arrow_schema
from vxlankit.bulk.errors import SelectionError
from vxlankit.bulk.frames import FrameBatch, InterfaceInfo
from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions
from vxlankit.layers.registry import (
    ALIASES,
    DECLARATIONS,
    FIELDS,
    field_for,
    split_occurrence,
)
from vxlankit.layers.spec import BOOL, BYTES, ETHER, IPV4, IPV6, STRING, UINT
from vxlankit.present.filter import FRAME_FIELDS as FILTER_FRAME_FIELDS
from vxlankit.present.run import (
    DecodedRecord,
    PacketTest,
    RecordDecoder,
    Selection,
    frame_time_ns,
)

__all__ = ["ExportSelection", "export_selection"]

# The frame fields a rich column can hold, and their Arrow kinds.
_FRAME_KINDS = {
    "frame.number": UINT, "frame.len": UINT, "frame.cap_len": UINT,
    "frame.interface_id": UINT, "frame.interface_name": STRING,
    "frame.time": "time", "frame.time_epoch": "time", "frame.time_relative": "duration",
    "frame.time_delta": "duration", "frame.time_delta_displayed": "duration",
    "frame.protocols": STRING,
}


def _widest(name: str) -> Any:
    """The Arrow type of registry field ``name``: the widest its declarations allow (VXLAN's
    ``vxlan.flags`` is two bytes, VXLAN-GPE's one)."""
    pa = require("pyarrow")
    declared = DECLARATIONS[name]
    kinds = {f.type for f in declared}
    kind = FIELDS[name].type if len(kinds) != 1 else kinds.pop()
    sizes = [f.width or 8 for f in declared if f.type == UINT]
    return _arrow_of(pa, kind, max(sizes, default=8))


def _arrow_of(pa: Any, kind: str, size: int = 8) -> Any:
    if kind == UINT:
        return pa.uint8() if size <= 1 else pa.uint16() if size <= 2 else \
            pa.uint32() if size <= 4 else pa.uint64()
    if kind == BOOL:
        return pa.uint8()  # 0 or 1, as tshark prints a flag
    if kind == "time":
        return pa.timestamp("ns", tz="UTC")
    if kind == "duration":
        return pa.duration("ns")
    if kind in (ETHER, IPV4, IPV6, STRING, BYTES):
        return pa.dictionary(pa.int32(), pa.string())
    return pa.string()


@dataclass(frozen=True)
class _Rich:
    """A column read from the rich packet: the ``occurrence``-th value of ``names``."""

    name: str
    names: tuple[str, ...]
    occurrence: int
    type: Any
    frame: bool


def _plain(value: Any, fields: Mapping[str, Any], name: str) -> Any:
    """A value as its Arrow column takes it (bytes as hex, as ``tshark -T fields`` shows them:
    plain digits, or with the separator the field is shown with)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        field = field_for(fields, name)
        sep = field.sep if field is not None else ""
        return bytes(value).hex(sep) if sep else bytes(value).hex()
    if isinstance(value, bool):
        return int(value)
    return value


class _Row:
    """One row of a :class:`FrameBatch` as the record the rich decoder reads."""

    __slots__ = ("number", "ts_ns", "orig_len", "cap_len", "data", "interface")
    comment = None

    def __init__(self, frames: FrameBatch, i: int) -> None:
        self.number = int(frames.number[i])
        self.ts_ns = int(frames.ts_ns[i])
        self.orig_len = int(frames.orig_len[i])
        self.cap_len = int(frames.caplen[i])
        self.data = frames.frame(i)
        self.interface: InterfaceInfo = frames.interfaces[int(frames.iface[i])]


class ExportSelection:
    """The rows (``display_filter``) and columns (``fields``) of an export.

    ``schema`` is what the written batches have.  Call :meth:`start` at each capture file and
    :meth:`apply` with each frame batch and its bulk batch, in order.
    """

    def __init__(self, fields: Sequence[str] | None = None,
                 display_filter: str | PacketTest | None = None,
                 options: DecodeOptions = DEFAULT_OPTIONS) -> None:
        pa = require("pyarrow")
        self.options = options
        self.filter = _compiled(display_filter)
        if "frame.comment" in getattr(self.filter, "fields", ()):
            # The bulk walk keeps no pcapng packet comments: such a filter could never match.
            raise SelectionError("export reads no packet comments (frame.comment): filter "
                                 "with decode -Y ... -w, then export what it wrote")
        self.fields = tuple(fields) if fields else None
        self._rich: dict[str, _Rich] = {}
        schema = arrow_schema()
        if self.fields is None:
            self.schema = schema
        else:
            if len(set(self.fields)) != len(self.fields):
                raise SelectionError("-e names a column twice: "
                                  + ", ".join(sorted({f for f in self.fields
                                                      if self.fields.count(f) > 1})))
            out = []
            bulk = set(schema.names)
            for name in self.fields:
                if name in bulk:  # a bulk column, as the bulk schema has it
                    out.append(schema.field(name))
                    continue
                rich = _rich_column(name)
                self._rich[name] = rich
                out.append(pa.field(name, rich.type, nullable=True))
            self.schema = pa.schema(out)
        self.needs_packets = self.filter is not None or bool(self._rich)
        asked = [r.names[0] for r in self._rich.values() if r.frame]
        self._asked = tuple(asked)
        self._step: RecordDecoder | None = None
        self._shown: int | None = None  # the timestamp of the last row exported
        self.read = 0  # packets ``apply`` was given

    @property
    def everything(self) -> bool:
        """True when the export is the whole bulk batch, untouched."""
        return self.fields is None and self.filter is None

    def start(self) -> None:
        """A new capture file begins: times and streams start again, as in ``decode``."""
        self._step = RecordDecoder(self.options, Selection(filter=self.filter),
                                   frame_fields=self._asked)
        self._shown = None

    def apply(self, frames: FrameBatch | None, batch: Any) -> Any:
        """``batch`` (the bulk batch of ``frames``) with the selected rows and columns."""
        self.read += batch.num_rows
        if self.everything:
            return batch
        if not self.needs_packets:
            return batch.select(list(self.fields or ()))
        if frames is None:
            raise SelectionError("-Y and -e FIELD beyond the bulk columns need the frames")
        if self._step is None:
            self.start()
        step = self._step
        assert step is not None
        kept: list[int] = []
        items: list[DecodedRecord] = []
        shown: list[int] = []  # the timestamp of the row exported before each (itself: first)
        last = self._shown
        for i in range(len(frames)):
            item = step(_Row(frames, i))
            if item is not None:
                kept.append(i)
                items.append(item)
                ts = item.record.ts_ns
                shown.append(ts if last is None else last)
                last = ts
        self._shown = last
        pa = require("pyarrow")
        rows = batch if len(kept) == batch.num_rows else \
            batch.take(pa.array(np.asarray(kept, dtype=np.int64)))
        if self.fields is None:
            return rows
        arrays = []
        for field in self.schema:
            rich = self._rich.get(field.name)
            if rich is None:
                arrays.append(rows.column(field.name))
            else:
                arrays.append(_rich_array(pa, rich, items, shown))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def export_selection(fields: Sequence[str] | None, display_filter: str | PacketTest | None,
                     options: DecodeOptions = DEFAULT_OPTIONS) -> ExportSelection | None:
    """The selection, or None when the export takes every row and column."""
    if not fields and display_filter is None:
        return None
    return ExportSelection(fields, display_filter, options)


def _compiled(display_filter: str | PacketTest | None) -> PacketTest | None:
    if display_filter is None or callable(display_filter):
        return display_filter
    from vxlankit.present.filter import compile_filter

    # Names checked as tshark checks them (FilterError, a usage error on the command line).
    return compile_filter(display_filter, known_fields=[*FIELDS, *ALIASES])


def _rich_column(name: str) -> _Rich:
    pa = require("pyarrow")
    try:
        base, occurrence = split_occurrence(name)
    except ValueError as exc:
        raise SelectionError(f"-e {exc}") from None
    if base in _FRAME_KINDS:
        if occurrence != 1:
            raise SelectionError(f"-e {name}: a frame field occurs once")
        return _Rich(name, (base,), 1, _arrow_of(pa, _FRAME_KINDS[base]), True)
    if base in ALIASES:  # first: an alias may share its name with a field (ip.version)
        names = ALIASES[base]
        return _Rich(name, names, occurrence, _widest(names[0]), False)
    if base in FIELDS:
        return _Rich(name, (base,), occurrence, _widest(base), False)
    if base in FILTER_FRAME_FIELDS:
        raise SelectionError(f"-e {name}: not a column export can hold")
    raise SelectionError(f"-e {name}: no such field (the registry's names are in "
                      "docs/fields.md; the bulk columns in docs/export.md)")


_FrameValue = Callable[[DecodedRecord], Any]


def _frame_value(name: str, item: DecodedRecord, shown_ts_ns: int) -> Any:
    ns = frame_time_ns(name, item, shown_ts_ns)
    if ns is not None:
        return ns
    frame = item.packet.frame
    if frame is not None and name in frame:
        return frame[name]
    return None


def _rich_array(pa: Any, rich: _Rich, items: list[DecodedRecord], shown: list[int]) -> Any:
    values: list[Any]
    if rich.frame:
        values = [_frame_value(rich.names[0], item, before)
                  for item, before in zip(items, shown, strict=True)]
    else:
        values = []
        at = rich.occurrence - 1
        for item in items:
            found = list(item.packet.occurrences(rich.names))
            values.append(_plain(found[at][2], found[at][0], found[at][1])
                          if len(found) > at else None)
    kind = rich.type
    if pa.types.is_dictionary(kind):
        return pa.array([None if v is None else str(v) for v in values],
                        pa.string()).dictionary_encode()
    if pa.types.is_integer(kind):
        # A value the declared width cannot hold would be a decoder bug, not the packet's.
        return pa.array([v if isinstance(v, int) else None for v in values], kind)
    return pa.array(values, kind)
