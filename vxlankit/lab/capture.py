"""dumpcap in the lab's namespaces, merged into one pcapng with an interface per tap.

dumpcap captures in the namespace it runs in, so there is one per namespace (with an ``-i`` per
interface there); each writes its own pcapng, and ``merge`` puts every packet into one file,
in time order, each interface named after its tap (``node1/eth0`` ...), as ``synth ping``
names them.  Every wait is bounded.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from vxlankit.capture.reader import open_capture
from vxlankit.capture.writer import PcapngWriter
from vxlankit.errors import CaptureError, LabError
from vxlankit.lab.netns import Netns
from vxlankit.lab.topology import TapPoint

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
# libpcap hands packets over from the kernel's ring in blocks, at the latest when dumpcap's
# 250 ms read timeout expires, and a dumpcap told to stop does not drain the ring: wait longer
# than that after the last packet, or the end of the exchange is lost.
DRAIN_S = 0.6


@dataclass(frozen=True)
class TapCapture:
    """The packets of one tap: ``(ts_ns, data, linktype)`` in capture order."""

    tap: str
    packets: tuple[tuple[int, bytes, int], ...]


class Dumpcaps:
    """One dumpcap per namespace; ``start`` returns once every one is capturing."""

    def __init__(self, net: Netns, taps: tuple[TapPoint, ...], folder: Path) -> None:
        self.net = net
        self.folder = folder
        self.by_ns: dict[str, list[TapPoint]] = defaultdict(list)
        for tap in taps:
            self.by_ns[tap.ns].append(tap)
        self.procs: dict[str, subprocess.Popen[Any]] = {}

    def file(self, ns: str) -> Path:
        return self.folder / f"{ns}.pcapng"

    def start(self) -> None:
        """Start them all and wait until each has its file open: dumpcap prints "Capturing on"
        before it opens the interfaces and "File:" after, so only the second means that no
        packet from now on is missed."""
        for ns, taps in self.by_ns.items():
            argv = ["dumpcap", "-q", "-n", "-w", str(self.file(ns))]
            for tap in taps:
                argv += ["-i", tap.ifname]
            self.procs[ns] = self.net.spawn(ns, *argv)
        deadline = time.monotonic() + START_TIMEOUT_S
        for ns, proc in self.procs.items():
            _wait_for(proc, b"File: ", deadline, f"dumpcap in {self.net.name(ns)}")

    def stop(self) -> None:
        """After ``DRAIN_S``, SIGTERM: dumpcap finishes its file and exits."""
        time.sleep(DRAIN_S)
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for ns, proc in self.procs.items():
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
                raise LabError(f"dumpcap in {self.net.name(ns)} did not stop") from None

    def read(self) -> list[TapCapture]:
        """Every tap's packets, from the files of the stopped dumpcaps."""
        found: list[TapCapture] = []
        for ns, taps in self.by_ns.items():
            per_if: dict[str, list[tuple[int, bytes, int]]] = defaultdict(list)
            path = self.file(ns)
            try:
                with open_capture(str(path)) as reader:
                    for record in reader:
                        per_if[record.interface.name or ""].append(
                            (record.ts_ns, record.data, record.interface.linktype))
            except CaptureError as exc:
                raise LabError(f"dumpcap's capture in {self.net.name(ns)}: {exc}") from None
            for tap in taps:
                found.append(TapCapture(tap.tap, tuple(per_if.get(tap.ifname, ()))))
        return found


def _wait_for(proc: subprocess.Popen[Any], marker: bytes, deadline: float, what: str) -> None:
    stream: IO[bytes] | None = proc.stderr
    assert stream is not None
    seen = b""
    fd = stream.fileno()
    while marker not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise LabError(f"{what} did not start capturing within {START_TIMEOUT_S:g} s")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            said = seen.decode(errors="replace").strip().splitlines()
            raise LabError(f"{what} stopped: {said[-1] if said else 'no message'}")
        seen += chunk


def merge(captures: list[TapCapture], order: tuple[str, ...], target: Any, *,
          comment: str) -> int:
    """Write every tap's packets into ``target`` (a path or a binary file) as one pcapng,
    an interface per tap in ``order``, packets in time order.  Returns the packet count."""
    by_tap = {c.tap: c for c in captures}
    rows = sorted(((ts, i, data, tap) for tap in order
                   for i, (ts, data, _) in enumerate(by_tap[tap].packets)),
                  key=lambda r: (r[0], order.index(r[3]), r[1]))
    with PcapngWriter(target, userappl="vxlankit lab ping", comment=comment) as ng:
        ids = {}
        for tap in order:
            link = by_tap[tap].packets[0][2] if by_tap[tap].packets else 1
            ids[tap] = ng.add_interface(tap, link, tsresol=10**9,
                                        description=f"captured by dumpcap on {tap}")
        for ts, _, data, tap in rows:
            ng.write(data, ts, ids[tap])
    return len(rows)
