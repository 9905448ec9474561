"""Writing a synthesized exchange: one pcapng with an interface per tap, or one tap as pcap."""

from __future__ import annotations

from typing import Any

from vxlankit.capture.writer import PcapngWriter, PcapWriter
from vxlankit.errors import CaptureError
from vxlankit.synth.ping import PingOptions, SynthResult

LINKTYPE_ETHERNET = 1
PCAP_END_NS = 2**32 * 10**9  # a pcap record's seconds are an unsigned 32-bit word
DEFAULT_PORT = PingOptions.port  # IANA's VXLAN port, 4789


def default_name(options: PingOptions, tap: str | None = None) -> str:
    """The file ``synth ping`` writes without ``-w``: ``synth-ping-vni<VNI>-<arp>``, then what
    differs from the seed's scenario, in this order: ``-port<PORT>``, ``-routed`` (several
    subnets), ``-to-<where>``, ``-ipv6-underlay``, ``-ipv6-inner``, ``-fault-<kind>``, the tap
    (``-node2-eth0``: a classic ``.pcap``); else ``.pcapng``.  The files in ``captures/`` are
    named so."""
    parts = ["synth-ping", f"vni{options.vni}", options.arp]
    if options.port != DEFAULT_PORT:
        parts.append(f"port{options.port}")
    if len(options.subnets) > 1:
        parts.append("routed")
    if options.to != "remote":
        parts.append(f"to-{options.to}")
    if options.underlay != "ipv4":
        parts.append(f"{options.underlay}-underlay")
    if options.inner != "ipv4":
        parts.append(f"{options.inner}-inner")
    if options.fault:
        parts.append(f"fault-{options.fault}")
    if tap:
        parts.append(tap.replace("/", "-"))
    return "-".join(parts) + (".pcap" if tap else ".pcapng")


def guess_format(target: Any, tap: str | None = None) -> str:
    """``pcap`` for a ``.pcap`` file name (any case), else ``pcapng`` (stdout too)."""
    if isinstance(target, str) and target.lower().endswith(".pcap"):
        return "pcap"
    return "pcapng"


def write_result(result: SynthResult, target: Any, *, tap: str | None = None,
                 format: str | None = None) -> int:
    """Write ``result`` to ``target`` (a path, ``"-"`` for stdout, or a binary file).

    Without ``tap``: every tap, as named pcapng interfaces (``node1/eth0`` ...), packets in time
    order.  With ``tap``: that tap alone, as classic pcap (nanosecond) or pcapng.  Returns the
    number of packets written.
    """
    fmt = format or guess_format(target, tap)
    if fmt not in ("pcap", "pcapng"):
        raise CaptureError(f"unknown capture format {fmt!r} (pcap or pcapng)")
    if tap is not None and tap not in result.taps:
        raise CaptureError(f"no tap named {tap!r}; taps are: {', '.join(result.taps)}")
    if fmt == "pcap" and tap is None:
        raise CaptureError("classic pcap holds one interface: name one with --tap")
    packets = result.packets if tap is None else result.tap_packets(tap)
    if fmt == "pcap":
        if packets and max(p.ts_ns for p in packets) >= PCAP_END_NS:
            raise CaptureError("a classic pcap holds times up to 2106-02-07 (32-bit seconds); "
                               "this run goes past it (-c x -i): write .pcapng")
        with PcapWriter(target, LINKTYPE_ETHERNET, nanosecond=True) as writer:
            for p in packets:
                writer.write(p.data, p.ts_ns)
        return len(packets)
    taps = result.taps if tap is None else (tap,)
    o = result.options
    comment = f"vni={o.vni} count={o.count} arp={o.arp} seed={o.seed}"
    if o.underlay != "ipv4":
        comment += f" underlay={o.underlay}"
    if o.inner != "ipv4":
        comment += f" inner={o.inner}"
    with PcapngWriter(target, userappl="vxlankit synth ping", comment=comment) as ng:
        ids = {name: ng.add_interface(name, LINKTYPE_ETHERNET, tsresol=10**9,
                                      description=_describe(name))
               for name in taps}
        for p in packets:
            ng.write(p.data, p.ts_ns, ids[p.tap])
    return len(packets)


def _describe(tap: str) -> str:
    node, _, port = tap.partition("/")
    if port == "eth0":
        return f"{node}'s underlay NIC"
    return f"{node}: container side of {port}"
