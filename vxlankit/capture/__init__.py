"""Capture files: read pcap and pcapng as a stream of records, write them back.

``open_capture`` and ``write_capture`` are the entry points; ``PcapWriter`` and ``PcapngWriter``
write packet by packet.  The format modules ``pcap`` and ``pcapng`` hold the Construct schemas;
``read_pcap`` and ``read_pcapng`` read one format each, ``read_base`` holds what they share.
"""

from vxlankit.capture.pcap import PcapHeader
from vxlankit.capture.reader import CaptureReader, open_capture
from vxlankit.capture.record import (
    CAPLEN_GT_ORIGLEN,
    CAPLEN_GT_SNAPLEN,
    Interface,
    InterfaceStatistics,
    NameResolution,
    Record,
    Section,
)
from vxlankit.capture.writer import PcapngWriter, PcapWriter, write_capture

__all__ = [
    "CAPLEN_GT_ORIGLEN",
    "CAPLEN_GT_SNAPLEN",
    "CaptureReader",
    "Interface",
    "InterfaceStatistics",
    "NameResolution",
    "PcapHeader",
    "PcapWriter",
    "PcapngWriter",
    "Record",
    "Section",
    "open_capture",
    "write_capture",
]
