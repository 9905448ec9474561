"""TCP header (RFC 9293), with the options a capture reader looks at (RFC 7323, RFC 2018).

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          Source Port          |       Destination Port        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                        Sequence Number                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Acknowledgment Number                      |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  Data |     |A|C|E|U|A|P|R|S|F|                               |
    | Offset| Rsv |E|W|C|R|C|S|S|Y|I|            Window             |
    |       |     | |R|E|G|K|H|T|N|N|                               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |           Checksum            |         Urgent Pointer        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Options (Data Offset > 5)                  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

What one segment says is decoded here (``tcp.seq_raw``, ``tcp.ack_raw``, flags, window value,
options); what needs the conversation (``tcp.stream``, the relative ``tcp.seq``/``tcp.ack``/
``tcp.nxtseq``, the scaled ``tcp.window_size``) is added by ``Streams``, the layer's analyzer,
which the capture-reading paths run over the packets in order, as tshark's TCP analysis does.

Authoritative for encoding: the ports, ``tcp.seq_raw``, ``tcp.ack_raw``, ``tcp.hdr_len``
(bytes, as Wireshark shows it), ``tcp.flags`` (12 bits), ``tcp.window_size_value``,
``tcp.checksum``, ``tcp.urgent_pointer`` and ``tcp.options`` (the raw option bytes); the flag
bits and decoded option values are views of them.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any, cast

from construct import Bytes, Computed, Int16ub, Int32ub, Rebuild, Struct, this

from vxlankit.checksum import transport_checksum
from vxlankit.checksum import verify as checksum_ok
from vxlankit.errors import EncodeError
from vxlankit.layers._common import as_bytes
from vxlankit.layers.spec import (
    BOOL,
    BYTES,
    CHECKSUM_PSEUDO,
    STRING,
    TRANSPORT,
    UINT,
    Analyzer,
    Field,
    LayerSpec,
    Span,
    Walk,
)
from vxlankit.packet import CHECKSUM_GOOD, CHECKSUM_UNVERIFIED, MALFORMED, Layer, Packet

PROTO = "tcp"
MIN_HEADER_LEN = 20
IP_PROTO = 6

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR, AE = (1 << i for i in range(9))
# tcp.flags.str's order and letters, most significant first (Wireshark 4.0: 12 places).
_FLAG_LETTERS = "RRRACEUAPRSF"
_FLAG_NAMES = ((FIN, "FIN"), (SYN, "SYN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"),
               (URG, "URG"), (ECE, "ECE"), (CWR, "CWR"), (AE, "AE"))

OPT_EOL, OPT_NOP, OPT_MSS, OPT_WSCALE, OPT_SACK_PERM, OPT_SACK, OPT_TIMESTAMP = 0, 1, 2, 3, 4, 5, 8

SCHEMA = Struct(
    "tcp.srcport" / Int16ub,
    "tcp.dstport" / Int16ub,
    "tcp.seq_raw" / Int32ub,
    "tcp.ack_raw" / Int32ub,
    "_off_flags" / Rebuild(Int16ub, ((this["tcp.hdr_len"] >> 2) << 12) | this["tcp.flags"]),
    "tcp.hdr_len" / Computed((this._off_flags >> 12) << 2),
    "tcp.flags" / Computed(this._off_flags & 0x0FFF),
    "tcp.window_size_value" / Int16ub,
    "tcp.checksum" / Int16ub,
    "tcp.urgent_pointer" / Int16ub,
    "tcp.options" / Bytes((this["tcp.hdr_len"] - MIN_HEADER_LEN) * (this["tcp.hdr_len"] > 20)),
)

_S = struct.Struct("!HHIIHHHH")


def flags_str(flags: int) -> str:
    """``tcp.flags.str``: a letter per set bit, a middle dot per clear one (12 places)."""
    return "".join(letter if flags & (0x800 >> i) else "\u00b7"
                   for i, letter in enumerate(_FLAG_LETTERS))


# The flag views of each value of the 12 bits, made once per value seen.
_FLAG_FIELDS: dict[int, dict[str, Any]] = {}


def _flag_fields(flags: int) -> dict[str, Any]:
    found = _FLAG_FIELDS[flags] = {
        "tcp.flags.res": 1 if flags & 0x0E00 else 0,  # Wireshark: one boolean for 3 bits
        "tcp.flags.ae": (flags >> 8) & 1,
        "tcp.flags.cwr": (flags >> 7) & 1,
        "tcp.flags.ece": (flags >> 6) & 1,
        "tcp.flags.urg": (flags >> 5) & 1,
        "tcp.flags.ack": (flags >> 4) & 1,
        "tcp.flags.push": (flags >> 3) & 1,
        "tcp.flags.reset": (flags >> 2) & 1,
        "tcp.flags.syn": (flags >> 1) & 1,
        "tcp.flags.fin": flags & 1,
        "tcp.flags.str": flags_str(flags),
    }
    return found


_NOP_NOP_TIMESTAMP = b"\x01\x01\x08\x0a"
_TIMESTAMPS = struct.Struct("!4xII")


def _options(opts: bytes, fields: dict[str, Any]) -> None:
    """The decoded values of the options Wireshark names; the raw bytes stay in tcp.options."""
    if len(opts) == 12 and opts[:4] == _NOP_NOP_TIMESTAMP:  # nearly every segment past a SYN
        fields["tcp.options.timestamp.tsval"], fields["tcp.options.timestamp.tsecr"] = (
            _TIMESTAMPS.unpack(opts))
        return
    i, n = 0, len(opts)
    while i < n:
        kind = opts[i]
        if kind == OPT_EOL:
            break
        if kind == OPT_NOP:
            i += 1
            continue
        if i + 1 >= n or opts[i + 1] < 2 or i + opts[i + 1] > n:
            break  # a length that runs off the header: the rest is not dissected
        size = opts[i + 1]
        body = opts[i + 2:i + size]
        if kind == OPT_MSS and size == 4:
            fields["tcp.options.mss_val"] = int.from_bytes(body, "big")
        elif kind == OPT_WSCALE and size == 3:
            fields["tcp.options.wscale.shift"] = body[0]
            fields["tcp.options.wscale.multiplier"] = 1 << min(body[0], 14)
        elif kind == OPT_SACK and size >= 2:
            fields["tcp.options.sack.count"] = (size - 2) // 8
        elif kind == OPT_TIMESTAMP and size == 10:
            fields["tcp.options.timestamp.tsval"] = int.from_bytes(body[:4], "big")
            fields["tcp.options.timestamp.tsecr"] = int.from_bytes(body[4:], "big")
        i += size


def decode(buf: bytes, off: int, end: int | None = None) -> dict[str, Any]:
    """The fixed header's fields (the caller checked 20 bytes are there), and the options'
    when the whole header is there (before ``end``, by default the end of ``buf``)."""
    sport, dport, seq, ack, off_flags, window, csum, urgent = _S.unpack_from(buf, off)
    hdr_len = (off_flags >> 12) << 2
    flags = off_flags & 0x0FFF
    fields: dict[str, Any] = {
        "tcp.srcport": sport,
        "tcp.dstport": dport,
        "tcp.seq_raw": seq,
        "tcp.ack_raw": ack,
        "tcp.hdr_len": hdr_len,
        "tcp.flags": flags,
        **(_FLAG_FIELDS.get(flags) or _flag_fields(flags)),
        "tcp.window_size_value": window,
        "tcp.checksum": csum,
        "tcp.urgent_pointer": urgent,
    }
    if hdr_len > MIN_HEADER_LEN and off + hdr_len <= (len(buf) if end is None else end):
        opts = bytes(buf[off + MIN_HEADER_LEN:off + hdr_len])
        fields["tcp.options"] = opts
        _options(opts, fields)
    return fields


def encode(fields: dict[str, Any]) -> bytes:
    return pack(fields["tcp.srcport"], fields["tcp.dstport"], fields["tcp.seq_raw"],
                fields["tcp.ack_raw"], fields["tcp.hdr_len"], fields["tcp.flags"],
                fields["tcp.window_size_value"], fields["tcp.checksum"],
                fields["tcp.urgent_pointer"], fields.get("tcp.options", b""))


def pack(sport: int, dport: int, seq: int, ack: int, hdr_len: int, flags: int, window: int,
         checksum: int, urgent: int, options: Any) -> bytes:
    if not 0 <= hdr_len <= 60 or hdr_len % 4:
        raise ValueError(f"tcp.hdr_len {hdr_len} is not a multiple of 4 from 0 to 60")
    if not 0 <= flags <= 0x0FFF:
        raise ValueError(f"tcp.flags {flags:#x} does not fit in 12 bits")
    return _S.pack(sport, dport, seq, ack, ((hdr_len >> 2) << 12) | flags, window, checksum,
                   urgent) + as_bytes(options, "tcp.options")


# --------------------------------------------------------------------------------------------
# The house's view of TCP


def dissect(walk: Walk, off: int) -> tuple[str | None, int]:
    buf = walk.buf
    end = walk.end
    avail = end - off
    if avail < MIN_HEADER_LEN:
        walk.cut(PROTO, off, MIN_HEADER_LEN)
        return None, off
    fields = decode(buf, off, end)
    hdr_len = fields["tcp.hdr_len"]
    layer = Layer(PROTO, fields, off, MIN_HEADER_LEN)
    walk.layers.append(layer)
    if hdr_len < MIN_HEADER_LEN or hdr_len > avail:
        layer.status = MALFORMED
        fields["tcp.checksum.status"] = CHECKSUM_UNVERIFIED
        walk.errors.append(f"tcp: header length {hdr_len} at offset {off + 12} "
                           f"{'< 20' if hdr_len < MIN_HEADER_LEN else f'> {avail} bytes left'}")
        return "data", off + MIN_HEADER_LEN
    layer.length = hdr_len
    if walk.ip_complete and walk.ip_src:
        fields["tcp.len"] = end - off - hdr_len
    if walk.verify and walk.ip_complete and walk.ip_src:
        seglen = end - off
        if checksum_ok(buf[off:end], walk.ip_pseudo + IP_PROTO + seglen):
            fields["tcp.checksum.status"] = CHECKSUM_GOOD
        else:
            walk.bad_checksum(fields, PROTO, off + 16,
                              right_checksum(buf, off, end, walk.ip_src, walk.ip_dst))
    else:
        fields["tcp.checksum.status"] = CHECKSUM_UNVERIFIED
    tables = walk.tables["tcp.port"]
    nxt = tables.get(fields["tcp.dstport"]) or tables.get(fields["tcp.srcport"], "data")
    return nxt, off + hdr_len


def right_checksum(buf: bytes, off: int, end: int, src: bytes, dst: bytes) -> int:
    """The checksum the segment ``buf[off:end]`` from ``src`` to ``dst`` (the address bytes
    of the IP header below it) should carry: ``tcp.checksum_calculated`` of a bad one, for
    ``dissect`` and the JSON fast path alike."""
    segment = buf[off:off + 16] + b"\0\0" + buf[off + 18:end]
    return transport_checksum(src, dst, IP_PROTO, segment, False)


def emit(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    get = fields.get
    options = get("tcp.options", b"")
    hdr_len = get("tcp.hdr_len")
    if fix_lengths or hdr_len is None:
        options = as_bytes(options, "tcp.options")
        if len(options) % 4:
            raise EncodeError(f"tcp.options must be a multiple of 4 bytes, got {len(options)}")
        hdr_len = MIN_HEADER_LEN + len(options)
    checksum = get("tcp.checksum")
    flags, window, urgent = get("tcp.flags"), get("tcp.window_size_value"), get(
        "tcp.urgent_pointer")
    return pack(fields["tcp.srcport"], fields["tcp.dstport"], get("tcp.seq_raw") or 0,
                get("tcp.ack_raw") or 0, hdr_len, flags or 0,
                64240 if window is None else window, checksum or 0, urgent or 0, options
                ), checksum is None


def _span(layer: Layer, name: str) -> Span | None:
    if name.startswith("tcp.options"):  # the option values lie somewhere in the options
        return MIN_HEADER_LEN, max(0, layer.length - MIN_HEADER_LEN), None
    return None


def _title(f: dict[str, Any]) -> str:
    if "tcp.srcport" not in f:
        return ""
    text = f", Src Port: {f['tcp.srcport']}, Dst Port: {f['tcp.dstport']}"
    if "tcp.seq" in f:
        text += f", Seq: {f['tcp.seq']}"
    return text


# The "[SYN, ACK]" part of the Info column for every value of the 12 flag bits.
_FLAG_TEXT = tuple(
    " [" + ", ".join(name for bit, name in _FLAG_NAMES if value & bit) + "]"
    if value & 0x1FF else "" for value in range(0x1000))


def info(layer: Layer) -> str:
    """tshark's Info column for a segment without an upper-layer dissector:
    ``49152 → 80 [SYN] Seq=0 Win=64240 Len=0 MSS=1460`` (raw numbers where no analysis ran)."""
    f = layer.fields
    if "tcp.srcport" not in f:
        return ""
    get = f.get
    seq = get("tcp.seq")
    ack = get("tcp.ack")
    window = get("tcp.window_size")
    opts = get("tcp.options")
    return _text(f["tcp.srcport"], f["tcp.dstport"], f["tcp.flags"],
                 f["tcp.seq_raw"] if seq is None else seq,
                 f["tcp.ack_raw"] if ack is None else ack,
                 f["tcp.window_size_value"] if window is None else window,
                 get("tcp.len"), _options_text(opts, f) if opts else "")


def _text(sport: int, dport: int, flags: int, seq: int, ack: int, window: int,
          length: int | None, tail: str) -> str:
    """The Info column from its values (``tail``: the options' part), for ``info`` and
    ``line`` alike."""
    if length is None:
        if flags & ACK:
            return (f"{sport} \u2192 {dport}{_FLAG_TEXT[flags]} Seq={seq} Ack={ack} "
                    f"Win={window}{tail}")
        return f"{sport} \u2192 {dport}{_FLAG_TEXT[flags]} Seq={seq} Win={window}{tail}"
    if flags & ACK:
        return (f"{sport} \u2192 {dport}{_FLAG_TEXT[flags]} Seq={seq} Ack={ack} "
                f"Win={window} Len={length}{tail}")
    return (f"{sport} \u2192 {dport}{_FLAG_TEXT[flags]} Seq={seq} Win={window} "
            f"Len={length}{tail}")


def _options_text(opts: bytes, values: dict[str, Any]) -> str:
    """The options' part of the Info column (``values``: their decoded fields)."""
    get = values.get
    text = ""
    mss = get("tcp.options.mss_val")
    if mss is not None:
        text += f" MSS={mss}"
    if _has_option(opts, OPT_SACK_PERM):
        text += " SACK_PERM"
    tsval = get("tcp.options.timestamp.tsval")
    if tsval is not None:
        text += f" TSval={tsval} TSecr={values['tcp.options.timestamp.tsecr']}"
    multiplier = get("tcp.options.wscale.multiplier")
    if multiplier is not None:
        text += f" WS={multiplier}"
    return text


def parse_segment(buf: bytes, off: int, end: int, pseudo: int, ports: Mapping[int, str],
                  verify: bool) -> tuple[int, int, int, int, int, int, int, int, int, bool] | None:
    """For the fast paths: what ``dissect`` reads of a whole segment (``buf[off:end]``, over an
    IP header whose addresses sum to ``pseudo``), as values: (source port, destination port,
    sequence and acknowledgment numbers as sent, flags, header length, window as sent,
    checksum, urgent pointer, whether the checksum is bad).  ``None`` where ``dissect`` would
    report more than a bad checksum, or a layer above it (a port in ``ports``, the
    ``tcp.port`` table) would follow."""
    avail = end - off
    if avail < MIN_HEADER_LEN:
        return None
    sport, dport, seq, ack, off_flags, window, csum, urgent = _S.unpack_from(buf, off)
    hdr_len = (off_flags >> 12) << 2
    if hdr_len < MIN_HEADER_LEN or hdr_len > avail:
        return None
    if ports and (ports.get(dport) or ports.get(sport, "data")) != "data":
        return None
    bad = verify and not checksum_ok(buf[off:end], pseudo + IP_PROTO + avail)
    return sport, dport, seq, ack, off_flags & 0x0FFF, hdr_len, window, csum, urgent, bad


def timestamps_only(buf: bytes, off: int, hdr_len: int) -> tuple[int, int] | None:
    """(TSval, TSecr) when the segment at ``off`` carries the options nearly every segment past
    a handshake does (NOP, NOP, timestamps: ``hdr_len`` 32), else None."""
    if hdr_len == 32 and buf[off + 20:off + 24] == _NOP_NOP_TIMESTAMP:
        return _TIMESTAMPS.unpack_from(buf, off + 20)
    return None


def line(buf: bytes, off: int, end: int, pseudo: int, ports: Mapping[int, str], verify: bool,
         analyzer: Analyzer | None, src: str, dst: str) -> tuple[str, bool] | None:
    """For the one-line fast paths: ``info`` of the layer ``dissect`` makes of a whole segment
    (``parse_segment``'s arguments), after ``analyzer`` (this layer's ``Streams``, or None) has
    seen it from ``src`` to ``dst``, and whether its checksum is bad; straight from the bytes,
    without the field dict.  ``None`` where ``parse_segment`` declines."""
    found = parse_segment(buf, off, end, pseudo, ports, verify)
    if found is None:
        return None
    sport, dport, seq, ack, flags, hdr_len, window, _, _, bad = found
    multiplier = None
    if hdr_len == MIN_HEADER_LEN:
        tail = ""
    elif (stamps := timestamps_only(buf, off, hdr_len)) is not None:
        # what _options and _options_text make of the options nearly every segment carries
        tail = " TSval=%d TSecr=%d" % stamps  # noqa: UP031
    else:
        opts = buf[off + MIN_HEADER_LEN:off + hdr_len]
        values: dict[str, Any] = {}
        _options(opts, values)
        tail = _options_text(opts, values)
        multiplier = values.get("tcp.options.wscale.multiplier")
    length = end - off - hdr_len
    if analyzer is not None:
        _stream, seq, _nxtseq, ack, window = cast(Streams, analyzer).segment(
            src, dst, sport, dport, flags, seq, ack, length, window, multiplier)
    return _text(sport, dport, flags, seq, ack, window, length, tail), bad


def _has_option(opts: bytes, wanted: int) -> bool:
    i, n = 0, len(opts)
    while i < n:
        kind = opts[i]
        if kind == OPT_EOL:
            return False
        if kind == wanted:
            return True
        if kind == OPT_NOP:
            i += 1
            continue
        if i + 1 >= n or opts[i + 1] < 2:
            return False
        i += opts[i + 1]
    return False


class Streams:
    """tshark's TCP conversation analysis, the part a reader sees: stream numbers in order of
    first appearance, sequence and acknowledgment numbers relative to each direction's first
    sequence number, and the window scaled as the handshake agreed.

    Call it with every packet of a capture in order and the index of a TCP layer in it (or
    ``add`` with a segment's fields and addresses); it adds ``tcp.stream``, ``tcp.seq``,
    ``tcp.ack``, ``tcp.nxtseq`` and ``tcp.window_size`` to the segment's fields.  A
    conversation is keyed by its two (address, port) ends, either way round; the addresses are
    those of the IP header before the segment.
    """

    __slots__ = ("_streams", "_count")

    def __init__(self) -> None:
        self._count = 0  # streams numbered so far (a reused conversation gets a new number)
        # conversation -> (stream number, {end: [base sequence number, window multiplier]});
        # the multiplier is the last window scale option's (None or 0: the window is as sent).
        self._streams: dict[tuple[Any, ...], tuple[int, dict[int, list[Any]]]] = {}

    def __call__(self, packet: Packet, index: int) -> None:
        layer = packet.layers[index]
        f = layer.fields
        if "tcp.srcport" not in f:
            # A cut header: tshark still follows the conversation from 16 bytes on (ports,
            # numbers, flags, window); the analysis does too, without showing fields.
            if layer.raw is None or len(layer.raw) < 16:
                return
            sport, dport, seq, ack, off_flags, window = struct.unpack_from("!HHIIHH", layer.raw)
            f = {"tcp.srcport": sport, "tcp.dstport": dport, "tcp.seq_raw": seq,
                 "tcp.ack_raw": ack, "tcp.flags": off_flags & 0x0FFF,
                 "tcp.window_size_value": window}
        src, dst = packet.addresses_below(index) or ("", "")
        self.add(f, src, dst)

    def add(self, f: dict[str, Any], src: str, dst: str) -> None:
        """Analyse one segment's fields ``f`` (adding to them), sent from ``src`` to ``dst``."""
        length = f.get("tcp.len")
        f["tcp.stream"], f["tcp.seq"], nxtseq, ack, window = self.segment(
            src, dst, f["tcp.srcport"], f["tcp.dstport"], f["tcp.flags"], f["tcp.seq_raw"],
            f["tcp.ack_raw"], length, f["tcp.window_size_value"],
            f.get("tcp.options.wscale.multiplier"))
        if length is not None:
            f["tcp.nxtseq"] = nxtseq
        # As tshark: always there; without the ACK flag it is the number as sent.
        f["tcp.ack"] = ack
        f["tcp.window_size"] = window

    def segment(self, src: str, dst: str, sport: int, dport: int, flags: int, seq: int,
                ack: int, length: int | None, window: int, multiplier: int | None
                ) -> tuple[int, int, int, int, int]:
        """The analysis of one segment from its values (``ack``, ``length``: as sent; the
        window scale option's ``multiplier`` or None): (stream, relative seq, relative next
        seq (0 without ``length``), relative ack (``ack`` as sent without the ACK flag),
        scaled window)."""
        a = (src, sport)
        b = (dst, dport)
        # The two directions by their place in the key: a conversation with itself (same
        # address and port at both ends) is all one direction, as in tshark.
        key, mine_at, theirs_at = ((a, b), 0, 1) if a <= b else ((b, a), 1, 0)
        entry = self._streams.get(key)
        if entry is None or (flags & SYN and not flags & ACK and mine_at in entry[1]
                             and entry[1][mine_at][0] != seq):  # a new connection, same ports
            entry = self._streams[key] = (self._count, {})
            self._count += 1
        number, ends = entry
        mine = ends.get(mine_at)
        if mine is None:
            # As tshark: the first segment seen is relative 0 if it is a SYN, else 1.
            mine = ends[mine_at] = [seq if flags & SYN else (seq - 1) & 0xFFFFFFFF, None]
        elif flags & SYN:
            mine[0] = seq  # as tshark: a SYN (a SYN/ACK too) sets its end's base again
        relative = (seq - mine[0]) & 0xFFFFFFFF
        nxtseq = 0
        if length is not None:
            used = length + (1 if flags & (SYN | FIN) else 0)  # as tshark counts it
            nxtseq = (relative + used) & 0xFFFFFFFF
        theirs = ends.get(theirs_at)
        if flags & ACK:
            if theirs is None:
                theirs = ends[theirs_at] = [(ack - 1) & 0xFFFFFFFF, None]
            ack = (ack - theirs[0]) & 0xFFFFFFFF
        if not flags & SYN and mine[1]:
            window *= mine[1]  # a SYN's own window is never scaled
        # As tshark: a window scale option sets its end's factor for the segments after it
        # (whatever the flags); a SYN/ACK without one turns scaling off for both ends.
        if multiplier is not None:
            mine[1] = multiplier
        elif flags & SYN and flags & ACK:
            mine[1] = 0
            if theirs is not None:
                theirs[1] = 0
        return number, relative, nxtseq, ack, window


def analyzer() -> Analyzer:
    return Streams()


SPEC = LayerSpec(
    name=PROTO, title="Transmission Control Protocol", role=TRANSPORT,
    header_len=MIN_HEADER_LEN, schema=SCHEMA, dissect=dissect, emit=emit, short="TCP",
    selectors=(("ip.proto", IP_PROTO),), next_table="tcp.port", checksum=CHECKSUM_PSEUDO,
    checksum_at=16, hdr_len_field="tcp.hdr_len", title_extra=_title, info=info, line=line,
    analyzer=analyzer, span=_span,
    aliases=(("tcp.port", ("tcp.srcport", "tcp.dstport")),),
    fields=(
        Field("tcp.srcport", UINT, (0, 2, None),
              column="TCP source port"),
        Field("tcp.dstport", UINT, (2, 2, None),
              column="TCP destination port"),
        Field("tcp.stream", UINT, size=4),
        Field("tcp.len", UINT,
              column="TCP payload length", size=4),
        # relative to the stream's first (the analysis's, not the bits at the span)
        Field("tcp.seq", UINT, (4, 4, None), at_span=False),
        Field("tcp.seq_raw", UINT, (4, 4, None), varies=True,
              column="TCP sequence number as sent (tcp.seq, relative, needs the capture in "
              "order; export reads it in parallel parts)"),
        Field("tcp.nxtseq", UINT, size=4),
        Field("tcp.ack", UINT, (8, 4, None), at_span=False),
        Field("tcp.ack_raw", UINT, (8, 4, None), varies=True,
              column="TCP acknowledgment number as sent"),
        Field("tcp.hdr_len", UINT, (12, 1, 0xF0), scale=4),
        Field("tcp.flags", UINT, (12, 2, 0x0FFF), hex=3,
              column="TCP flags (12 bits: 0x002 SYN, 0x010 ACK, ...)"),
        Field("tcp.flags.res", BOOL, (12, 2, 0x0E00)),
        Field("tcp.flags.ae", BOOL, (12, 2, 0x0100)),
        Field("tcp.flags.cwr", BOOL, (12, 2, 0x0080)),
        Field("tcp.flags.ece", BOOL, (12, 2, 0x0040)),
        Field("tcp.flags.urg", BOOL, (12, 2, 0x0020)),
        Field("tcp.flags.ack", BOOL, (12, 2, 0x0010)),
        Field("tcp.flags.push", BOOL, (12, 2, 0x0008)),
        Field("tcp.flags.reset", BOOL, (12, 2, 0x0004)),
        Field("tcp.flags.syn", BOOL, (12, 2, 0x0002)),
        Field("tcp.flags.fin", BOOL, (12, 2, 0x0001)),
        Field("tcp.flags.str", STRING, (12, 2, 0x0FFF)),
        Field("tcp.window_size_value", UINT, (14, 2, None), varies=True,
              column="TCP window as sent (unscaled)"),
        Field("tcp.window_size", UINT, (14, 2, None), size=4, at_span=False),  # scaled
        Field("tcp.checksum", UINT, (16, 2, None), hex=4, varies=True),
        Field("tcp.checksum.status", UINT, (16, 2, None),
              column="TCP checksum status", size=1, at_span=False),
        Field("tcp.checksum_calculated", UINT, (16, 2, None), hex=4, at_span=False),
        Field("tcp.urgent_pointer", UINT, (18, 2, None)),
        Field("tcp.options", BYTES),
        Field("tcp.options.mss_val", UINT, size=2),
        Field("tcp.options.wscale.shift", UINT, size=1),
        Field("tcp.options.wscale.multiplier", UINT, size=2),
        Field("tcp.options.sack.count", UINT, size=1),
        Field("tcp.options.timestamp.tsval", UINT, size=4),
        Field("tcp.options.timestamp.tsecr", UINT, size=4),
    ),
)
