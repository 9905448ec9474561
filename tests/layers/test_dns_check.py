"""``dns.check_sections`` (the bulk path's question) gives ``parse_sections``' verdict, word
for word, on any bytes, on well-formed messages with their bytes damaged, and on every DNS
message of every capture."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import dns_message
from tests.support import real_capture, real_capture_names, require_real_dir
from vxlankit import encode
from vxlankit.capture.reader import open_capture
from vxlankit.codec import decode
from vxlankit.layers import dns

_COUNTS = st.tuples(*[st.integers(0, 6)] * 4)


def _same(msg: bytes, counts: tuple[int, int, int, int]) -> None:
    assert dns.check_sections(msg, counts) == dns.parse_sections(msg, counts)[2]


@given(st.binary(max_size=300), _COUNTS)
def test_any_bytes(body: bytes, counts: tuple[int, int, int, int]) -> None:
    _same(b"\0" * dns.HEADER_LEN + body, counts)


@given(dns_message(), st.integers(0, 400), st.integers(0, 255), st.booleans())
def test_damaged_messages(layer: object, at: int, value: int, cut: bool) -> None:
    msg = bytearray(encode([layer]))  # type: ignore[list-item]
    counts = struct.unpack_from("!4H", msg, 4)
    if cut:
        del msg[at % (len(msg) + 1):]
    elif msg:
        msg[at % len(msg)] = value
    _same(bytes(msg), counts)


def test_every_message_of_every_capture() -> None:
    require_real_dir()
    checked = 0
    for name in real_capture_names():
        with open_capture(real_capture(name)) as reader:
            for record in reader:
                packet = decode(record.data, record.interface.linktype)
                for layer in packet.layers:
                    if layer.proto in ("dns", "mdns") and layer.raw is None:
                        msg = bytes(record.data[layer.offset:])
                        if len(msg) >= dns.HEADER_LEN:
                            _same(msg, struct.unpack_from("!4H", msg, 4))
                            checked += 1
    assert checked >= 20
