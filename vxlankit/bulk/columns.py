"""The bulk column set: names, types, the reference row of a decoded packet, and column storage.

Every column is named after a Wireshark field (``tshark -G fields``); an inner occurrence carries
Wireshark's ``#2`` suffix (``ip.src#2`` is the second ``ip.src`` in the packet, the inner IP of a
VXLAN frame).  A field that has no value in a packet is null, never a placeholder.  The few
columns Wireshark has no field for are vxlankit's own and say so in their description.

:func:`row_from_packet` is the definition of every decoded column: it reads a rich
:class:`~vxlankit.packet.Packet`.  The vectorised decoder in :mod:`vxlankit.bulk.fast` must
produce exactly what this function gives for every packet it handles; the test-suite checks it
packet by packet, and the decoder hands every packet it cannot handle to the rich codec and this
function.

Values are held in numpy arrays while a batch is decoded (``ColumnBatch``) and turned into one
Arrow record batch at the end, with addresses formatted by table lookups rather than per-packet
Python strings.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vxlankit.bulk._deps import require
from vxlankit.bulk._numpy import np, npt
from vxlankit.layers.registry import LAYERS, frame_protocols, split_occurrence
from vxlankit.layers.spec import ETHER as ETHER_FIELD
from vxlankit.layers.spec import IPV4 as IPV4_FIELD
from vxlankit.layers.spec import Field
from vxlankit.packet import MALFORMED, OK, TRUNCATED, Packet

# Column kinds: how a column is stored while decoding and which Arrow type it becomes.
U8, U16, U32, U64 = "uint8", "uint16", "uint32", "uint64"
TIME = "time"  # integer nanoseconds since the epoch -> timestamp[ns, UTC]
MAC = "mac"  # six bytes -> "00:16:3e:08:71:cf"
IPV4 = "ipv4"  # 32-bit big-endian value -> dotted quad
TEXT = "text"  # a short string drawn from few distinct values

_INT_DTYPES = {U8: np.uint8, U16: np.uint16, U32: np.uint32, U64: np.uint64}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    nullable: bool
    description: str


def _c(name: str, kind: str, description: str, nullable: bool = True) -> Column:
    return Column(name, kind, nullable, description)


def _kind(field: Field) -> str:
    if field.type == ETHER_FIELD:
        return MAC
    if field.type == IPV4_FIELD:
        return IPV4
    size = field.span[1] if field.span is not None else 4
    return U8 if size == 1 else U16 if size == 2 else U32


# Columns a layer's spec asks for (``Field.column``): the first occurrence of the field.  The
# columns above them are the original hand-made set, with outer and inner occurrences.
_REGISTRY_COLUMNS: tuple[Column, ...] = tuple(
    _c(f.name, _kind(f), f.column) for spec in LAYERS for f in spec.fields if f.column)

COLUMNS: tuple[Column, ...] = (
    _c("frame.number", U64, "record number in its capture file, from 1", False),
    _c("frame.time_epoch", TIME, "capture timestamp (UTC, nanosecond resolution)", False),
    _c("frame.len", U32, "length of the packet on the wire (the record's orig_len)", False),
    _c("frame.cap_len", U32, "bytes captured", False),
    _c("frame.interface_id", U32, "capture interface (pcapng IDB index in its section)", False),
    _c("frame.interface_name", TEXT, "the capture interface's name (pcapng if_name: the tap "
       "of a multi-tap capture); null when the capture names none, as for classic pcap"),
    _c("frame.protocols", TEXT, "the protocol stack in tshark's spelling (e.g. "
       "eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:icmp:data)", False),
    _c("eth.dst", MAC, "outer destination MAC"),
    _c("eth.src", MAC, "outer source MAC"),
    _c("eth.type", U16, "outer EtherType (null for an 802.3 length field)"),
    _c("vlan.id", U16, "the first 802.1Q tag's VLAN ID (outer frame, or the inner frame "
       "where only it is tagged)"),
    _c("ip.src", IPV4, "outer (first) IPv4 source: the sending VTEP of a VXLAN frame"),
    _c("ip.dst", IPV4, "outer IPv4 destination: the receiving VTEP"),
    _c("ip.proto", U8, "outer IPv4 protocol"),
    _c("ip.checksum.status", U8, "outer IPv4 header checksum: 0 bad, 1 good, 2 unverified"),
    _c("udp.srcport", U16, "outer UDP source port"),
    _c("udp.dstport", U16, "outer UDP destination port (4789 for VXLAN)"),
    _c("udp.checksum.status", U8, "outer UDP checksum: 0 bad, 1 good, 2 unverified, "
       "3 not present (zero)"),
    _c("vxlan.flags", U16, "VXLAN flags (16 bits; 8 bits for VXLAN-GPE)"),
    _c("vxlan.gbp", U16, "VXLAN group policy ID (GBP); reserved bits without the G flag"),
    _c("vxlan.vni", U32, "VXLAN network identifier"),
    _c("eth.dst#2", MAC, "inner destination MAC"),
    _c("eth.src#2", MAC, "inner source MAC"),
    _c("eth.type#2", U16, "inner EtherType"),
    _c("ip.src#2", IPV4, "inner IPv4 source"),
    _c("ip.dst#2", IPV4, "inner IPv4 destination"),
    _c("ip.proto#2", U8, "inner IPv4 protocol"),
    _c("ip.checksum.status#2", U8, "inner IPv4 header checksum status"),
    _c("udp.srcport#2", U16, "inner UDP source port (UDP inside the tunnel)"),
    _c("udp.dstport#2", U16, "inner UDP destination port"),
    _c("arp.opcode", U16, "ARP opcode (1 request, 2 reply)"),
    _c("arp.src.hw_mac", MAC, "ARP sender MAC"),
    _c("arp.src.proto_ipv4", IPV4, "ARP sender IPv4 address"),
    _c("arp.dst.hw_mac", MAC, "ARP target MAC"),
    _c("arp.dst.proto_ipv4", IPV4, "ARP target IPv4 address"),
    _c("icmp.type", U8, "ICMP type"),
    _c("icmp.code", U8, "ICMP code"),
    _c("icmp.ident", U16, "ICMP echo identifier (echo request/reply only)"),
    _c("icmp.seq", U16, "ICMP echo sequence number (echo request/reply only)"),
    _c("icmp.checksum.status", U8, "ICMP checksum status"),
    *_REGISTRY_COLUMNS,
    _c("vxlankit.status", TEXT, "vxlankit's own: worst layer status: ok, truncated "
       "(the capture cut the packet short) or malformed", False),
    _c("vxlankit.errors", TEXT, "vxlankit's own: the decoder's problem reports, joined "
       "with ' | '; null when there are none"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
# Columns filled from the capture record rather than from the decoded packet.
FRAME_COLUMNS = ("frame.number", "frame.time_epoch", "frame.len", "frame.cap_len",
                 "frame.interface_id", "frame.interface_name")
DECODED_COLUMNS: tuple[Column, ...] = tuple(c for c in COLUMNS if c.name not in FRAME_COLUMNS)


_PACKET_FIELDS = tuple(
    (c.name, *split_occurrence(c.name)) for c in DECODED_COLUMNS
    if not c.name.startswith("vxlankit.") and c.name != "frame.protocols"
)


def packet_status(packet: Packet) -> str:
    statuses = {layer.status for layer in packet.layers}
    if MALFORMED in statuses:
        return MALFORMED
    if TRUNCATED in statuses:
        return TRUNCATED
    return OK


def row_from_packet(packet: Packet) -> dict[str, Any]:
    """The decoded columns of one packet, as Python values (the reference definition).

    Addresses are the strings the rich decoder gives (Wireshark's formatting); a field the
    packet does not have is ``None``.
    """
    row: dict[str, Any] = {"frame.protocols": frame_protocols(packet)}
    values: dict[str, list[Any]] = {}
    for layer in packet.layers:
        for key, value in layer.fields.items():
            values.setdefault(key, []).append(value)
    for name, base, occurrence in _PACKET_FIELDS:
        found = values.get(base)
        row[name] = found[occurrence - 1] if found is not None and len(found) >= occurrence \
            else None
    row["vxlankit.status"] = packet_status(packet)
    row["vxlankit.errors"] = " | ".join(packet.errors) if packet.errors else None
    return row


def arrow_type(column: Column) -> Any:
    pa = require("pyarrow")
    if column.kind in _INT_DTYPES:
        return pa.from_numpy_dtype(np.dtype(_INT_DTYPES[column.kind]))
    if column.kind == TIME:
        return pa.timestamp("ns", tz="UTC")
    return pa.dictionary(pa.int32(), pa.string())


def arrow_schema() -> Any:
    """The Arrow schema of every batch the bulk path produces (see docs/export.md)."""
    pa = require("pyarrow")
    return pa.schema([pa.field(c.name, arrow_type(c), nullable=c.nullable) for c in COLUMNS])


# ------------------------------------------------------------------------------ storage


class ColumnBatch:
    """Columns of ``n`` packets under construction.

    Integer columns are arrays with a validity mask; MAC columns ``(n, 6)`` byte arrays; IPv4
    columns 32-bit values; text columns indices into ``strings`` (-1 for null), which keeps
    the Python string objects to one per distinct value rather than one per packet.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.values: dict[str, npt.NDArray[Any]] = {}
        self.valid: dict[str, npt.NDArray[np.bool_]] = {}
        self.strings: list[str] = []
        self._string_index: dict[str, int] = {}
        for column in COLUMNS:
            kind = column.kind
            if kind in _INT_DTYPES:
                self.values[column.name] = np.zeros(n, _INT_DTYPES[kind])
            elif kind == TIME:
                self.values[column.name] = np.zeros(n, np.int64)
            elif kind == MAC:
                self.values[column.name] = np.zeros((n, 6), np.uint8)
            elif kind == IPV4:
                self.values[column.name] = np.zeros(n, np.uint32)
            else:
                self.values[column.name] = np.full(n, -1, np.int32)
            if kind != TEXT:
                self.valid[column.name] = np.zeros(n, np.bool_)

    def string_id(self, text: str) -> int:
        found = self._string_index.get(text)
        if found is None:
            found = self._string_index[text] = len(self.strings)
            self.strings.append(_utf8(text))
        return found

    def clear_rows(self, rows: npt.NDArray[np.intp]) -> None:
        """Forget whatever was written for ``rows`` (before they are filled another way)."""
        for column in DECODED_COLUMNS:
            if column.kind == TEXT:
                self.values[column.name][rows] = -1
            else:
                self.valid[column.name][rows] = False

    def set_row(self, i: int, row: dict[str, Any]) -> None:
        """Store a reference row (from :func:`row_from_packet`) at index ``i``."""
        for column in DECODED_COLUMNS:
            value = row[column.name]
            name = column.name
            if column.kind == TEXT:
                self.values[name][i] = -1 if value is None else self.string_id(value)
                continue
            if value is None:
                self.valid[name][i] = False
                continue
            if column.kind == MAC:
                self.values[name][i] = np.frombuffer(bytes.fromhex(value.replace(":", "")),
                                                     np.uint8)
            elif column.kind == IPV4:
                self.values[name][i] = int.from_bytes(socket.inet_aton(value), "big")
            else:
                self.values[name][i] = value
            self.valid[name][i] = True

    def to_arrow(self, schema: Any = None) -> Any:
        """One ``pyarrow.RecordBatch`` in the column order of :data:`COLUMNS`."""
        pa = require("pyarrow")
        schema = schema if schema is not None else arrow_schema()
        table = pa.array(self.strings, pa.string())
        arrays = []
        for column in COLUMNS:
            name = column.name
            values = self.values[name]
            if column.kind == TEXT:
                indices = pa.array(values, mask=values < 0) if column.nullable else pa.array(values)
                arrays.append(pa.DictionaryArray.from_arrays(indices, table))
                continue
            valid = self.valid.get(name)
            if column.kind == TIME:
                arrays.append(pa.array(values, pa.timestamp("ns", tz="UTC")))
            elif column.kind == MAC:
                arrays.append(_mac_strings(pa, values, valid))
            elif column.kind == IPV4:
                arrays.append(_ipv4_strings(pa, values, valid))
            elif column.nullable:
                assert valid is not None
                arrays.append(pa.array(values, mask=~valid))
            else:
                arrays.append(pa.array(values))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)


# Formatting addresses.  A batch of VXLAN traffic holds few distinct addresses (VTEPs,
# endpoints, gateways), so each column is reduced to its distinct values with Arrow's hash
# kernel, only those are formatted, and the column stays dictionary-encoded: formatting and
# materialising a string per packet would cost more than decoding the packet did.  A column
# with many distinct values (a scan) has its dictionary formatted by table lookups rather
# than a Python call per value.
_FEW = 2048


def _utf8(text: str) -> str:
    """``text`` as valid UTF-8: the bytes of a capture's text that were not UTF-8 (read with
    surrogateescape, as a damaged interface name) become ``\\xNN``, as the CLI prints them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _mac_strings(pa: Any, macs: npt.NDArray[np.uint8], valid: npt.NDArray[np.bool_] | None
                 ) -> Any:
    """``(n, 6)`` bytes -> Arrow strings ``"xx:xx:xx:xx:xx:xx"``.  The bytes are handed to
    Arrow as they are, as six-byte binary values, for its hash kernel to find the distinct
    ones."""
    n = len(macs)
    bitmap = None if valid is None or valid.all() else pa.py_buffer(
        np.packbits(valid, bitorder="little"))
    raw = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(6), n, [bitmap, pa.py_buffer(np.ascontiguousarray(macs))])
    return _encoded(pa, raw, lambda value: value.hex(":"), _mac_table_from_bytes)


def _ipv4_strings(pa: Any, addrs: npt.NDArray[np.uint32], valid: npt.NDArray[np.bool_] | None
                  ) -> Any:
    """32-bit values -> dotted quads."""
    mask = None if valid is None or valid.all() else ~valid
    return _encoded(pa, pa.array(addrs, mask=mask),
                    lambda value: socket.inet_ntoa(value.to_bytes(4, "big")), _ipv4_table)


def _encoded(pa: Any, raw: Any, one: Any, table: Any) -> Any:
    """``raw`` dictionary-encoded, its distinct values formatted by ``one`` (few of them) or
    ``table`` (many)."""
    pc = require("pyarrow.compute")
    encoded = pc.dictionary_encode(raw)
    distinct = encoded.dictionary
    if len(distinct) <= _FEW:
        strings = pa.array([one(v) for v in distinct.to_pylist()], pa.string())
    else:
        strings = table(pa, distinct)
    return pa.DictionaryArray.from_arrays(encoded.indices, strings)


def _mac_table_from_bytes(pa: Any, distinct: Any) -> Any:
    octets = np.frombuffer(distinct.buffers()[1], np.uint8)[
        distinct.offset * 6:(distinct.offset + len(distinct)) * 6].reshape(-1, 6)
    return _mac_table(pa, octets)


def _mac_table(pa: Any, octets: npt.NDArray[np.uint8]) -> Any:
    n = len(octets)
    chars = _HEX3[octets]  # (n, 6) words of "xx:" plus a zero byte
    data = np.ascontiguousarray(chars.view(np.uint8).reshape(n, 6, 4)[:, :, :3].reshape(
        n, 18)[:, :17])
    offsets = np.arange(0, 17 * (n + 1), 17, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _ipv4_table(pa: Any, distinct: Any) -> Any:
    keys = distinct.to_numpy(zero_copy_only=False).astype(np.uint32)
    n = len(keys)
    octets = keys.astype(">u4").view(np.uint8).reshape(n, 4)
    words = np.empty((n, 4), np.uint32)
    keep = np.empty((n, 4), np.uint32)
    words[:, :3] = _DEC_DOT[octets[:, :3]]
    words[:, 3] = _DEC[octets[:, 3]]
    keep[:, :3] = _DEC_DOT_KEEP[octets[:, :3]]
    keep[:, 3] = _DEC_KEEP[octets[:, 3]]
    lengths = (_DEC_LEN[octets[:, :3]] + 1).sum(axis=1) + _DEC_LEN[octets[:, 3]]
    data = words.view(np.uint8).reshape(-1)[keep.view(np.bool_).reshape(-1)]
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _words(texts: list[bytes]) -> npt.NDArray[np.uint32]:
    """Up to four bytes of text per entry, as one little-endian word each."""
    return np.array([int.from_bytes(t.ljust(4, b"\0"), "little") for t in texts], np.uint32)


_HEX3 = _words([f"{i:02x}:".encode() for i in range(256)])
_DEC = _words([str(i).encode() for i in range(256)])
_DEC_DOT = _words([f"{i}.".encode() for i in range(256)])
_DEC_KEEP = _words([b"\1" * len(str(i)) for i in range(256)])
_DEC_DOT_KEEP = _words([b"\1" * (len(str(i)) + 1) for i in range(256)])
_DEC_LEN = np.array([len(str(i)) for i in range(256)], np.int32)


def rows_to_dicts(table_or_batch: Any) -> list[dict[str, Any]]:
    """Rows of an Arrow table or batch as dicts, timestamps as integer nanoseconds (handy for
    comparing with :func:`row_from_packet` and the record fields)."""
    pa = require("pyarrow")
    columns: dict[str, Sequence[Any]] = {}
    for name in table_or_batch.schema.names:
        column = table_or_batch.column(name)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        columns[name] = column.to_pylist()
    n = table_or_batch.num_rows
    return [{name: values[i] for name, values in columns.items()} for i in range(n)]
