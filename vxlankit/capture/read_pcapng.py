"""Reading pcapng: blocks, their options, and the records of the packet blocks.

``PcapngReading`` is the pcapng half of ``CaptureReader``: ``reader.py`` recognises the section
header block and hands over to ``_read_shb`` and ``_iter_pcapng``.  The hot loop reads enhanced
packet blocks itself; every other block (SHB, IDB, SPB, OPB, NRB, ISB, and unknown types, which
are skipped) goes through ``_block``.  The format itself (block layouts, option codes, schemas)
is described in ``pcapng.py``.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from typing import NamedTuple, NoReturn

from construct import ConstructError

from vxlankit.capture import pcapng as ng
from vxlankit.capture.pcap import max_caplen
from vxlankit.capture.read_base import NS, ReaderBase, length_warnings, snap_limit_of
from vxlankit.capture.record import (
    NO_TIMESTAMP,
    SPB_SHORT,
    Interface,
    InterfaceStatistics,
    NameResolution,
    RawOptions,
    Record,
    Section,
)

_U64 = {order: struct.Struct(order + "Q") for order in "<>"}
_I64 = {order: struct.Struct(order + "q") for order in "<>"}
_TIMESTAMP = {order: struct.Struct(order + "II") for order in "<>"}


def _block_name(btype: int) -> str:
    return ng.BLOCK_NAMES.get(btype, f"block of type 0x{btype:08x}")


def _text(value: bytes) -> str:
    # surrogateescape keeps bytes that are not UTF-8, so writing the text back restores them.
    return value.decode("utf-8", "surrogateescape")


class _IfState(NamedTuple):
    """What the pcapng hot loop needs per interface, worked out once per IDB and unpacked in
    one go.  ts_ns = (high * high_mul + low * mul) // div + offset_ns, exact: mul/div is
    10**9/tsresol in lowest terms and high_mul = mul << 32.  (Two products of small ints cost
    less than building the 64-bit tick count first, and most interfaces need neither the division
    nor the offset.)"""

    interface: Interface
    high_mul: int
    mul: int
    div: int
    offset_ns: int
    max_caplen: int
    snap_limit: int

    @classmethod
    def of(cls, interface: Interface) -> _IfState:
        if NS % interface.tsresol == 0:
            mul, div = NS // interface.tsresol, 1
        else:
            mul, div = NS, interface.tsresol
        return cls(
            interface,
            mul << 32,
            mul,
            div,
            interface.tsoffset * NS,
            max_caplen(interface.linktype),
            snap_limit_of(interface.snaplen),
        )

    def ns(self, high: int, low: int) -> int:
        return (high * self.high_mul + low * self.mul) // self.div + self.offset_ns


class PcapngReading(ReaderBase):
    """Reads pcapng sections: their interfaces, packets, name resolution and statistics."""

    name_resolution: list[NameResolution]
    statistics: list[InterfaceStatistics]
    skipped_blocks: list[tuple[int, int]]
    _ifstates: list[_IfState]

    def _iter_pcapng(self) -> Iterator[Record]:
        src = self._buf
        number = 0
        order = self.byte_order
        u32_unpack = ng.U32_STRUCT[order].unpack_from
        # Block header and EPB header in one call: the common case costs one unpack.
        head_unpack = ng.EPB_HEAD_STRUCT[order].unpack_from
        ifstates = self._ifstates
        buf, pos, base = src.buf, src.pos, src.base
        n = len(buf)
        while True:
            if pos + 28 > n:
                # Ask for a block header only: a block shorter than an EPB's 28-byte head (an
                # SPB, a small custom block) that a live pipe has delivered whole must not wait
                # for bytes of the next block to arrive.
                src.pos = pos
                avail = src.fill(8, number + 1)
                buf, pos, base = src.buf, src.pos, src.base
                n = len(buf)
                if avail == 0:
                    return
                if avail < 8:
                    self._fail(
                        f"truncated block header ({avail} of 8 bytes)", base + pos, number + 1
                    )
                if avail < 28 and u32_unpack(buf, pos)[0] == ng.EPB:
                    avail = src.fill(28, number + 1)
                    buf, pos, base = src.buf, src.pos, src.base
                    n = len(buf)
            if pos + 28 <= n:
                btype, blen, iid, high, low, caplen, orig = head_unpack(buf, pos)
            else:
                btype = u32_unpack(buf, pos)[0]
                blen = 0  # too short for an EPB: take the general path below
            if btype != ng.EPB or blen == 0:
                # Any other block, or an EPB of which fewer than 28 bytes are left in the file.
                src.pos = pos
                record = self._block(btype, number + 1)
                if record is not None:
                    number += 1
                    yield record
                order = self.byte_order
                u32_unpack = ng.U32_STRUCT[order].unpack_from
                head_unpack = ng.EPB_HEAD_STRUCT[order].unpack_from
                ifstates = self._ifstates
                buf, pos, base = src.buf, src.pos, src.base
                n = len(buf)
                continue
            if blen < 32 or blen > ng.MAX_BLOCK_LEN or blen & 3:
                self._check_length(ng.EPB, blen, base + pos, number + 1)
            end = pos + blen
            if end > n:
                src.pos = pos
                avail = src.fill(blen, number + 1)
                buf, pos, base = src.buf, src.pos, src.base
                n = len(buf)
                if avail < blen:
                    self._fail(
                        f"truncated enhanced packet block ({avail} of {blen} bytes)",
                        base + pos,
                        number + 1,
                    )
                end = pos + blen
            if u32_unpack(buf, end - 4)[0] != blen:
                self._trailer_mismatch(buf, pos, blen, base, number + 1)
            if iid >= len(ifstates):
                self._undeclared(iid, base + pos, number + 1)
            interface, high_mul, mul, div, offset_ns, maxcap, snap_limit = ifstates[iid]
            if caplen > maxcap:
                self._too_long(caplen, maxcap, interface, base + pos, number + 1)
            start = pos + 28
            options_at = start + caplen + (-caplen & 3)
            if options_at > end - 4:
                self._fail(
                    f"captured length {caplen} runs past the end of the enhanced packet block "
                    f"(room for {end - 4 - start} bytes)",
                    base + pos,
                    number + 1,
                )
            comment = flags = None
            options: RawOptions = ()
            if options_at < end - 4:
                comment, flags, options = self._packet_options(
                    buf, pos, options_at, end - 4, base + pos, number + 1
                )
            number += 1
            yield Record(
                buf[start : start + caplen],
                high * high_mul + low * mul
                if div == 1 and not offset_ns
                else (high * high_mul + low * mul) // div + offset_ns,
                interface,
                orig,
                comment,
                flags,
                number,
                base + pos,
                ()
                if caplen <= orig and caplen <= snap_limit
                else length_warnings(caplen, orig, snap_limit),
                options,
            )
            pos = end

    def _trailer_mismatch(
        self, buf: bytes, pos: int, blen: int, base: int, packet: int | None
    ) -> NoReturn:
        trailer = ng.U32_STRUCT[self.byte_order].unpack_from(buf, pos + blen - 4)[0]
        self._fail(
            f"block total length {blen} in the header but {trailer} in the trailer",
            base + pos,
            packet,
        )

    def _undeclared(self, iid: int, offset: int, packet: int) -> NoReturn:
        declared = len(self._ifstates)
        if declared == 0:
            self._fail(
                f"packet for interface {iid} before any interface description block "
                "in this section",
                offset,
                packet,
            )
        self._fail(
            f"interface id {iid} was never declared (this section has {declared} "
            f"interface{'s' if declared != 1 else ''})",
            offset,
            packet,
        )

    def _read_block(self, btype: int, packet: int | None) -> tuple[bytes, int, int]:
        """Check the block at ``pos`` and make all of it available; (buf, start, length).

        The length is read in the current byte order; for an SHB the caller has first set that
        from the SHB's own byte-order magic.
        """
        src = self._buf
        offset = src.base + src.pos
        blen = ng.U32_STRUCT[self.byte_order].unpack_from(src.buf, src.pos + 4)[0]
        self._check_length(btype, blen, offset, packet)
        avail = src.fill(blen, packet)
        if avail < blen:
            self._fail(f"truncated {_block_name(btype)} ({avail} of {blen} bytes)", offset, packet)
        buf, pos = src.buf, src.pos
        if ng.U32_STRUCT[self.byte_order].unpack_from(buf, pos + blen - 4)[0] != blen:
            self._trailer_mismatch(buf, pos, blen, src.base, packet)
        return buf, pos, blen

    def _check_length(self, btype: int, blen: int, offset: int, packet: int | None) -> None:
        name = _block_name(btype)
        if blen < ng.MIN_BLOCK_LEN:
            self._fail(f"{name} length {blen} is less than 12", offset, packet)
        if blen & 3:
            self._fail(f"{name} length {blen} is not a multiple of 4", offset, packet)
        if blen > ng.MAX_BLOCK_LEN:
            self._fail(
                f"{name} length {blen} exceeds the maximum {ng.MAX_BLOCK_LEN} (16 MiB)",
                offset,
                packet,
            )
        if blen < ng.MIN_LEN.get(btype, ng.MIN_BLOCK_LEN):
            self._fail(
                f"{name} length {blen} is less than the minimum {ng.MIN_LEN[btype]}",
                offset,
                packet,
            )

    def _block(self, btype: int, packet: int) -> Record | None:
        """Read any block but an EPB (the hot loop's); return the record of an SPB or OPB."""
        src = self._buf
        offset = src.base + src.pos
        try:
            if btype == ng.SHB:
                self._read_shb(packet)
                return None
            buf, pos, blen = self._read_block(btype, packet)
            src.pos = pos + blen
            if btype == ng.IDB:
                self._read_idb(buf, pos, blen, offset, packet)
            elif btype in (ng.SPB, ng.OPB):
                return self._read_packet_block(btype, buf, pos, blen, offset, packet)
            elif btype == ng.NRB:
                self._read_nrb(buf, pos, blen, offset, packet)
            elif btype == ng.ISB:
                self._read_isb(buf, pos, blen, offset, packet)
            else:
                self.skipped_blocks.append((btype, offset))
            return None
        except ConstructError as exc:  # pragma: no cover - lengths are checked before parsing
            self._fail(f"malformed block: {exc}", offset, packet)

    def _read_shb(self, packet: int | None) -> None:
        src = self._buf
        offset = src.base + src.pos
        avail = src.fill(12, packet)
        if avail < 12:
            if packet is None:
                self._fail(f"file is shorter than its header ({avail} of 28 bytes)", 0, None)
            self._fail(f"truncated section header block ({avail} of 28 bytes)", offset, packet)
        magic = src.buf[src.pos + 8 : src.pos + 12]
        if magic == b"\x1a\x2b\x3c\x4d":
            order = ">"
        elif magic == b"\x4d\x3c\x2b\x1a":
            order = "<"
        else:
            self._fail(
                f"section header block has a bad byte-order magic 0x{magic.hex()} "
                "(expected 1a2b3c4d in either byte order)",
                offset,
                packet,
            )
        self.byte_order = order
        buf, pos, blen = self._read_block(ng.SHB, packet)
        src.pos = pos + blen
        fields = ng.SCHEMAS[order]["shb"].parse(buf[pos + 8 : pos + 24])
        major, minor = fields.major_version, fields.minor_version
        warnings: tuple[str, ...] = ()
        if major != 1 or minor not in (0, 2):
            self._fail(f"unsupported pcapng version {major}.{minor}", offset, packet)
        if minor == 2:
            # Some writers produced 1.2 by mistake; the format is 1.0 (Wireshark reads it so).
            minor = 0
            warnings = ("pcapng version 1.2 read as 1.0",)
        options = self._options(buf, pos, pos + 24, pos + blen - 4, offset, packet)
        section = Section(
            len(self.sections),
            "pcapng",
            order,
            (major, minor),
            section_length=fields.section_length,
            options=tuple(options),
            offset=offset,
            warnings=warnings,
        )
        self.sections.append(section)
        # Interface ids start again from 0 in every section.
        self._ifstates = []

    def _options(
        self, buf: bytes, pos: int, start: int, end: int, offset: int, packet: int | None
    ) -> list[tuple[int, bytes]]:
        """The options in ``buf[start:end]`` of the block at ``pos`` (file ``offset``)."""
        try:
            return ng.walk_options(buf, start, end, self.byte_order)
        except ng.OptionError as exc:
            self._fail(f"{exc} (option at offset {offset + exc.offset - pos})", offset, packet)

    def _packet_options(
        self, buf: bytes, pos: int, start: int, end: int, offset: int, packet: int
    ) -> tuple[str | None, int | None, RawOptions]:
        comment: str | None = None
        flags: int | None = None
        rest: list[tuple[int, bytes]] = []
        for code, value in self._options(buf, pos, start, end, offset, packet):
            if code == ng.OPT_COMMENT and comment is None:
                comment = _text(value)
            elif code == ng.EPB_FLAGS and flags is None:
                if len(value) != 4:
                    self._fail(
                        f"packet flags option of length {len(value)} (expected 4)", offset, packet
                    )
                flags = ng.U32_STRUCT[self.byte_order].unpack(value)[0]
            else:
                rest.append((code, value))
        return comment, flags, tuple(rest)

    def _read_idb(self, buf: bytes, pos: int, blen: int, offset: int, packet: int) -> None:
        order = self.byte_order
        fields = ng.SCHEMAS[order]["idb"].parse(buf[pos + 8 : pos + 16])
        name: str | None = None
        description: str | None = None
        tsresol: int | None = None
        fcslen: int | None = None
        tsoffset: int | None = None
        kept: list[tuple[int, bytes]] = []
        for code, value in self._options(buf, pos, pos + 16, pos + blen - 4, offset, packet):
            if code == ng.IF_NAME and name is None:
                name = _text(value)
            elif code == ng.IF_DESCRIPTION and description is None:
                description = _text(value)
            elif code == ng.IF_TSRESOL:
                if len(value) != 1:
                    self._fail(
                        f"if_tsresol option of length {len(value)} (expected 1)", offset, packet
                    )
                if tsresol is not None:
                    self._fail("if_tsresol option repeated", offset, packet)
                tsresol = ng.tsresol_from_option(value[0])
                if tsresol is None:
                    self._fail(
                        f"if_tsresol 0x{value[0]:02x} is out of range (the finest accepted are "
                        f"10^-{ng.TSRESOL_MAX_DECIMAL_EXPONENT} s and "
                        f"2^-{ng.TSRESOL_MAX_BINARY_EXPONENT} s)",
                        offset,
                        packet,
                    )
            elif code == ng.IF_FCSLEN:
                if len(value) != 1:
                    self._fail(
                        f"if_fcslen option of length {len(value)} (expected 1)", offset, packet
                    )
                if fcslen is not None:
                    self._fail("if_fcslen option repeated", offset, packet)
                fcslen = value[0]
            elif code == ng.IF_TSOFFSET:
                if len(value) != 8:
                    self._fail(
                        f"if_tsoffset option of length {len(value)} (expected 8)", offset, packet
                    )
                if tsoffset is not None:
                    self._fail("if_tsoffset option repeated", offset, packet)
                tsoffset = _I64[order].unpack(value)[0]
            else:
                kept.append((code, value))
        section = self.sections[-1]
        interface = Interface(
            fields.linktype,
            id=len(self._ifstates),
            name=name,
            description=description,
            snaplen=fields.snaplen,
            tsresol=ng.DEFAULT_TSRESOL if tsresol is None else tsresol,
            fcslen=fcslen,
            tsoffset=tsoffset or 0,
            options=tuple(kept),
            section=section,
            offset=offset,
        )
        section.interfaces.append(interface)
        self.interfaces.append(interface)
        self._ifstates.append(_IfState.of(interface))

    def _interface(self, iid: int, offset: int, packet: int) -> _IfState:
        if iid >= len(self._ifstates):
            self._undeclared(iid, offset, packet)
        return self._ifstates[iid]

    def _read_packet_block(
        self, btype: int, buf: bytes, pos: int, blen: int, offset: int, packet: int
    ) -> Record:
        """A simple or obsolete packet block.  (EPBs of sane length take the hot loop.)"""
        order = self.byte_order
        end = pos + blen - 4
        comment: str | None = None
        flags: int | None = None
        options: RawOptions = ()
        warnings: list[str] = []
        if btype == ng.SPB:
            (orig,) = ng.U32_STRUCT[order].unpack_from(buf, pos + 8)
            state = self._interface(0, offset, packet)
            start = pos + 12
            wanted = min(orig, state.snap_limit)
            caplen = min(wanted, end - start)
            if caplen < wanted:
                warnings.append(SPB_SHORT)
            if caplen > state.max_caplen:
                self._too_long(caplen, state.max_caplen, state.interface, offset, packet)
            ts_ns = 0
            warnings.append(NO_TIMESTAMP)
        else:
            iid, drops, high, low, caplen, orig = ng.OPB_STRUCT[order].unpack_from(buf, pos + 8)
            state = self._interface(iid, offset, packet)
            if caplen > state.max_caplen:
                self._too_long(caplen, state.max_caplen, state.interface, offset, packet)
            start = pos + 28
            options_at = start + caplen + (-caplen & 3)
            if options_at > end:
                self._fail(
                    f"captured length {caplen} runs past the end of the packet block "
                    f"(room for {end - start} bytes)",
                    offset,
                    packet,
                )
            if options_at < end:
                comment, flags, options = self._packet_options(
                    buf, pos, options_at, end, offset, packet
                )
            # The OPB's drops count lives on as the EPB option that replaced it.
            options = options + ((ng.EPB_DROPCOUNT, _U64[order].pack(drops)),)
            ts_ns = state.ns(high, low)
        warnings.extend(length_warnings(caplen, orig, state.snap_limit))
        return Record(
            buf[start : start + caplen],
            ts_ns,
            state.interface,
            orig,
            comment,
            flags,
            packet,
            offset,
            tuple(warnings),
            options,
        )

    def _read_nrb(self, buf: bytes, pos: int, blen: int, offset: int, packet: int) -> None:
        order = self.byte_order
        schema = ng.SCHEMAS[order]["nrb_record"]
        end = pos + blen - 4
        at = pos + 8
        entries: list[NameResolution] = []
        while at < end:
            record_offset = offset + at - pos
            try:
                record = schema.parse(buf[at:end])
            except ConstructError:
                self._fail(
                    f"name resolution record at offset {record_offset} runs past the end "
                    "of its block",
                    offset,
                    packet,
                )
            at += 4 + record.record_length + (-record.record_length & 3)
            if record.record_type == ng.NRB_RECORD_END:
                break
            value = record.value
            address: str | None = None
            names: tuple[str, ...] = ()
            size = {ng.NRB_RECORD_IPV4: 4, ng.NRB_RECORD_IPV6: 16}.get(record.record_type)
            if size is not None:
                if len(value) < size:
                    self._fail(
                        f"name resolution record at offset {record_offset} holds "
                        f"{len(value)} bytes, too few for an address of {size}",
                        offset,
                        packet,
                    )
                address = str(ipaddress.ip_address(value[:size]))
                parts = value[size:].split(b"\0")
                if parts and parts[-1] == b"":
                    parts.pop()
                names = tuple(_text(part) for part in parts)
            entries.append(NameResolution(record.record_type, address, names, value, record_offset))
        self._options(buf, pos, at, end, offset, packet)
        self.name_resolution.extend(entries)

    def _read_isb(self, buf: bytes, pos: int, blen: int, offset: int, packet: int) -> None:
        order = self.byte_order
        fields = ng.SCHEMAS[order]["isb"].parse(buf[pos + 8 : pos + 20])
        state = self._interface(fields.interface_id, offset, packet)
        counters: dict[str, int] = {}
        times: dict[int, int] = {}
        comment: str | None = None
        kept: list[tuple[int, bytes]] = []
        for code, value in self._options(buf, pos, pos + 20, pos + blen - 4, offset, packet):
            if code == ng.OPT_COMMENT and comment is None:
                comment = _text(value)
            elif len(value) == 8 and code in (ng.ISB_STARTTIME, ng.ISB_ENDTIME):
                times[code] = state.ns(*_TIMESTAMP[order].unpack(value))
            elif len(value) == 8 and code in ng.ISB_COUNTERS:
                counters[ng.ISB_COUNTERS[code]] = _U64[order].unpack(value)[0]
            else:
                kept.append((code, value))
        self.statistics.append(
            InterfaceStatistics(
                state.interface,
                state.ns(fields.ts_high, fields.ts_low),
                starttime_ns=times.get(ng.ISB_STARTTIME),
                endtime_ns=times.get(ng.ISB_ENDTIME),
                counters=counters,
                comment=comment,
                options=tuple(kept),
                offset=offset,
            )
        )
