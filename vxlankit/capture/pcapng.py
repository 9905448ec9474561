"""The pcapng format: constants, Construct schemas, option walking, timestamp resolutions.

Every block has the same frame; the body depends on the block type::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +---------------------------------------------------------------+
  0 |                          Block Type                           |
    +---------------------------------------------------------------+
  4 |                      Block Total Length                       |
    +---------------------------------------------------------------+
  8 /                          Block Body                           /
    /              variable length, padded to 32 bits               /
    +---------------------------------------------------------------+
    |                      Block Total Length                       |
    +---------------------------------------------------------------+

Section Header Block (type 0x0A0D0D0A, a palindrome, so it reads the same in both orders;
the byte-order magic 0x1A2B3C4D decides the byte order of the whole section)::

  8 |                      Byte-Order Magic                         |
 12 |          Major Version        |         Minor Version         |
 16 |                 Section Length (64 bits, signed)              |
 24 /                      Options (variable)                       /

Interface Description Block (type 1)::

  8 |           LinkType            |           Reserved            |
 12 |                            SnapLen                            |
 16 /                      Options (variable)                       /

Enhanced Packet Block (type 6)::

  8 |                         Interface ID                          |
 12 |                      Timestamp (High)                         |
 16 |                      Timestamp (Low)                          |
 20 |                    Captured Packet Length                     |
 24 |                    Original Packet Length                     |
 28 /                Packet Data, padded to 32 bits                 /
    /                      Options (variable)                       /

Obsolete Packet Block (type 2): as the EPB but the interface ID is 16 bits followed by a 16-bit
drops count.  Simple Packet Block (type 3): Original Packet Length then the data, no options; it
belongs to interface 0 and its captured length is min(orig_len, snaplen, room in the block).
Name Resolution Block (type 4): records (type 16, length 16, value padded) ending with type 0,
then options.  Interface Statistics Block (type 5): Interface ID, Timestamp (High), Timestamp
(Low), then options.

An option::

    |         Option Code           |         Option Length         |
    /              Option Value, padded to 32 bits                  /

The options end with opt_endofopt (code 0) or with the block; bytes after opt_endofopt are ignored,
as Wireshark does.  An option that does not fit in what is left of the block is an error.

The Construct schemas are the reference.  The reader's hot paths (block headers, packet block
headers, options) use the ``struct.Struct`` twins and ``walk_options``;
``tests/capture/test_schemas.py`` proves them equal to the schemas.
"""

from __future__ import annotations

import struct
from typing import Any

from construct import (
    Bytes,
    GreedyBytes,
    GreedyRange,
    Int16ub,
    Int16ul,
    Int32ub,
    Int32ul,
    Int64sb,
    Int64sl,
    Struct,
    this,
)

# Block types.
SHB = 0x0A0D0D0A
IDB = 0x00000001
OPB = 0x00000002
SPB = 0x00000003
NRB = 0x00000004
ISB = 0x00000005
EPB = 0x00000006
BLOCK_NAMES = {
    SHB: "section header block",
    IDB: "interface description block",
    OPB: "packet block",
    SPB: "simple packet block",
    NRB: "name resolution block",
    ISB: "interface statistics block",
    EPB: "enhanced packet block",
}

SHB_MAGIC_BYTES = SHB.to_bytes(4, "big")
BYTE_ORDER_MAGIC = 0x1A2B3C4D
VERSION_MAJOR = 1
VERSION_MINOR = 0

BLOCK_HEADER_LEN = 8
BLOCK_TRAILER_LEN = 4
MIN_BLOCK_LEN = BLOCK_HEADER_LEN + BLOCK_TRAILER_LEN
# Wireshark refuses blocks beyond 16 MiB too; it bounds what one block may make us allocate.
MAX_BLOCK_LEN = 16 * 1024 * 1024
# Smallest total length of each block type: frame + fixed part of the body.
MIN_LEN = {SHB: 28, IDB: 20, OPB: 32, SPB: 16, NRB: 12, ISB: 24, EPB: 32}

# Options every block may carry.
OPT_ENDOFOPT = 0
OPT_COMMENT = 1
OPT_CUSTOM = frozenset({2988, 2989, 19372, 19373})
# Section header block options.
SHB_HARDWARE = 2
SHB_OS = 3
SHB_USERAPPL = 4
# Interface description block options.
IF_NAME = 2
IF_DESCRIPTION = 3
IF_IPV4ADDR = 4
IF_IPV6ADDR = 5
IF_MACADDR = 6
IF_EUIADDR = 7
IF_SPEED = 8
IF_TSRESOL = 9
IF_TZONE = 10
IF_FILTER = 11
IF_OS = 12
IF_FCSLEN = 13
IF_TSOFFSET = 14
IF_HARDWARE = 15
IF_TXSPEED = 16
IF_RXSPEED = 17
# Enhanced packet block options (the obsolete packet block's pack_flags/pack_hash are 2 and 3).
EPB_FLAGS = 2
EPB_HASH = 3
EPB_DROPCOUNT = 4
EPB_PACKETID = 5
EPB_QUEUE = 6
EPB_VERDICT = 7
# Name resolution block records and options.
NRB_RECORD_END = 0
NRB_RECORD_IPV4 = 1
NRB_RECORD_IPV6 = 2
# Interface statistics block options.
ISB_STARTTIME = 2
ISB_ENDTIME = 3
ISB_COUNTERS = {4: "ifrecv", 5: "ifdrop", 6: "filteraccept", 7: "osdrop", 8: "usrdeliv"}

# Options whose value is one integer of this many bytes, by block type: the only raw options
# whose bytes change when a block is written in the other byte order.
INTEGER_OPTIONS: dict[int, dict[int, int]] = {
    IDB: {IF_SPEED: 8, IF_TZONE: 4, IF_TXSPEED: 8, IF_RXSPEED: 8},
    EPB: {EPB_DROPCOUNT: 8, EPB_PACKETID: 8, EPB_QUEUE: 4},
}
# Options made of bytes or text, the same in either byte order.
BYTE_OPTIONS: dict[int, frozenset[int]] = {
    SHB: frozenset({OPT_COMMENT, SHB_HARDWARE, SHB_OS, SHB_USERAPPL}),
    IDB: frozenset(
        {
            OPT_COMMENT,
            IF_NAME,
            IF_DESCRIPTION,
            IF_IPV4ADDR,
            IF_IPV6ADDR,
            IF_MACADDR,
            IF_EUIADDR,
            IF_FILTER,
            IF_OS,
            IF_HARDWARE,
        }
    ),
    EPB: frozenset({OPT_COMMENT, EPB_HASH, EPB_VERDICT}),
}

# if_tsresol: 10**-n or 2**-n seconds.  Wireshark's bounds: beyond 10**-19 or 2**-63 a 64-bit
# tick count spans less than a second, so no real capture can use them.
DEFAULT_TSRESOL = 10**6
TSRESOL_MAX_DECIMAL_EXPONENT = 19
TSRESOL_MAX_BINARY_EXPONENT = 63


def tsresol_from_option(value: int) -> int | None:
    """Ticks per second for an if_tsresol byte, or ``None`` when it is out of range."""
    exponent = value & 0x7F
    if value & 0x80:
        return 1 << exponent if exponent <= TSRESOL_MAX_BINARY_EXPONENT else None
    return 10**exponent if exponent <= TSRESOL_MAX_DECIMAL_EXPONENT else None


def tsresol_to_option(tsresol: int) -> int | None:
    """The if_tsresol byte for ``tsresol`` ticks per second, or ``None`` if it has none."""
    if tsresol >= 1:
        exponent = 0
        value = 1
        while value < tsresol and exponent <= TSRESOL_MAX_DECIMAL_EXPONENT:
            value *= 10
            exponent += 1
        if value == tsresol and exponent <= TSRESOL_MAX_DECIMAL_EXPONENT:
            return exponent
        exponent = tsresol.bit_length() - 1
        if tsresol == 1 << exponent and exponent <= TSRESOL_MAX_BINARY_EXPONENT:
            return 0x80 | exponent
    return None


def _schemas(u16: Any, u32: Any, s64: Any) -> dict[str, Any]:
    option = Struct(
        "code" / u16,
        "length" / u16,
        "value" / Bytes(this.length),
        "padding" / Bytes((-this.length) % 4),
    )
    return {
        "block_header": Struct("block_type" / u32, "block_total_length" / u32),
        "block": Struct(
            "block_type" / u32,
            "block_total_length" / u32,
            "body" / Bytes(this.block_total_length - MIN_BLOCK_LEN),
            "block_total_length_trailer" / u32,
        ),
        "shb": Struct(
            "byte_order_magic" / u32,
            "major_version" / u16,
            "minor_version" / u16,
            "section_length" / s64,
        ),
        "idb": Struct("linktype" / u16, "reserved" / u16, "snaplen" / u32),
        "epb": Struct(
            "interface_id" / u32,
            "ts_high" / u32,
            "ts_low" / u32,
            "cap_len" / u32,
            "orig_len" / u32,
        ),
        "opb": Struct(
            "interface_id" / u16,
            "drops_count" / u16,
            "ts_high" / u32,
            "ts_low" / u32,
            "cap_len" / u32,
            "orig_len" / u32,
        ),
        "spb": Struct("orig_len" / u32),
        "isb": Struct("interface_id" / u32, "ts_high" / u32, "ts_low" / u32),
        "nrb_record": Struct(
            "record_type" / u16,
            "record_length" / u16,
            "value" / Bytes(this.record_length),
            "padding" / Bytes((-this.record_length) % 4),
        ),
        "option": option,
        # What parse_options_reference starts from: every option that parses, then the rest.
        "options": Struct("options" / GreedyRange(option), "rest" / GreedyBytes),
    }


SCHEMAS: dict[str, dict[str, Any]] = {
    "<": _schemas(Int16ul, Int32ul, Int64sl),
    ">": _schemas(Int16ub, Int32ub, Int64sb),
}

# Hot-path twins of the schemas (same fields, same order).
BLOCK_HEADER_STRUCT = {order: struct.Struct(order + "II") for order in "<>"}
U32_STRUCT = {order: struct.Struct(order + "I") for order in "<>"}
EPB_STRUCT = {order: struct.Struct(order + "IIIII") for order in "<>"}
# Block header + EPB header, as the reader's hot loop takes them in one call.
EPB_HEAD_STRUCT = {order: struct.Struct(order + "IIIIIII") for order in "<>"}
OPB_STRUCT = {order: struct.Struct(order + "HHIIII") for order in "<>"}
OPTION_HEADER_STRUCT = {order: struct.Struct(order + "HH") for order in "<>"}


class OptionError(Exception):
    """An option that does not fit in its block; ``offset`` is where the option starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def walk_options(buf: bytes, start: int, end: int, byte_order: str) -> list[tuple[int, bytes]]:
    """The options in ``buf[start:end]`` as (code, value) pairs, opt_endofopt excluded.

    Raises ``OptionError`` (with the absolute position in ``buf``) when an option header or value
    runs past ``end``.  Equal to ``parse_options_reference`` on every input.
    """
    unpack = OPTION_HEADER_STRUCT[byte_order].unpack_from
    options: list[tuple[int, bytes]] = []
    pos = start
    while pos < end:
        if pos + 4 > end:
            raise OptionError(
                f"option header runs past the end of the block ({end - pos} bytes left)", pos
            )
        code, length = unpack(buf, pos)
        next_pos = pos + 4 + length + (-length & 3)
        if next_pos > end:
            raise OptionError(
                f"option {code} of length {length} runs past the end of the block "
                f"({end - pos - 4} bytes left)",
                pos,
            )
        if code == OPT_ENDOFOPT:
            break
        options.append((code, buf[pos + 4 : pos + 4 + length]))
        pos = next_pos
    return options


def parse_options_reference(data: bytes, byte_order: str) -> list[tuple[int, bytes]] | None:
    """The Construct reading of an options area; ``None`` where walk_options raises."""
    parsed = SCHEMAS[byte_order]["options"].parse(data)
    options: list[tuple[int, bytes]] = []
    for option in parsed.options:
        if option.code == OPT_ENDOFOPT:
            return options
        options.append((option.code, option.value))
    return None if parsed.rest else options


def build_options(byte_order: str, options: list[tuple[int, bytes]]) -> bytes:
    """The options area for ``options``, with opt_endofopt, or nothing when there are none."""
    if not options:
        return b""
    pack = OPTION_HEADER_STRUCT[byte_order].pack
    parts = []
    for code, value in options:
        parts.append(pack(code, len(value)))
        parts.append(value)
        parts.append(b"\0" * (-len(value) & 3))
    parts.append(pack(OPT_ENDOFOPT, 0))
    return b"".join(parts)


def swap_option(block_type: int, code: int, value: bytes) -> bytes | None:
    """``value`` as it reads in the other byte order, or ``None`` if its layout is unknown."""
    if code in BYTE_OPTIONS.get(block_type, ()):
        return value
    width = INTEGER_OPTIONS.get(block_type, {}).get(code)
    if width is not None and len(value) == width:
        return value[::-1]
    if code in OPT_CUSTOM and len(value) >= 4:
        # Custom options start with a Private Enterprise Number in the section's byte order;
        # what follows is the enterprise's own and stays as it is.
        return value[3::-1] + value[4:]
    return None
