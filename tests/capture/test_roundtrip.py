"""Random records written, then read: everything comes back exactly, in both formats and orders.

Also: what the reader read, written back, reads the same (pcap: the very same bytes), including
after a change of byte order; and writers and readers work on streams that cannot seek.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vxlankit.capture import (
    CAPLEN_GT_ORIGLEN,
    CAPLEN_GT_SNAPLEN,
    PcapngWriter,
    PcapWriter,
    Record,
    open_capture,
    write_capture,
)
from vxlankit.capture import pcapng as ng
from vxlankit.errors import CaptureError

NS = 1_000_000_000
orders = st.sampled_from("<>")
texts = st.text(max_size=12)
packets = st.binary(max_size=200)
TSRESOLS = [10**k for k in range(20)] + [2**k for k in range(1, 64)]


def _expected_warnings(cap_len: int, orig_len: int, snaplen: int) -> tuple[str, ...]:
    found = []
    if snaplen and cap_len > snaplen:
        found.append(CAPLEN_GT_SNAPLEN)
    if cap_len > orig_len:
        found.append(CAPLEN_GT_ORIGLEN)
    return tuple(found)


# -- pcap ---------------------------------------------------------------------------------------


@st.composite
def pcap_cases(draw: st.DrawFn) -> dict[str, Any]:
    variant = draw(st.sampled_from(["usec", "nsec", "modified"]))
    mult = 1 if variant == "nsec" else 1000
    fcs = draw(st.sampled_from([0, 0x04000000, 0x24000000, 0xF4000000]))
    records = draw(
        st.lists(
            st.tuples(
                packets,
                st.integers(0, 2**32 - 1),
                st.integers(0, NS // mult - 1),
                st.integers(0, 300),
                st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 0xFFFF), st.integers(0, 255),
                          st.integers(0, 255)),
            ),
            max_size=8,
        )
    )  # fmt: skip
    return {
        "order": draw(orders),
        "variant": variant,
        "mult": mult,
        "linktype": draw(st.sampled_from([1, 101, 113, 147])) | fcs,
        "snaplen": draw(st.sampled_from([0, 64, 150, 1500, 262144, 16777216])),
        "version": draw(st.sampled_from([(2, 4), (2, 3), (2, 2), (2, 0)])),
        "thiszone": draw(st.integers(-(2**31), 2**31 - 1)),
        "sigfigs": draw(st.integers(0, 2**32 - 1)),
        "records": [
            (data, sec * NS + frac * mult, orig, extra) for data, sec, frac, orig, extra in records
        ],
    }


@given(pcap_cases())
def test_pcap_records_round_trip(case: dict[str, Any]) -> None:
    out = io.BytesIO()
    modified = case["variant"] == "modified"
    with PcapWriter(
        out,
        case["linktype"],
        case["snaplen"],
        nanosecond=case["variant"] == "nsec",
        byte_order=case["order"],
        version=case["version"],
        thiszone=case["thiszone"],
        sigfigs=case["sigfigs"],
        modified=modified,
    ) as writer:
        for data, ts_ns, orig, extra in case["records"]:
            writer.write(data, ts_ns, orig, modified=extra if modified else None)
    raw = out.getvalue()

    with open_capture(io.BytesIO(raw)) as reader:
        got = list(reader)
        assert reader.format == "pcap"
        assert reader.byte_order == case["order"]
        header = reader.header
        assert header is not None
        assert header.variant == case["variant"]
        assert (header.version_major, header.version_minor) == case["version"]
        assert header.thiszone == case["thiszone"] and header.sigfigs == case["sigfigs"]
        assert header.linktype_field == case["linktype"]
        interface = reader.interfaces[0]
        assert interface.linktype == case["linktype"] & 0xFFFF
        assert interface.tsresol == NS // case["mult"]
        fcs = case["linktype"] >> 28 if case["linktype"] & 0x04000000 else None
        assert interface.fcslen == (None if fcs is None else 2 * fcs)

    assert len(got) == len(case["records"])
    offset = 24
    for number, (record, (data, ts_ns, orig, extra)) in enumerate(
        zip(got, case["records"], strict=True), start=1
    ):
        assert (record.data, record.ts_ns, record.orig_len) == (data, ts_ns, orig)
        assert record.cap_len == len(data)
        assert record.ts_resolution == interface.tsresol
        assert (record.number, record.offset) == (number, offset)
        assert record.pcap_modified == (extra if modified else None)
        assert record.warnings == _expected_warnings(len(data), orig, case["snaplen"])
        offset += (24 if modified else 16) + len(data)

    # pcap -> read -> write pcap is the same bytes, through write_capture or the writer.
    again = io.BytesIO()
    assert write_capture(again, open_capture(io.BytesIO(raw)), "pcap") == len(got)
    assert again.getvalue() == raw
    copy = io.BytesIO()
    with open_capture(io.BytesIO(raw)) as reader, PcapWriter.from_reader(reader, copy) as writer:
        for record in reader:
            writer.write_record(record)
    assert copy.getvalue() == raw


# -- pcapng -------------------------------------------------------------------------------------

if_options = st.lists(
    st.one_of(
        st.tuples(st.just(ng.IF_OS), st.binary(max_size=10)),
        st.tuples(st.just(ng.IF_MACADDR), st.binary(min_size=6, max_size=6)),
        st.tuples(st.just(ng.IF_SPEED), st.binary(min_size=8, max_size=8)),
        st.tuples(st.just(ng.IF_TZONE), st.binary(min_size=4, max_size=4)),
        st.tuples(st.just(ng.OPT_COMMENT), st.binary(max_size=10)),
    ),
    max_size=3,
).map(tuple)
epb_options = st.lists(
    st.one_of(
        st.tuples(st.just(ng.EPB_DROPCOUNT), st.binary(min_size=8, max_size=8)),
        st.tuples(st.just(ng.EPB_QUEUE), st.binary(min_size=4, max_size=4)),
        st.tuples(st.just(ng.EPB_HASH), st.binary(max_size=9)),
        st.tuples(st.just(2989), st.binary(min_size=4, max_size=9)),
        st.tuples(st.just(ng.OPT_COMMENT), st.binary(max_size=5)),  # a second comment
    ),
    max_size=3,
).map(tuple)


@st.composite
def interfaces(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "name": draw(st.none() | texts),
        "linktype": draw(st.integers(0, 0xFFFF)),
        "snaplen": draw(st.sampled_from([0, 40, 65535, 262144, 2**32 - 1])),
        "tsresol": draw(st.sampled_from(TSRESOLS)),
        "description": draw(st.none() | texts),
        "fcslen": draw(st.none() | st.integers(0, 255)),
        "tsoffset": draw(st.integers(-(2**40), 2**40)),
        "options": draw(if_options),
    }


@st.composite
def sections(draw: st.DrawFn) -> dict[str, Any]:
    ifaces = draw(st.lists(interfaces(), min_size=1, max_size=4))
    records = []
    for _ in range(draw(st.integers(0, 8))):
        iid = draw(st.integers(0, len(ifaces) - 1))
        iface = ifaces[iid]
        ticks = draw(st.integers(0, 2**64 - 1))
        data = draw(packets)
        comment = draw(st.none() | texts)
        options = draw(epb_options)
        if comment is None:
            # A further comment is only "further" after a first one: alone it reads as the first.
            options = tuple(o for o in options if o[0] != ng.OPT_COMMENT)
        records.append(
            {
                "iid": iid,
                "data": data,
                # What a reader makes of the ticks: the exact floor, plus the offset.
                "ts_ns": ticks * NS // iface["tsresol"] + iface["tsoffset"] * NS,
                "orig_len": draw(st.integers(0, 2**32 - 1)),
                "comment": comment,
                "flags": draw(st.none() | st.integers(0, 2**32 - 1)),
                "options": options,
            }
        )
    return {
        "order": draw(orders),
        "comment": draw(st.none() | texts),
        "interfaces": ifaces,
        "records": records,
    }


def _write_pcapng(secs: list[dict[str, Any]]) -> bytes:
    out = io.BytesIO()
    writer = PcapngWriter(out, secs[0]["order"], comment=secs[0]["comment"])
    for index, sec in enumerate(secs):
        if index:
            writer.new_section(sec["order"], comment=sec["comment"])
        for iface in sec["interfaces"]:
            writer.add_interface(
                iface["name"],
                iface["linktype"],
                iface["snaplen"],
                iface["tsresol"],
                iface["description"],
                fcslen=iface["fcslen"],
                tsoffset=iface["tsoffset"],
                options=iface["options"],
            )
        for rec in sec["records"]:
            writer.write(
                rec["data"],
                rec["ts_ns"],
                rec["iid"],
                rec["orig_len"],
                rec["comment"],
                rec["flags"],
                options=rec["options"],
            )
    writer.close()
    return out.getvalue()


def _summary(record: Record) -> tuple[Any, ...]:
    iface = record.interface
    return (
        record.data,
        record.ts_ns,
        record.orig_len,
        record.comment,
        record.flags,
        record.warnings,
        iface.id,
        iface.section.index if iface.section else None,
        iface.name,
        iface.description,
        iface.linktype,
        iface.snaplen,
        iface.tsresol,
        iface.fcslen,
        iface.tsoffset,
    )


@given(st.lists(sections(), min_size=1, max_size=3))
def test_pcapng_records_round_trip(secs: list[dict[str, Any]]) -> None:
    raw = _write_pcapng(secs)
    with open_capture(io.BytesIO(raw)) as reader:
        got = list(reader)
        assert reader.format == "pcapng"
        assert [s.byte_order for s in reader.sections] == [s["order"] for s in secs]
        assert reader.byte_order == secs[-1]["order"]
        assert len(reader.interfaces) == sum(len(s["interfaces"]) for s in secs)
        for section, sec in zip(reader.sections, secs, strict=True):
            expected_shb = [] if sec["comment"] is None else [(1, sec["comment"].encode())]
            assert list(section.options) == expected_shb
            for iface, want in zip(section.interfaces, sec["interfaces"], strict=True):
                assert iface.options == want["options"]
                assert iface.byte_order == sec["order"]

    expected = []
    for index, sec in enumerate(secs):
        for rec in sec["records"]:
            iface = sec["interfaces"][rec["iid"]]
            expected.append(
                (
                    rec["data"],
                    rec["ts_ns"],
                    rec["orig_len"],
                    rec["comment"],
                    rec["flags"],
                    _expected_warnings(len(rec["data"]), rec["orig_len"], iface["snaplen"]),
                    rec["iid"],
                    index,
                    iface["name"],
                    iface["description"],
                    iface["linktype"],
                    iface["snaplen"],
                    iface["tsresol"],
                    iface["fcslen"],
                    iface["tsoffset"],
                )
            )
    assert [_summary(r) for r in got] == expected
    assert [r.options for r in got] == [rec["options"] for s in secs for rec in s["records"]]
    assert [r.number for r in got] == list(range(1, len(got) + 1))

    # pcapng -> read -> write pcapng -> read: the same records, interfaces and options.
    again = io.BytesIO()
    write_capture(again, open_capture(io.BytesIO(raw)))
    reread = list(open_capture(io.BytesIO(again.getvalue())))
    assert [_summary(r) for r in reread] == expected
    assert [r.options for r in reread] == [r.options for r in got]


@given(sections())
def test_pcapng_byte_order_conversion_keeps_values(sec: dict[str, Any]) -> None:
    raw = _write_pcapng([sec])
    other = ">" if sec["order"] == "<" else "<"
    converted = io.BytesIO()
    write_capture(converted, open_capture(io.BytesIO(raw)), byte_order=other)
    with open_capture(io.BytesIO(converted.getvalue())) as reader:
        got = list(reader)
        assert reader.byte_order == other
        for iface, want in zip(reader.interfaces, sec["interfaces"], strict=True):
            swapped = tuple((c, ng.swap_option(ng.IDB, c, v)) for c, v in want["options"])
            assert iface.options == swapped
    original = list(open_capture(io.BytesIO(raw)))
    assert [_summary(r) for r in got] == [_summary(r) for r in original]
    for record, before in zip(got, original, strict=True):
        assert record.options == tuple((c, ng.swap_option(ng.EPB, c, v)) for c, v in before.options)


# -- writer refusals ----------------------------------------------------------------------------


def test_writers_refuse_what_would_not_read_back() -> None:
    writer = PcapWriter(io.BytesIO(), 1)
    with pytest.raises(CaptureError, match="finer than the file's resolution"):
        writer.write(b"x", 1_500)  # 1.5 us in a microsecond file
    with pytest.raises(CaptureError, match="exceeds the maximum 262144"):
        writer.write(bytes(262145), 0)
    with pytest.raises(CaptureError, match="1970-2106"):
        writer.write(b"x", -1000)
    assert writer.count == 0

    ng_writer = PcapngWriter(io.BytesIO())
    iid = ng_writer.add_interface("eth0", 1, tsresol=10**6)
    with pytest.raises(CaptureError, match="no exact tick"):
        ng_writer.write(b"x", 1_500, iid)
    with pytest.raises(CaptureError, match="interface id 1 was never added") as info:
        ng_writer.write(b"x", 0, 1)
    assert info.value.packet == 1
    with pytest.raises(CaptureError, match="not a power of 10"):
        ng_writer.add_interface("eth1", 1, tsresol=3)
    with pytest.raises(CaptureError, match="64 bits of ticks"):
        ng_writer.write(b"x", -1000, iid)

    with pytest.raises(CaptureError, match="option 70000 of 1 bytes does not fit") as info:
        ng_writer.write(b"x", 0, iid, options=((70000, b"x"),))
    assert info.value.packet == 1
    with pytest.raises(CaptureError, match="opt_endofopt"):
        ng_writer.add_interface("eth2", 1, options=((0, b""),))
    with pytest.raises(CaptureError, match="does not fit in 64 bits"):
        ng_writer.add_interface("eth2", 1, tsoffset=2**63)
    modified = PcapWriter(io.BytesIO(), 1, modified=True)
    with pytest.raises(CaptureError, match="out of range"):
        modified.write(b"x", 0, modified=(2**32, 0, 0, 0))
    with pytest.raises(CaptureError, match="another format"):
        writer.write(b"x", 0, modified=(0, 0, 0, 0))
    with pytest.raises(CaptureError, match="cannot write pcap header"):
        PcapWriter(io.BytesIO(), 2**32)

    with pytest.raises(CaptureError, match="unknown capture format"):
        write_capture(io.BytesIO(), [], "erf")
    with pytest.raises(CaptureError, match="no records to take the pcap link type from"):
        write_capture(io.BytesIO(), [], "pcap")


def test_write_capture_pcap_refuses_mixed_link_types() -> None:
    raw = io.BytesIO()
    with PcapngWriter(raw) as writer:
        eth = writer.add_interface("eth", 1)
        ip = writer.add_interface("ip", 101)
        writer.write(b"a", 0, eth)
        writer.write(b"b", 0, ip)
    with pytest.raises(CaptureError, match="record 2 has link type 101") as info:
        write_capture(io.BytesIO(), open_capture(io.BytesIO(raw.getvalue())), "pcap")
    assert info.value.packet == 2


def test_write_capture_unknown_option_layout_cannot_change_byte_order() -> None:
    raw = io.BytesIO()
    with PcapngWriter(raw, "<") as writer:
        iid = writer.add_interface("eth", 1)
        writer.write(b"a", 0, iid, options=((999, b"\x01\x02"),))
    records = open_capture(io.BytesIO(raw.getvalue()))
    with pytest.raises(CaptureError, match="option 999 .* no known layout"):
        write_capture(io.BytesIO(), records, byte_order=">")
    # In its own byte order the unknown option is copied as it is.
    out = io.BytesIO()
    write_capture(out, open_capture(io.BytesIO(raw.getvalue())))
    assert [r.options for r in open_capture(io.BytesIO(out.getvalue()))] == [((999, b"\x01\x02"),)]


def test_write_capture_from_hand_built_records() -> None:
    from vxlankit.capture import Interface

    eth = Interface(1, name="eth0", tsresol=10**9)
    raw_ip = Interface(101, name="tun0", tsresol=10**6, snaplen=0)
    records = [
        Record(b"\x01" * 20, 5 * NS + 7, eth),
        Record(b"\x02" * 30, 6 * NS, raw_ip, orig_len=40, comment="cut", flags=1),
        Record(b"\x03" * 10, 7 * NS, eth),
    ]
    out = io.BytesIO()
    assert write_capture(out, records) == 3
    got = list(open_capture(io.BytesIO(out.getvalue())))
    assert [(r.data, r.ts_ns, r.orig_len, r.comment, r.flags) for r in got] == [
        (b"\x01" * 20, 5 * NS + 7, 20, None, None),
        (b"\x02" * 30, 6 * NS, 40, "cut", 1),
        (b"\x03" * 10, 7 * NS, 10, None, None),
    ]
    assert [(r.interface.id, r.interface.name, r.interface.linktype) for r in got] == [
        (0, "eth0", 1),
        (1, "tun0", 101),
        (0, "eth0", 1),
    ]
    # A pcap from hand-built records of one link type takes its resolution from the interface.
    pcap_out = io.BytesIO()
    write_capture(pcap_out, [records[0], records[2]], "pcap")
    with open_capture(io.BytesIO(pcap_out.getvalue())) as reader:
        assert [r.ts_ns for r in reader] == [5 * NS + 7, 7 * NS]
        assert reader.header is not None and reader.header.variant == "nsec"


def test_modified_pcap_converts_to_nanosecond_pcap() -> None:
    raw = io.BytesIO()
    with PcapWriter(raw, 1, modified=True) as writer:
        writer.write(b"abc", 5 * NS, modified=(1, 0x0800, 0, 0))
    out = io.BytesIO()
    write_capture(out, open_capture(io.BytesIO(raw.getvalue())), "pcap", nanosecond=True)
    with open_capture(io.BytesIO(out.getvalue())) as reader:
        (record,) = reader
        assert reader.header is not None and reader.header.variant == "nsec"
    assert (record.data, record.ts_ns, record.pcap_modified) == (b"abc", 5 * NS, None)
    with pytest.raises(CaptureError, match="no nanosecond variant"):
        PcapWriter(io.BytesIO(), 1, nanosecond=True, modified=True)


def test_write_capture_keeps_interfaces_without_packets() -> None:
    raw = io.BytesIO()
    with PcapngWriter(raw) as writer:
        writer.add_interface("a", 1)
        used = writer.add_interface("b", 1)
        writer.add_interface("c", 101)
        writer.write(b"x", 0, used)
    out = io.BytesIO()
    write_capture(out, open_capture(io.BytesIO(raw.getvalue())))
    with open_capture(io.BytesIO(out.getvalue())) as reader:
        assert [r.interface.name for r in reader] == ["b"]
        assert [(i.id, i.name) for i in reader.interfaces] == [(0, "a"), (1, "b"), (2, "c")]


# -- streams that cannot seek -------------------------------------------------------------------


class _OneWay(io.RawIOBase):
    """A stream with no seek/tell at all, handing out short reads like a pipe does."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = data
        self._step = step
        self.largest_request = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        self.largest_request = max(self.largest_request, len(target))
        piece = self._data[: min(len(target), self._step)]
        self._data = self._data[len(piece) :]
        target[: len(piece)] = piece
        return len(piece)

    def seekable(self) -> bool:
        return False

    def seek(self, *args: Any) -> int:
        raise AssertionError("the reader seeked")

    def tell(self) -> int:
        raise AssertionError("the reader asked for its position")


class _Sink(io.RawIOBase):
    """A raw stream that takes at most ``step`` bytes per write, as write(2) on a pipe may."""

    def __init__(self, step: int = 1 << 30) -> None:
        self.data = bytearray()
        self._step = step

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        taken = bytes(b)[: self._step]
        self.data += taken
        return len(taken)

    def seekable(self) -> bool:
        return False

    def seek(self, *args: Any) -> int:
        raise AssertionError("the writer seeked")

    def tell(self) -> int:
        raise AssertionError("the writer asked for its position")


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
@pytest.mark.parametrize("step", [1, 7, 4096])
def test_read_and_write_without_seeking(fmt: str, step: int) -> None:
    from vxlankit.capture import Interface

    eth = Interface(1, tsresol=10**9)
    records = [Record(bytes([i]) * (i * 37 % 500), i * 1_000_000_007, eth) for i in range(60)]
    sink = _Sink(step)
    write_capture(sink, records, fmt)
    source = _OneWay(bytes(sink.data), step)
    got = list(open_capture(source))
    assert [(r.data, r.ts_ns) for r in got] == [(r.data, r.ts_ns) for r in records]


def test_memory_stays_bounded_on_a_long_stream() -> None:
    """Reading a large capture asks for chunks of bounded size and keeps no records."""
    from vxlankit.capture import Interface
    from vxlankit.capture._io import CHUNK

    eth = Interface(1, tsresol=10**9)
    sink = _Sink()
    count = 20_000
    write_capture(sink, (Record(b"\xab" * 1400, i, eth) for i in range(count)), "pcapng")
    source = _OneWay(bytes(sink.data), 1 << 30)
    reader = open_capture(source)
    seen = 0
    for _record in reader:
        seen += 1
        assert len(reader._buf.buf) <= CHUNK + 2 * 1500
    assert seen == count
    assert source.largest_request <= CHUNK


def test_records_from_a_live_pipe_arrive_before_it_closes() -> None:
    """The reader hands out a record as soon as its bytes are in the pipe."""
    read_fd, write_fd = os.pipe()
    first = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    first += struct.pack("<IIII", 1, 2, 3, 3) + b"abc"
    os.write(write_fd, first)
    with os.fdopen(read_fd, "rb") as pipe:
        reader = open_capture(pipe)
        record = next(iter(reader))  # would block forever if the reader waited for a full chunk
        assert record.data == b"abc"
        os.write(write_fd, struct.pack("<IIII", 4, 5, 2, 2) + b"de")
        assert next(reader).data == b"de"
        os.close(write_fd)
        assert list(reader) == []


def test_writer_to_a_pipe_and_reader_on_the_other_end() -> None:
    read_fd, write_fd = os.pipe()
    got: list[tuple[bytes, int]] = []

    def consume() -> None:
        with os.fdopen(read_fd, "rb") as pipe:
            got.extend((r.data, r.ts_ns) for r in open_capture(pipe))

    thread = threading.Thread(target=consume)
    thread.start()
    with os.fdopen(write_fd, "wb") as pipe, PcapngWriter(pipe, ">") as writer:
        iid = writer.add_interface("eth0", 1, tsresol=10**6)
        for i in range(500):
            writer.write(bytes(i % 256) * 3, i * 1000, iid)
    thread.join(timeout=30)
    assert got == [(bytes(i % 256) * 3, i * 1000) for i in range(500)]


def test_dash_means_stdin_and_stdout() -> None:
    """``-`` reads stdin and writes stdout, through a real process and real pipes."""
    code = (
        "from vxlankit.capture import open_capture, write_capture\n"
        "r = open_capture('-')\n"
        "assert r.path == '<stdin>', r.path\n"
        "write_capture('-', r, 'pcap')\n"
    )
    raw = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 1500, 1)
    raw += struct.pack(">IIII", 10, 999_999_999, 4, 60) + b"abcd"
    result = subprocess.run(
        [sys.executable, "-c", code], input=raw, capture_output=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == raw
