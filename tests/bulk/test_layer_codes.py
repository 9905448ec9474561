"""The bulk walk's protocol stacks past eight layers (its codes are base-256 digits in two
64-bit accumulators): deep nested tunnels give the rich decoder's frame.protocols."""

from __future__ import annotations

from tests.bulk._support import assert_same_rows
from vxlankit import build, encode
from vxlankit.bulk.columns import rows_to_dicts
from vxlankit.bulk.fast import decode_batch
from vxlankit.bulk.frames import batch_from_frames
from vxlankit.packet import Layer


def _tagged(outer_tags: int, inner_tags: int) -> bytes:
    """VXLAN with 802.1Q tags outside and inside: 7 + the tags layers, in 112 bytes."""
    layers: list[Layer] = [build.eth(), *[build.vlan(id=i + 1) for i in range(outer_tags)],
                           build.ipv4("10.0.0.1", "10.0.0.2"), build.udp(40000, 4789, checksum=0),
                           build.vxlan(vni=100), build.eth(),
                           *[build.vlan(id=i + 10) for i in range(inner_tags)],
                           build.ipv4("10.9.9.1", "10.9.9.2"), build.icmp_echo(),
                           build.payload(b"ping")]
    return encode(layers)


def test_deep_stacks_are_named_like_the_rich_decoder() -> None:
    frames = [_tagged(0, 0), _tagged(1, 1), _tagged(3, 2)]  # 8, 10 and 13 layers
    batch = batch_from_frames(frames, 1)
    fast, fallback = decode_batch(batch)
    rich, _ = decode_batch(batch, rich_only=True)
    got, want = rows_to_dicts(fast.to_arrow()), rows_to_dicts(rich.to_arrow())
    assert_same_rows(got, want, "tagged")
    assert fallback == 0  # past eight layers the walk still names the stack itself
    assert got[2]["frame.protocols"].count("vlan") == 5
