"""The layers vxlankit knows, in one explicit, ordered list, and everything derived from it.

Like hyperframe's ``_FRAME_CLASSES`` -> ``FRAMES``: a protocol is known because it is listed
here, never because its module was imported.  Adding a protocol is its module (schema, fast
paths, ``SPEC``), its tests and one line in ``LAYERS``; the dispatch tables, their encode
inverses, the ``-V`` tree, the filter's protocol and field names, the cross-check's compared
protocols and the field table in ``docs/fields.md`` all come from this list.

Order matters where two layers claim the same selector (the first one listed is the encode
inverse) and for the order of ``docs/fields.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType

from vxlankit.layers import (
    arp,
    dns,
    erspan,
    ethernet,
    geneve,
    gre,
    icmp,
    icmpv6,
    ipv4,
    ipv6,
    ipv6ext,
    nsh,
    null,
    sll,
    tcp,
    udp,
    vlan,
    vxlan,
)
from vxlankit.layers.spec import BYTES, CONTROL, UINT, Field, LayerSpec, Walk, dissect_data
from vxlankit.packet import Layer, Packet

LAYERS: tuple[LayerSpec, ...] = (
    ethernet.SPEC,
    sll.SPEC,
    sll.SPEC_V2,
    null.SPEC,
    vlan.SPEC,
    vlan.SPEC_SERVICE,
    arp.SPEC,
    ipv4.SPEC,
    ipv6.SPEC,
    *ipv6ext.SPECS,
    icmp.SPEC,
    icmpv6.SPEC,
    udp.SPEC,
    tcp.SPEC,
    vxlan.SPEC,
    vxlan.SPEC_GPE,
    geneve.SPEC,
    gre.SPEC,
    erspan.SPEC,
    nsh.SPEC,
    dns.SPEC,
    dns.SPEC_TCP,
    dns.SPEC_MDNS,
)

# Layers the decoder makes that are not protocol headers: what no layer claimed, bytes past a
# length field, and the Ethernet FCS.
PSEUDO_LAYERS: Mapping[str, str] = MappingProxyType({
    "data": "Data",
    "trailer": "Ethernet padding/trailer",
    "fcs": "Ethernet frame check sequence",
})
PSEUDO_FIELDS: tuple[Field, ...] = (
    Field("data.data", BYTES),
    Field("data.len", UINT),
    Field("eth.padding", BYTES),
    Field("eth.trailer", BYTES),
    Field("eth.fcs", UINT, hex=8),
    Field("eth.fcs.status", UINT),
    Field("eth.fcs_calculated", UINT, hex=8,
          doc="vxlankit's own: the right FCS, when eth.fcs is bad"),
)

def _by_proto() -> dict[str, tuple[LayerSpec, ...]]:
    found: dict[str, list[LayerSpec]] = {}
    for spec in LAYERS:
        found.setdefault(spec.proto, []).append(spec)
    # The specs that claim a field first: the one without a claim is the fallback.
    return {proto: tuple(sorted(specs, key=lambda s: s.claims is None))
            for proto, specs in found.items()}


BY_PROTO: Mapping[str, tuple[LayerSpec, ...]] = MappingProxyType(_by_proto())
# The layers by their step's name ("vxlan-gpe", "sll2"): one each.
BY_NAME: Mapping[str, LayerSpec] = MappingProxyType({spec.name: spec for spec in LAYERS})


def spec_for(layer: Layer) -> LayerSpec | None:
    """The spec that made ``layer`` (None for data, trailer and FCS layers)."""
    specs = BY_PROTO.get(layer.proto)
    if specs is None:
        return None
    for spec in specs:
        if spec.claims is None or spec.claims in layer.fields:
            return spec
    return specs[-1]


def _tables() -> dict[str, dict[int, str]]:
    # Every table a layer looks its payload up in exists, empty if no layer is listed in it yet
    # (a user's decode-as may fill it).
    tables: dict[str, dict[int, str]] = {
        spec.next_table: {} for spec in LAYERS if spec.next_table is not None}
    for spec in LAYERS:
        for table, value in spec.selectors:
            tables.setdefault(table, {}).setdefault(value, spec.name)
    # Raw-IP link types carry IPv4 or IPv6: the version nibble picks.
    tables["linktype"][101] = "raw"
    return tables


# Dispatch tables, named after Wireshark's dissector tables ("ethertype", "ip.proto",
# "udp.port", "tcp.port", "vxlan.next_proto") and two of vxlankit's ("linktype": where
# decoding starts, "ip.version": what a raw-IP link type holds, "null.family").
TABLES: Mapping[str, Mapping[int, str]] = MappingProxyType(
    {name: MappingProxyType(table) for name, table in _tables().items()})

# The encode inverses: a layer's name -> the value that selects it, per table (the first
# selector listed wins, e.g. 0x88a8 for an 802.1ad tag rather than the old 0x9100).
INVERSES: Mapping[str, Mapping[str, int]] = MappingProxyType({
    table: MappingProxyType({name: value for value, name in reversed(list(entries.items()))})
    for table, entries in TABLES.items()
})


def _raw(walk: Walk, off: int) -> tuple[str | None, int]:
    if walk.end - off < 1:
        return "ip", off  # nothing there: IPv4's step reports the missing header
    return walk.tables["ip.version"].get(walk.buf[off] >> 4, "data"), off


# The decoder's steps: each layer's dissect, plus the pure dispatch steps.
STEPS: Mapping[str, Callable[[Walk, int], tuple[str | None, int]]] = MappingProxyType({
    **{spec.name: spec.dissect for spec in LAYERS},
    "raw": _raw,
    "data": dissect_data,
})

# Layers above UDP that end the frame with a message of their own (DNS, mDNS): the fast
# paths read them by their own step after a UDP header they read by hand.
UDP_MESSAGES: frozenset[str] = frozenset(
    spec.name for spec in LAYERS
    if spec.role == CONTROL and any(table == "udp.port" for table, _ in spec.selectors))

PROTOCOLS: frozenset[str] = frozenset({spec.proto for spec in LAYERS} | set(PSEUDO_LAYERS))

TITLES: Mapping[str, str] = MappingProxyType({
    **{spec.proto: spec.title for spec in LAYERS}, **PSEUDO_LAYERS})


def _fields() -> dict[str, Field]:
    found: dict[str, Field] = {}
    for spec in LAYERS:
        for f in spec.fields:
            found.setdefault(f.name, f)
    for f in PSEUDO_FIELDS:
        found.setdefault(f.name, f)
    return found


# Every field name the decoder can produce, with its type and how it is shown.
FIELDS: Mapping[str, Field] = MappingProxyType(_fields())


# Every declaration of each field name, in registry order (VXLAN's vxlan.flags is two bytes,
# VXLAN-GPE's one): what a width or a type over all the layers that have a field reads.
DECLARATIONS: Mapping[str, tuple[Field, ...]] = MappingProxyType({
    name: tuple(f for spec in LAYERS for f in spec.fields if f.name == name)
    for name in {f.name for spec in LAYERS for f in spec.fields}})


def split_occurrence(name: str) -> tuple[str, int]:
    """``"ip.src#2"`` -> ``("ip.src", 2)``, ``"ip.src"`` -> ``("ip.src", 1)``: Wireshark's
    occurrence suffix.  ValueError for anything but ``#`` and a number from 1."""
    base, sep, number = name.partition("#")
    if not sep:
        return base, 1
    if not (number.isascii() and number.isdigit()) or int(number) < 1:
        raise ValueError(f"{name}: an occurrence is #1, #2, ... (as ip.src#2)")
    return base, int(number)


_SPEC_FIELDS: dict[str, dict[str, Field]] = {
    spec.name: {f.name: f for f in spec.fields} for spec in LAYERS}


def field_of(spec: LayerSpec, name: str) -> Field | None:
    """Field ``name`` as ``spec`` declares it."""
    return _SPEC_FIELDS[spec.name].get(name)


def placed_field(spec: LayerSpec, name: str) -> Field | None:
    """Field ``name`` as ``spec`` declares it, with its place in the fast paths' shape
    (``LayerSpec.places``) where the sizes in the header place it."""
    found = _SPEC_FIELDS[spec.name].get(name)
    if found is not None and found.span is None and spec.places is not None \
            and name in spec.places:
        return replace(found, span=spec.places[name])
    return found


def field_for(fields: Mapping[str, object], name: str) -> Field | None:
    """Field ``name`` as declared by the layer whose ``fields`` hold it (VXLAN-GPE's
    ``vxlan.flags`` is one byte, VXLAN's two), or as first declared."""
    specs = BY_PROTO.get(name.partition(".")[0])
    if specs is not None and len(specs) > 1:
        for spec in specs:
            if spec.claims is None or spec.claims in fields:
                found = _SPEC_FIELDS[spec.name].get(name)
                if found is not None:
                    return found
    return FIELDS.get(name)


# Layers after which tshark lists its "ethertype" pseudo-protocol, by the field that must be
# there for it (``LayerSpec.ethertype_field``).
ETHERTYPE_FIELDS: Mapping[str, str] = MappingProxyType(
    {spec.proto: spec.ethertype_field for spec in LAYERS if spec.ethertype_field})
# What the decoder makes that tshark keeps inside another protocol: not in frame.protocols.
UNLISTED_LAYERS = frozenset({"trailer", "fcs"})


def frame_protocols(packet: Packet) -> str:
    """The stack in tshark's ``frame.protocols`` spelling: ``ethertype`` after a layer that
    handed its payload on by EtherType, trailers and FCS left out (tshark keeps them inside
    ``eth``).  ``decode --json``, ``-V``, ``-T fields``, filters and the bulk column use it."""
    names: list[str] = []
    typed = ETHERTYPE_FIELDS
    for layer in packet.layers:
        proto = layer.proto
        if proto in UNLISTED_LAYERS:
            continue
        names.append(proto)
        field = typed.get(proto)
        if field is not None and field in layer.fields:
            names.append("ethertype")
    return ":".join(names)


# Names that stand for any of several fields (Wireshark's tcp.port, ip.addr, eth.addr...).
ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {alias: names for spec in LAYERS for alias, names in spec.aliases})
