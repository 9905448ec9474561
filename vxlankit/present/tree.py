"""``-V``: every layer and field of a packet, with Wireshark's names, values and byte spans.

::

    Frame 1: 148 bytes on wire (1184 bits), 148 bytes captured (1184 bits)
        frame.time_epoch: 1368908504.837063000
        ...
    Internet Protocol Version 4 (ip), bytes 14-33, Src: 192.168.203.1, Dst: 192.168.202.1
        ip.version: 4                                        byte 14, mask 0xf0
        ...
        ip.checksum: 0x5152 [good]                           bytes 24-25
        ip.checksum.status: good (1)                         bytes 24-25

Byte spans are offsets in the frame (as Wireshark's status bar shows them), inclusive; a field
that is a few bits of its bytes also shows the mask.  Checksums show their status (good, bad
with the value it should have been, unverified, not present).
"""

from __future__ import annotations

from typing import Any

from vxlankit.codec import LINKTYPE_NAMES
from vxlankit.layers.vxlan import NEXT_PROTOCOL_NAMES
from vxlankit.packet import (
    CHECKSUM_BAD,
    CHECKSUM_STATUS_NAMES,
    OK,
    Layer,
    Packet,
)
from vxlankit.present.jsonl import frame_protocols
from vxlankit.present.run import DecodedRecord
from vxlankit.present.summary import PLAIN, Palette, epoch_str, format_seconds

__all__ = ["LAYER_TITLES", "field_span", "format_value", "packet_tree", "record_tree"]

LAYER_TITLES = {
    "eth": "Ethernet II",
    "vlan": "802.1Q Virtual LAN",
    "ieee8021ad": "IEEE 802.1ad",
    "sll": "Linux cooked capture",
    "null": "Null/Loopback",
    "ip": "Internet Protocol Version 4",
    "udp": "User Datagram Protocol",
    "vxlan": "Virtual eXtensible Local Area Network",
    "arp": "Address Resolution Protocol",
    "icmp": "Internet Control Message Protocol",
    "data": "Data",
    "trailer": "Ethernet padding/trailer",
    "fcs": "Ethernet frame check sequence",
}

# (offset in the layer, length, bit mask or None), for fields at a fixed place.
Span = tuple[int, int, int | None]
_FIXED: dict[str, Span] = {
    "eth.dst": (0, 6, None), "eth.src": (6, 6, None), "eth.type": (12, 2, None),
    "eth.len": (12, 2, None),
    "ip.version": (0, 1, 0xF0), "ip.hdr_len": (0, 1, 0x0F), "ip.dsfield": (1, 1, None),
    "ip.dsfield.dscp": (1, 1, 0xFC), "ip.dsfield.ecn": (1, 1, 0x03), "ip.len": (2, 2, None),
    "ip.id": (4, 2, None), "ip.flags": (6, 1, 0xE0), "ip.flags.rb": (6, 1, 0x80),
    "ip.flags.df": (6, 1, 0x40), "ip.flags.mf": (6, 1, 0x20),
    "ip.frag_offset": (6, 2, 0x1FFF), "ip.ttl": (8, 1, None), "ip.proto": (9, 1, None),
    "ip.checksum": (10, 2, None), "ip.checksum.status": (10, 2, None),
    "ip.checksum_calculated": (10, 2, None), "ip.src": (12, 4, None),
    "ip.dst": (16, 4, None),
    "udp.srcport": (0, 2, None), "udp.dstport": (2, 2, None), "udp.length": (4, 2, None),
    "udp.checksum": (6, 2, None), "udp.checksum.status": (6, 2, None),
    "udp.checksum_calculated": (6, 2, None),
    "icmp.type": (0, 1, None), "icmp.code": (1, 1, None), "icmp.checksum": (2, 2, None),
    "icmp.checksum.status": (2, 2, None), "icmp.checksum_calculated": (2, 2, None),
    "icmp.ident": (4, 2, None), "icmp.seq": (6, 2, None), "icmp.unused": (4, 4, None),
    "icmp.rest": (4, 4, None),
    "arp.hw.type": (0, 2, None), "arp.proto.type": (2, 2, None), "arp.hw.size": (4, 1, None),
    "arp.proto.size": (5, 1, None), "arp.opcode": (6, 2, None),
    "null.family": (0, 4, None), "null.byte_order": (0, 4, None),
}
_VXLAN: dict[str, Span] = {
    "vxlan.flags": (0, 2, None), "vxlan.flag_g": (0, 2, 0x8000), "vxlan.flag_i": (0, 2, 0x0800),
    "vxlan.flag_d": (0, 2, 0x0040), "vxlan.flag_a": (0, 2, 0x0008),
    "vxlan.flags_reserved": (0, 2, 0x77B7), "vxlan.gbp": (2, 2, None),
    "vxlan.vni": (4, 3, None), "vxlan.reserved8": (7, 1, None),
}
_GPE: dict[str, Span] = {
    "vxlan.flags": (0, 1, None), "vxlan.ver": (0, 1, 0x30), "vxlan.i_bit": (0, 1, 0x08),
    "vxlan.p_bit": (0, 1, 0x04), "vxlan.o_bit": (0, 1, 0x01),
    "vxlan.flags_reserved": (0, 1, 0xC2), "vxlan.reserved_16": (1, 2, None),
    "vxlan.next_proto": (3, 1, None), "vxlan.vni": (4, 3, None), "vxlan.reserved8": (7, 1, None),
}
_SLL: dict[str, Span] = {
    "sll.pkttype": (0, 2, None), "sll.hatype": (2, 2, None), "sll.halen": (4, 2, None),
    "sll.etype": (14, 2, None), "sll.ltype": (14, 2, None),
}
_SLL2: dict[str, Span] = {
    "sll.etype": (0, 2, None), "sll.ltype": (0, 2, None), "sll.reserved": (2, 2, None),
    "sll.ifindex": (4, 4, None), "sll.hatype": (8, 2, None), "sll.pkttype": (10, 1, None),
    "sll.halen": (11, 1, None),
}
_VLAN = {"priority": (0, 2, 0xE000), "dei": (0, 2, 0x1000), "id": (0, 2, 0x0FFF),
         "etype": (2, 2, None)}


def field_span(layer: Layer, name: str) -> Span:
    """Where ``name`` sits in ``layer``: (offset in the layer, length, mask or None)."""
    proto = layer.proto
    fields = layer.fields
    if proto == "vxlan":
        table = _GPE if "vxlan.next_proto" in fields else _VXLAN
        found = table.get(name)
        if found is not None:
            return found
    elif proto == "vlan" or proto == "ieee8021ad":
        found = _VLAN.get(name.rpartition(".")[2])
        if found is not None:
            return found
    elif proto == "arp":
        hlen = fields.get("arp.hw.size", 6)
        plen = fields.get("arp.proto.size", 4)
        places = {"src.hw": (8, hlen), "src.proto": (8 + hlen, plen),
                  "dst.hw": (8 + hlen + plen, hlen), "dst.proto": (8 + 2 * hlen + plen, plen)}
        for prefix, (off, size) in places.items():
            if name.startswith("arp." + prefix):
                return off, size, None
    elif proto == "sll":
        v2 = "sll.ifindex" in fields
        found = (_SLL2 if v2 else _SLL).get(name)
        if found is not None:
            return found
        base = 12 if v2 else 6
        used = min(fields.get("sll.halen", 0), 8)
        if name in ("sll.src.eth", "sll.src.other"):
            return base, used, None
        if name == "sll.unused":
            return base + used, 8 - used, None
    elif proto == "ip" and name == "ip.options":
        return 20, max(0, layer.length - 20), None
    elif proto == "trailer":
        pad = len(fields.get("eth.padding", b""))
        if name == "eth.padding":
            return 0, pad, None
        if name == "eth.trailer":
            return pad, layer.length - pad, None
    found = _FIXED.get(name)
    if found is not None:
        return found
    return 0, layer.length, None


# Values shown in hex, and value names, as Wireshark shows them.
_HEX = {
    "eth.type": 4, "vlan.etype": 4, "ieee8021ad.etype": 4, "sll.etype": 4, "ip.dsfield": 2,
    "ip.flags": 1, "ip.id": 4, "ip.checksum": 4, "ip.checksum_calculated": 4,
    "udp.checksum": 4, "udp.checksum_calculated": 4, "icmp.checksum": 4,
    "icmp.checksum_calculated": 4, "vxlan.flags": 4, "vxlan.flags_reserved": 4,
    "arp.proto.type": 4, "eth.fcs": 8, "eth.fcs_calculated": 8, "icmp.ident": 4,
}
_ETHERTYPES = {0x0800: "IPv4", 0x0806: "ARP", 0x8100: "802.1Q", 0x88A8: "802.1ad",
               0x9100: "802.1ad (old)", 0x86DD: "IPv6", 0x8847: "MPLS"}
_NAMES: dict[str, dict[int, str]] = {
    "eth.type": _ETHERTYPES, "vlan.etype": _ETHERTYPES, "ieee8021ad.etype": _ETHERTYPES,
    "sll.etype": _ETHERTYPES, "arp.proto.type": _ETHERTYPES,
    "ip.proto": {1: "ICMP", 6: "TCP", 17: "UDP", 47: "GRE", 58: "ICMPv6"},
    "arp.opcode": {1: "request", 2: "reply", 3: "reverse request", 4: "reverse reply"},
    "arp.hw.type": {1: "Ethernet", 6: "IEEE 802"},
    "icmp.type": {0: "Echo (ping) reply", 3: "Destination unreachable", 4: "Source quench",
                  5: "Redirect", 8: "Echo (ping) request", 11: "Time-to-live exceeded"},
    "vxlan.next_proto": NEXT_PROTOCOL_NAMES,
    "ip.flags": {0: "none", 1: "More fragments", 2: "Don't fragment", 4: "Reserved bit"},
    "sll.pkttype": {0: "Unicast to us", 1: "Broadcast", 2: "Multicast", 3: "Unicast to another",
                    4: "Sent by us"},
}


def format_value(fields: dict[str, Any], name: str, value: Any) -> str:
    """A field value as ``-V`` shows it."""
    if isinstance(value, (bytes, bytearray)):
        if not value:
            return "(empty)"
        text = bytes(value).hex(":")
        if len(value) > 32:
            text = bytes(value[:32]).hex(":") + f"... ({len(value)} bytes)"
        return text
    if not isinstance(value, int) or isinstance(value, bool):
        return str(value)
    if name.endswith(".checksum.status") or name == "eth.fcs.status":
        return f"{CHECKSUM_STATUS_NAMES.get(value, 'unknown')} ({value})"
    width = _HEX.get(name)
    if width and name.startswith("vxlan.flags") and "vxlan.next_proto" in fields:
        width = 2  # VXLAN-GPE: one byte of flags
    text = f"0x{value:0{width}x}" if width else str(value)
    if name == "ip.id" or name == "icmp.ident":
        text += f" ({value})"
    names = _NAMES.get(name)
    if names is not None:
        label = names.get(value)
        if label is not None:
            text += f" ({label})"
    if name.endswith(".checksum") or name == "eth.fcs":
        status = fields.get(name + ".status")
        if status == CHECKSUM_BAD:
            calc = fields.get(name + "_calculated")
            should = f", should be 0x{calc:0{width}x}" if isinstance(calc, int) else ""
            text += f" [bad{should}]"
        elif status is not None:
            text += f" [{CHECKSUM_STATUS_NAMES.get(status, 'unknown')}]"
    return text


def _span_text(start: int, length: int, mask: int | None) -> str:
    if length <= 0:
        return ""
    text = f"byte {start}" if length == 1 else f"bytes {start}-{start + length - 1}"
    if mask is not None:
        text += f", mask 0x{mask:0{length * 2}x}"
    return text


def _layer_title(layer: Layer) -> str:
    title = LAYER_TITLES.get(layer.proto, layer.proto)
    f = layer.fields
    extra = ""
    if layer.proto == "ip" and "ip.src" in f:
        extra = f", Src: {f['ip.src']}, Dst: {f['ip.dst']}"
    elif layer.proto == "eth" and "eth.src" in f:
        extra = f", Src: {f['eth.src']}, Dst: {f['eth.dst']}"
    elif layer.proto == "udp" and "udp.srcport" in f:
        extra = f", Src Port: {f['udp.srcport']}, Dst Port: {f['udp.dstport']}"
    elif layer.proto == "vxlan" and "vxlan.vni" in f:
        extra = f", VNI: {f['vxlan.vni']}" + (", GPE" if "vxlan.next_proto" in f else "")
    span = _span_text(layer.offset, layer.length, None)
    return f"{title} ({layer.proto}), {span}{extra}"


_WIDTH = 52


def packet_tree(packet: Packet, pal: Palette = PLAIN) -> list[str]:
    """The lines of every layer, field, note and error of ``packet`` (no frame header)."""
    lines: list[str] = []
    reset = pal.reset
    for layer in packet.layers:
        title = _layer_title(layer)
        if layer.status != OK:
            title += f" [{layer.status}]"
        lines.append(f"{pal.proto}{title}{reset}" if reset else title)
        fields = layer.fields
        for name, value in fields.items():
            off, size, mask = field_span(layer, name)
            shown = format_value(fields, name, value)
            entry = f"    {name}: {shown}"
            span = _span_text(layer.offset + off, size, mask)
            pad = " " * max(1, _WIDTH - len(entry))
            if reset and "[bad" in shown:
                entry = f"    {name}: {pal.bad}{shown}{reset}"
            lines.append(f"{entry}{pad}{pal.dim}{span}{reset}" if span else entry)
        if layer.raw is not None:
            raw = format_value(fields, "raw", layer.raw)
            lines.append(f"    [raw, not dissected: {raw}]")
        for note in layer.notes:
            lines.append(f"    {pal.mark}[note: {note}]{reset}" if reset else f"    [note: {note}]")
    if packet.errors:
        lines.append("Errors")
        for error in packet.errors:
            lines.append(f"    {pal.bad}{error}{reset}" if reset else f"    {error}")
    return lines


def record_tree(item: DecodedRecord, pal: Palette = PLAIN) -> str:
    """The whole ``-V`` text of one decoded record (frame header, then ``packet_tree``)."""
    rec = item.record
    packet = item.packet
    iface = rec.interface
    on = f" on interface {iface.name}" if iface.name else ""
    lines = [
        f"{pal.proto}Frame {rec.number}: {rec.orig_len} bytes on wire ({rec.orig_len * 8} bits), "
        f"{rec.cap_len} bytes captured ({rec.cap_len * 8} bits){on}{pal.reset}",
        f"    frame.time_epoch: {epoch_str(rec.ts_ns)}",
        f"    frame.time_relative: {format_seconds(rec.ts_ns - item.first_ts_ns, 9)}",
        f"    frame.time_delta: {format_seconds(rec.ts_ns - item.prev_ts_ns, 9)}",
        f"    frame.number: {rec.number}",
        f"    frame.len: {rec.orig_len}",
        f"    frame.cap_len: {rec.cap_len}",
        f"    frame.encapsulation: {LINKTYPE_NAMES.get(iface.linktype, 'unknown')} "
        f"(linktype {iface.linktype})",
    ]
    if rec.comment is not None:
        lines.append(f"    frame.comment: {rec.comment}")
    lines.append(f"    frame.protocols: {frame_protocols(packet)}")
    lines.extend(packet_tree(packet, pal))
    return "\n".join(lines)
