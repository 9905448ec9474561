"""A Linux bridge (``br0``) as a sans-IO state machine: ports, a learning MAC table, flooding.

Followed from net/bridge (as of Linux 6.x): br_input.c (br_handle_frame, br_handle_frame_finish),
br_fdb.c (br_fdb_update, fdb_create, br_fdb_cleanup) and br_forward.c (br_forward, br_flood,
should_deliver).  One bridge, no VLAN filtering, no STP (every port forwarding), no multicast
snooping (multicast is flooded like broadcast), no local (host) delivery.  See docs/models.md.

Time is ``now`` in integer nanoseconds, given to every call.  The MAC table is an
``AgeingTable`` (model/ageing.py): an entry last refreshed at ``t`` is present at any
``now < t + ageing_time_ns`` and gone at ``now >= t + ageing_time_ns`` (br_fdb_cleanup deletes
when ``updated + hold_time`` is not after ``jiffies``), with no GC-interval slack.
``next_deadline()`` says when ``tick`` next has work to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from vxlankit.model.ageing import AgeingEntry, AgeingTable
from vxlankit.model.events import (
    Aged,
    BridgeFdbAdd,
    BridgeFdbDel,
    BridgeInput,
    Dropped,
    DropReason,
    Flooded,
    Forwarded,
    Frame,
    FrameReceived,
    Installed,
    Learned,
    LimitReached,
    ModelError,
    Moved,
    Output,
    Removed,
)

DEFAULT_AGEING_TIME_NS = 300 * 10**9  # BR_DEFAULT_AGEING_TIME (300 s), the bridge's ageing_time
DEFAULT_MAX_LEARNED = 4096  # Linux's fdb_max_learned defaults to 0 (unlimited); see docs
BROADCAST = "ff:ff:ff:ff:ff:ff"
_ZERO = "00:00:00:00:00:00"

# The I/G bit is the low bit of the first octet, so the second hex digit is odd for group
# addresses: a set lookup on one character beats int(mac[:2], 16) on the per-frame path.
_ODD_NIBBLE = frozenset("13579bdfBDF")


def _is_group(mac: str) -> bool:
    return mac[1] in _ODD_NIBBLE


@dataclass(frozen=True, slots=True)
class BridgeEntry:
    """A read-only view of one MAC table entry."""

    mac: str
    port: str
    static: bool
    last_seen: int


@dataclass(frozen=True, slots=True)
class PortConfig:
    """A bridge port: ``learning`` (BR_LEARNING) and ``hairpin`` (BR_HAIRPIN_MODE) flags."""

    name: str
    learning: bool = True
    hairpin: bool = False


class _Entry(AgeingEntry):
    __slots__ = ("port",)

    def __init__(self, port: str, static: bool, seen: int) -> None:
        self.port = port
        self.static = static
        self.seen = seen


class Bridge:
    """The bridge.  ``handle(event, now)`` and ``tick(now)`` return lists of outputs;
    ``next_deadline()`` is the earliest ``now`` at which ``tick`` would return any.

    ``ageing_time_ns`` is the ageing time in nanoseconds; 0 turns learning off altogether, as
    in Linux ("some users want to always flood", br_fdb_update).  ``max_learned`` caps learned
    entries (0 = unlimited, as Linux's ``fdb_max_learned``); static entries do not count.
    """

    __slots__ = (
        "name",
        "max_learned",
        "_ports",
        "_flood_sets",
        "_fdb",
        "_n_learned",
    )

    def __init__(
        self,
        name: str = "br0",
        ports: Iterable[str | PortConfig] = (),
        *,
        ageing_time_ns: int = DEFAULT_AGEING_TIME_NS,
        max_learned: int = DEFAULT_MAX_LEARNED,
    ) -> None:
        if not isinstance(ageing_time_ns, int):
            raise ModelError(f"{name}: ageing_time_ns is integer nanoseconds, "
                             f"not {ageing_time_ns!r}")
        if ageing_time_ns < 0:
            raise ModelError(f"{name}: ageing_time_ns must be >= 0, got {ageing_time_ns}")
        if max_learned < 0:
            raise ModelError(f"{name}: max_learned must be >= 0, got {max_learned}")
        self.name = name
        self.max_learned = max_learned
        self._ports: dict[str, PortConfig] = {}
        # Per ingress port, the ports a flood goes out of: computed once per topology change
        # rather than per frame.
        self._flood_sets: dict[str, tuple[str, ...]] = {}
        self._fdb: AgeingTable[str, _Entry] = AgeingTable(ageing_time_ns)
        self._n_learned = 0
        for port in ports:
            if isinstance(port, str):
                self.add_port(port)
            else:
                self.add_port(port.name, learning=port.learning, hairpin=port.hairpin)

    # ------------------------------------------------------------------ topology

    def add_port(self, name: str, *, learning: bool = True, hairpin: bool = False) -> None:
        if name in self._ports:
            raise ModelError(f"{self.name}: port {name!r} already exists")
        self._ports[name] = PortConfig(name, learning, hairpin)
        self._recompute_flood_sets()

    @property
    def ageing_time_ns(self) -> int:
        return self._fdb.ageing_ns

    def remove_port(self, name: str, now: int) -> list[Output]:
        """Detach a port; its entries go with it (br_fdb_delete_by_port)."""
        if name not in self._ports:
            raise ModelError(f"{self.name}: no port {name!r}")
        out: list[Output] = []
        for mac, entry in list(self._fdb.items()):
            if entry.port == name:
                self._delete(mac, entry)
                out.append(
                    Removed(self.name, "fdb", None, mac, name, now, "br_fdb_delete_by_port")
                )
        del self._ports[name]
        self._recompute_flood_sets()
        return out

    @property
    def ports(self) -> tuple[str, ...]:
        return tuple(self._ports)

    def _recompute_flood_sets(self) -> None:
        names = tuple(self._ports)
        self._flood_sets = {
            name: tuple(p for p in names if p != name or self._ports[p].hairpin)
            for name in names
        }

    # ------------------------------------------------------------------ queries

    def lookup(self, mac: str) -> BridgeEntry | None:
        entry = self._fdb.get(mac)
        if entry is None:
            return None
        return BridgeEntry(mac, entry.port, entry.static, entry.seen)

    def entries(self) -> dict[str, BridgeEntry]:
        return {mac: BridgeEntry(mac, e.port, e.static, e.seen) for mac, e in self._fdb.items()}

    @property
    def learned_count(self) -> int:
        return self._n_learned

    # ------------------------------------------------------------------ events

    def next_deadline(self) -> int | None:
        """The earliest ``now`` at which ``tick(now)`` would age an entry out (the deadline of
        the oldest learned entry), or None while nothing can age.  Like aioquic's
        ``get_timer()``: a caller with a clock ticks then, or at its next event."""
        return self._fdb.next_deadline()

    def tick(self, now: int) -> list[Output]:
        """Age the table without traffic."""
        out: list[Output] = []
        if now >= self._fdb.bound:
            self._expire(now, out)
        return out

    def handle(self, event: BridgeInput, now: int) -> list[Output]:
        out: list[Output] = []
        if now >= self._fdb.bound:
            self._expire(now, out)
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise ModelError(f"{self.name}: not a bridge event: {event!r}")
        handler(self, event, now, out)
        return out

    def _del_entry(self, event: BridgeFdbDel, now: int, out: list[Output]) -> None:
        entry = self._fdb.get(event.mac)
        if entry is not None:
            self._delete(event.mac, entry)
            out.append(Removed(self.name, "fdb", None, event.mac, entry.port, now, event.reason))

    def _receive(self, event: FrameReceived, now: int, out: list[Output]) -> None:
        port_name = event.port
        frame = event.frame
        port = self._ports.get(port_name)
        if port is None:
            raise ModelError(f"{self.name}: no port {port_name!r}")
        src = frame.src
        # br_handle_frame drops multicast/broadcast and all-zero sources before anything else,
        # so they are never learned and never forwarded.
        if _is_group(src) or src == _ZERO:
            out.append(
                Dropped(self.name, DropReason.MAC_INVALID_SOURCE, frame,
                        f"source {src} is not a valid unicast address (br_handle_frame)")
            )
            return
        if port.learning and self._fdb.ageing_ns:
            self._learn(src, port_name, now, out)

        dst = frame.dst
        if _is_group(dst):
            kind = "broadcast" if dst == BROADCAST else "multicast"
            self._flood(port_name, frame, kind, out)
            return
        entry = self._fdb.get(dst)
        if entry is None:
            self._flood(port_name, frame, "unknown-unicast", out)
        elif entry.port == port_name and not port.hairpin:
            out.append(
                Dropped(self.name, DropReason.BRIDGE_SAME_PORT, frame,
                        f"{dst} is behind the ingress port {port_name} (should_deliver)")
            )
        else:
            out.append(Forwarded(self.name, entry.port, frame))

    def _flood(self, ingress: str, frame: Frame, kind: str, out: list[Output]) -> None:
        ports = self._flood_sets[ingress]
        if ports:
            out.append(Flooded(self.name, ports, frame, kind))
        else:
            out.append(
                Dropped(self.name, DropReason.BRIDGE_NO_EGRESS, frame,
                        f"{kind} flood from {ingress} has no other port (br_flood)")
            )

    def _learn(self, mac: str, port: str, now: int, out: list[Output]) -> None:
        entry = self._fdb.get(mac)
        if entry is None:
            if self.max_learned and self._n_learned >= self.max_learned:
                out.append(LimitReached(self.name, None, mac, self.max_learned, now))
                return
            self._fdb.put(mac, _Entry(port, False, now))
            self._n_learned += 1
            out.append(Learned(self.name, None, mac, port, now, "br_fdb_update"))
        elif not entry.static:
            entry.seen = now
            if entry.port != port:
                old = entry.port
                entry.port = port
                out.append(Moved(self.name, None, mac, old, port, now, "br_fdb_update"))
        # A static entry is neither refreshed nor moved by traffic (it never ages, and a
        # static entry here is Linux's "static sticky"); the frame is still forwarded.

    def _add_static(self, event: BridgeFdbAdd, now: int, out: list[Output]) -> None:
        mac, port = event.mac, event.port
        if port not in self._ports:
            raise ModelError(f"{self.name}: no port {port!r}")
        if _is_group(mac) or mac == _ZERO:
            raise ModelError(f"{self.name}: {mac} is not a unicast address")
        entry = self._fdb.get(mac)
        if entry is None:
            self._fdb.put(mac, _Entry(port, True, now))
        elif entry.static and entry.port == port:
            return  # nothing changes, and the kernel sends no notification either
        else:
            if not entry.static:
                self._n_learned -= 1
            entry.port = port
            entry.static = True
            entry.seen = now
        out.append(Installed(self.name, "fdb", None, mac, port, True, now, event.reason))

    def _delete(self, mac: str, entry: _Entry) -> None:
        self._fdb.pop(mac)
        if not entry.static:
            self._n_learned -= 1

    def _expire(self, now: int, out: list[Output]) -> None:
        """br_fdb_cleanup, without its GC interval: oldest first, then by MAC.  Only learned
        entries age, so each one gives its slot back."""
        for deadline, mac, entry in self._fdb.expire(now):
            self._n_learned -= 1
            out.append(Aged(self.name, None, mac, entry.port, entry.seen, deadline, now))


# Event type -> handler, as aioquic's connection and h11 dispatch: exact types only.
_HANDLERS: dict[type, Callable[[Bridge, Any, int, list[Output]], None]] = {
    FrameReceived: Bridge._receive,
    BridgeFdbAdd: Bridge._add_static,
    BridgeFdbDel: Bridge._del_entry,
}


__all__ = ["Bridge", "BridgeEntry", "PortConfig", "DEFAULT_AGEING_TIME_NS",
           "DEFAULT_MAX_LEARNED"]
