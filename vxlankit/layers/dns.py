"""DNS (RFC 1035) on UDP 53 and TCP 53, and multicast DNS (RFC 6762) on UDP 5353.

Header:

     0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
    +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
    |                      ID                       |
    +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
    |QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
    +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
    |                    QDCOUNT                    |
    |                    ANCOUNT                    |
    |                    NSCOUNT                    |
    |                    ARCOUNT                    |
    +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+

then QDCOUNT questions (name, type, class) and ANCOUNT + NSCOUNT + ARCOUNT resource records
(name, type, class, TTL, RDLENGTH, RDATA).  Over TCP the message follows a 2-byte length
(``dns.length``).  Names are labels, or end in a compression pointer (two bytes, top bits 11)
to an earlier name anywhere in the message.

The representation: what is on the wire is authoritative.  ``dns.id``, ``dns.flags``, the four
counts and ``dns.sections`` (vxlankit's own: the message's bytes after its 12-byte header, as
sent, compression pointers and all) are what the encoder writes, so any message, compressed
however its sender chose, re-encodes byte for byte.  Everything else is a view, named and
valued as tshark 4.0 shows it: the flag bits, and, read from ``dns.sections``, the questions
(``dns.qry.*``) and records (``dns.resp.*``, ``dns.a``, ``dns.aaaa``, ``dns.cname``,
``dns.ns``, ``dns.ptr.domain_name``, ``dns.mx.*``, ``dns.txt``, ``dns.soa.*``, and EDNS OPT's
``dns.rr.udp_payload_size`` ...), each a repeated field (a list, in wire order).  Like tshark,
an OPT record has no ``dns.resp.class``/``dns.resp.ttl`` and an SRV record no ``dns.resp.name``
(tshark splits its owner into ``dns.srv.*``); a record of another type shows only
its name, type, class, TTL and length.  Changing a view changes nothing on the wire.

To build a message from fields, leave ``dns.sections`` out: the questions are then written from
``dns.qry.name``, ``dns.qry.type`` and ``dns.qry.class`` (lists or single values; names without
compression), and ``dns.count.queries`` is their number when ``fix_lengths`` is on or it is
``None`` (the other counts default to 0).  ``dns.length`` (TCP) is the message's length when
``fix_lengths`` is on or it is ``None``.

Names are shown as tshark shows them: labels joined by dots, ``<Root>`` for the root, bytes
that are not printable escaped (``\\t``, ``\\001``); ``dns.qry.name.len`` and
``dns.count.labels`` follow tshark 4.0's rules (a one-character name counts 0 and 0).  A name
whose compression pointer loops or points past the end, a label type other than 00 and 11, a
name longer than 255 bytes, or a section that ends before its count does, makes the layer
malformed with an error saying where; the views stop there, the bytes stay.  Decompression has
a work budget proportional to the message size, so no message makes it slow.

On UDP 5353 tshark names the protocol ``mdns`` (``frame.protocols`` ``...:udp:mdns``) and keeps
the ``dns.*`` field names: vxlankit does the same, with a layer of protocol ``mdns``, whose
classes are 15 bits with ``dns.qry.qu`` / ``dns.resp.cache_flush`` as their top bit.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Mapping
from typing import Any, cast

from construct import Bytes, Computed, GreedyBytes, If, Int16ub, Struct, this

from vxlankit.errors import EncodeError
from vxlankit.layers._common import as_bytes
from vxlankit.layers.spec import (
    BOOL,
    BYTES,
    CONTROL,
    IPV4,
    STRING,
    UINT,
    Analyzer,
    Field,
    LayerSpec,
    Span,
    Walk,
)
from vxlankit.packet import MALFORMED, TRUNCATED, Layer

PROTO = "dns"
MDNS = "mdns"
HEADER_LEN = 12
PORT = 53
MDNS_PORT = 5353

F_RESPONSE = 0x8000
F_AUTHENTIC = 0x0020
OPCODE_UPDATE = 5

TYPE_A, TYPE_NS, TYPE_CNAME, TYPE_SOA, TYPE_PTR, TYPE_MX, TYPE_TXT = 1, 2, 5, 6, 12, 15, 16
TYPE_AAAA, TYPE_SRV, TYPE_OPT = 28, 33, 41
TYPE_NAMES = {
    1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT",
    28: "AAAA", 33: "SRV", 35: "NAPTR", 41: "OPT", 43: "DS", 46: "RRSIG", 47: "NSEC",
    48: "DNSKEY", 50: "NSEC3", 52: "TLSA", 64: "SVCB", 65: "HTTPS", 99: "SPF", 251: "IXFR",
    252: "AXFR", 255: "ANY", 257: "CAA"}
CLASS_NAMES = {1: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY"}
OPCODE_NAMES = {0: "Standard query", 1: "Inverse query", 2: "Server status request",
                4: "Zone change notification", 5: "Dynamic update"}
RCODE_NAMES = {0: "No error", 1: "Format error", 2: "Server failure", 3: "No such name",
               4: "Not implemented", 5: "Refused", 6: "Name exists", 7: "RRset exists",
               8: "RRset does not exist", 9: "Not authoritative", 10: "Name out of zone"}

# The counts as tshark names them: a dynamic update (opcode 5) counts zones, prerequisites and
# updates where a query counts questions, answers and authority records.
COUNTS = ("dns.count.queries", "dns.count.answers", "dns.count.auth_rr", "dns.count.add_rr")
UPDATE_COUNTS = ("dns.count.zones", "dns.count.prerequisites", "dns.count.updates",
                 "dns.count.add_rr")


def count_names(flags: int) -> tuple[str, str, str, str]:
    return UPDATE_COUNTS if (flags >> 11) & 0xF == OPCODE_UPDATE else COUNTS


# ---------------------------------------------------------------------------- the reference

def _response(c: Any) -> bool:
    return bool(c["dns.flags"] & F_RESPONSE)


def _update(c: Any) -> bool:
    return bool((c["dns.flags"] >> 11) & 0xF == OPCODE_UPDATE)


_FLAGS = (
    "dns.flags" / Int16ub,
    "dns.flags.response" / Computed(this["dns.flags"] >> 15),
    "dns.flags.opcode" / Computed((this["dns.flags"] >> 11) & 0xF),
    "dns.flags.authoritative" / If(_response, Computed((this["dns.flags"] >> 10) & 1)),
    "dns.flags.truncated" / Computed((this["dns.flags"] >> 9) & 1),
    "dns.flags.recdesired" / Computed((this["dns.flags"] >> 8) & 1),
    "dns.flags.recavail" / If(_response, Computed((this["dns.flags"] >> 7) & 1)),
    "dns.flags.z" / Computed((this["dns.flags"] >> 6) & 1),
    "dns.flags.authenticated" / If(lambda c: c["dns.flags"] & (F_RESPONSE | F_AUTHENTIC),
                                   Computed((this["dns.flags"] >> 5) & 1)),
    "dns.flags.checkdisable" / Computed((this["dns.flags"] >> 4) & 1),
    "dns.flags.rcode" / If(_response, Computed(this["dns.flags"] & 0xF)),
)
_COUNTS = (
    "_c0" / Int16ub, "_c1" / Int16ub, "_c2" / Int16ub, "_c3" / Int16ub,
    "dns.count.queries" / If(lambda c: not _update(c), Computed(this._c0)),
    "dns.count.zones" / If(_update, Computed(this._c0)),
    "dns.count.answers" / If(lambda c: not _update(c), Computed(this._c1)),
    "dns.count.prerequisites" / If(_update, Computed(this._c1)),
    "dns.count.auth_rr" / If(lambda c: not _update(c), Computed(this._c2)),
    "dns.count.updates" / If(_update, Computed(this._c2)),
    "dns.count.add_rr" / Computed(this._c3),
)
SCHEMA = Struct("dns.id" / Int16ub, *_FLAGS, *_COUNTS, "dns.sections" / GreedyBytes)
TCP_SCHEMA = Struct("dns.length" / Int16ub, "dns.id" / Int16ub, *_FLAGS, *_COUNTS,
                    "dns.sections" / Bytes(this["dns.length"] - HEADER_LEN))


def schema_build_input(fields: dict[str, Any]) -> dict[str, Any]:
    """A field dict as ``SCHEMA.build`` input (the counts under their positions)."""
    names = count_names(fields["dns.flags"])
    return {**fields, **{f"_c{i}": fields[name] for i, name in enumerate(names)}}


# ---------------------------------------------------------------------------- fast paths

_H = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_Q = struct.Struct("!HH")


def _header(buf: bytes, off: int) -> dict[str, Any]:
    ident, flags, c0, c1, c2, c3 = _H.unpack_from(buf, off)
    fields: dict[str, Any] = {
        "dns.id": ident,
        "dns.flags": flags,
        "dns.flags.response": flags >> 15,
        "dns.flags.opcode": (flags >> 11) & 0xF,
    }
    response = flags & F_RESPONSE
    if response:
        fields["dns.flags.authoritative"] = (flags >> 10) & 1
    fields["dns.flags.truncated"] = (flags >> 9) & 1
    fields["dns.flags.recdesired"] = (flags >> 8) & 1
    if response:
        fields["dns.flags.recavail"] = (flags >> 7) & 1
    fields["dns.flags.z"] = (flags >> 6) & 1
    if flags & (F_RESPONSE | F_AUTHENTIC):
        fields["dns.flags.authenticated"] = (flags >> 5) & 1
    fields["dns.flags.checkdisable"] = (flags >> 4) & 1
    if response:
        fields["dns.flags.rcode"] = flags & 0xF
    for name, value in zip(count_names(flags), (c0, c1, c2, c3), strict=True):
        fields[name] = value
    return fields


def decode(buf: bytes, off: int) -> dict[str, Any]:
    """The message at ``off`` (12 bytes at least), to the end of ``buf``: header and views of
    the flags, and the sections as bytes (``parse_sections`` reads them)."""
    fields = _header(buf, off)
    fields["dns.sections"] = buf[off + HEADER_LEN:]
    return fields


def decode_tcp(buf: bytes, off: int) -> dict[str, Any]:
    """The same behind TCP's 2-byte length (which must cover the 12-byte header)."""
    length = int.from_bytes(buf[off:off + 2], "big")
    fields = {"dns.length": length, **_header(buf, off + 2)}
    fields["dns.sections"] = buf[off + 2 + HEADER_LEN:off + 2 + length]
    return fields


def _header_bytes(fields: dict[str, Any], counts: tuple[int, ...] | None = None) -> bytes:
    flags = fields["dns.flags"]
    if counts is None:
        counts = tuple(fields[name] for name in count_names(flags))
    return _H.pack(fields["dns.id"], flags, *counts)


def encode(fields: dict[str, Any]) -> bytes:
    return _header_bytes(fields) + as_bytes(fields["dns.sections"], "dns.sections")


def encode_tcp(fields: dict[str, Any]) -> bytes:
    return struct.pack("!H", fields["dns.length"]) + encode(fields)


# ---------------------------------------------------------------------------- names

_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}


def show_text(raw: bytes) -> str:
    """Bytes as tshark 4.0 shows a string: UTF-8 (invalid bytes as U+FFFD), control characters
    escaped (``\\t``, ``\\001``)."""
    text = raw.decode("utf-8", "replace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or ord(c) > 0x7F else _ESCAPES.get(
        ord(c), f"\\{ord(c):03o}") for c in text)


class _Names:
    """Name decompression over one message, with a work budget (label reads and pointer hops)
    proportional to its size: no message, however its pointers chain, makes decoding slow."""

    __slots__ = ("msg", "budget")

    def __init__(self, msg: bytes) -> None:
        self.msg = msg
        self.budget = 16 * len(msg) + 1024

    def read(self, pos: int) -> tuple[bytes, int, str | None]:
        """The name at ``pos``: its labels joined by dots, where what follows it starts, and an
        error (``None`` when it is well formed)."""
        labels: list[bytes] = []
        after, error = self._walk(pos, labels)
        return b".".join(labels), after, error

    def skip(self, pos: int) -> tuple[int, str | None]:
        """``read(pos)[1:]`` without making the labels: the bulk path checks every message and
        shows none of its names."""
        return self._walk(pos, None)

    def _walk(self, pos: int, labels: list[bytes] | None) -> tuple[int, str | None]:
        """Follow the name at ``pos`` (its labels appended to ``labels``, when given, up to an
        error), spending the budget: where what follows it starts, and its error."""
        msg = self.msg
        n = len(msg)
        size = 0
        after = -1
        seen: set[int] | None = None
        budget = self.budget
        while True:
            budget -= 1
            if budget < 0:
                self.budget = budget
                return max(after, pos), "name decompression exceeds its work budget"
            if pos >= n:
                self.budget = budget
                return max(after, pos), f"name runs past the end at {pos}"
            b = msg[pos]
            if b == 0:
                self.budget = budget
                return (pos + 1 if after < 0 else after), None
            if b < 0x40:  # a label (the top two bits clear)
                stop = pos + 1 + b
                if stop > n:
                    self.budget = budget
                    return max(after, n), f"label at {pos} runs past the end"
                if labels is not None:
                    labels.append(msg[pos + 1:stop])
                size += b + 1
                if size > 255:
                    self.budget = budget
                    return max(after, stop), f"name longer than 255 bytes at {pos}"
                pos = stop
                continue
            self.budget = budget
            kind = b & 0xC0
            if kind != 0xC0:
                return max(after, pos + 1), f"label type 0x{kind:02x} at {pos} is not supported"
            if pos + 2 > n:
                return max(after, n), f"compression pointer at {pos} cut short"
            target = ((b & 0x3F) << 8) | msg[pos + 1]
            if after < 0:
                after = pos + 2
            if target >= n:
                return after, f"compression pointer at {pos} points past the end ({target})"
            if seen is None:
                seen = set()
            elif target in seen:
                return after, f"compression pointer loop at {pos}"
            seen.add(target)
            pos = target


def name_views(raw: bytes) -> tuple[str, int, int]:
    """A name as tshark 4.0 shows it, its ``dns.qry.name.len`` and ``dns.count.labels``."""
    if not raw:
        return "<Root>", 6, 1
    if len(raw) == 1:  # tshark 4.0 counts a one-character name as zero-length
        return show_text(raw), 0, 0
    return show_text(raw), len(raw), raw.count(b".") + 1


# ---------------------------------------------------------------------------- sections

# Every view parse_sections can add, in the order the -V tree shows them.
SECTION_VIEWS = (
    "dns.qry.name", "dns.qry.name.len", "dns.count.labels", "dns.qry.type", "dns.qry.class",
    "dns.qry.qu", "dns.resp.name", "dns.resp.type", "dns.resp.class", "dns.resp.cache_flush",
    "dns.resp.ttl", "dns.resp.len", "dns.rr.udp_payload_size", "dns.resp.ext_rcode",
    "dns.resp.edns0_version", "dns.resp.z", "dns.resp.z.do", "dns.resp.z.reserved", "dns.a",
    "dns.aaaa", "dns.cname", "dns.ns", "dns.ptr.domain_name", "dns.mx.preference",
    "dns.mx.mail_exchange", "dns.txt.length", "dns.txt", "dns.soa.mname", "dns.soa.rname",
    "dns.soa.serial_number", "dns.soa.refresh_interval", "dns.soa.retry_interval",
    "dns.soa.expire_limit", "dns.soa.minimum_ttl")
_NAME_VALUES = {TYPE_NS: "dns.ns", TYPE_CNAME: "dns.cname", TYPE_PTR: "dns.ptr.domain_name"}
_SOA_NUMBERS = ("dns.soa.serial_number", "dns.soa.refresh_interval", "dns.soa.retry_interval",
                "dns.soa.expire_limit", "dns.soa.minimum_ttl")


class _Dropped:
    """Where the views go when only the summary items are wanted."""

    __slots__ = ()

    def append(self, value: Any) -> None:
        pass


_DROPPED = cast(dict[str, list[Any]], dict.fromkeys(SECTION_VIEWS, _Dropped()))


def parse_sections(msg: bytes, counts: tuple[int, int, int, int], mdns: bool = False,
                   views_too: bool = True
                   ) -> tuple[dict[str, list[Any]], list[tuple[int, str]], str | None]:
    """The views of the questions and records of ``msg`` (a whole message, header included):
    the repeated fields (only those that occur; none without ``views_too``), one ``(type,
    info text)`` per question and record for the one-line summary, and the first error (the
    views stop there)."""
    views: dict[str, list[Any]] = (
        {name: [] for name in SECTION_VIEWS} if views_too else _DROPPED)
    infos: list[tuple[int, str]] = []
    names = _Names(msg)
    n = len(msg)
    pos = HEADER_LEN
    error: str | None = None
    for _ in range(counts[0]):
        raw, pos, error = names.read(pos)
        if error is not None:
            break
        if pos + 4 > n:
            error = f"question at {pos} cut short"
            break
        qtype, qclass = _Q.unpack_from(msg, pos)
        pos += 4
        shown, length, labels = name_views(raw)
        views["dns.qry.name"].append(shown)
        views["dns.qry.name.len"].append(length)
        views["dns.count.labels"].append(labels)
        views["dns.qry.type"].append(qtype)
        if mdns:
            views["dns.qry.class"].append(qclass & 0x7FFF)
            views["dns.qry.qu"].append(qclass >> 15)
        else:
            views["dns.qry.class"].append(qclass)
        text = f"{type_name(qtype)} {shown}"
        infos.append((qtype, text + ', "QU" question' if mdns and qclass >> 15 else text))
    if error is None:
        for _ in range(counts[1] + counts[2] + counts[3]):
            raw, pos, error = names.read(pos)
            if error is not None:
                break
            if pos + 10 > n:
                error = f"resource record at {pos} cut short"
                break
            rtype, rclass, ttl, rdlen = _RR.unpack_from(msg, pos)
            pos += 10
            if pos + rdlen > n:
                error = f"resource record data at {pos} runs past the end ({rdlen} bytes)"
                break
            if rtype != TYPE_SRV or not raw:
                # tshark 4.0 shows an SRV record's owner as dns.srv.service/proto/name instead
                views["dns.resp.name"].append(name_views(raw)[0])
            views["dns.resp.type"].append(rtype)
            flush = ""
            if rtype == TYPE_OPT:
                z = ttl & 0xFFFF
                views["dns.rr.udp_payload_size"].append(rclass & 0x7FFF)
                views["dns.resp.ext_rcode"].append(ttl >> 24)
                views["dns.resp.edns0_version"].append((ttl >> 16) & 0xFF)
                views["dns.resp.z"].append(z)
                views["dns.resp.z.do"].append(z >> 15)
                views["dns.resp.z.reserved"].append(z & 0x7FFF)
            else:
                if mdns:
                    views["dns.resp.class"].append(rclass & 0x7FFF)
                    views["dns.resp.cache_flush"].append(rclass >> 15)
                    flush = ", cache flush" if rclass >> 15 else ""
                else:
                    views["dns.resp.class"].append(rclass)
                views["dns.resp.ttl"].append(ttl)
            views["dns.resp.len"].append(rdlen)
            value, error = _rdata(msg, pos, rtype, rdlen, names, views)
            if error is not None:
                break
            text = type_name(rtype) + flush
            infos.append((rtype, f"{text} {value}" if value else text))
            pos += rdlen
    if not views_too:
        return {}, infos, error
    return {k: v for k, v in views.items() if v}, infos, error


def _rdata(msg: bytes, pos: int, rtype: int, rdlen: int, names: _Names,
           views: dict[str, list[Any]]) -> tuple[str, str | None]:
    """The value views of one record's data (and its text for the summary), or an error."""
    if rtype == TYPE_A and rdlen == 4:
        text = socket.inet_ntoa(msg[pos:pos + 4])
        views["dns.a"].append(text)
        return text, None
    if rtype == TYPE_AAAA and rdlen == 16:
        text = socket.inet_ntop(socket.AF_INET6, msg[pos:pos + 16])
        views["dns.aaaa"].append(text)
        return text, None
    name = _NAME_VALUES.get(rtype)
    if name is not None:
        raw, _, error = names.read(pos)
        if error is None:
            text = name_views(raw)[0]
            views[name].append(text)
            return text, None
        return "", error
    if rtype == TYPE_MX and rdlen >= 3:
        raw, _, error = names.read(pos + 2)
        if error is None:
            preference = int.from_bytes(msg[pos:pos + 2], "big")
            text = name_views(raw)[0]
            views["dns.mx.preference"].append(preference)
            views["dns.mx.mail_exchange"].append(text)
            return f"{preference} {text}", None
        return "", error
    if rtype == TYPE_SOA:
        mname, after, error = names.read(pos)
        if error is None:
            rname, after, error = names.read(after)
        if error is None and after + 20 <= pos + rdlen:
            views["dns.soa.mname"].append(name_views(mname)[0])
            views["dns.soa.rname"].append(name_views(rname)[0])
            numbers = struct.unpack_from("!5I", msg, after)
            for field, value in zip(_SOA_NUMBERS, numbers, strict=True):
                views[field].append(value)
            return name_views(mname)[0], None
        return "", error
    if rtype == TYPE_TXT:
        at, stop = pos, pos + rdlen
        while at < stop:
            size = msg[at]
            if at + 1 + size > stop:
                break
            views["dns.txt.length"].append(size)
            views["dns.txt"].append(show_text(msg[at + 1:at + 1 + size]))
            at += 1 + size
    return "", None


def check_sections(msg: bytes, counts: tuple[int, int, int, int]) -> str | None:
    """``parse_sections(msg, counts)``'s error alone, without making its views or texts: what
    the bulk path asks of every message (tests/layers/test_dns_check.py holds the two equal)."""
    skip = _Names(msg).skip
    n = len(msg)
    pos = HEADER_LEN
    for _ in range(counts[0]):
        pos, error = skip(pos)
        if error is not None:
            return error
        if pos + 4 > n:
            return f"question at {pos} cut short"
        pos += 4
    for _ in range(counts[1] + counts[2] + counts[3]):
        pos, error = skip(pos)
        if error is not None:
            return error
        if pos + 10 > n:
            return f"resource record at {pos} cut short"
        rtype, _, _, rdlen = _RR.unpack_from(msg, pos)
        pos += 10
        if pos + rdlen > n:
            return f"resource record data at {pos} runs past the end ({rdlen} bytes)"
        # The record types whose data holds names, read as _rdata reads them.
        if rtype in _NAME_VALUES:
            error = skip(pos)[1]
        elif rtype == TYPE_MX and rdlen >= 3:
            error = skip(pos + 2)[1]
        elif rtype == TYPE_SOA:
            after, error = skip(pos)
            if error is None:
                error = skip(after)[1]
        if error is not None:
            return error
        pos += rdlen
    return None


def type_name(rtype: int) -> str:
    return TYPE_NAMES.get(rtype, f"Unknown ({rtype})")


# ---------------------------------------------------------------------------- the house's view


# The info items of the messages dissected last (the one-line text asks for them right after
# the dissect step parsed the message: parsing it twice cost a third of a DNS line).
_INFO_ITEMS: dict[tuple[bytes, bool], list[tuple[Any, str]]] = {}


def _message(walk: Walk, proto: str, off: int, end: int, fields: dict[str, Any],
             mdns: bool) -> Layer:
    """The layer of the message at ``off`` (its header decoded into ``fields``) to ``end``."""
    layer = Layer(proto, fields, off, end - off)
    walk.layers.append(layer)
    start = off + (2 if "dns.length" in fields else 0)
    counts = tuple(fields[name] for name in count_names(fields["dns.flags"]))
    message = walk.buf[start:end]
    views, items, error = parse_sections(message, counts, mdns)
    fields.update(views)
    if len(_INFO_ITEMS) >= 256:
        _INFO_ITEMS.clear()
    _INFO_ITEMS[message, mdns] = items
    if error is not None:
        layer.status = MALFORMED
        walk.errors.append(f"{proto}: {error} (offsets in the message at {start})")
    return layer


def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
    return _dissect_udp(walk, off, PROTO, False)


def dissect_mdns(walk: Walk, off: int) -> tuple[str | None, int]:
    return _dissect_udp(walk, off, MDNS, True)


def _dissect_udp(walk: Walk, off: int, proto: str, mdns: bool) -> tuple[str | None, int]:
    end = walk.end
    if off == end:  # an empty datagram: no message
        return None, off
    if end - off < HEADER_LEN:
        walk.cut(proto, off, HEADER_LEN)
        return None, off
    fields = _header(walk.buf, off)
    fields["dns.sections"] = walk.buf[off + HEADER_LEN:end]
    _message(walk, proto, off, end, fields, mdns)
    return None, end


def dissect_tcp(walk: Walk, off: int) -> tuple[str | None, int]:
    """One message behind its 2-byte length; another step for each further message in the
    segment."""
    buf, end = walk.buf, walk.end
    if off == end:  # a segment without payload
        return None, off
    if end - off < 2 + HEADER_LEN:
        walk.cut(PROTO, off, 2 + HEADER_LEN)
        return None, off
    length = int.from_bytes(buf[off:off + 2], "big")
    if length < HEADER_LEN:
        walk.layers.append(Layer(PROTO, {"dns.length": length}, off, 2, status=MALFORMED))
        walk.errors.append(f"dns: length {length} < {HEADER_LEN} at offset {off}")
        return "data", off + 2
    if 2 + length > end - off:
        # The rest of the message is in later segments (vxlankit reassembles no stream).
        walk.layers.append(Layer(PROTO, {}, off, end - off, status=TRUNCATED,
                                 raw=buf[off:end]))
        walk.errors.append(f"dns: message at offset {off} of {length} bytes continues past the "
                           f"segment ({end - off - 2} bytes here)")
        return None, end
    stop = off + 2 + length
    _message(walk, PROTO, off, stop, decode_tcp(buf, off), False)
    return ("dns-tcp" if stop < end else None), stop


def _qname_bytes(name: Any) -> bytes:
    text = str(name)
    if text in ("", ".", "<Root>"):
        return b"\0"
    out = bytearray()
    for label in text.rstrip(".").split("."):
        raw = label.encode()
        if not 0 < len(raw) < 64:
            raise EncodeError(f"dns.qry.name {text!r}: label {label!r} is not 1-63 bytes")
        out += bytes([len(raw)]) + raw
    return bytes(out + b"\0")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _questions(fields: dict[str, Any]) -> tuple[bytes, int]:
    """The question section from ``dns.qry.*`` (no compression), and how many."""
    names = _as_list(fields.get("dns.qry.name", []))
    types = _as_list(fields.get("dns.qry.type", [TYPE_A] * len(names)))
    classes = _as_list(fields.get("dns.qry.class", [1] * len(names)))
    if not len(names) == len(types) == len(classes):
        raise EncodeError("dns.qry.name, dns.qry.type and dns.qry.class need one value each "
                          "per question")
    out = b"".join(_qname_bytes(n) + _Q.pack(t, c)
                   for n, t, c in zip(names, types, classes, strict=True))
    return out, len(names)


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    """A DNS (or mDNS) message, behind its TCP length when the fields have ``dns.length``."""
    flags = fields.get("dns.flags")
    if flags is None:
        flags = 0x0100  # a standard query, recursion desired
    names = count_names(flags)
    counts = [fields.get(name) for name in names]
    sections = fields.get("dns.sections")
    filled = False
    if sections is None:
        sections, questions = _questions(fields)
        if fix_lengths or counts[0] is None:
            counts[0] = questions
    else:
        sections = as_bytes(sections, "dns.sections")
    if any(count is None for count in counts):
        filled = True
        counts = [0 if count is None else count for count in counts]
    ident = fields.get("dns.id")
    body = _H.pack(0 if ident is None else ident, flags, *counts) + sections
    if "dns.length" not in fields:
        return body, filled
    length = fields["dns.length"]
    if fix_lengths or length is None:
        if len(body) > 0xFFFF:
            raise EncodeError(f"dns: a {len(body)}-byte message does not fit in dns.length")
        filled = filled or length is None
        length = len(body)
    return struct.pack("!H", length) + body, filled


# ---------------------------------------------------------------------------- spec

_FIXED: dict[str, Span] = {
    "dns.id": (0, 2, None), "dns.flags": (2, 2, None),
    "dns.flags.response": (2, 2, 0x8000), "dns.flags.opcode": (2, 2, 0x7800),
    "dns.flags.authoritative": (2, 2, 0x0400), "dns.flags.truncated": (2, 2, 0x0200),
    "dns.flags.recdesired": (2, 2, 0x0100), "dns.flags.recavail": (2, 2, 0x0080),
    "dns.flags.z": (2, 2, 0x0040), "dns.flags.authenticated": (2, 2, 0x0020),
    "dns.flags.checkdisable": (2, 2, 0x0010), "dns.flags.rcode": (2, 2, 0x000F),
    "dns.count.queries": (4, 2, None), "dns.count.zones": (4, 2, None),
    "dns.count.answers": (6, 2, None), "dns.count.prerequisites": (6, 2, None),
    "dns.count.auth_rr": (8, 2, None), "dns.count.updates": (8, 2, None),
    "dns.count.add_rr": (10, 2, None),
}


def _span(layer: Layer, name: str) -> Span | None:
    shift = 2 if "dns.length" in layer.fields else 0
    if name == "dns.length":
        return 0, 2, None
    found = _FIXED.get(name)
    if found is not None:
        return found[0] + shift, found[1], found[2]
    # The sections: where one question's or record's field lies is not kept.
    return HEADER_LEN + shift, max(0, layer.length - HEADER_LEN - shift), None


def info(layer: Layer) -> str:
    """tshark's Info column: "Standard query 0x1234 A example.com", "Standard query response
    0x1234 A example.com A 1.2.3.4"."""
    f = layer.fields
    if "dns.flags" not in f:
        return "DNS message, continued" if layer.status == TRUNCATED else "DNS"
    flags = f["dns.flags"]
    counts = tuple(f[name] for name in count_names(flags))
    msg = bytes(_H.pack(f["dns.id"], flags, *counts)) + bytes(f.get("dns.sections", b""))
    mdns = layer.proto == MDNS
    items = _INFO_ITEMS.get((msg, mdns))
    if items is None:
        _, items, _ = parse_sections(msg, counts, mdns)
    return _info_text(f["dns.id"], flags, items)


def _info_text(ident: int, flags: int, items: list[tuple[int, str]]) -> str:
    """The Info column from the header's id and flags and the sections' summary items."""
    opcode = (flags >> 11) & 0xF
    text = OPCODE_NAMES.get(opcode, f"Unknown operation ({opcode})")
    if flags & F_RESPONSE:
        text += " response"
    text += f" 0x{ident:04x}"
    if flags & F_RESPONSE and flags & 0xF:
        text += " " + RCODE_NAMES.get(flags & 0xF, f"Unknown error ({flags & 0xF})")
    for _, item in items:
        text += " " + item
    return text


def _line(buf: bytes, off: int, end: int, mdns: bool) -> tuple[str, bool] | None:
    """``info`` of the layer the UDP step makes of the message ``buf[off:end]``, straight from
    the bytes (no field dict, no views); None when that layer would not be whole."""
    if end - off < HEADER_LEN:
        return None
    msg = buf[off:end]
    ident, flags, c0, c1, c2, c3 = _H.unpack_from(msg)
    _, items, error = parse_sections(msg, (c0, c1, c2, c3), mdns, views_too=False)
    if error is not None:
        return None
    return _info_text(ident, flags, items), False


def line(buf: bytes, off: int, end: int, pseudo: int, ports: Mapping[int, str], verify: bool,
         analyzer: Analyzer | None, src: str, dst: str) -> tuple[str, bool] | None:
    """The one-line fast paths' ``info`` of a DNS message over UDP (``LayerSpec.line``; what
    is below it does not matter to it)."""
    return _line(buf, off, end, False)


def line_mdns(buf: bytes, off: int, end: int, pseudo: int, ports: Mapping[int, str],
              verify: bool, analyzer: Analyzer | None, src: str, dst: str
              ) -> tuple[str, bool] | None:
    """The same for mDNS."""
    return _line(buf, off, end, True)


def _title(f: dict[str, Any]) -> str:
    if "dns.flags" not in f:
        return ""
    kind = "response" if f["dns.flags"] & F_RESPONSE else "query"
    return f", {kind}, ID: 0x{f['dns.id']:04x}"


_OWN_SECTIONS = ("vxlankit's own: the message after its 12-byte header as sent (questions and "
                 "records, compression pointers included); authoritative for encoding, the "
                 "dns.qry.* and dns.resp.* fields are views of it")


def _fields(tcp: bool) -> tuple[Field, ...]:
    views: dict[str, Field] = {
        "dns.qry.name": Field("dns.qry.name", STRING, repeated=True),
        "dns.qry.name.len": Field("dns.qry.name.len", UINT, repeated=True, size=2),
        "dns.count.labels": Field("dns.count.labels", UINT, repeated=True, size=2),
        "dns.qry.type": Field("dns.qry.type", UINT, names=TYPE_NAMES, repeated=True, size=2),
        "dns.qry.class": Field("dns.qry.class", UINT, hex=4, names=CLASS_NAMES, repeated=True,
                               size=2),
        "dns.qry.qu": Field("dns.qry.qu", BOOL, repeated=True),
        "dns.resp.name": Field("dns.resp.name", STRING, repeated=True),
        "dns.resp.type": Field("dns.resp.type", UINT, names=TYPE_NAMES, repeated=True, size=2),
        "dns.resp.class": Field("dns.resp.class", UINT, hex=4, names=CLASS_NAMES,
                                repeated=True, size=2),
        "dns.resp.cache_flush": Field("dns.resp.cache_flush", BOOL, repeated=True),
        "dns.resp.ext_rcode": Field("dns.resp.ext_rcode", UINT, hex=2, repeated=True, size=1),
        "dns.resp.z": Field("dns.resp.z", UINT, hex=4, repeated=True, size=2),
        "dns.resp.z.do": Field("dns.resp.z.do", BOOL, repeated=True),
        "dns.resp.z.reserved": Field("dns.resp.z.reserved", UINT, hex=4, repeated=True, size=2),
        "dns.a": Field("dns.a", IPV4, repeated=True),
        "dns.aaaa": Field("dns.aaaa", STRING, repeated=True),
        "dns.txt": Field("dns.txt", STRING, repeated=True),
    }
    for name in ("dns.cname", "dns.ns", "dns.ptr.domain_name", "dns.mx.mail_exchange",
                 "dns.soa.mname", "dns.soa.rname"):
        views[name] = Field(name, STRING, repeated=True)
    head = [Field("dns.length", UINT, size=2)] if tcp else []
    head += [Field(name, UINT, span, hex=4 if name in ("dns.id", "dns.flags") else 0,
                   names=OPCODE_NAMES if name == "dns.flags.opcode" else RCODE_NAMES
                   if name == "dns.flags.rcode" else None)
             for name, span in _FIXED.items()]
    head = [Field(f.name, BOOL, f.span) if f.span and f.span[2] is not None and bin(
        f.span[2]).count("1") == 1 else f for f in head]
    head.append(Field("dns.sections", BYTES, doc=_OWN_SECTIONS))
    return (*head, *(views.get(name) or Field(name, UINT, repeated=True,
                                              size=_VIEW_SIZES[name])
                     for name in SECTION_VIEWS))


# Wireshark's widths of the numbers read from records (FT_UINT8/16/32).
_VIEW_SIZES = {
    "dns.resp.ttl": 4, "dns.resp.len": 2, "dns.rr.udp_payload_size": 2,
    "dns.resp.edns0_version": 1, "dns.mx.preference": 2, "dns.txt.length": 1,
    "dns.soa.serial_number": 4, "dns.soa.refresh_interval": 4, "dns.soa.retry_interval": 4,
    "dns.soa.expire_limit": 4, "dns.soa.minimum_ttl": 4,
}


_TITLE = "Domain Name System"
SPEC = LayerSpec(
    name=PROTO, title=_TITLE, role=CONTROL, header_len=HEADER_LEN, schema=SCHEMA,
    dissect=dissect, emit=emit, short="DNS", selectors=(("udp.port", PORT),), span=_span,
    title_extra=_title, info=info, line=line, anchor="dns.id", fields=_fields(False),
)
SPEC_TCP = LayerSpec(
    name="dns-tcp", proto=PROTO, title=_TITLE, role=CONTROL, header_len=2 + HEADER_LEN,
    schema=TCP_SCHEMA, dissect=dissect_tcp, emit=emit, short="DNS",
    selectors=(("tcp.port", PORT),), span=_span, title_extra=_title, info=info,
    claims="dns.length", anchor="dns.id", fields=_fields(True),
)
SPEC_MDNS = LayerSpec(
    name=MDNS, title="Multicast Domain Name System", role=CONTROL, header_len=HEADER_LEN,
    schema=SCHEMA, dissect=dissect_mdns, emit=emit, short="MDNS",
    selectors=(("udp.port", MDNS_PORT),), span=_span, title_extra=_title, info=info,
    line=line_mdns, anchor="dns.id", fields=_fields(False),
)
