"""The rules of tests/README.md that a grep can hold: a test skips only through tests/support.py
(a missing external input, and never under CI=true), never by itself."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# pytest.skip(...), pytest.importorskip(...), @pytest.mark.skip, pytest.xfail / mark.xfail: each
# would let a test go quiet without a missing resource.  pytest.mark.skipif is allowed only on a
# condition that keeps it off under CI.
_SKIPS = re.compile(r"pytest\.(skip\(|importorskip\(|mark\.skip\b(?!if)|xfail\b|mark\.xfail\b)")
_SKIPIF = re.compile(r"pytest\.mark\.skipif\((.*)")


def test_skips_go_through_support() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.name == "support.py" and path.parent == TESTS:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _SKIPS.search(line) and path != Path(__file__).resolve():
                offenders.append(f"{path.relative_to(TESTS)}:{number}: {line.strip()}")
            found = _SKIPIF.search(line)
            if found and "not IN_CI" not in found[1]:
                offenders.append(f"{path.relative_to(TESTS)}:{number}: {line.strip()}")
    assert not offenders, "skip through tests/support.py (missing(), require_*()):\n" + \
        "\n".join(offenders)
