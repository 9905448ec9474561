"""``replay`` reports (text, JSON, and JSON under the RFC 7348 policy) on every capture, pinned
by digest, as tests/test_golden_outputs.py pins decode and export: a refactor of the models or
of replay cannot change a report without this test saying so.

The digests live in ``tests/golden/replay.json``.  After a deliberate change, look at the
difference first, then pin the new reports::

    python -m tests.test_golden_replay dump /tmp/before     # before the change
    python -m tests.test_golden_replay dump /tmp/after      # after it; diff -r the two
    python -m tests.test_golden_replay update               # rewrite replay.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.golden_pins import REPO, Pins, captures

MODES = {"text": [], "json": ["--json"], "json-rfc7348": ["--json", "--policy", "rfc7348"]}


def render(path: Path, mode: str) -> bytes:
    """What ``vxlankit replay`` prints for ``path`` in ``mode``, and how it exits."""
    from vxlankit.cli import main

    result = CliRunner().invoke(main, ["replay", *MODES[mode], str(path)])
    assert result.exit_code in (0, 3), result.output  # 3: a damaged capture, still reported
    return result.stdout_bytes + f"\nexit {result.exit_code}\n".encode()


PINS = Pins(REPO / "tests" / "golden" / "replay.json",
            [(p, m) for p in captures() for m in MODES], render, "tests.test_golden_replay")


@pytest.mark.parametrize(("path", "mode"), PINS.cases, ids=PINS.ids())
def test_replay_report_unchanged(path: Path, mode: str) -> None:
    PINS.check(path, mode)


if __name__ == "__main__":
    PINS.main(sys.argv[1:], __doc__)
