"""The fast paths answer nearly every packet: the full decoder's share stays under 1% on every
capture the project knows (the shared real captures, its own, a synthesized ping), for the
one-line, JSON and bulk paths.  A new layer in the registry that a fast path does not read
sends its packets to the full decoder one by one; this test is what makes that visible."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import real_capture, real_capture_names, require_real_dir
from vxlankit.bulk.fast import decode_batch
from vxlankit.bulk.frames import iter_file_batches
from vxlankit.capture import open_capture
from vxlankit.present import jsonl, summary
from vxlankit.present.jsonl import fast_json_lines
from vxlankit.present.run import FastPathTally
from vxlankit.present.summary import Summarizer
from vxlankit.synth.output import write_result
from vxlankit.synth.ping import PingOptions, synthesize_ping

REPO = Path(__file__).resolve().parents[1]
MAX_SHARE = 0.01


def _captures(tmp: Path) -> list[Path]:
    require_real_dir()
    found = [real_capture(name) for name in real_capture_names()]
    found += sorted((REPO / "captures").glob("*.pcap*"))
    for i, options in enumerate((PingOptions(count=20), PingOptions(count=20, arp="flood"))):
        path = tmp / f"synth-{i}.pcapng"
        write_result(synthesize_ping(options), str(path))
        found.append(path)
    return found


def _one_line(path: Path, tally: FastPathTally) -> None:
    with open_capture(path) as reader:
        for _ in Summarizer().fast_lines(reader, tally=tally):
            pass


def _json(path: Path, tally: FastPathTally) -> None:
    with open_capture(path) as reader:
        for _ in fast_json_lines(reader, tally=tally):
            pass


def _bulk(path: Path, tally: FastPathTally) -> None:
    for frames in iter_file_batches(path, 4096):
        _, fallback = decode_batch(frames)
        tally.full += fallback
        tally.fast += len(frames) - fallback


def check_share(paths: list[Path], run: Callable[[Path, FastPathTally], None]) -> FastPathTally:
    tally = FastPathTally()
    for path in paths:
        run(path, tally)
    assert tally.total > 300, tally
    assert tally.full <= MAX_SHARE * tally.total, str(tally)
    return tally


@pytest.mark.parametrize("run", [_one_line, _json, _bulk],
                         ids=["one-line", "json", "bulk"])
def test_full_decoder_share_under_one_percent(run: Callable[[Path, FastPathTally], None],
                                              tmp_path: Path) -> None:
    check_share(_captures(tmp_path), run)


def test_a_fast_path_that_declines_is_caught(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The deliberate break: the fast paths decline everything, and the check fails."""
    paths = _captures(tmp_path)
    monkeypatch.setattr(summary, "fast_path_applies", lambda options: False)
    monkeypatch.setattr(summary, "fast_summary", lambda *args, **kwargs: None)
    with pytest.raises(AssertionError):
        check_share(paths, _one_line)
    monkeypatch.setattr(jsonl, "fast_path_applies", lambda options: False)
    with pytest.raises(AssertionError):
        check_share(paths, _json)
