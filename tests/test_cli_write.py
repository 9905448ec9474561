"""``decode -w OUT [-F pcap|pcapng]``: the selected packets written byte for byte; the input is
never overwritten; a damaged input gives its good packets and exit 3."""

from __future__ import annotations

import subprocess
from pathlib import Path

from click.testing import CliRunner

from tests.support import real_capture, require_tshark
from vxlankit.capture import open_capture
from vxlankit.cli import EXIT_DAMAGED, EXIT_USAGE, main
from vxlankit.codec import decode
from vxlankit.present.filter import compile_filter

REPO = Path(__file__).resolve().parents[1]
SYNTH = REPO / "captures" / "synth-ping-vni4096-proxy.pcapng"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _records(path: Path) -> list[tuple[bytes, int, int, int]]:
    with open_capture(path) as reader:
        return [(bytes(r.data), r.ts_ns, r.orig_len, r.interface.linktype) for r in reader]


def test_filtered_records_are_written_as_they_were(tmp_path: Path) -> None:
    src = real_capture("tcpdump_vxlan.pcap")
    out = tmp_path / "icmp.pcap"
    code, _ = run("decode", str(src), "-Y", "icmp", "-w", str(out))
    assert code == 0
    keep = compile_filter("icmp")
    expected = [r for r in _records(src) if keep(decode(r[0], r[3]))]
    assert _records(out) == expected and len(expected) == 8
    assert out.read_bytes()[:4] == src.read_bytes()[:4]  # pcap in, pcap out
    # tshark reads it as the same packets it selects itself
    tshark = require_tshark()
    ours = subprocess.run([tshark, "-r", str(out), "-T", "fields", "-e", "frame.len", "-e",
                           "icmp.seq"], capture_output=True, text=True, check=True).stdout
    theirs = subprocess.run([tshark, "-r", str(src), "-Y", "icmp", "-T", "fields", "-e",
                             "frame.len", "-e", "icmp.seq"], capture_output=True, text=True,
                            check=True).stdout
    assert ours == theirs


def test_pcapng_keeps_interfaces_and_count_applies(tmp_path: Path) -> None:
    out = tmp_path / "five.pcapng"
    code, _ = run("decode", str(SYNTH), "-c", "5", "-w", str(out))
    assert code == 0
    assert _records(out) == _records(SYNTH)[:5]
    with open_capture(out) as reader:
        names = [r.interface.name for r in reader]
    with open_capture(SYNTH) as reader:
        assert names == [r.interface.name for r in reader][:5]
    as_pcap = tmp_path / "vni.pcap"
    code, _ = run("decode", str(SYNTH), "--vni", "4096", "-w", str(as_pcap), "-F", "pcap")
    assert code == 0 and as_pcap.read_bytes()[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
    assert [r[0] for r in _records(as_pcap)] == [
        r[0] for r in _records(SYNTH) if decode(r[0], r[3]).get("vxlan.vni") == 4096]


def test_the_input_is_never_overwritten(tmp_path: Path) -> None:
    copy = tmp_path / "in.pcapng"
    copy.write_bytes(SYNTH.read_bytes())
    link = tmp_path / "link.pcapng"
    link.symlink_to(copy)
    for target in (copy, link):
        code, out = run("decode", str(copy), "-w", str(target))
        assert code == EXIT_USAGE and "refusing to overwrite" in out
        assert copy.read_bytes() == SYNTH.read_bytes()


def test_damaged_input_keeps_its_good_packets(tmp_path: Path) -> None:
    data = SYNTH.read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[:len(data) * 2 // 3])
    good = []
    try:
        with open_capture(cut) as reader:
            for r in reader:
                good.append(bytes(r.data))
    except Exception:  # noqa: BLE001 - the damage itself: what came before it is what counts
        pass
    out = tmp_path / "out.pcapng"
    code, _ = run("decode", str(cut), "-w", str(out))
    assert code == EXIT_DAMAGED
    assert [r[0] for r in _records(out)] == good and len(good) > 10


def test_usage_errors(tmp_path: Path) -> None:
    for args in (["-w", str(tmp_path / "x"), "--json"], ["-w", str(tmp_path / "x"), "-V"],
                 ["-F", "pcap"]):
        code, out = run("decode", str(SYNTH), *args)
        assert code == EXIT_USAGE, (args, out)
    code, out = run("decode", str(SYNTH), "-Y", "dns", "-w", str(tmp_path / "none.pcap"),
                    "-F", "pcap")
    assert code != 0 and "no packet passed" in out
    assert not (tmp_path / "none.pcap").exists()
