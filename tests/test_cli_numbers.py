"""Every option that takes a number refuses a value out of its range as a usage error (exit 2,
a message naming the option), never a traceback, a late failure or a silent acceptance.

The typed options (``click.IntRange``/``FloatRange``) are found in the click command objects
themselves, so a new option is checked the day it is added; the options whose number sits
inside text (``-a duration:S``, ``--delay HOP=MS``, ``-z io,stat,S``, ``--fault vni=N`` ...)
are listed by hand below.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from vxlankit.cli import EXIT_USAGE, main

REPO = Path(__file__).resolve().parents[1]
CAPTURE = str(REPO / "captures" / "synth-ping-vni4096-proxy.pcapng")
HUGE = "99999999999999999999"
# What each command needs besides the option under test for its command line to be whole
# (parsed only: nothing runs).
BASE = {
    ("decode",): [CAPTURE], ("stats",): [CAPTURE], ("replay",): [CAPTURE],
    ("export",): ["-o", "out.csv", CAPTURE], ("crosscheck",): [CAPTURE],
    ("synth", "ping"): [], ("lab", "ping"): [],
    ("trace",): [str(REPO / "tests" / "fixtures" / "state" / "docker"), "--from", "10.0.0.3",
                 "--to", "10.0.0.4"],
    ("state", "save"): ["-o", "state-out"],
}


def _commands(group: click.Group, path: tuple[str, ...] = ()
              ) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _bad_values(kind: click.ParamType) -> list[str]:
    """Values outside the range (both edges, a long way past them) and not numbers at all."""
    assert isinstance(kind, (click.IntRange, click.FloatRange))
    bad = [HUGE, "-" + HUGE, "inf", "-inf", "nan", "", "x"]
    low, high = kind.min, kind.max
    assert low is not None and high is not None, "every numeric option has both bounds"
    if isinstance(kind, click.IntRange):
        bad += [str(int(low) - 1), str(int(high) + 1), "1.5", "0x10"]
    else:
        bad += [_number(low) if kind.min_open else repr(math.nextafter(low, -math.inf)),
                _number(high) if kind.max_open else repr(math.nextafter(high, math.inf)),
                "1e400"]
    return bad


def _cases() -> Iterator[object]:
    for path, command in _commands(main):
        for param in command.params:
            if isinstance(param, click.Option) and isinstance(
                    param.type, (click.IntRange, click.FloatRange)):
                for value in _bad_values(param.type):
                    yield pytest.param(path, param.opts[0], value, param.type,
                                       id=f"{' '.join(path)} {param.opts[0]} {value!r}")


CASES = list(_cases())


def _parse(path: tuple[str, ...], args: list[str]) -> None:
    """Parse ``args`` as the command line of ``path`` (callbacks of options run, the command
    does not)."""
    command: click.Command = main
    ctx = None
    for name in path:
        assert isinstance(command, click.Group)
        ctx = click.Context(command, info_name=name, parent=ctx)
        command = command.commands[name]
    command.make_context(path[-1], args, parent=ctx)


def test_every_numeric_option_is_found() -> None:
    # The generated list must not go empty (a refactor to a new option type would hide them).
    names = {(path, opt) for path, opt, *_ in (c.values for c in CASES)}  # type: ignore[attr-defined]
    assert len(names) >= 30
    assert (("synth", "ping"), "-i") in names and (("export",), "-j") in names


@pytest.mark.parametrize(("path", "option", "value", "kind"), CASES)
def test_out_of_range_is_a_usage_error(path: tuple[str, ...], option: str, value: str,
                                       kind: click.ParamType) -> None:
    base = BASE[path]
    assert isinstance(kind, (click.IntRange, click.FloatRange))
    low = kind.min
    assert low is not None
    good = _number(low if isinstance(kind, click.IntRange) or not kind.min_open
                   else math.nextafter(low, math.inf))
    _parse(path, [option, good, *base])  # the edge itself is fine: the line is whole
    with pytest.raises(click.UsageError) as caught:
        _parse(path, [option, value, *base])
    assert caught.value.exit_code == EXIT_USAGE
    assert option in caught.value.format_message() or (
        caught.value.param is not None and option in caught.value.param.opts)


# Numbers inside text: (command line, what the message says).  Nothing here reaches a network:
# a live capture is asked of an interface that does not exist, and refused before dumpcap.
TEXT_NUMBERS = [
    (["decode", "-i", "vxk-none0", "-a", f"duration:{v}"], "duration")
    for v in ("0", "-1", "nan", "inf", HUGE, "1e400")
] + [
    (["stats", "-i", "vxk-none0", "-a", f"packets:{v}"], "packet count")
    for v in ("0", "-1", HUGE, "2147483648", "1.5")
] + [
    (["stats", "-i", "vxk-none0", "-c", "2147483648"], "-c"),
    (["replay", "-i", "vxk-none0", "-c", HUGE], "-c"),
    (["export", "-o", "x.csv", "-i", "vxk-none0", "-c", "2147483648"], "-c"),
] + [
    (["stats", "-z", f"io,stat,{v}", CAPTURE], "interval")
    for v in ("0", "-1", "nan", "inf", HUGE, "1e-300")
] + [
    (["decode", "-T", "fields", "-e", "ip.src", "-E", f"occurrence={v}", CAPTURE], "occurrence")
    for v in ("0", "-1", HUGE, "nan")
] + [
    (["synth", "ping", "-w", "-", "--delay", f"veth={v}"], "--delay")
    for v in ("-1", "nan", "inf", HUGE, "1e300")
] + [
    (["synth", "ping", "-w", "-", "--subnet", f"10.0.0.0/{v}"], "10.0.0.0/")
    for v in ("-1", "33", "32", HUGE)
] + [
    (["lab", "ping", "--fault", f"{k}={v}"], k)
    for k, values in (("vni", ("-1", "16777216", HUGE, "nan")),
                      ("port", ("0", "-1", "65536", HUGE)),
                      ("underlay-mtu", ("0", "67", "-1", "65536", HUGE, "inf")))
    for v in values
]


@pytest.mark.parametrize(("args", "said"), TEXT_NUMBERS,
                         ids=[" ".join(a[:1] + a[-2:]).replace(CAPTURE, "F")
                              for a, _ in TEXT_NUMBERS])
def test_numbers_in_text_out_of_range_are_usage_errors(args: list[str], said: str,
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    if args[0] == "lab":  # parsed only: the lab would build namespaces
        path = ("lab", "ping")
        with pytest.raises(click.UsageError) as caught:
            _parse(path, args[2:])
        assert caught.value.exit_code == EXIT_USAGE and said in caught.value.format_message()
        return
    monkeypatch.chdir(tmp_path)  # where an export would write, were it accepted
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == EXIT_USAGE, result.output
    assert said in result.output and "Traceback" not in result.output
