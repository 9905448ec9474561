"""``dns.check_sections`` (the bulk path's question) gives ``parse_sections``' verdict, word
for word, on any bytes, on well-formed messages with their bytes damaged, and on every DNS
message of every capture."""

from __future__ import annotations

import struct

import pytest
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


def _answer(rtype: int, rdata_at_25: bytes) -> bytes:
    """A response with one answer (root owner name) whose data, from offset 23, is given."""
    header = struct.pack("!6H", 1, 0x8180, 0, 1, 0, 0)
    return header + b"\x00" + struct.pack("!HHIH", rtype, 1, 0, len(rdata_at_25)) + rdata_at_25


@pytest.mark.parametrize(("rtype", "rdata"), [
    (2, b"\xc0\x17"),  # NS: a pointer to itself (offset 23)
    (15, b"\x00\x0a\xc0\x19"),  # MX: preference, then a pointer to itself (offset 25)
    (6, b"\x00\xc0\x18" + b"\0" * 20),  # SOA: mname the root, rname pointing at itself
    (15, b"\x00\x0a\x05ab"),  # MX: a label that runs past the end
])
def test_names_inside_record_data_are_checked(rtype: int, rdata: bytes) -> None:
    msg = _answer(rtype, rdata)
    counts = struct.unpack_from("!4H", msg, 4)
    error = dns.parse_sections(msg, counts)[2]
    assert error is not None  # the case is one: a bad name inside the record's data
    assert dns.check_sections(msg, counts) == error


@given(st.binary(max_size=200), st.lists(st.integers(0, 220), min_size=1, max_size=6))
def test_skip_is_read_without_the_labels(msg: bytes, starts: list[int]) -> None:
    # The same ends, errors and remaining budget, name after name over one message.
    reading, skipping = dns._Names(msg), dns._Names(msg)
    for pos in starts:
        assert skipping.skip(pos) == reading.read(pos)[1:]
        assert skipping.budget == reading.budget


def test_skip_spends_the_budget_as_read_does() -> None:
    msg = b"\x01a\x01b\x00"  # two labels and the root: three steps
    enough, short = dns._Names(msg), dns._Names(msg)
    short.budget = 2
    assert enough.skip(0) == (5, None)
    assert short.skip(0) == (4, "name decompression exceeds its work budget")
    assert short.budget == -1
