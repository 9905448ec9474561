"""The bulk walk reads header fields where their layers' specs put them (``_field``), not at
places of its own: a new layer's or a moved field's place is declared once, in its module."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from vxlankit.bulk import fast
from vxlankit.layers.registry import LAYERS
from vxlankit.layers.spec import BOOL, UINT

SOURCE = Path(fast.__file__).read_text()

# A header byte or word at a literal offset: what a place of the walk's own looks like.
_LITERAL_READ = re.compile(r"_be(?:16|32)\(h, \d+\)|h\[:, \d+")


def test_no_literal_header_offsets() -> None:
    found = [line.strip() for line in SOURCE.splitlines() if _LITERAL_READ.search(line)]
    # Geneve's options length has no Wireshark field (no spec declares its place).
    assert found == [
        "length = geneve.HEADER_LEN + (h[:, 0] & geneve.OPTIONS_LEN_MASK).astype(np.int64) * 4"]


@pytest.mark.parametrize("spec", [s for s in LAYERS if any(
    f.span is not None and f.at_span and f.span[1] <= 4 and f.type in (UINT, BOOL)
    for f in s.fields)], ids=lambda s: s.name)
def test_field_reads_match_the_spans(spec: object) -> None:
    """Every fixed number a spec places is read by ``_field`` as the span says: bytes
    big-endian, masked, shifted down and scaled, a flag as a truth value."""
    rng = np.random.default_rng(7)
    h = rng.integers(0, 256, size=(64, 48), dtype=np.uint8)
    for field in spec.fields:  # type: ignore[attr-defined]
        if field.span is None or not field.at_span or field.type not in (UINT, BOOL) \
                or field.span[1] > 4 or field.span[0] + field.span[1] > 48:
            continue
        offset, size, mask = field.span
        got = fast._field(h, spec.name, field.name)  # type: ignore[attr-defined]
        for row in range(len(h)):
            raw = int.from_bytes(bytes(h[row, offset:offset + size]), "big")
            if mask:
                raw &= mask
                want = int(raw != 0) if field.type == BOOL else raw >> (
                    (mask & -mask).bit_length() - 1)
            else:
                want = raw
            assert int(got[row]) == want * field.scale, (field.name, row)


def test_arp_places_every_field_its_sizes_place() -> None:
    """ARP's fast-path places (``LayerSpec.places``) cover exactly the fields the address
    sizes place, at RFC 826's offsets for 6-byte MACs and 4-byte IPv4 addresses."""
    from vxlankit.layers import arp

    assert set(arp.ETHERNET_IPV4) == {f.name for f in arp.SPEC.fields if f.span is None}
    assert arp.ETHERNET_IPV4["arp.src.hw_mac"] == (8, 6, None)
    assert arp.ETHERNET_IPV4["arp.dst.proto_ipv4"] == (24, 4, None)
