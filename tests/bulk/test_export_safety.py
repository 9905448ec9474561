"""``export`` never destroys anything: not an input, not a device, not a link, not a directory,
and no temporary file outlives it, however it ends (issue #14's data-loss findings)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from tests.bulk._support import write_pcap
from tests.support import require_module
from vxlankit import build, encode
from vxlankit.cli import EXIT_USAGE, main

REPO = Path(__file__).resolve().parents[2]


def _capture(path: Path, count: int = 8) -> Path:
    frame = encode([build.eth(), build.ipv4("192.0.2.1", "192.0.2.2"), build.udp(1, 4789),
                    build.vxlan(vni=7), build.eth(), build.ipv4("10.0.0.3", "10.0.0.4"),
                    build.icmp_echo(), build.payload(b"x" * 32)])
    return write_pcap(path, [frame] * count)


def _export(*args: str) -> tuple[int, str]:
    require_module("pyarrow")
    result = CliRunner().invoke(main, ["export", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".vxlankit-export-")]


def test_output_that_is_an_input_is_refused(tmp_path: Path) -> None:
    capture = _capture(tmp_path / "a.pcap")
    before = capture.read_bytes()
    (tmp_path / "link.pcap").symlink_to("a.pcap")
    os.link(capture, tmp_path / "hard.pcap")
    for out in ("a.pcap", "link.pcap", "hard.pcap"):
        code, output = _export(str(capture), "-o", str(tmp_path / out))
        assert code == EXIT_USAGE, output
        assert "is the input" in output and "refusing" in output
        assert capture.read_bytes() == before
    code, _ = _export(str(tmp_path / "b.pcap"), str(capture), "-o", str(capture))  # 2 inputs
    assert code == EXIT_USAGE and capture.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_a_link_stays_a_link(tmp_path: Path) -> None:
    capture = _capture(tmp_path / "a.pcap")
    (tmp_path / "out.csv").symlink_to("real.csv")
    code, output = _export(str(capture), "-o", str(tmp_path / "out.csv"))
    assert code == 0, output
    assert (tmp_path / "out.csv").is_symlink()
    assert (tmp_path / "real.csv").read_text().count("\n") == 9  # header + 8 packets
    assert _leftovers(tmp_path) == []


def test_devices_are_written_through_not_replaced(tmp_path: Path) -> None:
    capture = _capture(tmp_path / "a.pcap")
    code, output = _export(str(capture), "-o", os.devnull, "--format", "csv")
    assert code == 0, output
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    if os.path.exists("/dev/full"):
        code, output = _export(str(capture), "-o", "/dev/full", "--format", "csv")
        assert code == 1 and "cannot write to /dev/full" in output, output
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_directory_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    capture = _capture(tmp_path / "a.pcap")
    folder = tmp_path / "d"
    folder.mkdir()
    code, output = _export(str(capture), "-o", str(folder))
    assert code == 1 and "is a directory" in output, output
    assert list(folder.iterdir()) == [] and _leftovers(tmp_path) == []


def test_sigterm_removes_the_temporary_file(tmp_path: Path) -> None:
    require_module("pyarrow")
    capture = _capture(tmp_path / "big.pcap", 300_000)
    out = tmp_path / "out.parquet"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "vxlankit", "export", str(capture), "-o",
                             str(out)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not _leftovers(tmp_path) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _leftovers(tmp_path), "the export finished before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert _leftovers(tmp_path) == [] and not out.exists()


def test_damaged_pcapng_keeps_what_came_before(tmp_path: Path) -> None:
    """As `decode` shows them: every packet before the damage is exported, whatever the format
    and -j, then the error (exit 3); a pcapng used to lose its last batch, i.e. all of it."""
    from vxlankit.capture import open_capture
    from vxlankit.errors import CaptureError
    from vxlankit.synth.output import write_result
    from vxlankit.synth.ping import PingOptions, synthesize_ping

    whole = tmp_path / "whole.pcapng"
    write_result(synthesize_ping(PingOptions(count=20)), str(whole))
    data = whole.read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[:len(data) * 2 // 3])
    good = 0
    try:
        with open_capture(cut) as reader:
            for _ in reader:
                good += 1
    except CaptureError:
        pass
    assert good > 50
    for jobs in ("1", "2"):
        out = tmp_path / f"cut-{jobs}.csv"
        code, output = _export(str(cut), "-o", str(out), "-j", jobs)
        assert code == 3, output
        assert out.read_text().count("\n") == good + 1, jobs  # the header, then every packet
