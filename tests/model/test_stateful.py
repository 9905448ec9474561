"""Hypothesis state machines for the two learning tables.

Each machine drives a model with random traffic, configuration and clock steps (integer
nanoseconds, chosen to land on and around the 300 s ageing boundary) and checks every output
list against a small reference, plus invariants: the learned count never exceeds the cap,
static entries survive everything, no entry outlives its ageing time, moves/migrations happen
exactly when the reference says, and ``next_deadline()`` is exactly the reference's earliest
deadline, so that ticking at it (a rule of its own) ages exactly the entries due then and
ticking a nanosecond before ages nothing.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tests.model.frames import BROADCAST, MS, SEC, VNI, unicast
from tests.model.playbook import assert_integer_times
from vxlankit.model.bridge import Bridge
from vxlankit.model.events import (
    Aged,
    BridgeFdbAdd,
    BridgeFdbDel,
    Decapsulated,
    Dropped,
    DropReason,
    Encapsulated,
    FdbAdd,
    FdbDel,
    Flooded,
    Forwarded,
    FrameReceived,
    Installed,
    Learned,
    LimitReached,
    Moved,
    Output,
    Removed,
    VtepTransmit,
    VxlanReceived,
)
from vxlankit.model.vtep import Vtep, VtepConfig

AGEING = 300 * SEC
CAP = 3
MACS = [f"02:00:00:00:00:{i:02x}" for i in range(1, 7)]
STEPS = [0, MS, 500 * MS, 1 * SEC, 150 * SEC, 299_500 * MS, 299_999 * MS, 300 * SEC, 301 * SEC]
# Example counts come from the active hypothesis profile (tests/conftest.py); only the run
# length is set here, long enough to cross the ageing boundary several times.
SETTINGS = settings(stateful_step_count=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

PORTS = ["p0", "p1", "p2"]


class BridgeTable(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.br = Bridge("br0", PORTS, ageing_time_ns=AGEING, max_learned=CAP)
        self.now = 0
        self.last_event = 0
        # The reference table: mac -> (port, static, last_seen).
        self.ref: dict[str, tuple[str, bool, int]] = {}
        self.statics: dict[str, str] = {}

    def _learned(self) -> int:
        return sum(1 for _, static, _ in self.ref.values() if not static)

    def _expire(self) -> list[Output]:
        due = sorted(
            (seen + AGEING, mac, port, seen)
            for mac, (port, static, seen) in self.ref.items()
            if not static and seen + AGEING <= self.now
        )
        for _, mac, _, _ in due:
            del self.ref[mac]
        return [Aged("br0", None, mac, port, seen, deadline, self.now)
                for deadline, mac, port, seen in due]

    def _deadline(self) -> int | None:
        return min((seen + AGEING for _, static, seen in self.ref.values() if not static),
                   default=None)

    def _handle(self, event: FrameReceived | BridgeFdbAdd | BridgeFdbDel) -> list[Output]:
        self.last_event = self.now
        return self.br.handle(event, self.now)

    @rule(dt=st.sampled_from(STEPS))
    def advance(self, dt: int) -> None:
        self.now += dt

    @rule()
    def tick(self) -> None:
        self.last_event = self.now
        assert self.br.tick(self.now) == self._expire()

    @rule()
    def tick_at_next_deadline(self) -> None:
        """A caller with a timer: wake at next_deadline(), never before."""
        deadline = self.br.next_deadline()
        if deadline is None or deadline < self.now:
            return
        if deadline > self.now:
            assert self.br.tick(deadline - 1) == []
        self.now = self.last_event = deadline
        out = self.br.tick(deadline)
        assert out and out == self._expire()
        for aged in out:
            assert_integer_times(aged)

    @rule(src=st.sampled_from(MACS), dst=st.sampled_from([*MACS, BROADCAST]),
          port=st.sampled_from(PORTS))
    def frame(self, src: str, dst: str, port: str) -> None:
        f = unicast(src, dst)
        out = self._handle(FrameReceived(port, f))
        expected = self._expire()
        known = self.ref.get(src)
        if known is None:
            if self._learned() >= CAP:
                expected.append(LimitReached("br0", None, src, CAP, self.now))
            else:
                self.ref[src] = (port, False, self.now)
                expected.append(Learned("br0", None, src, port, self.now, "br_fdb_update"))
        elif not known[1]:
            if known[0] != port:
                expected.append(Moved("br0", None, src, known[0], port, self.now,
                                      "br_fdb_update"))
            self.ref[src] = (port, False, self.now)
        others = tuple(p for p in PORTS if p != port)
        target = self.ref.get(dst)
        if dst == BROADCAST:
            expected.append(Flooded("br0", others, f, "broadcast"))
        elif target is None:
            expected.append(Flooded("br0", others, f, "unknown-unicast"))
        elif target[0] == port:
            expected.append(Dropped("br0", DropReason.BRIDGE_SAME_PORT, f,
                                    f"{dst} is behind the ingress port {port} (should_deliver)"))
        else:
            expected.append(Forwarded("br0", target[0], f))
        assert out == expected

    @rule(mac=st.sampled_from(MACS), port=st.sampled_from(PORTS))
    def add_static(self, mac: str, port: str) -> None:
        out = self._handle(BridgeFdbAdd(mac, port))
        expected = self._expire()
        known = self.ref.get(mac)
        if known is None or known[:2] != (port, True):
            expected.append(Installed("br0", "fdb", None, mac, port, True, self.now, "user"))
            self.ref[mac] = (port, True, self.now)
        self.statics[mac] = port
        assert out == expected

    @rule(mac=st.sampled_from(MACS))
    def delete(self, mac: str) -> None:
        out = self._handle(BridgeFdbDel(mac))
        expected = self._expire()
        gone = self.ref.pop(mac, None)
        self.statics.pop(mac, None)
        if gone is not None:
            expected.append(Removed("br0", "fdb", None, mac, gone[0], self.now, "user"))
        assert out == expected

    @invariant()
    def table_is_the_reference(self) -> None:
        got = {m: (e.port, e.static, e.last_seen) for m, e in self.br.entries().items()}
        static_got = {m: p for m, (p, s, _) in got.items() if s}
        assert {m: v[:2] for m, v in got.items()} == {m: v[:2] for m, v in self.ref.items()}
        assert static_got == self.statics  # statics survive ageing, moves and the cap

    @invariant()
    def learned_count_within_cap(self) -> None:
        assert self.br.learned_count == self._learned() <= CAP

    @invariant()
    def next_deadline_is_the_earliest_expiry(self) -> None:
        assert self.br.next_deadline() == self._deadline()

    @invariant()
    def nothing_outlives_its_ageing_time(self) -> None:
        for entry in self.br.entries().values():
            if not entry.static:
                assert entry.last_seen + AGEING > self.last_event


REMOTES = ["192.168.1.5", "192.168.1.6", "10.20.0.9"]
LOCAL = "172.31.1.5"


class VtepFdb(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        cfg = VtepConfig(LOCAL, "0a:00:00:00:01:05", max_learned=CAP, ageing_ns=AGEING,
                         next_hops={"0.0.0.0/0": "0a:00:00:00:01:01"})
        self.vtep = Vtep(cfg)
        self.now = 0
        self.last_event = 0
        self.sent = 0
        # The reference FDB: mac -> (remote, static, last_seen).
        self.ref: dict[str, tuple[str, bool, int]] = {}

    def _learned(self) -> int:
        return sum(1 for _, static, _ in self.ref.values() if not static)

    def _expire(self) -> list[Output]:
        due = sorted(
            (seen + AGEING, mac, remote, seen)
            for mac, (remote, static, seen) in self.ref.items()
            if not static and seen + AGEING <= self.now
        )
        for _, mac, _, _ in due:
            del self.ref[mac]
        return [Aged("vxlan0", VNI, mac, remote, seen, deadline, self.now)
                for deadline, mac, remote, seen in due]

    def _deadline(self) -> int | None:
        return min((seen + AGEING for _, static, seen in self.ref.values() if not static),
                   default=None)

    @rule(dt=st.sampled_from(STEPS))
    def advance(self, dt: int) -> None:
        self.now += dt

    @rule()
    def tick(self) -> None:
        self.last_event = self.now
        assert self.vtep.tick(self.now) == self._expire()

    @rule()
    def tick_at_next_deadline(self) -> None:
        """A caller with a timer: wake at next_deadline(), never before."""
        deadline = self.vtep.next_deadline()
        if deadline is None or deadline < self.now:
            return
        if deadline > self.now:
            assert self.vtep.tick(deadline - 1) == []
        self.now = self.last_event = deadline
        out = self.vtep.tick(deadline)
        assert out and out == self._expire()
        for aged in out:
            assert_integer_times(aged)

    @rule(mac=st.sampled_from(MACS), remote=st.sampled_from(REMOTES))
    def receive(self, mac: str, remote: str) -> None:
        f = unicast(mac, "02:42:0a:00:00:03")
        self.last_event = self.now
        out = self.vtep.handle(VxlanReceived(remote, LOCAL, 50000, 4789, VNI, f), self.now)
        expected = self._expire()
        known = self.ref.get(mac)
        if known is None:
            if self._learned() >= CAP:
                expected.append(LimitReached("vxlan0", VNI, mac, CAP, self.now))
            else:
                self.ref[mac] = (remote, False, self.now)
                expected.append(Learned("vxlan0", VNI, mac, remote, self.now, "vxlan_snoop"))
        elif known[0] == remote:
            if not known[1]:
                self.ref[mac] = (remote, False, self.now)
        elif known[1]:
            expected.append(Dropped("vxlan0", DropReason.VXLAN_ENTRY_EXISTS, f,
                                    f"{mac} is statically behind {known[0]}; "
                                    f"not migrated to {remote}"))
            assert out == expected
            return
        else:
            self.ref[mac] = (remote, False, self.now)
            expected.append(Moved("vxlan0", VNI, mac, known[0], remote, self.now,
                                  "vxlan_snoop"))
        expected.append(Decapsulated("vxlan0", VNI, f, remote))
        assert out == expected

    @rule(mac=st.sampled_from(MACS))
    def transmit(self, mac: str) -> None:
        f = unicast("02:42:0a:00:00:03", mac)
        self.last_event = self.now
        out = self.vtep.handle(VtepTransmit(VNI, f), self.now)
        aged = self._expire()
        assert out[: len(aged)] == aged
        rest = out[len(aged):]
        assert len(rest) == 1
        known = self.ref.get(mac)
        if known is None:
            assert isinstance(rest[0], Dropped)
            assert rest[0].reason is DropReason.VXLAN_NO_REMOTE
        else:
            assert isinstance(rest[0], Encapsulated)
            assert (rest[0].ip_dst, rest[0].ip_id, rest[0].frame) == (known[0], self.sent, f)
            self.sent += 1

    @rule(mac=st.sampled_from(MACS), remote=st.sampled_from(REMOTES))
    def add_static(self, mac: str, remote: str) -> None:
        self.last_event = self.now
        out = self.vtep.handle(FdbAdd(VNI, mac, remote), self.now)
        expected = self._expire()
        known = self.ref.get(mac)
        if known is None or known[:2] != (remote, True):
            expected.append(Installed("vxlan0", "fdb", VNI, mac, remote, True, self.now, "user"))
            self.ref[mac] = (remote, True, self.now)
        assert out == expected

    @rule(mac=st.sampled_from(MACS))
    def delete(self, mac: str) -> None:
        self.last_event = self.now
        out = self.vtep.handle(FdbDel(VNI, mac), self.now)
        expected = self._expire()
        gone = self.ref.pop(mac, None)
        if gone is not None:
            expected.append(Removed("vxlan0", "fdb", VNI, mac, gone[0], self.now, "user"))
        assert out == expected

    @invariant()
    def fdb_is_the_reference(self) -> None:
        got = {m: (e.remotes, e.static) for m, e in self.vtep.fdb(VNI).items()}
        assert got == {m: ((r,), s) for m, (r, s, _) in self.ref.items()}

    @invariant()
    def learned_count_within_cap(self) -> None:
        assert self.vtep.learned_count(VNI) == self._learned() <= CAP

    @invariant()
    def next_deadline_is_the_earliest_expiry(self) -> None:
        assert self.vtep.next_deadline() == self._deadline()

    @invariant()
    def nothing_outlives_its_ageing_time(self) -> None:
        for entry in self.vtep.fdb(VNI).values():
            if not entry.static:
                assert entry.last_seen + AGEING > self.last_event


TestBridgeTable = BridgeTable.TestCase
TestBridgeTable.settings = SETTINGS
TestVtepFdb = VtepFdb.TestCase
TestVtepFdb.settings = SETTINGS
