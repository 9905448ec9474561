"""Writing pcap and pcapng captures, to paths, ``"-"`` (stdout) or any binary stream.

The writers only ever append, so pipes and stdout work.  They refuse, with ``CaptureError``, what
would not read back as given: a timestamp finer than the file's resolution, a packet longer than
the reader accepts, a link type a pcap file cannot hold.  Nothing is truncated or rounded away.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from types import TracebackType
from typing import TypeVar

from construct import ConstructError

from vxlankit.capture import pcapng as ng
from vxlankit.capture._io import Target, open_output
from vxlankit.capture.pcap import (
    MAX_CAPLEN_STANDARD,
    MODIFIED,
    NSEC,
    RECORD_HEADER_STRUCT,
    USEC,
    PcapHeader,
    lt_fcs_datalink_ext,
    max_caplen,
    pack_modified_extra,
)
from vxlankit.capture.reader import CaptureReader
from vxlankit.capture.record import Interface, RawOptions, Record, Section
from vxlankit.errors import CaptureError

NS = 1_000_000_000
_U32_MAX = 0xFFFFFFFF
_U64_MAX = 0xFFFFFFFFFFFFFFFF
_I64 = {order: struct.Struct(order + "q") for order in "<>"}


def _check_byte_order(byte_order: str) -> str:
    if byte_order not in ("<", ">"):
        raise CaptureError(f"byte order must be '<' or '>', not {byte_order!r}")
    return byte_order


def ticks_for(ts_ns: int, tsresol: int) -> int | None:
    """The tick count that reads back as ``ts_ns`` at ``tsresol`` ticks/s, or ``None``.

    Readers floor ticks * 10**9 / tsresol, so the answer is the smallest tick count at or above
    ts_ns * tsresol / 10**9, provided it floors back to ts_ns (at resolutions coarser than 1 ns,
    most nanosecond values have no tick of their own).
    """
    ticks = -((-ts_ns * tsresol) // NS)
    return ticks if ticks * NS // tsresol == ts_ns else None


class _Output:
    """The stream written to, with errors turned into CaptureError."""

    def __init__(self, target: Target) -> None:
        self.path, self.file, self.owned = open_output(target)
        self.offset = 0
        self.closed = False

    def write(self, data: bytes) -> None:
        try:
            written = self.file.write(data)
            # A raw (unbuffered) stream may take only part of it, as write(2) may; anything
            # else (buffered files, BytesIO, objects returning None) takes it all.
            while isinstance(written, int) and 0 < written < len(data):
                data = data[written:]
                self.offset += written
                written = self.file.write(data)
        except OSError as exc:
            raise CaptureError(
                f"write failed: {exc.strerror or exc}", path=self.path, offset=self.offset
            ) from exc
        if written == 0 and data:
            raise CaptureError("the stream accepted no data", path=self.path, offset=self.offset)
        self.offset += len(data)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if self.owned:
                self.file.close()
            elif hasattr(self.file, "flush"):
                self.file.flush()
        except OSError as exc:
            raise CaptureError(
                f"write failed: {exc.strerror or exc}", path=self.path, offset=self.offset
            ) from exc


_W = TypeVar("_W", bound="_Writer")


class _Writer:
    _out: _Output
    count: int

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Flush; close the file if the writer opened it (a file object passed in stays open)."""
        self._out.close()

    def _error(self, message: str) -> CaptureError:
        return CaptureError(
            message, path=self._out.path, packet=self.count + 1, offset=self._out.offset
        )


class PcapWriter(_Writer):
    """Writes a pcap file: one link type, one timestamp resolution.

    ``linktype`` may carry the FCS bits of the header's link-type word; ``from_header`` reproduces
    a header read from a file exactly.
    """

    def __init__(
        self,
        file: Target,
        linktype: int,
        snaplen: int = 262144,
        nanosecond: bool = False,
        byte_order: str = "<",
        *,
        version: tuple[int, int] = (2, 4),
        thiszone: int = 0,
        sigfigs: int = 0,
        modified: bool = False,
    ) -> None:
        if nanosecond and modified:
            raise CaptureError("the modified pcap format has no nanosecond variant")
        header = PcapHeader(
            NSEC if nanosecond else MODIFIED if modified else USEC,
            _check_byte_order(byte_order),
            version_major=version[0],
            version_minor=version[1],
            thiszone=thiszone,
            sigfigs=sigfigs,
            snaplen=snaplen,
            linktype_field=linktype,
        )
        self._start(file, header)

    @classmethod
    def from_header(cls, header: PcapHeader, file: Target) -> PcapWriter:
        """A writer whose file header is ``header``, byte for byte."""
        writer = cls.__new__(cls)
        writer._start(file, header)
        return writer

    @classmethod
    def from_reader(cls, reader: CaptureReader, file: Target) -> PcapWriter:
        """A writer whose file header is that of the pcap ``reader`` is reading."""
        if reader.header is None:
            raise CaptureError(
                f"{reader.path} is {reader.format}, not pcap: it has no pcap header to copy"
            )
        return cls.from_header(reader.header, file)

    def _start(self, file: Target, header: PcapHeader) -> None:
        if header.version_major != 2:
            raise CaptureError(
                f"cannot write pcap version {header.version_major}.{header.version_minor}"
            )
        try:
            data = header.build()
        except ConstructError as exc:  # a field out of range for its width
            raise CaptureError(f"cannot write pcap header {header!r}: {exc}") from exc
        self.header = header
        self.count = 0
        self._pack = RECORD_HEADER_STRUCT[header.byte_order].pack
        self._frac_div = NS // header.tsresol
        self._maxcap = max_caplen(header.linktype)
        self._swapped = header.lengths_swapped
        self._out = _Output(file)
        self._out.write(data)

    @property
    def path(self) -> str:
        return self._out.path

    def write(
        self,
        data: bytes,
        ts_ns: int,
        orig_len: int | None = None,
        *,
        modified: tuple[int, int, int, int] | None = None,
    ) -> None:
        """Append one packet.  ``modified`` is (ifindex, protocol, pkt_type, pad) for the
        modified format (zeros when not given); it is refused for the other formats."""
        cap_len = len(data)
        if orig_len is None:
            orig_len = cap_len
        if cap_len > self._maxcap:
            raise self._error(
                f"packet of {cap_len} bytes exceeds the maximum {self._maxcap} "
                f"for link type {self.header.linktype}"
            )
        if not 0 <= orig_len <= _U32_MAX:
            raise self._error(f"original length {orig_len} does not fit in 32 bits")
        sec, rem = divmod(ts_ns, NS)
        frac, lost = divmod(rem, self._frac_div)
        if lost:
            raise self._error(
                f"timestamp {ts_ns} ns is finer than the file's resolution "
                f"(1/{self.header.tsresol} s); write a nanosecond pcap"
            )
        if not 0 <= sec <= _U32_MAX:
            raise self._error(f"timestamp {ts_ns} ns is outside what pcap can hold (1970-2106)")
        if self._swapped:
            head = self._pack(sec, frac, orig_len, cap_len)
        else:
            head = self._pack(sec, frac, cap_len, orig_len)
        if self.header.variant == MODIFIED:
            try:
                head += pack_modified_extra(self.header.byte_order, modified or (0, 0, 0, 0))
            except struct.error as exc:
                raise self._error(f"modified-pcap fields {modified!r} out of range: {exc}") from exc
        elif modified is not None:
            raise self._error("modified-pcap fields given for a file in another format")
        self._out.write(head + data)
        self.count += 1

    def write_record(self, record: Record) -> None:
        """Append ``record``.  What pcap cannot hold (comments, flags, options; the modified
        format's fields in another variant) is left out, as any conversion must."""
        modified = record.pcap_modified if self.header.variant == MODIFIED else None
        self.write(record.data, record.ts_ns, record.orig_len, modified=modified)


class PcapngWriter(_Writer):
    """Writes a pcapng file: a section header, then interfaces and packets in any order.

    ``add_interface`` returns the id that ``write`` takes.  ``new_section`` starts another section
    (interface ids start again from 0).
    """

    def __init__(
        self,
        file: Target,
        byte_order: str = "<",
        *,
        options: RawOptions = (),
        hardware: str | None = None,
        os: str | None = None,
        userappl: str | None = None,
        comment: str | None = None,
    ) -> None:
        self._out = _Output(file)
        self.count = 0
        self.interfaces: list[Interface] = []
        self.new_section(
            byte_order,
            options=options,
            hardware=hardware,
            os=os,
            userappl=userappl,
            comment=comment,
        )

    @property
    def path(self) -> str:
        return self._out.path

    def new_section(
        self,
        byte_order: str = "<",
        *,
        options: RawOptions = (),
        hardware: str | None = None,
        os: str | None = None,
        userappl: str | None = None,
        comment: str | None = None,
    ) -> None:
        self.byte_order = _check_byte_order(byte_order)
        self.interfaces = []
        self._states: list[tuple[int, int, int, int]] = []
        order = self.byte_order
        self._block_head = ng.BLOCK_HEADER_STRUCT[order].pack
        self._u32 = ng.U32_STRUCT[order].pack
        self._epb = ng.EPB_STRUCT[order].pack
        opts = _text_options(
            (
                (ng.OPT_COMMENT, comment),
                (ng.SHB_HARDWARE, hardware),
                (ng.SHB_OS, os),
                (ng.SHB_USERAPPL, userappl),
            )
        )
        body = ng.SCHEMAS[order]["shb"].build(
            {
                "byte_order_magic": ng.BYTE_ORDER_MAGIC,
                "major_version": ng.VERSION_MAJOR,
                "minor_version": ng.VERSION_MINOR,
                "section_length": -1,  # unknown: a stream cannot go back and fill it in
            }
        )
        self._block(ng.SHB, body + self._options(opts + list(options)))

    def add_interface(
        self,
        name: str | None,
        linktype: int,
        snaplen: int = 262144,
        tsresol: int = 10**9,
        description: str | None = None,
        *,
        fcslen: int | None = None,
        tsoffset: int = 0,
        options: RawOptions = (),
    ) -> int:
        """Declare an interface; ``tsresol`` is in ticks per second (a power of 10 or of 2)."""
        code = ng.tsresol_to_option(tsresol)
        if code is None:
            raise CaptureError(
                f"timestamp resolution {tsresol} ticks/s is not a power of 10 up to 10**19 "
                "or of 2 up to 2**63",
                path=self.path,
            )
        if not 0 <= linktype <= 0xFFFF:
            raise CaptureError(f"link type {linktype} does not fit in 16 bits", path=self.path)
        if not 0 <= snaplen <= _U32_MAX:
            raise CaptureError(f"snaplen {snaplen} does not fit in 32 bits", path=self.path)
        opts = _text_options(((ng.IF_NAME, name), (ng.IF_DESCRIPTION, description)))
        if tsresol != ng.DEFAULT_TSRESOL:
            opts.append((ng.IF_TSRESOL, bytes([code])))
        if fcslen is not None:
            if not 0 <= fcslen <= 0xFF:
                raise CaptureError(f"FCS length {fcslen} does not fit in 8 bits", path=self.path)
            opts.append((ng.IF_FCSLEN, bytes([fcslen])))
        if tsoffset:
            if not -(2**63) <= tsoffset < 2**63:
                raise CaptureError(
                    f"if_tsoffset {tsoffset} does not fit in 64 bits", path=self.path
                )
            opts.append((ng.IF_TSOFFSET, _I64[self.byte_order].pack(tsoffset)))
        body = ng.SCHEMAS[self.byte_order]["idb"].build(
            {"linktype": linktype, "reserved": 0, "snaplen": snaplen}
        )
        self._block(ng.IDB, body + self._options(opts + list(options)))
        iid = len(self.interfaces)
        self.interfaces.append(
            Interface(
                linktype,
                id=iid,
                name=name,
                description=description,
                snaplen=snaplen,
                tsresol=tsresol,
                fcslen=fcslen,
                tsoffset=tsoffset,
                options=tuple(options),
            )
        )
        self._states.append((tsresol, tsoffset * NS, max_caplen(linktype), linktype))
        return iid

    def write(
        self,
        data: bytes,
        ts_ns: int,
        interface_id: int,
        orig_len: int | None = None,
        comment: str | None = None,
        flags: int | None = None,
        *,
        options: RawOptions = (),
    ) -> None:
        """Append one enhanced packet block.  ``options`` are further raw EPB options."""
        if not 0 <= interface_id < len(self._states):
            raise self._error(
                f"interface id {interface_id} was never added "
                f"({len(self._states)} interfaces in this section)"
            )
        tsresol, offset_ns, maxcap, linktype = self._states[interface_id]
        cap_len = len(data)
        if orig_len is None:
            orig_len = cap_len
        if cap_len > maxcap:
            raise self._error(
                f"packet of {cap_len} bytes exceeds the maximum {maxcap} for link type {linktype}"
            )
        if not 0 <= orig_len <= _U32_MAX:
            raise self._error(f"original length {orig_len} does not fit in 32 bits")
        ticks = ticks_for(ts_ns - offset_ns, tsresol)
        if ticks is None:
            raise self._error(
                f"timestamp {ts_ns} ns has no exact tick at the interface's resolution "
                f"({tsresol} ticks/s)"
            )
        if not 0 <= ticks <= _U64_MAX:
            raise self._error(f"timestamp {ts_ns} ns does not fit in 64 bits of ticks")
        tail = b""
        if comment is not None or flags is not None or options:
            opts = _text_options(((ng.OPT_COMMENT, comment),))
            if flags is not None:
                if not 0 <= flags <= _U32_MAX:
                    raise self._error(f"packet flags {flags} do not fit in 32 bits")
                opts.append((ng.EPB_FLAGS, self._u32(flags)))
            tail = self._options(opts + list(options), packet=True)
        blen = 32 + cap_len + (-cap_len & 3) + len(tail)
        if blen > ng.MAX_BLOCK_LEN:
            raise self._error(f"enhanced packet block of {blen} bytes exceeds 16 MiB")
        self._out.write(
            b"".join(
                (
                    self._block_head(ng.EPB, blen),
                    self._epb(interface_id, ticks >> 32, ticks & _U32_MAX, cap_len, orig_len),
                    data,
                    b"\0" * (-cap_len & 3),
                    tail,
                    self._u32(blen),
                )
            )
        )
        self.count += 1

    def _options(self, options: list[tuple[int, bytes]], packet: bool = False) -> bytes:
        for code, value in options:
            message = ""
            if code == ng.OPT_ENDOFOPT:
                message = "option code 0 is opt_endofopt: it would end the options early"
            elif not 0 < code <= 0xFFFF or len(value) > 0xFFFF:
                message = f"option {code} of {len(value)} bytes does not fit an option header"
            if message:
                if packet:
                    raise self._error(message)
                raise CaptureError(message, path=self.path, offset=self._out.offset)
        return ng.build_options(self.byte_order, options)

    def _block(self, btype: int, body: bytes) -> None:
        blen = 12 + len(body)
        if blen > ng.MAX_BLOCK_LEN:
            raise CaptureError(
                f"block of {blen} bytes exceeds 16 MiB", path=self.path, offset=self._out.offset
            )
        self._out.write(self._block_head(btype, blen) + body + self._u32(blen))


def _text_options(pairs: Iterable[tuple[int, str | None]]) -> list[tuple[int, bytes]]:
    return [
        (code, text.encode("utf-8", "surrogateescape")) for code, text in pairs if text is not None
    ]


def _convert_options(
    block_type: int, options: RawOptions, source_order: str | None, target_order: str
) -> RawOptions:
    """``options`` from a section in ``source_order`` as they must read in ``target_order``."""
    if source_order is None or source_order == target_order or not options:
        return options
    converted = []
    for code, value in options:
        swapped = ng.swap_option(block_type, code, value)
        if swapped is None:
            raise CaptureError(
                f"option {code} of a {ng.BLOCK_NAMES[block_type]} has no known layout, so it "
                "cannot be converted to the other byte order; write in the source's byte order"
            )
        converted.append((code, swapped))
    return tuple(converted)


def write_capture(
    target: Target,
    records: Iterable[Record],
    format: str = "pcapng",
    *,
    byte_order: str | None = None,
    nanosecond: bool | None = None,
) -> int:
    """Write ``records`` to ``target`` (a path, ``"-"`` for stdout, or a binary file object).

    pcap: the header is the one the records were read from when they carry it (so reading a pcap
    and writing it back gives the same bytes), else it is made from the first record's interface;
    every record must then share its link type.  ``nanosecond`` chooses the resolution (default:
    what the records came with).

    pcapng: each record's section and interface are written before it is, in its section's byte
    order unless ``byte_order`` says otherwise; interface ids and interface options are kept.

    ``records`` may be a ``CaptureReader``; it is read to the end.  Returns the number of records.
    """
    if format == "pcap":
        return _write_pcap(target, records, byte_order, nanosecond)
    if format == "pcapng":
        if nanosecond is not None:
            raise CaptureError("nanosecond applies to pcap; pcapng keeps each interface's own")
        return _write_pcapng(target, records, byte_order)
    raise CaptureError(f"unknown capture format {format!r} (expected 'pcap' or 'pcapng')")


def _pcap_header_for(
    record: Record | None,
    records: Iterable[Record],
    byte_order: str | None,
    nanosecond: bool | None,
) -> PcapHeader:
    interface = record.interface if record is not None else None
    section = interface.section if interface is not None else None
    if section is None and record is None:
        sections = getattr(records, "sections", None)
        section = sections[0] if sections else None
    source = section.pcap_header if section is not None else None
    if source is not None:
        header = PcapHeader(
            source.variant,
            source.byte_order,
            version_major=source.version_major,
            version_minor=source.version_minor,
            thiszone=source.thiszone,
            sigfigs=source.sigfigs,
            snaplen=source.snaplen,
            linktype_field=source.linktype_field,
        )
    elif interface is not None:
        linktype_field = interface.linktype
        if interface.fcslen is not None:
            if interface.fcslen % 2 or interface.fcslen > 30:
                raise CaptureError(
                    f"an FCS of {interface.fcslen} bytes cannot be stated in a pcap header "
                    "(it counts 16-bit words, at most 15)"
                )
            linktype_field |= lt_fcs_datalink_ext(interface.fcslen // 2)
        header = PcapHeader(
            NSEC if interface.tsresol > 10**6 else USEC,
            "<",
            # pcapng's snaplen 0 ("no limit") has no pcap spelling; 256 KiB is what the reader
            # accepts anyway.
            snaplen=interface.snaplen or MAX_CAPLEN_STANDARD,
            linktype_field=linktype_field,
        )
    else:
        raise CaptureError("no records to take the pcap link type from")
    if byte_order is not None:
        header.byte_order = _check_byte_order(byte_order)
    if nanosecond:
        header.variant = NSEC
    elif nanosecond is not None and header.variant == NSEC:
        header.variant = USEC
    return header


def _write_pcap(
    target: Target, records: Iterable[Record], byte_order: str | None, nanosecond: bool | None
) -> int:
    iterator = iter(records)
    first = next(iterator, None)
    header = _pcap_header_for(first, records, byte_order, nanosecond)
    with PcapWriter.from_header(header, target) as writer:
        if first is not None:
            linktype = header.linktype
            for record in _chain(first, iterator):
                if record.interface.linktype != linktype:
                    raise writer._error(
                        f"record {record.number} has link type {record.interface.linktype} but "
                        f"the pcap file holds {linktype}; write pcapng for mixed link types"
                    )
                writer.write_record(record)
        return writer.count


def _chain(first: Record, rest: Iterable[Record]) -> Iterable[Record]:
    yield first
    yield from rest


def _write_pcapng(target: Target, records: Iterable[Record], byte_order: str | None) -> int:
    copier = _PcapngCopier(target, byte_order, getattr(records, "sections", None))
    try:
        for record in records:
            copier.write(record)
        copier.finish()
    finally:
        copier.close()
    return copier.count


class _PcapngCopier:
    """Writes records with their sections and interfaces, keeping interface ids.

    A record's interface ``k`` of section ``s`` is preceded by interfaces 0..k of ``s`` (a reader
    has met them all by then); the rest of a section's interfaces follow when the section ends.
    When the records come from a ``CaptureReader``, its ``sections`` list (which grows as it
    reads) also brings back the sections that hold no packets, each in its place.
    """

    def __init__(
        self, target: Target, byte_order: str | None, reader_sections: list[Section] | None
    ) -> None:
        self._target = target
        self._byte_order = byte_order
        self._reader_sections = reader_sections
        self._writer: PcapngWriter | None = None
        self._current: Section | None = None
        self._done: set[int] = set()  # id() of the sections already started
        self._written: dict[int, int] = {}  # id(interface) -> its id in the output section
        self._source_order: str | None = None
        # Interfaces that belong to no section (built by hand) share one output section.
        self._loose = Section(-1, "pcapng", "<", (1, 0))

    @property
    def count(self) -> int:
        return self._writer.count if self._writer is not None else 0

    def write(self, record: Record) -> None:
        interface = record.interface
        section = interface.section or self._loose
        if section is not self._current:
            self._catch_up(section)
            self._start(section)
        writer = self._writer
        assert writer is not None
        iid = self._written.get(id(interface))
        if iid is None:
            if section is not self._loose:
                for earlier in section.interfaces[len(self._written) : interface.id + 1]:
                    self._add(earlier)
            # An interface its section does not list (or a hand-built one) gets the next id.
            iid = self._written.get(id(interface))
            if iid is None:
                iid = self._add(interface)
        writer.write(
            record.data,
            record.ts_ns,
            iid,
            record.orig_len,
            record.comment,
            record.flags,
            options=_convert_options(ng.EPB, record.options, self._source_order, writer.byte_order),
        )

    def finish(self) -> None:
        self._catch_up(None)
        if self._writer is None:
            self._start(self._loose)
        self._finish_section()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def _catch_up(self, upto: Section | None) -> None:
        """Start, in order, the reader's sections before ``upto`` that no record brought."""
        for section in list(self._reader_sections or ()):
            if section is upto:
                break
            if id(section) not in self._done:
                self._start(section)

    def _start(self, section: Section) -> None:
        order = self._byte_order or section.byte_order
        self._source_order = section.byte_order if section.format == "pcapng" else None
        options = _convert_options(ng.SHB, section.options, self._source_order, order)
        if self._writer is None:
            self._writer = PcapngWriter(self._target, order, options=options)
        else:
            self._finish_section()
            self._writer.new_section(order, options=options)
        self._current = section
        self._done.add(id(section))
        self._written.clear()

    def _finish_section(self) -> None:
        section = self._current
        if section is not None and section is not self._loose:
            for interface in section.interfaces[len(self._written) :]:
                self._add(interface)

    def _add(self, interface: Interface) -> int:
        writer = self._writer
        assert writer is not None
        options = _convert_options(ng.IDB, interface.options, self._source_order, writer.byte_order)
        iid = writer.add_interface(
            interface.name,
            interface.linktype,
            interface.snaplen,
            interface.tsresol,
            interface.description,
            fcslen=interface.fcslen,
            tsoffset=interface.tsoffset,
            options=options,
        )
        self._written[id(interface)] = iid
        return iid
