"""What the bulk functions return: plain values, importable without numpy or pyarrow.

Statistics are built so that merging is associative and commutative (sums, minima, maxima), so
partial results from any split of the input, combined in any order, equal a single pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExportSummary:
    """The outcome of :func:`vxlankit.bulk.export`."""

    out: str
    format: str
    files: int
    packets: int
    fallback: int  # packets the rich decoder handled (see docs/performance.md)
    batches: int
    read: int = 0  # packets read: ``packets`` plus those a display filter left out


@dataclass
class Counter:
    """Packets and bytes (frame.len, the length on the wire) seen between two timestamps."""

    packets: int = 0
    bytes: int = 0
    first_ns: int | None = None
    last_ns: int | None = None

    def add(self, packets: int, nbytes: int, first_ns: int, last_ns: int) -> None:
        self.packets += packets
        self.bytes += nbytes
        self.first_ns = first_ns if self.first_ns is None else min(self.first_ns, first_ns)
        self.last_ns = last_ns if self.last_ns is None else max(self.last_ns, last_ns)

    def merge(self, other: Counter) -> None:
        if other.packets:
            assert other.first_ns is not None and other.last_ns is not None
            self.add(other.packets, other.bytes, other.first_ns, other.last_ns)


# (outer source IPv4, outer destination IPv4, VNI): one VTEP-to-VTEP direction in one VNI.
PairKey = tuple[str, str, int]


@dataclass
class BulkStats:
    """Per-VNI and per-VTEP-pair traffic of some captures.

    A packet counts for a VNI when its first VXLAN header carries it; its VTEP pair is the
    source and destination of the IPv4 header that carries that VXLAN header (the first IPv4
    header of the frame).  ``bytes`` are wire lengths (``frame.len``).
    """

    packets: int = 0
    bytes: int = 0
    vxlan_packets: int = 0
    fallback: int = 0
    vnis: dict[int, Counter] = field(default_factory=dict)
    vtep_pairs: dict[PairKey, Counter] = field(default_factory=dict)

    def merge(self, other: BulkStats) -> BulkStats:
        """Add ``other`` into this one (and return it)."""
        self.packets += other.packets
        self.bytes += other.bytes
        self.vxlan_packets += other.vxlan_packets
        self.fallback += other.fallback
        for vni, counter in other.vnis.items():
            self.vnis.setdefault(vni, Counter()).merge(counter)
        for key, counter in other.vtep_pairs.items():
            self.vtep_pairs.setdefault(key, Counter()).merge(counter)
        return self

    def vni_table(self) -> list[tuple[int, Counter]]:
        return sorted(self.vnis.items())

    def pair_table(self) -> list[tuple[PairKey, Counter]]:
        """VTEP pairs, busiest first (ties in address order, so the order is stable)."""
        return sorted(self.vtep_pairs.items(), key=lambda kv: (-kv[1].packets, kv[0]))
