"""replay: captures through the VTEP models."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import real_capture
from vxlankit import build, encode
from vxlankit.capture.reader import open_capture
from vxlankit.capture.writer import PcapWriter
from vxlankit.codec import decode
from vxlankit.replay import iso_time, replay

T0 = 1_700_000_000 * 10**9


def _overlay(src_vtep: str, dst_vtep: str, inner_src: str, inner_dst: str, vni: int = 42,
             arp: tuple[int, str, str] | None = None, flags: int = 0x0800) -> bytes:
    inner = [build.eth(dst=inner_dst, src=inner_src)]
    if arp is not None:
        opcode, sender_ip, target_ip = arp
        inner.append(build.arp(opcode, inner_src, sender_ip,
                               inner_dst if opcode == 2 else "00:00:00:00:00:00", target_ip))
    else:
        inner += [build.ipv4(src="10.9.0.1", dst="10.9.0.2"), build.icmp_echo(1, 1),
                  build.payload(b"x" * 8)]
    return encode([build.eth(dst="02:00:00:00:00:02", src="02:00:00:00:00:01"),
                   build.ipv4(src=src_vtep, dst=dst_vtep), build.udp(50000, 4789, checksum=0),
                   build.vxlan(vni, flags=flags), *inner])


def _write(path: Path, frames: list[bytes]) -> str:
    with PcapWriter(str(path), 1, nanosecond=True) as writer:
        for i, frame in enumerate(frames):
            writer.write(frame, T0 + i * 10**9)
    return str(path)


def test_real_capture_learns_inner_source_behind_outer_source() -> None:
    path = real_capture("tcpdump_vxlan.pcap")
    # Expected, worked out from the packets themselves: for each receiving VTEP (outer dst),
    # every inner source MAC maps to the outer source IP it came from.
    expected: dict[str, set[tuple[str, str]]] = {}
    with open_capture(str(path)) as reader:
        for record in reader:
            p = decode(record.data)
            expected.setdefault(p.get("ip.dst"), set()).add((p.get("eth.src", 2),
                                                             p.get("ip.src")))
    report = replay(str(path)).to_json()
    got = {v["vtep"]: {(row["mac"], row["remote"]) for row in v["fdb"]} for v in report["vteps"]}
    assert got == expected
    assert got == {"192.168.202.1": {("00:16:3e:37:f6:04", "192.168.203.1")},
                   "192.168.203.1": {("00:30:88:01:00:02", "192.168.202.1")}}
    first = report["vteps"][0]["fdb"][0]
    assert first["first_seen"] == "2013-05-18T20:21:44.837063000Z"
    assert first["static"] is False
    assert [e["event"] for e in report["events"]] == ["learned", "learned"]


def test_named_vtep_only(tmp_path: Path) -> None:
    path = real_capture("tcpdump_vxlan.pcap")
    report = replay(str(path), ["192.168.203.1"]).to_json()
    assert [v["vtep"] for v in report["vteps"]] == ["192.168.203.1"]


def test_flapping_mac_and_migration(tmp_path: Path) -> None:
    mac = "02:42:0a:09:00:01"
    frames = [
        _overlay("192.0.2.1", "192.0.2.9", mac, "02:42:0a:09:00:02"),
        _overlay("192.0.2.2", "192.0.2.9", mac, "02:42:0a:09:00:02"),
        # Another VTEP, modelled too, sees the MAC behind one VTEP only: no flap there.
        _overlay("192.0.2.1", "192.0.2.8", mac, "02:42:0a:09:00:02"),
    ]
    report = replay(_write(tmp_path / "flap.pcap", frames)).to_json()
    flaps = [a for a in report["anomalies"] if a["kind"] == "mac_flapping"]
    assert len(flaps) == 1
    flap = flaps[0]
    assert flap["vtep"] == "192.0.2.9"
    assert flap["remotes"] == ["192.0.2.1", "192.0.2.2"] and flap["mac"] == mac
    moved = [e for e in report["events"] if e["event"] == "moved"]
    assert moved and moved[0]["old"] == "192.0.2.1" and moved[0]["new"] == "192.0.2.2"
    assert moved[0]["time"] == iso_time(T0 + 10**9, ns=True)
    fdb = next(v for v in report["vteps"] if v["vtep"] == "192.0.2.9")["fdb"]
    assert [(r["mac"], r["remote"]) for r in fdb] == [(mac, "192.0.2.2")]


def test_linux_policy_drops_reserved_bits_rfc_policy_does_not() -> None:
    path = str(real_capture("suricata-verify_vxlan-non-zero-reserved-fields_input.pcap"))
    linux = replay(path).to_json()
    drops = [a for a in linux["anomalies"] if a["kind"] == "linux_would_drop"]
    assert drops and drops[0]["reason"] == "VXLAN_INVALID_HDR" and drops[0]["packets"] == 10
    rfc = replay(path, rx_policy="rfc7348").to_json()
    assert not [a for a in rfc["anomalies"] if a["kind"] == "linux_would_drop"]
    assert rfc["vteps"][0]["fdb"]


def test_unanswered_arp_and_flood_volume(tmp_path: Path) -> None:
    frames = [
        _overlay("192.0.2.1", "192.0.2.9", "02:42:0a:09:00:01", "ff:ff:ff:ff:ff:ff",
                 arp=(1, "10.9.0.1", "10.9.0.2")),
        _overlay("192.0.2.1", "192.0.2.9", "02:42:0a:09:00:01", "ff:ff:ff:ff:ff:ff",
                 arp=(1, "10.9.0.1", "10.9.0.2")),
        _overlay("192.0.2.1", "192.0.2.9", "02:42:0a:09:00:01", "ff:ff:ff:ff:ff:ff",
                 arp=(1, "10.9.0.1", "10.9.0.3")),
        _overlay("192.0.2.9", "192.0.2.1", "02:42:0a:09:00:03", "02:42:0a:09:00:01",
                 arp=(2, "10.9.0.3", "10.9.0.1")),
    ]
    report = replay(_write(tmp_path / "arp.pcap", frames)).to_json()
    waits = [a for a in report["anomalies"] if a["kind"] == "unanswered_arp"]
    assert waits == [{"kind": "unanswered_arp", "vni": 42, "who_has": "10.9.0.2",
                      "tell": "10.9.0.1", "requests": 2, "first": iso_time(T0, ns=True)}]
    flood = [a for a in report["anomalies"] if a["kind"] == "flood_volume"]
    assert flood == [{"kind": "flood_volume", "vni": 42, "packets": 3, "of_packets": 4}]


def test_json_document_is_serialisable_and_documented_shape(tmp_path: Path) -> None:
    report = replay(str(real_capture("tcpdump_vxlan.pcap"))).to_json()
    text = json.dumps(report)
    again = json.loads(text)
    assert set(again) >= {"vteps", "events", "anomalies"}
    assert set(again["vteps"][0]) >= {"vtep", "fdb", "neighbors"}
    assert set(again["vteps"][0]["fdb"][0]) == {"vni", "mac", "remote", "static", "first_seen",
                                                "last_seen"}


def test_ageing_is_reported_to_the_nanosecond_and_at_the_end_of_the_capture(
        tmp_path: Path) -> None:
    """The models run on the capture's integer nanoseconds: an Aged entry's last_seen and
    expired_at are the packet's exact time and that plus the ageing time, and entries due by
    the last packet (VXLAN or not) age then."""
    a, b, c = "02:42:0a:09:00:0a", "02:42:0a:09:00:0b", "02:42:0a:09:00:0c"
    t_a = T0 + 123_456_789
    t_b = t_a + 300 * 10**9  # exactly the ageing time later: a is gone when b arrives
    t_c = t_b + 1
    t_end = t_c + 300 * 10**9 + 7
    records = [(t_a, _overlay("192.0.2.1", "192.0.2.9", a, "02:42:0a:09:00:ff")),
               (t_b, _overlay("192.0.2.1", "192.0.2.9", b, "02:42:0a:09:00:ff")),
               (t_c, _overlay("192.0.2.2", "192.0.2.9", c, "02:42:0a:09:00:ff")),
               (t_end, encode([build.eth(dst="02:00:00:00:00:02", src="02:00:00:00:00:01"),
                               build.ipv4(src="192.0.2.1", dst="192.0.2.9"),
                               build.udp(50000, 53, checksum=0), build.payload(b"x")]))]
    path = tmp_path / "ageing.pcap"
    with PcapWriter(str(path), 1, nanosecond=True) as writer:
        for ts, frame in records:
            writer.write(frame, ts)
    events = replay(str(path)).to_json()["events"]
    assert [(e["event"], e["mac"], e["time"]) for e in events] == [
        ("learned", a, iso_time(t_a, ns=True)),
        ("aged", a, iso_time(t_b, ns=True)),
        ("learned", b, iso_time(t_b, ns=True)),
        ("learned", c, iso_time(t_c, ns=True)),
        ("aged", b, iso_time(t_end, ns=True)),
        ("aged", c, iso_time(t_end, ns=True)),
    ]
    aged = [e for e in events if e["event"] == "aged"]
    assert [(e["last_seen"], e["expired_at"]) for e in aged] == [
        (iso_time(t, ns=True), iso_time(t + 300 * 10**9, ns=True)) for t in (t_a, t_b, t_c)]
    # A shorter ageing time, in nanoseconds like the capture's timestamps.
    short = replay(str(path), ageing_ns=1).to_json()["events"]
    assert [e["event"] for e in short] == ["learned", "aged", "learned", "aged", "learned",
                                           "aged"]


def test_gbp_vteps_read_the_group_policy_where_plain_ones_drop_it(tmp_path: Path) -> None:
    """VXLAN-GBP (G flag, group policy ID 200) from a VTEP made with `gbp`: a plain Linux VTEP
    drops it as reserved bits (VXLAN_INVALID_HDR); `replay --gbp` models a `gbp` VTEP, which
    reads them, learns, and drops nothing."""
    from click.testing import CliRunner

    from vxlankit.cli import main

    inner = [build.eth(dst="02:00:00:00:0a:02", src="02:00:00:00:0a:01"),
             build.ipv4(src="10.9.0.1", dst="10.9.0.2"), build.icmp_echo(1, 1),
             build.payload(b"x" * 8)]
    frame = encode([build.eth(dst="02:00:00:00:00:02", src="02:00:00:00:00:01"),
                    build.ipv4(src="192.0.2.1", dst="192.0.2.2"), build.udp(50000, 4789),
                    build.vxlan_gbp(vni=42, group=200), *inner])
    assert decode(frame)["vxlan.gbp"] == 200
    path = _write(tmp_path / "gbp.pcap", [frame] * 3)
    plain = replay(path).to_json()
    drops = [a for a in plain["anomalies"] if a["kind"] == "linux_would_drop"]
    assert drops and drops[0]["reason"] == "VXLAN_INVALID_HDR" and drops[0]["packets"] == 3
    gbp = replay(path, gbp=True).to_json()
    assert not [a for a in gbp["anomalies"] if a["kind"] == "linux_would_drop"]
    learned = gbp["vteps"][0]["fdb"]
    assert "02:00:00:00:0a:01" in json.dumps(learned)
    assert "02:00:00:00:0a:01" not in json.dumps(plain["vteps"][0]["fdb"])
    out = CliRunner().invoke(main, ["replay", "--gbp", "--json", path])
    assert out.exit_code == 0 and json.loads(out.output)["vteps"][0]["fdb"] == learned
