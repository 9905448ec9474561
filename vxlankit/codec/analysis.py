"""Per-capture analyses: what a layer can only say knowing the packets before it.

A layer whose spec names an ``analyzer`` (TCP: stream numbers, relative sequence numbers, the
scaled window, as tshark's TCP analysis shows them) gets one analyzer per capture, called on
each of its layers in packet order.  ``decode`` itself stays a pure function of one frame; the
paths that read a whole capture in order (``decode``'s views, ``crosscheck``) run an
``Analysis`` over what they decode.  The bulk export reads captures in parallel parts and so
carries the per-segment fields only.
"""

from __future__ import annotations

from collections.abc import Callable

from vxlankit.layers.registry import LAYERS
from vxlankit.packet import Packet

_MAKERS = {spec.proto: spec.analyzer for spec in LAYERS if spec.analyzer is not None}


class Analysis:
    """The analyses of one capture: call it with every packet, in capture order."""

    __slots__ = ("_running",)

    def __init__(self) -> None:
        self._running: dict[str, Callable[[Packet, int], None]] = {}

    def __call__(self, packet: Packet) -> Packet:
        makers = _MAKERS
        for i, layer in enumerate(packet.layers):
            make = makers.get(layer.proto)
            if make is not None:
                run = self._running.get(layer.proto)
                if run is None:
                    run = self._running[layer.proto] = make()
                run(packet, i)
        return packet
