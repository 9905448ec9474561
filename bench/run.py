"""vxlankit against its peers, measured side by side in one run.

    python bench/run.py                        # 100k packets, best of 3: about 4 minutes
    python bench/run.py --packets 1000000      # the full run (docs/performance.md)
    python bench/run.py --capture my.pcap      # your own capture instead of the made one

Every tool runs in a subprocess of its own, and its peak memory (ru_maxrss from wait4) is
its alone.  Start-up does not count against anyone: the Python tools time their work inside
the process (after imports; reading the capture is part of the work), and the commands
(tshark, ``python -m vxlankit decode``) are also run on a 10-packet copy of the capture, the
rate being (N - 10) packets over the difference in time.  Rates are per CPU second (user +
system, worker processes included): on a shared machine wall time depends on the
neighbours, CPU time much less.  Wall-clock rates are shown too, and ``-j 2`` against
``-j 1`` is judged on wall time, which is the point of using two processes.

The made capture is the seed ping of ``vxlankit synth ping`` (the VTEPs' underlay taps: VXLAN
with ICMP echo and ARP inside), repeated with advancing timestamps up to ``--packets``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYTHON = sys.executable
TINY = 10

# The fields every decoder extracts for the field-extraction comparison: 13 names, of which
# the four address fields are taken at both occurrences (outer and inner) = 17 values.
TSHARK_FIELDS = ["frame.number", "frame.time_epoch", "frame.len", "eth.src", "eth.dst",
                 "ip.src", "ip.dst", "udp.srcport", "udp.dstport", "vxlan.vni",
                 "vxlan.flags", "icmp.type", "icmp.seq"]


# ------------------------------------------------------------------------------ captures


def make_capture(path: Path, packets: int, all_taps: bool = False) -> None:
    """The seed ping's frames, repeated to ``packets`` records, as a microsecond pcap."""
    sys.path.insert(0, str(REPO))
    from vxlankit.synth.ping import PingOptions, synthesize_ping

    result = synthesize_ping(PingOptions(count=50))
    frames = [p.data for p in result.packets if all_taps or p.tap.endswith("/eth0")]
    write_repeated(path, frames, packets)


def write_repeated(path: Path, frames: list[bytes], packets: int, mode: str = "wb") -> None:
    """``frames`` repeated in order to ``packets`` records, a microsecond apart, as an
    Ethernet pcap (``mode`` "xb": never over an existing file)."""
    pack = struct.Struct("<IIII").pack
    with open(path, mode) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        chunk: list[bytes] = []
        for i in range(packets):
            data = frames[i % len(frames)]
            chunk += (pack(1_700_000_000 + i // 1_000_000, i % 1_000_000, len(data),
                           len(data)), data)
            if len(chunk) >= 40_000:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))


def head_capture(src: Path, dst: Path, count: int) -> int:
    """The first ``count`` records of a capture (pcap or pcapng), as pcap via vxlankit."""
    sys.path.insert(0, str(REPO))
    from vxlankit.capture.reader import open_capture
    from vxlankit.capture.writer import PcapWriter

    n = 0
    with open_capture(src) as reader:
        linktype = reader.interfaces[0].linktype if reader.interfaces else 1
        with PcapWriter(str(dst), linktype, nanosecond=True) as writer:
            for record in reader:
                writer.write(record.data, record.ts_ns, record.orig_len)
                n += 1
                if n == count:
                    break
    return n


def count_records(path: Path) -> int:
    sys.path.insert(0, str(REPO))
    from vxlankit.capture.reader import open_capture

    with open_capture(path) as reader:
        return sum(1 for _ in reader)


# ------------------------------------------------------------------------------ workers
# Each runs in its own process (``run.py --worker NAME FILE``) and prints how many packets
# or frames it handled.


def work_bulk(path: str) -> int:
    from vxlankit.bulk import iter_batches

    return sum(batch.num_rows for batch in iter_batches([path]))


def work_bulk_stats(path: str, jobs: int) -> int:
    from vxlankit.bulk import bulk_stats

    return bulk_stats([path], jobs=jobs).packets


def work_bulk_export(path: str, jobs: int, fmt: str) -> int:
    from vxlankit.bulk import export

    with tempfile.TemporaryDirectory() as tmp:
        return export([path], os.path.join(tmp, f"out.{fmt}"), format=fmt, jobs=jobs).packets


def work_rich(path: str) -> int:
    from vxlankit.capture.reader import open_capture
    from vxlankit.codec import decode

    n = 0
    with open_capture(path) as reader:
        for record in reader:
            decode(record.data, record.interface.linktype)
            n += 1
    return n


def work_replay(path: str) -> int:
    """The capture through the VTEP models, as ``vxlankit replay`` runs it (decode included)."""
    from vxlankit.replay import replay

    return replay(path).packets


def _dpkt_vxlan() -> Any:
    import dpkt

    class VXLAN(dpkt.Packet):  # type: ignore[misc]
        """dpkt has no VXLAN; this is how one adds a protocol to it."""

        __hdr__ = (("flags", "H", 0x0800), ("gbp", "H", 0), ("vni_r", "I", 0))

        def unpack(self, buf: bytes) -> None:
            dpkt.Packet.unpack(self, buf)
            self.data = dpkt.ethernet.Ethernet(self.data)

    return VXLAN


def work_dpkt(path: str) -> int:
    """The 17 values tshark -T fields prints, from dpkt's objects."""
    import dpkt

    vxlan_cls = _dpkt_vxlan()
    ntoa = __import__("socket").inet_ntoa
    n = 0
    with open(path, "rb") as f:
        pcapng = f.read(4) == b"\x0a\x0d\x0d\x0a"
        f.seek(0)
        reader = dpkt.pcapng.Reader(f) if pcapng else dpkt.pcap.Reader(f)
        for number, (ts, buf) in enumerate(reader, 1):
            eth = dpkt.ethernet.Ethernet(buf)
            row: list[Any] = [number, ts, len(buf), eth.src.hex(":"), eth.dst.hex(":")]
            ip = eth.data
            if isinstance(ip, dpkt.ip.IP):
                row += [ntoa(ip.src), ntoa(ip.dst)]
                udp = ip.data
                if isinstance(udp, dpkt.udp.UDP):
                    row += [udp.sport, udp.dport]
                    if udp.dport == 4789:
                        vx = vxlan_cls(udp.data)
                        inner = vx.data
                        row += [vx.vni_r >> 8, vx.flags, inner.src.hex(":"),
                                inner.dst.hex(":")]
                        ip = inner.data
                        if isinstance(ip, dpkt.ip.IP):
                            row += [ntoa(ip.src), ntoa(ip.dst)]
                if isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.icmp.ICMP):
                    icmp = ip.data
                    row.append(icmp.type)
                    if isinstance(icmp.data, dpkt.icmp.ICMP.Echo):
                        row.append(icmp.data.seq)
            n += 1
    return n


def work_scapy(path: str) -> int:
    import logging

    logging.getLogger("scapy").setLevel(logging.ERROR)
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    from scapy.utils import PcapReader

    n = 0
    for pkt in PcapReader(path):
        row: list[Any] = [n + 1, float(pkt.time), len(pkt), pkt[Ether].src, pkt[Ether].dst]
        if IP in pkt:
            row += [pkt[IP].src, pkt[IP].dst]
        if UDP in pkt:
            row += [pkt[UDP].sport, pkt[UDP].dport]
        if VXLAN in pkt:
            inner = pkt[VXLAN].payload
            row += [pkt[VXLAN].vni, pkt[VXLAN].flags, inner.src, inner.dst]
            if IP in inner:
                row += [inner[IP].src, inner[IP].dst]
        if ICMP in pkt:
            row += [pkt[ICMP].type, pkt[ICMP].seq]
        n += 1
    return n


_OUTER_SRC, _OUTER_DST = "172.31.1.10", "192.168.1.10"
_INNER_SRC, _INNER_DST = "10.0.0.3", "10.0.0.4"
_MAC_A, _MAC_B = "02:42:ac:1f:01:0a", "02:42:c0:a8:01:0a"
_MAC_C, _MAC_D = "02:42:0a:00:00:03", "02:42:0a:00:00:04"
_PAYLOAD = bytes(range(56))


def work_build_vxlankit(count: int) -> int:
    """VXLAN/ICMP echo frames, each built from layers and encoded (lengths and checksums
    computed), as ``vxlankit synth`` makes them."""
    from vxlankit import build, encode

    total = 0
    for seq in range(count):
        frame = encode([
            build.eth(src=_MAC_A, dst=_MAC_B),
            build.ipv4(src=_OUTER_SRC, dst=_OUTER_DST, df=True, id=seq & 0xFFFF),
            build.udp(sport=49152 + seq % 16384, dport=4789, checksum=0),
            build.vxlan(vni=4096),
            build.eth(src=_MAC_C, dst=_MAC_D),
            build.ipv4(src=_INNER_SRC, dst=_INNER_DST, df=True, id=seq & 0xFFFF),
            build.icmp_echo(ident=1, seq=seq & 0xFFFF),
            build.payload(_PAYLOAD),
        ])
        total += len(frame)
    return count if total else 0


def work_build_dpkt(count: int) -> int:
    import socket

    import dpkt

    vxlan_cls = _dpkt_vxlan()
    aton = socket.inet_aton
    macs = [bytes.fromhex(m.replace(":", "")) for m in (_MAC_A, _MAC_B, _MAC_C, _MAC_D)]
    total = 0
    for seq in range(count):
        echo = dpkt.icmp.ICMP.Echo(id=1, seq=seq & 0xFFFF, data=_PAYLOAD)
        icmp = dpkt.icmp.ICMP(type=8, code=0, data=echo)
        inner_ip = dpkt.ip.IP(src=aton(_INNER_SRC), dst=aton(_INNER_DST), p=1,
                              id=seq & 0xFFFF, df=1, data=icmp)
        inner = dpkt.ethernet.Ethernet(src=macs[2], dst=macs[3], type=0x0800, data=inner_ip)
        vx = vxlan_cls(flags=0x0800, gbp=0, vni_r=4096 << 8)
        vx.data = inner
        udp = dpkt.udp.UDP(sport=49152 + seq % 16384, dport=4789, sum=0)
        udp.data = bytes(vx)
        udp.ulen = 8 + len(udp.data)
        ip = dpkt.ip.IP(src=aton(_OUTER_SRC), dst=aton(_OUTER_DST), p=17, id=seq & 0xFFFF,
                        df=1, data=udp)
        frame = bytes(dpkt.ethernet.Ethernet(src=macs[0], dst=macs[1], type=0x0800, data=ip))
        total += len(frame)
    return count if total else 0


def work_build_scapy(count: int) -> int:
    import logging

    logging.getLogger("scapy").setLevel(logging.ERROR)
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    from scapy.packet import Raw

    total = 0
    for seq in range(count):
        pkt = (Ether(src=_MAC_A, dst=_MAC_B)
               / IP(src=_OUTER_SRC, dst=_OUTER_DST, flags="DF", id=seq & 0xFFFF)
               / UDP(sport=49152 + seq % 16384, dport=4789, chksum=0) / VXLAN(vni=4096)
               / Ether(src=_MAC_C, dst=_MAC_D)
               / IP(src=_INNER_SRC, dst=_INNER_DST, flags="DF", id=seq & 0xFFFF)
               / ICMP(id=1, seq=seq & 0xFFFF) / Raw(_PAYLOAD))
        total += len(bytes(pkt))
    return count if total else 0


WORKERS = {
    "bulk": lambda a: work_bulk(a),
    "bulk-stats-j1": lambda a: work_bulk_stats(a, 1),
    "bulk-stats-j2": lambda a: work_bulk_stats(a, 2),
    "bulk-parquet-j1": lambda a: work_bulk_export(a, 1, "parquet"),
    "bulk-parquet-j2": lambda a: work_bulk_export(a, 2, "parquet"),
    "bulk-arrow-j1": lambda a: work_bulk_export(a, 1, "arrow"),
    "bulk-arrow-j2": lambda a: work_bulk_export(a, 2, "arrow"),
    "rich": lambda a: work_rich(a),
    "replay": lambda a: work_replay(a),
    "dpkt": lambda a: work_dpkt(a),
    "scapy": lambda a: work_scapy(a),
    "build-vxlankit": lambda a: work_build_vxlankit(int(a)),
    "build-dpkt": lambda a: work_build_dpkt(int(a)),
    "build-scapy": lambda a: work_build_scapy(int(a)),
}


def _cpu() -> float:
    """CPU seconds of this process and of its children that have finished (pool workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _run_worker(name: str, arg: str, warm_up: str | None) -> None:
    work = WORKERS[name]
    if name.startswith("bulk"):
        # Imports are start-up, not work (pyarrow.compute alone builds hundreds of wrappers
        # when first imported).
        import pyarrow.compute  # noqa: F401
        import pyarrow.csv  # noqa: F401
        import pyarrow.ipc  # noqa: F401
        import pyarrow.parquet  # noqa: F401

        import vxlankit.bulk.fast  # noqa: F401
        import vxlankit.bulk.stats  # noqa: F401
        import vxlankit.bulk.writers  # noqa: F401
    if warm_up is not None:
        # First-call costs (tables built on first use, the allocator's first pages) are paid
        # on the 10-packet capture, as the commands pay them in their 10-packet run.
        work(warm_up)
    wall, cpu = time.perf_counter(), _cpu()
    count = work(arg)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    print(json.dumps({"count": count, "wall": wall, "cpu": cpu}))


# ------------------------------------------------------------------------------ measuring


@dataclass
class Run:
    wall: float
    cpu: float
    maxrss_mb: float
    ok: bool
    error: str = ""
    output: str = ""


def measure(argv: list[str], keep_output: bool = False) -> Run:
    """Run ``argv``; wall time, CPU time and peak RSS of it.  Its output is thrown away (as
    ``> /dev/null``) unless ``keep_output``."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out if keep_output else subprocess.DEVNULL,
                                stderr=err, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace").strip()
        out.seek(0)
        output = out.read().decode(errors="replace")
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 2**20
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * scale,
               proc.returncode == 0, text.splitlines()[-1] if proc.returncode and text else "",
               output)


@dataclass
class Tool:
    name: str
    what: str  # "decode" (packets of the capture) or "build" (frames made)
    label: str
    argv: Any  # capture path or frame count -> argv
    sample: bool = False  # runs on --sample packets, not the whole capture
    inside: bool = False  # a Python worker that times its own work
    note: str = ""
    result: dict[str, Any] = field(default_factory=dict)


class _Worker:
    def __init__(self, name: str) -> None:
        self.name = name
        self.warm_up: Any = None

    def __call__(self, arg: Any) -> list[str]:
        argv = [PYTHON, str(Path(__file__).resolve()), "--worker", self.name, str(arg)]
        if self.warm_up is not None:
            argv += ["--warm-up", str(self.warm_up)]
        return argv


def _worker(name: str) -> Any:
    return _Worker(name)


def _tshark(*extra: str) -> Any:
    return lambda cap: ["tshark", "-n", "-r", str(cap), *extra]


def tools() -> list[Tool]:
    fields = [x for f in TSHARK_FIELDS for x in ("-e", f)]
    cli = [PYTHON, "-m", "vxlankit", "decode", "--color", "never"]
    return [
        Tool("bulk", "decode", "vxlankit bulk (columns -> Arrow batches)", _worker("bulk")),
        Tool("rich", "decode", "vxlankit rich (decode -> Packet objects)", _worker("rich")),
        Tool("replay", "decode", "vxlankit replay (VTEP models)", _worker("replay")),
        Tool("json", "decode", "vxlankit decode --json", lambda c: [*cli, "--json", str(c)]),
        Tool("oneline", "decode", "vxlankit decode (one line per packet)",
             lambda c: [*cli, str(c)]),
        Tool("dpkt", "decode", "dpkt (same 17 values, inner included)", _worker("dpkt")),
        Tool("tshark-fields", "decode", "tshark -T fields (same 17 values)",
             _tshark("-T", "fields", *fields, "-E", "occurrence=a")),
        Tool("tshark-json", "decode", "tshark -T json", _tshark("-T", "json")),
        Tool("tshark-oneline", "decode", "tshark (one line per packet)", _tshark()),
        Tool("scapy", "decode", "scapy (same 17 values)", _worker("scapy"), sample=True),
        Tool("bulk-stats-j1", "decode", "vxlankit bulk_stats, 1 process",
             _worker("bulk-stats-j1")),
        Tool("bulk-stats-j2", "decode", "vxlankit bulk_stats, jobs=2", _worker("bulk-stats-j2")),
        Tool("bulk-parquet-j1", "decode", "vxlankit export parquet, 1 process",
             _worker("bulk-parquet-j1")),
        Tool("bulk-parquet-j2", "decode", "vxlankit export parquet, jobs=2",
             _worker("bulk-parquet-j2")),
        Tool("bulk-arrow-j1", "decode", "vxlankit export arrow, 1 process",
             _worker("bulk-arrow-j1")),
        Tool("bulk-arrow-j2", "decode", "vxlankit export arrow, jobs=2",
             _worker("bulk-arrow-j2")),
        Tool("build-vxlankit", "build", "vxlankit build + encode", _worker("build-vxlankit")),
        Tool("build-dpkt", "build", "dpkt build", _worker("build-dpkt")),
        Tool("build-scapy", "build", "scapy build", _worker("build-scapy"), sample=True),
    ]


def _rates(full: Run, tiny: Run | None, count: int) -> dict[str, float]:
    if tiny is None:  # a Python worker: it timed its own work
        inside = json.loads(full.output)
        n, cpu, wall = inside["count"], inside["cpu"], inside["wall"]
    else:
        n, cpu, wall = count - TINY, full.cpu - tiny.cpu, full.wall - tiny.wall
    if n != count - (0 if tiny is None else TINY) or cpu <= 0 or wall <= 0:
        raise ValueError(f"implausible measurement: {n} of {count} in {cpu:.3f}s cpu, "
                         f"{wall:.3f}s wall (use more packets)")
    return {"cpu_rate": n / cpu, "wall_rate": n / wall, "cpu": full.cpu, "wall": full.wall,
            "maxrss_mb": full.maxrss_mb, "count": count}


def _best(results: list[dict[str, float]]) -> dict[str, float]:
    """The best of repeated runs: highest rates, lowest times and peak memory."""
    best = dict(results[0])
    for r in results[1:]:
        for key in ("cpu_rate", "wall_rate"):
            best[key] = max(best[key], r[key])
        for key in ("cpu", "wall", "maxrss_mb"):
            best[key] = min(best[key], r[key])
    best["runs"] = len(results)
    return best


def cli_available() -> str:
    probe = subprocess.run([PYTHON, "-m", "vxlankit", "decode", "--help"], cwd=REPO,
                           capture_output=True, text=True)
    if probe.returncode != 0 or "--json" not in probe.stdout:
        return "the vxlankit CLI (python -m vxlankit decode --json) is not available here"
    return ""


# ------------------------------------------------------------------------------ report


TARGETS = [
    # (label, numerator, denominator, minimum, on)
    ("bulk field extraction vs dpkt", "bulk", "dpkt", 20.0, "cpu_rate"),
    ("bulk field extraction vs tshark -T fields", "bulk", "tshark-fields", 40.0, "cpu_rate"),
    ("rich decode vs dpkt", "rich", "dpkt", 1.5, "cpu_rate"),
    ("decode --json vs tshark -T json", "json", "tshark-json", 5.0, "cpu_rate"),
    ("one-line decode vs tshark one-line", "oneline", "tshark-oneline", 2.0, "cpu_rate"),
    ("building frames vs dpkt build", "build-vxlankit", "build-dpkt", 2.0, "cpu_rate"),
    ("bulk_stats jobs=2 vs 1 process (wall)", "bulk-stats-j2", "bulk-stats-j1", 1.6,
     "wall_rate"),
    ("export parquet jobs=2 vs 1 process (wall)", "bulk-parquet-j2", "bulk-parquet-j1", 1.6,
     "wall_rate"),
    ("export arrow jobs=2 vs 1 process (wall)", "bulk-arrow-j2", "bulk-arrow-j1", 1.6,
     "wall_rate"),
]


def report(all_tools: list[Tool], packets: int, capture: Path, notes: list[str]) -> str:
    by = {t.name: t for t in all_tools}
    dpkt = by["dpkt"].result.get("cpu_rate")
    dpkt_build = by["build-dpkt"].result.get("cpu_rate")
    runs = max((t.result.get("runs", 1) for t in all_tools if t.result), default=1)
    lines = [f"capture: {capture} ({packets} packets, {capture.stat().st_size / 2**20:.1f} MiB)"
             f"; best of {runs} run{'s' if runs > 1 else ''} per tool",
             f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
             f"load average {os.getloadavg()[0]:.2f} at the end",
             "",
             f"{'tool':<44} {'count':>9} {'pkt/s cpu':>11} {'pkt/s wall':>11} "
             f"{'vs dpkt':>8} {'peak MB':>8}"]
    for t in all_tools:
        r = t.result
        if not r:
            lines.append(f"{t.label:<44} {'skipped':>9}   {t.note}")
            continue
        base = dpkt_build if t.what == "build" else dpkt
        ratio = f"{r['cpu_rate'] / base:7.2f}x" if base else "      -"
        lines.append(f"{t.label:<44} {r['count']:>9} {r['cpu_rate']:>11,.0f} "
                     f"{r['wall_rate']:>11,.0f} {ratio:>8} {r['maxrss_mb']:>8.0f}")
    lines += ["", "targets (rates per CPU second, start-up excluded; -j on wall time):"]
    for label, num, den, minimum, key in TARGETS:
        a, b = by[num].result.get(key), by[den].result.get(key)
        if a is None or b is None:
            lines.append(f"  {label:<46} not measured")
            continue
        ratio = a / b
        verdict = "met" if ratio >= minimum else "MISSED"
        lines.append(f"  {label:<46} {ratio:8.2f}x  (target >= {minimum:g}x: {verdict})")
    bulk = by["bulk"].result
    if bulk:
        verdict = "met" if bulk["maxrss_mb"] <= 200 else "MISSED"
        lines.append(f"  {'bulk peak memory':<46} {bulk['maxrss_mb']:7.0f} MB "
                     f"(target <= 200 MB at 1M packets: {verdict})")
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packets", type=int, default=100_000,
                        help="packets in the made capture (default 100000)")
    parser.add_argument("--capture", type=Path, help="use this capture instead of making one")
    parser.add_argument("--build", type=int, help="frames to build (default: --packets, "
                        "at most 200000)")
    parser.add_argument("--sample", type=int, default=2000,
                        help="packets (and frames) for scapy (default 2000)")
    parser.add_argument("--all-taps", action="store_true",
                        help="make the capture from every tap of the ping (container side "
                        "too), not just the VXLAN underlay")
    parser.add_argument("--repeat", type=int, default=3,
                        help="run every tool this many times and keep its best times "
                        "(default 3); on a busy machine the best run is the least disturbed")
    parser.add_argument("--only", nargs="*", help="run only these tools (by name)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--warm-up", help=argparse.SUPPRESS)
    parser.add_argument("arg", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        sys.path.insert(0, str(REPO))
        _run_worker(args.worker, args.arg, args.warm_up)
        return

    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vxlankit-bench-") as tmp:
        folder = Path(tmp)
        if args.capture is not None:
            capture = args.capture.resolve()
            packets = count_records(capture)
        else:
            capture = folder / f"ping-{args.packets}.pcap"
            make_capture(capture, args.packets, args.all_taps)
            packets = args.packets
        tiny = folder / "tiny.pcap"
        head_capture(capture, tiny, TINY)
        sample = folder / "sample.pcap"
        sample_count = head_capture(capture, sample, args.sample)
        frames = args.build or min(packets, 200_000)
        missing_cli = cli_available()
        if missing_cli:
            notes.append(missing_cli + "; its rows are skipped")
        if shutil.which("tshark") is None:
            notes.append("tshark is not installed; its rows are skipped")
        selected = tools()
        for tool in selected:
            if args.only and tool.name not in args.only:
                tool.note = "not selected"
                continue
            if tool.name in ("json", "oneline") and missing_cli:
                tool.note = "CLI not available"
                continue
            if tool.name.startswith("tshark") and shutil.which("tshark") is None:
                tool.note = "tshark not installed"
                continue
            if tool.what == "build":
                count = args.sample if tool.sample else frames
                full_arg: Any = count
                tiny_arg: Any = TINY
            else:
                count = sample_count if tool.sample else packets
                full_arg = sample if tool.sample else capture
                tiny_arg = tiny
            print(f"  {tool.label} ...", file=sys.stderr, flush=True)
            inside = isinstance(tool.argv, _Worker)
            if inside:
                tool.argv.warm_up = tiny_arg
            results = []
            for _ in range(max(1, args.repeat)):
                small = None if inside else measure(tool.argv(tiny_arg))
                full = measure(tool.argv(full_arg), keep_output=inside)
                if not full.ok or (small is not None and not small.ok):
                    tool.note = f"failed: {full.error or (small.error if small else '')}"
                    break
                try:
                    results.append(_rates(full, small, count))
                except ValueError as exc:
                    tool.note = str(exc)
                    break
            if results and not tool.note:
                tool.result = _best(results)
        text = report(selected, packets, capture, notes)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(
            {"packets": packets, "tools": {t.name: t.result for t in selected},
             "notes": notes}, indent=2))


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
