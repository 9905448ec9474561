"""The captures shipped in captures/ are exactly what their documented commands produce."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from vxlankit.cli import main

CAPTURES = Path(__file__).resolve().parents[1] / "captures"


def _commands() -> list[list[str]]:
    text = (CAPTURES / "README.md").read_text()
    return [shlex.split(line)[1:] for line in text.splitlines() if line.startswith("vxlankit ")]


def test_every_shipped_file_has_a_command() -> None:
    made = {Path(arg).name for cmd in _commands() for arg in cmd if arg.startswith("captures/")}
    shipped = {p.name for p in CAPTURES.iterdir() if p.name != "README.md"}
    assert made == shipped


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c[:6]))
def test_regenerates_byte_for_byte(command: list[str], tmp_path: Path) -> None:
    outputs = {arg: tmp_path / Path(arg).name for arg in command if arg.startswith("captures/")}
    args = [str(outputs.get(arg, arg)) for arg in command]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for original, fresh in outputs.items():
        assert fresh.read_bytes() == (CAPTURES.parent / original).read_bytes(), original


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c[:6]))
def test_each_file_has_the_name_synth_gives_it(command: list[str], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Run without -w, the command writes the file under the very name it ships with; its
    ladder diagram, if any, has the capture's name with .svg."""
    args = list(command)
    shipped = Path(args.pop(args.index("-w") + 1)).name
    args.remove("-w")
    if "--diagram" in args:
        svg = Path(args.pop(args.index("--diagram") + 1)).name
        args.remove("--diagram")
        assert svg == Path(shipped).stem + ".svg"
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, [*args, "-c", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == [shipped]
