"""The colours of the presentation: a ``Palette`` of ANSI escape strings for the parts of a line.

``ANSI`` colours addresses, VNIs, protocol names, markers and problems; ``PLAIN`` is "" everywhere
(plain text).  The one-line summary, the ``-V`` tree and the hex dump each take one; the command
line picks ``ANSI`` or ``PLAIN`` from ``--color``.
"""

from __future__ import annotations

__all__ = ["ANSI", "PLAIN", "Palette"]


class Palette:
    """ANSI escape strings for the parts of a line ("" everywhere for plain text)."""

    __slots__ = ("addr", "vni", "proto", "mark", "bad", "dim", "reset")

    def __init__(self, addr: str = "", vni: str = "", proto: str = "", mark: str = "",
                 bad: str = "", dim: str = "", reset: str = "") -> None:
        self.addr = addr
        self.vni = vni
        self.proto = proto
        self.mark = mark
        self.bad = bad
        self.dim = dim
        self.reset = reset

    @property
    def enabled(self) -> bool:
        return bool(self.reset)


PLAIN = Palette()
ANSI = Palette(addr="\x1b[33m", vni="\x1b[1;36m", proto="\x1b[1m", mark="\x1b[35m",
               bad="\x1b[1;31m", dim="\x1b[2m", reset="\x1b[0m")
