"""Dispatch tables and decode options.

Dispatch is explicit: the tables are values passed in ``DecodeOptions``, their defaults derived
from the explicit layer list in ``vxlankit.layers.registry``, never filled by modules at import
time (the dpkt/scapy habit that makes behaviour depend on what was imported).  Each table maps
a wire value to the name of the next layer's decode step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from vxlankit.layers.registry import STEPS, TABLES

ETHERTYPES: Mapping[int, str] = TABLES["ethertype"]
IP_PROTOCOLS: Mapping[int, str] = TABLES["ip.proto"]
UDP_PORTS: Mapping[int, str] = TABLES["udp.port"]
GPE_NEXT_PROTOCOLS: Mapping[int, str] = TABLES["vxlan.next_proto"]
# Where decoding starts for each pcap link type (LINKTYPE_* numbers).
LINKTYPES: Mapping[int, str] = TABLES["linktype"]

LINKTYPE_NAMES: Mapping[int, str] = MappingProxyType({
    0: "NULL/loopback",
    1: "Ethernet",
    101: "Raw IP",
    113: "Linux cooked (SLL)",
    228: "Raw IPv4",
    229: "Raw IPv6",
    276: "Linux cooked v2 (SLL2)",
})

# The tables DecodeOptions names as attributes of its own (the public API since the start);
# every other table of the registry travels in ``DecodeOptions.other_tables``.
_NAMED = {"ethertype": "ethertypes", "ip.proto": "ip_protocols", "udp.port": "udp_ports",
          "vxlan.next_proto": "gpe_next_protocols"}
OTHER_TABLES: Mapping[str, Mapping[int, str]] = MappingProxyType(
    {name: table for name, table in TABLES.items() if name not in _NAMED})

MAX_TUNNEL_DEPTH = 8


@dataclass(frozen=True)
class DecodeOptions:
    """What to dissect and how.  Build variants with :meth:`with_vxlan_ports`."""

    ethertypes: Mapping[int, str] = field(default_factory=lambda: ETHERTYPES)
    ip_protocols: Mapping[int, str] = field(default_factory=lambda: IP_PROTOCOLS)
    udp_ports: Mapping[int, str] = field(default_factory=lambda: UDP_PORTS)
    gpe_next_protocols: Mapping[int, str] = field(default_factory=lambda: GPE_NEXT_PROTOCOLS)
    other_tables: Mapping[str, Mapping[int, str]] = field(default_factory=lambda: OTHER_TABLES)
    max_depth: int = MAX_TUNNEL_DEPTH
    verify_checksums: bool = True
    fcs_len: int = 0  # bytes of FCS at the end of each frame (pcap FCS bits, if_fcslen)

    # Plain-dict copies of the tables for the decoder's hot loop: a lookup in a
    # MappingProxyType costs a method call more than one in a dict.
    fast_ethertypes: dict[int, str] = field(init=False, repr=False, compare=False)
    fast_ip_protocols: dict[int, str] = field(init=False, repr=False, compare=False)
    fast_udp_ports: dict[int, str] = field(init=False, repr=False, compare=False)
    fast_gpe_next_protocols: dict[int, str] = field(init=False, repr=False, compare=False)
    # Every dispatch table by its registry name, as the layers' dissect steps read them.
    tables: dict[str, dict[int, str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tables = {name: dict(table) for name, table in self.other_tables.items()}
        for table, name in _NAMED.items():
            fast = dict(getattr(self, name))
            object.__setattr__(self, "fast_" + name, fast)
            tables[table] = fast
        object.__setattr__(self, "tables", tables)

    def table(self, name: str) -> Mapping[int, str]:
        """The dispatch table ``name`` ("ethertype", "ip.proto", "udp.port", "tcp.port", ...)."""
        return self.tables[name]

    def decode_as(self, table: str, value: int, layer: str) -> DecodeOptions:
        """The same options, with ``value`` in ``table`` handed to ``layer`` (tshark's
        ``-d table==value,layer``); ``layer`` "data" leaves the payload undissected."""
        if table not in self.tables:
            known = ", ".join(sorted(self.tables))
            raise ValueError(f"no dispatch table {table!r}: one of {known}")
        if layer != "data" and layer not in STEPS:
            raise ValueError(f"no layer {layer!r} to decode as")
        if table in _NAMED:
            changed: Any = MappingProxyType({**getattr(self, _NAMED[table]), value: layer})
            return replace(self, **{_NAMED[table]: changed})
        others = dict(self.other_tables)
        others[table] = MappingProxyType({**others[table], value: layer})
        return replace(self, other_tables=MappingProxyType(others))

    def with_vxlan_ports(self, ports: list[int] | tuple[int, ...],
                         gpe_ports: tuple[int, ...] = (4790,)) -> DecodeOptions:
        """The same options, with VXLAN recognised on exactly ``ports`` (and GPE on
        ``gpe_ports``); other UDP ports in the table are kept."""
        table = {p: n for p, n in self.udp_ports.items() if n not in ("vxlan", "vxlan-gpe")}
        table.update({p: "vxlan" for p in ports})
        table.update({p: "vxlan-gpe" for p in gpe_ports})
        return replace(self, udp_ports=MappingProxyType(table))

    def with_geneve_ports(self, ports: list[int] | tuple[int, ...]) -> DecodeOptions:
        """The same options, with Geneve recognised on exactly ``ports`` (default 6081); other
        UDP ports in the table are kept."""
        table = {p: n for p, n in self.udp_ports.items() if n != "geneve"}
        table.update({p: "geneve" for p in ports})
        return replace(self, udp_ports=MappingProxyType(table))


DEFAULT_OPTIONS = DecodeOptions()

_TUNNEL_PORT_LAYERS = ("vxlan", "vxlan-gpe", "geneve")


def _without_tunnel_ports(table: Mapping[int, str]) -> dict[int, str]:
    return {port: name for port, name in table.items() if name not in _TUNNEL_PORT_LAYERS}


_DEFAULT_UDP = _without_tunnel_ports(UDP_PORTS)


def fast_path_applies(options: DecodeOptions) -> bool:
    """The one gate of every fast path (one-line, JSON, replay's received frames, bulk):
    ``options`` dissect as the registry's defaults do, apart from which UDP ports carry VXLAN,
    VXLAN-GPE and Geneve (the fast paths read those from ``options``), verify checksums, and strip
    no FCS.  Within it, each fast path declines, frame by frame, any layer it does not
    read itself, so a new layer in the registry sends its frames to the full decoder instead
    of turning a fast path off for every frame."""
    return (options.verify_checksums and not options.fcs_len
            and options.ethertypes == ETHERTYPES and options.ip_protocols == IP_PROTOCOLS
            and options.gpe_next_protocols == GPE_NEXT_PROTOCOLS
            and options.other_tables == OTHER_TABLES
            and _without_tunnel_ports(options.udp_ports) == _DEFAULT_UDP)
