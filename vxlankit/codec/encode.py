"""Layers -> bytes, with gopacket-style fix-ups.

``fix_lengths`` recomputes ``ip.hdr_len``, ``ip.len``, ``udp.length`` and the ARP address sizes
from what actually follows; ``compute_checksums`` recomputes the IPv4 header, UDP and ICMP
checksums (innermost first, since an outer UDP checksum covers the inner packet), then an
Ethernet FCS layer's ``eth.fcs`` over everything before it.  With both off
the fields are written exactly as given, so ``encode(decode(b), False, False) == b``.

Independently of those switches, a field left as ``None`` is filled in: a next-protocol field
(``eth.type``, ``vlan.etype``, ``ip.proto``, ``vxlan.next_proto``) from the layer after it, a
length from what follows, a checksum by computing it.  A UDP checksum of 0 means "no checksum"
(RFC 768) and is kept as 0 even when computing, which is what a VTEP sends (RFC 7348 section 5).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from vxlankit.checksum import internet_checksum, udp_checksum
from vxlankit.errors import EncodeError, VxlanKitError
from vxlankit.layers import arp, ethernet, icmp, ipv4, null, sll, udp, vlan, vxlan
from vxlankit.layers._common import as_bytes
from vxlankit.packet import Layer, Packet

_ETHERTYPE_OF = {"ip": 0x0800, "arp": 0x0806, "vlan": 0x8100, "ieee8021ad": 0x88A8}
_IP_PROTO_OF = {"icmp": 1, "udp": 17}
_GPE_NEXT_OF = {"ip": vxlan.NEXT_IPV4, "eth": vxlan.NEXT_ETHERNET}
_LINK_SCOPES = ("eth", "sll", "null")
_SCOPED = frozenset(("eth", "sll", "null", "ip", "udp"))

_H = struct.Struct("!H")


def _data(fields: dict[str, Any]) -> bytes:
    return as_bytes(fields.get("data.data", b""), "data.data")


def _trailer(fields: dict[str, Any]) -> bytes:
    return (as_bytes(fields.get("eth.padding", b""), "eth.padding")
            + as_bytes(fields.get("eth.trailer", b""), "eth.trailer"))


def _fcs(fields: dict[str, Any]) -> bytes:
    if "eth.fcs" in fields:
        value = fields["eth.fcs"]  # as Wireshark shows it: the wire bytes in network order
        return bytes(4) if value is None else int(value).to_bytes(4, "big")
    return as_bytes(fields.get("eth.trailer", b""), "eth.trailer")


def _vxlan(fields: dict[str, Any]) -> bytes:
    return vxlan.encode_gpe(fields) if "vxlan.next_proto" in fields else vxlan.encode(fields)


def _sll(fields: dict[str, Any]) -> bytes:
    return sll.encode_v2(fields) if "sll.ifindex" in fields else sll.encode(fields)


_ENCODERS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "eth": ethernet.encode,
    "vlan": vlan.encode,
    "ieee8021ad": lambda f: vlan.encode(f, "ieee8021ad"),
    "arp": arp.encode,
    "ip": ipv4.encode,
    "icmp": icmp.encode,
    "udp": udp.encode,
    "vxlan": _vxlan,
    "sll": _sll,
    "null": null.encode,
    "data": _data,
    "trailer": _trailer,
    "fcs": _fcs,
}



def _emit_ip(fields: dict[str, Any], nxt: str | None, fix_lengths: bool
             ) -> tuple[bytes, bool]:
    """The IPv4 header with its ``None`` fields filled in, straight from the fields (no copy:
    this is most of the work of building a frame); and whether anything was filled."""
    get = fields.get
    options = get("ip.options", b"")
    hdr_len = get("ip.hdr_len")
    proto = get("ip.proto")
    length = get("ip.len")
    checksum = get("ip.checksum")
    filled = hdr_len is None or proto is None or length is None or checksum is None
    if fix_lengths or hdr_len is None:
        options = as_bytes(options, "ip.options")
        if len(options) % 4:
            raise EncodeError(f"ip.options must be a multiple of 4 bytes, got {len(options)}")
        hdr_len = 20 + len(options)
    if proto is None:
        proto = _next_value(_IP_PROTO_OF, nxt, "ip.proto")
    version, dsfield, flags = get("ip.version"), get("ip.dsfield"), get("ip.flags")
    frag_offset, ident, ttl = get("ip.frag_offset"), get("ip.id"), get("ip.ttl")
    return ipv4.pack(
        4 if version is None else version, hdr_len, dsfield or 0, length or 0, ident or 0,
        flags or 0, frag_offset or 0, 64 if ttl is None else ttl, proto, checksum or 0,
        fields["ip.src"], fields["ip.dst"], options,
    ), filled or version is None or ttl is None


def _emit_udp(fields: dict[str, Any], nxt: str | None, fix_lengths: bool
              ) -> tuple[bytes, bool]:
    length, checksum = fields.get("udp.length"), fields.get("udp.checksum")
    return udp.pack(fields["udp.srcport"], fields["udp.dstport"], length or 0,
                    checksum or 0), length is None or checksum is None


def _emit_icmp(fields: dict[str, Any], nxt: str | None, fix_lengths: bool
               ) -> tuple[bytes, bool]:
    checksum = fields.get("icmp.checksum")
    if checksum is not None:
        return icmp.encode(fields), False
    return icmp.encode({**fields, "icmp.checksum": 0}), True


def _prepare_eth(fields: dict[str, Any], nxt: str | None, fix_lengths: bool) -> dict[str, Any]:
    if fields.get("eth.type") is not None or fields.get("eth.len") is not None:
        return fields
    return {**fields, "eth.type": _next_value(_ETHERTYPE_OF, nxt, "eth.type")}


def _prepare_tag(proto: str) -> Callable[[dict[str, Any], str | None, bool], dict[str, Any]]:
    name = proto + ".etype"

    def prepare(fields: dict[str, Any], nxt: str | None, fix_lengths: bool) -> dict[str, Any]:
        if fields.get(name) is not None:
            return fields
        return {**fields, name: _next_value(_ETHERTYPE_OF, nxt, name)}

    return prepare


def _prepare_vxlan(fields: dict[str, Any], nxt: str | None, fix_lengths: bool
                   ) -> dict[str, Any]:
    if "vxlan.next_proto" not in fields or fields["vxlan.next_proto"] is not None:
        return fields
    return {**fields, "vxlan.next_proto": _next_value(_GPE_NEXT_OF, nxt, "vxlan.next_proto")}


def _prepare_arp(fields: dict[str, Any], nxt: str | None, fix_lengths: bool) -> dict[str, Any]:
    if not fix_lengths and fields.get("arp.hw.size") is not None \
            and fields.get("arp.proto.size") is not None:
        return fields
    out = dict(fields)
    out["arp.hw.size"], out["arp.proto.size"] = arp.address_sizes(out)
    return out


# Per protocol: the fields to write, with the ``None`` ones filled in (a copy only where
# something must be filled: the caller's layers are never changed).
_PREPARE: dict[str, Callable[[dict[str, Any], str | None, bool], dict[str, Any]]] = {
    "eth": _prepare_eth,
    "vlan": _prepare_tag("vlan"),
    "ieee8021ad": _prepare_tag("ieee8021ad"),
    "vxlan": _prepare_vxlan,
    "arp": _prepare_arp,
}


def _next_value(table: dict[str, int], nxt: str | None, name: str) -> int:
    if nxt is None or nxt not in table:
        raise EncodeError(f"{name} is not set and cannot be inferred from the next layer "
                          f"({nxt or 'none'})")
    return table[nxt]


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
    try:
        for i, layer in enumerate(layers):
            if layer.raw is not None:
                append(bytes(layer.raw))
                continue
            proto = layer.proto
            steps = _STEPS.get(proto)
            if steps is None:
                raise _NoEncoder
            prepare, encoder, emit = steps
            fields = layer.fields
            if emit is not None:
                data, did_fill = emit(fields, layers[i + 1].proto if i < last else None,
                                      fix_lengths)
                append(data)
                filled = filled or did_fill
                continue
            if prepare is not None:
                given = fields
                fields = prepare(fields, layers[i + 1].proto if i < last else None, fix_lengths)
                filled = filled or fields is not given
            append(encoder(fields))
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
    every IPv4/UDP layer the layer whose start ends its scope (``n``: the end of the frame, or
    the FCS), and for every checksummed layer, innermost first, the scope it covers."""

    __slots__ = ("lengths", "checksums")

    def __init__(self, protos: tuple[str, ...]) -> None:
        n = len(protos)
        ends: dict[int, int] = {}
        enclosing_ip = [-1] * n
        stack: list[list[Any]] = []  # [proto, index, trailer seen]
        ips: list[int] = []
        for i, proto in enumerate(protos):
            if proto == "trailer" or proto == "fcs":
                # A trailer closes the scopes inside the innermost link frame without one yet.
                while stack and not (stack[-1][0] in _LINK_SCOPES and not stack[-1][2]):
                    closed = stack.pop()
                    ends[closed[1]] = i
                    if closed[0] == "ip":
                        ips.pop()
                if stack:
                    stack[-1][2] = True
                continue
            if ips:
                enclosing_ip[i] = ips[-1]
            if proto in _SCOPED:
                stack.append([proto, i, False])
                if proto == "ip":
                    ips.append(i)
        last = n - 1 if n and protos[-1] == "fcs" else n
        for opened in stack:
            ends[opened[1]] = last
        # (layer, proto, end layer) for IPv4 total lengths and UDP lengths.
        self.lengths = [(i, protos[i], end) for i, end in sorted(ends.items())
                        if protos[i] in ("ip", "udp")]
        # (layer, proto, end layer, enclosing IPv4 layer), innermost (last) first.
        self.checksums = []
        for i in range(n - 1, -1, -1):
            proto = protos[i]
            if proto == "ip":
                self.checksums.append((i, proto, -1, -1))
            elif proto == "udp":
                self.checksums.append((i, proto, ends[i], enclosing_ip[i]))
            elif proto == "icmp":
                ip = enclosing_ip[i]
                self.checksums.append((i, proto, ends[ip] if ip >= 0 else n, ip))


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

    for i, proto, end in plan.lengths:
        layer = layers[i]
        if layer.raw is not None:
            continue
        name = "ip.len" if proto == "ip" else "udp.length"
        if fix_lengths or layer.fields.get(name) is None:
            length = starts[end] - starts[i]
            if length > 0xFFFF:
                raise EncodeError(f"layer {i} ({proto}): {length} bytes do not fit in {name}")
            _H.pack_into(out, starts[i] + (2 if proto == "ip" else 4), length)

    for i, proto, end, ip in plan.checksums:
        layer = layers[i]
        if layer.raw is not None:
            continue
        given = layer.fields
        start = starts[i]
        if proto == "ip":
            if compute_checksums or given.get("ip.checksum") is None:
                stop = start + len(chunks[i])
                out[start + 10:start + 12] = b"\0\0"
                _H.pack_into(out, start + 10, internet_checksum(out[start:stop]))
        elif proto == "udp":
            value = given.get("udp.checksum")
            if value is None or (compute_checksums and value != 0):
                if ip < 0:
                    raise EncodeError(f"layer {i} (udp): a checksum needs an enclosing IPv4 "
                                      "layer")
                ip_start = starts[ip]
                src = bytes(out[ip_start + 12:ip_start + 16])
                dst = bytes(out[ip_start + 16:ip_start + 20])
                if len(chunks[ip]) > 20:
                    dst = ipv4.final_destination(bytes(out[ip_start + 20:ip_start
                                                           + len(chunks[ip])]), dst)
                stop = starts[end]
                out[start + 6:start + 8] = b"\0\0"
                _H.pack_into(out, start + 6, udp_checksum(src, dst, out[start:stop]))
        elif compute_checksums or given.get("icmp.checksum") is None:  # icmp
            stop = starts[end]
            out[start + 2:start + 4] = b"\0\0"
            _H.pack_into(out, start + 2, internet_checksum(out[start:stop]))

    # The FCS covers the whole frame, checksums included: last.
    fcs = layers[-1] if layers else None
    if fcs is not None and fcs.proto == "fcs" and fcs.raw is None and "eth.fcs" in fcs.fields:
        if compute_checksums or fcs.fields["eth.fcs"] is None:
            start = starts[n - 1]
            out[start:start + 4] = zlib.crc32(out[:start]).to_bytes(4, "little")



# Per protocol: how to fill in its ``None`` fields and how to write it, or one function that
# does both (IPv4, where a copy of the fields would cost more than the packing).
_EMIT = {"ip": _emit_ip, "udp": _emit_udp, "icmp": _emit_icmp}
_STEPS: dict[str, tuple[Callable[[dict[str, Any], str | None, bool], dict[str, Any]] | None,
                        Callable[[dict[str, Any]], bytes],
                        Callable[[dict[str, Any], str | None, bool], tuple[bytes, bool]] | None]
             ] = {
    proto: (_PREPARE.get(proto), encoder, _EMIT.get(proto))
    for proto, encoder in _ENCODERS.items()
}
