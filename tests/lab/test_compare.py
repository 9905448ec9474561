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
from vxlankit.lab.compare import port_range_verdict, tap_verdict, vtep_verdict
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
