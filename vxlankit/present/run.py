"""The library driver behind ``vxlankit decode`` and ``vxlankit stats``: records in, packets out.

The command line is a thin layer over this module and the views beside it::

    from vxlankit.present.run import decode_capture
    from vxlankit.present.summary import Summarizer

    lines = Summarizer()
    for item in decode_capture("overlay.pcap", vnis={100}):
        print(lines.line(item))

``decode_records`` takes any iterable of capture records (``vxlankit.capture`` readers hand them
out), decodes each with the codec (honouring the interface's FCS length), keeps those that pass
the selection (VNIs, VTEP addresses, a display filter) and stops after ``count`` kept packets.
A damaged capture raises :class:`~vxlankit.errors.CaptureError` from the reader *after* every
good record was yielded; this module lets it through untouched, so the caller decides.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import replace
from typing import Any, BinaryIO, Protocol

from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions, decode
from vxlankit.codec.analysis import Analysis
from vxlankit.layers.registry import frame_protocols
from vxlankit.packet import Packet
from vxlankit.present.filter import FRAME_FIELDS, FRAME_TIMES
from vxlankit.present.frametimes import AbsoluteTime, RelativeTime
from vxlankit.present.plural import counted

__all__ = [
    "DecodedRecord",
    "FastPathTally",
    "InterfaceLike",
    "PacketTest",
    "RecordDecoder",
    "RecordLike",
    "Selection",
    "decode_capture",
    "decode_records",
    "frame_time_ns",
    "options_for",
    "packet_vnis",
    "packet_vteps",
]

PacketTest = Callable[[Packet], bool]


class InterfaceLike(Protocol):
    """What the views need from a capture interface (``vxlankit.capture.record.Interface``)."""

    @property
    def linktype(self) -> int: ...

    @property
    def name(self) -> str | None: ...

    @property
    def fcslen(self) -> int | None: ...

    @property
    def tsresol(self) -> int: ...


class RecordLike(Protocol):
    """What the views need from a capture record (``vxlankit.capture.record.Record``)."""

    @property
    def number(self) -> int: ...

    @property
    def ts_ns(self) -> int: ...

    @property
    def orig_len(self) -> int: ...

    @property
    def cap_len(self) -> int: ...

    @property
    def data(self) -> bytes: ...

    @property
    def comment(self) -> str | None: ...

    @property
    def interface(self) -> InterfaceLike: ...


class DecodedRecord:
    """A record and its decoded packet, with the timestamps the time columns are relative to.

    ``first_ts_ns`` is the timestamp of the first record of the capture and ``prev_ts_ns`` that
    of the record read just before this one (whether or not it was selected), as tshark's
    ``frame.time_relative`` and ``frame.time_delta`` use them.
    """

    __slots__ = ("record", "packet", "first_ts_ns", "prev_ts_ns")

    def __init__(self, record: RecordLike, packet: Packet, first_ts_ns: int,
                 prev_ts_ns: int) -> None:
        self.record = record
        self.packet = packet
        self.first_ts_ns = first_ts_ns
        self.prev_ts_ns = prev_ts_ns

    def __repr__(self) -> str:
        return f"DecodedRecord(#{self.record.number} {self.packet!r})"


def packet_vnis(packet: Packet) -> list[int]:
    """The VNI of every VXLAN header in the packet, outermost first."""
    return [layer.fields["vxlan.vni"] for layer in packet.layers
            if layer.proto == "vxlan" and "vxlan.vni" in layer.fields]


def packet_vteps(packet: Packet) -> list[tuple[str, str]]:
    """(outer source IP, outer destination IP) of every VXLAN hop, outermost first.

    The outer header of a hop is the nearest IPv4 header before its VXLAN header.
    """
    hops: list[tuple[str, str]] = []
    last_ip = None
    for layer in packet.layers:
        proto = layer.proto
        if proto == "ip":
            last_ip = layer
        elif proto == "vxlan":
            if last_ip is not None and "ip.src" in last_ip.fields:
                hops.append((last_ip.fields["ip.src"], last_ip.fields["ip.dst"]))
            last_ip = None
    return hops


class FastPathTally:
    """How many records a fast path answered, and how many it left to the full decoder (a
    layer it does not read, an odd header, another link type).  ``decode --fast-path-stats``
    prints it; the test-suite keeps the full decoder's share under 1% on every capture."""

    __slots__ = ("fast", "full", "steps")

    def __init__(self) -> None:
        self.fast = 0
        self.full = 0
        # Of ``fast``: the packets whose headers past the hand-read shapes (another network,
        # tunnel or application layer) were read by those layers' own dissect steps.
        self.steps = 0

    @property
    def total(self) -> int:
        return self.fast + self.full

    def __str__(self) -> str:
        share = 100 * self.full / self.total if self.total else 0.0
        return (f"fast path: {self.fast} of {counted(self.total, 'packet')} ({self.steps} "
                f"finished by their layers' own steps); {self.full} ({share:.2f}%) decoded "
                "in full")


class Selection:
    """Which packets to keep: any of ``vnis`` at any tunnel depth, any of ``vteps`` as the outer
    source or destination of any hop, and ``filter``; an empty criterion keeps everything."""

    __slots__ = ("vnis", "vteps", "filter")

    def __init__(self, vnis: Collection[int] = (), vteps: Collection[str] = (),
                 filter: PacketTest | None = None) -> None:
        self.vnis = frozenset(vnis)
        self.vteps = frozenset(vteps)
        self.filter = filter

    @property
    def everything(self) -> bool:
        return not self.vnis and not self.vteps and self.filter is None

    def __call__(self, packet: Packet) -> bool:
        if self.vnis and not any(vni in self.vnis for vni in packet_vnis(packet)):
            return False
        if self.vteps and not any(
                src in self.vteps or dst in self.vteps for src, dst in packet_vteps(packet)):
            return False
        return self.filter is None or self.filter(packet)


def options_for(options: DecodeOptions, interface: InterfaceLike,
                cache: dict[int, DecodeOptions] | None = None) -> DecodeOptions:
    """``options`` adjusted to the interface's FCS length (when the capture states one)."""
    fcs = interface.fcslen
    if fcs is None or fcs == options.fcs_len:
        return options
    if cache is not None:
        found = cache.get(fcs)
        if found is None:
            found = cache[fcs] = replace(options, fcs_len=fcs)
        return found
    return replace(options, fcs_len=fcs)


def frame_values(record: RecordLike, iface: InterfaceLike) -> dict[str, Any]:
    """The ``frame.*`` values of ``record``, by Wireshark's names (those it has)."""
    found: dict[str, Any] = {"frame.number": record.number, "frame.len": record.orig_len,
                             "frame.cap_len": record.cap_len}
    if_id = getattr(iface, "id", None)
    if if_id is not None:
        found["frame.interface_id"] = if_id
    if iface.name is not None:
        found["frame.interface_name"] = iface.name
    if record.comment is not None:
        found["frame.comment"] = record.comment
    return found


class RecordDecoder:
    """Decodes records one at a time, in capture order, keeping what the time columns and the
    stream analysis need from the records before: call it with each record of one capture; it
    returns the :class:`DecodedRecord` when the packet passes ``select``, else None.

    Every record must go through it, selected or not, so ``frame.time_delta`` and TCP's
    relative numbers are those of the whole capture.  ``decode_records`` is the loop around it;
    ``vxlankit export -Y`` calls it row by row.
    """

    __slots__ = ("options", "select", "_keep_all", "_frame_fields", "_times", "_stack",
                 "_analyze", "_cache", "_first", "_prev", "_protocols")

    def __init__(self, options: DecodeOptions = DEFAULT_OPTIONS,
                 select: Selection | None = None, *, frame_fields: Collection[str] = ()
                 ) -> None:
        self.options = options
        self.select = select if select is not None else Selection()
        self._keep_all = self.select.everything
        filter = self.select.filter
        # frame.* in a filter reads the record's own fields: set them only when it asks.
        asked = FRAME_FIELDS.intersection(
            [*getattr(filter, "fields", ()), *frame_fields] if filter else frame_fields)
        self._frame_fields = bool(asked)
        self._times = bool(FRAME_TIMES.intersection(asked))
        self._stack = "frame.protocols" in asked
        self._protocols: Callable[[Packet], str] | None = None
        if self._stack:
            self._protocols = frame_protocols
        self._analyze = Analysis()
        self._cache: dict[int, DecodeOptions] = {}
        self._first: int | None = None
        self._prev = 0

    def __call__(self, record: RecordLike) -> DecodedRecord | None:
        ts = record.ts_ns
        if self._first is None:
            self._first = self._prev = ts
        first, prev = self._first, self._prev
        self._prev = ts
        iface = record.interface
        options = self.options
        opts = options if iface.fcslen is None else options_for(options, iface, self._cache)
        packet = self._analyze(decode(record.data, iface.linktype, opts))
        if self._frame_fields:
            frame = packet.frame = frame_values(record, iface)
            if self._times:
                frame["frame.time"] = frame["frame.time_epoch"] = AbsoluteTime(ts)
                frame["frame.time_relative"] = RelativeTime(ts - first)
                frame["frame.time_delta"] = RelativeTime(ts - prev)
            if self._protocols is not None:
                frame["frame.protocols"] = self._protocols(packet)
        if self._keep_all or self.select(packet):
            return DecodedRecord(record, packet, first, prev)
        return None


def frame_time_ns(name: str, item: DecodedRecord, shown_ts_ns: int) -> int | None:
    """The ``frame.time*`` field ``name`` of ``item`` in nanoseconds (``shown_ts_ns``: the
    timestamp of the packet shown before it, for ``frame.time_delta_displayed``), or None
    for another name.  ``-T fields`` formats these, ``export -e`` stores them."""
    ts = item.record.ts_ns
    if name in ("frame.time", "frame.time_epoch"):
        return ts
    if name == "frame.time_relative":
        return ts - item.first_ts_ns
    if name == "frame.time_delta":
        return ts - item.prev_ts_ns
    if name == "frame.time_delta_displayed":
        return ts - shown_ts_ns
    return None


def decode_records(
    records: Iterable[RecordLike],
    options: DecodeOptions = DEFAULT_OPTIONS,
    *,
    count: int | None = None,
    vnis: Collection[int] = (),
    vteps: Collection[str] = (),
    filter: PacketTest | None = None,
) -> Iterator[DecodedRecord]:
    """Decode ``records`` and yield those selected, at most ``count`` of them.

    ``count`` counts *kept* packets, as tcpdump's ``-c`` does with a filter; ``None`` or a
    negative number means no limit, 0 yields nothing.
    """
    if count is not None and count == 0:
        return
    step = RecordDecoder(options, Selection(vnis, vteps, filter))
    kept = 0
    for record in records:
        item = step(record)
        if item is not None:
            yield item
            kept += 1
            if count is not None and 0 < count <= kept:
                return


def decode_capture(
    source: str | os.PathLike[str] | BinaryIO,
    options: DecodeOptions = DEFAULT_OPTIONS,
    *,
    count: int | None = None,
    vnis: Collection[int] = (),
    vteps: Collection[str] = (),
    filter: PacketTest | None = None,
) -> Iterator[DecodedRecord]:
    """``decode_records`` over a capture file (a path, ``"-"`` for stdin, or a binary file)."""
    from vxlankit.capture import open_capture

    with open_capture(source) as reader:
        yield from decode_records(reader, options, count=count, vnis=vnis, vteps=vteps,
                                  filter=filter)
