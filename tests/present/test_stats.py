"""``vxlankit stats``: capinfos header, per-VNI and per-VTEP-pair counts, inner conversations,
ping round trips and loss, unanswered ARP requests."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import real_capture
from vxlankit import build, encode
from vxlankit.capture import open_capture
from vxlankit.capture.record import Interface, Record
from vxlankit.capture.writer import PcapngWriter, PcapWriter
from vxlankit.packet import Layer
from vxlankit.present.run import decode_records
from vxlankit.present.stats import OverlayStats

A, B = "10.0.0.3", "10.0.0.4"
MAC_A, MAC_B = "02:42:0a:00:00:03", "02:42:0a:00:00:04"
SEC = 1_000_000_000


def _vx(inner: list[Layer], vni: int = 100, src: str = "172.16.0.1",
        dst: str = "172.16.0.2") -> bytes:
    return encode([build.eth(), build.ipv4(src=src, dst=dst), build.udp(1000, 4789, checksum=0),
                   build.vxlan(vni=vni), *inner])


def _echo(src: str, dst: str, seq: int, reply: bool = False, ident: int = 9) -> list[Layer]:
    return [build.eth(src=MAC_A, dst=MAC_B), build.ipv4(src=src, dst=dst),
            build.icmp_echo(ident=ident, seq=seq, reply=reply)]


def _arp(op: int, sender: str, target: str) -> list[Layer]:
    return [build.eth(src=MAC_A), build.arp(op, MAC_A, sender, "00:00:00:00:00:00", target)]


def _run(frames: list[tuple[int, bytes]]) -> OverlayStats:
    iface = Interface(1)
    records = [Record(data, ts, iface, number=i) for i, (ts, data) in enumerate(frames, 1)]
    stats = OverlayStats()
    stats.start_file("test.pcap", "pcap")
    for item in decode_records(records):
        stats.add(item.record, item.packet)
    return stats


def test_pings_loss_and_rtt() -> None:
    stats = _run([
        (0, _vx(_echo(A, B, 1))),
        (2_000_000, _vx(_echo(B, A, 1, reply=True), src="172.16.0.2", dst="172.16.0.1")),
        (SEC, _vx(_echo(A, B, 2))),  # lost
        (2 * SEC, _vx(_echo(A, B, 3))),
        (2 * SEC, _vx(_echo(A, B, 3))),  # the same request captured twice
        (2 * SEC + 4_000_000, _vx(_echo(B, A, 3, reply=True))),
        (3 * SEC, _vx(_echo(B, A, 99, reply=True))),  # a reply nobody asked for
    ])
    [row] = stats.ping_rows()
    assert row == {
        "tap": "test.pcap",
        "vni": 100, "vnis": [100], "src": A, "dst": B, "requests": 3, "replies": 2, "lost": 1,
        "loss": round(1 / 3, 6), "duplicates": 1, "unmatched_replies": 1,
        "rtt_min_ms": 2.0, "rtt_avg_ms": 3.0, "rtt_max_ms": 4.0, "rtt_mdev_ms": 1.0,
        "rtt": "2.000/3.000/4.000/1.000",
    }
    text = stats.render()
    assert "Pings (ICMP echo; request and reply on the same tap):" in text
    assert any(line.split() == ["test.pcap", "100", A, B, "3", "2", "1", "33%", "1",
                                "2.000/3.000/4.000/1.000"]
               for line in text.splitlines())


def test_pings_match_within_a_vni_first_then_across_vnis() -> None:
    # Routed between two subnets of one overlay: the request rides VNI 1, the reply VNI 2.
    stats = _run([(0, _vx(_echo(A, B, 1), vni=1)), (10, _vx(_echo(B, A, 1, True), vni=2))])
    [row] = stats.ping_rows()
    assert (row["vni"], row["vnis"], row["replies"], row["lost"]) == (1, [1, 2], 1, 0)
    # Two tenants with the same addresses on their own VNIs stay apart.
    stats = _run([(0, _vx(_echo(A, B, 1), vni=1)), (1, _vx(_echo(A, B, 1), vni=2)),
                  (5, _vx(_echo(B, A, 1, True), vni=2)), (6, _vx(_echo(B, A, 1, True), vni=1))])
    rows = {row["vni"]: row for row in stats.ping_rows()}
    assert rows[1]["vnis"] == [1] and rows[2]["vnis"] == [2]
    assert rows[1]["replies"] == rows[2]["replies"] == 1
    assert (rows[1]["rtt_min_ms"], rows[2]["rtt_min_ms"]) == (0.000006, 0.000004)


def test_unanswered_arp() -> None:
    stats = _run([
        (0, _vx(_arp(1, A, B))),
        (1, _vx(_arp(1, A, B))),
        (2, _vx(_arp(1, A, "10.0.0.9"))),
        (3, _vx(_arp(2, "10.0.0.9", A))),  # .9 answered
        (4, _vx(_arp(1, A, A))),  # gratuitous: not a question
        (5, _vx(_arp(1, B, A), vni=200)),
    ])
    rows = stats.arp_rows()
    assert [(r["vni"], r["who_has"], r["tell"], r["requests"]) for r in rows] == [
        (100, B, A, 2), (200, A, B, 1)]
    assert "Unanswered ARP requests:" in stats.render()


def test_vnis_vteps_and_conversations() -> None:
    nested = [build.eth(), build.ipv4(src="192.168.0.1", dst="192.168.0.2"),
              build.udp(5, 4789, checksum=0), build.vxlan(vni=7), *_echo(A, B, 1)]
    plain = encode(_echo(A, B, 5))
    stats = _run([(0, _vx(_echo(A, B, 1))), (1, _vx(_echo(B, A, 1, True), src="172.16.0.2",
                                                     dst="172.16.0.1")),
                  (2, _vx(nested, vni=100)), (3, plain)])
    result = stats.to_dict()
    sizes = [len(_vx(_echo(A, B, 1)))] * 2 + [len(_vx(nested))]
    assert result["vnis"] == [{"vni": 7, "packets": 1, "bytes": sizes[2]},
                              {"vni": 100, "packets": 3, "bytes": sum(sizes)}]
    pairs = {(p["a"], p["b"]): p for p in result["vtep_pairs"]}
    outer = pairs[("172.16.0.1", "172.16.0.2")]
    assert (outer["packets"], outer["packets_ab"], outer["packets_ba"]) == (3, 2, 1)
    assert outer["vnis"] == [100]
    assert pairs[("192.168.0.1", "192.168.0.2")]["vnis"] == [7]
    convs = {(c["vni"], c["a"], c["b"]): c for c in result["conversations"]}
    assert convs[(100, A, B)]["packets"] == 2
    assert convs[(7, A, B)]["protocols"] == ["ICMP"]
    assert convs[(None, A, B)]["packets"] == 1
    assert result["vxlan_packets"] == 3 and result["packets"] == 4
    json.dumps(result)  # JSON-able as it is


def test_real_capture_header_and_tables() -> None:
    path = real_capture("tcpdump_vxlan.pcap")
    stats = OverlayStats()
    with open_capture(path) as reader:
        stats.start_file(reader.path, reader.format)
        for item in decode_records(reader):
            stats.add(item.record, item.packet)
    info = stats.to_dict()["files"][0]
    assert info["format"] == "pcap" and info["packets"] == 10
    assert info["link_types"] == [{"linktype": 1, "name": "Ethernet"}]
    assert info["first_time"] == "1368908504.837063000"
    assert info["last_time"] == "1368908507.885359000"
    assert info["duration"] == "3.048296000"
    assert info["bytes"] == info["captured_bytes"] == 1368
    [ping] = stats.ping_rows()
    assert (ping["requests"], ping["replies"], ping["lost"]) == (4, 4, 0)
    assert (ping["rtt_min_ms"], ping["rtt_avg_ms"], ping["rtt_max_ms"]) == (42.994, 54.772, 88.897)
    assert stats.arp_rows() == []
    text = stats.render()
    assert "Number of packets:   10" in text
    assert "First packet time:   2013-05-18 20:21:44.837063 UTC" in text
    assert "Capture duration:    3.048296 seconds" in text


# ---------------------------------------------------------------------------- per tap

MS = 1_000_000


def _two_taps(path: Path) -> None:
    """One echo seen on taps "a" (near the pinger) and "b" (near the responder), a second whose
    request only "a" saw and whose reply only "b" saw, and an ARP question answered on "a"."""
    with PcapngWriter(str(path)) as ng:
        a = ng.add_interface("a", 1, tsresol=10**9)
        b = ng.add_interface("b", 1, tsresol=10**9)
        for ts, tap, data in sorted([
                (0, a, encode(_echo(A, B, 1))), (4 * MS, b, encode(_echo(A, B, 1))),
                (6 * MS, b, encode(_echo(B, A, 1, reply=True))),
                (10 * MS, a, encode(_echo(B, A, 1, reply=True))),
                (SEC, a, encode(_echo(A, B, 2))),
                (SEC + 2 * MS, b, encode(_echo(B, A, 2, reply=True))),
                (2 * SEC, a, encode(_arp(1, A, B))), (2 * SEC + 3 * MS, a, encode(_arp(2, B, A))),
        ]):
            ng.write(data, ts, tap)


def _file_stats(*paths: Path) -> OverlayStats:
    stats = OverlayStats()
    for path in paths:
        with open_capture(str(path)) as reader:
            stats.start_file(reader.path, reader.format)
            for item in decode_records(reader):
                stats.add(item.record, item.packet)
    return stats


def test_two_taps_pair_within_each_tap(tmp_path: Path) -> None:
    # Paired across the taps, echo 1 would take 6 ms (request first seen on a, reply first
    # seen on b) and echo 2 would be answered in 2 ms: a round trip no host measured.  On
    # tap a the pinger waited 10 ms for echo 1 and never saw echo 2's reply; on tap b echo 1
    # took 2 ms and echo 2's reply answered nothing b saw.
    _two_taps(tmp_path / "two.pcapng")
    stats = _file_stats(tmp_path / "two.pcapng")
    rows = {row["tap"]: row for row in stats.ping_rows()}
    assert set(rows) == {"a", "b"}
    a, b = rows["a"], rows["b"]
    assert (a["requests"], a["replies"], a["lost"], a["unmatched_replies"]) == (2, 1, 1, 0)
    assert (a["rtt_min_ms"], a["rtt_max_ms"]) == (10.0, 10.0)
    assert (b["requests"], b["replies"], b["lost"], b["unmatched_replies"]) == (1, 1, 0, 1)
    assert (b["rtt_min_ms"], b["rtt_max_ms"]) == (2.0, 2.0)
    hops = {(h["from"], h["to"], h["packet"]): h for h in stats.hop_rows()}
    assert set(hops) == {("a", "b", "ICMP echo request"), ("b", "a", "ICMP echo reply")}
    assert hops[("a", "b", "ICMP echo request")]["avg_ms"] == 4.0
    assert hops[("b", "a", "ICMP echo reply")]["avg_ms"] == 4.0
    # 4 ms out, 2 ms on b, 4 ms back: tap a's 10 ms.
    [arp] = stats.arp_exchange_rows()
    assert (arp["tap"], arp["requests"], arp["replies"], arp["reply_min_ms"]) == ("a", 1, 1, 3.0)
    assert stats.arp_rows() == []
    text = stats.render()
    assert any(line.split() == ["a", "-", A, B, "2", "1", "1", "50%", "0",
                                "10.000/10.000/10.000/0.000"] for line in text.splitlines())
    assert any(line.split() == ["b", "-", A, B, "1", "1", "0", "0%", "1",
                                "2.000/2.000/2.000/0.000"] for line in text.splitlines())


def test_taps_across_files_are_file_and_interface(tmp_path: Path) -> None:
    # The same traffic as two classic pcap files, one per tap: a tap is then a file.
    _two_taps(tmp_path / "two.pcapng")
    with open_capture(str(tmp_path / "two.pcapng")) as reader:
        records = list(reader)
    for name in ("a", "b"):
        with PcapWriter(str(tmp_path / f"{name}.pcap"), 1, nanosecond=True) as writer:
            for rec in records:
                if rec.interface.name == name:
                    writer.write(rec.data, rec.ts_ns)
    stats = _file_stats(tmp_path / "a.pcap", tmp_path / "b.pcap")
    rows = {row["tap"]: row for row in stats.ping_rows()}
    assert (rows["a.pcap"]["rtt_min_ms"], rows["b.pcap"]["rtt_min_ms"]) == (10.0, 2.0)
    assert [h["from"] for h in stats.hop_rows()] == ["a.pcap", "b.pcap"]
    # Two pcapng files with the same interface names: the file tells the taps apart.
    (tmp_path / "other").mkdir()
    _two_taps(tmp_path / "other" / "two.pcapng")
    stats = _file_stats(tmp_path / "two.pcapng", tmp_path / "other" / "two.pcapng")
    names = {row["tap"] for row in stats.ping_rows()}
    assert names == {f"{tmp_path / 'two.pcapng'}:a", f"{tmp_path / 'two.pcapng'}:b",
                     f"{tmp_path / 'other' / 'two.pcapng'}:a",
                     f"{tmp_path / 'other' / 'two.pcapng'}:b"}


def test_a_retransmitted_arp_starts_a_new_path() -> None:
    stats = _run([(0, encode(_arp(1, A, B))), (SEC, encode(_arp(1, A, B))),
                  (SEC + 5, encode(_arp(2, B, A)))])
    kinds = [p.kind for p in stats.paths.paths()]
    assert kinds == ["ARP request", "ARP request", "ARP reply"]
    [arp] = stats.arp_exchange_rows()
    # Timed from the first request of the retried run, as a host waiting for it saw.
    assert (arp["requests"], arp["replies"], arp["reply_min_ms"]) == (2, 1, 1000.000005)
