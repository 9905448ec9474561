"""Adapters between decoded packets and the models' plain values, and back to bytes.

The models (``vxlankit.model``) never see a Packet: they take ``Frame`` values and return
``Encapsulated`` and friends.  This module is the one place that turns a decoded ``Packet`` into
those values (for ``replay`` and for the synthesizer's receiving side) and turns model outputs
back into wire bytes through ``codec.encode`` (for ``synth``).
"""

from __future__ import annotations

from vxlankit import build
from vxlankit.codec import decode, encode
from vxlankit.model.events import ArpInfo, Encapsulated, Frame, IpInfo, VxlanReceived
from vxlankit.packet import Layer, Packet

_L4_WITH_PORTS = {"udp": ("udp.srcport", "udp.dstport")}


def _frame_end(packet: Packet, index: int) -> int:
    """Where the Ethernet frame that starts at layer ``index`` ends: the end of the UDP
    payload that carries it (for an inner frame), else the end of the data."""
    end = len(packet.data)
    for layer in reversed(packet.layers[:index]):
        if layer.proto == "udp" and layer.status == "ok":
            return min(end, layer.offset + int(layer.fields["udp.length"]))
    fcs = packet.layer("fcs")
    return fcs.offset if fcs is not None else end


def frame_at(packet: Packet, index: int) -> Frame | None:
    """The Ethernet frame whose header is ``packet.layers[index]``, as a model ``Frame``."""
    eth = packet.layers[index]
    if eth.proto != "eth" or eth.raw is not None:
        return None
    fields = eth.fields
    ethertype = fields.get("eth.type", fields.get("eth.len", 0))
    start = eth.offset + eth.length
    payload = packet.data[start:_frame_end(packet, index)]
    arp = ip = None
    for j in range(index + 1, len(packet.layers)):
        layer = packet.layers[j]
        if layer.proto in ("vlan", "ieee8021ad"):
            continue
        if layer.proto == "arp" and "arp.src.proto_ipv4" in layer.fields:
            f = layer.fields
            if "arp.src.hw_mac" in f:
                arp = ArpInfo(f["arp.opcode"], f["arp.src.hw_mac"], f["arp.src.proto_ipv4"],
                              f["arp.dst.hw_mac"], f["arp.dst.proto_ipv4"],
                              f["arp.hw.type"], f["arp.proto.type"], f["arp.hw.size"],
                              f["arp.proto.size"])
        elif layer.proto == "ip" and layer.raw is None:
            f = layer.fields
            sport = dport = None
            if j + 1 < len(packet.layers):
                ports = _L4_WITH_PORTS.get(packet.layers[j + 1].proto)
                if ports and packet.layers[j + 1].raw is None:
                    sport = packet.layers[j + 1].fields[ports[0]]
                    dport = packet.layers[j + 1].fields[ports[1]]
            ip = IpInfo(f["ip.src"], f["ip.dst"], f["ip.proto"], f["ip.ttl"], f["ip.dsfield"],
                        bool(f["ip.flags.df"]), sport, dport)
        break
    return Frame(fields["eth.dst"], fields["eth.src"], ethertype, arp, ip, payload)


def frame_from_bytes(data: bytes) -> Frame:
    """A whole Ethernet frame's bytes as a model ``Frame`` (for frames an actor makes)."""

    frame = frame_at(decode(data), 0)
    if frame is None:
        raise ValueError("not an Ethernet frame")
    return frame


def vxlan_received(packet: Packet) -> list[tuple[int, VxlanReceived]]:
    """Every VXLAN hop in ``packet`` as a VTEP input, with the index of its ``vxlan`` layer.

    Only RFC 7348/GBP VXLAN carrying Ethernet counts; GPE is not what a Linux vxlan device
    receives.
    """
    hops: list[tuple[int, VxlanReceived]] = []
    layers = packet.layers
    for i, layer in enumerate(layers):
        if (layer.proto != "vxlan" or "vxlan.next_proto" in layer.fields or i < 2
                or i + 1 >= len(layers)):
            continue
        udp, ip = layers[i - 1], layers[i - 2]
        if udp.proto != "udp" or ip.proto != "ip" or ip.raw is not None:
            continue
        frame = frame_at(packet, i + 1)
        if frame is None:
            continue
        f = layer.fields
        hops.append((i, VxlanReceived(
            ip.fields["ip.src"], ip.fields["ip.dst"], udp.fields["udp.srcport"],
            udp.fields["udp.dstport"], f["vxlan.vni"], frame, f["vxlan.flags"], f["vxlan.gbp"],
            f["vxlan.reserved8"], ip.fields["ip.dsfield"])))
    return hops


def frame_layers(frame: Frame) -> list[Layer]:
    """A model ``Frame`` as layers ready for ``encode``."""
    eth = build.eth(dst=frame.dst, src=frame.src, type=frame.ethertype)
    if frame.payload:
        return [eth, build.payload(frame.payload)]
    if frame.arp is not None:
        a = frame.arp
        return [eth, build.arp(a.opcode, a.sender_mac, a.sender_ip, a.target_mac, a.target_ip)]
    return [eth]


def frame_bytes(frame: Frame) -> bytes:
    return encode(frame_layers(frame))


def encapsulated_layers(out: Encapsulated) -> list[Layer]:
    """The exact underlay frame a VTEP's ``Encapsulated`` output describes, as layers."""
    return [
        build.eth(dst=out.eth_dst, src=out.eth_src),
        build.ipv4(src=out.ip_src, dst=out.ip_dst, ttl=out.ttl, id=out.ip_id, df=out.df,
                   dscp=out.tos >> 2, ecn=out.tos & 3),
        build.udp(sport=out.sport, dport=out.dport,
                  checksum=0 if out.udp_checksum == "zero" else None),
        build.vxlan(out.vni, flags=out.flags, gbp=out.gbp, reserved8=out.reserved8),
        *frame_layers(out.frame),
    ]


def encapsulated_bytes(out: Encapsulated) -> bytes:
    return encode(encapsulated_layers(out))
