"""A Linux bridge (``br0``) as a sans-IO state machine: ports, a learning MAC table, flooding.

Followed from net/bridge (as of Linux 6.x): br_input.c (br_handle_frame, br_handle_frame_finish),
br_fdb.c (br_fdb_update, fdb_create, br_fdb_cleanup) and br_forward.c (br_forward, br_flood,
should_deliver).  One bridge, no VLAN filtering, no STP (every port forwarding), no multicast
snooping (multicast is flooded like broadcast), no local (host) delivery.  See docs/models.md.

Time is ``now`` in float seconds, given to every call.  An entry last refreshed at ``t`` is
present at any ``now < t + ageing_time`` and gone at ``now >= t + ageing_time`` (br_fdb_cleanup
deletes when ``updated + hold_time`` is not after ``jiffies``), with no GC-interval slack.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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

DEFAULT_AGEING_TIME = 300.0  # BR_DEFAULT_AGEING_TIME, the bridge's ageing_time
DEFAULT_MAX_LEARNED = 4096  # Linux's fdb_max_learned defaults to 0 (unlimited); see docs
BROADCAST = "ff:ff:ff:ff:ff:ff"
_ZERO = "00:00:00:00:00:00"
_INF = float("inf")

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
    last_seen: float


@dataclass(frozen=True, slots=True)
class PortConfig:
    """A bridge port: ``learning`` (BR_LEARNING) and ``hairpin`` (BR_HAIRPIN_MODE) flags."""

    name: str
    learning: bool = True
    hairpin: bool = False


class _Entry:
    __slots__ = ("port", "static", "seen")

    def __init__(self, port: str, static: bool, seen: float) -> None:
        self.port = port
        self.static = static
        self.seen = seen


class Bridge:
    """The bridge.  ``handle(event, now)`` and ``tick(now)`` return lists of outputs.

    ``max_learned`` caps learned entries (0 = unlimited, as Linux's ``fdb_max_learned``);
    static entries do not count.  ``ageing_time == 0`` turns learning off altogether, as in
    Linux ("some users want to always flood", br_fdb_update).
    """

    __slots__ = (
        "name",
        "ageing_time",
        "max_learned",
        "_ports",
        "_flood_sets",
        "_fdb",
        "_n_learned",
        "_next_expiry",
    )

    def __init__(
        self,
        name: str = "br0",
        ports: Iterable[str | PortConfig] = (),
        *,
        ageing_time: float = DEFAULT_AGEING_TIME,
        max_learned: int = DEFAULT_MAX_LEARNED,
    ) -> None:
        if ageing_time < 0:
            raise ModelError(f"{name}: ageing_time must be >= 0, got {ageing_time}")
        if max_learned < 0:
            raise ModelError(f"{name}: max_learned must be >= 0, got {max_learned}")
        self.name = name
        self.ageing_time = float(ageing_time)
        self.max_learned = max_learned
        self._ports: dict[str, PortConfig] = {}
        # Per ingress port, the ports a flood goes out of: computed once per topology change
        # rather than per frame.
        self._flood_sets: dict[str, tuple[str, ...]] = {}
        self._fdb: dict[str, _Entry] = {}
        self._n_learned = 0
        # A lower bound on the earliest expiry among learned entries: refreshes only push
        # expiries later, so the table is scanned only when this bound is reached.
        self._next_expiry = _INF
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

    def remove_port(self, name: str, now: float) -> list[Output]:
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

    def tick(self, now: float) -> list[Output]:
        """Age the table without traffic."""
        out: list[Output] = []
        if now >= self._next_expiry:
            self._expire(now, out)
        return out

    def handle(self, event: BridgeInput, now: float) -> list[Output]:
        out: list[Output] = []
        if now >= self._next_expiry:
            self._expire(now, out)
        if type(event) is FrameReceived:
            self._receive(event.port, event.frame, now, out)
        elif type(event) is BridgeFdbAdd:
            self._add_static(event, now, out)
        elif type(event) is BridgeFdbDel:
            entry = self._fdb.get(event.mac)
            if entry is not None:
                self._delete(event.mac, entry)
                out.append(
                    Removed(self.name, "fdb", None, event.mac, entry.port, now, event.reason)
                )
        else:
            raise ModelError(f"{self.name}: not a bridge event: {event!r}")
        return out

    def _receive(self, port_name: str, frame: Frame, now: float, out: list[Output]) -> None:
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
        if port.learning and self.ageing_time > 0:
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

    def _learn(self, mac: str, port: str, now: float, out: list[Output]) -> None:
        entry = self._fdb.get(mac)
        if entry is None:
            if self.max_learned and self._n_learned >= self.max_learned:
                out.append(LimitReached(self.name, None, mac, self.max_learned, now))
                return
            self._fdb[mac] = _Entry(port, False, now)
            self._n_learned += 1
            expiry = now + self.ageing_time
            if expiry < self._next_expiry:
                self._next_expiry = expiry
            out.append(Learned(self.name, None, mac, port, now, "br_fdb_update"))
        elif not entry.static:
            entry.seen = now
            if entry.port != port:
                old = entry.port
                entry.port = port
                out.append(Moved(self.name, None, mac, old, port, now, "br_fdb_update"))
        # A static entry is neither refreshed nor moved by traffic (it never ages, and a
        # static entry here is Linux's "static sticky"); the frame is still forwarded.

    def _add_static(self, event: BridgeFdbAdd, now: float, out: list[Output]) -> None:
        mac, port = event.mac, event.port
        if port not in self._ports:
            raise ModelError(f"{self.name}: no port {port!r}")
        if _is_group(mac) or mac == _ZERO:
            raise ModelError(f"{self.name}: {mac} is not a unicast address")
        entry = self._fdb.get(mac)
        if entry is None:
            self._fdb[mac] = _Entry(port, True, now)
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
        del self._fdb[mac]
        if not entry.static:
            self._n_learned -= 1

    def _expire(self, now: float, out: list[Output]) -> None:
        ageing = self.ageing_time
        expired: list[tuple[float, str, _Entry]] = []
        next_expiry = _INF
        for mac, entry in self._fdb.items():
            if entry.static:
                continue
            deadline = entry.seen + ageing
            if deadline <= now:
                expired.append((deadline, mac, entry))
            elif deadline < next_expiry:
                next_expiry = deadline
        # Oldest first, then by MAC, so transcripts do not depend on dict order.
        expired.sort(key=lambda item: (item[0], item[1]))
        for deadline, mac, entry in expired:
            del self._fdb[mac]
            self._n_learned -= 1
            out.append(Aged(self.name, None, mac, entry.port, entry.seen, deadline, now))
        self._next_expiry = next_expiry


__all__ = ["Bridge", "BridgeEntry", "PortConfig", "DEFAULT_AGEING_TIME", "DEFAULT_MAX_LEARNED"]
