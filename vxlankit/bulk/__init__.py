"""The bulk path: whole captures decoded into columns, fast, and exported or counted.

::

    from vxlankit.bulk import export, bulk_stats, iter_batches

    export(["overlay.pcap"], "overlay.parquet")              # or format="arrow"|"csv"|"jsonl"
    export(paths, "all.parquet", jobs=4)                       # four processes
    export(paths, "all.parquet", scheduler="tcp://host:8786")  # a Dask cluster
    stats = bulk_stats(paths, jobs=2)                          # per-VNI and VTEP-pair counters
    for batch in iter_batches(["overlay.pcap"]):               # pyarrow.RecordBatch, 32768 rows
        ...

The columns (docs/export.md) are defined by the rich decoder: every value equals what
``vxlankit.codec.decode`` gives for that packet, whichever path computed it.

numpy and pyarrow (``pip install 'vxlankit[export]'``) and dask.distributed
(``vxlankit[dask]``) are needed only when these functions run; importing this package does
not load them, and a missing one raises ``MissingDependencyError`` naming the extra.
Errors are vxlankit errors: ``ExportError`` (a request that cannot be done),
``SchedulerError`` (no Dask scheduler there), ``CaptureError`` (a damaged capture, after
everything before the damage was written) and ``MissingDependencyError``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from vxlankit.bulk.errors import (
    ExportError,
    MissingDependencyError,
    SchedulerError,
    SelectionError,
)
from vxlankit.bulk.results import BulkStats, Counter, ExportSummary, PairKey
from vxlankit.capture._io import BinaryReadable
from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions
from vxlankit.packet import Packet

EXPORT_FORMATS = ("parquet", "arrow", "csv", "jsonl")

__all__ = [
    "EXPORT_FORMATS",
    "BulkStats",
    "Counter",
    "ExportError",
    "ExportSummary",
    "MissingDependencyError",
    "PairKey",
    "SchedulerError",
    "SelectionError",
    "arrow_schema",
    "bulk_stats",
    "column_names",
    "export",
    "iter_batches",
]


def export(paths: Sequence[str | os.PathLike[str] | BinaryReadable],
           out: str | os.PathLike[str], *,
           format: str = "parquet", jobs: int = 1, scheduler: str | None = None,
           options: DecodeOptions = DEFAULT_OPTIONS,
           display_filter: str | Callable[[Packet], bool] | None = None,
           fields: Sequence[str] | None = None) -> ExportSummary:
    """Decode captures into one ``parquet``, ``arrow``, ``csv`` or ``jsonl`` file.

    ``jobs > 1`` decodes in that many processes, ``scheduler`` (a Dask address such as
    ``tcp://10.0.0.5:8786``) on that cluster; the file is the same either way.  ``out`` may
    be ``"-"`` (stdout) for the text formats.  ``display_filter`` keeps the packets that
    pass it (Wireshark syntax, as ``decode -Y``); ``fields`` names the columns (Wireshark
    names, ``#N`` for an occurrence).  See :func:`vxlankit.bulk.writers.export` and
    docs/export.md.
    """
    from vxlankit.bulk import writers as _export

    return _export.export(paths, out, format=format, jobs=jobs, scheduler=scheduler,
                          options=options, display_filter=display_filter, fields=fields)


def bulk_stats(paths: Sequence[str | os.PathLike[str]], *, jobs: int = 1,
               scheduler: str | None = None, options: DecodeOptions = DEFAULT_OPTIONS
               ) -> BulkStats:
    """Per-VNI packets/bytes and VTEP pair table; see :func:`vxlankit.bulk.parallel.bulk_stats`.
    """
    from vxlankit.bulk import parallel

    return parallel.bulk_stats(paths, jobs=jobs, scheduler=scheduler, options=options)


def iter_batches(paths: Sequence[str | os.PathLike[str]],
                 options: DecodeOptions = DEFAULT_OPTIONS) -> Iterator[Any]:
    """Every packet of ``paths`` as ``pyarrow.RecordBatch`` objects of up to 32768 rows, in
    order, one batch in memory at a time."""
    from vxlankit.bulk import writers as _export

    for batch, _ in _export.decoded_batches(paths, options):
        yield batch


def arrow_schema() -> Any:
    """The ``pyarrow.Schema`` of the batches and of Parquet exports (docs/export.md)."""
    from vxlankit.bulk import columns

    return columns.arrow_schema()


def column_names() -> tuple[str, ...]:
    """The column names, in order (needs numpy, like everything else here)."""
    from vxlankit.bulk import columns

    return columns.COLUMN_NAMES
