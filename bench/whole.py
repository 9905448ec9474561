"""What a user runs, timed as whole processes: imports, reading, sorting and writing included.

    python bench/whole.py CAPTURE [CAPTURE ...] [--repeat 3] [--only NAME ...] [--json OUT]

Each command runs as its own process with its output thrown away (as ``> /dev/null``; export
writes its file into a temporary folder), ``--repeat`` times, keeping its best CPU and wall
times and its lowest peak RSS (ru_maxrss of the process and its children, from wait4).  The
peers run on the same capture in the same run: a dpkt script extracting bench/run.py's 17
values (a process of its own, its imports included), and tshark's one-line, ``-T json`` and
``-T fields`` outputs.  Ratios are the peer's CPU seconds over vxlankit's, so above 1 means
vxlankit is faster; ``-j 2`` against ``-j 1`` is judged on wall time.

Captures: ``bench/run.py`` makes synthetic VXLAN ping traffic (its ``make_capture``), and
``bench/mix.py`` a mix of the real captures' frames.  ``bench/run.py`` keeps the second table,
rates measured inside warmed processes.

Before timing, the package is byte-compiled (``compileall``), as ``pip install`` does for a
user: a checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (this machine's default) would
otherwise compile every module from source in every process, about 0.17 s that no installed
user pays.  The peers' packages (dpkt, numpy, pyarrow) were installed by pip, so theirs are
compiled already.
"""

from __future__ import annotations

import argparse
import compileall
import json
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import PYTHON, TSHARK_FIELDS, Run, count_records, measure  # noqa: E402

CLI = [PYTHON, "-m", "vxlankit"]
FIELDS = [x for f in TSHARK_FIELDS for x in ("-e", f)]

# name -> (label, argv from (capture, scratch folder))
COMMANDS: dict[str, tuple[str, object]] = {
    "decode": ("vxlankit decode", lambda c, t: [*CLI, "decode", "--color", "never", c]),
    "json": ("vxlankit decode --json", lambda c, t: [*CLI, "decode", "--json", c]),
    "export": ("vxlankit export -o x.parquet",
               lambda c, t: [*CLI, "export", c, "-o", f"{t}/x.parquet"]),
    "export-j2": ("vxlankit export -j 2 -o x.parquet",
                  lambda c, t: [*CLI, "export", "-j", "2", c, "-o", f"{t}/x2.parquet"]),
    "replay": ("vxlankit replay", lambda c, t: [*CLI, "replay", c]),
    "dpkt": ("dpkt script (17 values)",
             lambda c, t: [PYTHON, str(Path(__file__).resolve().parent / "run.py"),
                           "--worker", "dpkt", c]),
    "tshark-fields": ("tshark -T fields (17 values)",
                      lambda c, t: ["tshark", "-n", "-r", c, "-T", "fields", *FIELDS,
                                    "-E", "occurrence=a"]),
    "tshark-json": ("tshark -T json", lambda c, t: ["tshark", "-n", "-r", c, "-T", "json"]),
    "tshark": ("tshark (one line)", lambda c, t: ["tshark", "-n", "-r", c]),
}

# (vxlankit command, peer, the goal #18 set on both kinds of traffic)
RATIOS = [("export", "dpkt", 20.0), ("export", "tshark-fields", 30.0),
          ("json", "tshark-json", 8.0), ("decode", "tshark", 3.0)]


@dataclass
class Best:
    cpu: float
    wall: float
    peak_mb: float


def run_best(argv: list[str], repeat: int) -> Best | str:
    runs: list[Run] = []
    for _ in range(repeat):
        got = measure(argv)
        if not got.ok:
            return f"failed: {got.error}"
        runs.append(got)
    return Best(min(r.cpu for r in runs), min(r.wall for r in runs),
                min(r.maxrss_mb for r in runs))


def bench_capture(capture: Path, repeat: int, only: list[str] | None) -> dict[str, object]:
    packets = count_records(capture)
    results: dict[str, Best | str] = {}
    with tempfile.TemporaryDirectory(prefix="vxlankit-whole-") as tmp:
        for name, (label, argv) in COMMANDS.items():
            if only and name not in only:
                continue
            if name.startswith("tshark") and shutil.which("tshark") is None:
                results[name] = "tshark not installed"
                continue
            print(f"  {capture.name}: {label} ...", file=sys.stderr, flush=True)
            results[name] = run_best(argv(str(capture), tmp), repeat)  # type: ignore[operator]
    return {"capture": str(capture), "packets": packets, "results": results}


def report(entry: dict[str, object]) -> str:
    packets = entry["packets"]
    results: dict[str, Best | str] = entry["results"]  # type: ignore[assignment]
    lines = [f"capture: {entry['capture']} ({packets:,} packets)",
             f"{'command':<36}{'cpu s':>8}{'wall s':>8}{'pkt/s (cpu)':>13}{'peak MB':>9}"]
    for name, (label, _) in COMMANDS.items():
        got = results.get(name)
        if got is None:
            continue
        if isinstance(got, str):
            lines.append(f"{label:<36}{got}")
            continue
        rate = packets / got.cpu if got.cpu > 0 else 0.0  # type: ignore[operator]
        lines.append(f"{label:<36}{got.cpu:>8.2f}{got.wall:>8.2f}{rate:>13,.0f}"
                     f"{got.peak_mb:>9.0f}")
    lines.append("ratios (peer CPU seconds / vxlankit's; goal in brackets):")
    for mine, peer, goal in RATIOS:
        a, b = results.get(mine), results.get(peer)
        if isinstance(a, Best) and isinstance(b, Best):
            ratio = b.cpu / a.cpu
            verdict = "met" if ratio >= goal else "MISSED"
            lines.append(f"  {COMMANDS[mine][0]:<30} vs {COMMANDS[peer][0]:<28}"
                         f"{ratio:6.2f}x  (>= {goal:g}x: {verdict})")
    one, two = results.get("export"), results.get("export-j2")
    if isinstance(one, Best) and isinstance(two, Best):
        lines.append(f"  export -j 2 vs -j 1 (wall){'':<35}{one.wall / two.wall:6.2f}x  "
                     f"(>= 1.6x: {'met' if one.wall / two.wall >= 1.6 else 'MISSED'})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("captures", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=list(COMMANDS))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    package = Path(__file__).resolve().parent.parent / "vxlankit"
    if not compileall.compile_dir(str(package), quiet=1):
        sys.exit(f"could not byte-compile {package}")
    entries = [bench_capture(c.resolve(), max(1, args.repeat), args.only) for c in args.captures]
    print("\n\n".join(report(e) for e in entries))
    if args.json:
        with open(args.json, "x") as f:
            json.dump([{**e, "results": {k: asdict(v) if isinstance(v, Best) else v
                                         for k, v in e["results"].items()}}  # type: ignore[attr-defined]
                       for e in entries], f, indent=2)


if __name__ == "__main__":
    main()
