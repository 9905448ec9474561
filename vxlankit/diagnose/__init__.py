"""Why overlay traffic fails: diagnoses from a capture, its replay and the models' outputs.

``replay`` collects ``Evidence`` in its one pass (evidence.py) and hands it, with its own
findings (flapping MACs, the models' drops), to ``diagnose``, which runs the detectors (one
module per group of kinds: path.py, overlay.py, loss.py, hygiene.py) and returns their
``Diagnosis`` list, most severe first.  The kinds, their severity and wording are one table
(kinds.py); docs/diagnosis.md describes each.
"""

from __future__ import annotations

from vxlankit.diagnose import hygiene, loss, overlay, path
from vxlankit.diagnose.context import Context
from vxlankit.diagnose.evidence import Evidence
from vxlankit.diagnose.kinds import KINDS, Diagnosis

DETECTORS = (path.detect, overlay.detect, loss.detect, hygiene.detect)


def diagnose(ctx: Context) -> list[Diagnosis]:
    """Every diagnosis for the capture ``ctx`` describes, most severe first, then by the
    first packet of their evidence."""
    found = [d for detect in DETECTORS for d in detect(ctx)]
    return sorted(found, key=lambda d: d.order)


__all__ = ["Context", "Diagnosis", "Evidence", "KINDS", "diagnose"]
