"""Parallel runs (processes, a local Dask cluster) give exactly what one process gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from tests.bulk._support import dask_or_skip, rich_rows, synth_captures, write_pcap
from tests.codec.realcaptures import real_capture
from vxlankit import build, encode
from vxlankit.bulk import EXPORT_FORMATS, BulkStats, Counter, bulk_stats, export
from vxlankit.bulk import parallel as parallel_module
from vxlankit.bulk.writers import plain_schema
from vxlankit.errors import CaptureError


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of 5 records, so that small captures are cut into many of them."""
    monkeypatch.setattr(parallel_module, "RECORDS_PER_PART", 5)


def _overlay(i: int) -> bytes:
    vni = 100 + i % 3
    src, dst = ("192.0.2.1", "192.0.2.2") if i % 2 else ("192.0.2.2", "192.0.2.1")
    return encode([build.eth(), build.ipv4(src=src, dst=dst), build.udp(40000 + i, 4789,
                                                                         checksum=0),
                   build.vxlan(vni=vni), build.eth(src="0a:00:00:00:00:01"),
                   build.ipv4(src="10.0.0.1", dst="10.0.0.2"),
                   build.icmp_echo(ident=1, seq=i), build.payload(bytes(i % 40))])


@pytest.fixture
def inputs(tmp_path: Path) -> list[Path]:
    made = write_pcap(tmp_path / "made.pcap", [_overlay(i) for i in range(57)])
    return [made, real_capture("ndpi_vxlan.pcap"), real_capture("tcpdump_vxlan.pcap"),
            *synth_captures(tmp_path)[:1]]


def _content(path: Path, format: str) -> Any:
    # Dictionaries differ with the batching (each batch has its own); compare values.
    if format == "parquet":
        return pq.read_table(path).cast(plain_schema())
    if format == "arrow":
        with ipc.open_file(path) as reader:
            return reader.read_all()
    return path.read_bytes()


@pytest.mark.parametrize("format", EXPORT_FORMATS)
def test_jobs_2_equals_jobs_1(tmp_path: Path, inputs: list[Path], format: str,
                              small_parts: None) -> None:
    one = export(inputs, tmp_path / f"one.{format}", format=format)
    two = export(inputs, tmp_path / f"two.{format}", format=format, jobs=2)
    assert (one.packets, one.fallback) == (two.packets, two.fallback)
    a, b = _content(tmp_path / f"one.{format}", format), _content(tmp_path / f"two.{format}",
                                                                  format)
    assert a.equals(b) if format in ("parquet", "arrow") else a == b


def test_damaged_capture_in_parallel(tmp_path: Path, small_parts: None) -> None:
    frames = [_overlay(i) for i in range(23)]
    path = write_pcap(tmp_path / "d.pcap", frames)
    path.write_bytes(path.read_bytes()[:-7])
    errors = []
    for jobs in (1, 2):
        with pytest.raises(CaptureError) as caught:
            export([path], tmp_path / f"d{jobs}.csv", format="csv", jobs=jobs)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert (tmp_path / "d1.csv").read_bytes() == (tmp_path / "d2.csv").read_bytes()
    with pytest.raises(CaptureError):
        bulk_stats([path], jobs=2)


def reference_stats(paths: list[Path]) -> BulkStats:
    """Statistics from the rich rows, counted one packet at a time."""
    stats = BulkStats()
    for path in paths:
        for row in rich_rows(path):
            stats.packets += 1
            stats.bytes += row["frame.len"]
            vni = row["vxlan.vni"]
            if vni is None:
                continue
            stats.vxlan_packets += 1
            ts = row["frame.time_epoch"]
            stats.vnis.setdefault(vni, Counter()).add(1, row["frame.len"], ts, ts)
            if row["ip.src"] is not None:
                key = (row["ip.src"], row["ip.dst"], vni)
                stats.vtep_pairs.setdefault(key, Counter()).add(1, row["frame.len"], ts, ts)
    return stats


def _without_fallback(stats: BulkStats) -> BulkStats:
    stats.fallback = 0
    return stats


def test_stats_merge(inputs: list[Path], small_parts: None) -> None:
    one = bulk_stats(inputs)
    two = bulk_stats(inputs, jobs=2)
    assert one == two
    assert _without_fallback(one) == reference_stats(inputs)
    assert set(one.vnis) >= {100, 101, 102}
    # Merging is order-free: any split, combined in any order, is the same.
    halves = [bulk_stats(inputs[:2]), bulk_stats(inputs[2:])]
    merged = BulkStats().merge(halves[1]).merge(halves[0])
    assert _without_fallback(merged) == one


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    distributed = dask_or_skip()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local


def test_dask_cluster(tmp_path: Path, inputs: list[Path], cluster: Any,
                      small_parts: None) -> None:
    address = cluster.scheduler_address
    one = export(inputs, tmp_path / "one.parquet")
    dask = export(inputs, tmp_path / "dask.parquet", scheduler=address)
    assert (one.packets, one.fallback, one.files) == (dask.packets, dask.fallback, dask.files)
    assert _content(tmp_path / "one.parquet", "parquet").equals(
        _content(tmp_path / "dask.parquet", "parquet"))
    export(inputs, tmp_path / "one.jsonl", format="jsonl")
    export(inputs, tmp_path / "dask.jsonl", format="jsonl", scheduler=address)
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "dask.jsonl").read_bytes()
    assert bulk_stats(inputs, scheduler=address) == bulk_stats(inputs)


def test_unreachable_scheduler(inputs: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    dask_or_skip()
    monkeypatch.setattr(parallel_module, "CONNECT_TIMEOUT", 1)
    with pytest.raises(parallel_module.SchedulerError):
        bulk_stats(inputs, scheduler="tcp://127.0.0.1:9")


def test_a_malformed_scheduler_address_fails_at_once(tmp_path: Path) -> None:
    """Dask's Client fails on 'garbage', then hangs for 30 s while it is collected: the
    address is checked first (issue #14)."""
    import time

    from vxlankit.bulk.errors import SchedulerError
    from vxlankit.bulk.parallel import map_parts

    started = time.monotonic()
    for address in ("garbage", "tcp://host:", "tcp://127.0.0.1:99999", "a b:1"):
        with pytest.raises(SchedulerError, match="not a Dask scheduler address"):
            list(map_parts([str(tmp_path / "x.pcap")], len, (), scheduler=address))
    assert time.monotonic() - started < 10


def test_many_jobs_on_a_small_capture_start_few_processes(tmp_path: Path) -> None:
    """-j 1000 on a few parts starts a process per part, not a thousand (issue #14: 24 s)."""
    import time

    from vxlankit.bulk import export

    source = synth_captures(tmp_path)[1]
    started = time.monotonic()
    many = export([source], tmp_path / "many.csv", format="csv", jobs=1000)
    assert time.monotonic() - started < 10
    one = export([source], tmp_path / "one.csv", format="csv")
    assert many.packets == one.packets > 0
    assert (tmp_path / "many.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
