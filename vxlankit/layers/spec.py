"""What the house knows of one protocol: the ``LayerSpec`` each layer module ends with.

A layer module holds its Construct ``SCHEMA`` (the reference for the bytes), its RFC diagram,
its ``struct`` fast paths, and one ``SPEC`` that tells every consumer what it needs: the
fields (Wireshark names, types, where they sit, how they are shown), what selects the layer
(an EtherType, an IP protocol, a UDP or TCP port, a link type...), what its payload is looked
up in, its length and checksum rules, its role, its one-line text and its decode step.
``vxlankit.layers.registry`` lists the specs in order; dispatch tables, encode inverses, the
``-V`` tree, filters, cross-check and columns are derived from that list, never from a
registration made as a side effect of importing a module.

``Walk`` is the state of one decode: a layer's ``dissect`` step reads its header at ``off``,
appends its ``Layer``, and returns the name of the next step (or ``None`` to stop) with the
offset after its header.  Steps never raise on short or odd data: they record statuses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from vxlankit.errors import EncodeError
from vxlankit.packet import CHECKSUM_BAD, TRUNCATED, Layer, Packet

# Roles: where a layer sits in a frame.
LINK = "link"  # starts a frame: Ethernet, Linux cooked, BSD loopback
SHIM = "shim"  # a tag inside a link header that passes on to another EtherType (802.1Q)
NETWORK = "network"  # IPv4, IPv6
EXTENSION = "extension"  # an IPv6 extension header, AH or ESP: inside its network layer's scope
TRANSPORT = "transport"  # UDP, TCP, ICMP
TUNNEL = "tunnel"  # carries a whole inner frame or packet: VXLAN, VXLAN-GPE
CONTROL = "control"  # ends the frame with a message of its own: ARP

# Field types, as Wireshark's ftypes group them for filters, JSON and columns.
UINT = "uint"
BOOL = "bool"  # a one-bit flag, 0 or 1
BYTES = "bytes"
ETHER = "ether"  # "aa:bb:cc:dd:ee:ff"
IPV4 = "ipv4"  # dotted quad
IPV6 = "ipv6"  # RFC 5952 text, as tshark prints it ("2001:db8::1")
STRING = "string"

# Checksum rules, for the encoder's fix-ups and the decoder's verification.
CHECKSUM_HEADER = "header"  # over the layer's own header (IPv4)
CHECKSUM_PSEUDO = "pseudo"  # over an IP pseudo-header and the layer to its scope's end (UDP, TCP)
CHECKSUM_PAYLOAD = "payload"  # over the layer to the end of the enclosing IP payload (ICMP)

Span = tuple[int, int, int | None]  # offset in the layer, length in bytes, bit mask


class Analyzer(Protocol):
    """A layer's per-capture analysis (``LayerSpec.analyzer`` makes one per capture)."""

    def __call__(self, packet: Packet, index: int) -> None:
        """Analyse layer ``index`` of ``packet`` (adding fields to it)."""

    def add(self, fields: dict[str, Any], src: str, dst: str) -> None:
        """The same for a layer's ``fields`` alone, sent from ``src`` to ``dst`` (the network
        addresses below it): what a fast path that builds no Packet calls."""


@dataclass(frozen=True, slots=True)
class Field:
    """One field: its Wireshark name and type, where it sits and how ``-V`` shows it."""

    name: str
    type: str = UINT
    span: Span | None = None  # None: computed place (``LayerSpec.span``) or the whole layer
    hex: int = 0  # shown as 0x with this many digits (0: decimal)
    names: Mapping[int, str] | None = None  # value -> name, shown in brackets
    doc: str = ""  # for the fields Wireshark has no name for: what vxlankit means by it
    column: str = ""  # exported as a bulk column (first occurrence) with this description
    # Occurs several times in one layer (options, TLVs, DNS records): the layer's fields hold
    # a list of its values in wire order, as Wireshark repeats the field in its tree.
    repeated: bool = False
    # Bytes of the value, Wireshark's FT_UINTn width (what a filter literal must fit, the
    # export column's width): 0 means the span's length, for a value read where it sits.
    size: int = 0
    # A byte string Wireshark shows with this between its bytes (SEP_COLON: a link-layer
    # address it does not type as one); "" is plain hex digits.
    sep: str = ""
    # False where the value is not the bits at ``span`` (``span`` then says where -V marks
    # it): a checksum's verdict or right value, a field whose place depends on the message.
    # Readers compiled from the specs (layers/shapes.py, the bulk walk) read the others
    # straight from the bytes; a test holds every such reading to the decoder's.
    at_span: bool = True
    # The value is the bits at ``span`` times this: a length counted in words (IPv4's IHL and
    # TCP's data offset count 4 bytes, and Wireshark shows bytes).
    scale: int = 1
    # Changes from packet to packet of one flow (lengths, identifications, checksums,
    # sequence numbers): a fast path that caches the text of a header's steady fields by
    # their bytes formats this one each time.  Speed only: the text is right either way.
    varies: bool = False

    @property
    def width(self) -> int:
        """Bytes of an unsigned value (0: not known, as for a field placed at run time)."""
        if self.size:
            return self.size
        return self.span[1] if self.span is not None else 0


@dataclass(frozen=True, slots=True)
class LayerSpec:
    """Everything about one protocol header that is not its bytes (those are ``schema``)."""

    name: str  # the step's name in the dispatch tables ("vxlan-gpe", "sll2")
    title: str  # as the -V tree titles it
    role: str
    header_len: int  # the fixed (minimum) header length
    fields: tuple[Field, ...]
    dissect: Callable[[Walk, int], tuple[str | None, int]]
    emit: Callable[[dict[str, Any], int | None, bool], tuple[bytes, bool]]
    schema: Any = None
    proto: str = ""  # Layer.proto it produces (default: name); "vxlan" for VXLAN-GPE too
    short: str = ""  # the protocol column of a one-line summary ("UDP")
    selectors: tuple[tuple[str, int], ...] = ()  # (table, value) that hand the payload to it
    next_table: str | None = None  # the dispatch table its payload is looked up in
    next_field: str | None = None  # the field that holds the key into ``next_table``
    # A second table for keys ``next_table`` lacks (GRE: "gre.proto", then "ethertype").
    next_fallback: str | None = None
    # A link layer or tag that hands its payload on by EtherType names the field here: tshark
    # lists its "ethertype" pseudo-protocol after it in frame.protocols when the field is there
    # (an 802.3 length or a Linux protocol number is not an EtherType).
    ethertype_field: str | None = None
    carries: str | None = None  # tunnels: "eth" or "ip" (what the inner frame starts with)
    length_at: int | None = None  # offset of a 16-bit length covering the layer to its end
    # The field that says how long the header itself is, options included (ip.hdr_len): a
    # reader compiled for a shape of fixed-size headers requires it to be ``header_len``.
    hdr_len_field: str | None = None
    length_from: int = 0  # ... counted from this offset in the layer (IPv6's plen: 40)
    checksum: str | None = None  # CHECKSUM_* rule
    checksum_at: int | None = None  # offset of its 16-bit checksum
    checksum_zero_means_none: bool = False  # UDP over IPv4: 0 is "no checksum"
    # An optional checksum: the bit of the layer's first 16 bits that says it is there (GRE's
    # C bit).  The encoder computes it only when that bit is set in the bytes written and the
    # checksum field is in the layer's fields.  0: the checksum is always there.
    checksum_flag: int = 0
    # Network layers: the source and destination an upper layer's pseudo-header names, from
    # the bytes of the header up to that upper layer and the header's own length.
    pseudo_addresses: Callable[[bytes | bytearray, int], tuple[bytes, bytes]] | None = None
    # Network layers: whether a transport's zero checksum may mean "none" over this one
    # (IPv4: yes; IPv6: no, RFC 8200 8.1, so the encoder always computes it).
    zero_checksum_ok: bool = True
    # Its payload is a quoted packet (an ICMPv6 error's invoking packet): the encoder fills the
    # quoted layers' fields left None but never recomputes their lengths or checksums.
    quotes: bool = False
    span: Callable[[Layer, str], Span | None] | None = None  # places that depend on values
    # Where those fields sit in the one shape the fast paths read (ARP: Ethernet hardware and
    # IPv4 protocol addresses); a reader that uses these checks the sizes itself.
    places: Mapping[str, Span] | None = None
    title_extra: Callable[[dict[str, Any]], str] | None = None
    info: Callable[[Layer], str] | None = None  # the one-line info column
    # ``info`` straight from the bytes for the one-line fast paths (transports, and messages
    # that end a frame), without a Layer or field dict: (buf, off, end, the IP addresses'
    # pseudo-header sum, the payload's dispatch table, verify checksums, this layer's running
    # analyzer or None, source and destination address text; a layer uses what it needs) ->
    # (info, checksum bad), or None where ``dissect`` would report more than a bad checksum or
    # hand on to another layer.  Must equal ``info`` of what ``dissect`` (and the analyzer)
    # make: the fast-path tests hold it to that.
    line: Callable[[bytes, int, int, int, Mapping[int, str], bool, Analyzer | None, str, str],
                   tuple[str, bool] | None] | None = None
    # Tunnels: what names this tunnel in a one-line hop ("vni 100", "key 7", "session 3").
    hop: Callable[[dict[str, Any]], str] | None = None
    # Per-capture state (TCP streams): a new one per capture, fed each packet in order.
    analyzer: Callable[[], Analyzer] | None = None
    claims: str | None = None  # among specs of one ``proto``: the field that marks this one
    anchor: str = ""  # a field its Wireshark dissector always shows (default: the first)
    # Filter names that stand for either of two fields, as Wireshark's "tcp.port" does.
    aliases: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # What Wireshark's tree item for the protocol covers, which is what a filter's protocol
    # bytes are (``icmp contains 00:01``, ``ipv6[40:1]``): HEADER (the layer itself), PAYLOAD
    # (on to the end of the packet's data: ICMP's message, ERSPAN's mirrored frame) or
    # EXTENSIONS (on through the extension headers after it: IPv6's).
    covers: str = "header"
    field_names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        if not self.proto:
            object.__setattr__(self, "proto", self.name)
        object.__setattr__(self, "field_names", frozenset(f.name for f in self.fields))
        if not self.anchor:
            object.__setattr__(self, "anchor", self.fields[0].name)


class Walk:
    """The state of one frame's decode, shared by the layers' ``dissect`` steps."""

    __slots__ = ("buf", "end", "layers", "errors", "trailers", "eth_start", "depth",
                 "max_depth", "verify", "tables", "ip_src", "ip_dst", "ip_pseudo",
                 "ip_complete", "ip_v6")

    def __init__(self, buf: bytes, end: int, tables: Mapping[str, Mapping[int, str]],
                 verify: bool, max_depth: int) -> None:
        self.buf = buf
        self.end = end  # where the current length-delimited payload ends
        self.layers: list[Layer] = []
        self.errors: list[str] = []
        self.trailers: list[tuple[int, int, int]] = []  # (start, end, start of Ethernet frame)
        self.eth_start = -1
        self.depth = 0  # tunnels entered
        self.max_depth = max_depth
        self.verify = verify
        self.tables = tables
        # The innermost IP header: addresses for pseudo-headers (as bytes, and as one integer
        # congruent mod 0xffff to their word sum), and whether its payload is all there (a
        # checksum over a cut payload cannot be verified).
        self.ip_src = b""
        self.ip_dst = b""
        self.ip_pseudo = 0
        self.ip_complete = True
        self.ip_v6 = False  # that header is IPv6 (a zero UDP checksum is then not "none")

    def cut(self, proto: str, off: int, need: int) -> None:
        """A header that the data ends inside: keep its bytes, say how many were missing."""
        end = self.end
        self.layers.append(Layer(proto, {}, offset=off, length=end - off, status=TRUNCATED,
                                 raw=self.buf[off:end]))
        self.errors.append(f"{proto}: truncated header at offset {off}: {end - off} of {need} "
                           "bytes")

    def data(self, off: int) -> None:
        """Whatever is left of the payload, undissected."""
        end = self.end
        if off < end:
            self.layers.append(Layer("data", {"data.data": self.buf[off:end],
                                              "data.len": end - off}, offset=off,
                                     length=end - off))

    def limit(self, stop: int) -> None:
        """The payload ends at ``stop`` (a length field said so): bytes after it are a trailer."""
        if stop < self.end:
            self.trailers.append((stop, self.end, self.eth_start))
            self.end = stop

    def bad_checksum(self, fields: dict[str, Any], proto: str, offset: int, calc: int) -> None:
        """Report a wrong checksum the way Wireshark names it: status bad, and the right value."""
        fields[f"{proto}.checksum.status"] = CHECKSUM_BAD
        fields[f"{proto}.checksum_calculated"] = calc
        self.errors.append(checksum_error(proto, offset, fields[proto + ".checksum"], calc))


def checksum_error(proto: str, offset: int, value: int, calc: int) -> str:
    """A wrong checksum's error text (the fast paths write it too, without a Walk)."""
    what = "header checksum" if proto == "ip" else "checksum"
    return f"{proto}: bad {what} at offset {offset}: 0x{value:04x}, should be 0x{calc:04x}"


def dissect_data(walk: Walk, off: int) -> tuple[str | None, int]:
    """The step for "data", and for any name a dispatch table holds that has no decoder."""
    walk.data(off)
    return None, walk.end


def need(value: int | None, name: str) -> int:
    """A next-protocol field the encoder was to infer from the next layer but could not."""
    if value is None:
        raise EncodeError(f"{name} is not set and cannot be inferred from the next layer")
    return value
