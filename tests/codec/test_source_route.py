"""UDP over a source-routed IPv4 datagram: the pseudo-header names the route's final
destination (RFC 1122 4.1.3.3), in encode and decode alike."""

from __future__ import annotations

from vxlankit import build, decode, encode
from vxlankit.checksum import internet_checksum, pseudo_header_sum
from vxlankit.layers.ipv4 import final_destination

LSRR = b"\x83\x07\x04\xc0\x00\x02\x63\x00"  # loose source route via 192.0.2.99, then EOL


def test_final_destination_reads_the_last_route_address() -> None:
    assert final_destination(LSRR, bytes([192, 0, 2, 2])) == bytes([192, 0, 2, 99])
    assert final_destination(b"\x01\x01\x01\x00", b"\x0a\x00\x00\x01") == b"\x0a\x00\x00\x01"
    assert final_destination(b"\x89\x03", b"\x0a\x00\x00\x01") == b"\x0a\x00\x00\x01"  # too short
    assert final_destination(b"\x07\x00\x00\x00", b"\x0a\x00\x00\x01") == b"\x0a\x00\x00\x01"


def test_udp_checksum_uses_the_final_destination() -> None:
    frame = encode([build.eth(), build.ipv4("192.0.2.1", "192.0.2.2", options=LSRR),
                    build.udp(49152, 5000), build.payload(b"payload")])
    packet = decode(frame)
    udp = packet.layer("udp")
    assert udp is not None and udp["udp.checksum.status"] == 1
    start = udp.offset
    segment = bytearray(frame[start:])
    segment[6:8] = b"\0\0"
    expected = internet_checksum(segment, pseudo_header_sum(bytes([192, 0, 2, 1]),
                                                            bytes([192, 0, 2, 99]), 17,
                                                            len(segment)))
    assert udp["udp.checksum"] == expected


def test_final_destination_reads_past_no_operation_options() -> None:
    assert final_destination(b"\x01" + LSRR[:-1], bytes([192, 0, 2, 2])) == bytes(
        [192, 0, 2, 99])
    assert final_destination(b"\x01\x01\x01" + LSRR[:-1] + b"\x00\x00\x00",
                             bytes([192, 0, 2, 2])) == bytes([192, 0, 2, 99])
