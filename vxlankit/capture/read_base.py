"""What the pcap and the pcapng reading share: the reader's state, errors, record warnings.

``ReaderBase`` declares the state both formats read into and report from; ``read_pcap`` and
``read_pcapng`` each add the reading of one format to it, and ``reader.CaptureReader`` puts the
two together behind ``open_capture``.  Every fault is raised through ``_fail``, as a
``CaptureError`` with the file's path, the number of the packet being read and an offset.
"""

from __future__ import annotations

from typing import NoReturn

from vxlankit.capture._io import ReadBuffer
from vxlankit.capture.record import CAPLEN_GT_ORIGLEN, CAPLEN_GT_SNAPLEN, Interface, Section
from vxlankit.errors import CaptureError

NS = 1_000_000_000


def snap_limit_of(snaplen: int) -> int:
    """A snaplen of 0 means "no limit"; past every 32-bit length is the same thing."""
    return snaplen or 1 << 32


def length_warnings(cap_len: int, orig_len: int, snap_limit: int) -> tuple[str, ...]:
    """The warnings of a record whose captured length exceeds its snaplen or its length."""
    found = []
    if cap_len > snap_limit:
        found.append(CAPLEN_GT_SNAPLEN)
    if cap_len > orig_len:
        found.append(CAPLEN_GT_ORIGLEN)
    return tuple(found)


class ReaderBase:
    """The state a capture reader shares between its formats (set in ``CaptureReader``), and
    how it reports damage."""

    path: str
    _buf: ReadBuffer
    format: str
    byte_order: str
    sections: list[Section]
    interfaces: list[Interface]

    def _fail(self, message: str, offset: int | None, packet: int | None) -> NoReturn:
        raise CaptureError(message, path=self.path, packet=packet, offset=offset)

    def _too_long(
        self, caplen: int, maxcap: int, interface: Interface, offset: int, packet: int
    ) -> NoReturn:
        self._fail(
            f"captured length {caplen} exceeds the maximum {maxcap} "
            f"for link type {interface.linktype}",
            offset,
            packet,
        )
