"""ICMPv6 (RFC 4443), with Neighbor Discovery (RFC 4861) and MLD (RFC 2710, RFC 3810).

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     Type      |     Code      |          Checksum             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |   the type's fixed part (below)                               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |   the rest of the message: ND options, MLDv2 sources/records, |
    |   the quoted packet of an error, an echo's data, ...          |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

The fixed part per type (authoritative for encoding, Wireshark's names):

- 1 Destination Unreachable, 3 Time Exceeded: ``icmpv6.reserved`` (4 bytes);
  2 Packet Too Big: ``icmpv6.mtu``; 4 Parameter Problem: ``icmpv6.pointer``.  The invoking
  packet follows as layers of its own (``ipv6``, then what it carries), as tshark shows it.
  Its bytes are authoritative: the encoder fills a field of it left ``None`` but never
  recomputes its lengths or checksums (the quote is usually cut short, RFC 4443 2.4 (c)).
  A quote counts against the decoder's ``max_depth`` as a tunnel does: past it (or with
  ``max_depth=0``) the quote stays a ``data`` layer.
- 128/129 Echo: ``icmpv6.echo.identifier``, ``icmpv6.echo.sequence_number``; the data follows
  as a ``data`` layer.
- 133 Router Solicitation: ``icmpv6.reserved`` (4).  134 Router Advertisement:
  ``icmpv6.nd.ra.cur_hop_limit``, ``icmpv6.nd.ra.flag`` (views ``.m .o .h .prf .p .rsv``),
  ``icmpv6.nd.ra.router_lifetime``, ``icmpv6.nd.ra.reachable_time``,
  ``icmpv6.nd.ra.retrans_timer``.  135 Neighbor Solicitation: ``icmpv6.reserved`` (4),
  ``icmpv6.nd.ns.target_address``.  136 Neighbor Advertisement: ``icmpv6.nd.na.flag`` (32 bits;
  views ``.r .s .o .rsv``), ``icmpv6.nd.na.target_address``.  137 Redirect:
  ``icmpv6.reserved`` (4), ``icmpv6.nd.rd.target_address``, ``icmpv6.rd.na.destination_address``
  (sic: Wireshark's name).  Then the options, kept whole in ``icmpv6.options`` (vxlankit's own
  name, like ``ip.options``: Wireshark dissects each option and has no field for them all).
- 130 MLD Query: 24 bytes (MLDv1) ``icmpv6.mld.maximum_response_delay``, ``icmpv6.reserved``
  (2), ``icmpv6.mld.multicast_address``; 28 or more (MLDv2) ``icmpv6.mld.maximum_response_code``
  instead of the delay, then ``icmpv6.mld.flag`` (views ``.s .qrv .reserved``),
  ``icmpv6.mld.qqi``, ``icmpv6.mld.nb_sources`` and the sources.  131/132 MLDv1 Report/Done: as
  the MLDv1 query.  143 MLDv2 Report: ``icmpv6.reserved`` (2), ``icmpv6.mldr.nb_mcast_records``
  and the records.  The sources and records are kept whole in ``icmpv6.mld.data`` (vxlankit's
  own name).
- Any other type: the rest of the message is ``icmpv6.data``, as tshark names it; so is what
  follows an MLDv1 message's 24 bytes.

Repeated views: the options are also shown one field per value, in wire order, each name's
values in a list: ``icmpv6.opt.type``, ``icmpv6.opt.length`` (units of 8 bytes), and per type
``icmpv6.opt.linkaddr`` (with ``.src_linkaddr``/``.target_linkaddr`` as Wireshark adds them),
``icmpv6.opt.prefix.*``, ``icmpv6.opt.mtu``, ``icmpv6.opt.nonce``, ``icmpv6.opt.rdnss*``,
``icmpv6.opt.dnssl*``, ``icmpv6.opt.pref64.*`` (RFC 8781), ``icmpv6.opt.advertisement_interval``,
``icmpv6.opt.home_agent_*``; an option of another type shows its type and length only (its
bytes stay in ``icmpv6.options``).  An option of length 0 ends the options, as RFC 4861 4.6 says
(the message is malformed: reported, never raised); so does one that runs past the message.
MLDv2: ``icmpv6.mld.source_address``, ``icmpv6.mldr.mar.*``.

A message shorter than its type's fixed part keeps its type, code and checksum and the rest as
``icmpv6.data`` (status malformed).  The checksum covers the IPv6 pseudo-header (next header 58)
and the whole message to the end of the IP payload; it is verified on decode and computed on
encode.
"""

from __future__ import annotations

import struct
from typing import Any

from construct import (
    Bytes,
    Computed,
    GreedyBytes,
    Int8ub,
    Int16ub,
    Int32ub,
    Struct,
    Switch,
    this,
)

from vxlankit.addr import ip6_bytes, ip6_str
from vxlankit.checksum import internet_checksum
from vxlankit.checksum import verify as checksum_ok
from vxlankit.layers._common import as_bytes
from vxlankit.layers.spec import (
    BOOL,
    BYTES,
    CHECKSUM_PSEUDO,
    IPV6,
    STRING,
    TRANSPORT,
    UINT,
    Field,
    LayerSpec,
    Span,
    Walk,
)
from vxlankit.packet import (
    CHECKSUM_GOOD,
    CHECKSUM_UNVERIFIED,
    MALFORMED,
    OK,
    Layer,
)

PROTO = "icmpv6"
IP_PROTO = 58
HEADER_LEN = 4  # type, code, checksum: what every message has

DEST_UNREACHABLE = 1
PACKET_TOO_BIG = 2
TIME_EXCEEDED = 3
PARAMETER_PROBLEM = 4
ECHO_REQUEST = 128
ECHO_REPLY = 129
MLD_QUERY = 130
MLD_REPORT = 131
MLD_DONE = 132
ROUTER_SOLICITATION = 133
ROUTER_ADVERTISEMENT = 134
NEIGHBOR_SOLICITATION = 135
NEIGHBOR_ADVERTISEMENT = 136
REDIRECT = 137
MLDV2_REPORT = 143

TYPE_NAMES = {
    1: "Destination Unreachable", 2: "Packet Too Big", 3: "Time Exceeded",
    4: "Parameter Problem", 100: "Private experimentation", 101: "Private experimentation",
    128: "Echo (ping) request", 129: "Echo (ping) reply", 130: "Multicast Listener Query",
    131: "Multicast Listener Report", 132: "Multicast Listener Done",
    133: "Router Solicitation", 134: "Router Advertisement", 135: "Neighbor Solicitation",
    136: "Neighbor Advertisement", 137: "Redirect", 138: "Router Renumbering",
    139: "ICMP Node Information Query", 140: "ICMP Node Information Response",
    141: "Inverse Neighbor Discovery Solicitation Message",
    142: "Inverse Neighbor Discovery Advertisement Message",
    143: "Multicast Listener Report Message v2", 200: "Private experimentation",
    201: "Private experimentation",
}
CODE_NAMES = {
    DEST_UNREACHABLE: {0: "no route to destination", 1: "Administratively prohibited",
                       2: "Beyond scope of source address", 3: "Address unreachable",
                       4: "Port unreachable", 5: "Source address failed ingress/egress policy",
                       6: "Reject route to destination"},
    TIME_EXCEEDED: {0: "hop limit exceeded in transit",
                    1: "fragment reassembly time exceeded"},
    PARAMETER_PROBLEM: {0: "erroneous header field encountered",
                        1: "unrecognized Next Header type encountered",
                        2: "unrecognized IPv6 option encountered"},
}
OPTION_NAMES = {
    1: "Source link-layer address", 2: "Target link-layer address", 3: "Prefix information",
    4: "Redirected header", 5: "MTU", 7: "Advertisement Interval",
    8: "Home Agent Information", 14: "Nonce", 25: "Recursive DNS Server",
    31: "DNS Search List Option", 38: "PREF64 Option",
}

# What follows a type's fixed part.
_QUOTE = "quote"  # the invoking packet, as layers of its own
_DATA_LAYER = "data layer"  # a data layer (echo)
OPTIONS = "icmpv6.options"
MLD_DATA = "icmpv6.mld.data"
DATA = "icmpv6.data"

_ADDRESS = "16s"  # converted to and from text

# type -> (struct format of the fixed part after the 4-byte header, its field names, tail)
_Layout = tuple[str, tuple[str, ...], str]
_MLDV1: _Layout = ("!H2s16s", ("icmpv6.mld.maximum_response_delay", "icmpv6.reserved",
                               "icmpv6.mld.multicast_address"), DATA)
_MLDV2_QUERY: _Layout = ("!H2s16sBBH", (
    "icmpv6.mld.maximum_response_code", "icmpv6.reserved", "icmpv6.mld.multicast_address",
    "icmpv6.mld.flag", "icmpv6.mld.qqi", "icmpv6.mld.nb_sources"), MLD_DATA)
LAYOUTS: dict[int, _Layout] = {
    DEST_UNREACHABLE: ("!4s", ("icmpv6.reserved",), _QUOTE),
    PACKET_TOO_BIG: ("!I", ("icmpv6.mtu",), _QUOTE),
    TIME_EXCEEDED: ("!4s", ("icmpv6.reserved",), _QUOTE),
    PARAMETER_PROBLEM: ("!I", ("icmpv6.pointer",), _QUOTE),
    ECHO_REQUEST: ("!HH", ("icmpv6.echo.identifier", "icmpv6.echo.sequence_number"),
                   _DATA_LAYER),
    ECHO_REPLY: ("!HH", ("icmpv6.echo.identifier", "icmpv6.echo.sequence_number"),
                 _DATA_LAYER),
    MLD_QUERY: _MLDV1,
    MLD_REPORT: _MLDV1,
    MLD_DONE: _MLDV1,
    ROUTER_SOLICITATION: ("!4s", ("icmpv6.reserved",), OPTIONS),
    ROUTER_ADVERTISEMENT: ("!BBHII", (
        "icmpv6.nd.ra.cur_hop_limit", "icmpv6.nd.ra.flag", "icmpv6.nd.ra.router_lifetime",
        "icmpv6.nd.ra.reachable_time", "icmpv6.nd.ra.retrans_timer"), OPTIONS),
    NEIGHBOR_SOLICITATION: ("!4s16s", ("icmpv6.reserved", "icmpv6.nd.ns.target_address"),
                            OPTIONS),
    NEIGHBOR_ADVERTISEMENT: ("!I16s", ("icmpv6.nd.na.flag", "icmpv6.nd.na.target_address"),
                             OPTIONS),
    REDIRECT: ("!4s16s16s", ("icmpv6.reserved", "icmpv6.nd.rd.target_address",
                             "icmpv6.rd.na.destination_address"), OPTIONS),
    MLDV2_REPORT: ("!2sH", ("icmpv6.reserved", "icmpv6.mldr.nb_mcast_records"), MLD_DATA),
}
_OTHER: _Layout = ("!", (), DATA)
_ADDRESSES = frozenset({
    "icmpv6.nd.ns.target_address", "icmpv6.nd.na.target_address", "icmpv6.nd.rd.target_address",
    "icmpv6.rd.na.destination_address", "icmpv6.mld.multicast_address"})
_STRUCTS = {fmt: struct.Struct(fmt) for fmt, _, _ in (*LAYOUTS.values(), _MLDV2_QUERY, _OTHER)}
MLDV2_QUERY_LEN = 28


def layout(itype: int, length: int | None = None, fields: dict[str, Any] | None = None
           ) -> _Layout:
    """The fixed part of type ``itype``: for an MLD query, MLDv2's when the message is 28
    bytes or more (decoding) or its fields say so (encoding)."""
    if itype == MLD_QUERY and (
            (length is not None and length >= MLDV2_QUERY_LEN)
            or (fields is not None and "icmpv6.mld.maximum_response_code" in fields)):
        return _MLDV2_QUERY
    return LAYOUTS.get(itype, _OTHER)


def fixed_length(lay: _Layout) -> int:
    return _STRUCTS[lay[0]].size


# --------------------------------------------------------------------------------------------
# Views: flags, options, MLDv2 sources and records


def _flag_views(fields: dict[str, Any]) -> None:
    ra = fields.get("icmpv6.nd.ra.flag")
    if ra is not None:
        fields["icmpv6.nd.ra.flag.m"] = ra >> 7
        fields["icmpv6.nd.ra.flag.o"] = (ra >> 6) & 1
        fields["icmpv6.nd.ra.flag.h"] = (ra >> 5) & 1
        fields["icmpv6.nd.ra.flag.prf"] = (ra >> 3) & 3
        fields["icmpv6.nd.ra.flag.p"] = (ra >> 2) & 1
        fields["icmpv6.nd.ra.flag.rsv"] = ra & 3
    na = fields.get("icmpv6.nd.na.flag")
    if na is not None:
        fields["icmpv6.nd.na.flag.r"] = na >> 31
        fields["icmpv6.nd.na.flag.s"] = (na >> 30) & 1
        fields["icmpv6.nd.na.flag.o"] = (na >> 29) & 1
        fields["icmpv6.nd.na.flag.rsv"] = na & 0x1FFFFFFF
    mld = fields.get("icmpv6.mld.flag")
    if mld is not None:
        fields["icmpv6.mld.flag.reserved"] = mld >> 4
        fields["icmpv6.mld.flag.s"] = (mld >> 3) & 1
        fields["icmpv6.mld.flag.qrv"] = mld & 7


def _add(views: dict[str, list[Any]], name: str, value: Any) -> None:
    found = views.get(name)
    if found is None:
        views[name] = [value]
    else:
        found.append(value)


_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_PREFIX = struct.Struct("!BBII4s16s")
_PREF64_LENGTHS = {0: 96, 1: 64, 2: 56, 3: 48, 4: 40, 5: 32}


def _dnssl(body: bytes) -> list[str] | None:
    """The domain names of a DNSSL option's body (after its lifetime), or None when they do
    not parse (then no view is shown).  Zero bytes after the last name are padding."""
    names = []
    i = 0
    n = len(body)
    while i < n and body[i]:
        labels = []
        while True:
            if i >= n:
                return None
            size = body[i]
            i += 1
            if size == 0:
                break
            if size > 63 or i + size > n:
                return None
            labels.append(body[i:i + size].decode("ascii", "replace"))
            i += size
        names.append(".".join(labels))
    return names


def option_views(opts: bytes) -> tuple[dict[str, list[Any]], str | None]:
    """The repeated view fields of ND options ``opts``, and why the options stop early
    (a zero length, an option running past the end), or None when they parse whole."""
    views: dict[str, list[Any]] = {}
    i = 0
    n = len(opts)
    while i < n:
        if n - i < 2:
            return views, f"option header cut short: {n - i} byte left"
        otype = opts[i]
        olen = opts[i + 1]
        _add(views, "icmpv6.opt.type", otype)
        _add(views, "icmpv6.opt.length", olen)
        if olen == 0:
            return views, f"option type {otype} has length 0"
        size = olen * 8
        if i + size > n:
            return views, f"option type {otype} of {size} bytes runs past the message"
        body = opts[i + 2:i + size]
        if otype in (1, 2) and olen == 1:
            _add(views, "icmpv6.opt.linkaddr", body)
            _add(views, "icmpv6.opt.src_linkaddr" if otype == 1 else
                 "icmpv6.opt.target_linkaddr", body)
        elif otype == 3 and olen == 4:
            plen, flag, valid, preferred, _, prefix = _PREFIX.unpack(body)
            _add(views, "icmpv6.opt.prefix.length", plen)
            _add(views, "icmpv6.opt.prefix.flag", flag)
            _add(views, "icmpv6.opt.prefix.flag.l", flag >> 7)
            _add(views, "icmpv6.opt.prefix.flag.a", (flag >> 6) & 1)
            _add(views, "icmpv6.opt.prefix.flag.r", (flag >> 5) & 1)
            _add(views, "icmpv6.opt.prefix.flag.reserved", flag & 0x1F)
            _add(views, "icmpv6.opt.prefix.valid_lifetime", valid)
            _add(views, "icmpv6.opt.prefix.preferred_lifetime", preferred)
            _add(views, "icmpv6.opt.prefix", ip6_str(prefix))
        elif otype == 5 and olen == 1:
            _add(views, "icmpv6.opt.mtu", _U32.unpack_from(body, 2)[0])
        elif otype == 7 and olen == 1:
            _add(views, "icmpv6.opt.advertisement_interval", _U32.unpack_from(body, 2)[0])
        elif otype == 8 and olen == 1:
            _add(views, "icmpv6.opt.home_agent_preference", _U16.unpack_from(body, 2)[0])
            _add(views, "icmpv6.opt.home_agent_lifetime", _U16.unpack_from(body, 4)[0])
        elif otype == 14:
            _add(views, "icmpv6.opt.nonce", body)
        elif otype == 25 and olen >= 3 and olen % 2:
            _add(views, "icmpv6.opt.rdnss.lifetime", _U32.unpack_from(body, 2)[0])
            for at in range(6, len(body), 16):
                _add(views, "icmpv6.opt.rdnss", ip6_str(body[at:at + 16]))
        elif otype == 31 and olen >= 2:
            names = _dnssl(body[6:])
            if names is not None:
                _add(views, "icmpv6.opt.dnssl.lifetime", _U32.unpack_from(body, 2)[0])
                for name in names:
                    _add(views, "icmpv6.opt.dnssl", name)
        elif otype == 38 and olen == 2:
            word = _U16.unpack_from(body, 0)[0]
            _add(views, "icmpv6.opt.pref64.scaled_lifetime", word >> 3)
            _add(views, "icmpv6.opt.pref64.plc", word & 7)
            if word & 7 in _PREF64_LENGTHS:
                _add(views, "icmpv6.opt.pref64.prefix", ip6_str(body[2:14] + bytes(4)))
        i += size
    return views, None


def mld_views(itype: int, count: int, data: bytes) -> dict[str, list[Any]]:
    """MLDv2: a query's source addresses (``count`` of them, as far as ``data`` holds them),
    or a report's ``count`` multicast address records (as far as ``data`` holds them)."""
    views: dict[str, list[Any]] = {}
    if itype == MLD_QUERY:
        for at in range(0, min(count, len(data) // 16) * 16, 16):
            _add(views, "icmpv6.mld.source_address", ip6_str(data[at:at + 16]))
        return views
    at = 0
    for _ in range(count):
        if len(data) - at < 20:
            break
        rtype, aux, nsrc = data[at], data[at + 1], _U16.unpack_from(data, at + 2)[0]
        _add(views, "icmpv6.mldr.mar.record_type", rtype)
        _add(views, "icmpv6.mldr.mar.aux_data_len", aux)
        _add(views, "icmpv6.mldr.mar.nb_sources", nsrc)
        _add(views, "icmpv6.mldr.mar.multicast_address", ip6_str(data[at + 4:at + 20]))
        at += 20
        for _ in range(nsrc):
            if len(data) - at < 16:
                return views
            _add(views, "icmpv6.mldr.mar.source_address", ip6_str(data[at:at + 16]))
            at += 16
        if aux:
            if len(data) - at < aux * 4:
                return views
            _add(views, "icmpv6.mldr.mar.auxiliary_data", data[at:at + aux * 4])
            at += aux * 4
    return views


# --------------------------------------------------------------------------------------------
# The reference (Construct) and the fast paths (struct)

_mldv1 = Struct("icmpv6.mld.maximum_response_delay" / Int16ub, "icmpv6.reserved" / Bytes(2),
                "icmpv6.mld.multicast_address" / Bytes(16))
_echo = Struct("icmpv6.echo.identifier" / Int16ub, "icmpv6.echo.sequence_number" / Int16ub)
_reserved4 = Struct("icmpv6.reserved" / Bytes(4))
SCHEMA = Struct(
    "icmpv6.type" / Int8ub,
    "icmpv6.code" / Int8ub,
    "icmpv6.checksum" / Int16ub,
    "_fixed" / Switch(this["icmpv6.type"], {
        DEST_UNREACHABLE: _reserved4,
        PACKET_TOO_BIG: Struct("icmpv6.mtu" / Int32ub),
        TIME_EXCEEDED: _reserved4,
        PARAMETER_PROBLEM: Struct("icmpv6.pointer" / Int32ub),
        ECHO_REQUEST: _echo,
        ECHO_REPLY: _echo,
        MLD_REPORT: _mldv1,
        MLD_DONE: _mldv1,
        ROUTER_SOLICITATION: _reserved4,
        ROUTER_ADVERTISEMENT: Struct(
            "icmpv6.nd.ra.cur_hop_limit" / Int8ub,
            "icmpv6.nd.ra.flag" / Int8ub,
            "icmpv6.nd.ra.flag.m" / Computed(this["icmpv6.nd.ra.flag"] >> 7),
            "icmpv6.nd.ra.flag.o" / Computed((this["icmpv6.nd.ra.flag"] >> 6) & 1),
            "icmpv6.nd.ra.flag.h" / Computed((this["icmpv6.nd.ra.flag"] >> 5) & 1),
            "icmpv6.nd.ra.flag.prf" / Computed((this["icmpv6.nd.ra.flag"] >> 3) & 3),
            "icmpv6.nd.ra.flag.p" / Computed((this["icmpv6.nd.ra.flag"] >> 2) & 1),
            "icmpv6.nd.ra.flag.rsv" / Computed(this["icmpv6.nd.ra.flag"] & 3),
            "icmpv6.nd.ra.router_lifetime" / Int16ub,
            "icmpv6.nd.ra.reachable_time" / Int32ub,
            "icmpv6.nd.ra.retrans_timer" / Int32ub),
        NEIGHBOR_SOLICITATION: Struct("icmpv6.reserved" / Bytes(4),
                                      "icmpv6.nd.ns.target_address" / Bytes(16)),
        NEIGHBOR_ADVERTISEMENT: Struct(
            "icmpv6.nd.na.flag" / Int32ub,
            "icmpv6.nd.na.flag.r" / Computed(this["icmpv6.nd.na.flag"] >> 31),
            "icmpv6.nd.na.flag.s" / Computed((this["icmpv6.nd.na.flag"] >> 30) & 1),
            "icmpv6.nd.na.flag.o" / Computed((this["icmpv6.nd.na.flag"] >> 29) & 1),
            "icmpv6.nd.na.flag.rsv" / Computed(this["icmpv6.nd.na.flag"] & 0x1FFFFFFF),
            "icmpv6.nd.na.target_address" / Bytes(16)),
        REDIRECT: Struct("icmpv6.reserved" / Bytes(4), "icmpv6.nd.rd.target_address" / Bytes(16),
                         "icmpv6.rd.na.destination_address" / Bytes(16)),
        MLDV2_REPORT: Struct("icmpv6.reserved" / Bytes(2),
                             "icmpv6.mldr.nb_mcast_records" / Int16ub),
    }, default=Struct()),
    "_tail" / GreedyBytes,
)
# An MLD query's fixed part depends on the message's length (RFC 3810 8.1), which a Switch on
# the type cannot see: the two versions as schemas of their own, picked by the adapter.
SCHEMA_MLDV1_QUERY = Struct("icmpv6.type" / Int8ub, "icmpv6.code" / Int8ub,
                            "icmpv6.checksum" / Int16ub, "_fixed" / _mldv1, "_tail" / GreedyBytes)
SCHEMA_MLDV2_QUERY = Struct(
    "icmpv6.type" / Int8ub, "icmpv6.code" / Int8ub, "icmpv6.checksum" / Int16ub,
    "_fixed" / Struct(
        "icmpv6.mld.maximum_response_code" / Int16ub, "icmpv6.reserved" / Bytes(2),
        "icmpv6.mld.multicast_address" / Bytes(16), "icmpv6.mld.flag" / Int8ub,
        "icmpv6.mld.flag.reserved" / Computed(this["icmpv6.mld.flag"] >> 4),
        "icmpv6.mld.flag.s" / Computed((this["icmpv6.mld.flag"] >> 3) & 1),
        "icmpv6.mld.flag.qrv" / Computed(this["icmpv6.mld.flag"] & 7),
        "icmpv6.mld.qqi" / Int8ub, "icmpv6.mld.nb_sources" / Int16ub),
    "_tail" / GreedyBytes)


def _schema_for(buf: bytes) -> Any:
    if len(buf) >= 1 and buf[0] == MLD_QUERY:
        return SCHEMA_MLDV2_QUERY if len(buf) >= MLDV2_QUERY_LEN else SCHEMA_MLDV1_QUERY
    return SCHEMA


def _add_tail(fields: dict[str, Any], itype: int, tail_name: str, tail: bytes) -> str | None:
    """The tail's field and its views; what stopped the options early, if anything."""
    if tail_name == _QUOTE or tail_name == _DATA_LAYER or not tail:
        return None
    fields[tail_name] = tail
    if tail_name == OPTIONS:
        views, problem = option_views(tail)
        fields.update(views)
        return problem
    if tail_name == MLD_DATA:
        count = fields.get("icmpv6.mld.nb_sources", fields.get("icmpv6.mldr.nb_mcast_records"))
        fields.update(mld_views(itype, count or 0, tail))
    return None


def schema_parse(buf: bytes) -> dict[str, Any]:
    """The message in ``buf`` through the Construct schema, as ``decode`` returns it (the
    views of the options and MLDv2 data come from the same functions as ``decode``'s)."""
    parsed = _schema_for(buf).parse(buf)
    fields = {k: v for k, v in parsed.items() if not k.startswith("_")}
    for k, v in parsed["_fixed"].items():
        if not k.startswith("_"):
            fields[k] = ip6_str(v) if k in _ADDRESSES else v
    _add_tail(fields, fields["icmpv6.type"], layout(fields["icmpv6.type"], len(buf))[2],
              parsed["_tail"])
    return fields


def schema_build(fields: dict[str, Any]) -> bytes:
    itype = fields["icmpv6.type"]
    lay = layout(itype, fields=fields)
    fixed = {k: ip6_bytes(fields[k]) if k in _ADDRESSES else fields[k] for k in lay[1]}
    tail = b"" if lay[2] in (_QUOTE, _DATA_LAYER) else as_bytes(fields.get(lay[2], b""), lay[2])
    schema = (SCHEMA if itype != MLD_QUERY else
              SCHEMA_MLDV2_QUERY if lay is _MLDV2_QUERY else SCHEMA_MLDV1_QUERY)
    return bytes(schema.build({**fields, "_fixed": fixed, "_tail": tail}))


_H = struct.Struct("!BBH")


def decode(buf: bytes, off: int, end: int | None = None) -> dict[str, Any]:
    """The message at ``buf[off:end]`` (to the end of ``buf`` by default; the caller checked
    its type's fixed part is there): header, fixed part and views, the tail's field."""
    stop = len(buf) if end is None else end
    itype, code, csum = _H.unpack_from(buf, off)
    fields: dict[str, Any] = {"icmpv6.type": itype, "icmpv6.code": code,
                              "icmpv6.checksum": csum}
    lay = layout(itype, stop - off)
    fmt, names, tail_name = lay
    s = _STRUCTS[fmt]
    if names:
        for name, value in zip(names, s.unpack_from(buf, off + HEADER_LEN), strict=True):
            fields[name] = ip6_str(value) if name in _ADDRESSES else value
        _flag_views(fields)
    _add_tail(fields, itype, tail_name, bytes(buf[off + HEADER_LEN + s.size:stop]))
    return fields


def encode(fields: dict[str, Any]) -> bytes:
    """Header, fixed part and tail from the authoritative fields (a message shorter than its
    type's fixed part, as decoded: header and ``icmpv6.data``)."""
    itype = fields["icmpv6.type"]
    head = _H.pack(itype, fields["icmpv6.code"], fields["icmpv6.checksum"])
    fmt, names, tail_name = layout(itype, fields=fields)
    if names and names[0] not in fields:
        return head + as_bytes(fields.get(DATA, b""), DATA)
    values = [ip6_bytes(fields[name]) if name in _ADDRESSES else
              as_bytes(fields[name], name) if name == "icmpv6.reserved" else fields[name]
              for name in names]
    out = head + _STRUCTS[fmt].pack(*values)
    if tail_name == _QUOTE or tail_name == _DATA_LAYER:
        return out
    return out + as_bytes(fields.get(tail_name, b""), tail_name)


# --------------------------------------------------------------------------------------------
# The house's view of ICMPv6


def _verify(walk: Walk, fields: dict[str, Any], off: int) -> None:
    end = walk.end
    if walk.verify and walk.ip_complete and walk.ip_src:
        start = walk.ip_pseudo + IP_PROTO + (end - off)
        buf = walk.buf
        if checksum_ok(buf[off:end], start):
            fields["icmpv6.checksum.status"] = CHECKSUM_GOOD
        else:
            calc = internet_checksum(buf[off:off + 2] + b"\0\0" + buf[off + 4:end], start)
            walk.bad_checksum(fields, PROTO, off + 2, calc)
    else:
        fields["icmpv6.checksum.status"] = CHECKSUM_UNVERIFIED


def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
    end = walk.end
    buf = walk.buf
    if end - off < HEADER_LEN:
        walk.cut(PROTO, off, HEADER_LEN)
        return None, off
    lay = layout(buf[off], end - off)
    need = HEADER_LEN + fixed_length(lay)
    if end - off < need:
        if not walk.ip_complete:
            walk.cut(PROTO, off, need)
            return None, off
        itype, code, csum = _H.unpack_from(buf, off)
        fields: dict[str, Any] = {"icmpv6.type": itype, "icmpv6.code": code,
                                  "icmpv6.checksum": csum}
        if end - off > HEADER_LEN:
            fields[DATA] = buf[off + HEADER_LEN:end]
        walk.layers.append(Layer(PROTO, fields, off, end - off, MALFORMED))
        walk.errors.append(f"icmpv6: message of type {itype} at offset {off} is {end - off} "
                           f"bytes, shorter than its {need}-byte fixed part")
        _verify(walk, fields, off)
        return None, end
    tail_name = lay[2]
    inline = tail_name not in (_QUOTE, _DATA_LAYER)
    fields = decode(buf, off, end)
    layer = Layer(PROTO, fields, off, end - off if inline else need)
    walk.layers.append(layer)
    _verify(walk, fields, off)
    if inline:
        problem = None
        if tail_name == OPTIONS and OPTIONS in fields:
            problem = option_views(fields[OPTIONS])[1]
        if problem is not None:
            layer.status = MALFORMED
            walk.errors.append(f"icmpv6: malformed options at offset {off + need}: {problem}")
        return None, end
    if tail_name == _DATA_LAYER:
        walk.data(off + need)
    else:
        _quoted(walk, layer, off + need)
    return None, end


def _quoted(walk: Walk, layer: Layer, start: int) -> None:
    """The invoking packet of an error message, dissected as layers of its own.  It is cut
    short by design, so its decode problems are notes on the ICMPv6 layer, not errors of the
    packet (a header the quote ends inside stays a truncated layer and an error)."""
    end = walk.end
    if start >= end:
        return
    name = walk.tables["ip.version"].get(6, "data") if walk.depth < walk.max_depth else "data"
    if name == "data":
        walk.data(start)
        return
    from vxlankit.codec.decode import run_steps  # the registry lists this module: late

    saved = walk.ip_src, walk.ip_dst, walk.ip_pseudo, walk.ip_complete, walk.ip_v6
    n_layers, n_errors, n_trailers = len(walk.layers), len(walk.errors), len(walk.trailers)
    walk.depth += 1
    run_steps(walk, name, start)
    walk.depth -= 1
    walk.ip_src, walk.ip_dst, walk.ip_pseudo, walk.ip_complete, walk.ip_v6 = saved
    walk.end = end
    layers = walk.layers
    # Bytes past the quoted packet's own length are the rest of the quote: data, not a trailer.
    extra = sorted(walk.trailers[n_trailers:])
    del walk.trailers[n_trailers:]
    for lo, hi, _ in extra:
        layers.append(Layer("data", {"data.data": walk.buf[lo:hi], "data.len": hi - lo},
                            offset=lo, length=hi - lo))
    cut = {f"{q.proto}: truncated header at offset {q.offset}" for q in layers[n_layers:]
           if q.raw is not None}
    notes = []
    kept = []
    for error in walk.errors[n_errors:]:
        if any(error.startswith(prefix) for prefix in cut):
            kept.append(error)
        else:
            notes.append(f"quoted packet: {error}")
    walk.errors[n_errors:] = kept
    for quoted in layers[n_layers:]:
        # A header the quote cut short (a DNS message's sections, a length past the end) is
        # whole as far as the quote goes: its problems are the notes above.
        if quoted.status != OK and quoted.raw is None:
            quoted.status = OK
    if notes:
        layer.notes = (*layer.notes, *notes)


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    if fields.get("icmpv6.checksum") is not None:
        return encode(fields), False
    return encode({**fields, "icmpv6.checksum": 0}), True


def options(*items: tuple[int, bytes]) -> bytes:
    """ND options from (type, body) pairs, each body padded with zeros to a multiple of 8
    bytes with its 2-byte header: what ``icmpv6.options`` holds."""
    out = b""
    for otype, body in items:
        size = -(-(len(body) + 2) // 8) * 8
        out += bytes((otype, size // 8)) + body + bytes(size - 2 - len(body))
    return out


# --------------------------------------------------------------------------------------------
# -V places and the Info column


def _span(layer: Layer, name: str) -> Span | None:
    if name == "icmpv6.reserved":
        itype = layer.fields.get("icmpv6.type")
        if itype in (MLD_QUERY, MLD_REPORT, MLD_DONE):
            return 6, 2, None
        return (4, 2, None) if itype == MLDV2_REPORT else None
    if name.startswith("icmpv6.opt.") or name == OPTIONS or name.startswith(
            ("icmpv6.mldr.mar.", "icmpv6.mld.source_address")) or name == MLD_DATA or (
            name == DATA):
        itype = layer.fields.get("icmpv6.type")
        if itype is None:
            return None
        start = HEADER_LEN + fixed_length(layout(itype, layer.length))
        if start >= layer.length:
            start = HEADER_LEN
        return start, layer.length - start, None
    return None


def _mac(raw: Any) -> str:
    return bytes(raw).hex(":") if isinstance(raw, (bytes, bytearray)) else str(raw)


def info(layer: Layer) -> str:
    """As tshark's Info column (without what needs the IPv6 header or other packets: the echo
    hop limit, "(request in N)")."""
    f = layer.fields
    itype = f.get("icmpv6.type")
    if itype is None:
        return ""
    code = f.get("icmpv6.code")
    name = TYPE_NAMES.get(itype, f"Unknown ({itype})")
    src = f.get("icmpv6.opt.src_linkaddr")
    target = f.get("icmpv6.opt.target_linkaddr")
    if itype in (ECHO_REQUEST, ECHO_REPLY) and "icmpv6.echo.identifier" in f:
        return (f"{name} id=0x{f['icmpv6.echo.identifier']:04x}, "
                f"seq={f['icmpv6.echo.sequence_number']}")
    if itype in CODE_NAMES and code is not None:
        return f"{name} ({CODE_NAMES[itype].get(code, f'Unknown ({code})')})"
    if itype in (ROUTER_SOLICITATION, ROUTER_ADVERTISEMENT) and src:
        return f"{name} from {_mac(src[0])}"
    if itype == NEIGHBOR_SOLICITATION and "icmpv6.nd.ns.target_address" in f:
        text = f"{name} for {f['icmpv6.nd.ns.target_address']}"
        return f"{text} from {_mac(src[0])}" if src else text
    if itype == NEIGHBOR_ADVERTISEMENT and "icmpv6.nd.na.target_address" in f:
        flags = [label for bit, label in (("r", "rtr"), ("s", "sol"), ("o", "ovr"))
                 if f.get(f"icmpv6.nd.na.flag.{bit}")]
        text = f"{name} {f['icmpv6.nd.na.target_address']}"
        if flags:
            text += f" ({', '.join(flags)})"
        return f"{text} is at {_mac(target[0])}" if target else text
    if itype == REDIRECT and target:
        return f"{name} is at {_mac(target[0])}"
    return name


def _title(f: dict[str, Any]) -> str:
    itype = f.get("icmpv6.type")
    return f", {TYPE_NAMES.get(itype, f'type {itype}')}" if itype is not None else ""


SPEC = LayerSpec(
    name=PROTO, title="Internet Control Message Protocol v6", role=TRANSPORT, covers="payload",
    header_len=HEADER_LEN, schema=SCHEMA, dissect=dissect, emit=emit, short="ICMPv6",
    selectors=(("ip.proto", IP_PROTO),), checksum=CHECKSUM_PSEUDO, checksum_at=2,
    quotes=True, span=_span, title_extra=_title, info=info,
    fields=(
        Field("icmpv6.type", UINT, (0, 1, None), names=TYPE_NAMES),
        Field("icmpv6.code", UINT, (1, 1, None)),
        Field("icmpv6.checksum", UINT, (2, 2, None), hex=4),
        Field("icmpv6.checksum.status", UINT, (2, 2, None), size=1, at_span=False),
        Field("icmpv6.checksum_calculated", UINT, (2, 2, None), hex=4,
              doc="vxlankit's own: the right checksum, when icmpv6.checksum is bad", at_span=False),
        Field("icmpv6.reserved", BYTES, (4, 4, None), at_span=False),
        Field("icmpv6.mtu", UINT, (4, 4, None)),
        Field("icmpv6.pointer", UINT, (4, 4, None)),
        Field("icmpv6.echo.identifier", UINT, (4, 2, None), hex=4),
        Field("icmpv6.echo.sequence_number", UINT, (6, 2, None)),
        Field("icmpv6.nd.ra.cur_hop_limit", UINT, (4, 1, None)),
        Field("icmpv6.nd.ra.flag", UINT, (5, 1, None), hex=2),
        Field("icmpv6.nd.ra.flag.m", BOOL, (5, 1, 0x80)),
        Field("icmpv6.nd.ra.flag.o", BOOL, (5, 1, 0x40)),
        Field("icmpv6.nd.ra.flag.h", BOOL, (5, 1, 0x20)),
        Field("icmpv6.nd.ra.flag.prf", UINT, (5, 1, 0x18),
              names={0: "Medium", 1: "High", 2: "Reserved", 3: "Low"}),
        Field("icmpv6.nd.ra.flag.p", BOOL, (5, 1, 0x04)),
        Field("icmpv6.nd.ra.flag.rsv", UINT, (5, 1, 0x03)),
        Field("icmpv6.nd.ra.router_lifetime", UINT, (6, 2, None)),
        Field("icmpv6.nd.ra.reachable_time", UINT, (8, 4, None)),
        Field("icmpv6.nd.ra.retrans_timer", UINT, (12, 4, None)),
        Field("icmpv6.nd.ns.target_address", IPV6, (8, 16, None)),
        Field("icmpv6.nd.na.flag", UINT, (4, 4, None), hex=8),
        Field("icmpv6.nd.na.flag.r", BOOL, (4, 4, 0x80000000)),
        Field("icmpv6.nd.na.flag.s", BOOL, (4, 4, 0x40000000)),
        Field("icmpv6.nd.na.flag.o", BOOL, (4, 4, 0x20000000)),
        Field("icmpv6.nd.na.flag.rsv", UINT, (4, 4, 0x1FFFFFFF)),
        Field("icmpv6.nd.na.target_address", IPV6, (8, 16, None)),
        Field("icmpv6.nd.rd.target_address", IPV6, (8, 16, None)),
        Field("icmpv6.rd.na.destination_address", IPV6, (24, 16, None)),
        Field("icmpv6.mld.maximum_response_delay", UINT, (4, 2, None)),
        Field("icmpv6.mld.maximum_response_code", UINT, (4, 2, None)),
        Field("icmpv6.mld.multicast_address", IPV6, (8, 16, None)),
        Field("icmpv6.mld.flag", UINT, (24, 1, None), hex=2),
        Field("icmpv6.mld.flag.s", BOOL, (24, 1, 0x08)),
        Field("icmpv6.mld.flag.qrv", UINT, (24, 1, 0x07)),
        Field("icmpv6.mld.flag.reserved", UINT, (24, 1, 0xF0)),
        Field("icmpv6.mld.qqi", UINT, (25, 1, None)),
        Field("icmpv6.mld.nb_sources", UINT, (26, 2, None)),
        Field("icmpv6.mldr.nb_mcast_records", UINT, (6, 2, None)),
        Field(OPTIONS, BYTES,
              doc="vxlankit's own: the ND option bytes (Wireshark dissects each option; the "
                  "icmpv6.opt.* views show them)"),
        Field(MLD_DATA, BYTES,
              doc="vxlankit's own: an MLDv2 query's sources or report's records, whole "
                  "(views: icmpv6.mld.source_address, icmpv6.mldr.mar.*)"),
        Field(DATA, BYTES),
        Field("icmpv6.opt.type", UINT, names=OPTION_NAMES, repeated=True, size=1),
        Field("icmpv6.opt.length", UINT, repeated=True, size=1),
        Field("icmpv6.opt.linkaddr", BYTES, repeated=True, sep=":"),
        Field("icmpv6.opt.src_linkaddr", BYTES, repeated=True, sep=":"),
        Field("icmpv6.opt.target_linkaddr", BYTES, repeated=True, sep=":"),
        Field("icmpv6.opt.prefix.length", UINT, repeated=True, size=1),
        Field("icmpv6.opt.prefix.flag", UINT, hex=2, repeated=True, size=1),
        Field("icmpv6.opt.prefix.flag.l", BOOL, repeated=True),
        Field("icmpv6.opt.prefix.flag.a", BOOL, repeated=True),
        Field("icmpv6.opt.prefix.flag.r", BOOL, repeated=True),
        Field("icmpv6.opt.prefix.flag.reserved", UINT, repeated=True, size=1),
        Field("icmpv6.opt.prefix.valid_lifetime", UINT, repeated=True, size=4),
        Field("icmpv6.opt.prefix.preferred_lifetime", UINT, repeated=True, size=4),
        Field("icmpv6.opt.prefix", IPV6, repeated=True),
        Field("icmpv6.opt.mtu", UINT, repeated=True, size=4),
        Field("icmpv6.opt.advertisement_interval", UINT, repeated=True, size=4),
        Field("icmpv6.opt.home_agent_preference", UINT, repeated=True, size=2),
        Field("icmpv6.opt.home_agent_lifetime", UINT, repeated=True, size=2),
        Field("icmpv6.opt.nonce", BYTES, repeated=True),
        Field("icmpv6.opt.rdnss.lifetime", UINT, repeated=True, size=4),
        Field("icmpv6.opt.rdnss", IPV6, repeated=True),
        Field("icmpv6.opt.dnssl.lifetime", UINT, repeated=True, size=4),
        Field("icmpv6.opt.dnssl", STRING, repeated=True),
        Field("icmpv6.opt.pref64.scaled_lifetime", UINT, repeated=True, size=2),
        Field("icmpv6.opt.pref64.plc", UINT, hex=4, repeated=True, size=2),
        Field("icmpv6.opt.pref64.prefix", IPV6, repeated=True),
        Field("icmpv6.mld.source_address", IPV6, repeated=True),
        Field("icmpv6.mldr.mar.record_type", UINT, repeated=True, size=1),
        Field("icmpv6.mldr.mar.aux_data_len", UINT, repeated=True, size=1),
        Field("icmpv6.mldr.mar.nb_sources", UINT, repeated=True, size=2),
        Field("icmpv6.mldr.mar.multicast_address", IPV6, repeated=True),
        Field("icmpv6.mldr.mar.source_address", IPV6, repeated=True),
        Field("icmpv6.mldr.mar.auxiliary_data", BYTES, repeated=True),
    ),
)
