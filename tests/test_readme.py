"""The README's promises: every command of its list runs on the capture its first command
(scripts/demo.sh) leaves in out/ping.pcapng, and its exit codes are every code the CLI uses."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import require_module, require_tshark
from vxlankit import cli

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
# What an optional command needs beside vxlankit itself (scripts/setup.sh demo installs it).
NEEDS = {"export": ["pyarrow", "numpy"], "crosscheck": ["pyshark", "tshark"]}


def _command_list() -> list[str]:
    block = README.split("## The commands", 1)[1].split("```")[1]
    return [line.split("  #")[0].strip() for line in block.splitlines()
            if line.startswith("vxlankit ")]


# Commands that need root and the kernel: a live capture (runs until Ctrl-C), the lab, and the
# hosts' saved state with its trace; their own tests run them in namespaces they make
# (tests/capture/test_live.py, tests/lab, tests/state, tests/trace).
ELSEWHERE = {"vxlankit decode -i eth0 -f 'udp port 4789'",
             "vxlankit lab ping --mode learning -o DIR",
             "vxlankit state save -o DIR --all-netns",
             "vxlankit trace DIR --from 10.0.0.3 --to 10.0.0.4 --df"}


def test_the_list_is_the_readme_s() -> None:
    commands = _command_list()
    assert len(commands) == 15 and ELSEWHERE <= set(commands)
    assert {shlex.split(c)[1] for c in commands} == {
        "decode", "stats", "replay", "synth", "crosscheck", "export", "lab", "state", "trace"}


@pytest.mark.parametrize("command", [c for c in _command_list() if c not in ELSEWHERE])
def test_each_command_runs_on_the_demo_capture(command: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    made = CliRunner().invoke(cli.main, ["synth", "ping", "--vni", "4096", "-c", "2", "-w",
                                         "out/ping.pcapng"], catch_exceptions=False)
    assert made.exit_code == 0  # as scripts/demo.sh makes it
    left, _, right = command.partition("|")
    args = shlex.split(left)
    for need in NEEDS.get(args[1], []):
        require_tshark() if need == "tshark" else require_module(need)
    result = CliRunner().invoke(cli.main, args[1:], catch_exceptions=False)
    assert result.exit_code == 0, (command, result.stderr)
    if right:
        reader = shlex.split(right)
        assert reader[0] == "tshark"
        shown = subprocess.run([require_tshark(), *reader[1:]], input=result.stdout_bytes,
                               capture_output=True, check=True).stdout.decode()
        assert "Echo (ping) reply" in shown
        assert len(shown.splitlines()) == int(re.findall(r"wrote (\d+)", result.stderr)[0])


def test_readme_and_cli_md_name_every_exit_code() -> None:
    codes = {value for name, value in vars(cli).items() if name.startswith("EXIT_")}
    codes.add(130)  # interrupted: the guarded commands' KeyboardInterrupt
    sentence = README.split("Exit codes:", 1)[1].split("VXLAN is", 1)[0]
    assert {int(n) for n in re.findall(r"(?<![\d./])(\d{1,3})\b(?! ?[\d%])", sentence)
            if n not in ("4789",)} >= codes
    table = (REPO / "docs" / "cli.md").read_text().split("## Exit codes", 1)[1]
    assert {int(n) for n in re.findall(r"^\| (\d+) \|", table, re.M)} == codes
