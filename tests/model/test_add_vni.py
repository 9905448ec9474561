"""Vtep.add_vni: a VTEP takes on a VNI after it was made (replay meets VNIs as it goes)."""

from __future__ import annotations

import pytest

from tests.model.frames import SEC
from vxlankit.model.events import Frame, ModelError, VxlanReceived
from vxlankit.model.vtep import Vtep, VtepConfig


def test_a_vni_added_later_learns_like_a_configured_one() -> None:
    vtep = Vtep(VtepConfig("192.0.2.9", "02:00:00:00:00:09", vnis=(100,)))
    frame = Frame("02:00:00:00:00:02", "02:00:00:00:00:01", 0x0800)
    event = VxlanReceived("192.0.2.1", "192.0.2.9", 50000, 4789, 200, frame)
    dropped = vtep.handle(event, 1 * SEC)
    assert [type(o).__name__ for o in dropped] == ["Dropped"]
    vtep.add_vni(200)
    vtep.add_vni(200)  # idempotent
    assert vtep.config.vnis == (100, 200)
    outputs = vtep.handle(event, 2 * SEC)
    assert [type(o).__name__ for o in outputs] == ["Learned", "Decapsulated"]
    entry = vtep.lookup(200, "02:00:00:00:00:01")
    assert entry is not None and entry.remotes == ("192.0.2.1",)
    assert vtep.lookup(100, "02:00:00:00:00:01") is None
    with pytest.raises(ModelError):
        vtep.add_vni(1 << 24)
