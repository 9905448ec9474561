"""Splicing Parquet parts into one file: the same bytes pyarrow writes in one go, and parts it
cannot take refused whole (``export -j`` then encodes them itself)."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.bulk._support import write_pcap
from vxlankit import build, encode
from vxlankit.bulk import export, thrift
from vxlankit.bulk.errors import ExportError
from vxlankit.bulk.frames import BATCH_RECORDS
from vxlankit.bulk.splice import SpliceError, Splicer, footer

SCHEMA = pa.schema([("n", pa.int64()), ("s", pa.dictionary(pa.int32(), pa.string())),
                    ("f", pa.float64())])


def _batch(start: int, rows: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({
        "n": [start + i if i % 7 else None for i in range(rows)],
        "s": pa.array([f"v{(start + i) % 5}" for i in range(rows)]).dictionary_encode(),
        "f": [(start + i) / 3 for i in range(rows)]}, schema=SCHEMA)


def _parquet(batches: list[pa.RecordBatch], **options: object) -> bytes:
    buffer = io.BytesIO()
    with pq.ParquetWriter(buffer, SCHEMA, use_dictionary=["s"], **options) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return buffer.getvalue()


BATCHES = [_batch(i * 100, 100 + i) for i in range(7)]


@pytest.mark.parametrize("cut", [[0, 7], [0, 1, 7], [0, 2, 3, 6, 7], list(range(8))])
def test_spliced_parts_are_the_file_pyarrow_writes(cut: list[int]) -> None:
    out = io.BytesIO()
    splicer = Splicer(out)
    for a, b in itertools.pairwise(cut):
        splicer.add(_parquet(BATCHES[a:b]))
    splicer.close()
    assert out.getvalue() == _parquet(BATCHES)


def _groups(meta: list[thrift.Field]) -> list[list[thrift.Field]]:
    return thrift.get(meta, 4)[2][1]  # type: ignore[index,no-any-return]


def _rewritten(data: bytes, change: Callable[[list[thrift.Field]], object]) -> bytes:
    """The Parquet file ``data`` with its footer read, changed in place by ``change``, and
    written back."""
    meta, start = footer(data)
    change(meta)
    encoded = thrift.write_struct(meta)
    return data[:start] + encoded + len(encoded).to_bytes(4, "little") + b"PAR1"


def test_row_group_ordinals_are_renumbered() -> None:
    # pyarrow writes a row group's ordinal only with encryption; other writers always do.
    def numbered(meta: list[thrift.Field]) -> None:
        for i, group in enumerate(_groups(meta)):
            group.append([7, thrift.I16, i])

    out = io.BytesIO()
    splicer = Splicer(out)
    for a in range(0, 7, 2):
        splicer.add(_rewritten(_parquet(BATCHES[a:a + 2]), numbered))
    splicer.close()
    meta, _ = footer(out.getvalue())
    assert [thrift.get(group, 7) for group in _groups(meta)] == [
        [7, thrift.I16, i] for i in range(7)]
    assert pq.read_table(io.BytesIO(out.getvalue())).equals(pa.Table.from_batches(BATCHES))


def test_statistics_stay_valid_where_they_land() -> None:
    out = io.BytesIO()
    splicer = Splicer(out)
    for a in range(0, 7, 3):
        splicer.add(_parquet(BATCHES[a:a + 3]))
    splicer.close()
    data = out.getvalue()
    table = pq.read_table(io.BytesIO(data))
    assert table.equals(pa.Table.from_batches(BATCHES))
    part = pq.ParquetFile(io.BytesIO(data))
    assert part.metadata.num_row_groups == 7
    for group in range(7):
        stats = part.metadata.row_group(group).column(0).statistics
        assert stats.max == max(v for v in BATCHES[group].column(0).to_pylist() if v is not None)
    # Filters read the statistics at their new places.
    picked = pq.read_table(io.BytesIO(data), filters=[("n", ">=", 600)])
    assert sorted(picked.column("n").to_pylist()) == sorted(
        v for b in BATCHES for v in b.column(0).to_pylist() if v is not None and v >= 600)


def test_a_part_with_a_page_index_is_refused() -> None:
    # An offset index lists its pages' absolute offsets inside the part: copied as they are,
    # they would point into the part, not the file (pyarrow does not read them; DuckDB, Spark
    # and arrow-rs do).  Found in review.
    splicer = Splicer(io.BytesIO())
    with pytest.raises(SpliceError, match="page index"):
        splicer.add(_parquet(BATCHES[:2], write_page_index=True))
    assert not splicer.started


def test_parts_from_another_pyarrow_release_still_splice() -> None:
    # The writer's name (created_by) may differ between a Dask cluster's workers.
    first = _parquet(BATCHES[:3])
    unknown_field = _with_field(_parquet(BATCHES[3:]), lambda meta: meta, [99, thrift.I32, 0])

    def renamed(meta: list[thrift.Field]) -> None:
        created_by = thrift.get(meta, 6)
        assert created_by is not None
        created_by[2] = b"parquet-cpp-arrow version 99.0.0"

    other = _rewritten(_parquet(BATCHES[3:]), renamed)
    out = io.BytesIO()
    splicer = Splicer(out)
    splicer.add(first)
    splicer.add(other)
    splicer.close()
    assert pq.read_table(io.BytesIO(out.getvalue())).equals(pa.Table.from_batches(BATCHES))
    with pytest.raises(SpliceError, match="field 99"):
        Splicer(io.BytesIO()).add(unknown_field)


def test_empty_parts_and_no_parts() -> None:
    out = io.BytesIO()
    splicer = Splicer(out)
    splicer.add(_parquet([]))
    splicer.add(_parquet(BATCHES[:2]))
    splicer.add(_parquet([]))
    splicer.close()
    assert out.getvalue() == _parquet(BATCHES[:2])
    with pytest.raises(SpliceError, match="no part"):
        Splicer(io.BytesIO()).close()


def _first_chunk(meta: list[thrift.Field]) -> list[thrift.Field]:
    first_group = _groups(meta)[0]
    return thrift.get(first_group, 1)[2][1][0]  # type: ignore[index,no-any-return]


def _with_field(data: bytes, where: Callable[[list[thrift.Field]], list[thrift.Field]],
                field: thrift.Field) -> bytes:
    """``data`` with ``field`` added to the struct ``where`` picks out of its footer."""
    return _rewritten(data, lambda meta: where(meta).append(field))


@pytest.mark.parametrize("bad, match", [
    (b"not parquet at all", "PAR1"),
    (b"PAR1" + b"\x00" * 8 + b"PAR1", "footer"),
    (b"PAR1\xff\xff\xff\x7fPAR1", "longer than the file"),
])
def test_what_is_not_a_parquet_file_is_refused(bad: bytes, match: str) -> None:
    with pytest.raises(SpliceError, match=match):
        Splicer(io.BytesIO()).add(bad)


def test_a_refused_part_writes_nothing() -> None:
    good = _parquet(BATCHES[:2])
    other = io.BytesIO()
    pq.write_table(pa.table({"x": [1, 2]}), other)
    unknown_in_chunk = _with_field(good, _first_chunk, [30, thrift.I64, 12345])
    encrypted = _with_field(good, lambda meta: meta, [8, thrift.STRUCT, []])
    for bad, match in [(other.getvalue(), "another schema"), (unknown_in_chunk, "field 30"),
                       (encrypted, "encrypted")]:
        out = io.BytesIO()
        splicer = Splicer(out)
        splicer.add(good)
        size = len(out.getvalue())
        with pytest.raises(SpliceError, match=match):
            splicer.add(bad)
        assert len(out.getvalue()) == size
        splicer.close()
        assert out.getvalue() == good


def _capture(tmp_path: Path, count: int) -> Path:
    frames = [encode([build.eth(), build.ipv4(src="192.0.2.1", dst="192.0.2.2"),
                      build.udp(40000 + i, 4789, checksum=0), build.vxlan(vni=100 + i),
                      build.eth(src="0a:00:00:00:00:01"),
                      build.ipv4(src="10.0.0.1", dst="10.0.0.2"),
                      build.icmp_echo(ident=1, seq=i)]) for i in range(7)]
    return write_pcap(tmp_path / "c.pcap", [frames[i % 7] for i in range(count)])


def test_export_jobs_2_writes_the_same_bytes_as_one_process(tmp_path: Path) -> None:
    # More than one part of the default size, so the parts are spliced and the row groups
    # (batches) fall where one process puts them.
    path = _capture(tmp_path, 2 * BATCH_RECORDS + 1000)
    export([path], tmp_path / "one.parquet")
    export([path], tmp_path / "two.parquet", jobs=2)
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "two.parquet").read_bytes()


def test_export_encodes_parts_itself_when_the_first_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _capture(tmp_path, 300)

    def refuse(self: Splicer, data: bytes) -> None:
        raise SpliceError("refused by the test")

    export([path], tmp_path / "one.parquet")
    monkeypatch.setattr("vxlankit.bulk.parallel.RECORDS_PER_PART", 50)
    monkeypatch.setattr(Splicer, "add", refuse)
    summary = export([path], tmp_path / "two.parquet", jobs=2)
    assert summary.packets == 300
    assert pq.read_table(tmp_path / "two.parquet").equals(pq.read_table(tmp_path / "one.parquet"))


def test_a_part_refused_after_splicing_began_fails_the_export(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _capture(tmp_path, 300)
    real_add = Splicer.add
    calls = []

    def second_refused(self: Splicer, data: bytes) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise SpliceError("refused by the test")
        real_add(self, data)

    monkeypatch.setattr("vxlankit.bulk.parallel.RECORDS_PER_PART", 50)
    monkeypatch.setattr(Splicer, "add", second_refused)
    with pytest.raises(ExportError, match="cannot be spliced"):
        export([path], tmp_path / "two.parquet", jobs=2)
    assert not (tmp_path / "two.parquet").exists()

