"""Live capture with the real dumpcap, in a network namespace made for each test: ``vxlankit
decode -i lo`` (and stats/replay/export) while something pings 127.0.0.1 there.

Needs root, iproute2 and dumpcap (tests/support.py: skips elsewhere, required under CI=true).
The traffic is this file's own pinger (a raw ICMP socket: the kernel answers the echo), so no
ping binary is needed, and it only ever targets 127.0.0.1 inside the test's namespace.  The
namespace is deleted on every way out; each test also checks that no process is left in it
(dumpcap reaped).
"""

from __future__ import annotations

import itertools
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from click.testing import CliRunner

from tests.support import require_live_capture
from vxlankit.cli import main

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 15.0  # a bound on every wait: a broken capture fails the test, never hangs it
_serial = itertools.count()

# Echo requests to 127.0.0.1 with ident 0x4242 and seq 1..N, 50 ms apart; the kernel answers
# each, so N pings put 2N packets on lo.
PINGER = r"""
import socket, struct, sys, time
def checksum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
for seq in range(1, int(sys.argv[1]) + 1):
    body = struct.pack("!BBHHH", 8, 0, 0, 0x4242, seq) + b"vxlankit" * 7
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    sock.sendto(body, ("127.0.0.1", 0))
    time.sleep(0.05)
"""
# A UDP datagram to 192.0.2.9, which the namespace routes out of its veth vxk0.
UDP_SEND = ("import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
            ".sendto(b'vxlankit', ('192.0.2.9', 4789))")


class Netns:
    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir  # vxlankit runs here: a relative output lands in tmp_path

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], capture_output=True,
                              text=True, timeout=WAIT_S, check=True)

    def vxlankit(self, *args: str) -> subprocess.Popen[str]:
        """``vxlankit ARGS`` in the namespace (``ip netns exec`` execs: the pid is Python's)."""
        env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
        return subprocess.Popen(["ip", "netns", "exec", self.name, sys.executable, "-m",
                                 "vxlankit", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env, cwd=self.workdir)

    def ping(self, count: int) -> None:
        self.run(sys.executable, "-c", PINGER, str(count))

    def pids(self) -> list[str]:
        listed = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True,
                                text=True, check=False)
        return listed.stdout.split()


@pytest.fixture
def netns(tmp_path: Path) -> Iterator[Netns]:
    require_live_capture()
    name = f"vxk-live-{os.getpid()}-{next(_serial)}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        space = Netns(name, tmp_path)
        space.run("ip", "link", "set", "lo", "up")
        yield space
    finally:
        # Only what a failed test left, and only in its own namespace.
        for pid in Netns(name, tmp_path).pids():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def read_lines(stream: IO[str] | None, count: int) -> list[str]:
    """The next ``count`` lines of a child's output, as they come (from the pipe itself, past
    Python's buffer, which ``communicate`` would not see: nothing is read beyond them)."""
    assert stream is not None
    fd = stream.fileno()
    got = b""
    while got.count(b"\n") < count:
        ready, _, _ = select.select([fd], [], [], WAIT_S)
        assert ready, f"waited in vain for more than {got!r}"
        byte = os.read(fd, 1)  # one at a time: stop exactly at the last newline
        assert byte, f"the output ended after {got!r}"
        got += byte
    return got.decode().splitlines(keepends=True)


def wait_until_capturing(proc: subprocess.Popen[str]) -> str:
    """vxlankit says "Capturing on ..." once dumpcap's header has arrived, that is once the
    capture runs: traffic sent after that is seen."""
    return read_lines(proc.stderr, 1)[0]


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"vxlankit did not end: {err}") from None
    return proc.returncode, out, err


def decode_file(path: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["decode", *args, str(path)])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_decode_i_lo_c_4_prints_the_four_packets_as_the_file_dumpcap_wrote(
        netns: Netns, tmp_path: Path) -> None:
    tee = tmp_path / "live.pcapng"
    proc = netns.vxlankit("decode", "-i", "lo", "-c", "4", "--tee", str(tee))
    assert wait_until_capturing(proc) == "Capturing on 'lo'\n"
    netns.ping(2)
    code, out, err = finish(proc)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 4
    for number, (line, kind) in enumerate(zip(lines, ["request", "reply"] * 2, strict=True), 1):
        fields = line.split()
        assert fields[0] == str(number)
        assert fields[2:7] == ["127.0.0.1", "->", "127.0.0.1", "ICMP", "98"]
        assert f"echo {kind} id=16962 seq={(number + 1) // 2}" in line
    assert err == "4 packets captured\n"
    # The same reading as a file: what dumpcap wrote, decoded from the file, prints the same.
    assert decode_file(tee) == out
    assert not netns.pids()


def test_two_interfaces_keep_their_ids_and_names_and_json_is_the_files(
        netns: Netns, tmp_path: Path) -> None:
    # A veth pair inside the namespace; a static neighbour lets the datagram out at once.
    netns.run("ip", "link", "add", "vxk0", "type", "veth", "peer", "name", "vxk1")
    netns.run("ip", "addr", "add", "192.0.2.1/24", "dev", "vxk0")
    netns.run("ip", "link", "set", "vxk0", "up")
    netns.run("ip", "link", "set", "vxk1", "up")
    netns.run("ip", "neigh", "add", "192.0.2.9", "lladdr", "02:00:00:00:00:09", "dev", "vxk0")
    tee = tmp_path / "two.pcapng"
    # The filter applies to both interfaces: vxk0 also carries the IPv6 chatter of a link
    # coming up (router and neighbour solicitations, MLD reports), at times of its own.
    proc = netns.vxlankit("decode", "-i", "lo", "-i", "vxk0", "-f", "ip", "-c", "3",
                          "--json", "--tee", str(tee))
    assert wait_until_capturing(proc) == "Capturing on 'lo' and 'vxk0'\n"
    netns.ping(1)
    netns.run(sys.executable, "-c", UDP_SEND)
    code, out, err = finish(proc)
    assert code == 0, err
    assert decode_file(tee, "--json") == out
    fields = decode_file(tee, "-T", "fields", "-e", "frame.interface_id",
                         "-e", "frame.interface_name", "-e", "ip.dst")
    assert fields.splitlines() == ["0\tlo\t127.0.0.1", "0\tlo\t127.0.0.1",
                                   "1\tvxk0\t192.0.2.9"]
    assert not netns.pids()


def test_ctrl_c_prints_what_was_seen_and_exits_cleanly(netns: Netns) -> None:
    proc = netns.vxlankit("decode", "-i", "lo")
    wait_until_capturing(proc)
    netns.ping(2)
    seen = read_lines(proc.stdout, 4)  # each packet is printed as it arrives
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc)
    assert code == 0
    assert [line.split()[0] for line in seen] == ["1", "2", "3", "4"]
    assert out == ""
    assert err == "4 packets captured\n"
    assert not netns.pids()  # dumpcap was ended and reaped


def test_capture_filter(netns: Netns) -> None:
    proc = netns.vxlankit("decode", "-i", "lo", "-c", "2",
                          "-f", "icmp[icmptype] == icmp-echoreply",
                          "-T", "fields", "-e", "icmp.type", "-e", "icmp.seq")
    wait_until_capturing(proc)
    netns.ping(2)
    code, out, err = finish(proc)
    assert code == 0, err
    assert out.splitlines() == ["0\t1", "0\t2"]  # the replies only
    assert err == "2 packets captured\n"


def test_stats_replay_export_capture_live_too(netns: Netns, tmp_path: Path) -> None:
    csv = tmp_path / "live.csv"
    for args, expect in [(("stats", "-i", "lo", "-c", "2"), "Number of packets:   2"),
                         (("replay", "-i", "lo", "-a", "packets:2"), "2 packets, 0 with VXLAN"),
                         (("export", "-i", "lo", "-c", "2", "-o", str(csv)),
                          f"exported 2 packets from 1 file to {csv} (csv)")]:
        proc = netns.vxlankit(*args)
        wait_until_capturing(proc)
        netns.ping(1)
        code, out, err = finish(proc)
        assert code == 0, err
        assert expect in out
        assert err == "2 packets captured\n"
    assert len(csv.read_text().splitlines()) == 3  # the header and two packets


def test_a_live_export_counts_what_it_captured_not_what_it_kept(netns: Netns,
                                                               tmp_path: Path) -> None:
    csv = tmp_path / "requests.csv"
    proc = netns.vxlankit("export", "-i", "lo", "-c", "4", "-Y", "icmp.type == 8", "-e",
                          "icmp.seq", "-o", str(csv))
    wait_until_capturing(proc)
    netns.ping(2)
    code, out, err = finish(proc)
    assert code == 0, err
    assert f"exported 2 of 4 packets from 1 file to {csv} (csv)" in out
    assert err == "4 packets captured\n"
    assert csv.read_text().splitlines() == ['"icmp.seq"', "1", "2"]


@pytest.mark.parametrize("command", [["decode"], ["replay"], ["export", "-o", "x.csv"]])
def test_a_missing_interface_is_one_error_line_naming_it(netns: Netns,
                                                         command: list[str]) -> None:
    proc = netns.vxlankit(*command, "-i", "vxk-nosuch", "-c", "1")
    code, out, err = finish(proc)
    assert code == 1
    assert out == ""
    assert not (netns.workdir / "x.csv").exists()
    assert err == ('vxlankit: error: cannot capture on vxk-nosuch: There is no device named '
                   '"vxk-nosuch". (No such device exists)\n')
    assert not netns.pids()


def test_a_bad_capture_filter_is_a_usage_error(netns: Netns) -> None:
    code, out, err = finish(netns.vxlankit("decode", "-i", "lo", "-f", "no such filter"))
    assert code == 2
    assert err.startswith('vxlankit: error: cannot capture on lo: Invalid capture filter '
                          '"no such filter"')
    assert err.count("\n") == 1
