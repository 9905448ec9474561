"""The JSON writers compiled from the specs (``jsonl._header_writer``) write what the generic
encoder writes of the decoder's layer, up to the fields the decoder computes, for any bytes of
the header's shape: steady fields cached by their bytes, varying ones formatted each time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vxlankit.codec import decode
from vxlankit.present import jsonl

ETH = bytes.fromhex("020000000001020000000002") + b"\x08\x00"


def _prefix_of(frame: bytes, index: int, text: str) -> None:
    want = jsonl._layer_json(decode(frame).layers[index])
    assert want.startswith(text) and want[len(text)] in ",}", (text, want)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=20, max_size=20), st.binary(min_size=8, max_size=8))
def test_ipv4_and_udp_headers(ip: bytes, udp: bytes) -> None:
    write_ip, write_udp, _ = jsonl._writers()
    # IPv4, IHL 5, not a fragment, carrying UDP: the shape the fast path writes
    header = bytes([0x45]) + ip[1:6] + bytes([ip[6] & 0xC0, 0, ip[8], 17]) + ip[10:]
    frame = ETH + header + udp
    layers = decode(frame).layers
    if layers[1].proto == "ip" and layers[1].status == "ok":
        _prefix_of(frame, 1, write_ip(frame, 14)[0])
    if len(layers) > 2 and layers[2].proto == "udp" and layers[2].status == "ok" \
            and not layers[2].notes:
        _prefix_of(frame, 2, write_udp(frame, 34)[0])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([0, 8]), st.binary(min_size=7, max_size=7))
def test_icmp_echo_headers(kind: int, rest: bytes) -> None:
    _, _, write_echo = jsonl._writers()
    icmp = bytes([kind]) + rest
    header = bytes.fromhex("4500001c00004000400100000a0000010a000002")
    frame = ETH + header + icmp
    layer = decode(frame).layers[2]
    assert layer.proto == "icmp"
    _prefix_of(frame, 2, write_echo(frame, 34)[0])


def test_the_same_bytes_twice_use_the_cache_and_agree() -> None:
    write_ip, _, _ = jsonl._writers()
    frame = ETH + bytes.fromhex("4500001c00004000400100000a0000010a000002") + bytes(8)
    first = write_ip(frame, 14)
    assert write_ip(frame, 14) == first
    other = frame[:14 + 2] + b"\x00\x30" + frame[14 + 4:]  # another length: formatted anew
    text, version, ihl, length, *_ = write_ip(other, 14)
    assert '"ip.len":48' in text and (version, ihl, length) == (4, 20, 48)
