"""A batch's strings (every text column's dictionary in Arrow and Parquet) come in the order of
the rows that first have them, whatever the walk's layer codes: a file's dictionaries do not
change when layers are added to or renumbered in the registry."""

from __future__ import annotations

from vxlankit.bulk.fast import decode_batch
from vxlankit.bulk.frames import batch_from_frames

ICMP = bytes.fromhex("52540000000252540000000108004500002000000000400166db0a0000010a000002"
                     "080033360001000261626364")
UDP = bytes.fromhex("52540000000252540000000108004500002000000000401166cb0a0000010a000002"
                    "03e807d0000c1b5561626364")
BAD_9999 = bytes.fromhex("52540000000252540000000108004500002000000000401122aaac100001ac100002"
                         "03e807d0000c999961626364")
BAD_1111 = BAD_9999[:40] + b"\x11\x11" + BAD_9999[42:]


def _order(frames: list[bytes], wanted: list[str]) -> list[str]:
    batch, fallback = decode_batch(batch_from_frames(frames, 1))
    assert fallback == 0
    return [s for s in batch.strings if s in wanted]


def test_stacks_in_first_row_order() -> None:
    names = ["eth:ethertype:ip:icmp:data", "eth:ethertype:ip:udp:data"]
    assert _order([ICMP, UDP], names) == names
    assert _order([UDP, ICMP], names) == names[::-1]


def test_error_texts_in_first_row_order() -> None:
    batch, _ = decode_batch(batch_from_frames([BAD_9999, BAD_1111], 1))
    errors = [s for s in batch.strings if "bad checksum" in s]
    assert [("0x9999" in e, "0x1111" in e) for e in errors] == [(True, False), (False, True)]
    batch, _ = decode_batch(batch_from_frames([BAD_1111, BAD_9999], 1))
    errors = [s for s in batch.strings if "bad checksum" in s]
    assert [("0x1111" in e, "0x9999" in e) for e in errors] == [(True, False), (False, True)]
