"""Outputs pinned by digest (``tests/golden/*.json``): the check, and the ``update``/``dump``
commands that re-pin them after a deliberate change.  Used by test_golden_outputs.py (decode,
export) and test_golden_replay.py (replay)."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import REAL_DIR

REPO = Path(__file__).resolve().parents[1]
CAPTURE_DIRS = (REPO / "captures", REAL_DIR, REAL_DIR.parent / "next")


def captures() -> list[Path]:
    """Every capture the project knows: its own and the shared real ones."""
    found: list[Path] = []
    for folder in CAPTURE_DIRS:
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if p.suffix in (".pcap", ".pcapng"))
    return found


def key(path: Path, mode: str) -> str:
    return f"{path.parent.name}/{path.name}|{mode}"


class Pins:
    """The digests in ``file`` of ``render(path, mode)`` for every case; ``module`` names the
    ``python -m`` command that re-pins them."""

    def __init__(self, file: Path, cases: list[tuple[Path, str]],
                 render: Callable[[Path, str], bytes], module: str) -> None:
        self.file = file
        self.cases = cases
        self.render = render
        self.module = module

    def ids(self) -> list[str]:
        return [key(p, m) for p, m in self.cases]

    def pinned(self) -> dict[str, str]:
        return dict(json.loads(self.file.read_text()))

    def check(self, path: Path, mode: str) -> None:
        pinned = self.pinned().get(key(path, mode))
        if pinned is None:
            pytest.fail(f"no pinned output for {key(path, mode)}: run "
                        f"`python -m {self.module} update` after checking it")
        assert hashlib.sha256(self.render(path, mode)).hexdigest() == pinned, (
            f"{key(path, mode)} changed; see {self.module}'s docstring to review and re-pin")

    def main(self, argv: list[str], usage: str | None) -> None:
        if argv[:1] == ["update"]:
            digests = {key(p, m): hashlib.sha256(self.render(p, m)).hexdigest()
                       for p, m in self.cases}
            self.file.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
            print(f"pinned {len(digests)} outputs in {self.file}")
        elif argv[:1] == ["dump"] and len(argv) == 2:
            out = Path(argv[1])
            out.mkdir(parents=True, exist_ok=True)
            for p, m in self.cases:
                (out / key(p, m).replace("/", "__").replace("|", ".")).write_bytes(
                    self.render(p, m))
            print(f"wrote {len(self.cases)} outputs to {out}")
        else:
            sys.exit(usage)
