"""The ageing table shared by the bridge and the VTEP (vxlankit/model/ageing.py), on its own."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.model.frames import SEC
from vxlankit.model.ageing import AgeingEntry, AgeingTable
from vxlankit.model.events import ModelError

AGEING = 300 * SEC


def table(ageing_ns: int = AGEING) -> AgeingTable[str, AgeingEntry]:
    return AgeingTable(ageing_ns)


def test_empty_table_has_no_deadline_and_nothing_to_expire() -> None:
    t = table()
    assert t.next_deadline() is None
    assert t.expire(10**9 * SEC) == []
    assert len(t) == 0 and list(t) == []


def test_deadline_is_last_seen_plus_ageing_and_expiry_is_at_it_not_before() -> None:
    t = table()
    a = AgeingEntry(False, 10 * SEC)
    t.put("a", a)
    assert t.deadline(a) == t.next_deadline() == 310 * SEC
    assert t.expire(310 * SEC - 1) == []
    assert "a" in t
    assert t.expire(310 * SEC) == [(310 * SEC, "a", a)]
    assert "a" not in t and t.next_deadline() is None


def test_static_entries_never_age_and_have_no_deadline() -> None:
    t = table()
    s = AgeingEntry(True, 0)
    t.put("s", s)
    assert t.deadline(s) is None and t.next_deadline() is None
    assert t.expire(10**9 * SEC) == [] and t.get("s") is s


def test_a_static_entry_made_dynamic_is_put_again_and_then_ages() -> None:
    t = table()
    e = AgeingEntry(True, 0)
    t.put("e", e)
    e.static, e.seen = False, 5 * SEC
    t.put("e", e)
    assert t.next_deadline() == 305 * SEC
    assert t.expire(305 * SEC) == [(305 * SEC, "e", e)]


def test_a_refresh_moves_the_next_deadline_to_the_next_oldest_entry() -> None:
    t = table()
    a, b = AgeingEntry(False, 1 * SEC), AgeingEntry(False, 2 * SEC)
    t.put("a", a)
    t.put("b", b)
    assert t.next_deadline() == 301 * SEC
    a.seen = 100 * SEC  # a refresh: the device sets seen, no call needed
    assert t.next_deadline() == 302 * SEC
    b.seen = 200 * SEC
    assert t.next_deadline() == 400 * SEC
    # bound is only a lower bound between calls: expiring at a stale bound finds nothing.
    assert t.expire(399 * SEC) == []
    assert t.expire(400 * SEC) == [(400 * SEC, "a", a)]
    assert t.next_deadline() == 500 * SEC


def test_taking_out_the_oldest_entry_moves_the_next_deadline() -> None:
    t = table()
    t.put("a", AgeingEntry(False, 1))
    t.put("b", AgeingEntry(False, 2))
    t.put("c", AgeingEntry(True, 0))
    assert t.pop("a") is not None and t.pop("a") is None
    assert t.next_deadline() == AGEING + 2
    t.pop("b")
    assert t.next_deadline() is None


def test_entries_due_together_come_oldest_first_then_by_key() -> None:
    t: AgeingTable[tuple[int, str], AgeingEntry] = AgeingTable(AGEING)
    entries = {(4097, "02:00:00:00:00:01"): AgeingEntry(False, 1 * SEC),
               (4096, "02:00:00:00:00:09"): AgeingEntry(False, 1 * SEC),
               (4096, "02:00:00:00:00:02"): AgeingEntry(False, 1 * SEC),
               (4096, "02:00:00:00:00:01"): AgeingEntry(False, 3 * SEC),
               (4096, "02:00:00:00:00:05"): AgeingEntry(False, 400 * SEC)}
    for key, entry in entries.items():
        t.put(key, entry)
    due = t.expire(500 * SEC)
    assert [(deadline, key) for deadline, key, _ in due] == [
        (301 * SEC, (4096, "02:00:00:00:00:02")),
        (301 * SEC, (4096, "02:00:00:00:00:09")),
        (301 * SEC, (4097, "02:00:00:00:00:01")),
        (303 * SEC, (4096, "02:00:00:00:00:01")),
    ]
    assert list(t) == [(4096, "02:00:00:00:00:05")]
    assert t.next_deadline() == 700 * SEC


def test_ageing_zero_never_ages() -> None:
    t = table(0)
    e = AgeingEntry(False, 0)
    t.put("e", e)
    assert t.deadline(e) is None and t.next_deadline() is None
    assert t.expire(10**9 * SEC) == [] and t.get("e") is e


def test_negative_ageing_is_a_model_error() -> None:
    with pytest.raises(ModelError):
        table(-1)


_KEYS = st.sampled_from("abc")


class AgeingTableMachine(RuleBasedStateMachine):
    """Random puts, refreshes, pops and clock steps against a plain dict of (static, seen);
    after every step ``next_deadline()`` is exactly the reference's earliest deadline and the
    table holds exactly the reference's entries."""

    def __init__(self) -> None:
        super().__init__()
        self.ageing = AGEING
        self.t = table(self.ageing)
        self.ref: dict[str, tuple[bool, int]] = {}
        self.now = 0

    @initialize(ageing=st.sampled_from([AGEING, AGEING, AGEING, 1, 0]))
    def choose_ageing(self, ageing: int) -> None:
        self.ageing = ageing
        self.t = table(ageing)

    def _due_by(self, when: int) -> list[tuple[int, str]]:
        return sorted((seen + self.ageing, key) for key, (static, seen) in self.ref.items()
                      if not static and self.ageing and seen + self.ageing <= when)

    def _expire(self, when: int) -> None:
        expected = self._due_by(when)
        got = self.t.expire(when)
        assert [(deadline, key) for deadline, key, _ in got] == expected
        assert all(entry.seen + self.ageing == deadline for deadline, _, entry in got)
        for _, key in expected:
            del self.ref[key]

    @rule(key=_KEYS, static=st.booleans())
    def put(self, key: str, static: bool) -> None:
        entry = self.t.get(key)
        if entry is None:
            self.t.put(key, AgeingEntry(static, self.now))
        else:
            entry.static, entry.seen = static, self.now
            self.t.put(key, entry)
        self.ref[key] = (static, self.now)

    @rule(key=_KEYS)
    def refresh(self, key: str) -> None:
        entry = self.t.get(key)
        if entry is not None:
            entry.seen = self.now  # what a device does on traffic: no call into the table
            self.ref[key] = (self.ref[key][0], self.now)

    @rule(key=_KEYS)
    def pop(self, key: str) -> None:
        assert (self.t.pop(key) is None) == (key not in self.ref)
        self.ref.pop(key, None)

    # Mostly steps well inside the ageing time, so that entries of different ages coexist.
    @rule(dt=st.sampled_from([1, SEC, SEC, 10 * SEC, 299 * SEC, AGEING - 1, AGEING, AGEING + 1]))
    def advance(self, dt: int) -> None:
        self.now += dt
        self._expire(self.now)

    @rule()
    def wake_at_next_deadline(self) -> None:
        """A caller with a timer: expire exactly at next_deadline(), never before."""
        deadline = self.t.next_deadline()
        if deadline is None:
            return
        assert deadline >= self.now  # everything due by now was expired already
        if deadline > self.now:
            assert self.t.expire(deadline - 1) == []
        self.now = deadline
        assert self._due_by(self.now)  # something is due exactly then
        self._expire(self.now)

    @invariant()
    def next_deadline_is_exact(self) -> None:
        deadlines = [seen + self.ageing for static, seen in self.ref.values()
                     if not static and self.ageing]
        assert self.t.next_deadline() == min(deadlines, default=None)

    @invariant()
    def entries_are_the_reference(self) -> None:
        assert {key: (e.static, e.seen) for key, e in self.t.items()} == self.ref


TestAgeingTable = AgeingTableMachine.TestCase
TestAgeingTable.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
