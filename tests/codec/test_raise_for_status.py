"""``Packet.raise_for_status``: decoding never raises, but a caller may ask it to."""

from __future__ import annotations

import pytest

from vxlankit import build, decode, encode
from vxlankit.errors import DecodeError, MalformedError, TruncatedError


def _ping() -> bytes:
    return encode([build.eth(), build.ipv4("10.0.0.3", "10.0.0.4"), build.icmp_echo(),
                   build.payload(b"x" * 32)])


def test_a_whole_packet_passes() -> None:
    decode(_ping()).raise_for_status()


def test_truncated() -> None:
    with pytest.raises(TruncatedError) as info:
        decode(_ping()[:20]).raise_for_status(path="f.pcap", number=7)
    assert (info.value.path, info.value.packet, info.value.offset) == ("f.pcap", 7, 14)
    assert str(info.value).startswith("f.pcap, packet 7, offset 14: ip: truncated header")


def test_malformed() -> None:
    data = bytearray(_ping())
    data[14] = 0x44  # IHL 4: fewer than 20 bytes of header
    with pytest.raises(MalformedError) as info:
        decode(bytes(data)).raise_for_status()
    assert info.value.offset == 14 and "malformed header" in info.value.message


def test_bad_checksum_is_a_decode_error() -> None:
    data = bytearray(_ping())
    data[24] ^= 0xFF  # the IPv4 header checksum
    with pytest.raises(DecodeError) as info:
        decode(bytes(data)).raise_for_status()
    assert type(info.value) is DecodeError
    assert info.value.message.startswith("ip: bad header checksum at offset 24")
