"""``decode -T fields -e ... -E ...``: tshark's field columns, checked against tshark itself on
every shared capture, and the -E options and errors by hand."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import real_capture, real_capture_names, require_real_dir, require_tshark
from vxlankit.cli import EXIT_USAGE, main

# Fields of every layer the captures hold, outer and inner occurrences, several of them hex.
FIELDS = ("frame.number frame.len frame.cap_len eth.src eth.dst eth.type vlan.id ip.src ip.dst "
          "ip.proto ip.ttl ip.flags ipv6.src ipv6.dst ipv6.nxt ipv6.hlim udp.srcport udp.dstport "
          "udp.checksum udp.length tcp.srcport tcp.dstport tcp.seq_raw tcp.flags tcp.len "
          "vxlan.vni vxlan.flags geneve.vni geneve.option.class gre.proto erspan.spanid "
          "icmp.type icmp.seq icmpv6.type dns.qry.name dns.id dns.a arp.opcode "
          "arp.src.proto_ipv4 nsh.spi tcp.port ip.addr eth.addr tcp.ack tcp.ack_raw "
          "icmpv6.opt.linkaddr icmpv6.opt.src_linkaddr ip.version").split()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _tshark(path: str, args: list[str]) -> str:
    command = [require_tshark(), "-r", path, "-n", "-d", "udp.port==8472,vxlan",
               "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-T", "fields",
               *args]
    return subprocess.run(command, capture_output=True, text=True, check=True,
                          timeout=120).stdout


@pytest.mark.parametrize("name", real_capture_names() or ["(folder missing)"])
def test_columns_equal_tshark(name: str) -> None:
    require_real_dir()
    path = str(real_capture(name))
    args = [arg for field in FIELDS for arg in ("-e", field)]
    code, ours = run("decode", path, "-T", "fields", *args)
    assert code == 0
    theirs = _tshark(path, args)
    assert ours == theirs
    assert ours.count("\n") >= 1 and ours.replace("\t", "").strip()


def test_layout_options_equal_tshark() -> None:
    path = str(real_capture("tcpdump_vxlan.pcap"))
    for options in (["-E", "header=y"], ["-E", "occurrence=f"], ["-E", "occurrence=l"],
                    ["-E", "aggregator=/s", "-E", "separator=,"],
                    ["-E", "quote=d", "-E", "header=y"], ["-E", "separator=/s"]):
        args = ["-e", "frame.number", "-e", "ip.src", "-e", "eth.dst", "-e", "icmp.seq",
                *options]
        code, ours = run("decode", path, "-T", "fields", *args)
        assert code == 0
        assert ours == _tshark(path, args), options


def test_usage_errors() -> None:
    path = "no-such-file.pcap"  # never opened: the options fail first
    for args, message in (
            (["-T", "fields"], "needs at least one -e"),
            (["-e", "ip.src"], "-e and -E need -T fields"),
            (["-T", "fields", "-e", "ip.sorce"], "Some fields aren't valid: ip.sorce"),
            (["-T", "fields", "-e", "ip.src", "-E", "colour=y"], "Invalid -E parameter"),
            (["-T", "fields", "-e", "ip.src", "-E", "occurrence=2"], "occurrence=2"),
            (["-T", "fields", "-e", "ip.src", "-E", "separator=ab"], "separator=ab"),
            (["-T", "fields", "-e", "ip.src", "--json"], "cannot be combined")):
        code, out = run("decode", path, *args)
        assert code == EXIT_USAGE, (args, out)
        assert message in out, (args, out)


def test_filter_and_count_apply() -> None:
    path = str(real_capture("tcpdump_vxlan.pcap"))
    code, out = run("decode", path, "-T", "fields", "-e", "frame.number", "-e", "arp.opcode",
                    "-Y", "arp", "-c", "1")
    assert code == 0
    assert out == _tshark(path, ["-e", "frame.number", "-e", "arp.opcode", "-Y", "arp",
                                 "-c", "2"]).splitlines(True)[0]


@pytest.mark.parametrize("expr", ["icmp", "arp", "vxlan", "frame.number > 3"])
def test_time_delta_displayed_equals_tshark(expr: str) -> None:
    """``frame.time_delta_displayed``: from the packet shown before (0 for the first), as
    tshark counts it under the same filter, beside the captured packet's ``time_delta``."""
    path = str(Path(__file__).resolve().parents[2] / "captures"
               / "synth-ping-vni4096-proxy.pcapng")
    args = ["-e", "frame.number", "-e", "frame.time_delta_displayed", "-e",
            "frame.time_delta", "-Y", expr]
    code, ours = run("decode", path, "-T", "fields", *args)
    assert code == 0 and ours.count("\n") >= 4
    assert ours == _tshark(path, args)


def test_a_packet_comment_is_a_field_a_filter_finds(tmp_path: Path) -> None:
    """``-Y frame.comment`` (bare, and with contains) keeps the commented packet, as tshark."""
    from tests.support import require_tool

    editcap = require_tool("editcap")
    path = tmp_path / "commented.pcapng"
    subprocess.run([editcap, "-a", "2:hello world", str(real_capture("tcpdump_vxlan.pcap")),
                    str(path)], check=True, capture_output=True)
    for expr in ("frame.comment", 'frame.comment contains "hello"'):
        code, ours = run("decode", str(path), "-Y", expr, "-T", "fields", "-e", "frame.number")
        assert code == 0
        assert ours == _tshark(str(path), ["-Y", expr, "-e", "frame.number"]) == "2\n"
