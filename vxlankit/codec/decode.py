"""Bytes -> Packet: the rich, every-field decoder.

One loop walks the frame layer by layer, calling each layer's ``dissect`` step (its module's,
listed in ``vxlankit.layers.registry``): the step checks that its header is there before it
reads (so nothing raises on short data), records a status, and names the next step from the
dispatch tables in ``DecodeOptions``.  The per-layer field decoders are the ``struct`` fast
paths in ``vxlankit.layers``, each proven equal to its Construct schema by the test-suite.

Whatever cannot be dissected stays in the packet: a cut header becomes a layer with ``raw`` set,
an unknown payload a ``data`` layer, bytes past a length field a ``trailer`` layer, so
``encode(decode(b), fix_lengths=False, compute_checksums=False) == b`` for every ``b``.
"""

from __future__ import annotations

import zlib
from typing import Any

from vxlankit.addr import pair_str
from vxlankit.codec.analysis import Analysis
from vxlankit.codec.options import DEFAULT_OPTIONS, DecodeOptions
from vxlankit.layers import ethernet
from vxlankit.layers.registry import STEPS
from vxlankit.layers.spec import Walk, dissect_data
from vxlankit.packet import CHECKSUM_BAD, CHECKSUM_GOOD, OK, Layer, Packet

_MIN_FRAME = ethernet.MIN_FRAME


def decode(data: bytes | bytearray | memoryview, linktype: int = 1,
           options: DecodeOptions = DEFAULT_OPTIONS) -> Packet:
    """Decode one frame captured on ``linktype`` into a :class:`Packet`.

    Never raises for any input bytes: problems become layer statuses and ``Packet.errors``.
    """
    buf = data if type(data) is bytes else bytes(data)
    end = len(buf)
    fcs: bytes | None = None
    if options.fcs_len and end >= options.fcs_len:
        end -= options.fcs_len
        fcs = buf[end:]
    walk = Walk(buf, end, options.tables, options.verify_checksums, options.max_depth)
    nxt = options.tables["linktype"].get(linktype)
    if nxt is None:
        walk.errors.append(f"link type {linktype} is not supported; frame kept as data")
        nxt = "data"
    run_steps(walk, nxt, 0)
    layers = walk.layers
    trailers = walk.trailers
    while trailers:
        start, stop, frame_start = trailers.pop()
        _trailer(layers, buf, start, stop, frame_start)
    if fcs is not None:
        _fcs(layers, walk.errors, buf, fcs)
    return Packet(layers, walk.errors, linktype=linktype, data=buf)


def run_steps(walk: Walk, name: str | None, off: int) -> int:
    """The layers' dissect steps from step ``name`` at ``off``, each naming the next, until one
    ends the frame; returns the offset the last one stopped at.  A name in a dispatch table
    that no layer decodes (a user's decode-as) is data."""
    steps = STEPS
    while name is not None:
        name, off = steps.get(name, dissect_data)(walk, off)
    return off


def dissect_frame(data: bytes, off: int, end: int, options: DecodeOptions, depth: int = 0
                  ) -> Walk:
    """For the fast paths: the Ethernet frame at ``off`` (its data ending at ``end``),
    ``depth`` tunnels in, through the layers' own steps (what they do not read by hand)."""
    walk = Walk(data, end, options.tables, options.verify_checksums, options.max_depth)
    walk.depth = depth
    run_steps(walk, "eth", off)
    return walk


def dissect_transport(data: bytes, off: int, end: int, ip_off: int, name: str,
                      options: DecodeOptions, analysis: Analysis | None, bare: bool = False,
                      v6: bool = False) -> tuple[list[Layer], list[str], str | None, int] | None:
    """For the fast paths, which read the headers below a transport themselves: what the step
    ``name`` makes of ``data[off:end]`` over the IPv4 (``v6``: IPv6, without extension
    headers) header at ``ip_off`` (its layers, its errors, the next step and where it
    starts).  ``None`` when it has more to report than a bad checksum (a trailer, a layer that
    is not whole): the full decoder's case; with ``bare``, also when another layer follows
    (the caller reads the transport alone).  The layers go through ``analysis`` (TCP streams)
    when one is given."""
    walk = Walk(data, end, options.tables, options.verify_checksums, options.max_depth)
    if v6:  # the IPv6 header (without extension headers) at ip_off
        walk.ip_src = src = data[ip_off + 8:ip_off + 24]
        walk.ip_dst = dst = data[ip_off + 24:ip_off + 40]
        walk.ip_v6 = True
    else:
        walk.ip_src = src = data[ip_off + 12:ip_off + 16]
        walk.ip_dst = dst = data[ip_off + 16:ip_off + 20]
    walk.ip_pseudo = int.from_bytes(src + dst, "big")
    nxt, off = STEPS[name](walk, off)
    layers = walk.layers
    if walk.trailers or any(layer.status != OK for layer in layers) or not all(
            " bad checksum at offset " in error for error in walk.errors):
        return None
    if bare and nxt not in (None, "data"):
        return None  # a layer above it (DNS over TCP): the caller's general case
    if analysis is not None:
        source, destination = pair_str(src + dst)
        for layer in layers:
            analysis.add(layer.proto, layer.fields, source, destination)
    return layers, walk.errors, nxt, off


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

