"""Export round trips: what each format reads back is the bulk rows (= the rich rows)."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from tests.bulk._support import assert_same_rows, rich_rows, synth_captures, write_pcap
from tests.codec.realcaptures import real_capture
from tests.support import require_tshark
from vxlankit.bulk import EXPORT_FORMATS, ExportError, arrow_schema, column_names, export
from vxlankit.bulk.columns import BY_NAME, IPV4, MAC, TEXT, TIME, rows_to_dicts
from vxlankit.errors import CaptureError


def _inputs(tmp_path: Path) -> list[Path]:
    # The GPE/NSH capture's one packet (a VXLAN-GPE header) is the rich decoder's: an export
    # mixes both paths.
    return [real_capture("tcpdump_vxlan.pcap"), real_capture("ndpi_vxlan.pcap"),
            real_capture("tcpdump_nsh-over-vxlan-gpe.pcap"), *synth_captures(tmp_path)[:2]]


def _expected(paths: list[Path]) -> list[dict[str, Any]]:
    return [row for path in paths for row in rich_rows(path)]


def _epoch(ns: int) -> str:
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def _from_text(name: str, text: str | None) -> Any:
    """A CSV cell (or a JSON value) back to the value the columns hold."""
    kind = BY_NAME[name].kind
    if text is None or text == "":
        return None
    if kind == TIME:
        seconds, _, fraction = str(text).partition(".")
        assert len(fraction) == 9
        return int(seconds) * 1_000_000_000 + int(fraction)
    if kind in (MAC, IPV4, TEXT):
        return text
    return int(text)


def read_back(path: Path, format: str) -> list[dict[str, Any]]:
    if format == "parquet":
        table = pq.read_table(path)
        assert table.schema.equals(arrow_schema())
        return rows_to_dicts(table)
    if format == "arrow":
        with ipc.open_file(path) as reader:
            table = reader.read_all()
        return rows_to_dicts(table)
    if format == "csv":
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            assert tuple(header) == column_names()
            return [{k: _from_text(k, v) for k, v in zip(header, row, strict=True)}
                    for row in reader]
    rows = []
    with open(path) as f:
        for line in f:
            obj = json.loads(line)
            assert tuple(obj) == column_names()
            rows.append({k: _from_text(k, v) for k, v in obj.items()})
    return rows


@pytest.mark.parametrize("format", EXPORT_FORMATS)
def test_round_trip(tmp_path: Path, format: str) -> None:
    paths = _inputs(tmp_path)
    out = tmp_path / f"out.{format}"
    summary = export(paths, out, format=format)
    want = _expected(paths)
    assert summary.packets == len(want) and summary.files == len(paths)
    assert 0 < summary.fallback < summary.packets  # the GPE packet
    got = read_back(out, format)
    if format == "csv":
        # CSV cannot tell an empty string from a missing value; no column holds "" anyway.
        assert all(v != "" for row in want for v in row.values())
    assert_same_rows(got, want, format)


def test_arrow_file_has_plain_strings(tmp_path: Path) -> None:
    out = tmp_path / "x.arrow"
    export([real_capture("tcpdump_vxlan.pcap")], out, format="arrow")
    with ipc.open_file(out) as reader:
        schema = reader.schema
    assert schema.field("ip.src").type == pa.string()
    assert schema.field("frame.time_epoch").type == pa.timestamp("ns", tz="UTC")


def test_text_formats_write_epoch_seconds(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "t.pcap", [bytes(60)])
    export([path], tmp_path / "t.jsonl", format="jsonl")
    export([path], tmp_path / "t.csv", format="csv")
    line = json.loads((tmp_path / "t.jsonl").read_text())
    assert line["frame.time_epoch"] == _epoch(1_700_000_000 * 10**9)
    assert line["frame.number"] == 1 and line["ip.src"] is None
    rows = list(csv.reader((tmp_path / "t.csv").read_text().splitlines()))
    assert rows[1][1] == "1700000000.000000000"


def test_bad_requests(tmp_path: Path) -> None:
    src = real_capture("tcpdump_vxlan.pcap")
    with pytest.raises(ExportError, match="unknown export format"):
        export([src], tmp_path / "x", format="xml")
    with pytest.raises(ExportError, match="needs a file"):
        export([src], "-", format="parquet")
    with pytest.raises(ExportError, match="jobs"):
        export([src], tmp_path / "x", jobs=0)
    with pytest.raises(ExportError, match="cannot write"):
        export([src], tmp_path / "missing-dir" / "x.parquet")
    assert not list(tmp_path.glob(".vxlankit-export-*"))


def test_damaged_capture_keeps_what_came_before(tmp_path: Path) -> None:
    """Like the reader: every record before the damage is exported, then the error."""
    data = real_capture("tcpdump_vxlan.pcap").read_bytes()
    damaged = tmp_path / "cut.pcap"
    damaged.write_bytes(data[:-10])
    out = tmp_path / "cut.parquet"
    with pytest.raises(CaptureError, match="truncated record") as caught:
        export([damaged], out)
    assert caught.value.packet == 10
    table = pq.read_table(out)
    assert table.column("frame.number").to_pylist() == list(range(1, 10))


def test_not_a_capture(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture at all")
    with pytest.raises(CaptureError, match="magic"):
        export([junk], tmp_path / "j.parquet")


def test_documented_schema_is_the_schema() -> None:
    """docs/export.md's schema table lists every column, in order, with its Arrow type and
    nullability, so the document cannot drift from the code."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "export.md").read_text()
    section = doc.split("\n## Schema\n")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = []
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        documented.append((cells[0].strip("`"), cells[1], cells[2]))
    schema = arrow_schema()
    expected = []
    for f in schema:
        kind = "dictionary<int32, string>" if pa.types.is_dictionary(f.type) else str(f.type)
        expected.append((f.name, kind, "yes" if f.nullable else "no"))
    assert documented == expected


def test_interface_name_agrees_with_tshark(tmp_path: Path) -> None:
    """A multi-tap pcapng's tap names, as tshark reads them (frame.interface_name); a classic
    pcap names no interface: null, where tshark prints nothing."""
    tshark = require_tshark()
    paths = [*synth_captures(tmp_path)[:1], real_capture("tcpdump_vxlan.pcap")]
    out = tmp_path / "names.parquet"
    export(paths, out)
    got = pq.read_table(out).column("frame.interface_name").to_pylist()
    want: list[str | None] = []
    for path in paths:
        names = subprocess.run([tshark, "-r", str(path), "-T", "fields", "-e",
                                "frame.interface_name"], capture_output=True, text=True,
                               check=True).stdout.splitlines()
        want += [name or None for name in names]
    assert got == want
    assert {"node1/veth-C1", "node2/eth0"} <= set(got) and got[-1] is None


@pytest.mark.parametrize("name", ["ndpi_vxlan.pcap", "suricata-verify_vxlan-decoder-03_vxlan.pcap",
                                  "tcpdump_erspan-type-iii-ft-0.pcap"])
def test_inner_udp_ports_and_vlan_id_agree_with_tshark(name: str) -> None:
    """The inner transport ports (`udp.srcport#2`, `udp.dstport#2`: DNS and NTP inside VXLAN
    here) and the first 802.1Q tag's `vlan.id`, exported by default, equal tshark's second
    occurrence of the UDP ports and first of vlan.id on every packet."""
    from vxlankit.bulk import iter_batches

    path = real_capture(name)
    table = pa.Table.from_batches(list(iter_batches([path])))
    ours = list(zip(table.column("vlan.id").to_pylist(), table.column("udp.srcport#2").to_pylist(),
                    table.column("udp.dstport#2").to_pylist(), strict=True))
    out = subprocess.run([require_tshark(), "-n", "-r", str(path), "-T", "fields", "-e", "vlan.id",
                          "-e", "udp.srcport", "-e", "udp.dstport", "-E", "occurrence=a"],
                         capture_output=True, text=True, check=True).stdout

    def nth(cell: str, k: int) -> int | None:
        values = [v for v in cell.split(",") if v]
        return int(values[k]) if len(values) > k else None

    theirs = [(nth(v, 0), nth(s, 1), nth(d, 1))
              for v, s, d in (line.split("\t") for line in out.splitlines())]
    assert ours == theirs
    # each has inner UDP or VLAN tags (ERSPAN's mirrored frames are tagged)
    assert any(port is not None or vlan is not None for vlan, _, port in ours)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_interface_names_that_are_not_utf8_export_escaped(tmp_path: Path, fmt: str) -> None:
    # Found by the fuzz campaign (tests/fuzz): a damaged if_name (bytes that are not UTF-8,
    # read with surrogateescape) made pyarrow raise UnicodeEncodeError.
    from vxlankit import build, encode
    from vxlankit.capture import PcapngWriter

    path = tmp_path / "latin1.pcapng"
    frame = encode([build.eth(), build.ipv4(src="1.1.1.1", dst="2.2.2.2"), build.udp()])
    with PcapngWriter(str(path)) as ng:
        iface = ng.add_interface("caf\udce9", 1)
        ng.write(frame, 1_000_000_000, iface)
    out = tmp_path / f"x.{fmt}"
    assert export([path], out, format=fmt).packets == 1
    if fmt == "parquet":
        names = pq.read_table(out).column("frame.interface_name").to_pylist()
    elif fmt == "csv":
        names = [r["frame.interface_name"] for r in csv.DictReader(out.open(encoding="utf-8"))]
    else:
        names = [json.loads(line)["frame.interface_name"] for line in out.open()]
    assert names == ["caf\\xe9"]
