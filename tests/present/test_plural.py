"""Counted nouns in what the commands print: ``1 FDB entry``, ``2 echo requests``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_cli import run
from vxlankit.present.plural import counted, plural


@pytest.mark.parametrize(("noun", "many"), [
    ("packet", "packets"), ("FDB entry", "FDB entries"), ("reply", "replies"),
    ("echo request", "echo requests"), ("VTEP", "VTEPs"), ("key", "keys"), ("box", "boxes"),
    ("inner conversation", "inner conversations"), ("day", "days")])
def test_plural_and_counted(noun: str, many: str) -> None:
    assert plural(noun) == many
    assert counted(1, noun) == f"1 {noun}"
    assert counted(0, noun) == f"0 {many}"
    assert counted(2, noun) == f"2 {many}"
    assert counted(3, "datum", "data") == "3 data"


# A number, then a plural noun: "1 packets" is what must not appear.
_ONE_PLURAL = re.compile(r"(?<![\d.])1 (packets|taps|files|echo requests|replies|VTEPs|"
                         r"FDB entries|requests|frames|fields|layers|disagreements)\b")
_MANY_SINGULAR = re.compile(r"(?<![\d.])([02-9]|\d\d+) (packet|tap|file|echo request|reply|VTEP|"
                            r"FDB entry|request|frame)\b(?!s)")


def test_one_of_everything_is_singular(tmp_path: Path) -> None:
    """A one-echo run, a one-tap file and its replay: every count of one in the singular, every
    other count in the plural."""
    one = tmp_path / "one.pcap"
    synth = run("synth", "ping", "-c", "1", "--tap", "node2/eth0", "-w", str(one))
    assert synth.exit_code == 0, synth.stderr
    assert "1 echo request, 1 reply" in synth.stdout
    assert "wrote 2 packets from 1 tap to" in synth.stdout
    replay = run("replay", "--vtep", "192.168.1.10", str(one))
    assert "VTEP 192.168.1.10  VNI 4096: 1 FDB entry" in replay.stdout
    assert "1 VTEP modelled" in replay.stdout
    both = run("synth", "ping", "-c", "2", "-w", str(tmp_path / "two.pcapng"))
    assert "2 echo requests, 2 replies" in both.stdout and "from 4 taps" in both.stdout
    for text in (synth.stdout, replay.stdout, both.stdout):
        assert not _ONE_PLURAL.search(text), text
        assert not _MANY_SINGULAR.search(text), text
