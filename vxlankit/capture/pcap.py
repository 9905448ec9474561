"""The pcap ("libpcap savefile") format: constants, Construct schemas, and the file header.

File header, 24 bytes, every field in the byte order the magic number reveals::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
  0 |                          Magic Number                         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
  4 |          Major Version        |         Minor Version         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
  8 |                      thiszone (signed)                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 12 |                           sigfigs                             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 16 |                            SnapLen                            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 20 | FCS len |F|  reserved (0)     |           LinkType            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Magic numbers: 0xA1B2C3D4 (microsecond timestamps), 0xA1B23C4D (nanosecond), 0xA1B2CD34
(Alexey Kuznetzov's "modified" pcap, microsecond, 24-byte record headers).  Read as the bytes
``a1 b2 ..`` the file is big-endian; read as ``.. b2 a1`` it is little-endian.

Record header, 16 bytes (24 in the modified format), then ``incl_len`` bytes of packet data::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
  0 |                      Timestamp (seconds)                      |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
  4 |            Timestamp (microseconds or nanoseconds)            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
  8 |                 Captured packet length (incl_len)             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 12 |                 Original packet length (orig_len)             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    modified format only:
 16 |                    ifindex (file byte order)                  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 20 |   protocol (network order)    |   pkt_type    |      pad      |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

``protocol`` is Linux's ``skb->protocol``, which the patched libpcap copied as it sat in memory,
that is in network byte order whatever the host; it is therefore decoded big-endian.

The Construct schemas below are the reference.  The reader's hot loop unpacks record headers with
the ``struct.Struct`` objects beside them; ``tests/capture/test_schemas.py`` proves the two equal.
"""

from __future__ import annotations

import struct
from typing import Any

from construct import (
    Bytes,
    Int8ub,
    Int16ub,
    Int16ul,
    Int32sb,
    Int32sl,
    Int32ub,
    Int32ul,
    Struct,
    this,
)

MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D
MAGIC_MODIFIED = 0xA1B2CD34

# Variant names, as PcapHeader.variant and the writer use them.
USEC = "usec"
NSEC = "nsec"
MODIFIED = "modified"

VARIANT_MAGIC = {USEC: MAGIC_USEC, NSEC: MAGIC_NSEC, MODIFIED: MAGIC_MODIFIED}
VARIANT_TSRESOL = {USEC: 10**6, NSEC: 10**9, MODIFIED: 10**6}

# The first four bytes of a file -> (byte order, variant).
MAGICS: dict[bytes, tuple[str, str]] = {}
for _variant, _magic in VARIANT_MAGIC.items():
    MAGICS[_magic.to_bytes(4, "big")] = (">", _variant)
    MAGICS[_magic.to_bytes(4, "little")] = ("<", _variant)

FILE_HEADER_LEN = 24
RECORD_HEADER_LEN = 16
MODIFIED_RECORD_HEADER_LEN = 24
VERSION_MAJOR = 2
VERSION_MINOR = 4

# libpcap's pcap/pcap.h macros on the header's 32-bit link-type word.
LT_LINKTYPE_MASK = 0x0000FFFF
LT_RESERVED1_MASK = 0x03FF0000
LT_FCS_LENGTH_PRESENT_MASK = 0x04000000
LT_FCS_LENGTH_MASK = 0xF0000000


def lt_linktype(x: int) -> int:
    return x & LT_LINKTYPE_MASK


def lt_reserved1(x: int) -> int:
    return x & LT_RESERVED1_MASK


def lt_fcs_length_present(x: int) -> bool:
    return bool(x & LT_FCS_LENGTH_PRESENT_MASK)


def lt_fcs_length(x: int) -> int:
    """The FCS length field, in 16-bit words (pcap-savefile(5))."""
    return (x & LT_FCS_LENGTH_MASK) >> 28


def lt_fcs_datalink_ext(words: int) -> int:
    return ((words & 0xF) << 28) | LT_FCS_LENGTH_PRESENT_MASK


# Captured lengths beyond these are refused before any byte of the packet is read.  The numbers
# are Wireshark's (wtap.h WTAP_MAX_PACKET_SIZE_*): 256 KiB for every link type but a few whose
# packets really are larger.
MAX_CAPLEN_STANDARD = 262144
MAX_CAPLEN_BY_LINKTYPE = {
    231: 128 * 1024 * 1024,  # LINKTYPE_DBUS
    249: 128 * 1024 * 1024,  # LINKTYPE_USBPCAP
    279: 8 * 1024 * 1024,  # LINKTYPE_EBHSCR
}


def max_caplen(linktype: int) -> int:
    return MAX_CAPLEN_BY_LINKTYPE.get(linktype, MAX_CAPLEN_STANDARD)


def _file_header(u16: Any, u32: Any, s32: Any) -> Any:
    return Struct(
        "magic" / u32,
        "version_major" / u16,
        "version_minor" / u16,
        "thiszone" / s32,
        "sigfigs" / u32,
        "snaplen" / u32,
        "linktype" / u32,
    )


def _record_header(u32: Any) -> Any:
    return Struct("ts_sec" / u32, "ts_frac" / u32, "incl_len" / u32, "orig_len" / u32)


def _modified_record_header(u32: Any) -> Any:
    return Struct(
        "ts_sec" / u32,
        "ts_frac" / u32,
        "incl_len" / u32,
        "orig_len" / u32,
        "ifindex" / u32,
        "protocol" / Int16ub,
        "pkt_type" / Int8ub,
        "pad" / Int8ub,
    )


FILE_HEADER = {
    "<": _file_header(Int16ul, Int32ul, Int32sl),
    ">": _file_header(Int16ub, Int32ub, Int32sb),
}
RECORD_HEADER = {"<": _record_header(Int32ul), ">": _record_header(Int32ub)}
MODIFIED_RECORD_HEADER = {
    "<": _modified_record_header(Int32ul),
    ">": _modified_record_header(Int32ub),
}
# The whole of one record, for reference and tests (the reader never parses bodies with it).
RECORD = {
    order: Struct("header" / RECORD_HEADER[order], "data" / Bytes(this.header.incl_len))
    for order in "<>"
}

# Hot-path twin of RECORD_HEADER (same fields, same order).
RECORD_HEADER_STRUCT = {order: struct.Struct(order + "IIII") for order in "<>"}

# The modified header's extra 8 bytes mix byte orders, which one struct format cannot express.
_IFINDEX_STRUCT = {order: struct.Struct(order + "I") for order in "<>"}
_PROTOCOL_TYPE_PAD_STRUCT = struct.Struct(">HBB")


def unpack_modified_extra(buf: bytes, pos: int, byte_order: str) -> tuple[int, int, int, int]:
    """(ifindex, protocol, pkt_type, pad) from the 8 bytes at ``pos``."""
    (ifindex,) = _IFINDEX_STRUCT[byte_order].unpack_from(buf, pos)
    protocol, pkt_type, pad = _PROTOCOL_TYPE_PAD_STRUCT.unpack_from(buf, pos + 4)
    return ifindex, protocol, pkt_type, pad


def pack_modified_extra(byte_order: str, extra: tuple[int, int, int, int]) -> bytes:
    ifindex, protocol, pkt_type, pad = extra
    return _IFINDEX_STRUCT[byte_order].pack(ifindex) + _PROTOCOL_TYPE_PAD_STRUCT.pack(
        protocol, pkt_type, pad
    )


class PcapHeader:
    """A parsed pcap file header, kept whole so that a writer can reproduce it byte for byte."""

    __slots__ = (
        "variant",
        "byte_order",
        "version_major",
        "version_minor",
        "thiszone",
        "sigfigs",
        "snaplen",
        "linktype_field",
    )

    def __init__(
        self,
        variant: str = USEC,
        byte_order: str = "<",
        *,
        version_major: int = VERSION_MAJOR,
        version_minor: int = VERSION_MINOR,
        thiszone: int = 0,
        sigfigs: int = 0,
        snaplen: int = 262144,
        linktype_field: int = 1,
    ) -> None:
        self.variant = variant
        self.byte_order = byte_order
        self.version_major = version_major
        self.version_minor = version_minor
        self.thiszone = thiszone
        self.sigfigs = sigfigs
        self.snaplen = snaplen
        self.linktype_field = linktype_field

    @property
    def magic(self) -> int:
        return VARIANT_MAGIC[self.variant]

    @property
    def linktype(self) -> int:
        return lt_linktype(self.linktype_field)

    @property
    def fcslen(self) -> int | None:
        """FCS length in bytes when the header declares one, else ``None`` (unknown)."""
        if lt_fcs_length_present(self.linktype_field):
            return 2 * lt_fcs_length(self.linktype_field)
        return None

    @property
    def tsresol(self) -> int:
        return VARIANT_TSRESOL[self.variant]

    @property
    def record_header_len(self) -> int:
        return MODIFIED_RECORD_HEADER_LEN if self.variant == MODIFIED else RECORD_HEADER_LEN

    @property
    def lengths_swapped(self) -> bool:
        """Before version 2.3, libpcap wrote orig_len before incl_len."""
        return self.version_major == 2 and self.version_minor < 3

    def build(self) -> bytes:
        data: bytes = FILE_HEADER[self.byte_order].build(
            {
                "magic": self.magic,
                "version_major": self.version_major,
                "version_minor": self.version_minor,
                "thiszone": self.thiszone,
                "sigfigs": self.sigfigs,
                "snaplen": self.snaplen,
                "linktype": self.linktype_field,
            }
        )
        return data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PcapHeader):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in self.__slots__))

    def __repr__(self) -> str:
        return (
            f"PcapHeader({self.variant}, {self.byte_order!r}, "
            f"{self.version_major}.{self.version_minor}, snaplen={self.snaplen}, "
            f"linktype=0x{self.linktype_field:08x})"
        )
