"""The bulk path's own errors, importable without numpy or pyarrow (for the CLI to catch)."""

from __future__ import annotations

from vxlankit.bulk._deps import MissingDependencyError
from vxlankit.errors import OutputIsInputError as _OutputIsInput
from vxlankit.errors import VxlanKitError


class ExportError(VxlanKitError):
    """An export that cannot be done as asked (unknown format, output not writable)."""


class SelectionError(ExportError):
    """``-e``/``-Y`` asked for what an export cannot give: a name no field has, a column
    twice, a reading of every packet in order split over processes."""


class OutputIsInputError(ExportError, _OutputIsInput):
    """The output named is one of the inputs (the same file, by device and inode): writing it
    would destroy the capture being read."""


class SchedulerError(VxlanKitError):
    """The Dask scheduler given could not be reached."""


__all__ = ["ExportError", "MissingDependencyError", "OutputIsInputError", "SchedulerError",
           "SelectionError"]
