"""Scripted event -> expected-output tests for the sans-IO models, after mitmproxy's Playbook.

    assert (
        Playbook(bridge)
        >> FrameReceived("veth0", frame)
        << Learned("br0", None, C1_MAC, "veth0", 0, "br_fdb_update")
        << Flooded("br0", ("vxlan0",), frame, "broadcast")
        >> tick(300 * SEC)
        << Aged(...)
    )

Times are the models' integer nanoseconds.  ``>> event`` feeds an input at the current time (0
at first); ``>> at(t, event)`` feeds it at ``t`` and makes ``t`` the current time; ``>> tick(t)``
calls ``device.tick(t)``.  ``<< output`` is the next output expected.  The outputs of all steps
must match exactly and in order; on a mismatch the assertion message is a diff of the expected
transcript against the actual one.  Every time an output carries (``now``, ``last_seen``,
``expired_at``) must be an ``int``: ``1.0 == 1`` would let a float clock slip through.
"""

from __future__ import annotations

import difflib
import pprint
from dataclasses import dataclass
from typing import Any, Protocol


class Device(Protocol):
    def handle(self, event: Any, now: int) -> list[Any]: ...

    def tick(self, now: int) -> list[Any]: ...


@dataclass(frozen=True)
class At:
    now: int
    event: Any


@dataclass(frozen=True)
class Tick:
    now: int


def at(now: int, event: Any) -> At:
    return At(now, event)


def tick(now: int) -> Tick:
    return Tick(now)


_TIME_FIELDS = ("now", "last_seen", "expired_at")


def assert_integer_times(output: Any) -> None:
    """Fail unless every time field of ``output`` is an int (not a float, not a bool)."""
    for name in _TIME_FIELDS:
        value = getattr(output, name, 0)
        assert type(value) is int, f"{type(output).__name__}.{name} is {value!r}, not an int"


class Playbook:
    def __init__(self, device: Device, now: int = 0) -> None:
        self.device = device
        self.now = now
        self.steps: list[tuple[str, Any]] = []
        self._ran = False

    def __rshift__(self, item: Any) -> Playbook:
        self.steps.append((">>", item))
        return self

    def __lshift__(self, item: Any) -> Playbook:
        self.steps.append(("<<", item))
        return self

    def run(self) -> list[tuple[str, Any]]:
        """Feed every input in order; return the actual transcript (inputs and outputs)."""
        actual: list[tuple[str, Any]] = []
        for direction, item in self.steps:
            if direction == "<<":
                continue
            actual.append((">>", item))
            if isinstance(item, Tick):
                self.now = item.now
                outputs = self.device.tick(item.now)
            else:
                event = item
                if isinstance(item, At):
                    self.now = item.now
                    event = item.event
                outputs = self.device.handle(event, self.now)
            for out in outputs:
                assert_integer_times(out)
            actual.extend(("<<", out) for out in outputs)
        return actual

    def __bool__(self) -> bool:
        if self._ran:
            raise RuntimeError("a Playbook runs once")
        self._ran = True
        actual = self.run()
        if actual == self.steps:
            return True
        expected_text = _render(self.steps)
        actual_text = _render(actual)
        diff = "\n".join(
            difflib.unified_diff(expected_text, actual_text, "expected", "actual", lineterm="", n=3)
        )
        raise AssertionError("playbook mismatch (- expected, + actual):\n" + diff)


def _render(transcript: list[tuple[str, Any]]) -> list[str]:
    lines: list[str] = []
    for direction, item in transcript:
        text = pprint.pformat(item, width=96, sort_dicts=False).splitlines()
        lines.append(f"{direction} {text[0]}")
        lines.extend(f"   {line}" for line in text[1:])
    return lines
