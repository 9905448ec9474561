"""Reading pcap and pcapng captures as a stream of ``Record`` objects.

``open_capture`` reads the file header at once (so ``format`` and ``byte_order`` are known and a
file that is no capture fails right away), then hands out records one at a time, reading forward
only and holding at most one chunk plus one record in memory.

On damage the reader hands out every record before the fault, then raises ``CaptureError`` with
``path``, ``packet`` (the number the faulty record has, or would have had: records read + 1;
``None`` for a fault in the file header) and ``offset`` (where the faulty record or block starts).
Every length is checked against its bound before anything is read or allocated for it.

The reading of each format lives in a module of its own: ``read_pcap`` (classic pcap),
``read_pcapng`` (pcapng blocks), and ``read_base`` (the state, errors and record warnings the two
share).  This module recognises the format and puts them together as ``CaptureReader``.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType

from vxlankit.capture import pcapng as ng
from vxlankit.capture._io import ReadBuffer, Source, open_input
from vxlankit.capture.pcap import (
    FILE_HEADER,
    FILE_HEADER_LEN,
    MAGICS,
    MODIFIED,
    RECORD_HEADER_STRUCT,
    PcapHeader,
    lt_linktype,
    lt_reserved1,
    max_caplen,
    unpack_modified_extra,
)
from vxlankit.capture.read_base import NS
from vxlankit.capture.read_pcap import PcapReading
from vxlankit.capture.read_pcapng import PcapngReading
from vxlankit.capture.record import (
    CAPLEN_GT_ORIGLEN,
    CAPLEN_GT_SNAPLEN,
    NO_TIMESTAMP,
    SPB_SHORT,
    Interface,
    InterfaceStatistics,
    NameResolution,
    RawOptions,
    Record,
    Section,
)
from vxlankit.errors import CaptureError

__all__ = [
    "CaptureReader",
    "open_capture",
    # What this module offered before the reading of each format moved to a module of its own
    # (the values read, the schema helpers the reading uses): kept so that existing imports work.
    "CAPLEN_GT_ORIGLEN",
    "CAPLEN_GT_SNAPLEN",
    "FILE_HEADER",
    "FILE_HEADER_LEN",
    "MAGICS",
    "MODIFIED",
    "NO_TIMESTAMP",
    "NS",
    "RECORD_HEADER_STRUCT",
    "SPB_SHORT",
    "CaptureError",
    "Interface",
    "InterfaceStatistics",
    "NameResolution",
    "PcapHeader",
    "RawOptions",
    "ReadBuffer",
    "Record",
    "Section",
    "Source",
    "lt_linktype",
    "lt_reserved1",
    "max_caplen",
    "ng",
    "open_input",
    "unpack_modified_extra",
]


def open_capture(source: Source) -> CaptureReader:
    """Open a pcap or pcapng capture: a path, ``"-"`` for stdin, or a binary file object.

    Iterate over the result for ``Record`` objects; use it as a context manager to close a file
    it opened itself (a file object passed in is left open).
    """
    return CaptureReader(source)


class CaptureReader(PcapReading, PcapngReading):
    """A capture being read.  See ``open_capture``.

    ``format`` is "pcap" or "pcapng"; ``byte_order`` "<" or ">" (of the current section);
    ``sections`` and ``interfaces`` grow as the reader meets SHBs and IDBs; ``header`` is the pcap
    file header (``None`` for pcapng); ``name_resolution`` and ``statistics`` collect what NRBs and
    ISBs say; ``skipped_blocks`` lists (block type, offset) of pcapng blocks of unknown type.
    """

    def __init__(self, source: Source) -> None:
        self.path, self._file, self._owned = open_input(source)
        self._buf = ReadBuffer(self._file, self.path)
        self.format = ""
        self.byte_order = "<"
        # The types are declared where the reading that fills them is: read_base, read_pcap,
        # read_pcapng.
        self.header = None
        self.sections = []
        self.interfaces = []
        self.name_resolution = []
        self.statistics = []
        self.skipped_blocks = []
        self._ifstates = []
        self._closed = False
        try:
            self._records = self._open()
        except BaseException:
            self.close()
            raise

    # -- public surface ---------------------------------------------------------------------

    @property
    def section(self) -> Section:
        """The section being read."""
        return self.sections[-1]

    def __iter__(self) -> Iterator[Record]:
        return self._records

    def __next__(self) -> Record:
        return next(self._records)

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        records = getattr(self, "_records", None)
        if records is not None:
            records.close()
        if self._owned:
            self._file.close()

    def __repr__(self) -> str:
        return f"CaptureReader({self.path!r}, {self.format}, {len(self.interfaces)} interfaces)"

    def _open(self) -> Iterator[Record]:
        buf = self._buf
        avail = buf.fill(4)
        if avail < 4:
            self._fail(
                f"file is shorter than its header ({avail} bytes): not a pcap or pcapng file",
                0,
                None,
            )
        magic = buf.buf[:4]
        if magic in MAGICS:
            self._open_pcap(*MAGICS[magic])
            return self._iter_pcap()
        if magic == ng.SHB_MAGIC_BYTES:
            self.format = "pcapng"
            self._read_shb(packet=None)
            return self._iter_pcapng()
        self._fail(
            f"unknown magic number 0x{int.from_bytes(magic, 'big'):08x}: not a pcap or pcapng file",
            0,
            None,
        )
