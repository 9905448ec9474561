"""The struct fast paths are the Construct schemas, only faster: hypothesis over random header
bytes (decode == schema parse) and random field values (encode == schema build), and every
header of every real capture."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest
from construct import Bytes, Construct, Int8ub, Struct
from hypothesis import given
from hypothesis import strategies as st

import tests.strategies as S
from tests.codec.realcaptures import iter_real_frames, require_real_dir
from tests.layers.codecs import CODECS, MAX_HEADER
from vxlankit import decode
from vxlankit.layers import (
    arp,
    dns,
    ethernet,
    geneve,
    gre,
    icmp,
    icmpv6,
    ipv4,
    ipv6,
    ipv6ext,
    null,
    sll,
    udp,
    vlan,
    vxlan,
)
from vxlankit.packet import MALFORMED, Layer

FIELD_STRATEGIES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "eth": S.eth_fields(),
    "vlan": S.vlan_fields("vlan"),
    "ieee8021ad": S.vlan_fields("ieee8021ad"),
    "arp": S.arp_fields(),
    "ip": S.ipv4_fields(),
    "icmp": S.icmp_fields(),
    "icmpv6": S.icmpv6_fields(),
    "udp": S.udp_fields,
    "vxlan": S.vxlan_fields(),
    "vxlan-gpe": S.gpe_fields(),
    "sll": S.sll_fields(),
    "sll2": S.sll2_fields(),
    "null": S.null_fields(),
    "nsh": S.nsh_fields(),
    "dns": S.dns_fields(),
    "dns-tcp": S.dns_fields(tcp=True),
    "geneve": S.geneve_fields(),
    "gre": S.gre_fields(),
    "erspan": S.erspan_fields(),
    "ipv6": S.ipv6_fields(),
    "ipv6.hopopts": S.ipv6_options_fields("ipv6.hopopts"),
    "ipv6.routing": S.ipv6_routing_fields(),
    "ipv6.fraghdr": S.ipv6_fraghdr_fields(),
    "ipv6.dstopts": S.ipv6_options_fields("ipv6.dstopts"),
    "ah": S.ah_fields(),
    "esp": S.esp_fields,
}


@st.composite
def header_bytes(draw: st.DrawFn, name: str) -> bytes:
    """Random bytes, as many as the header needs (ARP: as its size fields say), plus extra."""
    if name == "arp":
        fixed = draw(st.binary(min_size=8, max_size=8))
        need = arp.length(fixed, 0) - 8
        body = draw(st.binary(min_size=need, max_size=need))
        return fixed + body + draw(st.binary(max_size=4))
    if name == "gre":
        # The optional words the flags ask for, then (R set) a whole routing field.
        head = draw(st.binary(min_size=4, max_size=4))
        size = gre.header_length(head + bytes(20), 0)
        if head[0] & 0x40:
            size -= 4  # header_length counted the NULL SRE of the zero bytes
            body = draw(st.binary(min_size=size - 4, max_size=size - 4)) + draw(S.SRE_LISTS)
        else:
            body = draw(st.binary(min_size=size - 4, max_size=size - 4))
        return head + body + draw(st.binary(max_size=4))
    if name == "nsh":  # the length field says how much header follows (2-63 words)
        fixed = bytearray(draw(st.binary(min_size=8, max_size=8)))
        fixed[1] = (fixed[1] & 0xC0) | draw(st.integers(2, 0x3F))
        need = ((fixed[1] & 0x3F) << 2) - 8
        body = draw(st.binary(min_size=need, max_size=need))
        if fixed[2] == 2 or draw(st.booleans()):  # MD type 2: TLVs that may fit
            fixed[2] = 2
        return bytes(fixed) + body
    if name == "dns-tcp":  # the length covers the header and whatever follows it
        body = draw(st.binary(min_size=12, max_size=40))
        return len(body).to_bytes(2, "big") + body
    return draw(st.binary(min_size=MAX_HEADER[name], max_size=MAX_HEADER[name] + 4))


@pytest.mark.parametrize("name", sorted(CODECS))
@given(data=st.data())
def test_random_bytes_decode_like_schema(name: str, data: st.DataObject) -> None:
    buf = data.draw(header_bytes(name), label="bytes")
    codec = CODECS[name]
    assert codec.decode(buf, 0) == codec.parse(buf)


@pytest.mark.parametrize("name", sorted(CODECS))
@given(data=st.data())
def test_random_fields_encode_like_schema(name: str, data: st.DataObject) -> None:
    fields = data.draw(FIELD_STRATEGIES[name], label="fields")
    codec = CODECS[name]
    raw = codec.encode(dict(fields))
    assert raw == codec.build(dict(fields))
    # ... and the bytes read back as the same fields, through either implementation.
    assert codec.decode(raw, 0) == fields
    assert codec.parse(raw) == fields


def test_strategies_cover_every_layer() -> None:
    assert set(FIELD_STRATEGIES) == set(CODECS)


# ------------------------------------------------------------------ every header of every capture

_ADDED = re.compile(r"(\.status|_calculated)$")  # what the codec adds to a layer's own fields


def _codec_name(layer: Layer) -> str | None:
    if layer.proto == "erspan" and not layer.fields:
        return None  # type I: no header
    if layer.proto == "vxlan":
        return "vxlan-gpe" if "vxlan.next_proto" in layer.fields else "vxlan"
    if layer.proto == "sll":
        return "sll2" if "sll.ifindex" in layer.fields else "sll"
    if layer.proto in ("dns", "mdns"):
        return "dns-tcp" if "dns.length" in layer.fields else "dns"
    return layer.proto if layer.proto in CODECS else None


def test_real_capture_headers_parse_like_schema() -> None:
    require_real_dir()
    checked = 0
    for name, number, linktype, frame in iter_real_frames():
        packet = decode(frame, linktype)
        for layer in packet.layers:
            codec = _codec_name(layer)
            if codec is None or layer.raw is not None or layer.status == MALFORMED:
                continue
            # DNS: the schema reads the header and keeps the sections as bytes; the sections'
            # views are compared with tshark (tests/layers/test_dns.py, the crosscheck).
            own = {k: v for k, v in layer.fields.items() if not _ADDED.search(k)
                   and k not in dns.SECTION_VIEWS}
            header = frame[layer.offset:layer.offset + layer.length]
            assert CODECS[codec].parse(header) == own, (name, number, layer)
            assert CODECS[codec].build(dict(own)) == header, (name, number, layer)
            checked += 1
    assert checked > 1000


# --------------------------------------------------------------- compiled vs interpreted schemas

SCHEMAS: dict[str, Construct] = {
    "ethernet.SCHEMA": ethernet.SCHEMA, "vlan.SCHEMA": vlan.SCHEMA, "arp.SCHEMA": arp.SCHEMA,
    "ipv4.SCHEMA": ipv4.SCHEMA, "icmp.SCHEMA": icmp.SCHEMA, "udp.SCHEMA": udp.SCHEMA,
    "icmpv6.SCHEMA": icmpv6.SCHEMA, "icmpv6.SCHEMA_MLDV1_QUERY": icmpv6.SCHEMA_MLDV1_QUERY,
    "icmpv6.SCHEMA_MLDV2_QUERY": icmpv6.SCHEMA_MLDV2_QUERY,
    "vxlan.SCHEMA": vxlan.SCHEMA, "vxlan.GPE_SCHEMA": vxlan.GPE_SCHEMA, "sll.SCHEMA": sll.SCHEMA,
    "sll.SCHEMA_V2": sll.SCHEMA_V2, "null.SCHEMA_LE": null.SCHEMA_LE,
    "null.SCHEMA_BE": null.SCHEMA_BE, "geneve.SCHEMA": geneve.SCHEMA,
    "ipv6.SCHEMA": ipv6.SCHEMA,
    "ipv6ext.SCHEMA_HOPOPTS": ipv6ext.SCHEMA_HOPOPTS,
    "ipv6ext.SCHEMA_ROUTING": ipv6ext.SCHEMA_ROUTING,
    "ipv6ext.SCHEMA_FRAGHDR": ipv6ext.SCHEMA_FRAGHDR,
    "ipv6ext.SCHEMA_DSTOPTS": ipv6ext.SCHEMA_DSTOPTS, "ipv6ext.SCHEMA_AH": ipv6ext.SCHEMA_AH,
    "ipv6ext.SCHEMA_ESP": ipv6ext.SCHEMA_ESP,
}
SCHEMA_CODEC = {
    "ethernet.SCHEMA": "eth", "vlan.SCHEMA": "vlan", "arp.SCHEMA": "arp", "ipv4.SCHEMA": "ip",
    "icmp.SCHEMA": "icmp", "udp.SCHEMA": "udp", "icmpv6.SCHEMA": "icmpv6",
    "icmpv6.SCHEMA_MLDV1_QUERY": "icmpv6", "icmpv6.SCHEMA_MLDV2_QUERY": "icmpv6",
    "vxlan.SCHEMA": "vxlan",
    "vxlan.GPE_SCHEMA": "vxlan-gpe", "sll.SCHEMA": "sll", "sll.SCHEMA_V2": "sll2",
    "null.SCHEMA_LE": "null", "null.SCHEMA_BE": "null", "geneve.SCHEMA": "geneve",
    "ipv6.SCHEMA": "ipv6",
    "ipv6ext.SCHEMA_HOPOPTS": "ipv6.hopopts", "ipv6ext.SCHEMA_ROUTING": "ipv6.routing",
    "ipv6ext.SCHEMA_FRAGHDR": "ipv6.fraghdr", "ipv6ext.SCHEMA_DSTOPTS": "ipv6.dstopts",
    "ipv6ext.SCHEMA_AH": "ah", "ipv6ext.SCHEMA_ESP": "esp",
}
PACKAGE = Path(__file__).resolve().parents[2] / "vxlankit"


def test_compile_usage_is_covered() -> None:
    """Construct's ``compile()`` silently changes behaviour for some constructs; wherever the
    package uses it, the compiled schema must be one that the test below compares."""
    users = sorted(
        str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
        if re.search(r"\.compile\(\s*\)", path.read_text(encoding="utf-8"))
    )
    layer_users = [u for u in users if u.startswith("layers")]
    assert set(layer_users) <= {"layers/" + k.split(".")[0] + ".py" for k in SCHEMAS}, users


@functools.cache
def compiled(name: str) -> Construct:
    """The schema compiled; a schema that does not compile fails the tests that need it (it is
    never skipped: a schema with a Python callable instead of a ``this`` expression does not
    compile, and would then only ever be checked interpreted)."""
    return SCHEMAS[name].compile()


def _drop_io(container: Any) -> dict[str, Any]:
    return {k: v for k, v in container.items() if k != "_io"}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_compiles(name: str) -> None:
    assert compiled(name).parse  # raises (a failure) if the schema does not compile


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@given(data=st.data())
def test_compiled_schema_equals_interpreted(name: str, data: st.DataObject) -> None:
    buf = data.draw(header_bytes(SCHEMA_CODEC[name]), label="bytes")
    assert _drop_io(compiled(name).parse(buf)) == _drop_io(SCHEMAS[name].parse(buf))


def test_an_uncompilable_schema_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deliberate break, kept: ipv4.SCHEMA as it was, its options length a lambda, fails
    the compile test (it was once a permanent skip "does not compile (lambdas)")."""
    with_lambda = Struct(
        "_vihl" / Int8ub,
        "ip.options" / Bytes(lambda c: max(0, ((c._vihl & 0x0F) << 2) - 20)),
    )
    monkeypatch.setitem(SCHEMAS, "ipv4.SCHEMA", with_lambda)
    compiled.cache_clear()
    try:
        with pytest.raises(SyntaxError):
            test_schema_compiles("ipv4.SCHEMA")
    finally:
        compiled.cache_clear()
