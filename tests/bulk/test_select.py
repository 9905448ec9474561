"""``export -Y`` and ``export -e``: the rows ``decode -Y`` shows, the columns tshark prints."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.bulk._support import synth_captures
from tests.codec.realcaptures import real_capture
from tests.support import require_tshark
from vxlankit.bulk import SelectionError, arrow_schema, export, iter_batches
from vxlankit.bulk.columns import rows_to_dicts
from vxlankit.bulk.select import ExportSelection
from vxlankit.bulk.writers import epoch_text
from vxlankit.cli import main
from vxlankit.errors import CaptureError, FilterError
from vxlankit.layers.registry import ALIASES, FIELDS
from vxlankit.present.filter import compile_filter
from vxlankit.present.run import decode_capture

REAL = ["ndpi_vxlan.pcap", "suricata-verify_vxlan-decoder-03_vxlan.pcap", "tcpdump_geneve.pcap",
        "tcpdump_vxlan.pcap", "tcpdump_gso-ipv6-vxlan-ipv6.pcap",
        "suricata-verify_vxlan-non-zero-reserved-fields_input.pcap",
        "tcpdump_icmpv6-ra-pref64.pcap", "tcpdump_dns_udp.pcap"]
FILTERS = ["tcp", "udp && !vxlan", "icmp || arp", "vxlan.vni == 4096", "ipv6", "not tcp",
           "frame.time_relative > 0.0001", "tcp.flags.syn == 1", "ip.addr == 10.0.0.3",
           "frame.number in {1 3 5..9}"]


def _table(path: Path, format: str = "parquet") -> pa.Table:
    if format == "parquet":
        return pq.read_table(path)
    with ipc.open_file(path) as reader:
        return reader.read_all()


def _numbers_shown(path: Path, expr: str) -> list[int]:
    test = compile_filter(expr, known_fields=[*FIELDS, *ALIASES])
    return [item.record.number for item in decode_capture(path, filter=test)]


def _captures(tmp_path: Path) -> list[Path]:
    return [*synth_captures(tmp_path)[:3], *(real_capture(name) for name in REAL)]


@pytest.mark.parametrize("expr", FILTERS)
def test_rows_are_those_decode_shows(tmp_path: Path, expr: str) -> None:
    """-Y keeps exactly the packets ``decode -Y`` shows, with their whole bulk rows."""
    for path in _captures(tmp_path):
        out = tmp_path / "sel.parquet"
        summary = export([path], out, display_filter=expr)
        table = _table(out)
        assert table.schema.equals(arrow_schema())
        numbers = table.column("frame.number").to_pylist()
        assert numbers == _numbers_shown(path, expr), (path.name, expr)
        assert summary.packets == len(numbers)
        whole = pa.Table.from_batches(list(iter_batches([path])))
        assert summary.read == whole.num_rows
        if numbers:
            wanted = whole.filter(pa.compute.is_in(whole.column("frame.number"),
                                                   pa.array(numbers, pa.uint64())))
            assert rows_to_dicts(table) == rows_to_dicts(wanted)


def test_filter_spans_batches_and_files(tmp_path: Path) -> None:
    """Rows cut at batch ends and the next file's times start again, as in decode."""
    from vxlankit.bulk import writers

    paths = synth_captures(tmp_path)[:2]
    selection = ExportSelection(["frame.number", "frame.time_relative", "frame.time_delta"],
                                "icmp")
    got = []
    for batch, _ in writers.decoded_batches(paths, batch_records=5, selection=selection):
        got += pa.table({n: batch.column(n).cast(pa.int64()) for n in batch.schema.names}
                        ).to_pylist()
    want = []
    for path in paths:
        test = compile_filter("icmp")
        for item in decode_capture(path, filter=test):
            ts = item.record.ts_ns
            want.append({"frame.number": item.record.number,
                         "frame.time_relative": ts - item.first_ts_ns,
                         "frame.time_delta": ts - item.prev_ts_ns})
    assert got == want and len(got) > 8


FIELDS_VS_TSHARK = ["frame.number", "ip.addr", "ip.addr#2", "ip.addr#3", "ip.addr#4",
                    "eth.addr", "eth.addr#2", "eth.addr#3", "icmpv6.opt.linkaddr",
                    "tcp.options", "tcp.ack", "tcp.ack_raw", "ip.version", "ip.version#2",
                    "ip.src#2", "tcp.srcport", "tcp.seq", "tcp.len", "tcp.options.mss_val",
                    "udp.srcport#2", "ipv6.src", "dns.qry.name", "frame.time_relative",
                    "frame.time_delta", "frame.time_delta_displayed", "eth.src#2", "vxlan.vni",
                    "geneve.vni"]


def _tshark_fields(path: Path, expr: str, names: list[str]) -> list[list[str]]:
    bases = list(dict.fromkeys(n.partition("#")[0] for n in names))
    cmd = [require_tshark(), "-n", "-r", str(path), "-Y", expr, "-T", "fields",
           "-E", "occurrence=a", "-E", "aggregator=|"]
    for base in bases:
        cmd += ["-e", base]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        cells = dict(zip(bases, line.split("\t"), strict=True))
        row = []
        for name in names:
            base, _, nth = name.partition("#")
            # our CSV has numbers in decimal where tshark shows some in hex (geneve.vni)
            values = [str(int(v, 16)) if v.startswith("0x") else v
                      for v in cells[base].split("|") if v]
            k = int(nth or 1) - 1
            row.append(values[k] if len(values) > k else "")
        rows.append(row)
    return rows


@pytest.mark.parametrize("name", REAL)
def test_columns_agree_with_tshark(tmp_path: Path, name: str) -> None:
    """-e FIELD#N (bulk or rich) is tshark's N-th occurrence of FIELD, packet by packet, in
    the rows -Y keeps; the CSV text is tshark's text."""
    path = real_capture(name)
    for expr in ("frame.number > 0", "tcp || udp"):
        out = tmp_path / "cols.csv"
        export([path], out, format="csv", display_filter=expr, fields=FIELDS_VS_TSHARK)
        with open(out, newline="") as f:
            reader = csv.reader(f)
            assert next(reader) == FIELDS_VS_TSHARK
            ours = list(reader)
        assert ours == _tshark_fields(path, expr, FIELDS_VS_TSHARK), name


def test_typed_columns(tmp_path: Path) -> None:
    """A rich column's type is its field's: widths from the declaration, addresses and names
    as dictionary strings, relative times as durations."""
    path = real_capture("ndpi_vxlan.pcap")
    out = tmp_path / "t.parquet"
    fields = ["tcp.seq", "tcp.options.mss_val", "tcp.flags.syn", "ip.addr#3", "dns.qry.name",
              "frame.time_relative", "frame.time", "ip.src", "udp.port"]
    export([path], out, fields=fields)
    schema = _table(out).schema
    assert schema.names == fields
    types = {f.name: f.type for f in schema}
    assert types["tcp.seq"] == pa.uint32()
    assert types["tcp.options.mss_val"] == pa.uint16()  # declared size: no place in a header
    assert types["tcp.flags.syn"] == pa.uint8()
    assert types["ip.addr#3"] == pa.dictionary(pa.int32(), pa.string())
    assert types["frame.time_relative"] == pa.duration("ns")
    assert types["frame.time"] == pa.timestamp("ns", tz="UTC")
    assert types["udp.port"] == pa.uint16()
    assert schema.field("ip.src").nullable  # a bulk column keeps its own schema field
    assert types["ip.src"] == arrow_schema().field("ip.src").type


@pytest.mark.parametrize("format", ["parquet", "arrow", "csv", "jsonl"])
def test_bulk_projection_runs_in_parallel(tmp_path: Path, format: str) -> None:
    """-e with bulk columns only is a projection: -j 2 gives the single process's file."""
    paths = synth_captures(tmp_path)[:3]
    fields = ["vxlan.vni", "ip.src#2", "frame.time_epoch", "frame.interface_name", "icmp.seq"]
    one, two = tmp_path / f"one.{format}", tmp_path / f"two.{format}"
    export(paths, one, format=format, fields=fields)
    export(paths, two, format=format, fields=fields, jobs=2)
    assert one.read_bytes() == two.read_bytes() or format in ("parquet", "arrow")
    if format in ("parquet", "arrow"):
        a, b = _table(one, format), _table(two, format)
        assert a.schema.names == fields and rows_to_dicts(a) == rows_to_dicts(b)
        whole = pa.Table.from_batches(list(iter_batches(paths))).select(fields)
        assert rows_to_dicts(a) == rows_to_dicts(whole)
    elif format == "jsonl":
        first = json.loads(one.read_text().splitlines()[0])
        assert list(first) == fields and first["frame.time_epoch"].count(".") == 1


def test_requests_that_cannot_be(tmp_path: Path) -> None:
    path = synth_captures(tmp_path)[0]
    out = tmp_path / "x.parquet"
    with pytest.raises(SelectionError, match="no such field"):
        export([path], out, fields=["ip.sorce"])
    with pytest.raises(SelectionError, match="twice"):
        export([path], out, fields=["ip.src", "ip.src"])
    with pytest.raises(SelectionError, match="occurrence"):
        export([path], out, fields=["ip.src#0"])
    with pytest.raises(SelectionError, match="one process"):
        export([path], out, display_filter="icmp", jobs=2)
    with pytest.raises(SelectionError, match="one process"):
        export([path], out, fields=["dns.qry.name"], jobs=2)
    with pytest.raises(FilterError, match="neither a field nor a protocol"):
        export([path], out, display_filter="ip.sorce == 1")
    with pytest.raises(SelectionError, match="packet comments"):  # it could never match
        export([path], out, display_filter='frame.comment contains "x"')
    assert not out.exists()


def test_nothing_passes(tmp_path: Path) -> None:
    """A filter that keeps nothing still writes a file with the columns (CSV: the header)."""
    path = synth_captures(tmp_path)[0]
    export([path], tmp_path / "none.parquet", display_filter="tcp")
    assert _table(tmp_path / "none.parquet").num_rows == 0
    export([path], tmp_path / "none.csv", format="csv", display_filter="tcp",
           fields=["ip.src", "tcp.seq"])
    assert (tmp_path / "none.csv").read_text() == '"ip.src","tcp.seq"\n'


def test_damage_keeps_the_selected_rows_before_it(tmp_path: Path) -> None:
    data = real_capture("tcpdump_vxlan.pcap").read_bytes()
    damaged = tmp_path / "cut.pcap"
    damaged.write_bytes(data[:-10])
    out = tmp_path / "cut.csv"
    with pytest.raises(CaptureError) as caught:
        export([damaged], out, format="csv", display_filter="frame.number != 2",
               fields=["frame.number"])
    assert caught.value.packet == 10
    assert out.read_text().split() == ['"frame.number"', *map(str, [1, *range(3, 10)])]


def test_negative_durations_print_with_a_sign() -> None:
    durations = pa.array([-1_500_000_000, 0, 7, None], pa.duration("ns"))
    assert epoch_text(durations).to_pylist() == ["-1.500000000", "0.000000000", "0.000000007",
                                                 None]
    # a timestamp before 1970 (a pcapng interface's if_tsoffset can make one), as decode -T
    # fields prints it (it printed "9.500000000")
    stamps = pa.array([-9_500_000_000, 1_700_000_000_000_000_001], pa.timestamp("ns", "UTC"))
    assert epoch_text(stamps).to_pylist() == ["-9.500000000", "1700000000.000000001"]


def test_command_line(tmp_path: Path) -> None:
    path = synth_captures(tmp_path)[0]
    runner = CliRunner()
    out = tmp_path / "cli.csv"
    done = runner.invoke(main, ["export", str(path), "-o", str(out), "-Y", "arp",
                                "-e", "frame.number", "-e", "arp.opcode"])
    assert done.exit_code == 0, done.output
    assert "exported 4 of 28 packets" in done.output
    assert out.read_text().splitlines()[1:] == ["1,1", "2,2", "7,1", "8,2"]
    for args, message in ((["-e", "foo.bar"], "no such field"),
                          (["-Y", "foo"], "neither a field nor a protocol"),
                          (["-Y", "icmp", "-j", "2"], "one process"),
                          (["-Y", "vxlan.vni == 99999999"], "")):
        done = runner.invoke(main, ["export", str(path), "-o", str(out), *args])
        assert done.exit_code == 2, (args, done.output)
        assert message in done.output




ROW_FILTERS = ["tcp", "udp && !vxlan", "icmp || arp", "ipv6", "not tcp", "vxlan.vni == 1",
               "tcp.flags.syn == 1 && tcp.flags.ack == 0", "udp.port == 53", "eth.addr[0] == 00",
               "frame.time_delta > 0.001", "ip.ttl < 64", "dns.qry.name contains \"tcpdump\"",
               "geneve || gre", "frame.len > 200", "icmpv6.type == 134",
               # bare aliases (a packet with either field), and IPv6's hidden ip.version
               "tcp.port", "ip.addr", "udp.port", "eth.addr", "ip.version == 6", "ip.version"]


@pytest.mark.parametrize("name", REAL)
def test_rows_are_those_tshark_shows(tmp_path: Path, name: str) -> None:
    """-Y keeps the packets tshark's -Y keeps (the filter's meaning, not only its plumbing)."""
    path = real_capture(name)
    for expr in ROW_FILTERS:
        out = tmp_path / "rows.parquet"
        export([path], out, display_filter=expr, fields=["frame.number"])
        ours = _table(out).column("frame.number").to_pylist()
        theirs = subprocess.run(
            [require_tshark(), "-n", "-r", str(path), "-d", "udp.port==8472,vxlan", "-Y", expr,
             "-T", "fields", "-e", "frame.number"],
            capture_output=True, text=True, check=True).stdout.split()
        assert ours == [int(n) for n in theirs], (name, expr)
