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

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import REAL_DIR, missing

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "outputs.json"
CAPTURE_DIRS = (REPO / "captures", REAL_DIR, REAL_DIR.parent / "next")
MODES = ("line", "V", "json", "csv", "jsonl")


def captures() -> list[Path]:
    found: list[Path] = []
    for folder in CAPTURE_DIRS:
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if p.suffix in (".pcap", ".pcapng"))
    return found


def key(path: Path, mode: str) -> str:
    return f"{path.parent.name}/{path.name}|{mode}"


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


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pinned() -> dict[str, str]:
    return dict(json.loads(GOLDEN.read_text()))


_CASES = [(p, m) for p in captures() for m in MODES]


@pytest.mark.parametrize(("path", "mode"), _CASES, ids=[key(p, m) for p, m in _CASES])
def test_output_unchanged(path: Path, mode: str) -> None:
    pinned = _pinned().get(key(path, mode))
    if pinned is None:
        pytest.fail(f"no pinned output for {key(path, mode)}: run "
                    "`python -m tests.test_golden_outputs update` after checking it")
    assert digest(render(path, mode)) == pinned, (
        f"{key(path, mode)} changed; see this module's docstring to review and re-pin")


def test_every_pinned_capture_is_present() -> None:
    """A capture that vanished would silently shrink the test above."""
    present = {key(p, m) for p, m in _CASES}
    absent = sorted(k for k in _pinned() if k not in present)
    if absent:
        missing(f"pinned captures not found: {', '.join(absent[:3])}...")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "update":
        GOLDEN.write_text(json.dumps({key(p, m): digest(render(p, m)) for p, m in _CASES},
                                     indent=1, sort_keys=True) + "\n")
    elif command == "dump" and len(sys.argv) == 3:
        out_dir = Path(sys.argv[2])
        out_dir.mkdir(parents=True, exist_ok=True)
        for p, m in _CASES:
            (out_dir / key(p, m).replace("/", "__").replace("|", ".")).write_bytes(render(p, m))
    else:
        sys.exit("usage: python -m tests.test_golden_outputs update | dump DIR")
