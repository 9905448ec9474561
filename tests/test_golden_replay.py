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

import hashlib
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.test_golden_outputs import captures, key

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "replay.json"
MODES = {"text": [], "json": ["--json"], "json-rfc7348": ["--json", "--policy", "rfc7348"]}


def render(path: Path, mode: str) -> bytes:
    """What ``vxlankit replay`` prints for ``path`` in ``mode``, and how it exits."""
    from vxlankit.cli import main

    result = CliRunner().invoke(main, ["replay", *MODES[mode], str(path)])
    assert result.exit_code in (0, 3), result.output  # 3: a damaged capture, still reported
    return result.stdout_bytes + f"\nexit {result.exit_code}\n".encode()


def _pinned() -> dict[str, str]:
    return dict(json.loads(GOLDEN.read_text()))


_CASES = [(p, m) for p in captures() for m in MODES]


@pytest.mark.parametrize(("path", "mode"), _CASES, ids=[key(p, m) for p, m in _CASES])
def test_replay_report_unchanged(path: Path, mode: str) -> None:
    pinned = _pinned().get(key(path, mode))
    if pinned is None:
        pytest.fail(f"no pinned report for {key(path, mode)}: run "
                    "`python -m tests.test_golden_replay update` after checking it")
    assert hashlib.sha256(render(path, mode)).hexdigest() == pinned, (
        f"{key(path, mode)} changed; see this module's docstring to review and re-pin")


def main(argv: list[str]) -> None:
    if argv[:1] == ["update"]:
        digests = {key(p, m): hashlib.sha256(render(p, m)).hexdigest() for p, m in _CASES}
        GOLDEN.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
        print(f"pinned {len(digests)} reports in {GOLDEN}")
    elif argv[:1] == ["dump"] and len(argv) == 2:
        out = Path(argv[1])
        out.mkdir(parents=True, exist_ok=True)
        for p, m in _CASES:
            (out / key(p, m).replace("/", "_").replace("|", ".")).write_bytes(render(p, m))
        print(f"wrote {len(_CASES)} reports to {out}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
