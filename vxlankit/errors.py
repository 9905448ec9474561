"""One exception hierarchy for everything a user can cause.

Modelled on hyperframe: callers catch ``VxlanKitError`` (or a narrower class) and never see a
``construct``, ``struct`` or ``OSError`` traceback from the public API.  Every error can say where
it happened: the file, the packet (record) number and the byte offset.
"""

from __future__ import annotations


class VxlanKitError(Exception):
    """Base class of every error vxlankit raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        packet: int | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.packet = packet
        self.offset = offset

    def where(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(str(self.path))
        if self.packet is not None:
            parts.append(f"packet {self.packet}")
        if self.offset is not None:
            parts.append(f"offset {self.offset}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message


class DecodeError(VxlanKitError):
    """Bytes that cannot be read as the requested protocol."""


class TruncatedError(DecodeError):
    """The data ends before the structure does (a short capture, a cut header)."""


class MalformedError(DecodeError):
    """The structure is complete but its values are impossible (IHL < 5, UDP length < 8, ...)."""


class EncodeError(VxlanKitError):
    """Field values that cannot be written (out of range, wrong type, inconsistent)."""


class CaptureError(VxlanKitError):
    """A capture file that cannot be read or written: bad magic, damaged record, I/O failure."""


class LiveCaptureError(CaptureError):
    """A live capture that cannot start or go on: dumpcap is missing, the interface is not
    there, no permission to capture on it; the message names the interface."""


class CaptureFilterError(LiveCaptureError):
    """A capture filter (BPF, ``-f``) that dumpcap refuses."""


class FilterError(VxlanKitError):
    """A display-filter expression that does not parse."""


class StatisticError(VxlanKitError):
    """A ``-z`` statistic vxlankit does not have, or whose arguments are wrong."""


class LabError(VxlanKitError):
    """``vxlankit lab`` cannot run or failed on the way: no root, a missing tool, a kernel
    command that failed (the message names the command and what it said)."""


class StateError(VxlanKitError):
    """``vxlankit state save`` or ``trace`` cannot go on: a missing tool or permission (the
    message names it), a namespace that is not there, a saved state that does not read, a
    what-if edit naming a host or device the state does not have."""


class OutputIsInputError(VxlanKitError):
    """The output named is one of the inputs (the same file, by device and inode): writing it
    would destroy the capture being read."""


__all__ = [
    "VxlanKitError",
    "DecodeError",
    "TruncatedError",
    "MalformedError",
    "EncodeError",
    "CaptureError",
    "LiveCaptureError",
    "CaptureFilterError",
    "FilterError",
    "StatisticError",
    "LabError",
    "OutputIsInputError",
    "StateError",
]
