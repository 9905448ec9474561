"""Columnar export: captures -> Parquet, Arrow IPC, CSV or JSON lines (schema: docs/export.md).

Batches stream from the decoder to the writer one at a time, so memory does not grow with the
capture.  With ``jobs`` or ``scheduler`` the decoding runs in parts elsewhere
(:mod:`vxlankit.bulk.parallel`) and this process only writes; each part comes back already
encoded (a Parquet file whose row groups are spliced into the output as they are, an Arrow IPC
stream, or CSV or JSON-lines text), in input order, so the file holds what a single process
writes (byte for byte where the parts' batches fall where its batches do).

A damaged capture stops the export where a single pass would stop: everything before the damage
is written and the file is finished, then the reader's ``CaptureError`` is raised.
"""

from __future__ import annotations

import io
import json
import mmap
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from vxlankit.bulk._deps import require
from vxlankit.bulk._numpy import np
from vxlankit.bulk.columns import arrow_schema
from vxlankit.bulk.errors import ExportError, OutputIsInputError, SelectionError
from vxlankit.bulk.fast import decode_batch
from vxlankit.bulk.frames import BATCH_RECORDS, Part, iter_file_batches, iter_part_batches
from vxlankit.bulk.results import ExportSummary
from vxlankit.bulk.select import ExportSelection, export_selection
from vxlankit.bulk.splice import SpliceError, Splicer
from vxlankit.capture._io import BinaryReadable
from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions
from vxlankit.errors import CaptureError
from vxlankit.output import SafeOutput, refuse_overwriting_inputs
from vxlankit.present.run import PacketTest

FORMATS = ("parquet", "arrow", "csv", "jsonl")
_ARROW_SLICE = 16384
_TEXT_FORMATS = ("csv", "jsonl")


def decoded_batches(paths: Sequence[str | os.PathLike[str] | BinaryReadable],
                    options: DecodeOptions = DEFAULT_OPTIONS,
                    batch_records: int = BATCH_RECORDS,
                    selection: ExportSelection | None = None) -> Iterator[tuple[Any, int]]:
    """(Arrow record batch, packets the rich decoder handled) for every batch, in order; with
    ``selection``, its rows and columns only."""
    schema = arrow_schema()
    for path in paths:
        if selection is not None:
            selection.start()
        for frames in iter_file_batches(path, batch_records):
            cols, fallback = decode_batch(frames, options)
            batch = cols.to_arrow(schema)
            if selection is not None:
                batch = selection.apply(frames, batch)
            yield batch, fallback


def part_batches(part: Part, options: DecodeOptions = DEFAULT_OPTIONS,
                 batch_records: int = BATCH_RECORDS,
                 columns: Sequence[str] | None = None) -> Iterator[tuple[Any, int]]:
    """The batches of one part, with ``columns`` only when given (bulk columns: a part has
    no view of the records before it, which anything read from the rich packet needs)."""
    schema = arrow_schema()
    for frames in iter_part_batches(part, batch_records):
        cols, fallback = decode_batch(frames, options)
        batch = cols.to_arrow(schema)
        yield (batch if columns is None else batch.select(list(columns))), fallback


# ------------------------------------------------------------------------------ writers


class _Sink:
    """Where batches go.  ``encode`` turns batches into the bytes a worker sends back;
    ``write_encoded`` takes them in the parent."""

    text = False

    def write(self, batch: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def write_encoded(self, data: bytes) -> None:
        pa = require("pyarrow")
        with pa.ipc.open_stream(data) as reader:
            for batch in reader:
                self.write(batch)

    def write_spilled(self, path: str) -> None:
        """A worker's part, left in a file: mapped, not read, then removed."""
        pa = require("pyarrow")
        with pa.memory_map(path) as source, pa.ipc.open_stream(source) as reader:
            for batch in reader:
                self.write(batch)
        os.unlink(path)


def encode_batches(format: str, batches: list[Any], schema: Any = None) -> bytes:
    """Batches as a worker sends them: CSV or JSON-lines text, a Parquet file (which the
    writing process splices, :mod:`vxlankit.bulk.splice`) or an Arrow IPC stream.
    ``schema``: the batches' (default: the whole bulk schema)."""
    buffer = io.BytesIO()
    write_batches(buffer, format, batches, schema)
    return buffer.getvalue()


def write_batches(file: IO[bytes], format: str, batches: list[Any], schema: Any = None) -> None:
    """What :func:`encode_batches` returns, written to ``file``."""
    pa = require("pyarrow")
    if format == "csv":
        for batch in batches:
            file.write(_csv_bytes(batch, header=False))
        return
    if format == "jsonl":
        for batch in batches:
            file.write(jsonl_bytes(batch))
        return
    full = arrow_schema() if schema is None else schema
    if format == "parquet":
        sink = _ParquetSink(file, full)
        for batch in batches:
            sink.write(batch)
        sink.close()
        return
    # An Arrow file holds plain strings (see _ArrowSink): cast here, in the worker, so the
    # process writing the file only copies.
    schema = plain_schema(full) if format == "arrow" else full
    with pa.ipc.new_stream(file, schema) as writer:
        for batch in batches:
            writer.write_batch(batch.cast(schema) if format == "arrow" else batch)


class _ParquetSink(_Sink):
    def __init__(self, file: IO[bytes], schema: Any) -> None:
        pa = require("pyarrow")
        pq = require("pyarrow.parquet")
        # Dictionary pages for the text columns (few distinct values, already dictionary
        # arrays); integers are cheaper to write, and nearly as small, without.
        text = [f.name for f in schema if pa.types.is_dictionary(f.type)]
        self._writer = pq.ParquetWriter(file, schema, use_dictionary=text)

    def write(self, batch: Any) -> None:
        self._writer.write_batch(batch)

    def close(self) -> None:
        self._writer.close()


class _SplicedParquetSink(_Sink):
    """Parts that come back as Parquet files (the workers encoded them): their row groups are
    copied into the output as they are, and the footers merged.  Should the first part be one
    the splicer does not take (another pyarrow may write fields it does not know), every part
    is decoded and encoded again here, as before splicing existed: slower, the same rows."""

    def __init__(self, file: IO[bytes], schema: Any) -> None:
        self._file = file
        self._schema = schema
        self._splicer = Splicer(file)
        self._plain: _ParquetSink | None = None

    def write(self, batch: Any) -> None:  # pragma: no cover - parts only
        raise ExportError("a spliced Parquet output takes whole parts, not batches")

    def write_encoded(self, data: bytes | memoryview) -> None:
        if self._plain is None:
            try:
                self._splicer.add(data)
                return
            except SpliceError as exc:
                if self._splicer.started:
                    raise ExportError(f"a part of the export cannot be spliced into the "
                                      f"others: {exc}") from None
                self._plain = _ParquetSink(self._file, self._schema)
        pq = require("pyarrow.parquet")
        pa = require("pyarrow")
        part = pq.ParquetFile(pa.BufferReader(bytes(data)))
        for group in range(part.num_row_groups):
            for batch in part.read_row_group(group).to_batches():
                self._plain.write(batch)

    def write_spilled(self, path: str) -> None:
        # Mapped, not read: the pages go from the page cache to the output in one copy.
        with open(path, "rb") as part:
            if os.fstat(part.fileno()).st_size == 0:
                self.write_encoded(b"")
            else:
                with mmap.mmap(part.fileno(), 0, access=mmap.ACCESS_READ) as mapped, \
                        memoryview(mapped) as view:
                    self.write_encoded(view)
        os.unlink(path)

    def close(self) -> None:
        if self._plain is not None:
            self._plain.close()
        elif self._splicer.started:
            self._splicer.close()
        else:  # no part at all: the empty file a single process writes
            _ParquetSink(self._file, self._schema).close()


class _ArrowSink(_Sink):
    """An Arrow IPC file.  The file format allows one dictionary per column for the whole
    file, and every batch has its own, so text columns are written as plain strings."""

    def __init__(self, file: IO[bytes], schema: Any) -> None:
        pa = require("pyarrow")
        self._schema = plain_schema(schema)
        self._writer = pa.ipc.new_file(file, self._schema)

    def write(self, batch: Any) -> None:
        if batch.schema == self._schema:
            self._writer.write_batch(batch)
            return
        # Plain strings take several times the memory of the dictionaries: cast a slice at
        # a time, so a batch's strings are never all materialised at once.
        for start in range(0, batch.num_rows, _ARROW_SLICE):
            self._writer.write_batch(batch.slice(start, _ARROW_SLICE).cast(self._schema))

    def close(self) -> None:
        self._writer.close()


class _TextSink(_Sink):
    text = True

    def __init__(self, file: IO[bytes], format: str, schema: Any) -> None:
        self._file = file
        self._format = format
        if format == "csv":
            pa = require("pyarrow")
            empty = pa.RecordBatch.from_pylist([], schema=schema)
            file.write(_csv_bytes(empty, header=True))

    def write(self, batch: Any) -> None:
        self._file.write(encode_batches(self._format, [batch]))

    def write_encoded(self, data: bytes) -> None:
        self._file.write(data)

    def write_spilled(self, path: str) -> None:
        with open(path, "rb") as part:
            shutil.copyfileobj(part, self._file, 1 << 20)
        os.unlink(path)

    def close(self) -> None:
        self._file.flush()


def plain_schema(schema: Any = None) -> Any:
    """``schema`` (default: the export schema) with text columns as plain strings instead of
    dictionaries."""
    pa = require("pyarrow")
    schema = arrow_schema() if schema is None else schema
    return pa.schema([
        pa.field(f.name, pa.string(), nullable=f.nullable)
        if pa.types.is_dictionary(f.type) else f
        for f in schema
    ])


def epoch_text(column: Any) -> Any:
    """Timestamps as tshark prints ``frame.time_epoch`` and durations as it prints
    ``frame.time_delta``: seconds, a dot, nine digits, with a sign when negative."""
    pa = require("pyarrow")
    pc = require("pyarrow.compute")
    ns = column.cast(pa.int64())
    negative = pc.less(ns, 0)
    ns = pc.abs(ns)
    seconds = pc.divide(ns, 1_000_000_000)  # integer division of non-negative numbers
    fraction = pc.subtract(ns, pc.multiply(seconds, 1_000_000_000))
    text = pc.binary_join_element_wise(
        pc.cast(seconds, pa.string()), pc.utf8_lpad(pc.cast(fraction, pa.string()), 9, "0"),
        ".")
    # A timestamp before 1970 (a pcapng if_tsoffset can make one) is negative too.
    return pc.if_else(negative, pc.binary_join_element_wise("-", text, ""), text)


def _is_time(kind: Any) -> bool:
    pa = require("pyarrow")
    return bool(pa.types.is_timestamp(kind) or pa.types.is_duration(kind))


def _csv_bytes(batch: Any, header: bool) -> bytes:
    """CSV as pyarrow's writer makes it (every string quoted, ``""`` inside, null an empty
    cell), except ``frame.time_epoch``: a bare number, as ``tshark -T fields`` prints it
    (pyarrow would quote it as text, or write a decimal as ``1E-9``).  Built column by column
    with Arrow kernels, as ``jsonl_bytes`` is."""
    pa = require("pyarrow")
    pc = require("pyarrow.compute")
    head = (",".join(_csv_quote(name) for name in batch.schema.names) + "\n").encode()
    if batch.num_rows == 0:
        return head if header else b""
    pieces = []
    for field, values in zip(batch.schema, batch.columns, strict=True):
        if _is_time(field.type):
            text = epoch_text(values)
        elif pa.types.is_dictionary(field.type) or pa.types.is_string(field.type):
            plain = values.cast(pa.string())
            text = pc.binary_join_element_wise(
                '"', pc.replace_substring(plain, '"', '""'), '"', "")
        else:
            text = pc.cast(values, pa.string())
        pieces.append(pc.fill_null(text, ""))
    lines = pc.binary_join_element_wise(*pieces, ",")
    lines = pc.binary_join_element_wise(lines, "\n", "")
    _, offsets, data = lines.buffers()
    bounds = np.frombuffer(offsets, np.int32)[lines.offset:lines.offset + len(lines) + 1]
    body = bytes(data[int(bounds[0]):int(bounds[-1])])
    return head + body if header else body


def _csv_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def jsonl_bytes(batch: Any) -> bytes:
    """One JSON object per packet, every column present (null when absent), numbers as
    numbers, ``frame.time_epoch`` as the string tshark's JSON gives ("1700000000.123456789":
    nanoseconds do not survive a JSON number).  Built column by column with Arrow kernels."""
    pa = require("pyarrow")
    pc = require("pyarrow.compute")
    if batch.num_rows == 0:
        return b""
    pieces = []
    for i, name in enumerate(batch.schema.names):
        values = batch.column(i)
        key = ("{" if i == 0 else ",") + json.dumps(name) + ":"
        if pa.types.is_string(values.type):
            values = values.dictionary_encode()
        if _is_time(values.type):
            text = pc.binary_join_element_wise('"', epoch_text(values), '"', "")
        elif pa.types.is_dictionary(values.type):
            # Escape the few distinct strings once, then spread them over the rows.
            quoted = pa.array([json.dumps(v) for v in values.dictionary.to_pylist()],
                              pa.string())
            text = quoted.take(values.indices)
        else:
            text = pc.cast(values, pa.string())
        pieces.append(pc.binary_join_element_wise(key, pc.fill_null(text, "null"), ""))
    pieces.append("}\n")
    lines = pc.binary_join_element_wise(*pieces, "")
    # The rows are adjacent in the array's data buffer: its used span is the whole text.
    _, offsets, data = lines.buffers()
    bounds = np.frombuffer(offsets, np.int32)[lines.offset:lines.offset + len(lines) + 1]
    return bytes(data[int(bounds[0]):int(bounds[-1])])


# ------------------------------------------------------------------------------ export


@dataclass
class _Part:
    """What a worker sends back for one part of an export: the encoded part itself, or
    where it left it (``spill``)."""

    data: bytes
    packets: int
    fallback: int
    batches: int
    error: CaptureError | None
    spill: str | None = None


def export_part(part: Part, format: str, wired: dict[str, Any], spill_dir: str | None = None,
                columns: tuple[str, ...] | None = None) -> _Part:
    """Decode and encode one part (``columns`` only, when given).  With ``spill_dir`` (local
    processes share a disk with the writer) the encoded part goes to a file there instead of
    through a pipe, which would copy tens of megabytes three times."""
    from vxlankit.bulk.parallel import unwire_options

    options = unwire_options(wired)
    batches = []
    packets = fallback = 0
    error = None
    try:
        for batch, fell in part_batches(part, options, columns=columns):
            batches.append(batch)
            packets += batch.num_rows
            fallback += fell
    except CaptureError as exc:
        error = exc
    schema = _part_schema(columns)
    if spill_dir is None:
        return _Part(encode_batches(format, batches, schema), packets, fallback, len(batches),
                     error)
    with tempfile.NamedTemporaryFile(dir=spill_dir, suffix=".part", delete=False) as f:
        write_batches(f, format, batches, schema)
    return _Part(b"", packets, fallback, len(batches), error, f.name)


def _part_schema(columns: tuple[str, ...] | None) -> Any:
    schema = arrow_schema()
    if columns is None:
        return schema
    pa = require("pyarrow")
    return pa.schema([schema.field(name) for name in columns])


def export(paths: Sequence[str | os.PathLike[str] | BinaryReadable],
           out: str | os.PathLike[str], *,
           format: str = "parquet", jobs: int = 1, scheduler: str | None = None,
           options: DecodeOptions = DEFAULT_OPTIONS,
           display_filter: str | PacketTest | None = None,
           fields: Sequence[str] | None = None) -> ExportSummary:
    """Decode ``paths`` (pcap/pcapng files; ``"-"`` is stdin with one process, and so is a
    binary stream such as a ``LiveCapture``) and write one
    file ``out`` in ``format``: ``parquet``, ``arrow`` (Arrow IPC file), ``csv`` or ``jsonl``.
    ``out`` may be ``"-"`` (stdout) for the text formats.

    ``jobs > 1`` decodes in that many processes; ``scheduler`` (a Dask distributed address
    such as ``tcp://10.0.0.5:8786``) on that cluster, whose workers must see the same paths.
    The result is the same file either way.

    ``display_filter`` (a Wireshark display filter, as ``decode -Y`` takes it, or a compiled
    one) keeps the packets that pass it; ``fields`` (Wireshark names, ``#N`` for the N-th
    occurrence) are the columns, in that order, instead of the whole bulk set: a bulk column
    as it is, any other field the registry knows read from the rich decoder.  Either of
    those two readings of the rich packet needs the capture in order, in one process: with
    ``jobs > 1`` or a scheduler they raise ``ExportError``.
    """
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r} (expected one of "
                          f"{', '.join(FORMATS)})")
    if jobs < 1:
        raise ExportError(f"jobs must be at least 1, not {jobs}")
    names = [os.fspath(p) if isinstance(p, (str, os.PathLike)) else p for p in paths]
    if (jobs > 1 or scheduler is not None) and not all(isinstance(n, str) for n in names):
        raise ExportError("a stream (a live capture) is decoded in one process: no jobs, "
                          "no scheduler")
    target = os.fspath(out)
    require("pyarrow")
    selection = export_selection(fields, display_filter, options)
    if selection is not None and selection.needs_packets and (jobs > 1 or scheduler is not None):
        raise SelectionError("-Y and -e FIELD (a field beyond the bulk columns) read every packet "
                          "in order, in one process: drop -j/--scheduler, or export the bulk "
                          "columns in parallel and filter those")
    if target == "-" and format not in _TEXT_FORMATS:
        raise ExportError(f"{format} output needs a file, not stdout")
    _refuse_overwriting_inputs(target, [n for n in names if isinstance(n, str)])
    try:
        return _export(names, target, format, jobs, scheduler, options, selection)
    except OSError as exc:  # the output: a full disk, a device that refuses writes...
        raise ExportError(f"cannot write to {target}: {exc.strerror or exc}",
                          path=target) from None


def _export(names: list[Any], target: str, format: str, jobs: int, scheduler: str | None,
            options: DecodeOptions, selection: ExportSelection | None) -> ExportSummary:
    packets = fallback = batches = 0
    schema = arrow_schema() if selection is None else selection.schema
    error: CaptureError | None = None
    # The writer's libraries are loaded before the output file exists: the import takes most
    # of a second, the longest stretch a SIGTERM could land in with the temporary file open.
    require("pyarrow")
    if format == "parquet":
        require("pyarrow.parquet")
    with _Output(target) as file:
        sink: _Sink
        if format == "parquet" and (jobs > 1 or scheduler is not None):
            sink = _SplicedParquetSink(file, schema)
        elif format == "parquet":
            sink = _ParquetSink(file, schema)
        elif format == "arrow":
            sink = _ArrowSink(file, schema)
        else:
            sink = _TextSink(file, format, schema)
        try:
            if jobs == 1 and scheduler is None:
                # Batches go straight from the decoder to the writer, never encoded between.
                try:
                    for batch, fell in decoded_batches(names, options, selection=selection):
                        sink.write(batch)
                        packets += batch.num_rows
                        fallback += fell
                        batches += 1
                except CaptureError as exc:
                    error = exc
            else:
                from vxlankit.bulk.parallel import map_parts, wire_options

                with tempfile.TemporaryDirectory(prefix="vxlankit-parts-") as spill_dir:
                    columns = None if selection is None else selection.fields
                    args = (format, wire_options(options),
                            spill_dir if scheduler is None else None, columns)
                    for result in map_parts(names, export_part, args, jobs=jobs,
                                            scheduler=scheduler):
                        if result.spill is not None:
                            sink.write_spilled(result.spill)
                        else:
                            sink.write_encoded(result.data)
                        packets += result.packets
                        fallback += result.fallback
                        batches += result.batches
                        if result.error is not None:
                            error = result.error
                            break
        finally:
            sink.close()
    if error is not None:
        raise error
    read = selection.read if selection is not None and selection.needs_packets else packets
    return ExportSummary(target, format, len(names), packets, fallback, batches, read)


def _refuse_overwriting_inputs(target: str, inputs: Sequence[str]) -> None:
    refuse_overwriting_inputs(target, inputs, OutputIsInputError)


def _Output(target: str) -> SafeOutput:  # noqa: N802 - the class it was
    return SafeOutput(target, ExportError)
