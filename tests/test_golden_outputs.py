"""Every output of ``decode`` (one-line, ``-V``, ``--json``) and ``export`` (csv, jsonl) on every
capture, pinned by digest, so that a refactor of the layers or the fast paths cannot change
what a user sees without this test saying so.

The digests live in ``tests/golden/outputs.json``.  After a deliberate change (a new layer that
now appears in the output), look at the difference first, then pin the new outputs::

    python -m tests.test_golden_outputs dump /tmp/before     # before the change
    python -m tests.test_golden_outputs dump /tmp/after      # after it; diff -r the two
    python -m tests.test_golden_outputs update               # rewrite outputs.json
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.golden_pins import REPO, Pins, captures, key
from tests.support import missing

MODES = ("line", "V", "json", "csv", "jsonl")


def render(path: Path, mode: str) -> bytes:
    """What ``vxlankit`` prints (or writes) for ``path`` in ``mode``."""
    from vxlankit.cli import main

    runner = CliRunner()
    if mode in ("csv", "jsonl"):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"out.{mode}"
            result = runner.invoke(main, ["export", str(path), "-o", str(out)])
            assert result.exit_code == 0, result.output
            return out.read_bytes()
    flags = {"line": [], "V": ["-V"], "json": ["--json"]}[mode]
    result = runner.invoke(main, ["decode", *flags, "--color", "never", str(path)])
    assert result.exit_code in (0, 1), result.output  # 1: a damaged capture, still shown
    return result.stdout_bytes


PINS = Pins(REPO / "tests" / "golden" / "outputs.json",
            [(p, m) for p in captures() for m in MODES], render, "tests.test_golden_outputs")


@pytest.mark.parametrize(("path", "mode"), PINS.cases, ids=PINS.ids())
def test_output_unchanged(path: Path, mode: str) -> None:
    PINS.check(path, mode)


def test_every_pinned_capture_is_present() -> None:
    """A capture that vanished would silently shrink the test above."""
    present = {key(p, m) for p, m in PINS.cases}
    absent = sorted(k for k in PINS.pinned() if k not in present)
    if absent:
        missing(f"pinned captures not found: {', '.join(absent[:3])}...")


if __name__ == "__main__":
    PINS.main(sys.argv[1:], __doc__)
