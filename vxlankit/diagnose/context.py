"""What every detector reads: the evidence of one capture and the replay's own findings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from vxlankit.diagnose.evidence import Evidence


@dataclass(frozen=True)
class Context:
    """``flapping``: (VTEP, VNI, MAC) -> the remotes it arrived from, when more than one;
    ``drops``: (VTEP, Linux drop reason) -> packets the VTEP models dropped."""

    evidence: Evidence
    flapping: Mapping[tuple[str, int, str], set[str]]
    drops: Counter[tuple[str, str]]
