"""Per-VNI and VTEP-pair statistics of a decoded batch, computed on the columns with numpy."""

from __future__ import annotations

import socket
from typing import Any

from vxlankit.bulk._numpy import np, npt
from vxlankit.bulk.columns import ColumnBatch
from vxlankit.bulk.results import BulkStats, Counter


def batch_stats(cols: ColumnBatch, fallback: int = 0) -> BulkStats:
    values, valid = cols.values, cols.valid
    wire = values["frame.len"].astype(np.int64)
    ts = values["frame.time_epoch"]
    stats = BulkStats(packets=cols.n, bytes=int(wire.sum()), fallback=fallback)
    tunnelled = valid["vxlan.vni"]
    rows = np.flatnonzero(tunnelled)
    stats.vxlan_packets = len(rows)
    if not len(rows):
        return stats
    vni = values["vxlan.vni"][rows].astype(np.int64)
    for key, counter in _grouped(vni[:, None], wire[rows], ts[rows]):
        stats.vnis[int(key[0])] = counter
    with_ip = rows[valid["ip.src"][rows]]
    if len(with_ip):
        keys = np.stack([values["ip.src"][with_ip].astype(np.int64),
                         values["ip.dst"][with_ip].astype(np.int64),
                         values["vxlan.vni"][with_ip].astype(np.int64)], axis=1)
        for key, counter in _grouped(keys, wire[with_ip], ts[with_ip]):
            src, dst, v = (int(x) for x in key)
            stats.vtep_pairs[(_ip(src), _ip(dst), v)] = counter
    return stats


def _grouped(keys: npt.NDArray[np.int64], wire: npt.NDArray[np.int64],
             ts: npt.NDArray[np.int64]) -> list[tuple[Any, Counter]]:
    distinct, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    k = len(distinct)
    packets = np.bincount(inverse, minlength=k)
    nbytes = np.bincount(inverse, weights=wire, minlength=k)
    first = np.full(k, np.iinfo(np.int64).max, np.int64)
    last = np.full(k, np.iinfo(np.int64).min, np.int64)
    np.minimum.at(first, inverse, ts)
    np.maximum.at(last, inverse, ts)
    return [(distinct[i], Counter(int(packets[i]), int(nbytes[i]), int(first[i]), int(last[i])))
            for i in range(k)]


def _ip(value: int) -> str:
    return socket.inet_ntoa(value.to_bytes(4, "big"))
