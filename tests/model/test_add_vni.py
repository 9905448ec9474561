"""Vtep.add_vni: a VTEP takes on a VNI after it was made (replay meets VNIs as it goes)."""

from __future__ import annotations

import pytest

from tests.model.frames import SEC
from vxlankit.model.events import FdbAdd, Frame, ModelError, VxlanReceived
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
    assert (entry.vni, entry.mac) == (200, "02:00:00:00:00:01")
    assert vtep.lookup(100, "02:00:00:00:00:01") is None
    with pytest.raises(ModelError):
        vtep.add_vni(1 << 24)


def test_fdbs_is_every_vnis_fdb_in_one_pass() -> None:
    vtep = Vtep(VtepConfig("10.0.0.1", "02:00:00:00:00:01", vnis=(4096, 4097)))
    vtep.handle(FdbAdd(4097, "02:00:00:00:00:02", "10.0.0.2"), 0)
    vtep.handle(FdbAdd(4096, "02:00:00:00:00:03", "10.0.0.3"), 0)
    vtep.add_vni(4098)
    assert vtep.fdbs() == {vni: vtep.fdb(vni) for vni in (4096, 4097, 4098)}
    assert list(vtep.fdbs()) == [4096, 4097, 4098] and vtep.fdbs()[4098] == {}
