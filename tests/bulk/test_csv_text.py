"""``export --format csv`` as text: ``frame.time_epoch`` and every integer column bare, as
``tshark -T fields -E separator=,`` prints them; strings quoted the CSV way."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

from tests.support import require_module, require_tshark
from tests.test_cli import run
from vxlankit.bulk.columns import BY_NAME, TIME, U8, U16, U32, U64


def _export(tmp_path: Path, capture: Path) -> list[str]:
    require_module("pyarrow")
    out = tmp_path / "out.csv"
    result = run("export", str(capture), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    return out.read_text().splitlines()


def _synth(tmp_path: Path) -> Path:
    capture = tmp_path / "ping.pcapng"
    assert run("synth", "ping", "-c", "2", "-w", str(capture)).exit_code == 0
    return capture


def test_numbers_are_bare_and_strings_quoted(tmp_path: Path) -> None:
    lines = _export(tmp_path, _synth(tmp_path))
    names = next(csv.reader([lines[0]]))
    cells = [line.split(",") for line in lines[1:]]  # no string here holds a comma
    numeric = {n for n in names if BY_NAME[n].kind in (TIME, U8, U16, U32, U64)}
    assert {"frame.time_epoch", "frame.number", "vxlan.vni", "udp.dstport"} <= numeric
    for row in cells:
        for name, cell in zip(names, row, strict=True):
            if name in numeric:
                assert not cell.startswith('"'), (name, cell)
            elif cell:
                assert cell.startswith('"') and cell.endswith('"'), (name, cell)
    assert cells[0][names.index("frame.time_epoch")] == "1767225600.000010670"


def test_time_epoch_is_what_tshark_prints(tmp_path: Path) -> None:
    capture = _synth(tmp_path)
    lines = _export(tmp_path, capture)
    column = next(csv.reader([lines[0]])).index("frame.time_epoch")
    ours = [line.split(",")[column] for line in lines[1:]]
    theirs = subprocess.run([require_tshark(), "-r", str(capture), "-T", "fields", "-e",
                             "frame.time_epoch"], capture_output=True, text=True,
                            check=True).stdout.split()
    assert ours == theirs and len(ours) == 20


def test_quotes_and_commas_in_strings_survive(tmp_path: Path) -> None:
    """A string with a quote, a comma and a line break (the errors column can hold any text)
    reads back as it was; a null stays an empty cell, apart from an empty string."""
    pa = require_module("pyarrow")
    pa_csv = require_module("pyarrow.csv")
    from vxlankit.bulk.writers import _csv_bytes

    batch = pa.RecordBatch.from_arrays(
        [pa.array([0, 1_700_000_000_123_456_789], pa.timestamp("ns", tz="UTC")),
         pa.array(['say "hi", twice\nthen go', None]),
         pa.array(["", "x"]).dictionary_encode(),
         pa.array([None, 7], pa.uint16())],
        names=["frame.time_epoch", "vxlankit.errors", "frame.protocols", "udp.dstport"])
    text = _csv_bytes(batch, header=True)
    assert text.splitlines()[1] == b'0.000000000,"say ""hi"", twice'
    assert text.endswith(b'\n1700000000.123456789,,"x",7\n')
    back = pa_csv.read_csv(pa.py_buffer(text), convert_options=pa_csv.ConvertOptions(
        column_types={"frame.time_epoch": pa.string()}, strings_can_be_null=True,
        quoted_strings_can_be_null=False))
    assert back.column("vxlankit.errors").to_pylist() == ['say "hi", twice\nthen go', None]
    assert back.column("frame.protocols").to_pylist() == ["", "x"]
    assert back.column("frame.time_epoch").to_pylist() == ["0.000000000",
                                                           "1700000000.123456789"]
