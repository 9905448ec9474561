"""Per-VNI and VTEP-pair statistics of a decoded batch, computed on the columns with numpy."""

from __future__ import annotations

import socket

from vxlankit.bulk._numpy import np, npt
from vxlankit.bulk.columns import ColumnBatch
from vxlankit.bulk.results import BulkStats, Counter

I64 = npt.NDArray[np.int64]
# Up to this many groups, each group's first and last timestamp is found with one masked
# reduction per group; past it, with one sort of the batch.
_FEW_GROUPS = 32


def batch_stats(cols: ColumnBatch, fallback: int = 0) -> BulkStats:
    values, valid = cols.values, cols.valid
    wire = values["frame.len"].astype(np.int64)
    ts = values["frame.time_epoch"]
    stats = BulkStats(packets=cols.n, bytes=int(wire.sum()), fallback=fallback)
    rows = np.flatnonzero(valid["vxlan.vni"])
    stats.vxlan_packets = len(rows)
    if not len(rows):
        return stats
    vni = values["vxlan.vni"][rows].astype(np.int64)
    distinct, inverse = _factorize(vni)
    for i, counter in enumerate(_counters(inverse, len(distinct), wire[rows], ts[rows])):
        stats.vnis[int(distinct[i])] = counter
    rows = rows[valid["ip.src"][rows]]
    if not len(rows):
        return stats
    # A pair key is 64 bits of addresses plus a VNI: group by the addresses and by the VNI
    # separately, then by the two group numbers together.
    pair = (values["ip.src"][rows].astype(np.uint64) << np.uint64(32)) | values["ip.dst"][rows]
    pairs, pair_of = _factorize(pair.view(np.int64))
    vnis, vni_of = _factorize(values["vxlan.vni"][rows].astype(np.int64))
    keys, inverse = _factorize(pair_of * len(vnis) + vni_of)
    for i, counter in enumerate(_counters(inverse, len(keys), wire[rows], ts[rows])):
        p, v = divmod(int(keys[i]), len(vnis))
        both = int(pairs[p]) & 0xFFFFFFFFFFFFFFFF
        stats.vtep_pairs[(_ip(both >> 32), _ip(both & 0xFFFFFFFF), int(vnis[v]))] = counter
    return stats


def _factorize(keys: I64) -> tuple[I64, I64]:
    """(distinct keys in ascending order, index of each key among them)."""
    lo, hi = int(keys.min()), int(keys.max())
    if lo == hi:
        return keys[:1], np.zeros(len(keys), np.int64)
    if hi - lo <= 4 * len(keys) + 4096:
        # A small range: mark what is present instead of sorting.
        present = np.zeros(hi - lo + 1, np.bool_)
        present[keys - lo] = True
        rank = np.cumsum(present, dtype=np.int64) - 1
        return np.flatnonzero(present).astype(np.int64) + lo, rank[keys - lo]
    distinct, inverse = np.unique(keys, return_inverse=True)
    return distinct, inverse.reshape(-1).astype(np.int64)


def _counters(group: I64, k: int, wire: I64, ts: I64) -> list[Counter]:
    packets = np.bincount(group, minlength=k)
    nbytes = np.bincount(group, weights=wire, minlength=k)
    if k <= _FEW_GROUPS:
        firsts, lasts = [], []
        for g in range(k):
            mine = ts[group == g]
            firsts.append(int(mine.min()))
            lasts.append(int(mine.max()))
    else:
        order = np.lexsort((ts, group))
        bounds = np.concatenate(([0], np.cumsum(packets)))
        ordered = ts[order]
        firsts = ordered[bounds[:-1]].tolist()
        lasts = ordered[bounds[1:] - 1].tolist()
    return [Counter(int(packets[g]), int(nbytes[g]), firsts[g], lasts[g]) for g in range(k)]


def _ip(value: int) -> str:
    return socket.inet_ntoa(value.to_bytes(4, "big"))
