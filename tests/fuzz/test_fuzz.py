"""The mutation campaign (engine.py), short: a few hundred damaged captures through the
commands and the API, a few thousand damaged frames through the codec and the presenters.
0 tracebacks, 0 hangs, bounded memory, every good packet before the damage delivered.

``VXLANKIT_FUZZ=N`` makes each campaign N capture inputs (and 15 N frames) long;
``VXLANKIT_FUZZ_SEED`` picks other inputs (docs/testing.md).  A finding prints the mutation and
the seed: ``python -m tests.fuzz.engine --seed S`` replays the campaign and saves the inputs.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.fuzz import engine
from tests.support import require_real_dir

CAPTURES = int(os.environ.get("VXLANKIT_FUZZ", "1000"))
SEED = int(os.environ.get("VXLANKIT_FUZZ_SEED", "20260"))


def _campaign(corpus: list[engine.Seed], seed: int, subprocesses: int = 2) -> engine.Result:
    return engine.run(corpus, seed=seed, captures=CAPTURES, frames=15 * CAPTURES,
                      subprocesses=subprocesses)


def _assert_clean(result: engine.Result) -> None:
    assert result.findings == [], "\n".join(f.line() for f in result.findings[:10])
    counts = result.counts
    # It ran what it says (tests/README.md rule 6): every input, every command's turn.
    assert counts["captures"] == CAPTURES and counts["frames"] == 15 * CAPTURES
    cli = [t for t in counts if t.startswith("cli ")]
    assert len(cli) >= 15, cli
    for target in ("api open_capture", "api decode_capture+presenters", "api bulk export",
                   "api replay", "api codec.decode+presenters", "api bulk decode_batch"):
        assert counts[target] > 0, target
    assert sum(n for t, n in counts.items() if t.startswith("subprocess ")) >= 2


def test_damaged_captures_and_frames_of_this_repository() -> None:
    corpus = engine.load_corpus(shared=False, own=True, synth=True)
    assert len(corpus) >= 10 and all(seed.clean for seed in corpus)
    _assert_clean(_campaign(corpus, SEED))


def test_damaged_shared_captures() -> None:
    require_real_dir()
    corpus = engine.load_corpus(shared=True, own=False, synth=False)
    assert len(corpus) >= 15
    _assert_clean(_campaign(corpus, SEED + 1))


# --------------------------------------------------------------------------------------------
# The campaign can fail (tests/README.md: a check that cannot fail proves nothing)


def _small() -> list[engine.Seed]:
    return [s for s in engine.load_corpus(shared=False, own=True, synth=False)
            if s.name.endswith("proxy.pcapng")]


def test_a_decoder_that_raises_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    import vxlankit.codec

    def broken(data: bytes, linktype: int = 1, options: object = None) -> object:
        raise IndexError("decoder bug")

    monkeypatch.setattr(vxlankit.codec, "decode", broken)
    result = engine.run(_small(), seed=1, captures=0, frames=64)
    assert result.findings and {f.kind for f in result.findings} == {"traceback"}
    assert "decoder bug" in result.findings[0].detail


def test_a_hang_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    def stuck(data: bytes) -> list[bytes]:
        time.sleep(30)
        return []

    monkeypatch.setattr(engine.Campaign, "_read", staticmethod(stuck))
    result = engine.run(_small(), seed=1, captures=1, frames=0, timeout=0.2)
    assert [f.kind for f in result.findings][:1] == ["hang"]


def test_a_lost_good_packet_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    real = engine.Campaign._read

    def loses_the_last(data: bytes) -> list[bytes]:
        return real(data)[:-1]

    monkeypatch.setattr(engine.Campaign, "_read", staticmethod(loses_the_last))
    result = engine.run(_small(), seed=1, captures=40, frames=0)
    assert "prefix" in {f.kind for f in result.findings}


def test_an_undocumented_exit_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    import vxlankit.cli

    monkeypatch.setattr(vxlankit.cli, "exit_code", lambda exc: 7)
    result = engine.run(_small(), seed=1, captures=60, frames=0)
    assert "exit" in {f.kind for f in result.findings}


def test_record_boundaries_come_from_the_walkers() -> None:
    """The reference the prefix check uses: the walkers see every packet of a clean capture
    (the same count the reader gives: each seed is ``clean``) and a truncation inside the
    n-th record leaves n - 1 complete."""
    corpus = engine.load_corpus(shared=False, own=True, synth=True)
    for seed in corpus:
        assert seed.layout.kind in ("pcap", "pcapng") and len(seed.layout.packets) > 3
        start, end = seed.layout.packets[3]
        assert seed.layout.complete_before(end - 1) == 3
        assert seed.layout.complete_before(end) == 4
