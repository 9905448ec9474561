"""Running bulk work in parts: local processes (``jobs=N``) or a Dask cluster (``scheduler``).

The inputs are cut into parts (:func:`vxlankit.bulk.frames.plan`): a classic pcap file into
record ranges whose boundaries one walk over the record headers finds, any other capture into
one part per file.  Each part is decoded where it runs; results come back in input order, and
at most a few parts are in flight at a time, so memory stays flat however large the input.

A worker function takes a part plus fixed arguments and returns a picklable value; the
callers combine the values (an export writes them in order, statistics merge them).
"""

from __future__ import annotations

import multiprocessing
import os
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields
from itertools import chain, islice
from types import MappingProxyType
from typing import Any, TypeVar

from vxlankit.bulk._deps import require
from vxlankit.bulk.errors import SchedulerError
from vxlankit.bulk.frames import BATCH_RECORDS, Part, WholeFile, plan
from vxlankit.bulk.results import BulkStats
from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions
from vxlankit.errors import CaptureError

R = TypeVar("R")

# Records per part: two decoding batches, enough work to make sending a part worth it.
RECORDS_PER_PART = 2 * BATCH_RECORDS
# Parts in flight per worker: enough to keep every worker busy while results are consumed.
_AHEAD = 2
# Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT = 15
# A scheduler address: an optional protocol, a host (or a bracketed IPv6 address), a port.
_ADDRESS = re.compile(r"(?:(tcp|tls|ws|wss|inproc|ucx)://)?(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):"
                      r"(\d{1,5})")


def wire_options(options: DecodeOptions) -> dict[str, Any]:
    """``DecodeOptions`` as plain values: its tables are read-only mapping proxies, which do
    not pickle, and a part's arguments travel to another process."""
    return {f.name: _plain(getattr(options, f.name)) for f in fields(options) if f.init}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(inner) for key, inner in value.items()}
    return value


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _frozen(inner) for key, inner in value.items()})
    return value


def unwire_options(values: dict[str, Any]) -> DecodeOptions:
    return DecodeOptions(**{name: _frozen(value) for name, value in values.items()})


def map_parts(paths: Sequence[str], work: Callable[..., R], args: tuple[Any, ...], *,
              jobs: int = 1, scheduler: str | None = None,
              records_per_part: int | None = None) -> Iterator[R]:
    """``work(part, *args)`` for every part of ``paths``, results in input order.

    ``records_per_part`` defaults to ``RECORDS_PER_PART``, read when called (tests lower it
    to make many parts of a small capture).
    """
    if scheduler is None and jobs <= 1:
        # One process reads each file straight through: no planning walk needed.
        for path in paths:
            yield work(WholeFile(path), *args)
        return
    parts = plan(list(paths), records_per_part or RECORDS_PER_PART)
    if scheduler is not None:
        yield from _dask(parts, work, args, scheduler)
        return
    # No more processes than parts: with fork, the pool starts all its workers at once, and
    # -j 1000 on a small capture spent its time starting processes with nothing to do.  Only
    # the first ``jobs`` parts are planned before the pool starts: the rest of the walk (a
    # sixth of a second at 1M records) runs while the workers decode.
    first = list(islice(parts, jobs))
    workers = max(1, len(first))
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
        yield from _windowed((lambda part: pool.submit(work, part, *args)),
                             chain(first, parts), workers)


def _context() -> Any:
    # fork starts a worker in milliseconds with everything already imported; spawn (the only
    # choice on some platforms) re-imports numpy and pyarrow in each worker.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _windowed(submit: Callable[[Part], Any], parts: Iterator[Part], workers: int
              ) -> Iterator[Any]:
    pending: deque[Any] = deque()
    for part in parts:
        pending.append(submit(part))
        if len(pending) >= workers * _AHEAD:
            yield _result(pending.popleft())
    while pending:
        yield _result(pending.popleft())


def _result(future: Any) -> Any:
    # concurrent.futures and dask futures alike; a worker's exception is raised here.
    return future.result()


def _dask(parts: Iterator[Part], work: Callable[..., R], args: tuple[Any, ...],
          scheduler: str) -> Iterator[R]:
    found = _ADDRESS.fullmatch(scheduler)
    if found is None or int(found.group(3)) > 65535:
        # Checked before Dask sees it: a Client made from a bad address fails, then hangs for
        # half a minute while it is garbage-collected.
        raise SchedulerError(f"not a Dask scheduler address: {scheduler!r} (expected "
                             "tcp://HOST:PORT)")
    distributed = require("distributed")
    try:
        client = distributed.Client(scheduler, set_as_default=False, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        yield from _windowed(
            (lambda part: client.submit(work, part, *args, pure=False)), parts, workers)
    finally:
        client.close()


# ------------------------------------------------------------------------------ statistics


def stats_part(part: Part, wired: dict[str, Any]) -> tuple[BulkStats, CaptureError | None]:
    from vxlankit.bulk.fast import decode_batch
    from vxlankit.bulk.frames import iter_part_batches
    from vxlankit.bulk.stats import batch_stats

    options = unwire_options(wired)
    total = BulkStats()
    try:
        for frames in iter_part_batches(part):
            cols, fallback = decode_batch(frames, options)
            total.merge(batch_stats(cols, fallback))
    except CaptureError as exc:
        return total, exc
    return total, None


def bulk_stats(paths: Sequence[str | os.PathLike[str]], *, jobs: int = 1,
               scheduler: str | None = None, options: DecodeOptions = DEFAULT_OPTIONS
               ) -> BulkStats:
    """Per-VNI packets/bytes and the VTEP pair table of ``paths``, merged from the parts.

    ``jobs`` and ``scheduler`` are as for :func:`vxlankit.bulk.export`.  A damaged
    capture raises its ``CaptureError``, as a single pass would.
    """
    total = BulkStats()
    names = [os.fspath(p) for p in paths]
    for partial, error in map_parts(names, stats_part, (wire_options(options),), jobs=jobs,
                                    scheduler=scheduler):
        total.merge(partial)
        if error is not None:
            raise error
    return total
