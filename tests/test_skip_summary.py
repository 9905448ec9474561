"""The test command ends with why tests were skipped, a count per reason (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_run_ends_with_its_skips_counted_by_reason(tmp_path: Path) -> None:
    (tmp_path / "test_some.py").write_text(
        "from tests.support import missing\n"
        "def test_a():\n    missing('tshark not on PATH')\n"
        "def test_b():\n    missing('tshark not on PATH')\n"
        "def test_c():\n    missing('pyarrow is not installed')\n"
        "def test_d():\n    pass\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(REPO)
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p",
                          "no:cacheprovider", "-p", "no:xdist", "-p", "no:randomly",
                          "--rootdir", str(tmp_path), str(tmp_path)],
                         capture_output=True, text=True, env=env, cwd=REPO).stdout
    tail = [line for line in out.splitlines() if line.strip()][-4:]
    assert "3 skipped, by reason" in tail[0]
    assert tail[1:3] == ["     2  tshark not on PATH", "     1  pyarrow is not installed"]
    assert "1 passed, 3 skipped" in tail[3]
