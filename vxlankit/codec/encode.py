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

from vxlankit.checksum import internet_checksum, pseudo_header_sum
from vxlankit.errors import EncodeError, VxlanKitError
from vxlankit.layers import arp, ethernet, icmp, ipv4, null, sll, udp, vlan, vxlan
from vxlankit.layers._common import as_bytes
from vxlankit.packet import Layer, Packet

_ETHERTYPE_OF = {"ip": 0x0800, "arp": 0x0806, "vlan": 0x8100, "ieee8021ad": 0x88A8}
_IP_PROTO_OF = {"icmp": 1, "udp": 17}
_GPE_NEXT_OF = {"ip": vxlan.NEXT_IPV4, "eth": vxlan.NEXT_ETHERNET}
_LINK_SCOPES = ("eth", "sll", "null")

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

# Fields that may be None (filled in) and the placeholder written before the fix-up.
_FILLABLE = {
    "ip": ("ip.len", "ip.checksum", "ip.hdr_len", "ip.proto"),
    "udp": ("udp.length", "udp.checksum"),
    "icmp": ("icmp.checksum",),
    "eth": ("eth.type",),
    "vlan": ("vlan.etype",),
    "ieee8021ad": ("ieee8021ad.etype",),
    "vxlan": ("vxlan.next_proto",),
    "arp": ("arp.hw.size", "arp.proto.size"),
    "fcs": ("eth.fcs",),
}


class _Scope:
    __slots__ = ("kind", "index", "start", "end", "trailer_seen")

    def __init__(self, kind: str, index: int, start: int) -> None:
        self.kind = kind
        self.index = index
        self.start = start
        self.end = -1
        self.trailer_seen = False


def _as_layers(packet_or_layers: Packet | Iterable[Layer]) -> Sequence[Layer]:
    if isinstance(packet_or_layers, Packet):
        return packet_or_layers.layers
    layers = list(packet_or_layers)
    for layer in layers:
        if not isinstance(layer, Layer):
            raise EncodeError(f"expected Layer objects, got {type(layer).__name__}")
    return layers


def _prepare(layers: Sequence[Layer], i: int, fix_lengths: bool) -> dict[str, Any]:
    """The fields to write for layer ``i``: a copy only where something must be filled in."""
    layer = layers[i]
    fields = layer.fields
    proto = layer.proto
    fillable = _FILLABLE.get(proto)
    if fillable is None:
        return fields
    if not fix_lengths and all(fields.get(name) is not None for name in fillable):
        return fields
    out = dict(fields)
    nxt = layers[i + 1].proto if i + 1 < len(layers) else None
    if proto == "ip":
        if out.get("ip.proto") is None:
            out["ip.proto"] = _next_value(_IP_PROTO_OF, nxt, "ip.proto")
        if fix_lengths or out.get("ip.hdr_len") is None:
            options = as_bytes(out.get("ip.options", b""), "ip.options")
            if len(options) % 4:
                raise EncodeError(f"ip.options must be a multiple of 4 bytes, got {len(options)}")
            out["ip.hdr_len"] = 20 + len(options)
        for name in ("ip.len", "ip.checksum"):
            if out.get(name) is None:
                out[name] = 0
        for name, default in (("ip.version", 4), ("ip.dsfield", 0), ("ip.flags", 0),
                              ("ip.frag_offset", 0), ("ip.id", 0), ("ip.ttl", 64)):
            if out.get(name) is None:
                out[name] = default
    elif proto == "udp":
        for name in ("udp.length", "udp.checksum"):
            if out.get(name) is None:
                out[name] = 0
    elif proto == "icmp":
        if out.get("icmp.checksum") is None:
            out["icmp.checksum"] = 0
    elif proto == "eth":
        if out.get("eth.type") is None and out.get("eth.len") is None:
            out["eth.type"] = _next_value(_ETHERTYPE_OF, nxt, "eth.type")
    elif proto in ("vlan", "ieee8021ad"):
        if out.get(proto + ".etype") is None:
            out[proto + ".etype"] = _next_value(_ETHERTYPE_OF, nxt, proto + ".etype")
    elif proto == "vxlan":
        if "vxlan.next_proto" in out and out["vxlan.next_proto"] is None:
            out["vxlan.next_proto"] = _next_value(_GPE_NEXT_OF, nxt, "vxlan.next_proto")
    elif proto == "arp":
        if fix_lengths or out.get("arp.hw.size") is None or out.get("arp.proto.size") is None:
            out["arp.hw.size"], out["arp.proto.size"] = arp.address_sizes(out)
    return out


def _next_value(table: dict[str, int], nxt: str | None, name: str) -> int:
    if nxt is None or nxt not in table:
        raise EncodeError(f"{name} is not set and cannot be inferred from the next layer "
                          f"({nxt or 'none'})")
    return table[nxt]


def encode(packet_or_layers: Packet | Iterable[Layer], *, fix_lengths: bool = True,
           compute_checksums: bool = True) -> bytes:
    """Write layers to bytes.  See the module docstring for the fix-up rules."""
    layers = _as_layers(packet_or_layers)
    chunks: list[bytes] = []
    prepared: list[dict[str, Any]] = []
    for i, layer in enumerate(layers):
        if layer.raw is not None:
            chunks.append(bytes(layer.raw))
            prepared.append(layer.fields)
            continue
        encoder = _ENCODERS.get(layer.proto)
        if encoder is None:
            raise EncodeError(f"layer {i}: no encoder for protocol {layer.proto!r}")
        try:
            fields = _prepare(layers, i, fix_lengths)
            chunks.append(encoder(fields))
        except VxlanKitError as exc:
            raise EncodeError(f"layer {i} ({layer.proto}): {exc.message}") from None
        except KeyError as exc:
            raise EncodeError(f"layer {i} ({layer.proto}): missing field {exc.args[0]}") from None
        except (struct.error, ValueError, TypeError, OverflowError) as exc:
            raise EncodeError(f"layer {i} ({layer.proto}): {exc}") from None
        prepared.append(fields)
    out = bytearray().join(chunks)
    needs_fixup = fix_lengths or compute_checksums or any(
        prepared[i] is not layers[i].fields for i in range(len(layers)))
    if needs_fixup:
        _fixup(layers, chunks, out, fix_lengths, compute_checksums)
    return bytes(out)


def _fixup(layers: Sequence[Layer], chunks: list[bytes], out: bytearray, fix_lengths: bool,
           compute_checksums: bool) -> None:
    starts = []
    pos = 0
    for chunk in chunks:
        starts.append(pos)
        pos += len(chunk)
    total = pos
    scopes: list[_Scope] = []
    stack: list[_Scope] = []
    enclosing_ip: list[_Scope | None] = []
    for i, layer in enumerate(layers):
        proto = layer.proto
        if proto in ("trailer", "fcs"):
            while stack and not (stack[-1].kind in _LINK_SCOPES and not stack[-1].trailer_seen):
                stack.pop().end = starts[i]
            if stack:
                stack[-1].trailer_seen = True
            enclosing_ip.append(None)
            continue
        innermost_ip = next((s for s in reversed(stack) if s.kind == "ip"), None)
        enclosing_ip.append(innermost_ip)
        if proto in _LINK_SCOPES or proto in ("ip", "udp"):
            scope = _Scope(proto, i, starts[i])
            stack.append(scope)
            scopes.append(scope)
    fcs_start = total
    if layers and layers[-1].proto == "fcs":
        fcs_start = starts[-1]
    for scope in stack:
        scope.end = fcs_start

    for scope in scopes:
        layer = layers[scope.index]
        if layer.raw is not None:
            continue
        length = scope.end - scope.start
        name = "ip.len" if scope.kind == "ip" else "udp.length"
        if scope.kind in ("ip", "udp") and (fix_lengths or layer.fields.get(name) is None):
            if length > 0xFFFF:
                raise EncodeError(f"layer {scope.index} ({scope.kind}): {length} bytes do not "
                                  f"fit in {name}")
            _H.pack_into(out, scope.start + (2 if scope.kind == "ip" else 4), length)

    # Checksums, innermost (last) first.
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        if layer.raw is not None:
            continue
        proto = layer.proto
        given = layer.fields
        start = starts[i]
        if proto == "ip":
            if compute_checksums or given.get("ip.checksum") is None:
                hdr_len = len(chunks[i])
                _H.pack_into(out, start + 10, 0)
                _H.pack_into(out, start + 10, internet_checksum(out[start:start + hdr_len]))
        elif proto == "udp":
            value = given.get("udp.checksum")
            if value is None or (compute_checksums and value != 0):
                ip_scope = enclosing_ip[i]
                scope_end = _scope_end(scopes, i, total)
                _H.pack_into(out, start + 6, 0)
                if ip_scope is None:
                    raise EncodeError(f"layer {i} (udp): a checksum needs an enclosing IPv4 "
                                      "layer")
                src = bytes(out[ip_scope.start + 12:ip_scope.start + 16])
                dst = ipv4.final_destination(
                    bytes(out[ip_scope.start + 20:ip_scope.start + (out[ip_scope.start] & 15) * 4]),
                    bytes(out[ip_scope.start + 16:ip_scope.start + 20]))
                length = scope_end - start
                csum = internet_checksum(out[start:scope_end],
                                         pseudo_header_sum(src, dst, 17, length)) or 0xFFFF
                _H.pack_into(out, start + 6, csum)
        elif proto == "icmp":
            if compute_checksums or given.get("icmp.checksum") is None:
                ip_scope = enclosing_ip[i]
                stop = ip_scope.end if ip_scope is not None else total
                _H.pack_into(out, start + 2, 0)
                _H.pack_into(out, start + 2, internet_checksum(out[start:stop]))

    # The FCS covers the whole frame, checksums included: last.
    fcs = layers[-1] if layers else None
    if fcs is not None and fcs.proto == "fcs" and fcs.raw is None and "eth.fcs" in fcs.fields:
        if compute_checksums or fcs.fields["eth.fcs"] is None:
            start = starts[-1]
            out[start:start + 4] = zlib.crc32(out[:start]).to_bytes(4, "little")


def _scope_end(scopes: list[_Scope], index: int, total: int) -> int:
    for scope in scopes:
        if scope.index == index:
            return scope.end
    return total
