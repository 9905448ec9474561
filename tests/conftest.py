"""Shared pytest configuration: the hypothesis profiles.

``dev`` (the default) keeps the whole suite fast on a laptop; ``ci`` runs more examples, never
fails on timing (shared CI runners are slow and noisy) and prints the reproduction blob of a
failure.  Choose with ``HYPOTHESIS_PROFILE=ci|dev``; without it, ``CI=true`` selects ``ci``.
``mutation`` is ``dev`` made repeatable (derandomized, no example database), for mutation
testing (docs/testing.md): a mutant's verdict must not depend on the run.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "mutation",
    parent=settings.get_profile("dev"),
    derandomize=True,
    database=None,
)


def _profile() -> str:
    chosen = os.environ.get("HYPOTHESIS_PROFILE")
    if chosen:
        return chosen
    return "ci" if os.environ.get("CI") == "true" else "dev"


settings.load_profile(_profile())


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """End every run with why tests were skipped, a count per reason: a missing oracle
    (tshark), capture folder or package reads differently from a missing feature.  (Skips
    come only from tests/support.py, which names what is missing.)"""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons: Counter[str] = Counter()
    for report in skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    terminalreporter.section(f"{len(skipped)} skipped, by reason")
    for reason, count in reasons.most_common():
        terminalreporter.line(f"{count:6d}  {reason}")
