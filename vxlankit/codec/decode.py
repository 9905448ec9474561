"""Bytes -> Packet: the rich, every-field decoder.

One loop walks the frame layer by layer; each step checks that its header is there before it
reads (so nothing raises on short data), records a status, and picks the next decoder from the
dispatch tables in ``DecodeOptions``.  The per-layer field decoders are the ``struct`` fast paths
in ``vxlankit.layers``, each proven equal to its Construct schema by the test-suite.

Whatever cannot be dissected stays in the packet: a cut header becomes a layer with ``raw`` set,
an unknown payload a ``data`` layer, bytes past a length field a ``trailer`` layer, so
``encode(decode(b), fix_lengths=False, compute_checksums=False) == b`` for every ``b``.
"""

from __future__ import annotations

import zlib
from typing import Any

from vxlankit.checksum import internet_checksum, udp_checksum
from vxlankit.checksum import verify as checksum_ok
from vxlankit.codec.options import DEFAULT_OPTIONS, LINKTYPES, DecodeOptions
from vxlankit.layers import arp, ethernet, icmp, ipv4, null, sll, udp, vlan, vxlan
from vxlankit.packet import (
    CHECKSUM_BAD,
    CHECKSUM_GOOD,
    CHECKSUM_NOT_PRESENT,
    CHECKSUM_UNVERIFIED,
    MALFORMED,
    TRUNCATED,
    Layer,
    Packet,
)

_MIN_FRAME = ethernet.MIN_FRAME


def _cut(layers: list[Layer], errors: list[str], proto: str, buf: bytes, off: int, end: int,
         need: int) -> None:
    """A header that the data ends inside: keep its bytes, say how many were missing."""
    layers.append(Layer(proto, {}, offset=off, length=end - off, status=TRUNCATED,
                        raw=buf[off:end]))
    errors.append(f"{proto}: truncated header at offset {off}: {end - off} of {need} bytes")


def _data(layers: list[Layer], buf: bytes, off: int, end: int) -> None:
    if off < end:
        chunk = buf[off:end]
        layers.append(Layer("data", {"data.data": chunk, "data.len": end - off},
                            offset=off, length=end - off))


def decode(data: bytes | bytearray | memoryview, linktype: int = 1,
           options: DecodeOptions = DEFAULT_OPTIONS) -> Packet:
    """Decode one frame captured on ``linktype`` into a :class:`Packet`.

    Never raises for any input bytes: problems become layer statuses and ``Packet.errors``.
    """
    buf = data if type(data) is bytes else bytes(data)
    layers: list[Layer] = []
    errors: list[str] = []
    end = len(buf)
    fcs: bytes | None = None
    if options.fcs_len and end >= options.fcs_len:
        end -= options.fcs_len
        fcs = buf[end:]
    off = 0
    nxt = LINKTYPES.get(linktype)
    if nxt is None:
        errors.append(f"link type {linktype} is not supported; frame kept as data")
        nxt = "data"
    ethertypes = options.fast_ethertypes
    ip_protocols = options.fast_ip_protocols
    udp_ports = options.fast_udp_ports
    gpe_next = options.fast_gpe_next_protocols
    verify = options.verify_checksums
    trailers: list[tuple[int, int, int]] = []  # (start, end, start of the Ethernet frame)
    eth_start = -1
    depth = 0
    # The innermost IPv4 header seen: addresses for pseudo-headers, and whether its payload
    # is all there (a checksum over a cut payload cannot be verified).
    ip_src = ip_dst = b""
    ip_pseudo = 0
    ip_complete = True
    ip_payload_end = end

    while nxt is not None:
        avail = end - off
        if nxt == "eth":
            if avail < 14:
                _cut(layers, errors, "eth", buf, off, end, 14)
                break
            fields = ethernet.decode(buf, off)
            layers.append(Layer("eth", fields, off, 14))
            eth_start = off
            off += 14
            etype = fields.get("eth.type")
            nxt = "data" if etype is None else ethertypes.get(etype, "data")
        elif nxt == "ip" or nxt == "raw":
            if nxt == "raw" and avail and (buf[off] >> 4) != 4:
                nxt = "data"  # raw-IP link type carrying IPv6: not dissected yet
                continue
            if avail < 20:
                _cut(layers, errors, "ip", buf, off, end, 20)
                break
            fields = ipv4.decode(buf, off)
            hdr_len = fields["ip.hdr_len"]
            total = fields["ip.len"]
            layer = Layer("ip", fields, off, 20)
            layers.append(layer)
            if fields["ip.version"] != 4 or hdr_len < 20:
                layer.status = MALFORMED
                fields["ip.options"] = b""
                fields["ip.checksum.status"] = CHECKSUM_UNVERIFIED
                errors.append(f"ip: malformed header at offset {off}: version "
                              f"{fields['ip.version']}, header length {hdr_len}")
                _data(layers, buf, off + 20, end)
                break
            if hdr_len > avail:
                layer.status = TRUNCATED
                layer.length = avail
                layer.raw = buf[off:end]
                fields["ip.checksum.status"] = CHECKSUM_UNVERIFIED
                errors.append(f"ip: truncated options at offset {off}: header {hdr_len}, "
                              f"{avail} bytes left")
                break
            layer.length = hdr_len
            if verify:
                if checksum_ok(buf[off:off + hdr_len]):
                    fields["ip.checksum.status"] = CHECKSUM_GOOD
                else:
                    calc = internet_checksum(buf[off:off + 10] + buf[off + 12:off + hdr_len])
                    _bad_checksum(fields, errors, "ip", off + 10, calc)
            else:
                fields["ip.checksum.status"] = CHECKSUM_UNVERIFIED
            payload_start = off + hdr_len
            if total < hdr_len:
                layer.status = MALFORMED
                errors.append(f"ip: total length {total} < header length {hdr_len} "
                              f"at offset {off + 2}")
                _data(layers, buf, payload_start, end)
                break
            if total > avail:
                layer.status = TRUNCATED
                ip_complete = False
                ip_payload_end = end
                errors.append(f"ip: truncated at offset {off}: total length {total}, "
                              f"{avail} bytes captured")
            else:
                ip_complete = True
                ip_payload_end = off + total
                if ip_payload_end < end:
                    trailers.append((ip_payload_end, end, eth_start))
                    end = ip_payload_end
            ip_src = buf[off + 12:off + 16]
            ip_dst = buf[off + 16:off + 20]
            if hdr_len > 20:
                ip_dst = ipv4.final_destination(fields["ip.options"], ip_dst)
            # Addresses as integers: congruent (mod 0xffff) to their pseudo-header word sum.
            ip_pseudo = int.from_bytes(ip_src + ip_dst, "big")
            off = payload_start
            if fields["ip.frag_offset"]:
                nxt = "data"  # only first fragments carry the next header
            else:
                if fields["ip.flags.mf"]:
                    ip_complete = False
                nxt = ip_protocols.get(fields["ip.proto"], "data")
        elif nxt == "udp":
            if avail < 8:
                _cut(layers, errors, "udp", buf, off, end, 8)
                break
            fields = udp.decode(buf, off)
            ulen = fields["udp.length"]
            layer = Layer("udp", fields, off, 8)
            layers.append(layer)
            if ulen < 8:
                layer.status = MALFORMED
                fields["udp.checksum.status"] = CHECKSUM_UNVERIFIED
                errors.append(f"udp: length {ulen} < 8 at offset {off + 4}")
                _data(layers, buf, off + 8, end)
                break
            complete = ip_complete
            if ulen > avail:
                complete = False
                if ip_complete:
                    layer.status = MALFORMED
                    errors.append(f"udp: length {ulen} runs past the IP payload ({avail} bytes) "
                                  f"at offset {off + 4}")
                else:
                    layer.status = TRUNCATED
                    errors.append(f"udp: truncated at offset {off}: length {ulen}, "
                                  f"{avail} bytes captured")
            elif ulen < avail:
                trailers.append((off + ulen, end, eth_start))
                end = off + ulen
            csum = fields["udp.checksum"]
            if csum == 0:
                fields["udp.checksum.status"] = CHECKSUM_NOT_PRESENT
            elif verify and complete and ip_src:
                if checksum_ok(buf[off:off + ulen], ip_pseudo + 17 + ulen):
                    fields["udp.checksum.status"] = CHECKSUM_GOOD
                else:
                    segment = buf[off:off + 6] + b"\0\0" + buf[off + 8:off + ulen]
                    _bad_checksum(fields, errors, "udp", off + 6,
                                  udp_checksum(ip_src, ip_dst, segment))
            else:
                fields["udp.checksum.status"] = CHECKSUM_UNVERIFIED
            off += 8
            nxt = udp_ports.get(fields["udp.dstport"], "data")
        elif nxt == "vxlan" or nxt == "vxlan-gpe":
            if avail < 8:
                _cut(layers, errors, "vxlan", buf, off, end, 8)
                break
            if depth >= options.max_depth:
                errors.append(f"vxlan: tunnel depth limit {options.max_depth} reached at "
                              f"offset {off}; rest kept as data")
                nxt = "data"
                continue
            depth += 1
            if nxt == "vxlan":
                fields = vxlan.decode(buf, off)
                layer = Layer("vxlan", fields, off, 8)
                if not fields["vxlan.flag_i"]:
                    layer.notes += ("I flag not set (RFC 7348 requires it)",)
                if fields["vxlan.flags_reserved"] or fields["vxlan.reserved8"] or (
                        not fields["vxlan.flag_g"] and fields["vxlan.gbp"]):
                    layer.notes += ("reserved bits set",)
                nxt = "eth"
            else:
                fields = vxlan.decode_gpe(buf, off)
                layer = Layer("vxlan", fields, off, 8)
                if not fields["vxlan.i_bit"]:
                    layer.notes += ("I flag not set",)
                if fields["vxlan.flags_reserved"] or fields["vxlan.reserved_16"] or fields[
                        "vxlan.reserved8"]:
                    layer.notes += ("reserved bits set",)
                nxt = gpe_next.get(fields["vxlan.next_proto"], "data")
            layers.append(layer)
            off += 8
        elif nxt == "icmp":
            if avail < 8:
                _cut(layers, errors, "icmp", buf, off, end, 8)
                break
            fields = icmp.decode(buf, off)
            layers.append(Layer("icmp", fields, off, 8))
            if verify and ip_complete:
                if checksum_ok(buf[off:end]):
                    fields["icmp.checksum.status"] = CHECKSUM_GOOD
                else:
                    calc = internet_checksum(buf[off:off + 2] + buf[off + 4:end])
                    _bad_checksum(fields, errors, "icmp", off + 2, calc)
            else:
                fields["icmp.checksum.status"] = CHECKSUM_UNVERIFIED
            off += 8
            _data(layers, buf, off, end)
            nxt = None
        elif nxt == "arp":
            if avail < 8:
                _cut(layers, errors, "arp", buf, off, end, 8)
                break
            alen = arp.length(buf, off)
            if alen > avail:
                _cut(layers, errors, "arp", buf, off, end, alen)
                break
            layers.append(Layer("arp", arp.decode(buf, off), off, alen))
            off += alen
            if off < end:
                trailers.append((off, end, eth_start))
                end = off
            nxt = None
        elif nxt == "vlan" or nxt == "ieee8021ad":
            if avail < 4:
                _cut(layers, errors, nxt, buf, off, end, 4)
                break
            fields = vlan.decode(buf, off, nxt)
            layers.append(Layer(nxt, fields, off, 4))
            off += 4
            nxt = ethertypes.get(fields[nxt + ".etype"], "data")
        elif nxt == "sll" or nxt == "sll2":
            size = sll.HEADER_LEN if nxt == "sll" else sll.HEADER_LEN_V2
            if avail < size:
                _cut(layers, errors, "sll", buf, off, end, size)
                break
            fields = sll.decode(buf, off) if nxt == "sll" else sll.decode_v2(buf, off)
            layers.append(Layer("sll", fields, off, size))
            off += size
            etype = fields.get("sll.etype")
            nxt = "data" if etype is None else ethertypes.get(etype, "data")
        elif nxt == "null":
            if avail < 4:
                _cut(layers, errors, "null", buf, off, end, 4)
                break
            fields = null.decode(buf, off)
            layers.append(Layer("null", fields, off, 4))
            off += 4
            nxt = "ip" if fields["null.family"] == null.AF_INET else "data"
        else:  # "data", or a name in a dispatch table that this codec has no decoder for
            _data(layers, buf, off, end)
            nxt = None
            off = end

    while trailers:
        start, stop, frame_start = trailers.pop()
        _trailer(layers, buf, start, stop, frame_start)
    if fcs is not None:
        _fcs(layers, errors, buf, fcs)
    return Packet(layers, errors, linktype=linktype, data=buf)


def _bad_checksum(fields: dict[str, Any], errors: list[str], proto: str, offset: int,
                  calc: int) -> None:
    """Report a wrong checksum the way Wireshark names it: status bad, and the right value."""
    fields[f"{proto}.checksum.status"] = CHECKSUM_BAD
    fields[f"{proto}.checksum_calculated"] = calc
    what = "header checksum" if proto == "ip" else "checksum"
    errors.append(f"{proto}: bad {what} at offset {offset}: "
                  f"0x{fields[proto + '.checksum']:04x}, should be 0x{calc:04x}")


def _trailer(layers: list[Layer], buf: bytes, start: int, stop: int, frame_start: int) -> None:
    """Bytes after a length-delimited payload: padding up to the 60-byte minimum Ethernet
    frame, then anything else, named as Wireshark names them."""
    fields: dict[str, Any] = {}
    pad_end = min(stop, frame_start + _MIN_FRAME) if frame_start >= 0 else start
    if pad_end > start:
        fields["eth.padding"] = buf[start:pad_end]
    if stop > max(start, pad_end):
        fields["eth.trailer"] = buf[max(start, pad_end):stop]
    layers.append(Layer("trailer", fields, offset=start, length=stop - start))


def _fcs(layers: list[Layer], errors: list[str], buf: bytes, fcs: bytes) -> None:
    start = len(buf) - len(fcs)
    fields: dict[str, Any] = {}
    if len(fcs) == 4:
        # The CRC is sent least significant byte first; Wireshark shows eth.fcs as the four
        # bytes read in network order, so both values are compared that way.
        value = int.from_bytes(fcs, "big")
        calc = int.from_bytes(zlib.crc32(buf[:start]).to_bytes(4, "little"), "big")
        fields["eth.fcs"] = value
        fields["eth.fcs.status"] = CHECKSUM_GOOD if calc == value else CHECKSUM_BAD
        if calc != value:
            fields["eth.fcs_calculated"] = calc
            errors.append(f"eth: bad FCS at offset {start}: 0x{value:08x}, should be 0x{calc:08x}")
    else:
        fields["eth.trailer"] = fcs
    layers.append(Layer("fcs", fields, offset=start, length=len(fcs)))

