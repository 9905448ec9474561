"""Reading classic pcap: the file header, then one record header and its data per packet.

``PcapReading`` is the pcap half of ``CaptureReader``: ``reader.py`` recognises the magic number
and hands over to ``_open_pcap``, whose records ``_iter_pcap`` then hands out.  The format itself
(magic numbers, layouts, schemas) is described in ``pcap.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

from vxlankit.capture.pcap import (
    FILE_HEADER,
    FILE_HEADER_LEN,
    MODIFIED,
    RECORD_HEADER_STRUCT,
    PcapHeader,
    lt_linktype,
    lt_reserved1,
    max_caplen,
    unpack_modified_extra,
)
from vxlankit.capture.read_base import NS, ReaderBase, length_warnings, snap_limit_of
from vxlankit.capture.record import Interface, Record, Section


class PcapReading(ReaderBase):
    """Reads a pcap file: one section, one interface, a record header before every packet."""

    header: PcapHeader | None

    def _open_pcap(self, byte_order: str, variant: str) -> None:
        self.format = "pcap"
        self.byte_order = byte_order
        buf = self._buf
        avail = buf.fill(FILE_HEADER_LEN)
        if avail < FILE_HEADER_LEN:
            self._fail(
                f"file is shorter than its header ({avail} of {FILE_HEADER_LEN} bytes)", 0, None
            )
        fields = FILE_HEADER[byte_order].parse(buf.buf[:FILE_HEADER_LEN])
        buf.pos = FILE_HEADER_LEN
        if fields.version_major != 2:
            self._fail(
                f"unsupported pcap version {fields.version_major}.{fields.version_minor} "
                "(only 2.x exists)",
                4,
                None,
            )
        if lt_reserved1(fields.linktype):
            self._fail(
                f"link-type field 0x{fields.linktype:08x} has reserved bits "
                f"0x{lt_reserved1(fields.linktype):08x} set",
                20,
                None,
            )
        header = PcapHeader(
            variant,
            byte_order,
            version_major=fields.version_major,
            version_minor=fields.version_minor,
            thiszone=fields.thiszone,
            sigfigs=fields.sigfigs,
            snaplen=fields.snaplen,
            linktype_field=fields.linktype,
        )
        self.header = header
        section = Section(
            0, "pcap", byte_order, (header.version_major, header.version_minor), pcap_header=header
        )
        interface = Interface(
            lt_linktype(fields.linktype),
            snaplen=header.snaplen,
            tsresol=header.tsresol,
            fcslen=header.fcslen,
            section=section,
            offset=0,
        )
        section.interfaces.append(interface)
        self.sections.append(section)
        self.interfaces.append(interface)

    def _iter_pcap(self) -> Iterator[Record]:
        header = self.header
        assert header is not None
        src = self._buf
        interface = self.interfaces[0]
        order = header.byte_order
        hlen = header.record_header_len
        unpack_from = RECORD_HEADER_STRUCT[order].unpack_from
        maxcap = max_caplen(interface.linktype)
        snap_limit = snap_limit_of(header.snaplen)
        mult = NS // header.tsresol
        # Rare layouts take one extra branch per record instead of a loop of their own.
        modified = header.variant == MODIFIED
        swapped = header.lengths_swapped
        odd = modified or swapped
        extra = None
        number = 0
        buf, pos, base = src.buf, src.pos, src.base
        n = len(buf)
        while True:
            start = pos + hlen
            if start > n:
                src.pos = pos
                avail = src.fill(hlen, number + 1)
                buf, pos, base = src.buf, src.pos, src.base
                n = len(buf)
                if avail == 0:
                    return
                if avail < hlen:
                    self._fail(
                        f"truncated record header ({avail} of {hlen} bytes)",
                        base + pos,
                        number + 1,
                    )
                start = pos + hlen
            sec, frac, incl, orig = unpack_from(buf, pos)
            if odd:
                if swapped:
                    incl, orig = orig, incl
                if modified:
                    extra = unpack_modified_extra(buf, pos + 16, order)
            if incl > maxcap:
                self._too_long(incl, maxcap, interface, base + pos, number + 1)
            end = start + incl
            if end > n:
                src.pos = pos
                avail = src.fill(hlen + incl, number + 1)
                buf, pos, base = src.buf, src.pos, src.base
                n = len(buf)
                if avail < hlen + incl:
                    self._fail(
                        f"truncated record ({avail - hlen} of {incl} bytes of packet data)",
                        base + pos,
                        number + 1,
                    )
                start = pos + hlen
                end = start + incl
            number += 1
            yield Record(
                buf[start:end],
                sec * NS + frac * mult,
                interface,
                orig,
                None,
                None,
                number,
                base + pos,
                ()
                if incl <= orig and incl <= snap_limit
                else length_warnings(incl, orig, snap_limit),
                (),
                extra,
            )
            pos = end
