"""numpy, pyarrow and dask are optional: vxlankit imports without them, and the bulk
functions say which extra to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _without(blocked: list[str], code: str) -> str:
    """Run ``code`` in a fresh interpreter where the ``blocked`` packages cannot be imported."""
    prelude = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in blocked)
    done = subprocess.run([sys.executable, "-c", prelude + code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(("blocked", "extra"), [(["numpy"], "export"),
                                                (["pyarrow"], "export")])
def test_missing_export_extra(tmp_path: Path, blocked: list[str], extra: str) -> None:
    src = REPO.parent / "shared" / "captures" / "real" / "tcpdump_vxlan.pcap"
    out = _without(blocked, f"""
import vxlankit, vxlankit.bulk as bulk
try:
    bulk.export([{str(src)!r}], {str(tmp_path / 'x.parquet')!r})
except bulk.MissingDependencyError as exc:
    print(exc)
""")
    assert f"pip install 'vxlankit[{extra}]'" in out


def test_missing_dask(tmp_path: Path) -> None:
    out = _without(["distributed"], """
import vxlankit.bulk as bulk
try:
    bulk.bulk_stats(["a.pcap"], scheduler="tcp://127.0.0.1:1")
except bulk.MissingDependencyError as exc:
    print(exc)
except Exception as exc:
    print("other", type(exc).__name__, exc)
""")
    assert "pip install 'vxlankit[dask]'" in out
