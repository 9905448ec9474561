"""The synth ping and replay commands, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import real_capture, require_module
from tests.test_cli import one_error_line, run
from vxlankit.capture.reader import open_capture
from vxlankit.cli import EXIT_DAMAGED, EXIT_USAGE


def test_synth_default_file_and_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("synth", "ping", "--vni", "4096")
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "synth-ping-vni4096-proxy.pcapng"
    with open_capture(str(out)) as reader:
        records = list(reader)
        names = {i.name for i in reader.interfaces}
    assert names == {"node1/veth-C1", "node1/eth0", "node2/eth0", "node2/veth-C2"}
    assert f"wrote {len(records)} packets from 4 taps" in result.stdout
    assert "4 echo requests, 4 replies, rtt min/avg/max/mdev = " in result.stdout
    assert result.stdout.rstrip().endswith(" ms on node1/veth-C1")


def test_synth_to_stdout_keeps_stdout_binary(tmp_path: Path) -> None:
    result = run("synth", "ping", "-c", "1", "-w", "-", "--diagram", "-")
    assert result.exit_code == 0
    assert result.stdout_bytes[:4] == b"\x0a\x0d\x0d\x0a"
    assert "ARP who-has 10.0.0.4 tell 10.0.0.3" in result.stderr
    assert "1 echo request, 1 reply" in result.stderr


def test_synth_one_tap_as_pcap_and_svg(tmp_path: Path) -> None:
    pcap, svg = tmp_path / "n2.pcap", tmp_path / "ladder.svg"
    result = run("synth", "ping", "-c", "2", "--arp", "flood", "--tap", "node2/eth0",
                 "-w", str(pcap), "--diagram", str(svg))
    assert result.exit_code == 0, result.stderr
    with open_capture(str(pcap)) as reader:
        assert reader.format == "pcap" and len(list(reader)) > 0
    assert svg.read_text().startswith("<svg")


def test_synth_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.pcapng", tmp_path / "b.pcapng"
    run("synth", "ping", "--seed", "9", "-w", str(a))
    run("synth", "ping", "--seed", "9", "-w", str(b))
    assert a.read_bytes() == b.read_bytes()


def test_synth_routed_subnets(tmp_path: Path) -> None:
    out = tmp_path / "r.pcapng"
    result = run("synth", "ping", "--subnet", "10.1.1.0/24", "--subnet", "11.1.1.0/24",
                 "-c", "1", "-w", str(out), "--diagram", "-")
    assert result.exit_code == 0, result.stderr
    assert "router@node1" in result.stdout and "VXLAN VNI 4097" in result.stdout
    with open_capture(str(out)) as reader:
        list(reader)
        assert "node1/br1" in {i.name for i in reader.interfaces}


@pytest.mark.parametrize("args, message", [
    (("--subnet", "10.1.1.0/24", "--subnet", "11.1.1.0/24", "--arp", "flood"), "gateway"),
    (("--subnet", "not-a-subnet",), "does not appear to be an IPv4 or IPv6 network"),
    (("--tap", "node9/eth0",), "no tap named"),
])
def test_synth_bad_options_are_one_line_usage_errors(tmp_path: Path, args: tuple[str, ...],
                                                     message: str) -> None:
    result = run("synth", "ping", "-w", str(tmp_path / "x.pcapng"), *args)
    assert result.exit_code == EXIT_USAGE
    assert message in one_error_line(result)


def test_replay_text_and_json() -> None:
    path = str(real_capture("tcpdump_vxlan.pcap"))
    text = run("replay", path)
    assert text.exit_code == 0
    assert "VTEP 192.168.202.1  VNI 100: 1 FDB entry" in text.stdout
    assert "00:16:3e:37:f6:04  192.168.203.1    learned" in text.stdout
    doc = json.loads(run("replay", path, "--json").stdout)
    assert [v["vtep"] for v in doc["vteps"]] == ["192.168.202.1", "192.168.203.1"]


def test_replay_port_8472_needs_the_port(tmp_path: Path) -> None:
    path = str(real_capture("tcpdump_vxlan_port_8472.pcap"))
    doc = json.loads(run("replay", path, "--json").stdout)
    assert doc["vxlan_packets"] == 10  # 8472 is a default VXLAN port
    none = json.loads(run("replay", path, "--json", "--vxlan-port", "4789").stdout)
    assert none["vxlan_packets"] == 0


def test_replay_stdin_and_policy() -> None:
    path = real_capture("suricata-verify_vxlan-non-zero-reserved-fields_input.pcap")
    linux = run("replay", "-", input=path.read_bytes())
    assert linux.exit_code == 0
    assert "would drop 10 packets: VXLAN_INVALID_HDR" in linux.stdout
    rfc = run("replay", "-", "--policy", "rfc7348", input=path.read_bytes())
    assert "would drop" not in rfc.stdout


def test_replay_damaged_file_is_one_line_exit_3(tmp_path: Path) -> None:
    data = real_capture("tcpdump_vxlan.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-30])
    result = run("replay", str(cut))
    assert result.exit_code == EXIT_DAMAGED
    line = one_error_line(result)
    assert "cut.pcap" in line and "packet 10" in line and "offset" in line
    # Every packet before the damage was replayed and reported.
    assert "9 packets, 9 with VXLAN" in result.stdout
    assert "00:16:3e:37:f6:04  192.168.203.1    learned" in result.stdout


def test_crosscheck_command_agrees_then_fails_when_a_field_is_corrupted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import require_tshark
    from vxlankit import crosscheck as module
    from vxlankit.cli import EXIT_DISAGREE

    require_tshark()
    capture = str(Path(__file__).resolve().parents[1] / "captures"
                  / "synth-ping-vni4096-proxy.pcapng")
    ok = run("crosscheck", capture, "--limit", "10")
    assert ok.exit_code == 0, ok.stdout
    assert "no disagreements" in ok.stdout and ok.stdout.rstrip().endswith("OK")
    doc = json.loads(run("crosscheck", capture, "--limit", "10", "--json").stdout)
    assert doc["ok"] is True and doc["packets_compared"] == 10

    real = module.crosscheck

    def corrupting(*args: object, **kwargs: object) -> object:
        def hook(number: int, packet: object) -> None:
            if number == 3:
                packet.layers[0].fields["eth.src"] = "02:00:00:00:00:99"  # type: ignore[attr-defined]
        return real(*args, **{**kwargs, "hook": hook})  # type: ignore[arg-type]

    monkeypatch.setattr(module, "crosscheck", corrupting)
    bad = run("crosscheck", capture, "--limit", "10")
    assert bad.exit_code == EXIT_DISAGREE
    assert "eth.src" in bad.stdout and "02:00:00:00:00:99" in bad.stdout


CAPTURE = Path(__file__).resolve().parents[1] / "captures" / "synth-ping-vni4096-proxy.pcapng"


def test_export_formats_and_jobs(tmp_path: Path) -> None:
    pq = require_module("pyarrow.parquet")
    out = tmp_path / "ping.parquet"
    result = run("export", str(CAPTURE), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    table = pq.read_table(out)
    assert table.num_rows == 36
    assert set(table.column("vxlan.vni").drop_null().to_pylist()) == {4096}
    one = run("export", str(CAPTURE), "-o", "-", "--format", "csv")
    two = run("export", str(CAPTURE), str(CAPTURE), "-o", "-", "--format", "csv", "-j", "2")
    assert one.exit_code == two.exit_code == 0
    rows = one.stdout.splitlines()
    assert rows[0].startswith('"frame.number","frame.time_epoch"') and len(rows) == 37
    assert two.stdout.splitlines()[1:37] == rows[1:]
    assert "exported 36 packets from 1 file" in one.stderr


def test_export_damaged_file_is_exit_3(tmp_path: Path) -> None:
    require_module("pyarrow")
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(CAPTURE.read_bytes()[:-20])
    result = run("export", str(cut), "-o", str(tmp_path / "x.jsonl"))
    assert result.exit_code == EXIT_DAMAGED
    assert "cut.pcapng" in one_error_line(result)


def test_synth_ipv6_underlay_then_replay_it(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("synth", "ping", "--underlay", "ipv6", "-c", "2", "--diagram", "-")
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "synth-ping-vni4096-proxy-ipv6-underlay.pcapng"
    assert "2 echo requests, 2 replies" in result.stdout
    assert "VXLAN VNI 4096: ICMP echo request seq=1" in result.stdout
    with open_capture(str(out)) as reader:
        assert reader.format == "pcapng" and len(list(reader)) == 20
    replayed = run("replay", str(out))
    assert replayed.exit_code == 0, replayed.stderr
    text = replayed.stdout
    assert "VTEP 2001:db8:1::10  VNI 4096" in text and "VTEP 2001:db8:2::10  VNI 4096" in text
    assert "02:42:0a:00:00:03  2001:db8:1::10   learned" in text  # column widened to fit
    assert "Anomalies: none" in text
    doc = json.loads(run("replay", "--json", str(out)).stdout)
    assert [v["vtep"] for v in doc["vteps"]] == ["2001:db8:1::10", "2001:db8:2::10"]
    assert doc["vxlan_packets"] == 8


def test_synth_underlay_choice_is_validated() -> None:
    result = run("synth", "ping", "--underlay", "ipv5", "-w", "-")
    assert result.exit_code == EXIT_USAGE


def test_replay_of_the_real_ipv6_underlay_capture() -> None:
    path = real_capture("tcpdump_gso-ipv6-vxlan-ipv6.pcap")
    result = run("replay", str(path))
    assert result.exit_code == 0, result.stderr
    assert "1 packet, 1 with VXLAN; 1 VTEP modelled" in result.stdout
    assert "VTEP 2604:1380:4091:ce00::d  VNI 5001: 1 FDB entry" in result.stdout
    assert "76:bd:91:4a:21:f9  2604:1380:4091:ce00::b  learned" in result.stdout


def test_synth_inner_ipv6_then_replay_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("synth", "ping", "--inner", "ipv6", "--underlay", "ipv6", "-c", "2",
                 "--diagram", "-")
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "synth-ping-vni4096-proxy-ipv6-underlay-ipv6-inner.pcapng"
    assert "2 echo requests, 2 replies" in result.stdout
    assert "NS who-has fd00:10::4 tell fd00:10::3" in result.stdout
    assert "proxy NA fd00:10::4 is-at 02:42:0a:00:00:04" in result.stdout
    assert "VXLAN VNI 4096: ICMPv6 echo request seq=1 hlim=64" in result.stdout
    with open_capture(str(out)) as reader:
        assert len(list(reader)) == 20
    replayed = run("replay", str(out))
    assert replayed.exit_code == 0, replayed.stderr
    assert "Anomalies: none" in replayed.stdout
    assert run("synth", "ping", "--inner", "ipv5", "-w", "-").exit_code == EXIT_USAGE
