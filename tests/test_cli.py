"""The ``vxlankit`` command: options, output modes, exit codes and error lines."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.codec.realcaptures import real_capture, write_pcap
from vxlankit import build, encode
from vxlankit.cli import EXIT_DAMAGED, EXIT_ERROR, EXIT_PIPE, EXIT_USAGE, _with_progress, main

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def vxlan_pcap() -> Path:
    return real_capture("tcpdump_vxlan.pcap")


def lines(result: Result) -> list[str]:
    return result.stdout.splitlines()


def numbers(result: Result) -> list[int]:
    return [int(line.split()[0]) for line in lines(result)]


def one_error_line(result: Result) -> str:
    err = result.stderr.splitlines()
    assert len(err) == 1, result.stderr
    assert err[0].startswith("vxlankit: error: ")
    assert "Traceback" not in result.stderr
    return err[0]


# --------------------------------------------------------------------------------------------
# decode


def test_one_line_per_packet(vxlan_pcap: Path) -> None:
    result = run("decode", str(vxlan_pcap))
    assert result.exit_code == 0, result.stderr
    out = lines(result)
    assert len(out) == 10
    assert out[0] == ("    1 0.000000 192.168.203.1 -> 192.168.202.1 VXLAN 148 vni 100 | "
                      "00:16:3e:37:f6:04 -> 00:30:88:01:00:02 192.168.203.3 -> 192.168.203.5 "
                      "ICMP echo request id=1292 seq=1")
    assert out[1].endswith("ARP who-has 192.168.203.3 tell 192.168.203.5")
    assert out[2].endswith("ARP 192.168.203.3 is-at 00:16:3e:37:f6:04")
    assert result.stderr == ""


def test_count_vni_vtep(vxlan_pcap: Path) -> None:
    assert numbers(run("decode", "-c", "3", str(vxlan_pcap))) == [1, 2, 3]
    assert len(lines(run("decode", "--vni", "100", str(vxlan_pcap)))) == 10
    assert lines(run("decode", "--vni", "5", "--vni", "6", str(vxlan_pcap))) == []
    assert len(lines(run("decode", "--vtep", "192.168.202.1", str(vxlan_pcap)))) == 10
    assert lines(run("decode", "--vtep", "10.9.9.9", str(vxlan_pcap))) == []
    # -c counts packets shown, as tcpdump's -c does with a filter
    assert numbers(run("decode", "-c", "2", "--vtep", "192.168.203.1", "--vni", "100",
                       str(vxlan_pcap))) == [1, 2]


def test_bad_option_values_are_usage_errors(vxlan_pcap: Path) -> None:
    assert run("decode", "--vtep", "not-an-ip", str(vxlan_pcap)).exit_code == EXIT_USAGE
    assert run("decode", "--vni", str(1 << 24), str(vxlan_pcap)).exit_code == EXIT_USAGE
    assert run("decode", "-c", "-1", str(vxlan_pcap)).exit_code == EXIT_USAGE
    assert run("decode").exit_code == EXIT_USAGE
    result = run("decode", "--json", "-V", str(vxlan_pcap))
    assert result.exit_code == EXIT_USAGE and result.stdout == ""


def test_display_filter(vxlan_pcap: Path) -> None:
    assert numbers(run("decode", "-Y", "icmp.type == 8", str(vxlan_pcap))) == [1, 5, 7, 9]
    assert numbers(run("decode", "--filter", "arp", str(vxlan_pcap))) == [2, 3]
    assert numbers(run("decode", "-Y", "icmp", "-c", "2", str(vxlan_pcap))) == [1, 4]


def test_bad_filter_is_one_line_exit_2(vxlan_pcap: Path) -> None:
    result = run("decode", "-Y", "icmp && ", str(vxlan_pcap))
    assert result.exit_code == EXIT_USAGE
    assert result.stdout == ""
    assert "filter" in one_error_line(result)
    # A literal that does not fit its field is found at the first comparison.
    result = run("decode", "-Y", "eth.src == 10.0.0.1", str(vxlan_pcap))
    assert result.exit_code == EXIT_USAGE
    assert "MAC" in one_error_line(result)
    result = run("stats", "-Y", "(((", str(vxlan_pcap))
    assert result.exit_code == EXIT_USAGE
    one_error_line(result)


def test_verbose_tree(vxlan_pcap: Path) -> None:
    result = run("decode", "-V", "-c", "2", str(vxlan_pcap))
    assert result.exit_code == 0
    out = result.stdout
    assert out.count("\nFrame ") + out.startswith("Frame ") == 2
    assert re.search(r"^    vxlan\.vni: 100 +bytes 46-48$", out, re.M)
    assert re.search(r"^    ip\.checksum: 0x5152 \[good\] +bytes 24-25$", out, re.M)
    assert "    arp.opcode: 1 (request)" in out


def test_hex_dump(vxlan_pcap: Path) -> None:
    result = run("decode", "-x", "-c", "1", str(vxlan_pcap))
    out = lines(result)
    assert out[0].startswith("    1 0.000000 192.168.203.1 -> 192.168.202.1 VXLAN")
    assert out[1].startswith("eth    0000  00 16 3e 08 71 cf 36 dc 85 1e b3 40 08 00")
    both = run("decode", "-V", "-x", "-c", "1", str(vxlan_pcap)).stdout
    assert both.startswith("Frame 1:") and "\nvxlan  0020" in both


def test_json_lines(vxlan_pcap: Path) -> None:
    result = run("decode", "--json", str(vxlan_pcap))
    assert result.exit_code == 0
    objects = [json.loads(line) for line in lines(result)]
    assert len(objects) == 10
    first = objects[0]
    assert first["frame"]["frame.time_epoch"] == "1368908504.837063000"
    assert first["frame"]["frame.protocols"] == (
        "eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:icmp:data")
    assert first["layers"][3]["fields"]["vxlan.vni"] == 100
    assert "file" not in first
    filtered = [json.loads(x) for x in lines(run("decode", "--json", "-Y", "arp",
                                                 str(vxlan_pcap)))]
    assert [o["frame"]["frame.number"] for o in filtered] == [2, 3]


def test_time_formats(vxlan_pcap: Path) -> None:
    out = lines(run("decode", "-t", "e", "-c", "1", str(vxlan_pcap)))
    assert out[0].split()[1] == "1368908504.837063"
    out = lines(run("decode", "-t", "ud", "-c", "1", str(vxlan_pcap)))
    assert out[0].split()[1:3] == ["2013-05-18", "20:21:44.837063"]
    assert run("decode", "-t", "x", str(vxlan_pcap)).exit_code == EXIT_USAGE


def test_stdin(vxlan_pcap: Path) -> None:
    result = run("decode", "-", "-c", "2", input=vxlan_pcap.read_bytes())
    assert result.exit_code == 0
    assert numbers(result) == [1, 2]
    result = run("stats", "--json", "-", input=vxlan_pcap.read_bytes())
    assert json.loads(result.stdout)["files"][0]["packets"] == 10


def test_ports(tmp_path: Path) -> None:
    linux = real_capture("tcpdump_vxlan_port_8472.pcap")
    assert "vni 100" in lines(run("decode", "-c", "1", str(linux)))[0]
    only_iana = lines(run("decode", "-c", "1", "--vxlan-port", "4789", str(linux)))[0]
    assert "vni" not in only_iana and "UDP" in only_iana
    frame = encode([build.eth(), build.ipv4(src="1.1.1.1", dst="2.2.2.2"),
                    build.udp(1, 9999, checksum=0), build.vxlan(vni=77), build.eth(),
                    build.arp(1, "02:00:00:00:00:01", "10.0.0.1", "00:00:00:00:00:00",
                              "10.0.0.2")])
    path = tmp_path / "odd.pcap"
    write_pcap(path, [frame])
    assert "vni 77" in run("decode", "--vxlan-port", "9999", str(path)).stdout
    assert "vni 77" not in run("decode", str(path)).stdout


def test_several_files(vxlan_pcap: Path) -> None:
    plain = real_capture("plain_suricata-verify_decode-arp-2_arp.pcap")
    out = lines(run("decode", str(vxlan_pcap), str(plain)))
    assert out[0] == f"==> {vxlan_pcap} <=="
    assert out[11] == f"==> {plain} <=="
    assert len(out) == 2 + 10 + 6
    assert len(lines(run("decode", "-c", "12", str(vxlan_pcap), str(plain)))) == 2 + 12
    objects = [json.loads(x) for x in lines(run("decode", "--json", str(vxlan_pcap), str(plain)))]
    assert [o["file"] for o in objects] == [str(vxlan_pcap)] * 10 + [str(plain)] * 6


def test_color(vxlan_pcap: Path) -> None:
    coloured = run("decode", "--color", "always", "-c", "1", str(vxlan_pcap)).stdout
    plain = run("decode", "--color", "never", "-c", "1", str(vxlan_pcap)).stdout
    assert "\x1b[" in coloured and "\x1b[" not in plain
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    auto = run("decode", "-c", "1", str(vxlan_pcap), env={"NO_COLOR": "1"}).stdout
    assert auto == plain
    forced = run("decode", "--color", "always", "-c", "1", str(vxlan_pcap),
                 env={"NO_COLOR": "1"}).stdout
    assert forced == coloured
    assert "\x1b[" not in run("decode", "--json", "--color", "always", "-c", "1",
                              str(vxlan_pcap)).stdout


# --------------------------------------------------------------------------------------------
# Errors and exit codes


def test_damaged_file_prints_good_packets_then_exit_3(vxlan_pcap: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "cut.pcap"
    damaged.write_bytes(vxlan_pcap.read_bytes()[:1000])  # inside the 7th record's data
    result = run("decode", str(damaged))
    assert result.exit_code == EXIT_DAMAGED
    assert numbers(result) == [1, 2, 3, 4, 5, 6]
    assert one_error_line(result) == (
        f"vxlankit: error: {damaged}: packet 7, offset 896: "
        "truncated record (88 of 148 bytes of packet data)")
    json_result = run("decode", "--json", str(damaged))
    assert json_result.exit_code == EXIT_DAMAGED
    assert len(lines(json_result)) == 6
    stats = run("stats", str(damaged))
    assert stats.exit_code == EXIT_DAMAGED
    assert "Number of packets:   6" in stats.stdout
    assert "packet 7, offset 896" in one_error_line(stats)
    # Every other file is still read; the exit code tells of the damage.
    both = run("decode", str(damaged), str(vxlan_pcap))
    assert both.exit_code == EXIT_DAMAGED
    assert len(lines(both)) == 2 + 6 + 10
    # -c counts what the damaged file printed
    counted = run("decode", "-c", "8", str(damaged), str(vxlan_pcap))
    assert len(lines(counted)) == 2 + 8 and counted.exit_code == EXIT_DAMAGED


def test_not_a_capture_and_missing_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, world\n")
    result = run("decode", str(text))
    assert result.exit_code == EXIT_DAMAGED
    assert "not a pcap or pcapng file" in one_error_line(result)
    missing = run("decode", str(tmp_path / "nope.pcap"))
    assert missing.exit_code == EXIT_ERROR
    assert "cannot open" in one_error_line(missing)
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    assert run("stats", str(empty)).exit_code == EXIT_DAMAGED


def test_broken_pipe_is_quiet(tmp_path: Path) -> None:
    frame = encode([build.eth(), build.ipv4(src="1.1.1.1", dst="2.2.2.2"),
                    build.icmp_echo(1, 1), build.payload(bytes(56))])
    path = tmp_path / "many.pcap"
    write_pcap(path, [frame] * 20000)
    for mode in ([], ["--json"]):
        proc = subprocess.Popen([sys.executable, "-m", "vxlankit", "decode", *mode, str(path)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == EXIT_PIPE
        assert err == b""


def test_python_dash_m() -> None:
    out = subprocess.run([sys.executable, "-m", "vxlankit", "--version"], capture_output=True,
                         text=True, cwd=REPO, timeout=60, env={**os.environ})
    assert out.returncode == 0 and "vxlankit" in out.stdout


# --------------------------------------------------------------------------------------------
# stats


def test_stats_text_and_json(vxlan_pcap: Path) -> None:
    result = run("stats", str(vxlan_pcap))
    assert result.exit_code == 0
    text = result.stdout
    assert f"File name:           {vxlan_pcap}" in text
    assert "File type:           pcap" in text
    assert "Link types:          Ethernet (1)" in text
    assert re.search(r"^  100 +10 +1368$", text, re.M)
    assert re.search(r"^  192\.168\.203\.1 +192\.168\.202\.1 +10 +5 +5 +1368 ", text, re.M)
    assert re.search(r"^  tcpdump_vxlan\.pcap +100 +192\.168\.203\.3 +192\.168\.203\.5"
                     r" +4 +4 +0 +0% +0 +42\.994/54\.772/88\.897/19\.704$", text, re.M)
    data = json.loads(run("stats", "--json", str(vxlan_pcap)).stdout)
    assert data["vnis"] == [{"vni": 100, "packets": 10, "bytes": 1368}]
    assert data["pings"][0]["lost"] == 0
    assert data["arp_unanswered"] == []
    assert json.loads(run("stats", "--json", "--vni", "7", str(vxlan_pcap)).stdout)["vnis"] == []


def test_progress_wrapper_passes_every_record(tmp_path: Path) -> None:
    class Rec:
        def __init__(self, offset: int) -> None:
            self.offset = offset

    path = tmp_path / "x.bin"
    path.write_bytes(bytes(5000))
    records = [Rec(i) for i in range(3000)]
    assert list(_with_progress(records, str(path))) == records


# --------------------------------------------------------------------------------------------
# Text from a capture that is not UTF-8


def _latin1_comment_capture(path: Path) -> Path:
    """A pcapng whose interface name and packet comment hold bytes that are not UTF-8 (and a
    second interface, so that the one-line view names the first)."""
    from vxlankit.capture import PcapngWriter

    frame = encode([build.eth(), build.ipv4(src="1.1.1.1", dst="2.2.2.2"), build.udp()])
    with PcapngWriter(str(path)) as ng:
        iface = ng.add_interface("caf\udce9", 1)
        ng.add_interface("eth1", 1)
        ng.write(frame, 1_000_000_000, iface, comment="na\udcefve")
    return path


@pytest.mark.parametrize(("args", "shown"), [
    (["decode"], True),
    (["decode", "-V"], True),
    (["decode", "-T", "fields", "-e", "frame.interface_name", "-e", "ip.src"], True),
    (["decode", "--json"], False),  # JSON escapes it its own way
    (["stats"], False),
])
def test_bytes_that_are_not_utf8_print_escaped_whatever_the_locale(
        tmp_path: Path, args: list[str], shown: bool) -> None:
    # Found by the fuzz campaign (tests/fuzz): a stream that is strict UTF-8
    # (PYTHONIOENCODING=utf-8, a UTF-8 locale other than C.UTF-8) died with a
    # UnicodeEncodeError on such a byte; now it prints as \xNN, in every locale.
    path = _latin1_comment_capture(tmp_path / "latin1.pcapng")
    for extra in ({"PYTHONIOENCODING": "utf-8"}, {"LC_ALL": "C.UTF-8"}):
        env = {**os.environ, **extra, "PYTHONPATH": str(REPO)}
        out = subprocess.run([sys.executable, "-m", "vxlankit", *args, str(path)],
                             capture_output=True, timeout=60, env=env, check=False)
        assert out.returncode == 0, out.stderr.decode()
        text = out.stdout.decode("utf-8")  # valid UTF-8
        assert not shown or "caf\\xe9" in text, text
