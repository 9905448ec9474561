"""Vectorised decoding of a batch of frames into columns, with the rich codec as the fallback.

This is ``vxlankit.codec.decode`` run on a whole batch at once: the same layer-by-layer walk,
the same dispatch tables from ``DecodeOptions``, the same checks in the same order, but every
step is a numpy operation over all frames that are at that step.  The first ``PREFIX`` bytes of
every frame are gathered into one ``(n, PREFIX)`` matrix, so reading a header field is a strided
view of that matrix rather than a per-packet ``struct`` call.  Frames whose walk takes the same
layer at the same offset (in a VXLAN capture, nearly all of them) are handled together.

What the walk handles: Ethernet (and 802.1Q/802.1ad tags), IPv4 without options, IPv6 (with
hop-by-hop and destination options headers), UDP, TCP, VXLAN, Geneve, GRE (version 0 without
routing), ERSPAN I/II/III, Ethernet/IPv4 ARP, ICMP, ICMPv6 (but errors' quoted packets), DNS
and mDNS over UDP, payload, trailers, and lengths that run past the captured data (a snaplen
cut).  Headers past the first ``PREFIX`` bytes are read from the frames themselves.  Anything
else - IP options, other extension headers, VXLAN-GPE, NSH, cut headers, malformed ones, other
link types, an FCS, the tunnel depth limit - marks the frame for the fallback: the rich decoder
and :func:`~vxlankit.bulk.columns.row_from_packet`, which define the columns.  So the result
never depends on which path a frame took; the tests check that packet by packet.  DNS is the
one layer whose check is not vectorised: each message's sections are parsed by the layer's own
``dns.parse_sections`` to learn whether the rich decoder would call it malformed.

Checksums are verified where the rich decoder verifies them, on little-endian data: swapping
the bytes of every 16-bit word multiplies the one's complement sum by 256 modulo 0xffff, and 256
is invertible modulo 0xffff, so "sum is 0 mod 0xffff" holds in one byte order exactly when it
holds in the other (RFC 1071, section 2(B)).  And as 2**16 is 1 modulo 0xffff, four bytes read
as one 32-bit lane count as their two words: the sums run over lanes, half as many.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from vxlankit.bulk._numpy import np, npt
from vxlankit.bulk.columns import ColumnBatch, row_from_packet
from vxlankit.bulk.frames import PAD, FrameBatch, gather_rows
from vxlankit.codec import DEFAULT_OPTIONS, LINKTYPES, DecodeOptions, decode
from vxlankit.layers import dns, erspan, geneve, gre, icmpv6, ipv4, ipv6, ipv6ext
from vxlankit.layers.registry import BY_NAME, LAYERS, placed_field
from vxlankit.layers.spec import BOOL, BYTES, ETHER
from vxlankit.packet import (
    CHECKSUM_BAD,
    CHECKSUM_GOOD,
    CHECKSUM_ILLEGAL,
    CHECKSUM_NOT_PRESENT,
    CHECKSUM_UNVERIFIED,
)

PREFIX = 112  # room for an 802.1Q tag outside and inside the tunnel
assert PREFIX <= PAD

# Layer codes: 0 is no layer, then every layer of the registry by its place in LAYERS, then
# the walk's own two: payload, and an Ethernet header with a length instead of an EtherType
# (tshark's frame.protocols lists "ethertype" after a typed one only).  They double as the
# digits (base 256) of a frame's protocol stack, held in two 64-bit accumulators (the low one
# and the digits shifted out of it), so no layer may be 0, 255 means "no handler here", and
# 16 layers fit.
_NONE = 0
_CODES = {spec.name: code for code, spec in enumerate(LAYERS, 1)}
_DATA = len(LAYERS) + 1
_ETH_LEN = len(LAYERS) + 2
_UNSUPPORTED = 255
assert _ETH_LEN < _UNSUPPORTED
(_ETH, _IP, _UDP, _VXLAN, _ARP, _ICMP, _VLAN, _QINQ, _TCP, _GENEVE, _IPV6, _HOPOPTS, _DSTOPTS,
 _ICMPV6, _GRE, _ERSPAN, _DNS, _MDNS) = (_CODES[name] for name in (
    "eth", "ip", "udp", "vxlan", "arp", "icmp", "vlan", "ieee8021ad", "tcp", "geneve", "ipv6",
    ipv6ext.HOPOPTS, ipv6ext.DSTOPTS, "icmpv6", "gre", "erspan", dns.PROTO, dns.MDNS))
# As frame.protocols names each (registry.frame_protocols: "ethertype" after a layer that
# hands on by EtherType).
_PROTO_NAMES = {**{code: spec.proto + (":ethertype" if spec.ethertype_field else "")
                   for code, spec in enumerate(LAYERS, 1)},
                _DATA: "data", _ETH_LEN: "eth"}
_MAX_LAYERS = 16
_DIGIT = np.uint64(8)
_HIGH_DIGIT = np.uint64(56)

# The rich decoder's reports of a length field that runs past the captured data (see
# vxlankit/codec/decode.py); the equality tests hold these to what it prints.
_IP_CUT = "ip: truncated at offset {0}: total length {1}, {2} bytes captured"
_UDP_CUT = "udp: truncated at offset {0}: length {1}, {2} bytes captured"
# ... and of a wrong checksum (offset of the field, the value, the right value).
_IP_BAD = "ip: bad header checksum at offset {0}: 0x{1:04x}, should be 0x{2:04x}"
_UDP_BAD = "udp: bad checksum at offset {0}: 0x{1:04x}, should be 0x{2:04x}"
_ICMP_BAD = "icmp: bad checksum at offset {0}: 0x{1:04x}, should be 0x{2:04x}"
_TCP_BAD = "tcp: bad checksum at offset {0}: 0x{1:04x}, should be 0x{2:04x}"
_ICMPV6_BAD = "icmpv6: bad checksum at offset {0}: 0x{1:04x}, should be 0x{2:04x}"
_GRE_BAD = "gre: bad checksum at offset {0}: 0x{1:04x}, should be 0x{2:04x}"
_IPV6_CUT = "ipv6: truncated at offset {0}: payload length {1}, {2} bytes captured"

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
Rows = npt.NDArray[np.intp]


class _Tables:
    """The dispatch tables of one ``DecodeOptions`` as lookup arrays."""

    def __init__(self, options: DecodeOptions) -> None:
        self.options = options
        # Only the transitions the rich decoder makes with the default tables are handled
        # here (a layer the walk has a handler for, from a table its spec is selected by);
        # a table that sends, say, an EtherType to "udp" is left to the rich decoder.
        self.etype = _lut(options.ethertypes, 1 << 16, _selected_by("ethertype"))
        self.proto = _lut(options.ip_protocols, 1 << 8, _selected_by("ip.proto"))
        # GRE's payload: the "gre.proto" table first, then the EtherTypes (gre.dissect).
        self.gre_proto = self.etype.copy()
        gre_only = _lut(options.tables["gre.proto"], 1 << 16, _selected_by("gre.proto"))
        listed = np.zeros(1 << 16, np.bool_)
        listed[[k for k in options.tables["gre.proto"] if 0 <= k < 1 << 16]] = True
        self.gre_proto[listed] = gre_only[listed]
        self.tcp_port = _lut(options.tables["tcp.port"], 1 << 16, _selected_by("tcp.port"))
        self.port = _lut(options.udp_ports, 1 << 16, _selected_by("udp.port"))
        # Ports in the table (one that says "data" stops the search as much as any other).
        self.port_listed = np.zeros(1 << 16, np.bool_)
        self.port_listed[[p for p in options.udp_ports if 0 < p < 1 << 16]] = True
        self.verify = options.verify_checksums
        self.max_depth = options.max_depth


def _selected_by(table: str) -> dict[str, int]:
    """The layers the walk has handlers for that ``table`` selects (their specs' selectors),
    by name, with their codes."""
    return {spec.name: _CODES[spec.name] for spec in LAYERS
            if _CODES[spec.name] in _HANDLERS and any(t == table for t, _ in spec.selectors)}


def _lut(table: Mapping[int, str], size: int, known: dict[str, int]) -> npt.NDArray[np.uint8]:
    lut = np.full(size, _DATA, np.uint8)
    for key, name in table.items():
        if 0 <= key < size:
            lut[key] = _DATA if name == "data" else known.get(name, _UNSUPPORTED)
    return lut


_TABLE_CACHE: dict[int, _Tables] = {}


def _tables(options: DecodeOptions) -> _Tables:
    # DecodeOptions holds mappings, so it is not hashable; key on identity and keep the
    # options alive in the entry so the id cannot be reused.
    found = _TABLE_CACHE.get(id(options))
    if found is None or found.options is not options:
        if len(_TABLE_CACHE) > 64:
            _TABLE_CACHE.clear()
        found = _TABLE_CACHE[id(options)] = _Tables(options)
    return found


def rich_options(options: DecodeOptions, fcslen: int | None) -> DecodeOptions:
    """The options the rich path uses for an interface (its FCS length, when it states one),
    as ``vxlankit.present.run.options_for`` does."""
    if fcslen is None or fcslen == options.fcs_len:
        return options
    return replace(options, fcs_len=fcslen)


def decode_batch(frames: FrameBatch, options: DecodeOptions = DEFAULT_OPTIONS, *,
                 rich_only: bool = False) -> tuple[ColumnBatch, int]:
    """Decode every frame of ``frames`` into columns; returns them and how many frames went
    through the rich decoder.  ``rich_only`` sends every frame there (for tests and
    comparisons)."""
    n = len(frames)
    cols = ColumnBatch(n)
    _frame_columns(cols, frames)
    if n == 0:
        return cols, 0
    fast_link = np.array([
        LINKTYPES.get(i.linktype) == "eth"
        and (i.fcslen if i.fcslen is not None else options.fcs_len) == 0
        for i in frames.interfaces], np.bool_)
    fallback = ~fast_link[frames.iface]
    if rich_only:
        fallback[:] = True
    if not fallback.all():
        walk = _Walk(frames, cols, _tables(options), fallback)
        walk.run()
        fallback = walk.fb
    rows = np.flatnonzero(fallback)
    if len(rows):
        _rich_rows(cols, frames, options, rows)
    return cols, len(rows)


def _frame_columns(cols: ColumnBatch, frames: FrameBatch) -> None:
    values = cols.values
    values["frame.number"][:] = frames.number
    values["frame.time_epoch"][:] = frames.ts_ns
    values["frame.len"][:] = frames.orig_len
    values["frame.cap_len"][:] = frames.caplen
    ids = np.array([i.id for i in frames.interfaces], np.uint32)
    values["frame.interface_id"][:] = ids[frames.iface] if len(ids) else 0
    names = np.array([-1 if i.name is None else cols.string_id(i.name)
                      for i in frames.interfaces], np.int32)
    values["frame.interface_name"][:] = names[frames.iface] if len(names) else -1
    for name in ("frame.number", "frame.time_epoch", "frame.len", "frame.cap_len",
                 "frame.interface_id"):
        cols.valid[name][:] = True


def _rich_rows(cols: ColumnBatch, frames: FrameBatch, options: DecodeOptions,
               rows: npt.NDArray[np.intp]) -> None:
    cols.clear_rows(rows)
    per_iface = [rich_options(options, i.fcslen) for i in frames.interfaces]
    links = [i.linktype for i in frames.interfaces]
    iface = frames.iface
    for i in rows.tolist():
        k = int(iface[i])
        packet = decode(frames.frame(i), links[k], per_iface[k])
        cols.set_row(i, row_from_packet(packet))


class _Walk:
    """The state of every frame of a batch as the walk goes through its layers.

    ``rel`` is where the next layer starts and ``end`` where the frame's data ends (moved in
    when a length field leaves a trailer), both relative to the frame; ``nxt`` is the next
    layer's code; ``fb`` marks frames left to the rich decoder.

    A layer handler gets the rows (indices) of one group: frames at the same layer and offset.
    It first decides which rows it can decode; if any cannot, it marks them for the fallback and
    starts over with the rest, so that everything after that point works on rows that all
    decode.  When a group is the whole batch (the usual case) rows are selected with a slice,
    which makes every read a view and every write a plain store.
    """

    def __init__(self, frames: FrameBatch, cols: ColumnBatch, tables: _Tables,
                 fallback: Mask) -> None:
        n = len(frames)
        self.n = n
        self.cols = cols
        self.t = tables
        self.buf = frames.buf
        self.start = frames.start
        self.m: npt.NDArray[np.uint8] = gather_rows(frames.buf, frames.start, PREFIX)
        self.fb = fallback
        self.rel = np.zeros(n, np.int64)
        self.end = frames.caplen.copy()
        self.nxt = np.full(n, _ETH, np.uint8)
        self.acc = np.zeros(n, np.uint64)
        self.acc_high = np.zeros(n, np.uint64)  # the digits shifted out of ``acc``
        self.layers = np.zeros(n, np.uint8)
        self.truncated = np.zeros(n, np.bool_)
        # Truncations, in the order the walk met them: (message template, offset, rows,
        # declared lengths, bytes captured).  The rich decoder reports each in
        # Packet.errors; few rows have any, so they are formatted in Python at the end.
        self.cuts: list[tuple[str, int, Rows, I64, I64]] = []
        self.ip_complete = np.ones(n, np.bool_)
        # The innermost IP header's addresses: a number congruent (mod 0xffff) to their
        # big-endian word sum, and whether it is IPv6 (a zero UDP checksum is illegal there).
        self.pseudo = np.zeros(n, np.int64)
        self.v6 = np.zeros(n, np.bool_)
        # The GRE header before an ERSPAN one has protocol 0x88BE and no sequence number:
        # type I, no ERSPAN header (erspan._type_i).
        self.erspan_i = np.zeros(n, np.bool_)
        self.depth = np.zeros(n, np.uint8)
        self.occ: dict[str, npt.NDArray[np.uint8]] = {}

    # -- selecting and reading rows -----------------------------------------------------------

    def sel(self, rows: Rows) -> Any:
        return slice(None) if len(rows) == self.n else rows

    def header(self, rows: Rows, r: int, size: int) -> npt.NDArray[np.uint8]:
        """The ``size`` header bytes at ``r`` of each row, as one compact ``(len(rows), size)``
        array: every field read after this touches only these bytes, not a cache line of the
        prefix matrix per row."""
        if r + size > PREFIX:
            # Past the prefix (deep nesting, long headers): from the frames themselves.  The
            # walk never starts a layer past the end of a frame's data, and the buffer has
            # PAD bytes to spare after the last frame, so this stays inside it.
            return gather_rows(self.buf, self.start[rows] + r, size)
        if len(rows) == self.n:
            return np.ascontiguousarray(self.m[:, r:r + size])
        return self.m[rows, r:r + size]

    def bad_checksums(self, template: str, field_at: int, rows: Rows, at: Rows, wrong: Mask,
                      given: Any, sums: I64, extra: Any = 0, zero_as_ffff: bool = False
                      ) -> Mask | None:
        """Of ``rows``, those at ``at`` were verified and ``wrong`` of those failed: report
        them as the rich decoder words it, with the value the checksum should have been
        (from the same ``sums``, ``extra`` and the ``given`` field at ``field_at``).  Returns
        the failed rows as a mask over ``rows``, or ``None`` when none failed; their other
        columns are decoded as usual."""
        if not wrong.any():
            return None
        failed = at[wrong]
        mask = np.zeros(len(rows), np.bool_)
        mask[failed] = True
        calc = np.zeros(len(rows), np.int64)
        calc[failed] = _should_be(sums[wrong], given[failed],
                                  extra[wrong] if isinstance(extra, np.ndarray) else extra,
                                  zero_as_ffff)
        self.cuts.append((template, field_at, rows[mask], given[mask], calc[mask]))
        return mask

    def reject(self, rows: Rows, bad: Mask) -> Rows | None:
        """Send the ``bad`` rows to the fallback; the remaining rows if there were any bad."""
        if not bad.any():
            return None
        self.fb[rows[bad]] = True
        return rows[~bad]

    # -- writing ------------------------------------------------------------------------------

    def step(self, rows: Rows, code: Any, to: int | I64, nxt: Any) -> None:
        """Record layer ``code`` (one, or one per row) for ``rows``; the next layer is ``nxt``
        at ``to``."""
        s = self.sel(rows)
        acc = self.acc[s]
        if self.layers.max() >= 8:  # ``acc`` is full for some row: keep its top digit
            self.acc_high[s] = (self.acc_high[s] << _DIGIT) | (acc >> _HIGH_DIGIT)
        self.acc[s] = (acc << _DIGIT) | np.asarray(code, np.uint64)
        self.layers[s] += 1
        self.rel[s] = to
        self.nxt[s] = nxt

    def trailer(self, rows: Rows, at: Any, where: Mask | None = None) -> None:
        """Bytes from ``at`` to the end of the data are a trailer (for ``where`` rows): the
        layers after this one end at ``at``.  (tshark does not list trailers in
        frame.protocols, so nothing else needs recording.)"""
        s = self.sel(rows)
        has = at < self.end[s]
        if where is not None:
            has &= where
        if not has.any():
            return
        if has.all():
            self.end[s] = at
            return
        self.end[rows[has]] = at[has] if isinstance(at, np.ndarray) else at

    def put_occ(self, key: str, rows: Rows, fields: list[tuple[str, Any]]) -> None:
        """Write ``fields`` (column name, values per row or one value for all) to the column
        of the occurrence each row is at: ``name`` for the first, ``name#k`` after."""
        if not len(rows):
            return
        occ = self.occ.get(key)
        if occ is None:
            occ = self.occ[key] = np.zeros(self.n, np.uint8)
        s = self.sel(rows)
        seen = occ[s] + 1
        occ[s] = seen
        lo, hi = int(seen.min()), int(seen.max())
        values, valid = self.cols.values, self.cols.valid
        for k in range(lo, hi + 1):
            suffix = "" if k == 1 else f"#{k}"
            if fields[0][0] + suffix not in values:
                continue
            if lo == hi:
                target, pick = s, None
            else:
                pick = seen == k
                target = rows[pick]
            for name, v in fields:
                column = name + suffix
                if column not in values:  # an occurrence without a column of its own
                    continue
                if pick is not None and isinstance(v, np.ndarray):
                    v = v[pick]
                values[column][target] = v
                valid[column][target] = True

    # -- the walk -----------------------------------------------------------------------------

    def run(self) -> None:
        while True:
            act = np.flatnonzero(~self.fb & (self.nxt != _NONE))
            if not len(act):
                break
            codes = self.nxt[act]
            rels = self.rel[act]
            groups: list[tuple[int, int, Rows]]
            if codes.min() == codes.max() and rels.min() == rels.max():
                groups = [(int(codes[0]), int(rels[0]), act)]
            else:
                groups = _groups(act, codes, rels)
            for code, r, rows in groups:
                handler = _HANDLERS.get(code)
                if handler is None:
                    self.fb[rows] = True
                else:
                    handler(self, r, rows)
            self.fb[act] |= self.layers[act] > _MAX_LAYERS
        self.finish()

    def finish(self) -> None:
        """Protocol stacks and statuses of the frames the walk decoded."""
        rows = np.flatnonzero(~self.fb)
        if not len(rows):
            return
        cols = self.cols
        stacks = self.acc[rows]
        high = self.acc_high[rows]
        if stacks.min() == stacks.max() and high.min() == high.max():
            ids: Any = cols.string_id(_stack_name(int(high[0]) << 64 | int(stacks[0])))
        else:
            # The distinct stacks by their high digits (few), then a 1-D unique of the low
            # ones within each: a unique over row pairs costs sixty times as much.  Their
            # names are added to the batch's strings in the order of the rows that first
            # have them, so the file's dictionaries do not depend on how layers are numbered.
            ids = np.empty(len(rows), np.int32)
            parts: list[tuple[int, Rows, list[int], Rows, npt.NDArray[np.int32]]] = []
            firsts: list[tuple[int, int, int]] = []  # (first row, part, distinct stack)
            for hi in np.unique(high).tolist():
                where = np.flatnonzero(high == hi)
                distinct, first, inverse = np.unique(stacks[where], return_index=True,
                                                     return_inverse=True)
                firsts += [(at, len(parts), j) for j, at in enumerate(where[first].tolist())]
                parts.append((hi, where, distinct.tolist(), inverse.reshape(-1),
                              np.empty(len(distinct), np.int32)))
            for _, part, j in sorted(firsts):
                hi, _, lows, _, table = parts[part]
                table[j] = cols.string_id(_stack_name(hi << 64 | lows[j]))
            for _, where, _, inverse, table in parts:
                ids[where] = table[inverse]
        s = self.sel(rows)
        cols.values["frame.protocols"][s] = ids
        ok, cut = cols.string_id("ok"), cols.string_id("truncated")
        cols.values["vxlankit.status"][s] = np.where(self.truncated[s], cut, ok)
        self.cut_errors()

    def cut_errors(self) -> None:
        """``vxlankit.errors`` of the rows with truncated layers: the rich decoder's messages
        (``vxlankit.codec.decode``), in layer order, joined as ``row_from_packet`` joins them.
        Rows sharing a message list share one string."""
        if not self.cuts:
            return
        fb = self.fb
        # Per cut layer, in layer order: its rows, its distinct texts, each row's text.
        parts: list[tuple[Rows, list[str], npt.NDArray[np.intp]]] = []
        for template, r, rows, lengths, avail in self.cuts:
            keep = ~fb[rows]
            if not keep.any():
                continue
            rows, lengths, avail = rows[keep], lengths[keep], avail[keep]
            # A capture's cut frames mostly share their lengths: each text is made once.
            low = int(avail.min())
            span = int(avail.max()) - low + 1
            key = lengths.astype(np.int64) * span + (avail - low)
            distinct, inverse = np.unique(key, return_inverse=True)
            texts = [template.format(r, k // span, k % span + low) for k in distinct.tolist()]
            parts.append((rows, texts, inverse.reshape(-1)))
        if not parts:
            return
        column = self.cols.values["vxlankit.errors"]
        string_id = self.cols.string_id
        # Texts are added to the batch's strings in the order of the rows that first have
        # them (not the walk's order of layers), as the other columns' strings are.
        every = np.concatenate([rows for rows, _, _ in parts])
        if len(np.unique(every)) == len(every):  # one cut layer a row: no joining
            texts = [t for _, part_texts, _ in parts for t in part_texts]
            bases = np.cumsum([0] + [len(part_texts) for _, part_texts, _ in parts[:-1]])
            which = np.concatenate([inverse + base for (_, _, inverse), base
                                    in zip(parts, bases.tolist(), strict=True)])
            in_row_order = which[np.argsort(every, kind="stable")]
            distinct, first = np.unique(in_row_order, return_index=True)
            table = np.empty(len(texts), np.int32)
            for t in distinct[np.argsort(first)].tolist():
                table[t] = string_id(texts[t])
            column[every] = table[which]
            return
        messages: dict[int, list[str]] = {}
        for rows, part_texts, inverse in parts:
            for row, i in zip(rows.tolist(), inverse.tolist(), strict=True):
                messages.setdefault(row, []).append(part_texts[i])
        for row in sorted(messages):
            column[row] = string_id(" | ".join(messages[row]))

    # -- layers -------------------------------------------------------------------------------

    def eth(self, r: int, rows: Rows) -> None:
        s = self.sel(rows)
        rest = self.reject(rows, self.end[s] - r < 14)
        if rest is not None:
            if len(rest):
                self.eth(r, rest)
            return
        h = self.header(rows, r, 14)
        etype = _field(h, "eth", "eth.type")
        typed = etype >= 0x0600
        self.put_occ("eth", rows, [("eth.dst", _field(h, "eth", "eth.dst")),
                                   ("eth.src", _field(h, "eth", "eth.src"))])
        code: Any = _ETH
        if typed.all():
            self.put_occ("eth.type", rows, [("eth.type", etype)])
            nxt: Any = self.t.etype[etype]
        else:
            self.put_occ("eth.type", rows[typed], [("eth.type", etype[typed])])
            nxt = np.where(typed, self.t.etype[etype], _DATA)
            code = np.where(typed, _ETH, _ETH_LEN)
        self.step(rows, code, r + 14, nxt)

    def vlan(self, r: int, rows: Rows) -> None:
        s = self.sel(rows)
        rest = self.reject(rows, self.end[s] - r < 4)
        if rest is not None:
            if len(rest):
                self.vlan(r, rest)
            return
        code = int(self.nxt[rows[0]])  # a group is one layer: every row has this code
        h = self.header(rows, r, 4)
        layer = "vlan" if code == _VLAN else "ieee8021ad"
        if code == _VLAN:  # 802.1ad's tag has fields of its own name (ieee8021ad.id)
            self.put_occ("vlan", rows, [("vlan.id", _field(h, layer, "vlan.id"))])
        self.step(rows, code, r + 4, self.t.etype[_field(h, layer, f"{layer}.etype")])

    def ip(self, r: int, rows: Rows) -> None:
        s = self.sel(rows)
        h = self.header(rows, r, 20)
        total = _field(h, "ip", "ip.len")
        # Version 4 with a 20-byte header; anything else is malformed, truncated or carries
        # options, all of which the rich decoder handles.
        bad = ((self.end[s] - r < 20) | (_field(h, "ip", "ip.version") != 4)
               | (_field(h, "ip", "ip.hdr_len") != ipv4.MIN_HEADER_LEN) | (total < 20))
        rest = self.reject(rows, bad)
        if rest is not None:
            if len(rest):
                self.ip(r, rest)
            return
        status: Any = CHECKSUM_UNVERIFIED
        if self.t.verify:
            words = _le_words(h, 10)
            wrong = (words % 0xFFFF != 0) | (words == 0)
            status = np.where(wrong, CHECKSUM_BAD, CHECKSUM_GOOD)
            self.bad_checksums(_IP_BAD, r + 10, rows, np.arange(len(rows)), wrong,
                               _field(h, "ip", "ip.checksum"), words)
        stop = total.astype(np.int64) + r
        cut = stop > self.end[s]
        if cut.any():
            self.truncated[s] |= cut
            self.cuts.append((_IP_CUT, r, rows[cut], stop[cut] - r, self.end[s][cut] - r))
        self.trailer(rows, stop, ~cut)
        fragment = _field(h, "ip", "ip.frag_offset") != 0
        more = _field(h, "ip", "ip.flags.mf")
        self.ip_complete[s] = ~cut & ~(more & ~fragment)
        src, dst = _field(h, "ip", "ip.src"), _field(h, "ip", "ip.dst")
        # the pseudo-header's addresses, as big-endian words
        self.pseudo[s] = ((src >> 16).astype(np.int64) + (src & 0xFFFF) + (dst >> 16)
                          + (dst & 0xFFFF))
        self.v6[s] = False
        proto = _field(h, "ip", "ip.proto")
        self.put_occ("ip", rows, [("ip.src", src), ("ip.dst", dst),
                                  ("ip.proto", proto), ("ip.checksum.status", status)])
        nxt = self.t.proto[proto]
        if fragment.any():
            nxt = np.where(fragment, _DATA, nxt)
        self.step(rows, _IP, r + 20, nxt)

    def udp(self, r: int, rows: Rows) -> None:
        s = self.sel(rows)
        h = self.header(rows, r, 8)
        length = _field(h, "udp", "udp.length").astype(np.int64)
        avail = self.end[s] - r
        over = length > avail
        complete = self.ip_complete[s] & ~over
        # Past the end of a complete IP payload is malformed; past the end of the capture,
        # truncated (without an error).
        bad = (avail < 8) | (length < 8) | (over & self.ip_complete[s])
        checksum = _field(h, "udp", "udp.checksum")
        rest = self.reject(rows, bad)
        if rest is not None:
            if len(rest):
                self.udp(r, rest)
            return
        verified = None
        wrong = None
        if self.t.verify:
            verified = (checksum != 0) & complete
            at = np.flatnonzero(verified)
            if len(at):
                begin = self.start[rows[at]] + r
                sums = word_sums(self.buf, begin, begin + length[at])
                extra = self.pseudo[rows[at]] + 17 + length[at]
                wrong = self.bad_checksums(_UDP_BAD, r + 6, rows, at,
                                           (sums + extra * 256) % 0xFFFF != 0, checksum, sums,
                                           extra, zero_as_ffff=True)
        if over.any():
            self.truncated[s] |= over
            self.cuts.append((_UDP_CUT, r, rows[over], length[over], avail[over]))
        self.trailer(rows, length + r, ~over)
        status = np.where(checksum == 0,
                          np.where(self.v6[s], CHECKSUM_ILLEGAL, CHECKSUM_NOT_PRESENT),
                          CHECKSUM_UNVERIFIED)
        if verified is not None:
            status[verified] = CHECKSUM_GOOD
        if wrong is not None:
            status[wrong] = CHECKSUM_BAD
        sport, dport = _field(h, "udp", "udp.srcport"), _field(h, "udp", "udp.dstport")
        self.put_occ("udp", rows, [("udp.srcport", sport), ("udp.dstport", dport),
                                   ("udp.checksum.status", status)])
        # As udp.dissect (and Wireshark): the lower port first, then the higher; 0 is none.
        low, high = np.minimum(sport, dport), np.maximum(sport, dport)
        listed = self.t.port_listed
        nxt = np.where(listed[low], self.t.port[low],
                       np.where(listed[high], self.t.port[high], _DATA))
        self.step(rows, _UDP, r + 8, nxt)

    def tcp(self, r: int, rows: Rows) -> None:
        """The header is checked, its checksum verified (a bad one reported as the rich
        decoder reports it), and the columns TCP's spec asks for are filled."""
        s = self.sel(rows)
        h = self.header(rows, r, 20)
        end = self.end[s]
        hdr_len = _field(h, "tcp", "tcp.hdr_len")
        bad = (end - r < 20) | (hdr_len < 20) | (hdr_len > end - r)
        rest = self.reject(rows, bad)
        if rest is not None:
            if len(rest):
                self.tcp(r, rest)
            return
        sport, dport = _field(h, "tcp", "tcp.srcport"), _field(h, "tcp", "tcp.dstport")
        status: Any = CHECKSUM_UNVERIFIED
        fields: list[tuple[str, Any]] = [
            ("tcp.srcport", sport), ("tcp.dstport", dport)] + [
            (name, _field(h, "tcp", name)) for name in (
                "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value")]
        if self.t.verify:
            checked = self.ip_complete[s]
            status = np.where(checked, CHECKSUM_GOOD, CHECKSUM_UNVERIFIED)
            at = np.flatnonzero(checked)
            if len(at):
                begin = self.start[rows[at]] + r
                length = end[at] - r
                sums = word_sums(self.buf, begin, begin + length)
                extra = self.pseudo[rows[at]] + 6 + length
                wrong = self.bad_checksums(_TCP_BAD, r + 16, rows, at,
                                           (sums + extra * 256) % 0xFFFF != 0,
                                           _field(h, "tcp", "tcp.checksum"),
                                           sums, extra)
                if wrong is not None:
                    status[wrong] = CHECKSUM_BAD
        fields.append(("tcp.checksum.status", status))
        self.put_occ("tcp", rows, fields)
        known = self.ip_complete[s]  # tcp.len: the IP payload is all there
        self.put_occ("tcp.len", rows[known], [("tcp.len", (end - r - hdr_len)[known])])
        nxt = self.t.tcp_port[dport]
        by_sport = nxt == _DATA
        if by_sport.any():
            nxt = np.where(by_sport, self.t.tcp_port[sport], nxt)
        self.step(rows, _TCP, hdr_len + r, nxt)

    def vxlan(self, r: int, rows: Rows) -> None:
        s = self.sel(rows)
        bad = (self.end[s] - r < 8) | (self.depth[s] >= self.t.max_depth)
        rest = self.reject(rows, bad)
        if rest is not None:
            if len(rest):
                self.vxlan(r, rest)
            return
        h = self.header(rows, r, 8)
        self.depth[s] += 1
        self.put_occ("vxlan", rows, [(name, _field(h, "vxlan", name))
                                     for name in ("vxlan.flags", "vxlan.gbp", "vxlan.vni")])
        self.step(rows, _VXLAN, r + 8, _ETH)

    def geneve(self, r: int, rows: Rows) -> None:
        """The header and its options (walked option by option, as the rich decoder does,
        to find one that runs past the options: malformed, left to it); the payload is
        looked up in the EtherType table."""
        s = self.sel(rows)
        h = self.header(rows, r, geneve.HEADER_LEN)
        length = geneve.HEADER_LEN + (h[:, 0] & geneve.OPTIONS_LEN_MASK).astype(np.int64) * 4
        avail = self.end[s] - r
        bad = (avail < length) | (self.depth[s] >= self.t.max_depth)
        with_options = np.flatnonzero(~bad & (length > geneve.HEADER_LEN))
        if len(with_options):
            bad[with_options] = self.geneve_options(r, rows[with_options],
                                                    length[with_options])
        rest = self.reject(rows, bad)
        if rest is not None:
            if len(rest):
                self.geneve(r, rest)
            return
        self.depth[s] += 1
        self.put_occ("geneve", rows, [("geneve.vni", _field(h, "geneve", "geneve.vni"))])
        self.step(rows, _GENEVE, length + r, self.t.etype[_field(h, "geneve",
                                                                 "geneve.proto_type")])

    def geneve_options(self, r: int, rows: Rows, length: I64) -> Mask:
        """Of Geneve headers at ``r`` (all there, ``length`` bytes with the options), those
        whose last option runs past the options."""
        begin = self.start[rows] + r
        pos = begin + geneve.HEADER_LEN
        stop = begin + length
        live = np.flatnonzero(pos < stop)
        while len(live):
            at = pos[live]
            pos[live] = at + geneve.OPTION_HEADER_LEN + (self.buf[at + 3] & 0x1F).astype(
                np.int64) * 4
            live = live[pos[live] < stop[live]]
        over: Mask = pos != stop
        return over

    def ipv6(self, r: int, rows: Rows) -> None:
        """The fixed header (ipv6.dissect): its payload length limits what follows (a
        trailer after it, a truncation when the capture ends first); a wrong version or a
        jumbogram is the rich decoder's."""
        size = ipv6.HEADER_LEN
        s = self.sel(rows)
        h = self.header(rows, r, size)
        avail = self.end[s] - r
        plen = _field(h, "ipv6", "ipv6.plen").astype(np.int64)
        nxt = _field(h, "ipv6", "ipv6.nxt")
        bad = (avail < size) | (_field(h, "ipv6", "ipv6.version") != ipv6.VERSION) | (
            (plen == 0) & (nxt == ipv6.NXT_HOPOPTS))
        rest = self.reject(rows, bad)
        if rest is not None:
            if len(rest):
                self.ipv6(r, rest)
            return
        stop = plen + (r + size)
        cut = stop > self.end[s]
        if cut.any():
            self.truncated[s] |= cut
            self.cuts.append((_IPV6_CUT, r, rows[cut], plen[cut], avail[cut] - size))
        self.trailer(rows, stop, ~cut)
        self.ip_complete[s] = ~cut
        # Big-endian word sum of both addresses, from their little-endian lanes (x 256).
        at = _place("ipv6", "ipv6.src")[0]  # the destination follows it
        self.pseudo[s] = _lane_sums(h[:, at:at + 32].view("<u4")) % 0xFFFF * 256
        self.v6[s] = True
        self.step(rows, _IPV6, r + size, self.t.proto[nxt])

    def ipv6_options(self, r: int, rows: Rows) -> None:
        """A hop-by-hop or destination options header (ipv6ext's options dissect step):
        next header and length; its options are not read."""
        s = self.sel(rows)
        h = self.header(rows, r, 2)
        code = int(self.nxt[rows[0]])  # a group is one layer: every row has this code
        layer = ipv6ext.HOPOPTS if code == _HOPOPTS else ipv6ext.DSTOPTS
        size = (_field(h, layer, f"{layer}.len").astype(np.int64) + 1) * 8
        rest = self.reject(rows, self.end[s] - r < size)
        if rest is not None:
            if len(rest):
                self.ipv6_options(r, rest)
            return
        self.step(rows, code, size + r, self.t.proto[_field(h, layer, f"{layer}.nxt")])

    def icmpv6(self, r: int, rows: Rows) -> None:
        """Header and fixed part by type (``icmpv6.layout``), the checksum over the
        pseudo-header, ND options checked for what makes the rich decoder call them
        malformed (those rows, short messages and errors' quotes are its)."""
        s = self.sel(rows)
        end = self.end[s]
        avail = end - r
        h = self.header(rows, r, icmpv6.HEADER_LEN)
        kind = _field(h, "icmpv6", "icmpv6.type")
        need = _ICMPV6_FIXED[kind]
        mldv2 = (kind == icmpv6.MLD_QUERY) & (avail >= icmpv6.MLDV2_QUERY_LEN)
        if mldv2.any():
            need = np.where(mldv2, _MLDV2_FIXED, need)
        tail = _ICMPV6_TAIL[kind]
        bad = (avail < need) | (tail == 3)
        options = np.flatnonzero(~bad & (tail == 2) & (avail > need))
        if len(options):
            bad[options] = self.nd_options_bad(rows[options], need[options] + r,
                                               end[options])
        rest = self.reject(rows, bad)
        if rest is not None:
            if len(rest):
                self.icmpv6(r, rest)
            return
        if self.t.verify:
            at = np.flatnonzero(self.ip_complete[s])
            if len(at):
                begin = self.start[rows[at]]
                length = end[at] - r
                sums = word_sums(self.buf, begin + r, begin + end[at])
                extra = self.pseudo[rows[at]] + icmpv6.IP_PROTO + length
                self.bad_checksums(_ICMPV6_BAD, r + 2, rows, at,
                                   (sums + extra * 256) % 0xFFFF != 0,
                                   _field(h, "icmpv6", "icmpv6.checksum"), sums, extra)
        echo = tail == 1
        self.step(rows, _ICMPV6, np.where(echo, need + r, end), np.where(echo, _DATA, _NONE))

    def nd_options_bad(self, rows: Rows, begin: I64, end: I64) -> Mask:
        """Of ND options from ``begin`` to ``end`` (frame offsets), those that stop early
        (``icmpv6.option_views``: a cut option header, a zero length, an option past the
        end)."""
        base = self.start[rows]
        pos = begin.copy()
        bad = np.zeros(len(rows), np.bool_)
        live = np.flatnonzero(pos < end)
        while len(live):
            at = pos[live]
            short = end[live] - at < 2
            length = self.buf[base[live] + at + 1].astype(np.int64) * 8
            wrong = short | (length == 0) | (at + length > end[live])
            bad[live[wrong]] = True
            pos[live] = at + np.where(wrong, end[live] - at, length)
            live = live[pos[live] < end[live]]
        return bad

    def gre(self, r: int, rows: Rows) -> None:
        """GRE version 0 without routing (gre.dissect; SREs, PPTP, cut headers and the depth
        limit are the rich decoder's): optional checksum (verified when C is set), key and
        sequence number; the payload by "gre.proto", then EtherType."""
        s = self.sel(rows)
        h = self.header(rows, r, 16)
        flags = _field(h, "gre", "gre.flags_and_version")
        avail = self.end[s] - r
        c = _field(h, "gre", "gre.flags.checksum")
        k = _field(h, "gre", "gre.flags.key")
        size = (gre.HEADER_LEN + 4 * c + 4 * k + 4 * ((flags & gre.FLAG_S) != 0)).astype(
            np.int64)
        bad = ((avail < size) | ((flags & (gre.FLAG_R | gre.VERSION_MASK)) != 0)
               | (self.depth[s] >= self.t.max_depth))
        rest = self.reject(rows, bad)
        if rest is not None:
            if len(rest):
                self.gre(r, rest)
            return
        self.depth[s] += 1
        proto = _field(h, "gre", "gre.proto")
        if self.t.verify and c.any():
            at = np.flatnonzero(c & self.ip_complete[s])
            if len(at):
                begin = self.start[rows[at]]
                sums = word_sums(self.buf, begin + r, begin + self.end[rows[at]])
                at_sum = gre.SPEC.checksum_at
                assert at_sum is not None
                self.bad_checksums(_GRE_BAD, r + at_sum, rows, at,
                                   (sums % 0xFFFF != 0) | (sums == 0), _be16(h, at_sum), sums)
        if k.any():  # the key follows the checksum word, when there is one (RFC 2890)
            key = np.where(c, _be32(h, gre.HEADER_LEN + 4), _be32(h, gre.HEADER_LEN))
            self.put_occ("gre.key", rows[k], [("gre.key", key[k])])
        self.erspan_i[s] = (proto == gre.PROTO_ERSPAN) & ((flags & gre.FLAG_S) == 0)
        self.step(rows, _GRE, size + r, self.t.gre_proto[proto])

    def erspan(self, r: int, rows: Rows) -> None:
        """ERSPAN (erspan.dissect): type I has no header; types II and III (with the
        platform sub-header when O is set) carry Ethernet, or data for a type III frame type
        other than Ethernet.  Other versions and cut headers are the rich decoder's."""
        s = self.sel(rows)
        h = self.header(rows, r, erspan.LEN_III)
        avail = self.end[s] - r
        type_i = self.erspan_i[s]
        version = _field(h, "erspan", "erspan.version")
        iii = version == erspan.TYPE_III
        size = np.where(iii, erspan.LEN_III + erspan.SUB_LEN * _field(h, "erspan", "erspan.o"),
                        erspan.LEN_II).astype(np.int64)
        size[type_i] = 0
        bad = ~type_i & (((version != erspan.TYPE_II) & ~iii) | (avail < size))
        rest = self.reject(rows, bad)
        if rest is not None:
            if len(rest):
                self.erspan(r, rest)
            return
        spanned = ~type_i
        if spanned.any():
            self.put_occ("erspan", rows[spanned],
                         [("erspan.spanid", _field(h, "erspan", "erspan.spanid")[spanned])])
        eth = ~iii | type_i | (_field(h, "erspan", "erspan.ft") == erspan.FT_ETHERNET)
        self.step(rows, _ERSPAN, size + r, np.where(eth, _ETH, _DATA))

    def dns(self, r: int, rows: Rows) -> None:
        """DNS or mDNS over UDP (dns._dissect_udp): an empty datagram has no layer, a header
        cut short is the rich decoder's.  Whether the questions and records parse is asked
        of the layer's own ``dns.check_sections``, one message at a time (DNS has no
        columns, and the name compression it follows does not vectorise): a message it
        finds malformed is the rich decoder's, so the words of the report are the layer's."""
        s = self.sel(rows)
        end = self.end[s]
        avail = end - r
        bad = (avail > 0) & (avail < dns.HEADER_LEN)
        code = int(self.nxt[rows[0]])  # a group is one layer: every row has this code
        whole = np.flatnonzero(avail >= dns.HEADER_LEN)
        if len(whole):
            raw = self.buf.data
            begin = self.start[rows[whole]] + r
            h = self.header(rows[whole], r, dns.HEADER_LEN)
            counts = [_field(h, dns.PROTO, name) for name in dns.COUNTS]
            check = dns.check_sections
            for i, lo, hi, c0, c1, c2, c3 in zip(
                    whole.tolist(), begin.tolist(), (begin + avail[whole]).tolist(),
                    counts[0].tolist(), counts[1].tolist(), counts[2].tolist(),
                    counts[3].tolist(), strict=True):
                bad[i] = check(bytes(raw[lo:hi]), (c0, c1, c2, c3)) is not None
        rest = self.reject(rows, bad)
        if rest is not None:
            if len(rest):
                self.dns(r, rest)
            return
        has = avail > 0
        if has.all():
            self.step(rows, code, end, _NONE)
            return
        self.step(rows[has], code, end[has], _NONE)
        self.nxt[rows[~has]] = _NONE

    def arp(self, r: int, rows: Rows) -> None:
        s = self.sel(rows)
        h = self.header(rows, r, 28)
        htype = _field(h, "arp", "arp.hw.type")
        # Ethernet/IPv4 ARP only: other address sizes give other fields.
        standard = ((_field(h, "arp", "arp.hw.size") == 6)
                    & (_field(h, "arp", "arp.proto.size") == 4)
                    & (_field(h, "arp", "arp.proto.type") == 0x0800)
                    & ((htype == 1) | (htype == 6)))
        rest = self.reject(rows, (self.end[s] - r < 28) | ~standard)
        if rest is not None:
            if len(rest):
                self.arp(r, rest)
            return
        self.put_occ("arp", rows, [(name, _field(h, "arp", name)) for name in (
            "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac",
            "arp.dst.proto_ipv4")])
        self.trailer(rows, r + 28)
        self.step(rows, _ARP, r + 28, _NONE)

    def icmp(self, r: int, rows: Rows) -> None:
        s = self.sel(rows)
        end = self.end[s]
        rest = self.reject(rows, end - r < 8)
        if rest is not None:
            if len(rest):
                self.icmp(r, rest)
            return
        h = self.header(rows, r, 8)
        kind = _field(h, "icmp", "icmp.type")
        status: Any = CHECKSUM_UNVERIFIED
        if self.t.verify:
            checked = self.ip_complete[s]
            status = np.where(checked, CHECKSUM_GOOD, CHECKSUM_UNVERIFIED)
            at = np.flatnonzero(checked)
            if len(at):
                begin = self.start[rows[at]]
                sums = word_sums(self.buf, begin + r, begin + end[at])
                wrong = self.bad_checksums(_ICMP_BAD, r + 2, rows, at,
                                           (sums % 0xFFFF != 0) | (sums == 0),
                                           _field(h, "icmp", "icmp.checksum"), sums)
                if wrong is not None:
                    status[wrong] = CHECKSUM_BAD
        self.put_occ("icmp", rows, [("icmp.type", kind),
                                    ("icmp.code", _field(h, "icmp", "icmp.code")),
                                    ("icmp.checksum.status", status)])
        echo = (kind == 0) | (kind == 8)
        ident, seq = _field(h, "icmp", "icmp.ident"), _field(h, "icmp", "icmp.seq")
        if not echo.all():
            ident, seq, echo_rows = ident[echo], seq[echo], rows[echo]
        else:
            echo_rows = rows
        self.put_occ("icmp.echo", echo_rows, [("icmp.ident", ident), ("icmp.seq", seq)])
        self.step(rows, _ICMP, r + 8, _DATA)

    def data(self, r: int, rows: Rows) -> None:
        s = self.sel(rows)
        has = r < self.end[s]
        if has.all():
            self.step(rows, _DATA, r, _NONE)
            return
        self.step(rows[has], _DATA, r, _NONE)
        self.nxt[rows[~has]] = _NONE


# The layer handlers by code.  A table on the class rather than bound methods on each walk:
# those would make every walk a reference cycle, and its arrays (megabytes per batch) would
# wait for the cyclic garbage collector instead of going when the batch is done.
_HANDLERS: dict[int, Callable[[_Walk, int, Rows], None]] = {
    _ETH: _Walk.eth, _IP: _Walk.ip, _UDP: _Walk.udp, _VXLAN: _Walk.vxlan, _ARP: _Walk.arp,
    _ICMP: _Walk.icmp, _DATA: _Walk.data, _VLAN: _Walk.vlan, _QINQ: _Walk.vlan,
    _TCP: _Walk.tcp, _GENEVE: _Walk.geneve, _IPV6: _Walk.ipv6, _HOPOPTS: _Walk.ipv6_options,
    _DSTOPTS: _Walk.ipv6_options, _ICMPV6: _Walk.icmpv6, _GRE: _Walk.gre, _ERSPAN: _Walk.erspan,
    _DNS: _Walk.dns, _MDNS: _Walk.dns,
}


def _icmpv6_tables() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """Per ICMPv6 type: the length of its header and fixed part, and what follows them
    (``icmpv6.layout``): 0 nothing more to read, 1 a data layer (echo), 2 ND options, 3 the
    invoking packet (an error's quote, left to the rich decoder)."""
    fixed = np.zeros(256, np.int64)
    tail = np.zeros(256, np.uint8)
    for kind in range(256):
        lay = icmpv6.layout(kind)
        fixed[kind] = icmpv6.HEADER_LEN + icmpv6.fixed_length(lay)
        if lay[2] == icmpv6.OPTIONS:
            tail[kind] = 2
        elif lay[2] not in (icmpv6.MLD_DATA, icmpv6.DATA):
            tail[kind] = 1 if kind in (icmpv6.ECHO_REQUEST, icmpv6.ECHO_REPLY) else 3
    return fixed, tail


_ICMPV6_FIXED, _ICMPV6_TAIL = _icmpv6_tables()
# An MLD query of at least this many bytes is MLDv2's, with a longer fixed part.
_MLDV2_FIXED = icmpv6.HEADER_LEN + icmpv6.fixed_length(
    icmpv6.layout(icmpv6.MLD_QUERY, icmpv6.MLDV2_QUERY_LEN))


# ---------------------------------------------------------------- fields where specs put them

# (layer, field) -> (offset, size, mask, shift, scale, type), from the layer's spec: the walk
# reads no place of its own.
_PLACES: dict[tuple[str, str], tuple[int, int, int, int, int, str]] = {}


def _place(layer: str, name: str) -> tuple[int, int, int, int, int, str]:
    found = _PLACES.get((layer, name))
    if found is not None:
        return found
    field = placed_field(BY_NAME[layer], name)
    if field is None:
        raise KeyError(f"{layer} has no field {name}")
    if field.span is None or not field.at_span:
        raise KeyError(f"{name} is not read where it sits")
    offset, size, mask = field.span
    mask = mask or 0
    shift = (mask & -mask).bit_length() - 1 if mask else 0
    found = _PLACES[(layer, name)] = (offset, size, mask, shift, field.scale, field.type)
    return found


def _field(h: npt.NDArray[np.uint8], layer: str, name: str) -> Any:
    """Field ``name`` of every row of ``h`` (headers of ``layer``), read where the layer's
    spec puts it and as the decoder gives it: a number (masked, shifted, scaled; a flag as a
    truth value), an IPv4 address as a 32-bit number, a MAC or byte string as the rows'
    bytes."""
    offset, size, mask, shift, scale, kind = _place(layer, name)
    if kind in (ETHER, BYTES):
        return h[:, offset:offset + size]
    if size == 1:
        value: Any = h[:, offset]
    elif size == 2:
        value = _be16(h, offset)
    elif size == 4:
        value = _be32(h, offset)
    elif size == 3:
        value = (h[:, offset].astype(np.uint32) << 16) | _be16(h, offset + 1)
    else:
        raise KeyError(f"{name}: a {size}-byte number")
    if mask:
        value = value & mask
        if kind == BOOL:
            return value != 0
        if shift:
            value = value >> shift
    if scale != 1:
        value = value.astype(np.int64) * scale
    return value


def _be16(h: npt.NDArray[np.uint8], at: int) -> npt.NDArray[np.uint16]:
    """The big-endian 16-bit field at ``at`` of every row, as native integers."""
    return h[:, at:at + 2].view(">u2")[:, 0].astype(np.uint16)


def _be32(h: npt.NDArray[np.uint8], at: int) -> npt.NDArray[np.uint32]:
    return h[:, at:at + 4].view(">u4")[:, 0].astype(np.uint32)


def _should_be(le_sums: I64, given: Any, extra: Any = 0, zero_as_ffff: bool = False) -> I64:
    """The right checksum of data whose little-endian word sums (``word_sums``, the checksum
    field included, holding ``given``) are ``le_sums``, with ``extra`` added in big-endian
    words (a pseudo-header).  256 is its own inverse modulo 0xffff, so multiplying by it turns
    a little-endian word sum into a big-endian one."""
    rest = (le_sums * 256 + extra - given.astype(np.int64)) % 0xFFFF
    calc = 0xFFFF - np.where(rest == 0, 0xFFFF, rest)  # ~(one's complement sum)
    if zero_as_ffff:
        calc = np.where(calc == 0, 0xFFFF, calc)  # UDP sends a computed 0 as 0xffff
    return calc


def _le_words(h: npt.NDArray[np.uint8], count: int) -> I64:
    """For the first ``count`` little-endian 16-bit words of every row (``count`` even), a
    number congruent to their sum modulo 0xffff and zero only when they all are (see
    ``word_sums``)."""
    return _lane_sums(h[:, :2 * count].view("<u4"))


# Lengths shared by at least this many rows are summed as one gathered matrix; rarer lengths
# one row at a time (a numpy call per distinct length costs more than a few Python sums).
_GROUP_MIN = 16


def word_sums(buf: npt.NDArray[np.uint8], begin: I64, stop: I64) -> I64:
    """For each row, a number congruent modulo 0xffff to the sum of the little-endian 16-bit
    words of ``buf[begin:stop]`` (an odd last byte padded with zero), and zero only when all
    those bytes are: all that verifying an Internet checksum needs.

    Bytes are summed four at a time, as little-endian 32-bit lanes: 2**16 is 1 modulo 0xffff,
    so a lane is congruent to the sum of its two words.
    """
    out = np.zeros(len(begin), np.int64)
    lengths = stop - begin
    counts = np.bincount(lengths)
    common = np.flatnonzero(counts >= _GROUP_MIN)
    for length in common.tolist():
        if length == 0:
            continue
        rows = np.flatnonzero(lengths == length)
        width = (length + 3) & ~3
        block = gather_rows(buf, begin[rows], width)
        block[:, length:] = 0  # the bytes after the data, up to a lane boundary
        out[rows] = _lane_sums(block.view("<u4"))
    rare = counts[lengths] < _GROUP_MIN
    if rare.any():
        raw = buf.data
        for i in np.flatnonzero(rare).tolist():
            chunk = bytes(raw[int(begin[i]):int(stop[i])])
            if len(chunk) & 1:
                chunk += b"\x00"
            out[i] = sum(memoryview(chunk).cast("H")) if _LITTLE else _le_sum(chunk)
    return out


def _lane_sums(lanes: npt.NDArray[np.uint32]) -> I64:
    """Row sums of a ``(k, m)`` array of 32-bit lanes (exact: m is far below 2**32)."""
    if lanes.shape[1] <= 32:
        # A few columns: adding them is cheaper than a reduction per row.
        total = lanes[:, 0].astype(np.int64)
        for i in range(1, lanes.shape[1]):
            total += lanes[:, i]
        return total
    summed: I64 = lanes.sum(axis=1, dtype=np.int64)
    return summed


def _le_sum(chunk: bytes) -> int:  # pragma: no cover - big-endian hosts only
    return sum(chunk[i] | chunk[i + 1] << 8 for i in range(0, len(chunk), 2))


_LITTLE = np.little_endian



def _groups(act: Rows, codes: Any, rels: Any) -> list[tuple[int, int, Rows]]:
    """The rows ``act`` grouped by (layer code, offset), in that order: counted by
    ``bincount`` (codes and offsets are small), not sorted, which cost a 65536-row argsort a
    step."""
    groups: list[tuple[int, int, Rows]] = []
    for code in np.flatnonzero(np.bincount(codes)).tolist():
        mine = codes == code
        rows, offsets = act[mine], rels[mine]
        if offsets.min() == offsets.max():
            groups.append((code, int(offsets[0]), rows))
            continue
        for r in np.flatnonzero(np.bincount(offsets)).tolist():
            groups.append((code, r, rows[offsets == r]))
    return groups

def _stack_name(code: int) -> str:
    names = []
    while code:
        names.append(_PROTO_NAMES[code & 0xFF])
        code >>= 8
    return ":".join(reversed(names))
