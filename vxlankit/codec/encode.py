"""Layers -> bytes, with gopacket-style fix-ups.

``fix_lengths`` recomputes ``ip.hdr_len``, ``ip.len``, ``ipv6.plen``, ``udp.length``, the IPv6
extension header lengths and the ARP address sizes from what actually follows (a spec's
``length_at``/``length_from``), and sets GRE's and ERSPAN's flag bits from the optional fields
present; ``compute_checksums`` recomputes the IPv4 header, UDP, TCP, ICMP, ICMPv6 and GRE
checksums (GRE's only when its C bit is set), innermost first, since an outer UDP checksum
covers the inner packet, then an Ethernet FCS layer's ``eth.fcs`` over everything before it.
With both off the fields are written exactly as given, so
``encode(decode(b), False, False) == b``.

Independently of those switches, a field left as ``None`` is filled in: a next-protocol field
(``eth.type``, ``vlan.etype``, ``ip.proto``, ``vxlan.next_proto``, ``gre.proto``) from the layer
after it, a length from what follows, a checksum by computing it.  A UDP checksum of 0 means
"no checksum" (RFC 768) and is kept as 0 even when computing, which is what a VTEP sends (RFC 7348
section 5),
but only over IPv4: over IPv6 (a network spec with ``zero_checksum_ok`` false) it is computed
(RFC 8200 8.1).  The pseudo-header addresses come from the enclosing network spec's
``pseudo_addresses`` (with a source route / routing header: the final destination).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from vxlankit.checksum import internet_checksum, transport_checksum
from vxlankit.errors import EncodeError, VxlanKitError
from vxlankit.layers._common import as_bytes
from vxlankit.layers.registry import BY_PROTO, INVERSES, LAYERS
from vxlankit.layers.spec import CHECKSUM_HEADER, CHECKSUM_PSEUDO, LINK, NETWORK, LayerSpec
from vxlankit.packet import Layer, Packet

_H = struct.Struct("!H")


def _data(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
          ) -> tuple[bytes, bool]:
    return as_bytes(fields.get("data.data", b""), "data.data"), False


def _trailer(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
             ) -> tuple[bytes, bool]:
    return (as_bytes(fields.get("eth.padding", b""), "eth.padding")
            + as_bytes(fields.get("eth.trailer", b""), "eth.trailer")), False


def _fcs(fields: dict[str, Any], next_value: int | None, fix_lengths: bool
         ) -> tuple[bytes, bool]:
    if "eth.fcs" in fields:
        value = fields["eth.fcs"]  # as Wireshark shows it: the wire bytes in network order
        return (bytes(4) if value is None else int(value).to_bytes(4, "big")), value is None
    return as_bytes(fields.get("eth.trailer", b""), "eth.trailer"), False


Emit = Callable[[dict[str, Any], int | None, bool], tuple[bytes, bool]]
_NO_INVERSE: dict[str, int] = {}


def _steps() -> dict[str, tuple[Emit, dict[str, int]]]:
    """Per Layer.proto: how to write it, and the table that turns the next layer's name into
    the value of its next-protocol field (for a field left ``None``)."""
    steps: dict[str, tuple[Emit, dict[str, int]]] = {
        "data": (_data, _NO_INVERSE), "trailer": (_trailer, _NO_INVERSE),
        "fcs": (_fcs, _NO_INVERSE)}
    for proto, specs in BY_PROTO.items():
        tables = [(spec.next_table, spec.next_fallback) for spec in specs
                  if spec.next_field is not None and spec.next_table is not None]
        inverse = _NO_INVERSE
        if tables and tables[0][0] in INVERSES:
            table, fallback = tables[0]
            # A layer looked up in a second table when the first lacks it (GRE: ethertype).
            inverse = {**(INVERSES.get(fallback, {}) if fallback else {}), **INVERSES[table]}
        steps[proto] = (specs[0].emit, inverse)
    return steps


_STEPS = _steps()
# Scopes for the fix-ups: a link header opens a frame (closed by its trailer or FCS); a layer
# with a length or a checksum over "the rest" covers up to the end of its scope.
_LINK_SCOPES = frozenset(spec.proto for spec in LAYERS if spec.role == LINK)
_NETWORK = frozenset(spec.proto for spec in LAYERS if spec.role == NETWORK)
# Layers whose payload is a quoted packet (ICMPv6 errors): what they quote keeps its lengths and
# checksums as given.
_QUOTING = frozenset(spec.proto for spec in LAYERS if spec.quotes)
_SCOPED = _LINK_SCOPES | _NETWORK | frozenset(
    spec.proto for spec in LAYERS if spec.length_at is not None or spec.checksum is not None
    and spec.checksum != CHECKSUM_HEADER)


def _length_field(spec: LayerSpec) -> str:
    return next(f.name for f in spec.fields if f.span is not None and f.span[:2] == (
        spec.length_at, 2))


# proto -> (offset, field name, offset it counts from) of its 16-bit length
_LENGTHS = {spec.proto: (spec.length_at, _length_field(spec), spec.length_from)
            for spec in LAYERS if spec.length_at is not None}
# network proto -> (its pseudo-header addresses, whether a zero transport checksum means none)
_PSEUDO = {spec.proto: (spec.pseudo_addresses, spec.zero_checksum_ok) for spec in LAYERS
           if spec.role == NETWORK and spec.pseudo_addresses is not None}
# proto -> (rule, offset, field name, IP protocol number for a pseudo-header, zero is none)
_CHECKSUMS = {
    spec.proto: (spec.checksum, spec.checksum_at, f"{spec.proto}.checksum",
                 dict(spec.selectors).get("ip.proto", 0), spec.checksum_zero_means_none)
    for spec in LAYERS if spec.checksum is not None and spec.checksum_at is not None}
# proto -> the flag bit (in its first 16 bits) that says its checksum is there (GRE's C)
_CHECKSUM_FLAGS = {spec.proto: spec.checksum_flag for spec in LAYERS if spec.checksum_flag}


class _NoEncoder(Exception):
    pass


def encode(packet_or_layers: Packet | Iterable[Layer], *, fix_lengths: bool = True,
           compute_checksums: bool = True) -> bytes:
    """Write layers to bytes.  See the module docstring for the fix-up rules."""
    if isinstance(packet_or_layers, Packet):
        layers: Sequence[Layer] = packet_or_layers.layers
    else:
        layers = packet_or_layers if type(packet_or_layers) is list else list(packet_or_layers)
    chunks: list[bytes] = []
    append = chunks.append
    filled = False  # a field left None was filled in: the fix-ups must run
    last = len(layers) - 1
    i = 0
    layer: Any = None
    steps = _STEPS
    try:
        for i, layer in enumerate(layers):
            if layer.raw is not None:
                append(bytes(layer.raw))
                continue
            step = steps.get(layer.proto)
            if step is None:
                raise _NoEncoder
            emit, inverse = step
            data, did_fill = emit(layer.fields, inverse.get(layers[i + 1].proto)
                                  if i < last and inverse else None, fix_lengths)
            append(data)
            filled = filled or did_fill
    except _NoEncoder:
        raise EncodeError(f"layer {i}: no encoder for protocol {layer.proto!r}") from None
    except VxlanKitError as exc:
        raise EncodeError(f"layer {i} ({layer.proto}): {exc.message}") from None
    except KeyError as exc:
        raise EncodeError(f"layer {i} ({layer.proto}): missing field {exc.args[0]}") from None
    except (AttributeError, TypeError) as exc:
        bad = next((x for x in layers if not isinstance(x, Layer)), None)
        if bad is not None:
            raise EncodeError(f"expected Layer objects, got {type(bad).__name__}") from None
        raise EncodeError(f"layer {i} ({layer.proto}): {exc}") from None
    except (struct.error, ValueError, OverflowError) as exc:
        raise EncodeError(f"layer {i} ({layer.proto}): {exc}") from None
    out = bytearray().join(chunks)
    if fix_lengths or compute_checksums or filled:
        _fixup(layers, chunks, out, fix_lengths, compute_checksums)
    return bytes(out)


class _Plan:
    """What the fix-ups need to know about a stack of layers, from its protocols alone: for
    every layer with a length the layer whose start ends its scope (``n``: the end of the
    frame, or the FCS), and for every checksummed layer, innermost first, the scope it covers
    and the IP layer whose addresses its pseudo-header names.  A layer inside a quoted packet
    (after an ICMPv6 error, in its scope) is marked: only its fields left None are filled."""

    __slots__ = ("lengths", "checksums")

    def __init__(self, protos: tuple[str, ...]) -> None:
        n = len(protos)
        ends: dict[int, int] = {}
        enclosing_ip = [-1] * n
        quoted = [False] * n
        stack: list[list[Any]] = []  # [proto, index, trailer seen]
        ips: list[int] = []
        for i, proto in enumerate(protos):
            if proto == "trailer" or proto == "fcs":
                # A trailer closes the scopes inside the innermost link frame without one yet.
                while stack and not (stack[-1][0] in _LINK_SCOPES and not stack[-1][2]):
                    closed = stack.pop()
                    ends[closed[1]] = i
                    if closed[0] in _NETWORK:
                        ips.pop()
                if stack:
                    stack[-1][2] = True
                continue
            if ips:
                enclosing_ip[i] = ips[-1]
            if _QUOTING and any(entry[0] in _QUOTING for entry in stack):
                quoted[i] = True
            if proto in _SCOPED:
                stack.append([proto, i, False])
                if proto in _NETWORK:
                    ips.append(i)
        last = n - 1 if n and protos[-1] == "fcs" else n
        for opened in stack:
            ends[opened[1]] = last
        # (layer, offset of the length, its field name, offset it counts from, end layer,
        # quoted)
        self.lengths = [(i, *_LENGTHS[protos[i]], end, quoted[i])
                        for i, end in sorted(ends.items()) if protos[i] in _LENGTHS]
        # (layer, rule, offset, field, IP protocol, zero is none, end layer, enclosing IP,
        # quoted), innermost (last) first: an outer checksum covers the inner ones.
        self.checksums = []
        for i in range(n - 1, -1, -1):
            rule = _CHECKSUMS.get(protos[i])
            if rule is None:
                continue
            kind = rule[0]
            ip = enclosing_ip[i]
            if kind == CHECKSUM_HEADER:
                end = -1
            elif kind == CHECKSUM_PSEUDO:
                end = ends[i]
            else:  # over the rest of the enclosing IP payload
                end = ends[ip] if ip >= 0 else n
            self.checksums.append((i, *rule, end, ip, quoted[i]))


_PLANS: dict[tuple[str, ...], _Plan] = {}


def _plan(layers: Sequence[Layer]) -> _Plan:
    protos = tuple(layer.proto for layer in layers)
    plan = _PLANS.get(protos)
    if plan is None:
        if len(_PLANS) >= 1024:
            _PLANS.clear()
        plan = _PLANS[protos] = _Plan(protos)
    return plan


def _fixup(layers: Sequence[Layer], chunks: list[bytes], out: bytearray, fix_lengths: bool,
           compute_checksums: bool) -> None:
    n = len(layers)
    starts = [0] * (n + 1)  # starts[n]: the end of the frame
    pos = 0
    for i, chunk in enumerate(chunks):
        starts[i] = pos
        pos += len(chunk)
    starts[n] = pos
    plan = _plan(layers)

    for i, at, name, base, end, quoted in plan.lengths:
        layer = layers[i]
        if layer.raw is not None:
            continue
        if (fix_lengths and not quoted) or layer.fields.get(name) is None:
            length = starts[end] - starts[i] - base
            if length > 0xFFFF:
                raise EncodeError(f"layer {i} ({layer.proto}): {length} bytes do not fit in "
                                  f"{name}")
            _H.pack_into(out, starts[i] + at, length)

    for i, kind, at, name, ip_proto, zero_is_none, end, ip, quoted in plan.checksums:
        layer = layers[i]
        if layer.raw is not None:
            continue
        value = layer.fields.get(name)
        if value is not None and (quoted or not compute_checksums):
            continue
        flag = _CHECKSUM_FLAGS.get(layer.proto)
        if flag and (name not in layer.fields or not _H.unpack_from(out, starts[i])[0] & flag):
            continue  # an optional checksum that is not there
        start = starts[i]
        if kind == CHECKSUM_PSEUDO:
            network = _PSEUDO.get(layers[ip].proto) if ip >= 0 else None
            if network is None:
                raise EncodeError(f"layer {i} ({layer.proto}): a checksum needs an enclosing "
                                  "IP layer")
            pseudo_addresses, zero_ok = network
            if zero_is_none and zero_ok and value == 0:
                continue  # "no checksum" (RFC 768): what a VTEP sends, kept as sent
        stop = start + len(chunks[i]) if kind == CHECKSUM_HEADER else starts[end]
        out[start + at:start + at + 2] = b"\0\0"
        if kind == CHECKSUM_PSEUDO:
            src, dst = pseudo_addresses(out[starts[ip]:start], len(chunks[ip]))
            calc = transport_checksum(src, dst, ip_proto, out[start:stop], zero_is_none)
        else:
            calc = internet_checksum(out[start:stop])
        _H.pack_into(out, start + at, calc)

    # The FCS covers the whole frame, checksums included: last.
    fcs = layers[-1] if layers else None
    if fcs is not None and fcs.proto == "fcs" and fcs.raw is None and "eth.fcs" in fcs.fields:
        if compute_checksums or fcs.fields["eth.fcs"] is None:
            start = starts[n - 1]
            out[start:start + 4] = zlib.crc32(out[:start]).to_bytes(4, "little")
