"""Impossible values, cut data, odd corners: each is reported (layer status, ``Packet.errors``
or a layer note), decoding goes on where it safely can, and the bytes still round-trip."""

from __future__ import annotations

import zlib

import pytest

from vxlankit import DecodeOptions, build, decode, encode
from vxlankit.packet import (
    CHECKSUM_BAD,
    CHECKSUM_GOOD,
    CHECKSUM_UNVERIFIED,
    MALFORMED,
    OK,
    TRUNCATED,
    Layer,
    Packet,
)

MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"


def inner_ping(data: bytes = b"0123456789abcdef") -> list[Layer]:
    return [build.eth(dst=MAC_B, src=MAC_A), build.ipv4(src="10.0.0.1", dst="10.0.0.2"),
            build.icmp_echo(ident=7, seq=1), build.payload(data)]


def vxlan_ping(vni: int = 42, flags: int = 0x0800, **vx: int) -> list[Layer]:
    return [build.eth(dst=MAC_B, src=MAC_A),
            build.ipv4(src="192.0.2.1", dst="192.0.2.2", df=True),
            build.udp(40000, 4789),
            build.vxlan(vni=vni, flags=flags, **vx),
            *inner_ping()]


def roundtrip(wire: bytes, linktype: int = 1,
              options: DecodeOptions | None = None) -> Packet:
    packet = decode(wire, linktype, options or DecodeOptions())
    assert encode(packet, fix_lengths=False, compute_checksums=False) == wire
    return packet


def patched(layers: list[Layer], proto: str, occurrence: int = 1, **fields: object) -> bytes:
    """Encode with fix-ups, decode, overwrite some fields, and write exactly that."""
    packet = decode(encode(layers))
    layer = packet.layer(proto, occurrence)
    assert layer is not None
    layer.fields.update({k.replace("__", "."): v for k, v in fields.items()})
    return encode(packet, fix_lengths=False, compute_checksums=False)


# --------------------------------------------------------------------------------------- IPv4


@pytest.mark.parametrize("hdr_len", [0, 4, 16])
def test_ihl_below_five(hdr_len: int) -> None:
    wire = patched(vxlan_ping(), "ip", **{"ip__hdr_len": hdr_len})
    packet = roundtrip(wire)
    assert packet.protocols == "eth:ip:data"
    ip = packet.layers[1]
    assert ip.status == MALFORMED
    assert (ip.offset, ip.length) == (14, 20)
    assert ip["ip.hdr_len"] == hdr_len
    assert ip["ip.checksum.status"] == CHECKSUM_UNVERIFIED
    assert packet.layers[2].offset == 34
    assert any(f"header length {hdr_len}" in e for e in packet.errors), packet.errors


def test_not_version_four() -> None:
    wire = patched(vxlan_ping(), "ip", **{"ip__version": 6})
    packet = roundtrip(wire)
    assert packet.layers[1].status == MALFORMED
    assert packet.protocols == "eth:ip:data"
    assert any("version 6" in e for e in packet.errors)


@pytest.mark.parametrize("total", [0, 19])
def test_total_length_below_header(total: int) -> None:
    wire = patched(vxlan_ping(), "ip", **{"ip__len": total})
    packet = roundtrip(wire)
    assert packet.protocols == "eth:ip:data"
    assert packet.layers[1].status == MALFORMED
    assert any(f"total length {total} < header length 20" in e for e in packet.errors)


def test_options_cut_short() -> None:
    layers = [build.eth(), build.ipv4(options=b"\x01" * 40), build.icmp_echo()]
    wire = encode(layers)[:14 + 30]
    packet = roundtrip(wire)
    ip = packet.layers[1]
    assert ip.status == TRUNCATED
    assert ip.raw == wire[14:]
    assert ip["ip.checksum.status"] == CHECKSUM_UNVERIFIED
    assert any("truncated options" in e for e in packet.errors)


def test_header_cut_short() -> None:
    wire = encode(vxlan_ping())[:14 + 11]
    packet = roundtrip(wire)
    assert packet.protocols == "eth:ip"
    assert packet.layers[1].status == TRUNCATED
    assert packet.layers[1].raw == wire[14:]
    assert packet.layers[1].fields == {}
    assert any("ip: truncated header at offset 14: 11 of 20 bytes" in e for e in packet.errors)


def test_bytes_past_ip_len_are_kept() -> None:
    """A short frame: padding up to 60 bytes, then anything else is a trailer."""
    core = encode([build.eth(), build.ipv4(), build.icmp_echo()])  # 42 bytes
    wire = core + bytes(18) + b"\xde\xad\xbe\xef"
    packet = roundtrip(wire)
    assert packet.protocols == "eth:ip:icmp:trailer"
    trailer = packet.layers[-1]
    assert (trailer.offset, trailer.length) == (42, 22)
    assert trailer.fields == {"eth.padding": bytes(18), "eth.trailer": b"\xde\xad\xbe\xef"}
    assert packet.ok  # padding is normal
    assert packet.layer("icmp")["icmp.checksum.status"] == CHECKSUM_GOOD  # type: ignore[index]


def test_bytes_past_ip_len_of_a_long_frame() -> None:
    core = encode(vxlan_ping())
    packet = roundtrip(core + b"TRAILER!")
    assert packet.layers[-1].fields == {"eth.trailer": b"TRAILER!"}
    assert packet.layers[-1].offset == len(core)


def test_inner_and_outer_padding() -> None:
    inner = [build.eth(dst=MAC_B, src=MAC_A), build.arp(), build.padding(bytes(18))]
    layers = [*vxlan_ping()[:4], *inner, Layer("trailer", {"eth.trailer": b"\x01\x02"})]
    packet = roundtrip(encode(layers))
    assert packet.protocols == "eth:ip:udp:vxlan:eth:arp:trailer:trailer"
    assert packet.layers[-2].fields == {"eth.padding": bytes(18)}
    assert packet.layers[-1].fields == {"eth.trailer": b"\x01\x02"}
    assert packet.ok


# ------------------------------------------------------------------------------------ fragments


def test_non_first_fragment_is_not_dissected() -> None:
    layers = [build.eth(), build.ipv4(src="10.0.0.1", dst="10.0.0.2", frag_offset=185, proto=17),
              build.payload(encode(vxlan_ping())[34:80])]
    packet = roundtrip(encode(layers))
    assert packet.protocols == "eth:ip:data"
    assert packet.layers[1]["ip.frag_offset"] == 185
    assert packet.ok


def test_first_fragment_payload_checksums_unverified() -> None:
    layers = vxlan_ping()
    layers[1] = build.ipv4(src="192.0.2.1", dst="192.0.2.2", mf=True)
    layers[2] = build.udp(40000, 4789)  # with a checksum, over a datagram not all here
    packet = roundtrip(encode(layers))
    assert packet.protocols == "eth:ip:udp:vxlan:eth:ip:icmp:data"
    assert packet.layers[1]["ip.flags.mf"] == 1
    assert packet.layers[1]["ip.checksum.status"] == CHECKSUM_GOOD
    assert packet.layers[2]["udp.checksum.status"] == CHECKSUM_UNVERIFIED
    # The inner packet is whole, so its own checksums are verified.
    assert packet.layer("icmp")["icmp.checksum.status"] == CHECKSUM_GOOD  # type: ignore[index]


def test_first_fragment_icmp_unverified() -> None:
    layers = [build.eth(), build.ipv4(mf=True), build.icmp_echo(), build.payload(bytes(32))]
    packet = roundtrip(encode(layers))
    assert packet.layer("icmp")["icmp.checksum.status"] == CHECKSUM_UNVERIFIED  # type: ignore


# ----------------------------------------------------------------------------------------- UDP


@pytest.mark.parametrize("length", [0, 7])
def test_udp_length_below_eight(length: int) -> None:
    wire = patched(vxlan_ping(), "udp", **{"udp__length": length})
    packet = roundtrip(wire)
    assert packet.protocols == "eth:ip:udp:data"
    udp = packet.layers[2]
    assert udp.status == MALFORMED
    assert udp["udp.checksum.status"] == CHECKSUM_UNVERIFIED
    assert any(f"udp: length {length} < 8" in e for e in packet.errors)


def test_udp_length_past_ip_payload() -> None:
    wire = patched(vxlan_ping(), "udp", **{"udp__length": 500})
    packet = roundtrip(wire)
    udp = packet.layers[2]
    assert udp.status == MALFORMED
    assert udp["udp.checksum.status"] == CHECKSUM_UNVERIFIED
    assert any("runs past the IP payload" in e for e in packet.errors)
    # What follows is still dissected.
    assert packet.protocols == "eth:ip:udp:vxlan:eth:ip:icmp:data"


def test_udp_length_past_a_cut_capture_is_truncation() -> None:
    wire = encode(vxlan_ping())
    packet = roundtrip(wire[:60])
    assert packet.layers[1].status == TRUNCATED
    assert packet.layers[2].status == TRUNCATED
    assert packet.layers[2]["udp.checksum.status"] == CHECKSUM_UNVERIFIED


def test_bytes_past_udp_length() -> None:
    """ip.len covers 3 bytes more than udp.length: they are kept as a trailer."""
    layers = [build.eth(), build.ipv4(length=20 + 8 + 4 + 3), build.udp(1000, 2000, length=12),
              build.payload(b"abcd"), Layer("trailer", {"eth.trailer": b"xyz"})]
    wire = encode(layers, fix_lengths=False)
    packet = roundtrip(wire)
    assert packet.protocols == "eth:ip:udp:data:trailer"
    assert packet.layers[1]["ip.len"] == 35
    assert packet.layers[2]["udp.length"] == 12
    assert packet.layers[2]["udp.checksum.status"] == CHECKSUM_GOOD  # over udp.length only
    assert packet.layers[3].fields == {"data.data": b"abcd", "data.len": 4}
    trailer = packet.layers[-1]
    assert (trailer.offset, trailer.length) == (14 + 20 + 12, 3)
    # Inside the 60-byte minimum frame: Wireshark calls it padding.
    assert trailer.fields == {"eth.padding": b"xyz"}


# --------------------------------------------------------------------------------------- VXLAN


def test_i_flag_clear_is_noted_not_fatal() -> None:
    packet = roundtrip(encode(vxlan_ping(flags=0)))
    vx = packet.layer("vxlan")
    assert vx is not None
    assert any("I flag" in note for note in vx.notes)
    assert vx.status == OK
    assert packet.protocols == "eth:ip:udp:vxlan:eth:ip:icmp:data"
    assert packet.errors == []


@pytest.mark.parametrize(("flags", "extra"), [
    (0xFF01, {}),  # suricata-verify's flags
    (0x0801, {}),
    (0x0800, {"reserved8": 1}),
    (0x0800, {"gbp": 0x1234}),  # group policy bits without G
])
def test_reserved_bits_are_noted(flags: int, extra: dict[str, int]) -> None:
    packet = roundtrip(encode(vxlan_ping(flags=flags, **extra)))
    vx = packet.layer("vxlan")
    assert vx is not None
    assert "reserved bits set" in vx.notes
    assert vx["vxlan.flags"] == flags
    assert packet.protocols.endswith("eth:ip:icmp:data")


def test_gbp_is_not_reserved() -> None:
    layers = vxlan_ping()
    layers[3] = build.vxlan_gbp(vni=42, group=0x1234, dont_learn=True, policy_applied=True)
    vx = roundtrip(encode(layers)).layer("vxlan")
    assert vx is not None
    assert vx.notes == ()
    assert (vx["vxlan.flag_g"], vx["vxlan.flag_d"], vx["vxlan.flag_a"]) == (1, 1, 1)
    assert vx["vxlan.gbp"] == 0x1234


@pytest.mark.parametrize(("field", "value"), [("flags", 0x0C | 0x40), ("reserved16", 1),
                                              ("reserved8", 9)])
def test_gpe_reserved_bits_are_noted(field: str, value: int) -> None:
    layers = vxlan_ping()
    layers[2] = build.udp(40000, 4790)
    layers[3] = build.vxlan_gpe(vni=42, **{field: value})  # type: ignore[arg-type]
    packet = roundtrip(encode(layers))
    vx = packet.layer("vxlan")
    assert vx is not None and "reserved bits set" in vx.notes
    assert vx["vxlan.next_proto"] == 3
    assert packet.protocols == "eth:ip:udp:vxlan:eth:ip:icmp:data"


def test_gpe_without_i_flag_and_unknown_next_protocol() -> None:
    layers = [*vxlan_ping()[:2], build.udp(40000, 4790),
              build.vxlan_gpe(vni=42, next_proto=0x7F, flags=0x04), build.payload(b"what?")]
    packet = roundtrip(encode(layers))
    assert packet.protocols == "eth:ip:udp:vxlan:data"
    assert any("I flag" in note for note in packet.layers[3].notes)


def nested(levels: int) -> list[Layer]:
    layers: list[Layer] = []
    for level in range(levels):
        layers += [build.eth(dst=MAC_B, src=MAC_A),
                   build.ipv4(src=f"10.{level}.0.1", dst=f"10.{level}.0.2"),
                   build.udp(50000 + level, 4789, checksum=0), build.vxlan(vni=level)]
    return layers + inner_ping()


def test_tunnel_depth_limit() -> None:
    wire = encode(nested(10))
    packet = roundtrip(wire)
    vxlans = [lay for lay in packet.layers if lay.proto == "vxlan"]
    assert [v["vxlan.vni"] for v in vxlans] == list(range(8))
    # The ninth VXLAN header and everything after it: one data layer.
    ninth = packet.layers[-1]
    assert ninth.proto == "data"
    assert ninth.offset == vxlans[-1].offset + 8 + 14 + 20 + 8
    assert ninth.length == len(wire) - ninth.offset
    assert any("tunnel depth limit 8" in e for e in packet.errors)
    assert all(lay.status == OK for lay in packet.layers)


def test_tunnel_depth_limit_is_an_option() -> None:
    packet = roundtrip(encode(nested(3)), options=DecodeOptions(max_depth=2))
    assert sum(lay.proto == "vxlan" for lay in packet.layers) == 2
    packet = roundtrip(encode(nested(8)))
    assert sum(lay.proto == "vxlan" for lay in packet.layers) == 8
    assert packet.errors == []


def test_vxlan_on_the_linux_port_and_configured_ports() -> None:
    layers = vxlan_ping()
    layers[2] = build.udp(40000, 8472)
    assert roundtrip(encode(layers)).protocols == "eth:ip:udp:vxlan:eth:ip:icmp:data"
    options = DecodeOptions().with_vxlan_ports([4789])
    assert roundtrip(encode(layers), options=options).protocols == "eth:ip:udp:data"


# ----------------------------------------------------------------------------------- link layer


def test_fcs_good_and_bad() -> None:
    frame = encode(vxlan_ping())
    crc = zlib.crc32(frame).to_bytes(4, "little")  # the FCS as it is sent
    options = DecodeOptions(fcs_len=4)
    packet = roundtrip(frame + crc, options=options)
    fcs = packet.layers[-1]
    assert fcs.proto == "fcs"
    assert (fcs.offset, fcs.length) == (len(frame), 4)
    # Wireshark shows eth.fcs as the four bytes read in network order.
    assert fcs.fields == {"eth.fcs": int.from_bytes(crc, "big"), "eth.fcs.status": CHECKSUM_GOOD}
    assert packet.errors == []
    assert packet.protocols == "eth:ip:udp:vxlan:eth:ip:icmp:data:fcs"

    packet = roundtrip(frame + b"\x01\x02\x03\x04", options=options)
    fcs = packet.layers[-1]
    assert fcs["eth.fcs"] == 0x01020304
    assert fcs["eth.fcs.status"] == CHECKSUM_BAD
    assert fcs["eth.fcs_calculated"] == int.from_bytes(crc, "big")
    assert any("bad FCS" in e for e in packet.errors)


def test_fcs_after_padding() -> None:
    frame = encode([build.eth(), build.arp(), build.padding(bytes(18))])
    wire = frame + zlib.crc32(frame).to_bytes(4, "little")
    packet = roundtrip(wire, options=DecodeOptions(fcs_len=4))
    assert packet.protocols == "eth:arp:trailer:fcs"
    assert packet.layers[2].fields == {"eth.padding": bytes(18)}
    assert packet.layers[3]["eth.fcs.status"] == CHECKSUM_GOOD


def test_fcs_longer_than_frame() -> None:
    packet = roundtrip(b"\x00\x01\x02", options=DecodeOptions(fcs_len=4))
    assert packet.layers[0].status == TRUNCATED


def test_fcs_of_another_length_kept() -> None:
    frame = encode(vxlan_ping())
    packet = roundtrip(frame + b"\xaa\xbb", options=DecodeOptions(fcs_len=2))
    assert packet.layers[-1].proto == "fcs"
    assert packet.layers[-1].fields == {"eth.trailer": b"\xaa\xbb"}


def test_802_3_length_frame() -> None:
    wire = bytes.fromhex("0180c2000000" "001122334455" "0026") + bytes(range(38)) + bytes(8)
    packet = roundtrip(wire)
    assert packet.protocols == "eth:data"
    assert packet.layers[0]["eth.len"] == 38
    assert "eth.type" not in packet.layers[0]


def test_unknown_ethertype_and_unknown_linktype() -> None:
    wire = encode([build.eth(type=0x88CC), build.payload(b"lldp")])
    assert roundtrip(wire).protocols == "eth:data"
    packet = roundtrip(wire, linktype=147)
    assert packet.protocols == "data"
    assert any("link type 147 is not supported" in e for e in packet.errors)


def test_raw_ip_link_type_carrying_ipv6() -> None:
    v6 = bytes.fromhex("6000000000083a40") + bytes(32) + b"\x80\x00\x00\x00\x00\x01\x00\x01"
    # ICMPv6 (58) is not decoded here (yet): its payload stays data.
    assert roundtrip(v6, linktype=101).protocols.startswith("ipv6:")
    # LINKTYPE_IPV4 says it is IPv4, so version 6 is malformed there.
    packet = roundtrip(v6, linktype=228)
    assert packet.layers[0].status == MALFORMED


@pytest.mark.parametrize(("proto", "cut"), [
    ("eth", 13), ("vlan", 21), ("ieee8021ad", 15), ("arp", 14 + 8 + 4 + 2 + 4),
    ("icmp", 14 + 20 + 7)])
def test_cut_headers(proto: str, cut: int) -> None:
    if proto == "arp":
        layers = [build.eth(), build.arp()]
    elif proto == "icmp":
        layers = [build.eth(), build.ipv4(), build.icmp_echo()]
    else:
        layers = [build.eth(), build.vlan(id=1, service=True), build.vlan(id=2), build.ipv4(),
                  build.icmp_echo()]
    packet = roundtrip(encode(layers)[:cut])
    last = packet.layers[-1]
    assert (last.proto, last.status) == (proto, TRUNCATED)
    assert last.raw is not None
    assert any(f"{proto}: truncated header" in e for e in packet.errors)


def test_arp_sizes_past_the_data() -> None:
    wire = encode([build.eth(), build.arp()])
    wire = wire[:18] + b"\xff\xff" + wire[20:]  # hw size 255, proto size 255
    packet = roundtrip(wire)
    assert packet.layers[1].status == TRUNCATED
    assert any("arp: truncated header at offset 14: 28 of 1028 bytes" in e
               for e in packet.errors), packet.errors


def test_null_link_inet6_family() -> None:
    wire = bytes.fromhex("1e000000") + bytes.fromhex("600000000000" "3b40") + bytes(32)
    packet = roundtrip(wire, linktype=0)
    assert packet.protocols == "null:ipv6"  # next header 59: none
    assert packet.layers[0].fields == {"null.family": 30, "null.byte_order": "little"}


def test_null_link_non_inet_family() -> None:
    wire = bytes.fromhex("07000000") + b"\x60" + bytes(39)
    packet = roundtrip(wire, linktype=0)
    assert packet.protocols == "null:data"
    assert packet.layers[0].fields == {"null.family": 7, "null.byte_order": "little"}


def test_sll_non_ethertype_protocol() -> None:
    wire = bytes.fromhex("0004 0304 0000 0000000000000000 0004".replace(" ", "")) + b"llc"
    packet = roundtrip(wire, linktype=113)
    assert packet.protocols == "sll:data"
    assert packet.layers[0]["sll.ltype"] == 4


def test_empty_frame() -> None:
    for linktype in (0, 1, 101, 113, 228, 276):
        packet = roundtrip(b"", linktype)
        assert not packet.ok
    assert roundtrip(b"", 147).layers == []


# ------------------------------------------------ edges found by mutation testing (docs/testing.md)


def test_ip_header_without_payload_is_ok() -> None:
    """Total length equal to the header length: an empty datagram, not a malformed one."""
    packet = decode(encode([build.ipv4(src="10.0.0.1", dst="10.0.0.2", proto=253)]), 228)
    assert packet.ok and packet.protocols == "ip", packet.errors
    assert packet["ip.len"] == packet["ip.hdr_len"] == 20


def test_clear_i_flag_note_wording() -> None:
    frame = encode([build.eth(), build.ipv4(src="10.0.0.1", dst="10.0.0.2"),
                    build.udp(1, 4789, checksum=0), build.vxlan(vni=5, flags=0),
                    build.eth(type=0x88B5), build.payload(b"x")])
    vxlan = decode(frame).layer("vxlan")
    assert vxlan is not None and vxlan.notes == ("I flag not set (RFC 7348 requires it)",)


def test_bad_icmp_checksum_names_its_offset() -> None:
    frame = bytearray(encode([build.eth(), build.ipv4(src="10.0.0.1", dst="10.0.0.2"),
                              build.icmp_echo(ident=1, seq=1)]))
    frame[36] ^= 0xFF  # the ICMP checksum: 14 + 20 + 2
    assert [e.split(":")[0] + ":" + e.split(":")[1] for e in decode(bytes(frame)).errors] == [
        "icmp: bad checksum at offset 36"]


def test_null_header_alone_is_complete() -> None:
    """Four bytes are a whole NULL header; what it announces (IPv4) is what is cut."""
    null, ip = decode(b"\x02\x00\x00\x00", 0).layers
    assert (null.proto, null.status, null.length, null["null.family"]) == ("null", OK, 4, 2)
    assert (ip.proto, ip.status, ip.offset, ip.length) == ("ip", TRUNCATED, 4, 0)
