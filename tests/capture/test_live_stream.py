"""Live capture without root: the pcapng reader on a pipe that delivers blocks one at a time,
and ``LiveCapture`` driving a stand-in dumpcap (a script that writes pcapng and fails, stops
or hangs as told), so the error, stop and reaping paths are tested on every machine.  The real
dumpcap in a network namespace is tests/capture/test_live.py."""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.capture._support import epb, idb, isb, option, shb, spb
from vxlankit.capture import live as live_module
from vxlankit.capture import open_capture
from vxlankit.capture.live import (
    LiveCapture,
    LiveOptions,
    dumpcap_command,
    find_dumpcap,
    parse_autostop,
    stop_on_interrupt,
)
from vxlankit.cli import main
from vxlankit.errors import CaptureError, CaptureFilterError, LiveCaptureError

ORDER = "<"
# How long the feeder waits for the reader to hand out the record it has just written whole.
# A reader that waits for more bytes than the block holds never does: the feeder gives up,
# the pipe closes, and the test fails on the missing acknowledgement instead of hanging.
ACK_WAIT_S = 5.0


def frame(n: int) -> bytes:
    """An Ethernet frame, distinct per ``n``."""
    return bytes.fromhex("020000000001020000000002") + b"\x08\x00" + bytes([n]) * 46


def blocks() -> list[tuple[bytes, bool]]:
    """(block, is it a packet) in the order a capture holds them: header blocks, then EPBs
    with a short SPB (16 bytes, less than an EPB's 28-byte head) among them, then an ISB."""
    return [
        (shb(ORDER), False),
        (idb(ORDER, 1, 0, option(ORDER, 2, b"lo") + option(ORDER, 0, b"")), False),
        (epb(ORDER, 0, 1_000_000, frame(1)), True),
        (spb(ORDER, b"\x01\x02\x03\x04"), True),
        (epb(ORDER, 0, 2_000_000, frame(2)), True),
        (epb(ORDER, 0, 3_000_000, frame(3)), True),
        (isb(ORDER, 0, 4_000_000), False),
    ]


class SlowFeeder:
    """Writes one block at a time into a pipe; after a packet block it waits until the reader
    says it has the record before writing anything more."""

    def __init__(self, write_fd: int) -> None:
        self.fd = write_fd
        self.acks = threading.Semaphore(0)
        self.waited_in_vain = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            for data, is_packet in blocks():
                os.write(self.fd, data)
                if is_packet and not self.acks.acquire(timeout=ACK_WAIT_S):
                    self.waited_in_vain += 1
                    return
        finally:
            os.close(self.fd)


@pytest.mark.parametrize("buffered", [False, True], ids=["raw-pipe", "buffered-pipe"])
def test_records_come_out_as_their_blocks_arrive_on_a_pipe(buffered: bool) -> None:
    read_fd, write_fd = os.pipe()
    feeder = SlowFeeder(write_fd)
    feeder.thread.start()
    stream = os.fdopen(read_fd, "rb", buffering=io.DEFAULT_BUFFER_SIZE if buffered else 0)
    got = []
    with stream, open_capture(stream) as reader:
        for record in reader:
            got.append((record.number, record.data))
            feeder.acks.release()  # only now may the next block be written
    feeder.thread.join(ACK_WAIT_S)
    assert feeder.waited_in_vain == 0
    assert [n for n, _ in got] == [1, 2, 3, 4]
    assert got[0][1] == frame(1) and got[1][1] == b"\x01\x02\x03\x04"
    assert got[3][1] == frame(3)
    assert reader.interfaces[0].name == "lo"
    assert len(reader.statistics) == 1  # the ISB after the last packet was read too


# -- options --------------------------------------------------------------------------------


def test_autostop_conditions_as_tshark_writes_them() -> None:
    assert parse_autostop([]) == (None, None)
    assert parse_autostop(["duration:2.5"]) == (None, 2.5)
    assert parse_autostop(["packets:10", "duration:3", "packets:4"]) == (4, 3.0)
    for bad, says in [("duration", "expected duration:SECONDS"), ("duration:x", "bad duration"),
                      ("duration:0", "out of range"), ("packets:0", "at least 1"),
                      ("packets:2.5", "bad packet count"), ("filesize:10", "pipe"),
                      ("frames:3", "unknown autostop")]:
        with pytest.raises(ValueError, match=says):
            parse_autostop([bad])


def test_the_dumpcap_command_puts_the_filter_before_every_interface() -> None:
    options = LiveOptions(("lo", "eth0"), capture_filter="udp port 4789", count=5,
                          duration_s=1.5)
    assert dumpcap_command(options, "/usr/bin/dumpcap") == [
        "/usr/bin/dumpcap", "-q", "-n", "-w", "-", "-f", "udp port 4789",
        "-i", "lo", "-i", "eth0", "-c", "5", "-a", "duration:1.5"]
    assert dumpcap_command(LiveOptions(("lo",))) == ["dumpcap", "-q", "-n", "-w", "-", "-i", "lo"]
    assert options.label == "lo and eth0"
    assert LiveOptions(("a", "b", "c")).label == "a, b and c"


def test_bad_live_options_are_refused() -> None:
    for kwargs, says in [({"interfaces": ()}, "at least one interface"),
                         ({"interfaces": ("",)}, "bad interface name"),
                         ({"interfaces": ("lo",), "count": 0}, "at least 1"),
                         ({"interfaces": ("lo",), "duration_s": float("nan")}, "duration"),
                         ({"interfaces": ("lo",), "capture_filter": "a\0b"}, "NUL")]:
        with pytest.raises(ValueError, match=says):
            LiveOptions(**kwargs)  # type: ignore[arg-type]


def test_without_dumpcap_the_error_names_the_debian_package(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LiveCaptureError, match=r"dumpcap not found.*package tshark"):
        find_dumpcap()
    with pytest.raises(LiveCaptureError, match=r"package tshark"):
        LiveCapture(LiveOptions(("lo",))).start()
    with pytest.raises(LiveCaptureError, match=r"not found.*package tshark"):
        LiveCapture(LiveOptions(("lo",)), dumpcap=str(tmp_path / "dumpcap")).start()


# -- a stand-in dumpcap -------------------------------------------------------------------------

_FAKE = '''
import json, os, signal, sys, time
plan = json.load(open({plan!r}))
with open({argv!r}, "w") as fh:
    json.dump(sys.argv[1:], fh)
out = sys.stdout.buffer
def on_sigint(signum, frame):
    out.write(bytes.fromhex(plan["on_sigint"]))
    out.flush()
    sys.exit(0)
signal.signal(signal.SIGINT, on_sigint)
out.write(bytes.fromhex(plan["first"]))
out.flush()
sys.stderr.write("Capturing on 'lo'\\n")
sys.stderr.write(plan["stderr"])
sys.stderr.flush()
if plan["then"] == "wait":
    time.sleep(60)
sys.exit(plan["exit"])
'''


def fake_dumpcap(tmp_path: Path, *, first: bytes, then: str = "exit", exit: int = 0,
                 stderr: str = "", on_sigint: bytes = b"") -> tuple[str, Path]:
    """A script that writes ``first`` to stdout and ``stderr`` to stderr, then exits with
    ``exit`` (or waits, ``then="wait"``, until a signal: SIGINT writes ``on_sigint`` and
    exits 0).  (its path, the file its arguments are saved in)."""
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"first": first.hex(), "then": then, "exit": exit,
                                "stderr": stderr, "on_sigint": on_sigint.hex()}))
    argv = tmp_path / "argv.json"
    script = tmp_path / "dumpcap"
    script.write_text(f"#!{sys.executable}\n" + _FAKE.format(plan=str(plan), argv=str(argv)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script), argv


def header() -> bytes:
    return shb(ORDER) + idb(ORDER, 1, 0, option(ORDER, 2, b"lo") + option(ORDER, 0, b""))


def packets(*numbers: int) -> bytes:
    return b"".join(epb(ORDER, 0, n * 1000, frame(n)) for n in numbers)


def read_all(capture: LiveCapture) -> Iterator[int]:
    with open_capture(capture) as reader:
        for record in reader:
            yield record.number


def test_the_stand_in_gets_the_command_and_its_bytes_reach_the_reader_and_the_tee(
        tmp_path: Path) -> None:
    data = header() + packets(1, 2, 3)
    path, argv = fake_dumpcap(tmp_path, first=data)
    tee = io.BytesIO()
    options = LiveOptions(("lo",), capture_filter="icmp", count=3)
    with LiveCapture(options, tee=tee, dumpcap=path) as capture:
        assert list(read_all(capture)) == [1, 2, 3]
    assert json.loads(argv.read_text()) == dumpcap_command(options, path)[1:]
    assert tee.getvalue() == data
    assert capture.returncode == 0 and capture.bytes_read == len(data)


def test_a_dumpcap_that_fails_midway_ends_the_records_with_its_message(tmp_path: Path) -> None:
    path, _ = fake_dumpcap(
        tmp_path, first=header() + packets(1, 2), exit=2,
        stderr="dumpcap: The network adapter on which the capture was being done is no "
               "longer running; the capture has stopped.\n")
    seen = []
    with LiveCapture(LiveOptions(("eth9",)), dumpcap=path) as capture:
        with pytest.raises(LiveCaptureError) as raised:
            for number in read_all(capture):
                seen.append(number)
    assert seen == [1, 2]
    assert str(raised.value) == ("cannot capture on eth9: The network adapter on which the "
                                 "capture was being done is no longer running; the capture has "
                                 "stopped.")
    assert isinstance(raised.value, CaptureError)  # ends one input, as a damaged file does


def test_a_dumpcap_that_cannot_start_fails_the_start(tmp_path: Path) -> None:
    path, _ = fake_dumpcap(tmp_path, first=b"", exit=1, stderr=(
        'dumpcap: Invalid capture filter "bogus" for interface \'lo\'.\n\n'
        "That string isn't a valid capture filter (can't parse filter expression: syntax "
        "error).\nSee the User's Guide for a description of the capture filter syntax.\n"))
    capture = LiveCapture(LiveOptions(("lo",), capture_filter="bogus"), dumpcap=path)
    with pytest.raises(CaptureFilterError, match=r"^cannot capture on lo: Invalid capture "
                                                 r"filter \"bogus\".*syntax error\)\.$"):
        capture.start()
    assert capture.returncode == 1


def test_stop_lets_dumpcap_write_what_it_has_and_reading_ends_after_it(tmp_path: Path) -> None:
    path, _ = fake_dumpcap(tmp_path, first=header() + packets(1), then="wait",
                           on_sigint=packets(2))
    seen = []
    with LiveCapture(LiveOptions(("lo",)), dumpcap=path) as capture:
        for number in read_all(capture):
            seen.append(number)
            if number == 1:
                capture.stop()
    assert seen == [1, 2]
    assert capture.returncode == 0


def test_close_reaps_a_dumpcap_still_capturing(tmp_path: Path) -> None:
    path, _ = fake_dumpcap(tmp_path, first=header(), then="wait")
    with LiveCapture(LiveOptions(("lo",)), dumpcap=path) as capture, \
            open_capture(capture) as reader:
        assert reader.format == "pcapng"
    assert capture.returncode == -signal.SIGTERM


def test_a_dumpcap_that_never_starts_is_given_up_on_and_reaped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = fake_dumpcap(tmp_path, first=b"", then="wait")
    monkeypatch.setattr(live_module, "START_TIMEOUT_S", 0.3)
    capture = LiveCapture(LiveOptions(("lo",)), dumpcap=path)
    with pytest.raises(LiveCaptureError, match="did not start capturing on lo"):
        capture.start()
    assert capture.returncode is not None


def test_ctrl_c_inside_stop_on_interrupt_stops_the_capture_and_a_second_one_raises(
        tmp_path: Path) -> None:
    path, _ = fake_dumpcap(tmp_path, first=header() + packets(1), then="wait",
                           on_sigint=packets(2))
    seen = []
    with LiveCapture(LiveOptions(("lo",)), dumpcap=path) as capture, \
            stop_on_interrupt(capture):
        for number in read_all(capture):
            seen.append(number)
            if number == 1:
                os.kill(os.getpid(), signal.SIGINT)  # the handler runs before the next line
                assert capture.stopping
                with pytest.raises(KeyboardInterrupt):
                    os.kill(os.getpid(), signal.SIGINT)
    assert seen == [1, 2]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- the command line, over the stand-in ---------------------------------------------------------


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize(("args", "says"), [
    (["decode", "-i", "lo", "x.pcap"], "capture files and -i cannot be combined"),
    (["decode"], "Missing argument 'FILES...' (or -i IFACE to capture live)"),
    (["replay"], "Missing argument 'FILE' (or -i IFACE to capture live)"),
    (["decode", "-f", "icmp", "x.pcap"], "-f needs -i"),
    (["stats", "-a", "duration:1", "x.pcap"], "-a needs -i"),
    (["replay", "--tee", "t.pcapng", "x.pcap"], "--tee needs -i"),
    (["decode", "-i", "lo", "--tee", "-"], "--tee needs a file name"),
    (["decode", "-i", "lo", "-a", "frames:3"], "unknown autostop condition 'frames'"),
    (["decode", "-i", "lo", "-c", "0"], "packet count must be at least 1"),
    (["export", "-i", "lo", "-j", "2", "-o", "x.csv"], "-j and --scheduler need files"),
])
def test_usage_errors(args: list[str], says: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert says in result.output


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in is the dumpcap on PATH (and the only one)."""
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    return tmp_path


def test_decode_i_prints_what_decoding_the_same_bytes_from_a_file_prints(on_path: Path) -> None:
    data = header() + packets(1, 2, 3)
    fake_dumpcap(on_path, first=data)
    live = invoke("decode", "-i", "lo", "-V")
    assert live.exit_code == 0, live.output
    assert live.stderr == "Capturing on 'lo'\n3 packets captured\n"
    (on_path / "same.pcapng").write_bytes(data)
    from_file = invoke("decode", "-V", str(on_path / "same.pcapng"))
    assert from_file.exit_code == 0
    assert live.stdout == from_file.stdout
    assert live.stdout.count("Frame ") == 3


def test_decode_i_with_a_failing_dumpcap_prints_the_good_packets_then_one_error_line(
        on_path: Path) -> None:
    fake_dumpcap(on_path, first=header() + packets(1, 2), exit=1,
                 stderr="dumpcap: The capture session could not be initiated.\n")
    result = invoke("decode", "-i", "eth9")
    assert result.exit_code == 1
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["1", "2"]
    assert result.stderr == ("Capturing on 'eth9'\nvxlankit: error: cannot capture on eth9: The "
                             "capture session could not be initiated.\n2 packets captured\n")


def test_decode_i_w_writes_the_captured_packets(on_path: Path) -> None:
    fake_dumpcap(on_path, first=header() + packets(1, 2, 3))
    out = on_path / "out.pcapng"
    result = invoke("decode", "-i", "lo", "-w", str(out))
    assert result.exit_code == 0, result.output
    with open_capture(str(out)) as reader:
        assert [record.data for record in reader] == [frame(1), frame(2), frame(3)]
