"""The record walk: capture files -> batches of frames laid out for vectorised decoding.

A ``FrameBatch`` is one buffer holding many frames plus per-frame arrays (where each frame
starts, its lengths, timestamp, number, interface).  The buffer is the file's own bytes when
that is possible: for a classic pcap file the walk only notes where each record's data starts,
so a batch costs one read and one Python loop iteration per record, and the buffer keeps
``PAD`` spare bytes at the end so the decoder may read a fixed-size prefix of any frame
without a bounds check.

Classic pcap (microsecond or nanosecond, the usual layouts) is walked here; every other input
(pcapng, the modified and pre-2.3 pcap layouts, stdin) goes through ``vxlankit.capture``'s
reader and is copied into the same layout.  Either way a damaged file raises the reader's
``CaptureError`` after every good record before the damage has been handed out.

A pcap file can also be cut into record ranges (``plan_pcap``) so that several processes each
decode one part; the walk that finds the boundaries reads record headers only.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from vxlankit.bulk._numpy import np, npt
from vxlankit.capture._io import BinaryReadable
from vxlankit.capture.pcap import FILE_HEADER_LEN, MODIFIED, max_caplen
from vxlankit.capture.reader import CaptureReader, open_capture
from vxlankit.errors import CaptureError

# Bytes of every frame the vectorised decoder reads at fixed offsets; the buffer keeps this
# many zero bytes after its last frame so that a prefix never runs off the end.
PAD = 128
# Records per batch: 32768 keeps a whole export (one batch in flight, ~35 MB of it) under
# 200 MB at any file size; 65536 was 6% faster and 40 MB bigger.
BATCH_RECORDS = 1 << 15
_READ = 1 << 23
_MIN_READ = 1 << 20
# Bytes of frames per batch at most: big frames make smaller batches.  The real mix (440
# bytes a frame) peaked at 188-190 MB with 32 MiB and 150 MB with 8 MiB, at about the same
# speed; 32768 VXLAN pings are 5.4 MB.  A part (``plan``) holds two batches' worth, so that
# where frames are small (under ~240 bytes) its batches fall where one process's do.
_MAX_READ = 1 << 23
_MAX_PART = 2 * _MAX_READ
_HLEN = 16
NS = 1_000_000_000


@dataclass(frozen=True)
class InterfaceInfo:
    """What decoding needs from a capture interface."""

    id: int
    linktype: int
    fcslen: int | None
    name: str | None = None  # pcapng if_name
    tsresol: int = NS  # timestamp ticks per second, as the capture states them


@dataclass
class FrameBatch:
    """Frames ``buf[start[i] : start[i] + caplen[i]]``; ``buf`` has ``PAD`` bytes to spare."""

    buf: npt.NDArray[np.uint8]
    start: npt.NDArray[np.int64]
    caplen: npt.NDArray[np.int64]
    orig_len: npt.NDArray[np.int64]
    ts_ns: npt.NDArray[np.int64]
    number: npt.NDArray[np.int64]
    iface: npt.NDArray[np.int32]  # index into ``interfaces``
    interfaces: list[InterfaceInfo]

    def __len__(self) -> int:
        return len(self.start)

    def frame(self, i: int) -> bytes:
        s = int(self.start[i])
        return self.buf[s:s + int(self.caplen[i])].tobytes()


@dataclass(frozen=True)
class PcapRange:
    """Records ``first_number ..`` of a classic pcap file, from byte ``start`` up to ``stop``
    (``None``: to the end of the file).

    ``offsets``, when the planner found them, are where each record's header starts (relative
    to ``start``); the part is then read in one piece and not walked again.
    """

    path: str
    start: int
    stop: int | None
    first_number: int
    offsets: npt.NDArray[np.int64] | None = None


@dataclass(frozen=True)
class WholeFile:
    """A capture read start to finish (by the fast walk when it is a classic pcap file)."""

    path: str


Part = PcapRange | WholeFile


class _PcapLayout:
    """The facts of a classic pcap file header the fast walk needs."""

    def __init__(self, path: str) -> None:
        with open_capture(path) as reader:
            self.fast = _fast_layout(reader)
            header = reader.header
            iface = reader.interfaces[0] if reader.interfaces else None
        self.order = header.byte_order if header is not None else "<"
        self.tick_ns = NS // header.tsresol if header is not None else 1000
        self.linktype = iface.linktype if iface is not None else 1
        self.maxcap = max_caplen(self.linktype)
        self.interface = InterfaceInfo(0, self.linktype,
                                       iface.fcslen if iface is not None else None,
                                       tsresol=header.tsresol if header is not None else 10**6)


def _fast_layout(reader: CaptureReader) -> bool:
    header = reader.header
    return (reader.format == "pcap" and header is not None and header.variant != MODIFIED
            and not header.lengths_swapped)


def _path(source: str | os.PathLike[str]) -> str:
    return os.fspath(source)


def plan(paths: list[str], records_per_part: int) -> Iterator[Part]:
    """Cut the inputs into parts of about ``records_per_part`` records, in order.

    Parts are handed out as the walk finds them, so work can start on the first while the
    rest of the file is still being walked.
    """
    for path in paths:
        if path == "-":
            raise CaptureError("parallel decoding needs files, not stdin", path="<stdin>")
        layout = _PcapLayout(path)
        if not layout.fast:
            yield WholeFile(path)
            continue
        yield from plan_pcap(path, layout, records_per_part)


def plan_pcap(path: str, layout: _PcapLayout, records_per_part: int) -> Iterator[PcapRange]:
    """Record ranges of a classic pcap file, each with its record offsets.

    Damage is not reported here: the walk stops at it and the last part, which has no
    offsets, is walked again when decoded and reports the damage exactly as a single pass
    would.
    """
    incl_at = struct.Struct(layout.order + "8xI").unpack_from
    header_dtype = np.dtype(layout.order + "u4")
    number = 1
    start = FILE_HEADER_LEN  # file offset where the part being planned starts
    base = FILE_HEADER_LEN  # file offset of buf[0]
    pieces: list[npt.NDArray[np.int64]] = []  # record offsets (relative to ``start``)
    count = 0
    # One buffer for the whole walk: a read's worth plus room for a record carried over.
    buf = np.empty(_READ + _HLEN + layout.maxcap, np.uint8)
    filled = 0
    clean = True
    with open(path, "rb", buffering=0) as f:
        f.seek(FILE_HEADER_LEN)
        while clean:
            got = _read_into(f, buf.data[filled:filled + _READ])
            if not got:
                clean = filled == 0
                break
            filled += got
            mv = buf.data[:filled]
            pos = 0
            while True:
                found = _walk(mv, pos, filled, records_per_part - count, incl_at)
                if not found:
                    break
                at = np.array(found, np.int64)
                lengths = _gather(buf, at, 8, 4).view(header_dtype).reshape(-1)
                if (lengths > layout.maxcap).any():
                    clean = False
                    break
                pieces.append(at + (base - start))
                count += len(found)
                pos = found[-1] + _HLEN + int(lengths[-1])
                if count == records_per_part or base + pos - start >= _MAX_PART:
                    yield PcapRange(path, start, base + pos, number, np.concatenate(pieces))
                    number += count
                    start = base + pos
                    pieces, count = [], 0
            del mv
            buf[:filled - pos] = buf[pos:filled]
            filled -= pos
            base += pos
    if clean:
        if count:
            yield PcapRange(path, start, base, number, np.concatenate(pieces))
    else:
        yield PcapRange(path, start, None, number)


def _gather(buf: npt.NDArray[np.uint8], at: list[int] | npt.NDArray[np.int64], skip: int,
            size: int) -> npt.NDArray[np.uint8]:
    """``size`` bytes from ``skip`` bytes past each offset, as a ``(len(at), size)`` array."""
    return gather_rows(buf, np.asarray(at, np.int64) + skip, size)


def gather_rows(buf: npt.NDArray[np.uint8], at: npt.NDArray[np.int64], size: int
                ) -> npt.NDArray[np.uint8]:
    """``buf[a:a + size]`` for every ``a`` in ``at``, as one ``(len(at), size)`` array.

    ``buf`` is viewed as overlapping ``size``-byte items, one starting at every byte, and
    indexed with ``at``: numpy then copies whole items, which is cheaper than indexing a
    two-dimensional window view row by row.
    """
    items = np.ndarray((len(buf) - size + 1,), np.dtype((np.void, size)), buf, 0, (1,))
    rows: npt.NDArray[np.uint8] = items[at].view(np.uint8).reshape(len(at), size)
    return rows


def iter_part_batches(part: Part, batch_records: int = BATCH_RECORDS) -> Iterator[FrameBatch]:
    """The frames of one part (see ``plan``), in batches."""
    if isinstance(part, WholeFile):
        yield from iter_file_batches(part.path, batch_records)
        return
    layout = _PcapLayout(part.path)
    if not layout.fast:  # pragma: no cover - plan() only makes ranges of fast layouts
        raise CaptureError("not a classic pcap file", path=part.path)
    if part.offsets is None or part.stop is None:
        yield from _pcap_batches(part, layout, batch_records)
        return
    size = part.stop - part.start
    buf = np.zeros(size + PAD, np.uint8)
    with open(part.path, "rb", buffering=0) as f:
        f.seek(part.start)
        got = _read_into(f, buf.data[:size])
    if got < size:
        raise CaptureError(f"the file changed while it was read ({got} of {size} bytes)",
                           path=part.path, offset=part.start + got)
    header_dtype = np.dtype(layout.order + "u4")
    for first in range(0, len(part.offsets), batch_records):
        yield _pcap_batch(buf, part.offsets[first:first + batch_records], header_dtype,
                          layout.tick_ns, part.first_number + first, [layout.interface])


def iter_file_batches(source: str | os.PathLike[str] | BinaryReadable,
                      batch_records: int = BATCH_RECORDS) -> Iterator[FrameBatch]:
    """Every frame of one capture file (or ``"-"``, stdin, or a binary stream such as a
    live capture), in batches."""
    if not isinstance(source, (str, os.PathLike)):
        yield from _reader_batches(source, batch_records)
        return
    path = _path(source)
    if path == "-":
        yield from _reader_batches(path, batch_records)
        return
    layout = _PcapLayout(path)
    if layout.fast:
        yield from _pcap_batches(PcapRange(path, FILE_HEADER_LEN, None, 1), layout, batch_records)
    else:
        yield from _reader_batches(path, batch_records)


def _read_into(f: Any, view: memoryview) -> int:
    """Fill ``view`` from ``f``; fewer bytes only at the end of the file."""
    total = 0
    while total < len(view):
        got = f.readinto(view[total:])
        if not got:
            break
        total += got
    return total


def _walk(mv: memoryview, pos: int, filled: int, limit: int, incl_at: Any) -> list[int]:
    """Where each of up to ``limit`` complete records in ``mv[pos:filled]`` starts.

    The hot loop of the bulk path: one ``unpack_from`` (of the captured length, 8 bytes into
    the record header) and one append per record, nothing else.  The end of the data shows
    up as ``struct.error`` from a header cut short; the record before it may be cut short
    too, so the last two entries are checked afterwards.
    """
    offsets: list[int] = []
    add = offsets.append
    try:
        for _ in repeat(None, limit):
            add(pos)
            pos += incl_at(mv, pos)[0] + _HLEN
    except struct.error:
        pass
    while offsets and (offsets[-1] + _HLEN > filled
                       or offsets[-1] + _HLEN + incl_at(mv, offsets[-1])[0] > filled):
        offsets.pop()
    return offsets


def _pcap_batches(part: PcapRange, layout: _PcapLayout, batch_records: int
                  ) -> Iterator[FrameBatch]:
    unpack = struct.Struct(layout.order + "I").unpack_from
    incl_at = struct.Struct(layout.order + "8xI").unpack_from
    header_dtype = np.dtype(layout.order + "u4")
    maxcap = layout.maxcap
    interfaces = [layout.interface]
    number = part.first_number
    carry = b""
    base = part.start  # file offset of carry[0]
    remaining = None if part.stop is None else part.stop - part.start
    record_size = 256  # running estimate, so that one read holds about one batch
    need = 0
    with open(part.path, "rb", buffering=0) as f:
        f.seek(part.start)
        while True:
            want = min(max(record_size * batch_records, _MIN_READ), _MAX_READ)
            want = max(want, need)
            if remaining is not None:
                want = min(want, remaining)
            # The buffer: what was left over, then fresh bytes, then PAD spare bytes.
            buf = np.empty(len(carry) + want + PAD, np.uint8)
            buf[:len(carry)] = np.frombuffer(carry, np.uint8)
            got = _read_into(f, buf.data[len(carry):len(carry) + want])
            if remaining is not None:
                remaining -= got
            eof = got < want or remaining == 0
            filled = len(carry) + got
            buf[filled:] = 0
            mv = buf.data[:filled]
            offsets = _walk(mv, 0, filled, batch_records, incl_at)
            pos = offsets[-1] + _HLEN + incl_at(mv, offsets[-1])[0] if offsets else 0
            batch = None
            if offsets:
                batch = _pcap_batch(buf, offsets, header_dtype, layout.tick_ns, number,
                                    interfaces)
                too_long = np.flatnonzero(batch.caplen > maxcap)
                if len(too_long):
                    first = int(too_long[0])
                    pos = offsets[first]
                    batch = _head(batch, first) if first else None
            if batch is not None:
                yield batch
                number += len(batch)
                record_size = max(pos // len(batch), 1)
            if pos + _HLEN <= filled and unpack(mv, pos + 8)[0] > maxcap:
                raise CaptureError(
                    f"captured length {unpack(mv, pos + 8)[0]} exceeds the maximum {maxcap} "
                    f"for link type {layout.linktype}",
                    path=part.path, packet=number, offset=base + pos)
            carry = mv[pos:].tobytes()
            del mv
            base += pos
            if len(offsets) == batch_records:
                need = 0
                continue
            if eof:
                if carry:
                    _truncated(part.path, carry, unpack, number, base)
                return
            # A record that does not fit in what was read: read at least all of it next time.
            need = _HLEN if len(carry) < _HLEN else _HLEN + unpack(carry, 8)[0] - len(carry)


def _truncated(path: str, carry: bytes, unpack: Any, number: int, offset: int) -> None:
    if len(carry) < _HLEN:
        raise CaptureError(f"truncated record header ({len(carry)} of {_HLEN} bytes)",
                           path=path, packet=number, offset=offset)
    incl = unpack(carry, 8)[0]
    raise CaptureError(
        f"truncated record ({len(carry) - _HLEN} of {incl} bytes of packet data)",
        path=path, packet=number, offset=offset)


def _head(batch: FrameBatch, count: int) -> FrameBatch:
    """The first ``count`` frames of ``batch``."""
    return FrameBatch(batch.buf, batch.start[:count], batch.caplen[:count],
                      batch.orig_len[:count], batch.ts_ns[:count], batch.number[:count],
                      batch.iface[:count], batch.interfaces)


def _pcap_batch(buf: npt.NDArray[np.uint8], offsets: list[int] | npt.NDArray[np.int64],
                header_dtype: np.dtype[Any],
                tick_ns: int, number: int, interfaces: list[InterfaceInfo]) -> FrameBatch:
    at = np.array(offsets, np.int64)
    n = len(at)
    heads = gather_rows(buf, at, _HLEN).view(header_dtype).astype(np.int64)
    return FrameBatch(
        buf=buf,
        start=at + _HLEN,
        caplen=heads[:, 2],
        orig_len=heads[:, 3],
        ts_ns=heads[:, 0] * NS + heads[:, 1] * tick_ns,
        number=np.arange(number, number + n, dtype=np.int64),
        iface=np.zeros(n, np.int32),
        interfaces=interfaces,
    )


# frame.time_epoch is Arrow's timestamp[ns]: a signed 64-bit count of nanoseconds.
_MIN_NS, _MAX_NS = -(1 << 63), (1 << 63) - 1


def _reader_batches(path: str | BinaryReadable, batch_records: int) -> Iterator[FrameBatch]:
    """Any capture the reader understands, copied into batch layout."""
    with open_capture(path) as reader:
        known: dict[int, int] = {}  # id() of a reader Interface -> index in ``interfaces``
        interfaces: list[InterfaceInfo] = []
        datas: list[bytes] = []
        meta: list[tuple[int, int, int, int]] = []
        try:
            for record in reader:
                iface = record.interface
                index = known.get(id(iface))
                if index is None:
                    index = known[id(iface)] = len(interfaces)
                    interfaces.append(InterfaceInfo(iface.id, iface.linktype, iface.fcslen,
                                                    iface.name, iface.tsresol))
                if not _MIN_NS <= record.ts_ns <= _MAX_NS:
                    raise CaptureError(
                        f"timestamp {record.ts_ns} ns does not fit the export's 64-bit "
                        "nanoseconds (years 1677 to 2262)", path=reader.path,
                        packet=record.number)
                datas.append(record.data)
                meta.append((record.orig_len, record.ts_ns, record.number, index))
                if len(datas) == batch_records:
                    yield _copied_batch(datas, meta, interfaces)
                    datas, meta = [], []
        except CaptureError:
            # Damage: every good record before it is still delivered, then the error.
            if datas:
                yield _copied_batch(datas, meta, interfaces)
            raise
        if datas:
            yield _copied_batch(datas, meta, interfaces)


def _copied_batch(datas: list[bytes], meta: list[tuple[int, int, int, int]],
                  interfaces: list[InterfaceInfo]) -> FrameBatch:
    joined = b"".join(datas)
    buf = np.zeros(len(joined) + PAD, np.uint8)
    buf[:len(joined)] = np.frombuffer(joined, np.uint8)
    caplen = np.fromiter((len(d) for d in datas), np.int64, len(datas))
    start = np.zeros(len(datas), np.int64)
    np.cumsum(caplen[:-1], out=start[1:])
    columns = np.array(meta, np.int64).reshape(len(meta), 4)
    return FrameBatch(
        buf=buf,
        start=start,
        caplen=caplen,
        orig_len=columns[:, 0].copy(),
        ts_ns=columns[:, 1].copy(),
        number=columns[:, 2].copy(),
        iface=columns[:, 3].astype(np.int32),
        interfaces=list(interfaces),
    )


def batch_from_frames(frames: list[bytes], linktype: int = 1, *, fcslen: int | None = None,
                      first_number: int = 1, ts_ns: list[int] | None = None) -> FrameBatch:
    """A batch of in-memory frames captured on one interface (for callers that already hold
    the bytes, and for tests)."""
    times = ts_ns if ts_ns is not None else [0] * len(frames)
    meta = [(len(data), ts, first_number + i, 0) for i, (data, ts) in
            enumerate(zip(frames, times, strict=True))]
    return _copied_batch(list(frames), meta, [InterfaceInfo(0, linktype, fcslen)])
