"""The values a capture reader hands out: records, interfaces, sections, and side information.

``Record`` is created once per packet, so it is a plain ``__slots__`` class whose constructor
takes positional arguments: a frozen dataclass costs about twice as much per record.  Values
that follow from others (``cap_len`` from ``data``, ``ts_resolution`` from the interface) are
properties rather than stored fields, which keeps the per-record work down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vxlankit.capture.pcap import PcapHeader

# Record warnings.  They are fixed strings, so callers can test for them with ``in``.
CAPLEN_GT_SNAPLEN = "cap_len > snaplen"
CAPLEN_GT_ORIGLEN = "cap_len > orig_len"
NO_TIMESTAMP = "no timestamp (simple packet block)"
SPB_SHORT = "simple packet block holds less than min(orig_len, snaplen)"

# (code, value) pairs of block options, raw, in the byte order of the section they came from.
RawOptions = tuple[tuple[int, bytes], ...]


class Section:
    """One pcap file, or one pcapng section (an SHB and what follows it up to the next SHB)."""

    __slots__ = (
        "index",
        "format",
        "byte_order",
        "version",
        "section_length",
        "options",
        "interfaces",
        "pcap_header",
        "offset",
        "warnings",
    )

    def __init__(
        self,
        index: int,
        format: str,
        byte_order: str,
        version: tuple[int, int],
        *,
        section_length: int = -1,
        options: RawOptions = (),
        pcap_header: PcapHeader | None = None,
        offset: int = 0,
        warnings: tuple[str, ...] = (),
    ) -> None:
        self.index = index
        self.format = format
        self.byte_order = byte_order
        self.version = version
        self.section_length = section_length
        self.options = options
        # Filled in as the reader meets the section's interface description blocks.
        self.interfaces: list[Interface] = []
        self.pcap_header = pcap_header
        self.offset = offset
        self.warnings = warnings

    def __repr__(self) -> str:
        order = "little" if self.byte_order == "<" else "big"
        return (
            f"Section({self.index}, {self.format} {self.version[0]}.{self.version[1]}, "
            f"{order}-endian, {len(self.interfaces)} interfaces)"
        )


class Interface:
    """A capture interface: what a pcapng IDB says, or what a pcap file header implies.

    ``tsresol`` is in ticks per second (10**6 for microseconds, 2**k for binary fractions).
    ``fcslen`` is in bytes, ``None`` when the file does not say.  ``tsoffset`` is pcapng's
    ``if_tsoffset`` in seconds, already added to every record's ``ts_ns``.  ``options`` holds every
    other IDB option, raw, so that writing the interface back keeps it.
    """

    __slots__ = (
        "id",
        "name",
        "description",
        "linktype",
        "snaplen",
        "tsresol",
        "fcslen",
        "tsoffset",
        "options",
        "section",
        "offset",
    )

    def __init__(
        self,
        linktype: int,
        *,
        id: int = 0,
        name: str | None = None,
        description: str | None = None,
        snaplen: int = 262144,
        tsresol: int = 10**6,
        fcslen: int | None = None,
        tsoffset: int = 0,
        options: RawOptions = (),
        section: Section | None = None,
        offset: int = -1,
    ) -> None:
        self.id = id
        self.name = name
        self.description = description
        self.linktype = linktype
        self.snaplen = snaplen
        self.tsresol = tsresol
        self.fcslen = fcslen
        self.tsoffset = tsoffset
        self.options = options
        self.section = section
        self.offset = offset

    @property
    def byte_order(self) -> str | None:
        """The byte order of the section the interface was read from (its raw options use it)."""
        return self.section.byte_order if self.section is not None else None

    def same_as(self, other: Interface) -> bool:
        """Whether ``other`` describes the same interface, wherever and under which id it sits."""
        return (
            self.name == other.name
            and self.description == other.description
            and self.linktype == other.linktype
            and self.snaplen == other.snaplen
            and self.tsresol == other.tsresol
            and self.fcslen == other.fcslen
            and self.tsoffset == other.tsoffset
            and self.options == other.options
        )

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name is not None else ""
        return (
            f"Interface({self.id}{name}, linktype={self.linktype}, snaplen={self.snaplen}, "
            f"tsresol={self.tsresol})"
        )


class Record:
    """One captured packet.

    ``number`` counts records from 1 across the whole file; ``offset`` is where the record's header
    (pcap) or block (pcapng) starts.  ``comment`` is the first ``opt_comment``; ``flags`` the
    ``epb_flags`` word (``pack_flags`` for obsolete packet blocks); ``options`` every other packet
    option, raw, in the byte order of ``interface.section``.  ``pcap_modified`` holds the extra
    (ifindex, protocol, pkt_type, pad) fields of a Kuznetzov modified pcap record.  ``warnings``
    lists what is odd about the record but does not stop reading it.
    """

    __slots__ = (
        "data",
        "ts_ns",
        "interface",
        "orig_len",
        "comment",
        "flags",
        "number",
        "offset",
        "warnings",
        "options",
        "pcap_modified",
    )

    def __init__(
        self,
        data: bytes,
        ts_ns: int,
        interface: Interface,
        orig_len: int | None = None,
        comment: str | None = None,
        flags: int | None = None,
        number: int = 0,
        offset: int = -1,
        warnings: tuple[str, ...] = (),
        options: RawOptions = (),
        pcap_modified: tuple[int, int, int, int] | None = None,
    ) -> None:
        self.data = data
        self.ts_ns = ts_ns
        self.interface = interface
        self.orig_len = len(data) if orig_len is None else orig_len
        self.comment = comment
        self.flags = flags
        self.number = number
        self.offset = offset
        self.warnings = warnings
        self.options = options
        self.pcap_modified = pcap_modified

    @property
    def cap_len(self) -> int:
        return len(self.data)

    @property
    def ts_resolution(self) -> int:
        """Ticks per second of the timestamp as the file stored it."""
        return self.interface.tsresol

    def __repr__(self) -> str:
        extra = f" warnings={list(self.warnings)!r}" if self.warnings else ""
        return (
            f"Record(#{self.number} @{self.offset} ts_ns={self.ts_ns} if={self.interface.id} "
            f"{len(self.data)}/{self.orig_len}B{extra})"
        )


class NameResolution:
    """One record of a pcapng name resolution block: an address and the names it resolves to.

    ``record_type`` is 1 (IPv4) or 2 (IPv6), with ``address`` in the usual text form; for other
    record types ``address`` is ``None`` and ``raw`` holds the value as stored.
    """

    __slots__ = ("record_type", "address", "names", "raw", "offset")

    def __init__(
        self,
        record_type: int,
        address: str | None,
        names: tuple[str, ...],
        raw: bytes,
        offset: int,
    ) -> None:
        self.record_type = record_type
        self.address = address
        self.names = names
        self.raw = raw
        self.offset = offset

    def __repr__(self) -> str:
        return f"NameResolution({self.address!r} -> {list(self.names)!r})"


class InterfaceStatistics:
    """A pcapng interface statistics block.

    ``counters`` maps ``ifrecv``, ``ifdrop``, ``filteraccept``, ``osdrop`` and ``usrdeliv`` to
    their values when present; ``starttime_ns`` and ``endtime_ns`` are ``isb_starttime`` and
    ``isb_endtime``.
    """

    __slots__ = (
        "interface",
        "ts_ns",
        "starttime_ns",
        "endtime_ns",
        "counters",
        "comment",
        "options",
        "offset",
    )

    def __init__(
        self,
        interface: Interface,
        ts_ns: int,
        *,
        starttime_ns: int | None,
        endtime_ns: int | None,
        counters: dict[str, int],
        comment: str | None,
        options: RawOptions,
        offset: int,
    ) -> None:
        self.interface = interface
        self.ts_ns = ts_ns
        self.starttime_ns = starttime_ns
        self.endtime_ns = endtime_ns
        self.counters = counters
        self.comment = comment
        self.options = options
        self.offset = offset

    def __repr__(self) -> str:
        return f"InterfaceStatistics(if={self.interface.id} ts_ns={self.ts_ns} {self.counters!r})"
