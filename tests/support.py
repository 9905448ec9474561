"""External test resources in one place: the shared real captures, the Wireshark tools and the
optional packages of the test extra (pyarrow, dask), root with network namespaces (the live
capture tests).

All are optional on a developer's machine (the tests that need them skip), but under CI
(``CI=true``) a missing capture folder, tool or package is a failure, so a broken CI image
cannot silently turn the suite green.  Skip through these helpers only, never with a bare
``pytest.skip``/``pytest.importorskip`` (tests/README.md).
"""

from __future__ import annotations

import functools
import importlib
import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI") == "true"
_REL = Path("shared") / "captures" / "real"


def _find_real_dir() -> Path:
    override = os.environ.get("VXLANKIT_REAL_CAPTURES")
    if override:
        return Path(override)
    # The folder sits beside the repository (../shared/captures/real from the repo root);
    # look up from here so that a checkout at another depth (a worktree) finds it too.
    repo = Path(__file__).resolve().parents[1]
    for base in (repo.parent, *repo.parent.parents):
        candidate = base / _REL
        if candidate.is_dir():
            return candidate
    return repo.parent / _REL


REAL_DIR = _find_real_dir()
# The breadth captures (GRE/ERSPAN, IPv6, ICMPv6/NDP, DNS) beside it: every test that reads
# the real captures reads these too.
NEXT_DIR = REAL_DIR.parent / "next"


def capture_dirs() -> tuple[Path, Path]:
    """Both folders (from ``REAL_DIR`` as it is now: a test may point it elsewhere)."""
    return REAL_DIR, REAL_DIR.parent / "next"


def missing(message: str) -> NoReturn:
    """Skip, or fail when CI=true: a resource the test needs is not there."""
    if IN_CI:
        pytest.fail(message + " (required when CI=true)")
    pytest.skip(message)


def require_real_dir() -> Path:
    """The real captures folder; both it and ``next`` beside it must be there (skip, or fail under
    CI=true)."""
    for folder in capture_dirs():
        if not folder.is_dir():
            missing(f"real captures folder {folder} not found")
    return REAL_DIR


def real_capture(name: str) -> Path:
    """The capture ``name`` from ``REAL_DIR`` or ``NEXT_DIR`` (names are unique across both)."""
    require_real_dir()
    for folder in capture_dirs():
        path = folder / name
        if path.is_file():
            return path
    missing(f"real capture {name} not found in {' or '.join(map(str, capture_dirs()))}")


def real_capture_names() -> list[str]:
    """Every capture in both folders; empty when they are absent (a caller that parametrizes
    over it must then still run one test that calls ``require_real_dir``)."""
    names: set[str] = set()
    for folder in capture_dirs():
        if folder.is_dir():
            names.update(p.name for p in folder.iterdir()
                         if p.suffix in (".pcap", ".pcapng") and p.is_file())
    return sorted(names)


def require_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        missing(f"{name} not on PATH")
    return found


def require_tshark() -> str:
    return require_tool("tshark")


def require_module(name: str) -> ModuleType:
    """The module, imported; a missing one skips (fails under CI, where the test extra is
    installed: ``pip install -e '.[test]'``)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing(f"{name} is not installed: {exc}")


def require_lab() -> None:
    """Root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and ip, bridge, dumpcap and ping: what
    ``vxlankit lab`` needs to build network namespaces (skip, or fail under CI=true)."""
    from vxlankit.errors import LabError
    from vxlankit.lab import check_prerequisites

    try:
        check_prerequisites()
    except LabError as exc:
        missing(f"the lab cannot run here: {exc.message}")


@functools.cache
def _netns_problem() -> str | None:
    """Why network namespaces cannot be made here, or None (probed once per process)."""
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    if shutil.which("ip") is None:
        return "ip (iproute2) not on PATH"
    probe = f"vxk-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True,
                          check=False)
    if made.returncode != 0:
        return f"cannot make a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


def require_netns() -> None:
    """Root, iproute2 and network namespaces that can be made (skip, or fail under CI=true,
    where the tests run as root with iproute2 installed)."""
    problem = _netns_problem()
    if problem is not None:
        missing(problem)


def require_live_capture() -> str:
    """What a live capture test needs: namespaces (``require_netns``) and dumpcap; its path."""
    require_netns()
    return require_tool("dumpcap")
