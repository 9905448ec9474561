"""Fields that cannot be written raise ``EncodeError`` (never ``struct.error``, ``KeyError``,
``ValueError`` ...), and nothing is written silently wrong: a value too big for its bit field
must not spill into its neighbour."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import copy_layers, frames
from vxlankit import EncodeError, build, decode, encode
from vxlankit.packet import Layer


def vxlan_frame() -> list[Layer]:
    return [
        build.eth(dst="02:00:00:00:00:02", src="02:00:00:00:00:01"),
        build.vlan(id=5),
        build.ipv4(src="10.0.0.1", dst="10.0.0.2"),
        build.udp(1234, 4789),
        build.vxlan(vni=100),
        build.eth(dst="02:00:00:00:01:02", src="02:00:00:00:01:01"),
        build.ipv4(src="192.168.0.1", dst="192.168.0.2"),
        build.icmp_echo(ident=1, seq=1),
        build.payload(b"ping"),
    ]


def layer_frames() -> dict[str, list[Layer]]:
    """A valid frame holding each layer kind, and the index of that layer in it."""
    arp_frame = [build.eth(), build.arp(sender_mac="02:00:00:00:00:01", sender_ip="10.0.0.1",
                                        target_ip="10.0.0.2")]
    gpe = [build.eth(), build.ipv4(), build.udp(1, 4790), build.vxlan_gpe(vni=1), build.ipv4(),
           build.icmp(3, 1), build.payload(b"x")]
    sll = [Layer("sll", {"sll.pkttype": 0, "sll.hatype": 1, "sll.halen": 6,
                         "sll.src.eth": "02:00:00:00:00:01", "sll.unused": b"\0\0",
                         "sll.etype": 0x0800}), build.ipv4(), build.icmp_echo()]
    sll2 = [Layer("sll", {"sll.reserved": 0, "sll.ifindex": 3, "sll.hatype": 1,
                          "sll.pkttype": 0, "sll.halen": 6, "sll.src.eth": "02:00:00:00:00:01",
                          "sll.unused": b"\0\0", "sll.etype": 0x0800}),
            build.ipv4(), build.icmp_echo()]
    null = [Layer("null", {"null.family": 2, "null.byte_order": "little"}), build.ipv4(),
            build.icmp_echo()]
    qinq = [build.eth(), build.vlan(id=10, service=True), build.vlan(id=20), build.ipv4(),
            build.icmp_echo()]
    return {"vxlan": vxlan_frame(), "arp": arp_frame, "gpe": gpe, "sll": sll, "sll2": sll2,
            "null": null, "qinq": qinq}


# Fields an encoder cannot do without (views and fields with a default are not listed).
REQUIRED = {
    "eth": ["eth.dst", "eth.src"],
    "vlan": ["vlan.priority", "vlan.dei", "vlan.id"],
    "ieee8021ad": ["ieee8021ad.priority", "ieee8021ad.dei", "ieee8021ad.id"],
    "arp": ["arp.hw.type", "arp.proto.type", "arp.opcode", "arp.src.hw_mac",
            "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4"],
    "ip": ["ip.src", "ip.dst"],
    "icmp": ["icmp.type", "icmp.code"],
    "udp": ["udp.srcport", "udp.dstport"],
    "vxlan": ["vxlan.flags", "vxlan.vni"],
    "sll": ["sll.pkttype", "sll.hatype", "sll.halen"],
    "null": ["null.family"],
}


def _all_fields() -> list[tuple[str, int, str]]:
    out = []
    for name, layers in layer_frames().items():
        for i, layer in enumerate(layers):
            for field in layer.fields:
                out.append((name, i, field))
    return out


@pytest.mark.parametrize(("frame", "index", "field"), _all_fields())
def test_any_field_missing(frame: str, index: int, field: str) -> None:
    """Each field removed in turn: the frame encodes (the field was a view or has a
    default) or encode raises EncodeError naming the layer; nothing else escapes."""
    layers = copy_layers(layer_frames()[frame])
    del layers[index].fields[field]
    for fix in (True, False):
        try:
            encode(copy_layers(layers), fix_lengths=fix, compute_checksums=fix)
        except EncodeError as exc:
            assert f"layer {index}" in str(exc)
        else:
            assert field not in REQUIRED.get(layers[index].proto, ()), field


@pytest.mark.parametrize(("proto", "field"), [
    (proto, field) for proto, fields in REQUIRED.items() for field in fields])
def test_required_field_missing(proto: str, field: str) -> None:
    for layers in layer_frames().values():
        for i, layer in enumerate(layers):
            if layer.proto == proto and field in layer.fields:
                broken = copy_layers(layers)
                del broken[i].fields[field]
                with pytest.raises(EncodeError):
                    encode(broken)
                return
    pytest.fail(f"no frame has {proto} with {field}")


def _set(frame: str, proto: str, field: str, value: Any, occurrence: int = 1) -> list[Layer]:
    layers = copy_layers(layer_frames()[frame])
    found = [lay for lay in layers if lay.proto == proto]
    found[occurrence - 1].fields[field] = value
    return layers


OUT_OF_RANGE: list[tuple[str, str, str, Any]] = [
    ("vxlan", "eth", "eth.type", 0x10000),
    ("vxlan", "eth", "eth.type", -1),
    ("vxlan", "vlan", "vlan.id", 0x1000),
    ("vxlan", "vlan", "vlan.id", -1),
    ("vxlan", "vlan", "vlan.priority", 8),
    ("vxlan", "vlan", "vlan.dei", 2),
    ("vxlan", "vlan", "vlan.etype", 0x10000),
    ("qinq", "ieee8021ad", "ieee8021ad.id", 0x1000),
    ("qinq", "ieee8021ad", "ieee8021ad.dei", 2),
    ("vxlan", "ip", "ip.version", 16),
    ("vxlan", "ip", "ip.dsfield", 256),
    ("vxlan", "ip", "ip.id", 0x10000),
    ("vxlan", "ip", "ip.flags", 8),
    ("vxlan", "ip", "ip.frag_offset", 0x2000),
    ("vxlan", "ip", "ip.frag_offset", -1),
    ("vxlan", "ip", "ip.ttl", 256),
    ("vxlan", "ip", "ip.proto", 256),
    ("vxlan", "ip", "ip.options", b"\x01" * 44),  # IHL would be 16 words
    ("vxlan", "ip", "ip.options", b"\x01" * 3),  # not whole words
    ("vxlan", "udp", "udp.srcport", 0x10000),
    ("vxlan", "udp", "udp.dstport", -1),
    ("vxlan", "vxlan", "vxlan.vni", 1 << 24),
    ("vxlan", "vxlan", "vxlan.vni", -1),
    ("vxlan", "vxlan", "vxlan.flags", 0x10000),
    ("vxlan", "vxlan", "vxlan.gbp", 0x10000),
    ("vxlan", "vxlan", "vxlan.reserved8", 256),
    ("gpe", "vxlan", "vxlan.flags", 256),
    ("gpe", "vxlan", "vxlan.reserved_16", 0x10000),
    ("gpe", "vxlan", "vxlan.next_proto", 256),
    ("gpe", "vxlan", "vxlan.reserved8", 256),
    ("gpe", "vxlan", "vxlan.vni", 1 << 24),
    ("vxlan", "icmp", "icmp.type", 256),
    ("vxlan", "icmp", "icmp.code", -1),
    ("vxlan", "icmp", "icmp.ident", 0x10000),
    ("gpe", "icmp", "icmp.unused", b"\0\0\0"),
    ("arp", "arp", "arp.opcode", 0x10000),
    ("arp", "arp", "arp.hw.type", -1),
    ("sll", "sll", "sll.halen", 0x10000),
    ("sll", "sll", "sll.etype", 0x10000),
    ("sll2", "sll", "sll.halen", 256),
    ("sll2", "sll", "sll.pkttype", 256),
    ("sll2", "sll", "sll.ifindex", 1 << 32),
    ("null", "null", "null.family", 1 << 32),
    ("null", "null", "null.byte_order", "middle"),
]


def _id(text: str) -> str:
    """A test id without backslashes: pytest escapes them again each time it collects in the
    same process, so an id like ``b'\\x00'`` is "not found" by a second run (mutmut's)."""
    return text.replace("\\", "/")


@pytest.mark.parametrize(("frame", "proto", "field", "value"), OUT_OF_RANGE,
                         ids=[_id(f"{f}={v!r}")[:40] for _, _, f, v in OUT_OF_RANGE])
def test_out_of_range(frame: str, proto: str, field: str, value: Any) -> None:
    with pytest.raises(EncodeError):
        encode(_set(frame, proto, field, value))
    with pytest.raises(EncodeError):
        encode(_set(frame, proto, field, value), fix_lengths=False, compute_checksums=False)


@pytest.mark.parametrize(("proto", "field", "value"), [
    ("ip", "ip.len", 0x10000), ("ip", "ip.len", -1), ("ip", "ip.hdr_len", 64),
    ("ip", "ip.hdr_len", 22), ("ip", "ip.hdr_len", -4), ("ip", "ip.checksum", 0x10000),
    ("udp", "udp.length", 0x10000), ("udp", "udp.checksum", -1),
    ("icmp", "icmp.checksum", 0x10000),
])
def test_out_of_range_written_as_given(proto: str, field: str, value: Any) -> None:
    """Lengths and checksums are only written as given with the fix-ups off."""
    with pytest.raises(EncodeError):
        encode(_set("vxlan", proto, field, value), fix_lengths=False, compute_checksums=False)


def test_payload_too_long_for_ip_len() -> None:
    layers = [build.eth(), build.ipv4(), build.udp(1, 2), build.payload(bytes(65536 - 28))]
    with pytest.raises(EncodeError):
        encode(layers)
    # One byte less fits exactly.
    layers[-1] = build.payload(bytes(65535 - 28))
    assert decode(encode(layers)).layer("ip")["ip.len"] == 65535  # type: ignore[index]


BAD_MACS = ["zz:zz:zz:zz:zz:zz", "00:11:22:33:44", "00:11:22:33:44:55:66", "", "00:11:22:33:44:5",
            "0:11:22:33:44:555", "00:1122:33:44:55", "001122:334455", "00:11:22:33:44:55:",
            "g0:11:22:33:44:55", None, 5, 1.5, b"\x00" * 5, ["00"] * 6]
BAD_IPS = ["1.2.3", "1.2.3.256", "256.1.1.1", "1.2.3.4.5", "", "1.2.3.4 junk", " 1.2.3.4",
           "1.2.3.0x10", "1.2.3.010", "1.2.3.-1", "a.b.c.d", "1..2.3", "::1", None, 5, 1.5,
           b"\x00" * 5]


@pytest.mark.parametrize("mac", BAD_MACS, ids=lambda v: _id(repr(v)))
@pytest.mark.parametrize("where", ["eth.dst", "eth.src", "arp.src.hw_mac", "sll.src.eth"])
def test_bad_mac(mac: Any, where: str) -> None:
    proto = where.split(".")[0]
    frame = {"eth": "vxlan", "arp": "arp", "sll": "sll"}[proto]
    with pytest.raises(EncodeError):
        encode(_set(frame, proto, where, mac))


@pytest.mark.parametrize("ip", BAD_IPS, ids=lambda v: _id(repr(v)))
@pytest.mark.parametrize("where", ["ip.src", "ip.dst", "arp.src.proto_ipv4",
                                   "arp.dst.proto_ipv4"])
def test_bad_ip(ip: Any, where: str) -> None:
    proto = where.split(".")[0]
    frame = {"ip": "vxlan", "arp": "arp"}[proto]
    with pytest.raises(EncodeError):
        encode(_set(frame, proto, where, ip))


@pytest.mark.parametrize("mac", ["00:16:3E:08:71:CF", "00-16-3e-08-71-cf", "0016.3e08.71cf",
                                 "00163e0871cf", b"\x00\x16\x3e\x08\x71\xcf"])
def test_good_mac_spellings(mac: Any) -> None:
    wire = encode(_set("vxlan", "eth", "eth.dst", mac))
    assert decode(wire)["eth.dst"] == "00:16:3e:08:71:cf"


def test_wrong_argument_types() -> None:
    with pytest.raises(EncodeError):
        encode(["not a layer"])  # type: ignore[list-item]
    with pytest.raises(EncodeError):
        encode([Layer("no-such-protocol", {})])
    with pytest.raises(EncodeError):  # a UDP checksum needs the IPv4 pseudo-header
        encode([build.udp(1, 2), build.payload(b"x")])
    with pytest.raises(EncodeError):  # eth.type cannot be inferred from a payload
        encode([build.eth(), build.payload(b"x")])
    with pytest.raises(EncodeError):
        encode([build.eth(), build.ipv4(), build.payload(b"x")])


JUNK = st.one_of(
    st.none(), st.integers(-(1 << 70), 1 << 70), st.text(max_size=20), st.binary(max_size=20),
    st.floats(allow_nan=True), st.booleans(), st.lists(st.integers(0, 255), max_size=6),
)


@given(data=st.data())
def test_junk_values_raise_only_encode_error(data: st.DataObject) -> None:
    """Any field of any generated frame set to any junk: EncodeError or bytes, nothing else."""
    frame = data.draw(frames(), label="frame")
    layers = copy_layers(frame.layers)
    for _ in range(data.draw(st.integers(1, 3), label="how many")):
        layer = data.draw(st.sampled_from(layers), label="layer")
        if not layer.fields:
            continue
        field = data.draw(st.sampled_from(sorted(layer.fields)), label="field")
        layer.fields[field] = data.draw(JUNK, label="value")
    fix = data.draw(st.booleans(), label="fix-ups")
    try:
        wire = encode(layers, fix_lengths=fix, compute_checksums=fix)
    except EncodeError:
        return
    assert isinstance(wire, bytes)


BYTES_FIELDS = [
    ("vxlan", "data", "data.data"),
    ("vxlan", "ip", "ip.options"),
    ("gpe", "icmp", "icmp.unused"),
    ("sll", "sll", "sll.unused"),
]


@pytest.mark.parametrize(("frame", "proto", "field"), BYTES_FIELDS)
@pytest.mark.parametrize("value", [4, 1 << 62, "text", 1.5])
def test_bytes_field_of_another_type(frame: str, proto: str, field: str, value: Any) -> None:
    """``bytes(4)`` is four zero bytes (and ``bytes(1 << 62)`` a memory bomb): a bytes field
    given an int, str or float is an error, not a zero-filled buffer."""
    with pytest.raises(EncodeError):
        encode(_set(frame, proto, field, value), fix_lengths=False, compute_checksums=False)


@pytest.mark.parametrize("field", ["eth.padding", "eth.trailer"])
def test_trailer_of_another_type(field: str) -> None:
    layers = [build.eth(), build.arp(), Layer("trailer", {field: 18})]
    with pytest.raises(EncodeError):
        encode(layers)


def test_arp_address_bytes_of_another_type() -> None:
    fields = {"arp.hw.type": 32, "arp.proto.type": 0x86DD, "arp.hw.size": 2,
              "arp.proto.size": 2, "arp.opcode": 1, "arp.src.hw": 2, "arp.src.proto": b"ab",
              "arp.dst.hw": b"ab", "arp.dst.proto": b"ab"}
    with pytest.raises(EncodeError):
        encode([build.eth(), Layer("arp", fields)], fix_lengths=False)


def test_fcs_of_another_type() -> None:
    layers = [build.eth(), build.arp(), Layer("fcs", {"eth.trailer": 4})]
    with pytest.raises(EncodeError):
        encode(layers)


@pytest.mark.parametrize(("flags", "offset"), [(8, 0), (0, 0x2000), (-1, 0)])
def test_ip_flags_and_offset_out_of_range_are_named(flags: int, offset: int) -> None:
    """The range check names the fields (and not a struct error from packing 17 bits)."""
    ip = build.ipv4(src="192.0.2.1", dst="192.0.2.2", proto=253)
    ip.fields["ip.flags"], ip.fields["ip.frag_offset"] = flags, offset
    with pytest.raises(EncodeError, match=rf"ip.flags {flags} / ip.frag_offset {offset} do not"):
        encode([ip], fix_lengths=False, compute_checksums=False)
