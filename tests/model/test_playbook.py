"""The Playbook helper must fail, and say where, when outputs differ."""

from __future__ import annotations

import pytest

from tests.model.frames import BROADCAST, C1_MAC, SEC, unicast
from tests.model.playbook import Playbook, tick
from vxlankit.model.bridge import Bridge
from vxlankit.model.events import Flooded, FrameReceived, Learned


def test_mismatch_raises_with_a_diff_naming_the_wrong_output() -> None:
    f = unicast(C1_MAC, BROADCAST)
    playbook = (
        Playbook(Bridge("br0", ["a", "b"]))
        >> FrameReceived("a", f)
        << Learned("br0", None, C1_MAC, "b", 0, "br_fdb_update")
        << Flooded("br0", ("b",), f, "broadcast")
    )
    with pytest.raises(AssertionError) as excinfo:
        assert playbook
    message = str(excinfo.value)
    # One line per field, so the diff points at the field that differs.
    assert "\n-           location='b',\n+           location='a',\n" in message
    assert " << Learned(device='br0'," in message


def test_missing_and_extra_outputs_fail() -> None:
    f = unicast(C1_MAC, BROADCAST)
    with pytest.raises(AssertionError, match=r"\n\+<< Flooded"):
        assert (
            Playbook(Bridge("br0", ["a", "b"]))
            >> FrameReceived("a", f)
            << Learned("br0", None, C1_MAC, "a", 0, "br_fdb_update")
        )
    with pytest.raises(AssertionError, match=r"\n-<< Learned"):
        assert Playbook(Bridge("br0", ["a", "b"])) >> tick(5 * SEC) << Learned(
            "br0", None, C1_MAC, "a", 0, "br_fdb_update")


def test_a_playbook_runs_once() -> None:
    playbook = Playbook(Bridge("br0", ["a"])) >> tick(1 * SEC)
    assert playbook
    with pytest.raises(RuntimeError):
        bool(playbook)
