"""``-z`` statistics: the same tables as tshark's on every capture, byte for byte, where
vxlankit decodes what tshark decodes; per tunnel; and the command line around them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import real_capture, real_capture_names, require_real_dir, require_tshark
from vxlankit.cli import EXIT_USAGE, main
from vxlankit.present.run import decode_capture
from vxlankit.present.zstats import format_size, parse_zstat

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
SEED = CAPTURES / "synth-ping-vni4096-proxy.pcapng"
STATS = ["io,phs", "conv,eth", "conv,ip", "conv,ipv6", "conv,udp", "conv,tcp", "endpoints,eth",
         "endpoints,ip", "endpoints,ipv6", "endpoints,udp", "endpoints,tcp"]

# Where the tables differ, and why (each a difference of what is decoded, not of counting).
APPLICATIONS = "tshark names an application protocol vxlankit leaves as data"
DIFFERENT = {
    ("synth-ping-vni4096-proxy-routed.pcapng", "io,phs"): APPLICATIONS + " (text in ICMP)",
    ("ndpi_vxlan.pcap", "io,phs"): APPLICATIONS + " (TLS)",
    ("suricata-verify_vxlan-decoder-03_vxlan.pcap", "io,phs"): APPLICATIONS + " (NTP, TLS)",
    ("suricata-verify_vxlan-non-zero-reserved-fields_input.pcap", "io,phs"):
        APPLICATIONS + " (HTTP)",
    ("tcpdump_geneve.pcap", "io,phs"): APPLICATIONS + " (SSH)",
    ("tcpdump_erspan-type-ii-1.pcap", "io,phs"): APPLICATIONS + " (PIM)",
    ("tcpdump_erspan-type-iii-pb-1.pcap", "io,phs"):
        "tshark shows the raw link type as a protocol and the cut frame as _ws.short",
}


def _theirs(path: Path, *stats: str) -> str:
    """tshark's tables (several -z in one run; tshark prints them last first)."""
    extra = ["-d", "udp.port==8472,vxlan"] if "8472" in path.name else []
    zs = [x for stat in stats for x in ("-z", stat)]
    return subprocess.run([require_tshark(), "-n", "-r", str(path), *extra, "-q", *zs],
                          capture_output=True, text=True, check=True).stdout


def _ours(path: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["stats", *args, str(path)])
    assert result.exit_code == 0, result.output
    return result.output


def test_tables_are_tsharks_on_every_capture() -> None:
    require_real_dir()
    paths = sorted(p for p in CAPTURES.iterdir() if ".pcap" in p.name)
    paths += [real_capture(n) for n in real_capture_names()]
    compared = 0
    for path in paths:
        stats = [s for s in STATS if (path.name, s) not in DIFFERENT]
        ours = _ours(path, *[x for stat in reversed(stats) for x in ("-z", stat)])
        assert ours == _theirs(path, *stats), path.name
        compared += len(stats)
    assert compared >= 250


@pytest.mark.parametrize(("name", "stat"), sorted(DIFFERENT))
def test_declared_differences_are_only_application_names(name: str, stat: str) -> None:
    """Where tshark names more, the frames and bytes of what both name still agree."""
    path = CAPTURES / name if (CAPTURES / name).exists() else real_capture(name)
    row = re.compile(r"^\s*(\S+)\s+frames:(\d+) bytes:(\d+)$")
    ours = {m.groups() for m in map(row.match, _ours(path, "-z", stat).splitlines()) if m}
    theirs = {m.groups() for m in map(row.match, _theirs(path, stat).splitlines()) if m}
    assert {x for x in ours - theirs if x[0] != "data"} == set()
    assert len(ours & theirs) >= 2


def test_io_stat_intervals_are_tsharks() -> None:
    ours = json.loads(_ours(SEED, "-z", "io,stat,1", "--json"))[0]["intervals"]
    text = _theirs(SEED, "io,stat,1")
    theirs = [(int(f), int(b)) for f, b in re.findall(r"\|\s*(\d+)\s*\|\s*(\d+)\s*\|", text)]
    assert [(i["frames"], i["bytes"]) for i in ours] == theirs
    assert sum(f for f, _ in theirs) == 36


def test_per_tunnel_tables_add_up_to_the_whole() -> None:
    path = CAPTURES / "synth-ping-vni4096-proxy-routed.pcapng"
    whole = json.loads(_ours(path, "-z", "conv,ip", "--json"))[0]["tables"]
    split = json.loads(_ours(path, "-z", "conv,ip", "--per-tunnel", "--json"))[0]["tables"]
    assert len(whole) == 1 and whole[0]["tunnel"] is None
    assert [t["tunnel"] for t in split] == ["underlay", "VXLAN vni 4096", "VXLAN vni 4097"]

    def frames(tables: list[dict[str, object]]) -> int:
        return sum(r["frames_a_to_b"] + r["frames_b_to_a"]  # type: ignore[index]
                   for t in tables for r in t["rows"])  # type: ignore[attr-defined]

    assert frames(split) == frames(whole) == 72
    # Routed between the overlay's subnets: each direction rides its destination's VNI.
    vni4096 = split[1]["rows"]
    assert [(r["a"], r["b"], r["frames_a_to_b"], r["frames_b_to_a"]) for r in vni4096] == [
        ("11.1.1.3", "10.1.1.3", 8, 0)]


def test_phs_per_tunnel_names_each_vni() -> None:
    text = _ours(real_capture("tcpdump_geneve.pcap"), "-z", "io,phs", "--per-tunnel")
    assert "geneve (vni 10)                    frames:19 bytes:5027" in text
    assert "geneve (vni 11)                    frames:20 bytes:4253" in text


def test_a_filter_after_the_type_selects_as_tshark() -> None:
    assert _ours(SEED, "-z", "endpoints,ip,vxlan") == _theirs(SEED, "endpoints,ip,vxlan")
    assert _ours(SEED, "-z", "conv,eth,arp") == _theirs(SEED, "conv,eth,arp")


def test_decode_prints_packets_then_tables_and_q_only_tables() -> None:
    both = CliRunner().invoke(main, ["decode", "-z", "conv,ip", str(SEED)])
    only = CliRunner().invoke(main, ["decode", "-q", "-z", "conv,ip", "-z", "io,phs",
                                     str(SEED)])
    assert both.exit_code == only.exit_code == 0
    assert both.output.count("\n") == 36 + _theirs(SEED, "conv,ip").count("\n")
    assert both.output.endswith(_theirs(SEED, "conv,ip"))
    assert only.output == _theirs(SEED, "io,phs", "conv,ip")  # tshark: last first


@pytest.mark.parametrize(("args", "said"), [
    (["stats", "-z", "conv,foo"], "not a statistic vxlankit has"),
    (["stats", "-z", "io,stat,abc"], "is not a number of seconds"),
    (["stats", "-z", "io,stat,0"], "the interval must be"),
    (["stats", "-z", "conv,ip,ip.sorce == 1.2.3.4"], "'ip.sorce' is neither a field"),
    (["decode", "-q"], "-q prints nothing without -z"),
])
def test_usage_errors(args: list[str], said: str) -> None:
    result = CliRunner().invoke(main, [*args, str(SEED)])
    assert result.exit_code == EXIT_USAGE and said in result.output, result.output


def test_sizes_print_as_tshark_prints_them() -> None:
    assert [format_size(n) for n in (0, 9999, 10_000, 71_234, 9_999_999, 10_000_000)] == [
        "0 bytes", "9999 bytes", "10 kB", "71 kB", "9999 kB", "10 MB"]


def test_api_counts_every_layer_of_its_protocol() -> None:
    stat = parse_zstat("endpoints,eth")
    for item in decode_capture(str(SEED)):
        stat.add(item.record, item.packet)
    rows = stat.to_dict()["tables"][0]["rows"]
    # 36 frames, 16 of them VXLAN with a second Ethernet header: 52 layers, two ends each.
    assert sum(r["tx_frames"] for r in rows) == sum(r["rx_frames"] for r in rows) == 52


def test_io_stat_over_a_far_timestamp_is_refused_not_printed_for_ever(tmp_path: Path) -> None:
    # Found by the fuzz campaign (tests/fuzz): a timestamp 2^31 s after the first one asked
    # io,stat,1 for two billion rows (tshark runs out of memory on it).
    import struct

    frame = bytes(60)
    records = b"".join(struct.pack("<IIII", sec, 0, 60, 60) + frame
                       for sec in (0, 5, 0x7FFFFFFF))
    path = tmp_path / "gap.pcap"
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + records)
    result = CliRunner().invoke(main, ["stats", "-z", "io,stat,1", str(path)])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "choose a longer interval" in result.output
    # The JSON form lists only the intervals with packets: it has no such limit.
    result = CliRunner().invoke(main, ["stats", "--json", "-z", "io,stat,1", str(path)])
    assert result.exit_code == 0, result.output
    assert [i["frames"] for i in json.loads(result.output)[0]["intervals"]] == [1, 1, 1]
