"""The lab's comparisons and refusals, without a kernel: a synth capture set against itself
with one field changed at a time, hand-written expectations for what is declared and what is a
finding; the prerequisites check with root or a tool taken away."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from vxlankit import build
from vxlankit.codec import decode, encode
from vxlankit.errors import LabError
from vxlankit.lab import netns
from vxlankit.lab.capture import TapCapture
from vxlankit.lab.compare import (
    diagnosis_verdict,
    port_range_verdict,
    tap_verdict,
    vtep_verdict,
)
from vxlankit.lab.tables import KernelFdbEntry, bridge_fdb, vxlan_fdb
from vxlankit.packet import Layer
from vxlankit.replay import ReplayReport
from vxlankit.synth.ping import PingOptions, synthesize_ping

SYNTH = synthesize_ping(PingOptions(count=2))
EQ = SYNTH.tap_packets("node1/eth0")


def _rebuilt(data: bytes, **changes: object) -> bytes:
    """``data`` with fields changed (by Wireshark name, in the first layer that has them), the
    other lengths and checksums filled in again by the encoder."""
    layers = []
    for layer in decode(data).layers:
        fields: dict[str, object] = {}
        for name, value in layer.fields.items():
            if name.endswith((".status", "_calculated")):
                continue
            if name in changes:
                fields[name] = changes.pop(name)
            elif "checksum" in name or name in ("ip.len", "udp.length"):
                fields[name] = None
            else:
                fields[name] = value
        layers.append(Layer(layer.proto, fields))
    assert not changes, changes
    return encode(layers)


def _kernel(*datas: bytes) -> TapCapture:
    return TapCapture("node1/eth0", tuple((i, d, 1) for i, d in enumerate(datas)))


def test_identical_packets_agree_with_only_timestamps_declared() -> None:
    v = tap_verdict("node1/eth0", _kernel(*(p.data for p in EQ)), [p.data for p in EQ])
    assert v.agree and v.findings == [] and dict(v.declared) == {"timestamps": len(EQ)}


def test_declared_fields_are_counted_not_findings() -> None:
    first = EQ[0].data
    changed = _rebuilt(first, **{"ip.id": 0x1234, "udp.srcport": 33333})
    v = tap_verdict("node1/eth0", _kernel(changed), [first])
    assert v.agree, v.findings
    assert v.declared["ip.id"] == 1 and v.declared["udp.srcport"] == 1


def test_any_other_difference_is_a_finding() -> None:
    first = EQ[0].data
    for change in ({"ip.ttl": 9}, {"vxlan.vni": 4097}, {"udp.dstport": 8472}):
        v = tap_verdict("node1/eth0", _kernel(_rebuilt(first, **change)), [first])
        assert not v.agree and any(next(iter(change)) in f for f in v.findings), change


def test_a_zero_udp_checksum_against_a_computed_one_is_a_finding() -> None:
    first = EQ[0].data
    zero = _rebuilt(first, **{"udp.checksum": 0})
    assert decode(zero).layer("udp")["udp.checksum"] == 0  # type: ignore[index]
    v = tap_verdict("node1/eth0", _kernel(zero), [first])
    assert not v.agree and any("udp.checksum" in f for f in v.findings)


def test_missing_and_extra_packets_are_findings() -> None:
    datas = [p.data for p in EQ]
    v = tap_verdict("node1/eth0", _kernel(*datas[:-1]), datas)
    assert not v.agree and "only synth has" in v.findings[-1]
    arp = encode([build.eth(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:01"),
                  build.arp(1, "02:00:00:00:00:01", "172.31.1.10", "00:00:00:00:00:00",
                            "172.31.1.1")])
    v = tap_verdict("node1/eth0", _kernel(*datas, arp), datas)
    assert not v.agree and "only kernel has: ARP who-has 172.31.1.1" in v.findings[-1]


def test_fdb_verdicts_compare_unicast_entries_only() -> None:
    report = ReplayReport({"192.168.1.10": SYNTH.vtep("node2")}, {}, [], Counter(), Counter(),
                          Counter(), [], defaultdict(set))
    model = SYNTH.vtep("node2").fdb(4096)
    unicast = [KernelFdbEntry(mac, remote, True) for mac, e in model.items()
               for remote in e.remotes]
    flood = KernelFdbEntry("00:00:00:00:00:00", "172.31.1.10", True)
    assert vtep_verdict(report, "node2", "192.168.1.10", 4096, [*unicast, flood]).agree
    wrong = [KernelFdbEntry(e.mac, "172.31.1.99", True) for e in unicast]
    assert not vtep_verdict(report, "node2", "192.168.1.10", 4096, wrong).agree
    assert not vtep_verdict(report, "node2", "192.168.1.10", 4096, []).agree


def test_kernel_json_is_read_as_iproute2_prints_it() -> None:
    rows = [
        {"mac": "02:42:0a:00:00:04", "ifname": "vxlan0", "dst": "192.168.1.10",
         "flags": ["self"], "state": ""},
        {"mac": "00:00:00:00:00:00", "ifname": "vxlan0", "dst": "192.168.1.10",
         "flags": ["self"], "state": "permanent"},
        {"mac": "02:42:0a:00:00:04", "ifname": "vxlan0", "flags": [], "master": "br0",
         "state": ""},
        {"mac": "26:2b:ab:8c:35:fa", "ifname": "vxlan0", "flags": [], "master": "br0",
         "state": "permanent"},
        {"mac": "33:33:00:00:00:01", "ifname": "br0", "flags": ["self"], "state": "permanent"},
    ]
    assert vxlan_fdb(rows, "vxlan0") == [
        KernelFdbEntry("02:42:0a:00:00:04", "192.168.1.10", False),
        KernelFdbEntry("00:00:00:00:00:00", "192.168.1.10", True)]
    assert bridge_fdb(rows, "br0") == [KernelFdbEntry("02:42:0a:00:00:04", "vxlan0", False)]


def test_port_range_verdict() -> None:
    assert port_range_verdict((32768, 60999), (32768, 60999), [40000]).agree
    assert not port_range_verdict((32768, 60999), (49152, 65535), [40000]).agree
    assert not port_range_verdict((32768, 60999), (32768, 60999), [61000]).agree


def test_refuses_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(netns, "_effective_caps", lambda: 0)
    with pytest.raises(LabError, match="run it as root"):
        netns.check_prerequisites()


def test_refuses_without_a_tool_and_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns.os, "geteuid", lambda: 0)
    real = netns.shutil.which
    monkeypatch.setattr(netns.shutil, "which",
                        lambda name: None if name in ("dumpcap", "ping") else real(name))
    with pytest.raises(LabError) as caught:
        netns.check_prerequisites()
    assert "dumpcap (Debian package tshark)" in caught.value.message
    assert "ping (Debian package iputils-ping)" in caught.value.message
    assert "apt-get install iputils-ping tshark" in caught.value.message


def _arp(op: int, sender: str, target: str, dst: str = "ff:ff:ff:ff:ff:ff") -> bytes:
    mac = "02:42:0a:00:00:03" if sender.endswith(".3") else "02:42:0a:00:00:04"
    return encode([build.eth(dst=dst, src=mac),
                   build.arp(op, mac, sender, "00:00:00:00:00:00" if op == 1 else dst,
                             target)])


def test_arp_retransmissions_and_their_answers_are_declared_not_findings() -> None:
    ask = _arp(1, "10.0.0.4", "10.0.0.3")
    answer = _arp(2, "10.0.0.3", "10.0.0.4", dst="02:42:0a:00:00:04")
    # The kernel asked twice (its answer lost further on) and was answered twice; synth once.
    v = tap_verdict("node1/veth-C1", _kernel(ask, answer, ask, answer), [ask, answer])
    assert v.agree and v.declared["arp retransmission"] == 2, v.findings
    # A second request for another address is no retransmission.
    other = _arp(1, "10.0.0.4", "10.0.0.9")
    v = tap_verdict("node1/veth-C1", _kernel(ask, other), [ask])
    assert not v.agree and "ARP who-has 10.0.0.9" in v.findings[-1]


def test_icmp_errors_compare_what_they_quote() -> None:
    result = synthesize_ping(PingOptions(count=1, fault="port"))
    refusal = next(p.data for p in result.tap_packets("node2/eth0")
                   if (icmp := decode(p.data).layer("icmp")) is not None
                   and icmp["icmp.type"] == 3)
    quote = bytearray(decode(refusal).layer("data")["data.data"])  # type: ignore[index]
    assert tap_verdict("node2/eth0", _kernel(refusal), [refusal]).agree

    def with_quote(q: bytes) -> bytes:
        return refusal[:len(refusal) - len(quote)] + q

    declared = bytearray(quote)
    declared[4:6] = b"\x12\x34"  # the quoted IP ID: declared, as on any packet
    v = tap_verdict("node2/eth0", _kernel(with_quote(bytes(declared))), [refusal])
    assert v.declared["ip.id"] == 1
    wrong = bytearray(quote)
    wrong[8] = 7  # the quoted TTL: a finding, named inside the quote
    v = tap_verdict("node2/eth0", _kernel(with_quote(bytes(wrong))), [refusal])
    assert any("(quoted): ip.ttl" in f for f in v.findings), v.findings


def test_diagnosis_verdict() -> None:
    def kinds(*pairs: tuple[str, str]) -> list[dict[str, object]]:
        return [{"kind": k, "severity": s} for k, s in pairs]

    both = kinds(("mtu", "error"), ("loss", "error"))
    assert diagnosis_verdict(both, both, "mtu").agree
    v = diagnosis_verdict(both, kinds(("loss", "error")), "mtu")
    assert not v.agree and any("synth's capture does not name mtu" in f for f in v.findings)
    v = diagnosis_verdict(kinds(("loss", "warning")), kinds(("loss", "error")), None)
    assert not v.agree and "diagnosis loss: kernel warning, synth error" in v.findings
    offload = kinds(("outer_fragmentation", "warning"), ("checksum_offload", "info"))
    v = diagnosis_verdict(offload, offload[:1], "outer_fragmentation")
    assert v.agree and v.declared["diagnosis checksum_offload"] == 1
    assert not diagnosis_verdict(offload[:1], offload, "outer_fragmentation").agree
    assert not diagnosis_verdict(kinds(("mtu", "error")), kinds(("mtu", "error")), None).agree


def test_programmed_entries_no_frame_reached_are_declared() -> None:
    empty = ReplayReport({}, {}, [], Counter(), Counter(), Counter(), [], defaultdict(set))
    programmed = [KernelFdbEntry("02:42:0a:00:00:04", "192.168.1.10", True)]
    v = vtep_verdict(empty, "node1", "172.31.1.10", 4096, programmed)
    assert v.agree and v.declared["fdb programmed"] == 1
    learned = [KernelFdbEntry("02:42:0a:00:00:04", "192.168.1.10", False)]
    assert not vtep_verdict(empty, "node1", "172.31.1.10", 4096, learned).agree
