"""Real captures, and editcap's conversions of them, read the way tshark reads them.

tshark is the independent oracle: every packet's timestamp, original and captured length must
match, and the packet count must match capinfos.  The files our writer produces (big-endian,
several sections and interfaces, nanosecond pcap) go the other way: tshark must read them as we
meant them.

tshark takes about a second to start, so it runs once per *format*, not once per file: the files
of a family are concatenated with ``mergecap -a`` (which keeps packet order) and the output is cut
back into files by their capinfos packet counts; the tshark runs go in parallel.
"""

from __future__ import annotations

import io
import itertools
import struct
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from vxlankit.capture import (
    CaptureReader,
    PcapngWriter,
    Record,
    open_capture,
    write_capture,
)
from vxlankit.capture.record import NO_TIMESTAMP

from . import _support as s

NAMES = s.real_capture_names()
CONVERSIONS = {"pcapng": ".pcapng", "nsecpcap": ".nsec.pcap", "modpcap": ".mod.pcap"}

Frame = tuple[int | None, int, int]  # (ts_ns, orig_len, cap_len); None: no timestamp


def ours(path: Path) -> list[Frame]:
    with open_capture(path) as reader:
        return [_frame(r) for r in reader]


def _frame(record: Record) -> Frame:
    ts = None if NO_TIMESTAMP in record.warnings else record.ts_ns
    return (ts, record.orig_len, record.cap_len)


@dataclass
class Oracle:
    """tshark's view of every file a test compares with, computed once per module."""

    tmp: Path
    frames: dict[Path, list[Frame]] = field(default_factory=dict)
    rows: dict[Path, list[list[str]]] = field(default_factory=dict)
    counts: dict[Path, int] = field(default_factory=dict)

    def converted(self, name: str, fmt: str) -> Path:
        return self.tmp / (Path(name).stem + CONVERSIONS[fmt])


def _tshark_rows(path: Path) -> list[list[str]]:
    """time_epoch, len, cap_len, interface_id, comment of every frame, as tshark reads them."""
    tshark = s.require_tool("tshark")
    out = s.run(
        tshark, "-n", "-r", str(path), "-T", "fields",
        "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len",
        "-e", "frame.interface_id", "-e", "frame.comment",
    )  # fmt: skip
    return [line.split("\t") for line in out.splitlines()]


def _frames(rows: list[list[str]]) -> list[Frame]:
    return [(s.epoch_ns(ts) if ts else None, int(orig), int(cap)) for ts, orig, cap, *_ in rows]


def _capinfos_counts(paths: list[Path]) -> dict[Path, int]:
    capinfos = s.require_tool("capinfos")
    out = s.run(capinfos, "-M", "-c", "-r", "-T", *map(str, paths))
    counts = {}
    for line in out.splitlines():
        name, count = line.rsplit("\t", 1)
        counts[Path(name)] = int(count)
    return counts


def _our_big_endian_pcapng(paths: list[Path], target: Path) -> None:
    """Every capture as a section of its own, byte orders alternating, each packet on an
    interface of a different resolution (all exact for microsecond sources)."""
    with PcapngWriter(target, ">", comment="vxlankit test") as writer:
        for index, path in enumerate(paths):
            if index:
                writer.new_section(">" if index % 2 == 0 else "<")
            with open_capture(path) as reader:
                linktype = reader.interfaces[0].linktype
                ids = [
                    writer.add_interface("us", linktype, tsresol=10**6),
                    writer.add_interface("ns", linktype, tsresol=10**9, description="nano"),
                    writer.add_interface("bin", linktype, tsresol=2**30, tsoffset=-7),
                ]
                for number, record in enumerate(reader):
                    writer.write(
                        record.data,
                        record.ts_ns,
                        ids[number % 3],
                        record.orig_len,
                        comment=f"packet {number}" if number % 2 else None,
                        flags=number,
                    )


def _chain_records(paths: list[Path]) -> Iterator[Record]:
    for path in paths:
        with open_capture(path) as reader:
            yield from reader


def _linktype(path: Path) -> int:
    """The link type in a classic pcap file's header (the shared captures are all pcap)."""
    head = path.read_bytes()[:24]
    order = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    return int(struct.unpack_from(order + "I", head, 20)[0]) & 0x0FFFFFFF


def _ethernet(paths: list[Path]) -> list[Path]:
    return [p for p in paths if _linktype(p) == 1]


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Oracle:
    s.require_real_dir()
    for tool in ("tshark", "capinfos", "editcap", "mergecap"):
        s.require_tool(tool)
    originals = [s.real_capture(name) for name in NAMES]
    oracle = Oracle(tmp_path_factory.mktemp("capture-oracle"))
    families: dict[str, list[Path]] = {"pcap": originals}
    for fmt in CONVERSIONS:
        converted = [oracle.converted(p.name, fmt) for p in originals]
        for source, target in zip(originals, converted, strict=True):
            s.run("editcap", "-F", fmt, str(source), str(target))
        families[fmt] = converted
    # A pcap file holds one link type: the captures are merged per link type (pcapng too, so
    # that every family is read the same way).
    merged: dict[tuple[str, int], Path] = {}
    for fmt, paths in families.items():
        for linktype in sorted({_linktype(p) for p in originals}):
            group = [p for p, o in zip(paths, originals, strict=True) if _linktype(o) == linktype]
            merged[fmt, linktype] = oracle.tmp / f"all-{fmt}-{linktype}"
            s.run("mergecap", "-a", "-F", fmt, "-w", str(merged[fmt, linktype]), *map(str, group))
    ours_ng = oracle.tmp / "ours-be.pcapng"
    _our_big_endian_pcapng(originals, ours_ng)
    ours_pcap = oracle.tmp / "ours-be-nsec.pcap"
    write_capture(ours_pcap, _chain_records(_ethernet(originals)), "pcap", byte_order=">",
                  nanosecond=True)
    features = oracle.tmp / "features.pcapng"
    features.write_bytes(s.feature_pcapng())
    singles = [ours_ng, ours_pcap, features]

    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = [*merged.values(), *singles]
        rows = dict(zip(jobs, pool.map(_tshark_rows, jobs), strict=True))
    results = {path: _frames(found) for path, found in rows.items()}
    every_file = [p for paths in families.values() for p in paths]
    oracle.counts = _capinfos_counts(every_file + singles)
    for (fmt, linktype), merged_path in merged.items():
        frames = iter(results[merged_path])
        for path, original in zip(families[fmt], originals, strict=True):
            if _linktype(original) == linktype:
                oracle.frames[path] = list(itertools.islice(frames, oracle.counts[path]))
        assert next(frames, None) is None, f"mergecap output of {fmt} has extra frames"
    for path in singles:
        oracle.frames[path] = results[path]
        oracle.rows[path] = rows[path]
    return oracle


@pytest.mark.parametrize("name", NAMES)
def test_real_capture_matches_tshark(name: str, oracle: Oracle) -> None:
    path = s.real_capture(name)
    got = ours(path)
    assert len(got) == oracle.counts[path]
    assert got == oracle.frames[path]


@pytest.mark.parametrize("fmt", sorted(CONVERSIONS))
@pytest.mark.parametrize("name", NAMES)
def test_editcap_conversion_matches_tshark(name: str, fmt: str, oracle: Oracle) -> None:
    path = oracle.converted(name, fmt)
    with open_capture(path) as reader:
        records = list(reader)
        assert reader.format == ("pcapng" if fmt == "pcapng" else "pcap")
        if reader.header is not None:
            assert reader.header.variant == {"nsecpcap": "nsec", "modpcap": "modified"}[fmt]
    got = [_frame(r) for r in records]
    assert len(got) == oracle.counts[path]
    assert got == oracle.frames[path]
    original = list(open_capture(s.real_capture(name)))
    assert [r.data for r in records] == [r.data for r in original]


@pytest.mark.parametrize("name", NAMES)
def test_real_pcap_round_trip_is_byte_identical(name: str) -> None:
    path = s.real_capture(name)
    out = io.BytesIO()
    with open_capture(path) as reader:
        write_capture(out, reader, "pcap")
    assert out.getvalue() == path.read_bytes()


@pytest.mark.parametrize("fmt", ["nsecpcap", "modpcap"])
@pytest.mark.parametrize("name", NAMES)
def test_converted_pcap_round_trip_is_byte_identical(name: str, fmt: str, oracle: Oracle) -> None:
    path = oracle.converted(name, fmt)
    out = io.BytesIO()
    write_capture(out, open_capture(path), "pcap")
    assert out.getvalue() == path.read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_editcap_pcapng_round_trip_keeps_everything(name: str, oracle: Oracle) -> None:
    path = oracle.converted(name, "pcapng")
    out = io.BytesIO()
    write_capture(out, open_capture(path))
    before: CaptureReader
    with open_capture(path) as before, open_capture(io.BytesIO(out.getvalue())) as after:
        pairs = list(zip(before, after, strict=True))
        assert [s.options for s in after.sections] == [s.options for s in before.sections]
    for a, b in pairs:
        assert (a.data, a.ts_ns, a.orig_len, a.comment, a.flags, a.options) == (
            b.data, b.ts_ns, b.orig_len, b.comment, b.flags, b.options,
        )  # fmt: skip
        assert a.interface.same_as(b.interface) and a.interface.id == b.interface.id


def test_tshark_reads_our_big_endian_pcapng(oracle: Oracle) -> None:
    path = oracle.tmp / "ours-be.pcapng"
    expected = [_frame(r) for r in _chain_records([s.real_capture(n) for n in NAMES])]
    assert ours(path) == expected
    assert oracle.frames[path] == expected
    assert oracle.counts[path] == len(expected)
    with open_capture(path) as reader:
        records = list(reader)
        assert [sec.byte_order for sec in reader.sections][:3] == [">", "<", ">"]
    assert [r.interface.tsresol for r in records[:3]] == [10**6, 10**9, 2**30]
    assert [r.comment for r in records[:3]] == [None, "packet 1", None]
    assert [r.flags for r in records[:3]] == [0, 1, 2]


def test_tshark_reads_our_nanosecond_pcap(oracle: Oracle) -> None:
    path = oracle.tmp / "ours-be-nsec.pcap"
    expected = [_frame(r) for r in _chain_records(_ethernet([s.real_capture(n)
                                                              for n in NAMES]))]
    assert oracle.frames[path] == expected
    assert ours(path) == expected
    with open_capture(path) as reader:
        assert reader.byte_order == ">" and reader.header is not None
        assert reader.header.variant == "nsec"


def test_tshark_reads_the_feature_file_as_we_do(oracle: Oracle) -> None:
    """Two byte orders, SPB/OPB/EPB, 2**-20 s ticks, if_tsoffset, comments, unknown blocks."""
    path = oracle.tmp / "features.pcapng"
    with open_capture(path) as reader:
        records = list(reader)
    assert [_frame(r) for r in records] == oracle.frames[path]
    tshark_ids_comments = [(int(row[3]), row[4]) for row in oracle.rows[path]]
    # tshark joins a packet's comments with commas.
    ours_ids_comments = [
        (
            r.interface.id,
            ",".join(
                ([r.comment] if r.comment else [])
                + [v.decode() for code, v in r.options if code == 1]
            ),
        )
        for r in records
    ]
    assert ours_ids_comments == tshark_ids_comments


def test_absent_real_folder_skips_here_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tests.support as shared

    for module in (s, shared):
        monkeypatch.setattr(module, "REAL_DIR", tmp_path / "absent")
        monkeypatch.setattr(module, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception):
        s.require_real_dir()
    assert s.real_capture_names() == ["<real captures folder absent>"]
    monkeypatch.setattr(shared, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="required when CI=true"):
        s.require_real_dir()
    with pytest.raises(pytest.fail.Exception, match="required when CI=true"):
        s.require_tool("no-such-tool-vxlankit")
