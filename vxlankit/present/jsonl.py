"""JSON Lines: one object per packet, field names and value forms as Wireshark's.

The schema is documented in ``docs/json.md``.  In short::

    {"frame": {"frame.number": 1, "frame.time_epoch": "1368908504.837063000", "frame.len": 148,
               "frame.cap_len": 148, "frame.interface_id": 0,
               "frame.protocols": "eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:icmp:data"},
     "layers": [{"proto": "eth", "offset": 0, "length": 14, "status": "ok",
                 "fields": {"eth.dst": "00:16:3e:08:71:cf", ...}}, ...],
     "errors": []}

Integers are JSON numbers, addresses strings as Wireshark displays them, byte strings
colon-separated hex (Wireshark's FT_BYTES display).  ``frame.time_epoch`` is a string, exact to
the nanosecond (no float on the way).

Speed: the objects are plain dicts holding the packet's own field dicts (no copy), serialised
by one precomputed C encoder whose ``default`` hook turns ``bytes`` into hex.
"""

from __future__ import annotations

import functools
import json
import operator
import re
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from vxlankit.addr import pair_str
from vxlankit.checksum import internet_checksum, pseudo_header_sum
from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions, decode
from vxlankit.codec.analysis import Analysis
from vxlankit.codec.decode import dissect_frame, dissect_transport
from vxlankit.codec.options import fast_path_applies
from vxlankit.layers import arp, ethernet, headers, icmp, tcp, vlan, vxlan
from vxlankit.layers.registry import STEPS, UDP_MESSAGES, frame_protocols, placed_field, spec_for
from vxlankit.layers.shapes import plan_shape
from vxlankit.layers.spec import ETHER, IPV4, IPV6, Field, Walk, checksum_error
from vxlankit.layers.udp import port_layer
from vxlankit.packet import Layer, Packet
from vxlankit.present.run import (
    DecodedRecord,
    FastPathTally,
    RecordLike,
    frame_values,
    options_for,
)
from vxlankit.present.timeformat import epoch_str

_ntoa = socket.inet_ntoa

__all__ = ["SCHEMA_VERSION", "dumps", "fast_json_lines", "frame_protocols", "json_lines",
           "make_fast_json", "packet_object", "record_json", "record_object"]

SCHEMA_VERSION = 1



def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex(":")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_default, check_circular=False)
dumps = _ENCODER.encode
"""Serialise a JSON-able object (``bytes`` become colon-hex) on one line."""


def packet_object(packet: Packet) -> dict[str, Any]:
    """``{"layers": [...], "errors": [...]}`` for a packet (no frame metadata)."""
    layers: list[dict[str, Any]] = []
    for layer in packet.layers:
        obj: dict[str, Any] = {"proto": layer.proto, "offset": layer.offset,
                               "length": layer.length, "status": layer.status,
                               "fields": layer.fields}
        if layer.notes:
            obj["notes"] = list(layer.notes)
        if layer.raw is not None:
            obj["raw"] = layer.raw
        layers.append(obj)
    return {"layers": layers, "errors": packet.errors}


def record_object(record: RecordLike, packet: Packet, *, file: str | None = None
                  ) -> dict[str, Any]:
    """The whole JSON object of one packet."""
    # The time second, as tshark orders them; the rest is the record's own (what -Y reads).
    frame: dict[str, Any] = {"frame.number": record.number,
                             "frame.time_epoch": epoch_str(record.ts_ns)}
    frame.update(frame_values(record, record.interface))
    frame["frame.protocols"] = frame_protocols(packet)
    obj: dict[str, Any] = {"frame": frame} if file is None else {"file": file, "frame": frame}
    obj.update(packet_object(packet))
    return obj


# --------------------------------------------------------------------------------------------
# The fast writer: the same text as ``dumps(record_object(...))``, built from cached templates
#
# A decoded layer of a given protocol, status and field names always has the same JSON shape,
# so its text is a %-template with a slot per value: ``%d`` for an int (it raises for anything
# else, which sends the layer to the generic encoder), ``"%s"`` for an address string (the codec
# makes them from hex digits, dots and colons only, so they need no escaping), ``%s`` for any
# other string escaped and quoted by the encoder's own function first (a value of another type
# there raises, to the generic encoder), and ``"%s"`` for bytes turned into colon-hex first.

_SAFE_STR_FIELDS = frozenset({
    "eth.dst", "eth.src", "ip.src", "ip.dst", "arp.src.hw_mac", "arp.dst.hw_mac",
    "arp.src.proto_ipv4", "arp.dst.proto_ipv4", "sll.src.eth", "null.byte_order",
})
_encode_str = json.encoder.encode_basestring_ascii
_Template = tuple[str, tuple[int, ...], tuple[int, ...]] | None
_templates: dict[tuple[Any, ...], _Template] = {}


def _make_template(proto: str, status: str, fields: dict[str, Any]) -> _Template:
    parts = []
    byte_slots = []
    str_slots = []
    for slot, (name, value) in enumerate(fields.items(), start=2):
        kind = type(value)
        key = _encode_str(name).replace("%", "%%")
        if kind is int:
            parts.append(f"{key}:%d")
        elif kind is str and name in _SAFE_STR_FIELDS:
            parts.append(f'{key}:"%s"')
        elif kind is str:  # any other text: escaped as the encoder escapes it
            parts.append(f"{key}:%s")
            str_slots.append(slot)
        elif kind is bytes:
            parts.append(f'{key}:"%s"')
            byte_slots.append(slot)
        else:
            return None
    head = ('{"proto":' + _encode_str(proto).replace("%", "%%") + ',"offset":%d,"length":%d,'
            '"status":' + _encode_str(status).replace("%", "%%") + ',"fields":{')
    return head + ",".join(parts) + "}}", tuple(byte_slots), tuple(str_slots)


def _layer_json(layer: Any) -> str:
    fields = layer.fields
    if not layer.notes and layer.raw is None:
        key = (layer.proto, layer.status, *fields)
        try:
            template = _templates[key]
        except KeyError:
            if len(_templates) > 4096:
                _templates.clear()
            template = _templates[key] = _make_template(layer.proto, layer.status, fields)
        if template is not None:
            text, byte_slots, str_slots = template
            values = [layer.offset, layer.length, *fields.values()]
            try:
                for slot in byte_slots:
                    values[slot] = values[slot].hex(":")
                for slot in str_slots:
                    values[slot] = _encode_str(values[slot])
                return text % tuple(values)
            except (TypeError, AttributeError):
                pass
    obj: dict[str, Any] = {"proto": layer.proto, "offset": layer.offset, "length": layer.length,
                           "status": layer.status, "fields": fields}
    if layer.notes:
        obj["notes"] = list(layer.notes)
    if layer.raw is not None:
        obj["raw"] = layer.raw
    return dumps(obj)


def _frame_head(record: RecordLike, file: str | None) -> str:
    """The ``frame`` object up to (not including) ``frame.protocols``."""
    iface = record.interface
    head = '{"frame":{' if file is None else '{"file":' + _encode_str(file) + ',"frame":{'
    text = (f'{head}"frame.number":{record.number:d},'
            f'"frame.time_epoch":"{epoch_str(record.ts_ns)}",'
            f'"frame.len":{record.orig_len:d},"frame.cap_len":{record.cap_len:d}')
    if_id = getattr(iface, "id", None)
    if if_id is not None:
        text += f',"frame.interface_id":{if_id:d}'
    if iface.name is not None:
        text += ',"frame.interface_name":' + _encode_str(iface.name)
    if record.comment is not None:
        text += ',"frame.comment":' + _encode_str(record.comment)
    return text


def record_json(record: RecordLike, packet: Packet, *, file: str | None = None) -> str:
    """``dumps(record_object(record, packet, file=file))``, several times faster."""
    errors = packet.errors
    return (f'{_frame_head(record, file)},"frame.protocols":'
            f'{_encode_str(frame_protocols(packet))}}},"layers":['
            + ",".join([_layer_json(layer) for layer in packet.layers])
            + '],"errors":' + (dumps(errors) if errors else "[]") + "}")


def json_lines(items: Iterable[DecodedRecord], *, file: str | None = None) -> Iterator[str]:
    """One JSON text (no newline) per decoded record."""
    for item in items:
        yield record_json(item.record, item.packet, file=file)


# --------------------------------------------------------------------------------------------
# Header writers compiled from the specs: a layer's JSON straight from its bytes
#
# For a fixed-size header, the decoder's fields (in the decoder's order) are each read where the
# spec puts them (layers/shapes.py's plan).  Runs of steady fields are written once per distinct
# bytes and cached; the fields that change from packet to packet (``Field.varies``: lengths,
# identifications, checksums) are formatted each time.  The text stops before the first field
# the decoder computes (a checksum's verdict), which the caller writes.


def _header_writer(sample: bytes, index: int, checks: Sequence[str] = ()
                   ) -> Callable[[bytes, int], tuple[Any, ...]]:
    """A function ``(buf, off) -> (text, *values of checks)``: the JSON of a header at
    ``off`` like layer ``index`` of the Ethernet frame ``sample``, open after its last field
    read from the bytes (``_layer_json`` of the decoder's layer, cut there), and the values of
    the fields ``checks`` the caller tells shapes apart by (read in the same unpack).  The
    fields' names and order are the decoder's for ``sample``: a header of fixed size and
    layout.  Compiled from the layer's spec, and checked against the decoder on ``sample``
    here."""
    decoded = decode(sample)
    layer = decoded.layers[index]
    spec = spec_for(layer)
    assert spec is not None and not decoded.errors
    names: list[str] = []
    constants: dict[str, str] = {}
    for name, value in layer.fields.items():
        field = placed_field(spec, name)
        if field is None:
            break
        if field.span is not None and field.at_span:
            names.append(name)
        elif value == b"":  # nothing at all in this shape (IPv4's options at IHL 5)
            constants[name] = '""'
            names.append(name)
        else:
            break  # computed by the decoder (a checksum's verdict): the caller's
    readable = [n for n in names if n not in constants]

    def declared(name: str) -> Field:
        field = placed_field(spec, name)
        assert field is not None
        return field

    def is_int(name: str) -> bool:
        return type(layer.fields[name]) is int

    # Runs of steady fields between the varying ones (Field.varies): a run with text in it
    # or more than two numbers is written once per distinct bytes and cached; a shorter one,
    # like a varying field, is formatted every time (a cache lookup costs about what
    # formatting two numbers does).
    runs: list[list[str]] = [[]]
    for name in names:
        if name in readable and declared(name).varies and is_int(name):
            runs += [[name], []]
        else:
            runs[-1].append(name)
    cached = [run for run in runs if run and (
        len(run) > 2 or not all(n in constants or is_int(n) for n in run))]
    every_time = [n for run in runs if run not in cached for n in run if n in readable]
    later = plan_shape((spec.name,), [n for run in cached for n in run if n in readable],
                       checked=False)
    value_later = dict(zip(later.names, later.values, strict=True))
    span_later = dict(zip(later.names, later.spans, strict=True))
    # Each cached run's bytes, its cache key: read as a number with the others when they fit
    # in one (no slice made), else sliced.
    key_ranges = [(min(span_later[n][0] for n in run if n in span_later),
                   max(span_later[n][1] for n in run if n in span_later)) for run in cached]
    as_numbers = [r for r in key_ranges if r[1] - r[0] <= 8]
    now = plan_shape((spec.name,), [*checks, *[n for n in every_time if n not in checks]],
                     checked=False, ranges=as_numbers)
    env = {**later.env, "_keep": _keep, "_unpack_now": now.env["_unpack"]}

    def renamed(expr: str) -> str:
        return re.sub(r"\bv(\d+)\b", r"m\1", expr)

    value_now = {n: renamed(v) for n, v in zip(now.names, now.values, strict=False)}
    key_of = {r: renamed(v) for r, v in zip(as_numbers, now.values[len(now.names):],
                                            strict=True)}

    def form(name: str) -> tuple[str, str]:
        """(%-format, value expression) of one field, as the generic encoder writes it."""
        value = layer.fields[name]
        if type(value) is bool:
            return "%s", f"('true' if {value_later[name]} else 'false')"
        if type(value) is int:
            return "%d", value_later[name]
        if type(value) is str and declared(name).type in (ETHER, IPV4, IPV6):
            return '"%s"', value_later[name]  # hex digits, dots and colons: no escaping
        if type(value) is bytes:
            return '"%s"', f"{value_later[name]}.hex(':')"
        raise ValueError(f"{name}: {type(value).__name__} values are the generic encoder's")

    pieces: list[str] = []  # of the f-string after the head, joined by commas
    unpack_now = renamed(now.unpack).replace("_unpack(", "_unpack_now(")
    lines = [f"    {unpack_now}\n"] if now.values else []
    for run in runs:
        if not run:
            continue
        if run not in cached:
            pieces += [f'"{n}":{constants[n]}' if n in constants else f'"{n}":{{{value_now[n]}}}'
                       for n in run]
            continue
        k = len(pieces)
        text = ",".join(f'"{n}":{constants[n] if n in constants else form(n)[0]}'
                        for n in run)
        read = [n for n in run if n in span_later]
        start = min(span_later[n][0] for n in read)
        stop = max(span_later[n][1] for n in read)
        env[f"_c{k}"] = {}
        key = key_of.get((start, stop), f"buf[off + {start}:off + {stop}]")
        lines.append(f"    k{k} = {key}\n"
                     f"    s{k} = _c{k}.get(k{k})\n"
                     f"    if s{k} is None:\n"
                     f"        {later.unpack}\n"
                     f"        s{k} = _keep(_c{k}, k{k}, "
                     f"{text!r} % ({', '.join(form(n)[1] for n in read)},))\n")
        pieces.append(f"{{s{k}}}")
    head = (f'{{{{"proto":"{layer.proto}","offset":{{off}},"length":{spec.header_len},'
            f'"status":"ok","fields":{{{{')
    returned = ", ".join([f"f'{head}{','.join(pieces)}'",
                          *[value_now[n] for n in checks]])
    source = ("def write(buf, off):\n" + "".join(lines) + f"    return ({returned},)\n")
    env["__source__"] = source  # for the curious
    exec(compile(source, f"<json {spec.name}>", "exec"), env)  # noqa: S102 - from the specs
    write: Callable[[bytes, int], tuple[Any, ...]] = env["write"]
    got, want = write(sample, layer.offset)[0], _layer_json(layer)
    if layer.length != spec.header_len or not want.startswith(got) or \
            want[len(got)] not in ",}":
        raise ValueError(f"{spec.name}: the compiled writer wrote {got!r}, not {want!r}")
    return write


_Writer = Callable[[bytes, int], tuple[Any, ...]]
_V = TypeVar("_V")


@functools.cache
def _writers() -> tuple[_Writer, _Writer, _Writer]:
    """The JSON writers of the fast path's fixed headers, each with the values the path checks
    before it keeps the text: IPv4 without options, UDP, an ICMP echo (with the type and
    checksum: for another type the text is dropped).  Compiled on first use: a ``decode`` of
    one packet need not pay for them."""
    from vxlankit import build, encode

    sample = encode([build.eth(), build.ipv4("10.0.0.1", "10.0.0.2"), build.udp(1, 2),
                     build.payload(b"x")])
    echo = encode([build.eth(), build.ipv4("10.0.0.1", "10.0.0.2"), build.icmp_echo(1, 2)])
    ip = _header_writer(sample, 1, ("ip.version", "ip.hdr_len", "ip.len", "ip.flags.mf",
                                    "ip.frag_offset", "ip.proto", "ip.checksum"))
    udp = _header_writer(sample, 2, ("udp.srcport", "udp.dstport", "udp.length",
                                     "udp.checksum"))
    return ip, udp, _header_writer(echo, 2, ("icmp.type", "icmp.checksum"))


# The checks the fast path makes before it writes a header, read as the specs say.
_read_tag, _read_arp = headers.TAGS, headers.ARP


def _etype_reader() -> Callable[..., tuple[Any, ...]]:
    found = plan_shape(("eth",), ("eth.type",), checked=False).unpack_from
    assert found is not None  # one plain number: the struct's own item
    return found


_read_etype = _etype_reader()  # the caller checks the 14 bytes are there


def _keep(cache: dict[Any, _V], key: Any, value: _V) -> _V:
    """``cache[key] = value``, the cache cleared first when full (bounded memory)."""
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = value
    return value


# A TCP segment's JSON from its values
#
# The fields of a segment's layer are the same, in the same order, for every segment of one
# shape (its flags, no options or only NOP-NOP-timestamps, its checksum's verdict): the first
# segment of a shape is dissected by the layer's own step, and its layer's JSON becomes a
# template with a slot for each value that changes from segment to segment, the others (the
# flags' fields, the header length, the verdict) written in.  A template is checked against
# ``_layer_json`` of the layer it was made from; a field it cannot place keeps that shape on
# the layer's step.

# Where each changing field's value sits in the tuple the fast path fills for a segment:
# (offset, header length, then these).
_SEGMENT_VALUES = ("tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw",
                   "tcp.window_size_value", "tcp.checksum", "tcp.urgent_pointer", "tcp.options",
                   "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr", "tcp.len",
                   "tcp.checksum_calculated", "tcp.stream", "tcp.seq", "tcp.nxtseq", "tcp.ack",
                   "tcp.window_size")
_SEGMENT_AT = {name: i for i, name in enumerate(_SEGMENT_VALUES, start=2)}
_SegmentTemplate = tuple[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]]
_TCP, _TCP_DATA = [tcp.PROTO], [tcp.PROTO, "data"]  # read only: the callers extend by them


def _segment_template(layer: Layer) -> _SegmentTemplate | None:
    """(``%``-template, picker of its values from the fast path's tuple) that writes
    ``_layer_json(layer)`` for every segment of ``layer``'s shape; None where a field is not
    one the template knows how to place."""
    if layer.notes or layer.raw is not None or layer.proto != tcp.PROTO:
        return None
    parts = []
    picks = [0, 1]
    sample: list[Any] = [layer.offset, layer.length]
    for name, value in layer.fields.items():
        key = _encode_str(name).replace("%", "%%")
        at = _SEGMENT_AT.get(name)
        if at is not None:
            if type(value) is int:
                parts.append(f"{key}:%d")
                sample.append(value)
            elif type(value) is bytes:
                parts.append(f'{key}:"%s"')
                sample.append(value.hex(":"))
            else:
                return None
            picks.append(at)
        elif type(value) is int:  # fixed by the shape: written in
            parts.append(f"{key}:{value}")
        elif type(value) is str:
            parts.append(f"{key}:{_encode_str(value)}".replace("%", "%%"))
        else:
            return None
    text = ('{"proto":' + _encode_str(layer.proto) + ',"offset":%d,"length":%d,"status":'
            + _encode_str(layer.status).replace("%", "%%") + ',"fields":{'
            + ",".join(parts) + "}}")
    if text % tuple(sample) != _layer_json(layer):
        return None
    return text, operator.itemgetter(*picks)


# --------------------------------------------------------------------------------------------
# The fastest path: JSON straight from the bytes, for frames of a common shape
#
# ``decode`` then ``record_json`` costs a Layer and a field dict per header and an int
# formatting per field.  For the frames VXLAN captures are made of (Ethernet, up to two VLAN
# tags, IPv4 without options, UDP, VXLAN, ARP, ICMP, data, padding) with every checksum right,
# ``make_fast_json`` writes the same text from the bytes, caching the JSON of the parts that
# repeat from packet to packet (Ethernet and VXLAN headers, ARP bodies, address pairs).  Bad
# checksums (common: offload on the capturing host) are written as the codec writes them.  It
# declines (``None``) anything else: truncated, malformed, IP options, fragments, GPE, FCS,
# non-standard dispatch tables.  The tests prove it equal to the reference
# on every real capture and on generated and mutated frames.

_CACHE_MAX = 1 << 14


def make_fast_json(options: DecodeOptions = DEFAULT_OPTIONS, analysis: Analysis | None = None,
                   counter: FastPathTally | None = None
                   ) -> Callable[[RecordLike, str | None], str | None]:
    """A function ``(record, file) -> JSON text or None`` equal to ``record_json(record,
    decode(record.data, linktype, options), file=file)`` (with ``analysis`` run over the
    packet, when one is given) wherever it does not decline.  A transport it does not read
    itself (TCP) is dissected by its layer's own step; ``analysis`` must see every packet of
    the capture in order, so the caller feeds it what this declines."""
    if not fast_path_applies(options):
        def never(record: RecordLike, file: str | None) -> str | None:
            return None
        return never
    ethertypes = options.ethertypes
    ip_protocols = options.ip_protocols
    udp_ports = options.udp_ports
    max_depth = options.max_depth
    cache: dict[Any, str] = {}
    get = cache.get
    from_bytes = int.from_bytes
    write_ip, write_udp, write_echo = _writers()
    tcp_ports = options.tables["tcp.port"]
    streams = analysis.running(tcp.PROTO) if analysis is not None else None
    segment_templates: dict[tuple[int, int, int], _SegmentTemplate | None] = {}

    def remember(key: Any, text: str) -> str:
        return _keep(cache, key, text)

    def eth_json(data: bytes, off: int, proto: str, size: int) -> str:
        key = (proto, off, data[off:off + size])
        text = get(key)
        if text is None:
            if proto == "eth":
                fields = ethernet.decode(data, off)
            else:
                fields = vlan.decode(data, off, proto)
            text = remember(key, _layer_json(Layer(proto, fields, off, size)))
        return text

    def vxlan_json(data: bytes, off: int) -> str:
        key = ("vxlan", off, data[off:off + 8])
        text = get(key)
        if text is None:
            fields = vxlan.decode(data, off)
            text = remember(key, _layer_json(Layer("vxlan", fields, off, 8,
                                                   notes=vxlan.notes(fields))))
        return text

    def arp_json(data: bytes, off: int) -> str:
        key = ("arp", off, data[off:off + 28])
        text = get(key)
        if text is None:
            text = remember(key, _layer_json(Layer("arp", arp.decode(data, off), off, 28)))
        return text

    def status(proto: str, calc: int | None) -> str:
        """The end of a layer's fields: its checksum status (and, when bad, the right value)."""
        if calc is None:
            return f',"{proto}.checksum.status":1}}}}'
        return f',"{proto}.checksum.status":0,"{proto}.checksum_calculated":{calc}}}}}'

    def data_json(data: bytes, off: int, end: int) -> str:
        return (f'{{"proto":"data","offset":{off},"length":{end - off},"status":"ok",'
                f'"fields":{{"data.data":"{data[off:end].hex(":")}","data.len":{end - off}}}}}')

    tables = options.tables
    verify = options.verify_checksums
    steps = STEPS

    def tcp_json(data: bytes, off: int, end: int, ip_off: int
                 ) -> tuple[list[str], list[str], list[str]] | None:
        """(the layers' JSON, their protocols, a bad checksum's error if any) of the segment
        ``data[off:end]`` over the IPv4 header at ``ip_off``, its payload included; None where
        the layer's step would report more (the general path's case)."""
        addrs = data[ip_off + 12:ip_off + 20]
        found = tcp.parse_segment(data, off, end, from_bytes(addrs, "big"), tcp_ports, verify)
        if found is None:
            return None
        sport, dport, seq, ack, flags, hdr_len, window, csum, urgent, bad = found
        stamps = None
        if hdr_len == 20:
            shape = 0
        elif (stamps := tcp.timestamps_only(data, off, hdr_len)) is not None:
            shape = 1
        else:
            shape = 2  # other options: always the layer's step
        key = (flags, shape, 0 if bad else 1 if verify else 2)
        template = segment_templates.get(key)
        payload = off + hdr_len
        if template is None:
            # The first segment of its shape (or one no template fits): the layer's step.
            step = dissect_transport(data, off, end, ip_off, tcp.PROTO, options, analysis)
            if step is None:
                return None
            layers, step_errors, _, _ = step
            if shape != 2 and key not in segment_templates:
                _keep(segment_templates, key, _segment_template(layers[0]))
            texts = [_layer_json(layer) for layer in layers]
            names = [layer.proto for layer in layers]
            if payload < end:
                texts.append(data_json(data, payload, end))
                names.append("data")
            return texts, names, step_errors
        length = end - payload
        stream = rseq = nxtseq = rack = rwin = 0
        if streams is not None:
            src, dst = pair_str(addrs)
            stream, rseq, nxtseq, rack, rwin = streams.segment(  # type: ignore[attr-defined]
                src, dst, sport, dport, flags, seq, ack, length, window, None)
        calc = None
        errors = []
        if bad:
            calc = tcp.right_checksum(data, off, end, addrs[:4], addrs[4:])
            errors.append(checksum_error(tcp.PROTO, off + 16, csum, calc))
        opts_hex = data[off + 20:payload].hex(":") if stamps is not None else None
        tsval, tsecr = stamps if stamps is not None else (None, None)
        text, pick = template
        values = (off, hdr_len, sport, dport, seq, ack, window, csum, urgent, opts_hex, tsval,
                  tsecr, length, calc, stream, rseq, nxtseq, rack, rwin)
        if length:
            return [text % pick(values), data_json(data, payload, end)], _TCP_DATA, errors
        return [text % pick(values)], _TCP, errors

    def by_steps(record: RecordLike, file: str | None, frame_off: int, frame_end: int,
                 depth: int, parts: list[str], protos: list[str], errors: list[str],
                 trailers: list[tuple[int, int, int]]) -> str:
        """The rest of the packet from the Ethernet frame at ``frame_off`` on, by the layers'
        own dissect steps (what the hand-read shapes do not cover); the lists hold what was
        read by hand before it."""
        walk = dissect_frame(record.data, frame_off, frame_end, options, depth)
        layers = walk.layers
        if analysis is not None:
            analysis(Packet(layers, walk.errors))
        if counter is not None:
            counter.steps += 1
        parts.extend(map(_layer_json, layers))
        protos.append(frame_protocols(Packet(layers)))
        errors.extend(walk.errors)
        trailers.extend(walk.trailers)
        return finish(record, file, parts, protos, errors, trailers)

    def finish(record: RecordLike, file: str | None, parts: list[str], protos: list[str],
               errors: list[str], trailers: list[tuple[int, int, int]]) -> str:
        data = record.data
        while trailers:  # innermost first, as the full decoder adds them
            start, stop, frame_start = trailers.pop()
            pad_end = min(stop, frame_start + 60)
            fields: dict[str, Any] = {}
            if pad_end > start:
                fields["eth.padding"] = data[start:pad_end]
            if stop > max(start, pad_end):
                fields["eth.trailer"] = data[max(start, pad_end):stop]
            parts.append(_layer_json(Layer("trailer", fields, start, stop - start)))
        return (f'{_frame_head(record, file)},"frame.protocols":"{":".join(protos)}"}},'
                f'"layers":[{",".join(parts)}],"errors":{dumps(errors) if errors else "[]"}}}')

    def fast(record: RecordLike, file: str | None) -> str | None:
        data = record.data
        end = len(data)
        off = 0
        depth = 0
        parts: list[str] = []
        protos: list[str] = []
        errors: list[str] = []
        trailers: list[tuple[int, int, int]] = []
        while True:  # at an Ethernet header
            # Where this frame starts, and what was read before it: a shape the hand-read
            # path does not cover is finished from here by the layers' own steps.
            frame_off, frame_end, depth0 = off, end, depth
            marks = (len(parts), len(protos), len(errors), len(trailers))
            if off + 14 > end:
                return by_steps(record, file, frame_off, frame_end, depth0,
                                parts[:marks[0]], protos[:marks[1]], errors[:marks[2]],
                                trailers[:marks[3]])
            etype = _read_etype(data, off)[0]
            if etype < 0x0600:
                return by_steps(record, file, frame_off, frame_end, depth0,
                                parts[:marks[0]], protos[:marks[1]], errors[:marks[2]],
                                trailers[:marks[3]])
            eth_start = off
            parts.append(eth_json(data, off, "eth", 14))
            protos.append("eth:ethertype")
            off += 14
            kind = ethertypes.get(etype)
            while kind == "vlan" or kind == "ieee8021ad":
                if off + 4 > end:
                    return by_steps(record, file, frame_off, frame_end, depth0,
                                    parts[:marks[0]], protos[:marks[1]], errors[:marks[2]],
                                    trailers[:marks[3]])
                etype = _read_tag[kind](data, off)[0]  # type: ignore[index]
                parts.append(eth_json(data, off, kind, 4))
                protos.append(kind + ":ethertype")
                off += 4
                kind = ethertypes.get(etype)
            if kind == "arp":
                message = _read_arp(data, off) if off + 28 <= end else None
                if message is None or message[2:4] != (6, 4) or message[1] != 0x0800 or (
                        message[0] not in (1, 6)):
                    return by_steps(record, file, frame_off, frame_end, depth0,
                                    parts[:marks[0]], protos[:marks[1]], errors[:marks[2]],
                                    trailers[:marks[3]])
                parts.append(arp_json(data, off))
                protos.append("arp")
                if off + 28 < end:
                    trailers.append((off + 28, end, eth_start))
                break
            if kind is None:
                if off < end:
                    parts.append(data_json(data, off, end))
                    protos.append("data")
                break
            if kind != "ip" or off + 20 > end:
                return by_steps(record, file, frame_off, frame_end, depth0,
                                parts[:marks[0]], protos[:marks[1]], errors[:marks[2]],
                                trailers[:marks[3]])
            text, version, ihl, tlen, more, frag_offset, proto, csum = write_ip(data, off)
            if (version != 4 or ihl != 20 or tlen < 20 or off + tlen > end or more
                    or frag_offset):
                return by_steps(record, file, frame_off, frame_end, depth0,
                                parts[:marks[0]], protos[:marks[1]], errors[:marks[2]],
                                trailers[:marks[3]])
            if from_bytes(data[off:off + 20], "big") % 0xFFFF:
                calc = internet_checksum(data[off:off + 10] + data[off + 12:off + 20])
                errors.append(checksum_error("ip", off + 10, csum, calc))
                parts.append(text + status("ip", calc))
            else:
                parts.append(text + ',"ip.checksum.status":1}}')
            protos.append("ip")
            if off + tlen < end:
                trailers.append((off + tlen, end, eth_start))
                end = off + tlen
            ip_off = off
            off += 20
            if proto == 6 and ip_protocols.get(6) == tcp.PROTO:
                # TCP: from its values when a segment of its shape has been dissected before.
                segment = tcp_json(data, off, end, ip_off)
                if segment is not None:
                    parts += segment[0]
                    protos += segment[1]
                    errors += segment[2]
                    break
            if proto != 17 and proto != 1 and proto in ip_protocols:
                # A transport this path does not read itself (TCP): its layer's own step.
                # bare: with a layer above it (DNS over TCP) the steps below dissect the
                # frame again, and the analysis must see the segment once.
                found = dissect_transport(data, off, end, ip_off, ip_protocols[proto], options,
                                          analysis, bare=True)
                if found is None or found[2] not in ("data", None):
                    return by_steps(record, file, frame_off, frame_end, depth0,
                                    parts[:marks[0]], protos[:marks[1]], errors[:marks[2]],
                                    trailers[:marks[3]])
                layers, transport_errors, _, off = found
                errors += transport_errors
                for layer in layers:
                    parts.append(_layer_json(layer))
                    protos.append(layer.proto)
            elif proto == 17:
                if off + 8 > end:
                    return by_steps(record, file, frame_off, frame_end, depth0,
                                    parts[:marks[0]], protos[:marks[1]], errors[:marks[2]],
                                    trailers[:marks[3]])
                text, sport, dport, ulen, ucsum = write_udp(data, off)
                if ulen < 8 or off + ulen > end:
                    return by_steps(record, file, frame_off, frame_end, depth0,
                                    parts[:marks[0]], protos[:marks[1]], errors[:marks[2]],
                                    trailers[:marks[3]])
                if not ucsum:
                    parts.append(text + ',"udp.checksum.status":3}}')
                elif ((from_bytes(data[off:off + ulen], "big") << (8 if ulen & 1 else 0))
                      + from_bytes(data[ip_off + 12:ip_off + 20], "big") + 17 + ulen) % 0xFFFF:
                    calc = internet_checksum(
                        data[off:off + 6] + data[off + 8:off + ulen],
                        pseudo_header_sum(data[ip_off + 12:ip_off + 16],
                                          data[ip_off + 16:ip_off + 20], 17, ulen)) or 0xFFFF
                    errors.append(checksum_error("udp", off + 6, ucsum, calc))
                    parts.append(text + status("udp", calc))
                else:
                    parts.append(text + ',"udp.checksum.status":1}}')
                protos.append("udp")
                if off + ulen < end:
                    trailers.append((off + ulen, end, eth_start))
                    end = off + ulen
                off += 8
                tunnel = port_layer(udp_ports, sport, dport)
                if tunnel == "vxlan":
                    if off + 8 > end or depth >= max_depth:
                        return by_steps(record, file, frame_off, frame_end, depth0,
                                        parts[:marks[0]], protos[:marks[1]], errors[:marks[2]],
                                        trailers[:marks[3]])
                    depth += 1
                    parts.append(vxlan_json(data, off))
                    protos.append("vxlan")
                    off += 8
                    continue
                if tunnel is not None and tunnel in UDP_MESSAGES:
                    # A message that ends the frame (DNS): its layer's own step, from here.
                    walk = Walk(data, end, tables, verify, max_depth)
                    nxt, _ = steps[tunnel](walk, off)
                    if nxt is None and not walk.trailers:
                        for layer in walk.layers:
                            parts.append(_layer_json(layer))
                            protos.append(layer.proto)
                        errors += walk.errors
                        off = end
                        tunnel = None
                if tunnel is not None:
                    return by_steps(record, file, frame_off, frame_end, depth0,
                                    parts[:marks[0]], protos[:marks[1]], errors[:marks[2]],
                                    trailers[:marks[3]])
            elif proto == 1:
                if off + 8 > end:
                    return by_steps(record, file, frame_off, frame_end, depth0,
                                    parts[:marks[0]], protos[:marks[1]], errors[:marks[2]],
                                    trailers[:marks[3]])
                total = from_bytes(data[off:end], "big") << (8 if (end - off) & 1 else 0)
                text, itype, icsum = write_echo(data, off)
                icalc: int | None = None
                if not total or total % 0xFFFF:
                    icalc = internet_checksum(data[off:off + 2] + data[off + 4:end])
                    errors.append(checksum_error("icmp", off + 2, icsum, icalc))
                if itype != 0 and itype != 8:  # the type says what its second word is
                    text = _layer_json(Layer("icmp", icmp.decode(data, off), off, 8))[:-2]
                parts.append(text + status("icmp", icalc))
                protos.append("icmp")
                off += 8
            if off < end:
                parts.append(data_json(data, off, end))
                protos.append("data")
            break
        return finish(record, file, parts, protos, errors, trailers)

    return fast


def fast_json_lines(records: Iterable[RecordLike], options: DecodeOptions = DEFAULT_OPTIONS,
                    *, count: int | None = None, file: str | None = None,
                    tally: FastPathTally | None = None) -> Iterator[str]:
    """JSON texts for every record (at most ``count``), as ``json_lines`` over
    ``decode_records`` would make them, decoding in full only what the fast path declines
    (``tally`` counts both)."""
    if count is not None and count == 0:
        return
    limit = count if count is not None and count > 0 else -1
    analyze = Analysis()  # one for the fast path and the full decoder: they share the capture
    fast = make_fast_json(options, analyze, tally)
    cache: dict[int, DecodeOptions] = {}
    shown = 0
    for record in records:
        iface = record.interface
        text = None
        if iface.linktype == 1 and iface.fcslen is None:
            text = fast(record, file)
        if text is None:
            opts = options if iface.fcslen is None else options_for(options, iface, cache)
            text = record_json(record, analyze(decode(record.data, iface.linktype, opts)),
                               file=file)
            if tally is not None:
                tally.full += 1
        elif tally is not None:
            tally.fast += 1
        yield text
        shown += 1
        if shown == limit:
            return
