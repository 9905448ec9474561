"""A seeded mutation campaign over captures and frames, through every command and the API.

Two levels, both reproducible from ``--seed``:

* **captures**: a corpus of whole files (the shared real captures, this repository's
  ``captures/``, fresh ``synth ping`` outputs) is mutated (bit flips, overwrites with random
  and boundary values, truncations, duplicated and deleted chunks, huge record, block and option
  lengths, byte-order and magic swaps, link types, extreme timestamps, splices of two files,
  several of those stacked) and each result goes through ``open_capture`` (the reference count
  of records), then one command of the CLI, in this process (click's runner, a file on disk),
  in turn: ``decode`` in its forms (-V, -x, --json, -T fields, -w, -Y, -t ...), ``stats`` (-z,
  --json), ``replay``, ``export`` (csv, jsonl, parquet), and every few inputs ``decode_capture``
  with each presenter and the bulk ``export`` API.  A small share runs as a real subprocess
  with an address-space limit (``RLIMIT_AS``) and a timeout, ``crosscheck`` among them.
* **frames**: frames taken from the corpus are mutated the same way and go through
  ``codec.decode`` and every presenter (one-line summary, fast summary, -V tree, JSON, hexdump)
  and the vectorised bulk decoder, a batch at a time.

What counts as a finding: any exception that is not a ``VxlanKitError`` (from the API) or a
``SystemExit`` with a documented code 0-4 (from the CLI); a non-zero exit whose stderr does not
start with ``vxlankit: error:``; an input that takes longer than the timeout (a hang); the
process's peak memory growing past a bound; and fewer good packets than the undamaged prefix
holds: every packet record that lies wholly before the first changed byte must still be read,
byte for byte, and shown by ``decode`` and exported (a truncation of a clean file yields exactly
the complete records before the cut).  The record boundaries come from the small walkers below,
not from vxlankit's reader (tests/README.md rule 3).

Run it from the repository root (docs/testing.md)::

    python -m tests.fuzz.engine --inputs 1000000 --seed 1 --findings fuzz-findings

Each finding is saved there (the input, the command, the traceback) and printed; the exit code
is 1 when there was any.  The suite runs a short campaign (tests/fuzz/test_fuzz.py);
``VXLANKIT_FUZZ=N`` makes it N capture inputs long.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import random
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
OK_CODES = frozenset({0, 1, 2, 3, 4})
ERROR_PREFIX = "vxlankit: error:"
# Peak memory the in-process run may reach (ru_maxrss, bytes): the corpus is small, so anything
# near this means a length was trusted before it was checked.
MEMORY_BOUND = 1 << 30
# What a subprocess may map (RLIMIT_AS): numpy and pyarrow reserve a good deal of address space
# up front, so the bound is on top of that.
SUBPROCESS_AS = 3 << 30
PCAP_MAGICS = {0xA1B2C3D4, 0xA1B23C4D, 0xA1B2CD34}
EPB, SPB, OPB, SHB, IDB = 6, 3, 2, 0x0A0D0D0A, 1
INTERESTING = (0, 1, 2, 3, 4, 7, 8, 11, 12, 15, 16, 28, 32, 0x7F, 0x80, 0xFF, 0x100,
               0x3FFF, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x40000, 0x40001, 0xFFFFFF,
               0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFC, 0xFFFFFFFF)
LINKTYPES = (0, 1, 6, 12, 101, 105, 108, 113, 127, 147, 192, 228, 229, 239, 253, 276, 0xFFFF)


class Hang(BaseException):
    """Raised by the alarm: an input ran past its time.  A BaseException, so that no
    ``except Exception`` inside the code under test can swallow it."""


# --------------------------------------------------------------------------------------------
# The corpus and its layout (independent of vxlankit's reader)


@dataclasses.dataclass
class Layout:
    """Where things are in a capture: the packet records (start, end), every block or record
    header, and the offsets of the length and option fields worth damaging."""

    kind: str  # pcap | pcapng | other
    endian: str = "<"
    packets: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    units: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    lengths: list[tuple[int, int, str]] = dataclasses.field(default_factory=list)  # off,size,end
    linktypes: list[tuple[int, int, str]] = dataclasses.field(default_factory=list)
    stamps: list[tuple[int, int, str]] = dataclasses.field(default_factory=list)
    magic_at: list[int] = dataclasses.field(default_factory=list)

    def complete_before(self, limit: int) -> int:
        """Packet records that end at or before ``limit``."""
        return sum(1 for _, end in self.packets if end <= limit)


def walk_pcap(data: bytes) -> Layout:
    magic_le = struct.unpack_from("<I", data)[0]
    e = "<" if magic_le in PCAP_MAGICS else ">"
    out = Layout("pcap", e, magic_at=[0])
    out.lengths.append((16, 4, e))  # snaplen
    out.linktypes.append((20, 4, e))
    extra = 8 if struct.unpack_from(e + "I", data)[0] == 0xA1B2CD34 else 0
    pos = 24
    while pos + 16 + extra <= len(data):
        sec, sub, incl, orig = struct.unpack_from(e + "IIII", data, pos)
        end = pos + 16 + extra + incl
        if end > len(data):
            break
        out.stamps.append((pos, 8, e))
        out.lengths.append((pos + 8, 4, e))
        out.lengths.append((pos + 12, 4, e))
        out.units.append((pos, end))
        out.packets.append((pos, end))
        pos = end
    return out


def _walk_options(data: bytes, pos: int, end: int, e: str, out: Layout) -> None:
    while pos + 4 <= end:
        code, size = struct.unpack_from(e + "HH", data, pos)
        out.lengths.append((pos + 2, 2, e))
        if code == 0:
            return
        pos += 4 + (size + 3) // 4 * 4


def walk_pcapng(data: bytes) -> Layout:
    out = Layout("pcapng")
    pos = 0
    e = "<"
    while pos + 12 <= len(data):
        btype = struct.unpack_from("<I", data, pos)[0]
        if btype == SHB:
            bom = data[pos + 8:pos + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            out.magic_at.append(pos + 8)
        btype, blen = struct.unpack_from(e + "II", data, pos)
        if blen < 12 or blen % 4 or pos + blen > len(data):
            break
        end = pos + blen
        out.units.append((pos, end))
        out.lengths.append((pos + 4, 4, e))
        out.lengths.append((end - 4, 4, e))
        if btype == SHB:
            out.lengths.append((pos + 16, 8, e))  # section length
            _walk_options(data, pos + 24, end - 4, e, out)
        elif btype == IDB:
            out.linktypes.append((pos + 8, 2, e))
            out.lengths.append((pos + 12, 4, e))  # snaplen
            _walk_options(data, pos + 16, end - 4, e, out)
        elif btype == EPB:
            out.packets.append((pos, end))
            out.lengths.append((pos + 8, 4, e))  # interface id: an index, damaged alike
            out.stamps.append((pos + 12, 8, e))
            out.lengths.append((pos + 20, 4, e))
            out.lengths.append((pos + 24, 4, e))
            if pos + 28 <= end:
                cap = struct.unpack_from(e + "I", data, pos + 20)[0]
                _walk_options(data, pos + 28 + (cap + 3) // 4 * 4, end - 4, e, out)
        elif btype in (SPB, OPB):
            out.packets.append((pos, end))
            out.lengths.append((pos + 8, 4, e))
        pos = end
    out.endian = e
    return out


def layout_of(data: bytes) -> Layout:
    if len(data) >= 24 and struct.unpack_from("<I", data)[0] in PCAP_MAGICS | {
            int.from_bytes(struct.pack("<I", m), "big") for m in PCAP_MAGICS}:
        return walk_pcap(data)
    if len(data) >= 12 and data[:4] == b"\x0a\x0d\x0d\x0a":
        return walk_pcapng(data)
    return Layout("other")


@dataclasses.dataclass
class Seed:
    name: str
    data: bytes
    layout: Layout
    clean: bool = True  # vxlankit reads it to the end with as many records as the walker
    frames: list[tuple[bytes, int]] = dataclasses.field(default_factory=list)


def _synth_outputs() -> Iterator[tuple[str, bytes]]:
    from vxlankit.synth.output import write_result
    from vxlankit.synth.ping import PingOptions, synthesize_ping

    variants: list[tuple[str, dict[str, Any], str | None]] = [
        ("proxy", {}, None),
        ("flood", {"arp": "flood"}, None),
        ("routed", {"subnets": ("10.1.1.0/24", "11.1.1.0/24")}, None),
        ("ipv6-underlay", {"underlay": "ipv6"}, None),
        ("ipv6-inner", {"inner": "ipv6"}, None),
        ("same-host", {"to": "same-host", "count": 2}, None),
        ("tap-pcap", {"count": 3}, "node2/eth0"),
    ]
    for name, kwargs, tap in variants:
        result = synthesize_ping(PingOptions(**{"count": 3, **kwargs}))
        buf = io.BytesIO()
        write_result(result, buf, tap=tap, format="pcap" if tap else None)
        yield f"synth:{name}", buf.getvalue()


def _frames(data: bytes, layout: Layout) -> list[tuple[bytes, int]]:
    """(frame bytes, link type) of every packet record, by the walker."""
    found = []
    if layout.kind == "pcap":
        e = layout.endian
        link = struct.unpack_from(e + "I", data, 20)[0] & 0xFFFF
        extra = 8 if struct.unpack_from(e + "I", data)[0] == 0xA1B2CD34 else 0
        for start, end in layout.packets:
            found.append((data[start + 16 + extra:end], link))
    elif layout.kind == "pcapng":
        links = [struct.unpack_from(e + "H", data, off)[0] for off, _, e in layout.linktypes]
        e = layout.endian
        for start, end in layout.packets:
            btype = struct.unpack_from(e + "I", data, start)[0]
            if btype == EPB and end - start >= 32:
                iface, _, _, cap = struct.unpack_from(e + "IIII", data, start + 8)
                link = links[iface] if iface < len(links) else 1
                found.append((data[start + 28:start + 28 + cap], link))
            elif btype == SPB:
                found.append((data[start + 12:end - 4], links[0] if links else 1))
    return found


def load_corpus(shared: bool, own: bool, synth: bool) -> list[Seed]:
    """The seeds: the shared captures (if asked and present), captures/, synth outputs."""
    from vxlankit.capture import open_capture
    from vxlankit.errors import CaptureError

    named: list[tuple[str, bytes]] = []
    if shared:
        from tests.support import capture_dirs, real_capture_names

        for name in real_capture_names():
            for folder in capture_dirs():
                if (folder / name).is_file():
                    named.append((f"shared:{name}", (folder / name).read_bytes()))
                    break
    if own:
        for path in sorted((REPO / "captures").glob("*.pcap*")):
            named.append((f"captures:{path.name}", path.read_bytes()))
    if synth:
        named.extend(_synth_outputs())
    seeds = []
    for name, data in named:
        layout = layout_of(data)
        count = 0
        clean = True
        try:
            with open_capture(io.BytesIO(data)) as reader:
                for _ in reader:
                    count += 1
        except CaptureError:
            clean = False
        seeds.append(Seed(name, data, layout, clean and count == len(layout.packets),
                          _frames(data, layout)))
    return seeds


# --------------------------------------------------------------------------------------------
# Mutations: each returns (what was done, the bytes, whether the prefix count is exact)


def common_prefix(a: bytes, b: bytes) -> int:
    """How many leading bytes ``a`` and ``b`` share (a binary search of slice compares)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _pack(value: int, size: int, e: str) -> bytes:
    value &= (1 << (8 * size)) - 1
    return value.to_bytes(size, "little" if e == "<" else "big")


def _put(data: bytes, off: int, blob: bytes) -> bytes:
    off = max(0, min(off, len(data)))
    return data[:off] + blob + data[off + len(blob):]


def _huge(rng: random.Random) -> int:
    return rng.choice((0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0x10000000, 0x40001, 0x40000,
                       0xFFFFFFF0, 0xFFFF, 0xFFFC, 0x10000, 0, 1, 3, 11, 13, 0x1_0000_0000_0000))


def m_bitflip(rng: random.Random, seed: Seed, data: bytes) -> tuple[str, bytes]:
    buf = bytearray(data)
    n = rng.choice((1, 1, 1, 2, 3, 8))
    for _ in range(n):
        if buf:
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
    return f"bitflip x{n}", bytes(buf)


def m_overwrite(rng: random.Random, seed: Seed, data: bytes) -> tuple[str, bytes]:
    off = rng.randrange(max(1, len(data)))
    if rng.random() < 0.5:
        blob = rng.randbytes(rng.randint(1, 16))
        return f"overwrite {len(blob)} random at {off}", _put(data, off, blob)
    size = rng.choice((1, 2, 4, 8))
    value = rng.choice(INTERESTING)
    return (f"overwrite {value:#x}/{size} at {off}",
            _put(data, off, _pack(value, size, rng.choice("<>"))))


def m_truncate(rng: random.Random, seed: Seed, data: bytes) -> tuple[str, bytes]:
    cut = rng.randrange(len(data) + 1)
    return f"truncate at {cut}", data[:cut]


def m_truncate_boundary(rng: random.Random, seed: Seed, data: bytes) -> tuple[str, bytes]:
    units = seed.layout.units
    if not units:
        return m_truncate(rng, seed, data)
    cut = rng.choice(units)[rng.randrange(2)]
    return f"truncate at unit boundary {cut}", data[:cut]


def _chunk(rng: random.Random, seed: Seed, data: bytes) -> tuple[int, int]:
    if seed.layout.units and rng.random() < 0.5:
        return rng.choice(seed.layout.units)
    a = rng.randrange(len(data) + 1)
    return a, min(len(data), a + rng.choice((1, 2, 4, 8, 16, 64, 256, 4096)))


def m_duplicate(rng: random.Random, seed: Seed, data: bytes) -> tuple[str, bytes]:
    a, b = _chunk(rng, seed, data)
    at = rng.choice((b, rng.randrange(len(data) + 1)))
    return f"duplicate [{a}:{b}] at {at}", data[:at] + data[a:b] + data[at:]


def m_delete(rng: random.Random, seed: Seed, data: bytes) -> tuple[str, bytes]:
    a, b = _chunk(rng, seed, data)
    return f"delete [{a}:{b}]", data[:a] + data[b:]


def m_huge_length(rng: random.Random, seed: Seed, data: bytes) -> tuple[str, bytes]:
    fields = seed.layout.lengths
    if not fields:
        return m_overwrite(rng, seed, data)
    off, size, e = rng.choice(fields)
    value = _huge(rng)
    if rng.random() < 0.2:  # one more or less than it was: off-by-one lengths
        old = int.from_bytes(data[off:off + size], "little" if e == "<" else "big")
        value = old + rng.choice((-4, -1, 1, 4))
    return f"length field at {off} := {value:#x}", _put(data, off, _pack(value, size, e))


def m_magic(rng: random.Random, seed: Seed, data: bytes) -> tuple[str, bytes]:
    lay = seed.layout
    if lay.kind == "pcap":
        magic = rng.choice(sorted(PCAP_MAGICS))
        e = rng.choice("<>")
        return f"pcap magic {magic:#x}{e}", _put(data, 0, _pack(magic, 4, e))
    if lay.kind == "pcapng" and lay.magic_at:
        at = rng.choice(lay.magic_at)
        bom = data[at:at + 4][::-1]
        if rng.random() < 0.3:  # a second section of the other byte order, or a copy
            a, b = lay.units[0]
            shb = data[a:b]
            return f"extra SHB at {lay.units[-1][1]}", data + shb
        return f"byte-order magic swapped at {at}", _put(data, at, bom)
    return m_bitflip(rng, seed, data)


def m_linktype(rng: random.Random, seed: Seed, data: bytes) -> tuple[str, bytes]:
    if not seed.layout.linktypes:
        return m_overwrite(rng, seed, data)
    off, size, e = rng.choice(seed.layout.linktypes)
    value = rng.choice(LINKTYPES) if rng.random() < 0.8 else rng.randrange(1 << (8 * size))
    return f"linktype at {off} := {value}", _put(data, off, _pack(value, size, e))


def m_timestamp(rng: random.Random, seed: Seed, data: bytes) -> tuple[str, bytes]:
    stamps = seed.layout.stamps
    if not stamps:
        return m_overwrite(rng, seed, data)
    off, _, e = rng.choice(stamps)
    hi = rng.choice((0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0x00E00000, 1_000_000_000))
    lo = rng.choice((0, 0xFFFFFFFF, 999_999, 1_000_000, 1_000_000_000, 0x80000000))
    return (f"timestamp at {off} := {hi:#x},{lo:#x}",
            _put(data, off, _pack(hi, 4, e) + _pack(lo, 4, e)))


def m_tsresol(rng: random.Random, seed: Seed, data: bytes) -> tuple[str, bytes]:
    """A pcapng if_tsresol option (code 9) with an odd value, appended to an IDB."""
    lay = seed.layout
    if lay.kind != "pcapng" or not lay.linktypes:
        return m_timestamp(rng, seed, data)
    off, _, e = rng.choice(lay.linktypes)
    start = off - 8
    blen = struct.unpack_from(e + "I", data, start + 4)[0]
    end = start + blen
    value = rng.choice((0, 9, 19, 63, 64, 0x7F, 0x80, 0x80 | 63, 0xFF, 0x8A))
    body = data[start + 16:end - 4]
    # The options end with opt_endofopt (if there are any): put ours first.
    option = _pack(9, 2, e) + _pack(1, 2, e) + bytes([value, 0, 0, 0])
    new_len = blen + len(option)
    block = (data[start:start + 4] + _pack(new_len, 4, e) + data[start + 8:start + 16]
             + option + body + _pack(new_len, 4, e))
    return f"if_tsresol {value:#x} at {start}", data[:start] + block + data[end:]


def m_splice(rng: random.Random, seed: Seed, data: bytes, other: bytes = b"") -> tuple[str, bytes]:
    a = rng.randrange(len(data) + 1)
    b = rng.randrange(len(other) + 1)
    return f"splice [:{a}] + other[{b}:]", data[:a] + other[b:]


CAPTURE_MUTATORS: list[tuple[Callable[..., tuple[str, bytes]], int]] = [
    (m_bitflip, 6), (m_overwrite, 6), (m_truncate, 3), (m_truncate_boundary, 3),
    (m_duplicate, 3), (m_delete, 3), (m_huge_length, 6), (m_magic, 2), (m_linktype, 2),
    (m_timestamp, 2), (m_tsresol, 1), (m_splice, 1),
]
_FUNCS = [f for f, _ in CAPTURE_MUTATORS]
_WEIGHTS = [w for _, w in CAPTURE_MUTATORS]


def mutate_capture(rng: random.Random, seed: Seed, corpus: Sequence[Seed]
                   ) -> tuple[str, bytes, bool]:
    """One mutation, or up to four stacked; whether the result is the seed cut at a record or
    block boundary (then the number of records read is exact, not a lower bound)."""
    steps = 1 if rng.random() < 0.7 else rng.randint(2, 4)
    data = seed.data
    done = []
    exact = False
    for _ in range(steps):
        func = rng.choices(_FUNCS, _WEIGHTS)[0]
        if func is m_splice:
            what, data = m_splice(rng, seed, data, rng.choice(corpus).data)
        else:
            try:
                what, data = func(rng, seed, data)
            except (struct.error, IndexError, ValueError):
                # A field the seed's layout places past the end of what an earlier step left.
                what, data = m_bitflip(rng, seed, data)
        done.append(what)
        exact = steps == 1 and func in (m_truncate, m_truncate_boundary)
    return "; ".join(done), data, exact


def mutate_frame(rng: random.Random, frame: bytes) -> tuple[str, bytes]:
    choice = rng.randrange(7)
    if choice == 0 or not frame:
        n = rng.choice((1, 1, 2, 4))
        buf = bytearray(frame or b"\0")
        for _ in range(n):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        return "bitflip", bytes(buf)
    if choice == 1:
        off = rng.randrange(len(frame))
        size = rng.choice((1, 2, 4))
        return "interesting", _put(frame, off, _pack(rng.choice(INTERESTING), size,
                                                     rng.choice("<>")))
    if choice == 2:
        return "truncate", frame[:rng.randrange(len(frame) + 1)]
    if choice == 3:
        off = rng.randrange(len(frame))
        return "random run", _put(frame, off, rng.randbytes(rng.randint(1, 24)))
    if choice == 4:
        a = rng.randrange(len(frame))
        b = min(len(frame), a + rng.randint(1, 32))
        return "duplicate", frame[:b] + frame[a:b] + frame[b:]
    if choice == 5:
        a = rng.randrange(len(frame))
        return "delete", frame[:a] + frame[a + rng.randint(1, 16):]
    return "extend", frame + rng.randbytes(rng.randint(1, 64))


# --------------------------------------------------------------------------------------------
# Running one input


@dataclasses.dataclass
class Finding:
    kind: str  # traceback | hang | exit | stderr | prefix | memory
    target: str
    mutation: str
    seed: str
    detail: str
    data: bytes = b""
    linktype: int | None = None

    def line(self) -> str:
        return f"{self.kind} in {self.target} ({self.seed}; {self.mutation}): {self.detail}"


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise Hang in this (main) thread after ``seconds``."""
    def ring(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# The in-process CLI runs: (name, arguments before the input path); weights by cost.
def cli_runs(tmp: str) -> list[tuple[str, list[str], int]]:
    return [
        ("decode", ["decode"], 8),
        ("decode -V", ["decode", "-V"], 3),
        ("decode -x", ["decode", "-x"], 2),
        ("decode --json", ["decode", "--json"], 4),
        ("decode -T fields", ["decode", "-T", "fields", "-e", "frame.number", "-e",
                              "frame.time_epoch", "-e", "ip.src", "-e", "vxlan.vni", "-e",
                              "udp.srcport", "-e", "frame.interface_name", "-E", "header=y",
                              "-E", "occurrence=a"], 3),
        ("decode -w", ["decode", "-w", os.path.join(tmp, "w.out"), "-F",
                       "pcapng"], 2),
        ("decode -w pcap", ["decode", "-w", os.path.join(tmp, "w.pcap"), "-F", "pcap"], 1),
        ("decode -Y", ["decode", "-Y", "ip.addr == 10.0.0.3 || vxlan.vni >= 1 || "
                       "frame.time_relative > 0.5 || eth.src[0:3] == 02:42:ac"], 2),
        ("decode -t ad", ["decode", "-t", "ad"], 2),
        ("decode -t e", ["decode", "-t", "e"], 1),
        ("decode -t ud", ["decode", "-t", "ud"], 1),
        ("decode -t dd", ["decode", "-t", "dd", "--vni", "4096"], 1),
        ("decode -q -z", ["decode", "-q", "-z", "io,phs", "-z", "conv,ip", "-z",
                          "io,stat,1", "--per-tunnel"], 2),
        ("stats", ["stats"], 4),
        ("stats --json", ["stats", "--json"], 2),
        ("stats -z", ["stats", "-z", "conv,udp", "-z", "endpoints,eth", "-z", "io,stat,0.5",
                      "-z", "conv,tcp", "-z", "endpoints,ipv6"], 2),
        ("replay", ["replay"], 3),
        ("replay --json", ["replay", "--json", "--policy", "rfc7348"], 2),
        ("export csv", ["export", "-o", os.path.join(tmp, "x.csv")], 3),
        ("export jsonl", ["export", "-o", os.path.join(tmp, "x.jsonl")], 3),
        ("export parquet", ["export", "-o", os.path.join(tmp, "x.parquet")], 2),
        ("export -Y -e", ["export", "-o", os.path.join(tmp, "y.csv"), "-Y",
                          "frame.number > 0 || ip.addr == 10.0.0.3", "-e", "frame.number",
                          "-e", "frame.time_delta", "-e", "ip.addr#3", "-e", "dns.qry.name",
                          "-e", "tcp.seq", "-e", "vxlan.vni"], 2),
    ]


def _check_exit(target: str, code: int, stderr: str) -> tuple[str, str] | None:
    if code not in OK_CODES:
        return "exit", f"exit code {code}"
    # 4 is a verdict (crosscheck: the two disagree; its report is on stdout), not an error.
    if code in (1, 2, 3) and not stderr.startswith(ERROR_PREFIX):
        return "stderr", f"exit {code} with stderr {stderr[:200]!r}"
    return None


class Campaign:
    """The state of a run: corpus, counters, findings, a scratch directory."""

    def __init__(self, corpus: Sequence[Seed], seed: int, *, timeout: float = 30.0,
                 findings_dir: str | None = None, subprocess_every: int = 0,
                 crosscheck: bool = False, log: Callable[[str], None] | None = None) -> None:
        if not corpus:
            raise ValueError("empty corpus")
        self.corpus = list(corpus)
        self.frames = [(f, lt, s.name) for s in corpus for f, lt in s.frames if f]
        self.rng = random.Random(seed)
        self.seed = seed
        self.timeout = timeout
        self.findings: list[Finding] = []
        self.counts: Counter[str] = Counter()
        self.findings_dir = findings_dir
        self.subprocess_every = subprocess_every
        self.crosscheck = crosscheck
        self.log = log
        self._tmp = tempfile.TemporaryDirectory(prefix="vxlankit-fuzz-")
        self.tmp = self._tmp.name
        self.input_path = os.path.join(self.tmp, "input")
        self.runs = cli_runs(self.tmp)
        self._runner: Any = None
        self._i = 0

    def close(self) -> None:
        self._tmp.cleanup()

    # -- recording

    def found(self, finding: Finding) -> None:
        self.findings.append(finding)
        if self.log:
            self.log(finding.line())
        if self.findings_dir:
            os.makedirs(self.findings_dir, exist_ok=True)
            n = len(self.findings)
            stem = os.path.join(self.findings_dir, f"{self.seed}-{n:04d}")
            with open(stem + ".bin", "wb") as fh:
                fh.write(finding.data)
            with open(stem + ".txt", "w", encoding="utf-8") as fh:
                fh.write(finding.line() + "\n")
                if finding.linktype is not None:
                    fh.write(f"frame of link type {finding.linktype}\n")
                fh.write(finding.detail + "\n")

    def _guard(self, target: str, mutation: str, seed: str, data: bytes,
               func: Callable[[], Any], linktype: int | None = None) -> Any:
        from vxlankit.errors import VxlanKitError

        self.counts[target] += 1
        try:
            with deadline(self.timeout):
                return func()
        except Hang as exc:
            self.found(Finding("hang", target, mutation, seed, str(exc), data, linktype))
        except VxlanKitError:
            return None
        except Exception:  # noqa: BLE001 - what the campaign looks for
            self.found(Finding("traceback", target, mutation, seed, traceback.format_exc(),
                               data, linktype))
        return None

    # -- the capture level

    def capture_input(self) -> None:
        rng = self.rng
        seed = rng.choice(self.corpus)
        mutation, data, exact = mutate_capture(rng, seed, self.corpus)
        self._i += 1
        self.counts["captures"] += 1
        prefix = 0
        limit = common_prefix(data, seed.data)
        expected = seed.layout.complete_before(limit)
        if seed.clean and exact:
            prefix = expected
        with open(self.input_path, "wb") as fh:
            fh.write(data)
        got = self._guard("api open_capture", mutation, seed.name, data,
                          lambda: self._read(data))
        if got is not None:
            records = got
            if len(records) < expected or (prefix and len(records) != prefix):
                self.found(Finding("prefix", "api open_capture", mutation, seed.name,
                                   f"{len(records)} records read, {expected} wholly before "
                                   f"the first changed byte ({limit})"
                                   + (f", {prefix} expected exactly" if prefix else ""),
                                   data))
            elif records[:expected] != [self._payload(seed, i) for i in range(expected)]:
                self.found(Finding("prefix", "api open_capture", mutation, seed.name,
                                   "a record before the damage changed", data))
        else:
            records = None
        name, args, _ = rng.choices(self.runs, [w for *_, w in self.runs])[0]
        self._cli(name, args, mutation, seed.name, data, records)
        if self._i % 7 == 0:
            self._guard("api decode_capture+presenters", mutation, seed.name, data,
                        lambda: self._present(data))
        if self._i % 11 == 0 and records is not None:
            self._guard("api bulk export", mutation, seed.name, data,
                        lambda: self._bulk(data, len(records), mutation, seed.name))
        if self._i % 13 == 0:
            self._guard("api replay", mutation, seed.name, data, lambda: self._replay(data))
        if self.subprocess_every and self._i % self.subprocess_every == 0:
            self.subprocess_input(mutation, seed.name, data)

    @staticmethod
    def _payload(seed: Seed, i: int) -> bytes:
        return seed.frames[i][0] if i < len(seed.frames) else b""

    @staticmethod
    def _read(data: bytes) -> list[bytes]:
        from vxlankit.capture import open_capture
        from vxlankit.errors import CaptureError

        out: list[bytes] = []
        try:
            with open_capture(io.BytesIO(data)) as reader:
                for record in reader:
                    out.append(record.data)
        except CaptureError:
            pass
        return out

    def _cli(self, name: str, args: list[str], mutation: str, seed: str, data: bytes,
             records: list[bytes] | None) -> None:
        from click.testing import CliRunner

        from vxlankit.cli import main

        if self._runner is None:
            self._runner = CliRunner()
        use_stdin = self.rng.random() < 0.2 and not name.startswith("export")
        argv = [*args, "-" if use_stdin else self.input_path]
        target = f"cli {name}"
        self.counts[target] += 1
        with deadline(self.timeout):
            try:
                result = self._runner.invoke(main, argv, input=data if use_stdin else None)
            except Hang as exc:
                self.found(Finding("hang", target, mutation, seed, str(exc), data))
                return
        exc = result.exception
        if isinstance(exc, Hang):
            self.found(Finding("hang", target, mutation, seed, str(exc), data))
            return
        if exc is not None and not isinstance(exc, SystemExit):
            detail = "".join(traceback.format_exception(*result.exc_info))
            self.found(Finding("traceback", target, mutation, seed, detail, data))
            return
        bad = _check_exit(target, result.exit_code, result.stderr)
        if bad:
            self.found(Finding(bad[0], target, mutation, seed, bad[1], data))
            return
        if records is None or result.exit_code not in (0, 3):
            return
        shown: int | None = None
        if name in ("decode", "decode -t ad", "decode -t e", "decode -t ud"):
            shown = result.stdout.count("\n")
        elif name == "decode --json":
            shown = result.stdout.count("\n")
        elif name == "export jsonl":
            with open(os.path.join(self.tmp, "x.jsonl"), "rb") as fh:
                shown = fh.read().count(b"\n")
        elif name == "export csv":
            with open(os.path.join(self.tmp, "x.csv"), "rb") as fh:
                shown = max(0, _csv_rows(fh.read()))
        elif name == "export -Y -e":  # the filter keeps every packet
            with open(os.path.join(self.tmp, "y.csv"), "rb") as fh:
                shown = max(0, _csv_rows(fh.read()))
        if shown is not None and shown != len(records):
            self.found(Finding("prefix", target, mutation, seed,
                               f"{shown} packets out, {len(records)} records readable "
                               f"(exit {result.exit_code})", data))

    def _present(self, data: bytes) -> None:
        from vxlankit.present.hexdump import hexdump
        from vxlankit.present.jsonl import json_lines
        from vxlankit.present.run import decode_capture
        from vxlankit.present.summary import Summarizer
        from vxlankit.present.tree import record_tree

        summarizer = Summarizer()
        items = list(decode_capture(io.BytesIO(data)))
        for item in items:
            summarizer.line(item)
            record_tree(item)
            hexdump(item.record.data, item.packet.layers)
        for _ in json_lines(items):
            pass

    def _bulk(self, data: bytes, readable: int, mutation: str, seed: str) -> None:
        from vxlankit.bulk import export

        out = os.path.join(self.tmp, "api.jsonl")
        summary = export([self.input_path], out, format="jsonl")
        with open(out, "rb") as fh:
            rows = fh.read().count(b"\n")
        if rows != readable:
            self.found(Finding("prefix", "api bulk export", mutation, seed,
                               f"{rows} rows exported, {readable} records readable "
                               f"({summary})", data))

    @staticmethod
    def _replay(data: bytes) -> None:
        from vxlankit.replay import replay

        report = replay(io.BytesIO(data))
        json.dumps(report.to_json())

    # -- subprocesses

    def subprocess_input(self, mutation: str, seed: str, data: bytes) -> None:
        choices = [
            ("decode", ["decode"]), ("decode -V", ["decode", "-V"]),
            ("stats", ["stats"]), ("replay", ["replay"]),
            ("export parquet -j 2", ["export", "-j", "2", "-o",
                                     os.path.join(self.tmp, "sp.parquet")]),
            ("export jsonl", ["export", "-o", os.path.join(self.tmp, "sp.jsonl")]),
        ]
        if self.crosscheck:
            choices.append(("crosscheck", ["crosscheck", "--limit", "5"]))
        name, args = self.rng.choice(choices)
        self.run_subprocess(name, args, mutation, seed, data)

    def run_subprocess(self, name: str, args: list[str], mutation: str, seed: str,
                       data: bytes) -> None:
        target = f"subprocess {name}"
        self.counts[target] += 1
        path = os.path.join(self.tmp, "sp-input")
        with open(path, "wb") as fh:
            fh.write(data)
        env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (SUBPROCESS_AS, SUBPROCESS_AS))

        try:
            proc = subprocess.run([sys.executable, "-m", "vxlankit", *args, path],
                                  capture_output=True, timeout=max(60.0, self.timeout * 2),
                                  env=env, preexec_fn=limit, check=False)
        except subprocess.TimeoutExpired:
            self.found(Finding("hang", target, mutation, seed, "subprocess timed out", data))
            return
        stderr = proc.stderr.decode("utf-8", "replace")
        if "Traceback (most recent call last)" in stderr or "MemoryError" in stderr:
            self.found(Finding("traceback", target, mutation, seed, stderr[-3000:], data))
            return
        bad = _check_exit(target, proc.returncode, stderr)
        if bad:
            self.found(Finding(bad[0], target, mutation, seed, bad[1], data))

    # -- the frame level

    def frame_batch(self, size: int = 64) -> None:
        """``size`` mutated frames through the codec, the presenters and the bulk decoder."""
        from vxlankit.bulk.fast import decode_batch
        from vxlankit.bulk.frames import batch_from_frames

        rng = self.rng
        by_link: dict[int, list[tuple[bytes, str, str]]] = {}
        for _ in range(size):
            frame, link, seed = rng.choice(self.frames)
            if rng.random() < 0.05:
                link = rng.choice(LINKTYPES)
            what, data = mutate_frame(rng, frame)
            if rng.random() < 0.2:
                what2, data = mutate_frame(rng, data)
                what += "; " + what2
            self.counts["frames"] += 1
            self._guard("api codec.decode+presenters", what, seed, data,
                        lambda d=data, lt=link: self._frame(d, lt), linktype=link)  # type: ignore[misc]
            by_link.setdefault(link, []).append((data, what, seed))
        for link, items in by_link.items():
            frames = [d for d, _, _ in items]
            self.counts["frame batches"] += 1
            self._guard("api bulk decode_batch", f"{len(frames)} frames", items[0][2],
                        b"".join(len(d).to_bytes(4, "big") + d for d in frames),
                        lambda fs=frames, lt=link: decode_batch(batch_from_frames(fs, lt)),  # type: ignore[misc]
                        linktype=link)

    @staticmethod
    def _frame(data: bytes, link: int) -> None:
        from vxlankit.codec import decode
        from vxlankit.present.hexdump import hexdump
        from vxlankit.present.jsonl import packet_object
        from vxlankit.present.summary import fast_summary, packet_summary
        from vxlankit.present.tree import packet_tree

        packet = decode(data, link)
        packet_summary(packet, len(data))
        packet_tree(packet)
        json.dumps(packet_object(packet), default=str)
        hexdump(data, packet.layers)
        if link == 1:
            fast_summary(data, len(data))

    # -- memory

    def memory_ok(self) -> bool:
        """False (and a finding) once the peak resident memory passed the bound: the input
        that did it is among the last few, and the run stops there."""
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.counts["memory checks"] += 1
        if peak > MEMORY_BOUND:
            self.found(Finding("memory", "process", "-", "-",
                               f"peak resident memory {peak >> 20} MiB"))
            return False
        return True


def _csv_rows(data: bytes) -> int:
    import csv

    text = data.decode("utf-8", "replace")
    return sum(1 for _ in csv.reader(io.StringIO(text))) - 1


# --------------------------------------------------------------------------------------------
# A whole run


@dataclasses.dataclass
class Result:
    counts: Counter[str]
    findings: list[Finding]
    seconds: float

    def summary(self) -> str:
        lines = [f"{self.counts['captures']} capture inputs, {self.counts['frames']} frame "
                 f"inputs in {self.seconds:.0f} s; {len(self.findings)} findings"]
        for target, n in sorted(self.counts.items()):
            lines.append(f"  {target}: {n}")
        for finding in self.findings[:50]:
            lines.append("  FINDING " + finding.line().splitlines()[0])
        return "\n".join(lines)


def run(corpus: Sequence[Seed], *, seed: int, captures: int, frames: int,
        timeout: float = 30.0, subprocesses: int = 0, crosscheck: bool = False,
        findings_dir: str | None = None, log: Callable[[str], None] | None = None,
        progress_every: float = 0.0, stop_after: float | None = None) -> Result:
    """``captures`` capture inputs and ``frames`` frame inputs, interleaved; about
    ``subprocesses`` of the capture inputs also run as a subprocess."""
    every = max(1, captures // subprocesses) if subprocesses else 0
    camp = Campaign(corpus, seed, timeout=timeout, findings_dir=findings_dir,
                    subprocess_every=every, crosscheck=crosscheck, log=log)
    start = last = time.monotonic()
    try:
        # Frames go in batches of 64, spread evenly between the capture inputs.
        batches = (frames + 63) // 64
        done_batches = 0
        steps = max(captures, 1 if batches else 0)
        for i in range(steps):
            if i < captures:
                camp.capture_input()
            due = batches * (i + 1) // steps  # exact: the last step owes every batch
            while done_batches < due:
                camp.frame_batch(min(64, frames - done_batches * 64))
                done_batches += 1
            if i % 50 == 0 and not camp.memory_ok():
                break
            now = time.monotonic()
            if progress_every and log and now - last >= progress_every:
                last = now
                log(f"[{now - start:.0f} s] {camp.counts['captures']} captures, "
                    f"{camp.counts['frames']} frames, {len(camp.findings)} findings")
            if stop_after is not None and now - start >= stop_after:
                break
        camp.memory_ok()
    finally:
        camp.close()
    return Result(camp.counts, camp.findings, time.monotonic() - start)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000,
                        help="total inputs (captures + frames)")
    parser.add_argument("--frame-share", type=float, default=0.8,
                        help="share of the inputs that are frames (the rest are captures)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per input")
    parser.add_argument("--subprocesses", type=int, default=200,
                        help="capture inputs that also run as a subprocess")
    parser.add_argument("--crosscheck", action="store_true",
                        help="let the subprocess runs include crosscheck (tshark, slow)")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this long")
    parser.add_argument("--findings", default="fuzz-findings",
                        help="directory for the inputs that found something")
    parser.add_argument("--no-shared", action="store_true",
                        help="leave out the shared real captures")
    args = parser.parse_args(argv)
    if not 0 <= args.frame_share <= 1 or args.inputs < 0:
        parser.error("--frame-share is between 0 and 1, --inputs at least 0")
    corpus = load_corpus(shared=not args.no_shared, own=True, synth=True)
    frames = round(args.inputs * args.frame_share)
    captures = args.inputs - frames

    def say(text: str) -> None:
        print(text, flush=True)

    say(f"corpus: {len(corpus)} captures ({sum(len(s.frames) for s in corpus)} frames): "
        + ", ".join(s.name for s in corpus))
    result = run(corpus, seed=args.seed, captures=captures, frames=frames,
                 timeout=args.timeout, subprocesses=args.subprocesses,
                 crosscheck=args.crosscheck, findings_dir=args.findings, log=say,
                 progress_every=60.0,
                 stop_after=args.minutes * 60 if args.minutes is not None else None)
    say(result.summary())
    return 1 if result.findings else 0


if __name__ == "__main__":
    sys.exit(main())
