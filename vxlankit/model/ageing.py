"""The ageing table shared by the bridge's MAC table and the VTEP's FDB.

An ``AgeingTable`` maps keys to entries (``AgeingEntry`` subclasses, which carry what each
device needs besides): each entry has the time it was last refreshed (``seen``, integer
nanoseconds) and a ``static`` flag.  A dynamic entry last refreshed at ``t`` is present at any
``now < t + ageing_ns`` and gone at ``now >= t + ageing_ns``, which is the kernels' comparison
(br_fdb_cleanup: delete unless ``updated + hold_time`` is after ``jiffies``; vxlan_cleanup:
``time_before_eq(timeout, jiffies)``) without their garbage-collection slack.  Static entries
never age, and with ``ageing_ns == 0`` nothing does (vxlan_open starts no GC timer then).

The table keeps ``bound``, a lower bound of the earliest deadline: refreshing an entry only
moves its deadline later, so ``bound`` stays valid without work on the per-packet path, and
``expire(now)`` scans the table only once ``now`` reaches it.  ``next_deadline()`` is exact.

Rules for the devices that own a table: refresh an entry by setting ``entry.seen = now``
(``now`` never decreasing); after any other change that can make a deadline earlier than
before (a new entry, a static entry made dynamic), store the entry with ``put``; take entries
out with ``pop``.  The table does no I/O and reads no clock.
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

from vxlankit.model.events import ModelError

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

_INF = float("inf")


class AgeingEntry:
    """One entry: ``static`` (never ages) and ``seen``, its last refresh in nanoseconds."""

    __slots__ = ("static", "seen")

    def __init__(self, static: bool, seen: int) -> None:
        self.static = static
        self.seen = seen


K = TypeVar("K", bound="SupportsRichComparison")
E = TypeVar("E", bound=AgeingEntry)


class AgeingTable(Generic[K, E]):
    """Entries by key, their ageing time, their expiry and their earliest deadline.

    Keys must be orderable: entries that expire together are given back oldest first, then by
    key, so that transcripts never depend on dict order.
    """

    __slots__ = ("ageing_ns", "bound", "get", "_entries", "_bound_key")

    def __init__(self, ageing_ns: int) -> None:
        if ageing_ns < 0:
            raise ModelError(f"ageing_ns must be >= 0, got {ageing_ns}")
        self.ageing_ns = ageing_ns
        self._entries: dict[K, E] = {}
        # The entry under a key, or None: the dict's own get, bound once (the per-packet path).
        self.get: Callable[[K], E | None] = self._entries.get
        # A lower bound of the earliest deadline of a dynamic entry (inf: none ages); the
        # entry whose deadline it was when it was set, to tell cheaply whether it is exact.
        self.bound: float = _INF
        self._bound_key: K | None = None

    # ------------------------------------------------------------------ the mapping

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[K]:
        return iter(self._entries)

    def items(self) -> ItemsView[K, E]:
        return self._entries.items()

    def put(self, key: K, entry: E) -> None:
        """Store ``entry`` (new, or changed otherwise than by a refresh) under ``key``."""
        self._entries[key] = entry
        if not entry.static and self.ageing_ns:
            deadline = entry.seen + self.ageing_ns
            if deadline < self.bound:
                self.bound = deadline
                self._bound_key = key

    def pop(self, key: K) -> E | None:
        """Take the entry out (configuration, a port going away); None if there was none."""
        return self._entries.pop(key, None)

    # ------------------------------------------------------------------ time

    def deadline(self, entry: E) -> int | None:
        """When ``entry`` expires if not refreshed first; None if it never does."""
        if entry.static or not self.ageing_ns:
            return None
        return entry.seen + self.ageing_ns

    def next_deadline(self) -> int | None:
        """The earliest time at which ``expire`` would take something out, or None.

        O(1) unless the entry that held the earliest deadline has been refreshed, made
        static or taken out since it was noted; then one scan finds the new one.
        """
        if self.bound == _INF:
            return None
        key = self._bound_key
        if key is not None:
            entry = self._entries.get(key)
            if entry is not None and not entry.static:
                deadline = entry.seen + self.ageing_ns
                if deadline == self.bound:
                    return deadline
        return self._rescan()

    def _rescan(self) -> int | None:
        ageing = self.ageing_ns
        best: int | None = None
        best_key: K | None = None
        if ageing:
            for key, entry in self._entries.items():
                if not entry.static:
                    deadline = entry.seen + ageing
                    if best is None or deadline < best:
                        best, best_key = deadline, key
        self.bound = _INF if best is None else best
        self._bound_key = best_key
        return best

    def expire(self, now: int) -> list[tuple[int, K, E]]:
        """Take out every dynamic entry whose deadline is at or before ``now``; give back
        ``(deadline, key, entry)`` for each, oldest first, then by key."""
        if now < self.bound:
            return []
        ageing = self.ageing_ns
        expired: list[tuple[int, K, E]] = []
        best: int | None = None
        best_key: K | None = None
        for key, entry in self._entries.items():
            if entry.static:
                continue
            deadline = entry.seen + ageing
            if deadline <= now:
                expired.append((deadline, key, entry))
            elif best is None or deadline < best:
                best, best_key = deadline, key
        expired.sort(key=lambda item: (item[0], item[1]))
        for _, key, _ in expired:
            del self._entries[key]
        self.bound = _INF if best is None else best
        self._bound_key = best_key
        return expired


__all__ = ["AgeingEntry", "AgeingTable"]
