"""``vxlankit lab``: the seed's overlay on the Linux kernel, compared with the models.

The IO edge of vxlankit: it runs ``ip``, ``bridge``, ``dumpcap`` and ``ping`` in network
namespaces it makes and removes (``netns``), builds the topology (``topology``), captures
(``capture``), reads the kernel's tables (``tables``) and compares them with the sans-IO models
and the synth (``compare``).  ``run_lab_ping`` is the whole run; docs/lab.md describes it.
"""

from vxlankit.lab.netns import check_prerequisites, leftovers
from vxlankit.lab.ping import LabOptions, LabReport, run_lab_ping
from vxlankit.lab.topology import LabFaults, LabSpec

__all__ = ["LabFaults", "LabOptions", "LabReport", "LabSpec", "check_prerequisites",
           "leftovers", "run_lab_ping"]
