"""Per-capture analyses: what a layer can only say knowing the packets before it.

A layer whose spec names an ``analyzer`` (TCP: stream numbers, relative sequence numbers, the
scaled window, as tshark's TCP analysis shows them) gets one analyzer per capture, called on
each of its layers in packet order.  ``decode`` itself stays a pure function of one frame; the
paths that read a whole capture in order (``decode``'s views, ``crosscheck``) run an
``Analysis`` over what they decode.  The bulk export reads captures in parallel parts and so
carries the per-segment fields only.
"""

from __future__ import annotations

from typing import Any

from vxlankit.layers.registry import LAYERS
from vxlankit.layers.spec import Analyzer
from vxlankit.packet import Packet

_MAKERS = {spec.proto: spec.analyzer for spec in LAYERS if spec.analyzer is not None}


class Analysis:
    """The analyses of one capture: call it with every packet, in capture order."""

    __slots__ = ("_running",)

    def __init__(self) -> None:
        self._running: dict[str, Analyzer] = {}

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

    def add(self, proto: str, fields: dict[str, Any], src: str, dst: str) -> None:
        """One layer's ``fields`` of protocol ``proto``, from ``src`` to ``dst``, for the fast
        paths that build no Packet (a layer without an analysis is left alone)."""
        run = self._running.get(proto)
        if run is None:
            make = _MAKERS.get(proto)
            if make is None:
                return
            run = self._running[proto] = make()
        run.add(fields, src, dst)

    def running(self, proto: str) -> Analyzer | None:
        """The analyzer of protocol ``proto`` for this capture (made on first use), for a fast
        path that feeds it values rather than fields; None for a layer without one."""
        run = self._running.get(proto)
        if run is None:
            make = _MAKERS.get(proto)
            if make is None:
                return None
            run = self._running[proto] = make()
        return run
