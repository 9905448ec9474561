"""The ladder diagram and the capture writer of synth."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from vxlankit.capture.reader import open_capture
from vxlankit.errors import CaptureError
from vxlankit.synth.diagram import ladder_svg, ladder_text
from vxlankit.synth.output import write_result
from vxlankit.synth.ping import PingOptions, synthesize_ping

SVG = "{http://www.w3.org/2000/svg}"


def test_svg_has_a_lane_per_device_and_an_arrow_per_step() -> None:
    r = synthesize_ping(PingOptions(count=1))
    root = ET.fromstring(ladder_svg(r.lanes, r.ladder, "ping"))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    for lane in r.lanes:
        assert lane in texts
    arrows = [line for line in root.iter(f"{SVG}line") if line.get("marker-end")]
    assert len(arrows) == len(r.ladder)
    labels = set(texts)
    assert "proxy ARP 10.0.0.4 is-at 02:42:0a:00:00:04" in labels
    assert "VXLAN VNI 4096: ICMP echo request seq=1 ttl=64" in labels


def test_text_ladder_reads_left_to_right() -> None:
    r = synthesize_ping(PingOptions(count=1))
    lines = ladder_text(r.lanes, r.ladder, width=200).splitlines()
    assert all(lane in lines[0] for lane in r.lanes)
    assert len(lines) == len(r.ladder) + 1  # wide enough: one line an arrow, label beside it
    first = lines[1]
    assert first.index("|") < first.index(">") and first.endswith(
        "ARP who-has 10.0.0.4 tell 10.0.0.3")


@pytest.mark.parametrize("subnets", [(), ("10.1.1.0/24", "11.1.1.0/24")],
                         ids=["one-subnet", "routed"])
def test_text_ladder_fits_100_columns_with_each_arrows_one_way_time(
        subnets: tuple[str, ...]) -> None:
    options = PingOptions(count=2, subnets=subnets) if subnets else PingOptions(count=2)
    r = synthesize_ping(options)
    text = ladder_text(r.lanes, r.ladder)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    for lane in r.lanes:
        assert lane in text
    arrows = [line for line in lines if ">" in line or "<" in line]
    assert len(arrows) == len(r.ladder)
    for line, step in zip(arrows, r.ladder, strict=True):
        assert step.one_way_ns is not None and step.one_way_ns > 0
        assert f"{step.one_way_ns / 1e6:.3f}" in line, (line, step)
        assert step.label in text
    # An arrow's one-way time is when its frame reaches the next lane: the underlay's pair of
    # arrows spans node1's eth0 to node2's, as the taps saw it.
    out = next(s for s in r.ladder if s.dst == "underlay")
    back = next(s for s in r.ladder if s.src == "underlay" and s.ts_ns > out.ts_ns)
    taps = [p for p in r.packets if p.tap.endswith("/eth0") and p.data]
    assert out.ts_ns == taps[0].ts_ns and back.arrive_ns == taps[1].ts_ns


def test_write_one_tap_as_pcap_and_all_as_pcapng(tmp_path: Path) -> None:
    r = synthesize_ping(PingOptions(count=2))
    ng = tmp_path / "all.pcapng"
    write_result(r, str(ng))
    with open_capture(str(ng)) as reader:
        records = list(reader)
        assert reader.format == "pcapng"
    assert [rec.data for rec in records] == [p.data for p in r.packets]
    assert [rec.ts_ns for rec in records] == [p.ts_ns for p in r.packets]
    assert [rec.interface.name for rec in records] == [p.tap for p in r.packets]
    one = tmp_path / "c1.pcap"
    write_result(r, str(one), tap="node1/veth-C1")
    with open_capture(str(one)) as reader:
        assert reader.format == "pcap"
        assert [rec.data for rec in reader] == [p.data for p in r.tap_packets("node1/veth-C1")]


def test_write_to_a_binary_stream() -> None:
    r = synthesize_ping(PingOptions(count=1))
    out = io.BytesIO()
    assert write_result(r, out) == len(r.packets)
    assert out.getvalue()[:4] == b"\x0a\x0d\x0d\x0a"


def test_bad_tap_and_format_are_clear_errors(tmp_path: Path) -> None:
    r = synthesize_ping(PingOptions(count=1))
    with pytest.raises(CaptureError, match="no tap named 'nodeX/eth0'"):
        write_result(r, str(tmp_path / "x.pcap"), tap="nodeX/eth0")
    with pytest.raises(CaptureError, match="classic pcap holds one interface"):
        write_result(r, str(tmp_path / "x.pcap"))
