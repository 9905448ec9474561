"""Dispatch tables and decode options.

Dispatch is explicit: the tables are values passed in ``DecodeOptions``, never a registry that
modules fill at import time (the dpkt/scapy habit that makes behaviour depend on what was
imported).  Each table maps a wire value to the name of the next layer's decoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

ETHERTYPES: Mapping[int, str] = MappingProxyType({
    0x0800: "ip",
    0x0806: "arp",
    0x8100: "vlan",
    0x88A8: "ieee8021ad",
    0x9100: "ieee8021ad",  # pre-standard QinQ TPID still seen on older switches
})

IP_PROTOCOLS: Mapping[int, str] = MappingProxyType({1: "icmp", 17: "udp"})

# 8472 is the Linux kernel's historic default and what flannel uses; 4789 is IANA's.
UDP_PORTS: Mapping[int, str] = MappingProxyType({4789: "vxlan", 8472: "vxlan", 4790: "vxlan-gpe"})

GPE_NEXT_PROTOCOLS: Mapping[int, str] = MappingProxyType({1: "ip", 3: "eth"})

# Where decoding starts for each pcap link type (LINKTYPE_* numbers).
LINKTYPES: Mapping[int, str] = MappingProxyType({
    0: "null",
    1: "eth",
    101: "raw",
    113: "sll",
    228: "ip",
    276: "sll2",
})

LINKTYPE_NAMES: Mapping[int, str] = MappingProxyType({
    0: "NULL/loopback",
    1: "Ethernet",
    101: "Raw IP",
    113: "Linux cooked (SLL)",
    228: "Raw IPv4",
    276: "Linux cooked v2 (SLL2)",
})

MAX_TUNNEL_DEPTH = 8


@dataclass(frozen=True)
class DecodeOptions:
    """What to dissect and how.  Build variants with :meth:`with_vxlan_ports`."""

    ethertypes: Mapping[int, str] = field(default_factory=lambda: ETHERTYPES)
    ip_protocols: Mapping[int, str] = field(default_factory=lambda: IP_PROTOCOLS)
    udp_ports: Mapping[int, str] = field(default_factory=lambda: UDP_PORTS)
    gpe_next_protocols: Mapping[int, str] = field(default_factory=lambda: GPE_NEXT_PROTOCOLS)
    max_depth: int = MAX_TUNNEL_DEPTH
    verify_checksums: bool = True
    fcs_len: int = 0  # bytes of FCS at the end of each frame (pcap FCS bits, if_fcslen)

    # Plain-dict copies of the tables for the decoder's hot loop: a lookup in a
    # MappingProxyType costs a method call more than one in a dict.
    fast_ethertypes: dict[int, str] = field(init=False, repr=False, compare=False)
    fast_ip_protocols: dict[int, str] = field(init=False, repr=False, compare=False)
    fast_udp_ports: dict[int, str] = field(init=False, repr=False, compare=False)
    fast_gpe_next_protocols: dict[int, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("ethertypes", "ip_protocols", "udp_ports", "gpe_next_protocols"):
            object.__setattr__(self, "fast_" + name, dict(getattr(self, name)))

    def with_vxlan_ports(self, ports: list[int] | tuple[int, ...],
                         gpe_ports: tuple[int, ...] = (4790,)) -> DecodeOptions:
        """The same options, with VXLAN recognised on exactly ``ports`` (and GPE on
        ``gpe_ports``); other UDP ports in the table are kept."""
        table = {p: n for p, n in self.udp_ports.items() if n not in ("vxlan", "vxlan-gpe")}
        table.update({p: "vxlan" for p in ports})
        table.update({p: "vxlan-gpe" for p in gpe_ports})
        return replace(self, udp_ports=MappingProxyType(table))


DEFAULT_OPTIONS = DecodeOptions()
