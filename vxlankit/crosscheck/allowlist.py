"""The one list of known, deliberate differences between vxlankit and tshark 4.0.

Each entry says why the difference exists.  A difference an entry covers is still reported (as
"allowed", with its count), never dropped; anything no entry covers is a disagreement.  Keep the
list short: an entry is a claim that the difference is understood and intended, so add one only
with a reason that names the behaviour on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

VXLANKIT_ONLY_FIELD = "vxlankit-only field"
TRAILER_NAMING = "trailer naming"
ICMP_UNUSED_SPLIT = "icmp.unused split"
WIRESHARK_ONLY_LAYER = "wireshark-only layer"
QINQ_9100 = "0x9100 tag"
CUT_HEADER = "cut header"
SOURCE_ROUTE = "source-routed ip.dst"


@dataclass(frozen=True)
class Rule:
    """One allow-list entry: what it covers (``subject``) and why it is not a bug."""

    key: str
    subject: str
    reason: str


def _own(name: str, reason: str) -> Rule:
    return Rule(VXLANKIT_ONLY_FIELD, name, reason)


# Fields vxlankit decodes under a name tshark 4.0 does not have (absent from `tshark -G fields`).
# Each exists so that decode -> encode gives the same bytes back; docs/architecture.md lists them.
# A vxlankit field missing from both Wireshark's vocabulary and this table is a disagreement, so a
# new private name cannot slip in unnoticed.
VXLANKIT_ONLY_FIELDS: Mapping[str, Rule] = MappingProxyType({rule.subject: rule for rule in (
    _own("ip.options", "Wireshark dissects each IPv4 option (ip.opt.*) and has no field for "
         "the option bytes as a whole; vxlankit keeps them raw so the header re-encodes"),
    _own("icmp.rest", "the 4 rest-of-header bytes of an ICMP type vxlankit does not dissect; "
         "Wireshark shows them per type (icmp.redir_gw, icmp.pointer, ...) or not at all"),
    _own("ieee8021ad.etype", "tshark 4.0's 802.1ad dissector shows no EtherType field for an "
         "S-tag (it is in the tree only as the next protocol)"),
    _own("sll.reserved", "SLL2's reserved word; Wireshark skips it without a field"),
    _own("null.byte_order", "Wireshark infers the byte order of a NULL header as vxlankit does, "
         "but shows no field for it"),
    _own("icmp.checksum_calculated", "tshark 4.0 gives the expected ICMP checksum only in the "
         "expert-info text, not as a field"),
    _own("icmpv6.checksum_calculated", "tshark 4.0 gives the expected ICMPv6 checksum only in "
         "the expert-info text, not as a field"),
    _own("icmpv6.options", "Wireshark dissects each ND option (icmpv6.opt.*) and has no field "
         "for the option bytes as a whole; vxlankit keeps them raw so the message re-encodes"),
    _own("icmpv6.mld.data", "Wireshark dissects an MLDv2 query's sources and report's records "
         "(icmpv6.mld.source_address, icmpv6.mldr.mar.*) and has no field for them whole; "
         "vxlankit keeps them raw so the message re-encodes"),
    _own("eth.fcs_calculated", "tshark 4.0 gives the expected FCS only in the expert-info text, "
         "not as a field"),
    _own("nsh.metadata_pad", "an NSH MD type 2 TLV's padding to 4 bytes when some of it is not "
         "zero; Wireshark skips it without a field"),
    _own("dns.sections", "a DNS message's bytes after its header, as sent (compression "
         "pointers included), so that it re-encodes byte for byte; Wireshark shows only the "
         "decoded questions and records, which vxlankit shows too, as views of it"),
    _own("nsh.rest", "NSH header bytes (within nsh.length) no dissected field covers; Wireshark "
         "shows them as nothing or as misread TLVs"),
    _own("gre.checksum_calculated", "tshark 4.0 gives the expected GRE checksum only in the "
         "expert-info text, not as a field"),
    _own("gre.sre_list", "the RFC 1701 routing SREs as raw bytes; Wireshark shows each SRE's "
         "fields (gre.routing.*), which vxlankit does not split out"),
    _own("erspan.pid.rsvd_upper", "bits 26-57 of an ERSPAN III platform sub-header with no "
         "known layout: tshark 4.0's erspan.pid.rsvd is masked to the low 26 bits and no field "
         "shows these"),
    _own("ipv6.hopopts.options", "Wireshark dissects each hop-by-hop option (ipv6.opt.*) and "
         "has no field for the option bytes as a whole; vxlankit keeps them raw to re-encode"),
    _own("ipv6.dstopts.options", "Wireshark dissects each destination option (ipv6.opt.*) and "
         "has no field for the option bytes as a whole; vxlankit keeps them raw to re-encode"),
    _own("ipv6.routing.data", "Wireshark dissects a routing header's data per type "
         "(ipv6.routing.src.addr, ipv6.routing.srh.*, ...); vxlankit keeps it raw to re-encode"),
)})

RULES: Mapping[str, Rule] = MappingProxyType({rule.key: rule for rule in (
    # vxlankit splits the bytes after a length-delimited payload positionally: eth.padding up to
    # the 60-byte minimum counted from the start of the Ethernet frame they pad, eth.trailer after.
    # Wireshark (packet-eth.c add_ethernet_trailer) counts the minimum against the whole captured
    # frame (pinfo->fd->pkt_len), so an encapsulated frame's padding is never padding there; calls
    # it padding only when all zero; and names the trailer after the dissector that found it
    # (vlan.trailer after a C-tag, ieee8021ah.trailer after an S-tag, sll.trailer on a cooked
    # link).  The bytes are compared and must agree; only the split into names may differ.
    Rule(TRAILER_NAMING, "eth.padding/eth.trailer",
         "same bytes, named differently: Wireshark counts the 60-byte minimum against the whole "
         "frame, wants padding all zero and names a trailer after the header before it "
         "(vlan.trailer, ieee8021ah.trailer, sll.trailer); vxlankit pads from the start of the "
         "Ethernet frame the bytes belong to"),
    # ICMP destination unreachable / time exceeded keep 4 "unused" bytes, which vxlankit names
    # icmp.unused whole.  tshark 4.0 cuts pieces out of them: the RFC 4884 length byte
    # (icmp.length, when not zero) and, for "fragmentation needed" (type 3 code 4), the RFC 1191
    # next-hop MTU (icmp.mtu), leaving icmp.unused for the rest.  Allowed only when tshark's
    # pieces rebuild vxlankit's four bytes exactly.
    Rule(ICMP_UNUSED_SPLIT, "icmp.unused",
         "tshark shows parts of the 4 unused bytes as icmp.length (RFC 4884) or icmp.mtu "
         "(RFC 1191, fragmentation needed); vxlankit keeps them whole, and the bytes agree"),
    # With a loose/strict source route option, tshark 4.0 shows the header's destination field
    # as ip.cur_rt ("current route") and gives ip.dst the route's final hop, from inside the
    # option.  vxlankit's ip.dst is the header field (what is on the wire, and what re-encodes).
    # Allowed only when tshark's ip.cur_rt, at the destination field's offset, equals it.
    Rule(SOURCE_ROUTE, "ip.dst",
         "with a source route option tshark names the destination field ip.cur_rt and gives "
         "ip.dst the final hop; vxlankit's ip.dst is the destination field, equal to ip.cur_rt"),
    # vlan.py decodes the pre-standard QinQ TPID 0x9100 as an 802.1ad S-tag; tshark 4.0 hands
    # it to its 802.1Q dissector (preference vlan.qinq_ethertype).  The tag's fields are compared
    # under vxlankit's names (ieee8021ad.priority <-> vlan.priority, ...).
    Rule(QINQ_9100, "ieee8021ad",
         "a tag with TPID 0x9100 is an 802.1ad S-tag to vxlankit and an 802.1Q tag (vlan) to "
         "tshark; its fields are compared under vxlankit's names"),
    # A header the capture ends inside (snaplen): vxlankit keeps it as a layer with status
    # "truncated", its bytes raw and no fields; tshark adds no layer for it, only [Malformed
    # Packet] or a short-frame note.  Nothing is there to compare.  Allowed only for such
    # field-less truncated layers.
    Rule(CUT_HEADER, "(layer)",
         "the capture ends inside this header: vxlankit keeps a truncated layer with the raw "
         "bytes and no fields, tshark shows no layer"),
    # A protocol layer tshark dissects from bytes that vxlankit keeps as a data layer: Geneve or
    # NSH payloads, IPv6, the datagram an ICMP error quotes.  Allowed only when the layer starts
    # inside one of vxlankit's data layers; a Wireshark-only layer anywhere else is a disagreement.
    Rule(WIRESHARK_ONLY_LAYER, "(layer)",
         "Wireshark dissects bytes that vxlankit keeps as data (a protocol vxlankit does not "
         "decode carries them)"),
)})


def all_rules() -> tuple[Rule, ...]:
    """Every allow-list entry, for documentation and ``--explain`` style output."""
    return (*VXLANKIT_ONLY_FIELDS.values(), *RULES.values())
