"""A mix of real traffic for the benchmarks, built from the frames of the shared real captures.

    python bench/mix.py --packets 1000000 -o realmix-1m.pcap [--shared ../shared/captures]

Every Ethernet frame of every capture in ``real/`` and ``next/`` (TCP and DNS over VXLAN from
ndpi and Suricata, Geneve, GRE/ERSPAN, IPv6 with extension headers, ICMPv6/NDP ...), in file
order, repeated with advancing microsecond timestamps up to ``--packets`` records, as one pcap.
The frames are as the other projects captured them (bad checksums offloaded on the capturing
host included), so the mix is what a user's own capture looks like, not what vxlankit makes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import write_repeated  # noqa: E402

REPO = HERE.parent
DEFAULT_SHARED = REPO.parent / "shared" / "captures"


def mix_frames(shared: Path) -> list[bytes]:
    sys.path.insert(0, str(REPO))
    from vxlankit.capture.reader import open_capture

    frames: list[bytes] = []
    files = sorted(p for sub in ("real", "next") for p in (shared / sub).glob("*")
                   if p.suffix in (".pcap", ".pcapng", ".cap"))
    if not files:
        raise SystemExit(f"mix: no captures under {shared}/real or {shared}/next")
    for path in files:
        with open_capture(path) as reader:
            frames += [bytes(r.data) for r in reader if r.interface.linktype == 1]
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="the folder holding real/ and next/ (default ../shared/captures)")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    frames = mix_frames(args.shared)
    try:
        write_repeated(args.output, frames, args.packets, mode="xb")  # never overwrites
    except FileExistsError:
        raise SystemExit(f"mix: {args.output} exists: name another file with -o") from None
    print(f"{args.output}: {args.packets} records from {len(frames)} distinct frames")


if __name__ == "__main__":
    main()
