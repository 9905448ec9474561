"""Mutation testing as a measurement (docs/testing.md): mutmut on a seeded random sample of the
mutants of vxlankit/layers, vxlankit/codec and vxlankit/model, scored against tests/layers,
tests/codec and tests/model (the [tool.mutmut] section of pyproject.toml).

A full run takes hours on two cores; a sample of a few hundred mutants gives the score to within
a few points in minutes.  Run from the repository root, with the venv's python:

    HYPOTHESIS_PROFILE=mutation .venv/bin/python scripts/mutation_sample.py --size 400 --seed 21

It generates the mutants (mutmut's ./mutants, git-ignored) if they are not there, draws the
sample, runs mutmut on exactly those mutants (again, if they ran before) and prints the score and
every mutant that was not killed (``.venv/bin/mutmut show NAME`` shows one).  ``--json FILE``
also writes the verdict of each sampled mutant.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

MUTMUT = str(Path(sys.executable).with_name("mutmut"))
# mutmut's exit codes (mutmut/stats.py), as killed or not.
KILLED: dict[int | None, str] = {
    1: "killed", 3: "killed", 36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout",
    255: "timeout", 37: "type check"}
NOT_KILLED: dict[int | None, str] = {
    0: "survived", 5: "no tests", 33: "no tests", 35: "suspicious", None: "not checked",
    -11: "segfault", -9: "segfault"}


def _verdicts() -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for meta in sorted(Path("mutants").rglob("*.py.meta")):
        out.update(json.loads(meta.read_text())["exit_code_by_key"])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--jobs", type=int, default=1, help="mutmut --max-children")
    parser.add_argument("--json", type=Path, help="write {mutant: verdict} here")
    parser.add_argument("--names", type=Path,
                        help="instead of a sample: the mutants named in this file (one a line; "
                             "those that no longer exist are left out and counted)")
    args = parser.parse_args()
    if os.environ.get("HYPOTHESIS_PROFILE") != "mutation":
        print("set HYPOTHESIS_PROFILE=mutation: verdicts must not depend on the run",
              file=sys.stderr)
        return 2
    if not _verdicts():
        # mutmut has no "generate only": a filter that matches nothing stops it right after
        # generating the mutants and collecting which tests reach which function.
        subprocess.run([MUTMUT, "run", "--max-children", "1", "no-such-mutant"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    names = sorted(_verdicts())
    if not names:
        print("mutmut generated no mutants (see [tool.mutmut] in pyproject.toml)",
              file=sys.stderr)
        return 1
    if args.names:
        wanted = args.names.read_text().split()
        sample = sorted(set(wanted) & set(names))
        print(f"{len(sample)} of the {len(wanted)} mutants named in {args.names} exist")
    else:
        sample = sorted(random.Random(args.seed).sample(names, min(args.size, len(names))))
    subprocess.run([MUTMUT, "run", "--max-children", str(args.jobs), *sample],
                   stdout=subprocess.DEVNULL, check=True)
    verdicts = _verdicts()
    status = {name: KILLED.get(verdicts[name]) or NOT_KILLED.get(verdicts[name], "suspicious")
              for name in sample}
    counts = Counter(status.values())
    killed = sum(counts[s] for s in set(KILLED.values()))
    by_package = Counter(name.split(".")[1] for name in sample)
    killed_by_package = Counter(name.split(".")[1] for name in sample
                                if status[name] in KILLED.values())
    drawn = f"from {args.names}" if args.names else f"(seed {args.seed})"
    print(f"{len(names)} mutants, sample of {len(sample)} {drawn}")
    print(f"score {killed}/{len(sample)} = {100 * killed / len(sample):.1f}%  {dict(counts)}")
    for package in sorted(by_package):
        print(f"  {package}: {killed_by_package[package]}/{by_package[package]}")
    for name in sample:
        if status[name] not in KILLED.values():
            print(f"  {status[name]}: {name}")
    if args.json:
        args.json.write_text(json.dumps(status, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
