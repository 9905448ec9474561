"""The lab's verdicts: the models against the kernel, and the synth against the kernel.

Pure functions over what the lab collected (captured packets, the kernel's tables as JSON, a
replay report, a synth result): no IO here.

* **model vs kernel**: the VTEP models ``replay`` runs over the lab's capture learn, per VNI,
  the same MAC -> remote VTEP table as the kernel's vxlan devices hold; a bridge model fed the
  frames that entered each sandbox's br0 (from the container's veth and from vxlan0) learns the
  same MAC -> port table as the kernel's br0.
* **synth vs kernel**: tap by tap, ``synth ping`` with the same settings writes the same packet
  sequence: the same layers and the same value in every field, except the declared
  differences (``DECLARED``), each counted and named.  Any other difference is a finding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from vxlankit.codec import decode
from vxlankit.frames import frame_from_bytes
from vxlankit.lab.capture import TapCapture
from vxlankit.lab.tables import ZERO_MAC, KernelFdbEntry
from vxlankit.model.bridge import Bridge
from vxlankit.model.events import FrameReceived
from vxlankit.packet import Packet
from vxlankit.replay import ReplayReport
from vxlankit.synth.ping import SynthResult, frame_label

# Each declared difference: why the kernel and synth may differ there.  Everything else must
# be equal.
DECLARED = {
    "timestamps": "packet times: the kernel's clock and scheduling against synth's simulated "
                  "delays (never compared)",
    "ip.id": "IPv4 identification: the kernel's ID generator (a hashed per-destination "
             "counter) against synth's; ip.checksum follows from it (its status is compared)",
    "udp.srcport": "the VXLAN packet's UDP source port: the kernel hashes the inner flow with "
                   "a per-boot random seed (skb_get_hash), synth with CRC-32 of the same keys "
                   "(the range is compared: see the port-range row)",
    "udp.checksum": "the VXLAN packet's UDP checksum covers the source port above; and the "
                    "kernel leaves it to the NIC (CHECKSUM_PARTIAL), so a capture on a veth "
                    "holds the pseudo-header sum that a checker calls bad. Compared: present "
                    "(non-zero) in both",
    "icmp.ident": "the ICMP echo identifier: ping's choice (its process id), synth's seeded "
                  "one; icmp.checksum follows from it and from the timestamp (its status is "
                  "compared)",
    "ping timestamp": "the first 16 bytes of the echo payload: the struct timeval ping puts "
                      "there at sending; the rest of the payload is compared",
}

_IP_ID_FIELDS = {"ip.id", "ip.checksum"}
_ICMP_FIELDS = {"icmp.ident", "icmp.checksum"}
_UDP_SUM_FIELDS = {"udp.checksum", "udp.checksum_calculated", "udp.checksum.status"}
_PING_STAMP = 16  # sizeof(struct timeval) on a 64-bit host


@dataclass
class Verdict:
    check: str  # "model vs kernel", "synth vs kernel", "ping"
    subject: str
    agree: bool
    detail: str
    declared: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "subject": self.subject, "agree": self.agree,
                "detail": self.detail, "declared": dict(sorted(self.declared.items())),
                "findings": self.findings}


# ------------------------------------------------------------------ model vs kernel


def _fdb_text(table: dict[str, set[str]]) -> str:
    if not table:
        return "no entries"
    return ", ".join(f"{mac} -> {'/'.join(sorted(t))}" for mac, t in sorted(table.items()))


def vtep_verdict(report: ReplayReport, node: str, vtep_ip: str, vni: int,
                 kernel: list[KernelFdbEntry]) -> Verdict:
    """The model's FDB of ``vni`` at ``vtep_ip`` against the kernel's vxlan device's, unicast
    MACs only (the all-zeros flood entry is configuration the capture cannot show)."""
    model: dict[str, set[str]] = {}
    vtep = report.vteps.get(vtep_ip)
    if vtep is not None and vni in vtep.config.vnis:
        for mac, entry in vtep.fdb(vni).items():
            if mac != ZERO_MAC:
                model.setdefault(mac, set()).update(entry.remotes)
    theirs: dict[str, set[str]] = {}
    for e in kernel:
        if e.mac != ZERO_MAC:
            theirs.setdefault(e.mac, set()).add(e.target)
    subject = f"{node} vxlan FDB, VNI {vni}"
    if model == theirs:
        kinds = sorted({"permanent" if e.permanent else "learned" for e in kernel
                        if e.mac != ZERO_MAC})
        how = f" (kernel: {'/'.join(kinds)})" if kinds else ""
        return Verdict("model vs kernel", subject, True, _fdb_text(model) + how)
    return Verdict("model vs kernel", subject, False,
                   f"model: {_fdb_text(model)}; kernel: {_fdb_text(theirs)}",
                   findings=[f"{subject}: model {_fdb_text(model)}, kernel {_fdb_text(theirs)}"])


def bridge_verdict(node: str, bridge: str, ingress: Iterable[tuple[int, str, bytes]],
                   ports: Iterable[str], kernel: list[KernelFdbEntry]) -> Verdict:
    """A bridge model fed ``ingress`` (time, port, frame) in time order against the kernel's
    learned br0 entries."""
    model_bridge = Bridge(f"{bridge}@{node}", list(ports))
    for ts, port, data in sorted(ingress, key=lambda r: r[0]):
        model_bridge.handle(FrameReceived(port, frame_from_bytes(data)), ts)
    model = {mac: {e.port} for mac, e in model_bridge.entries().items() if not e.static}
    theirs: dict[str, set[str]] = {}
    for k in kernel:
        theirs.setdefault(k.mac, set()).add(k.target)
    subject = f"{node} {bridge} MAC table"
    if model == theirs:
        return Verdict("model vs kernel", subject, True, _fdb_text(model))
    return Verdict("model vs kernel", subject, False,
                   f"model: {_fdb_text(model)}; kernel: {_fdb_text(theirs)}",
                   findings=[f"{subject}: model {_fdb_text(model)}, kernel {_fdb_text(theirs)}"])


def bridge_ingress(container_tap: TapCapture, container_port: str, container_mac: str,
                   vxlan_tap: TapCapture, vxlan_port: str,
                   local_macs: set[str]) -> list[tuple[int, str, bytes]]:
    """What entered the bridge, from the two captures around it: the frames the container sent
    (its source MAC, seen on its side of the veth) and the frames that came in from vxlan0
    (decapsulated or answered by the ARP proxy: a source MAC not local to the sandbox)."""
    rows = [(ts, container_port, data) for ts, data, _ in container_tap.packets
            if _src_mac(data) == container_mac]
    rows += [(ts, vxlan_port, data) for ts, data, _ in vxlan_tap.packets
             if _src_mac(data) not in local_macs]
    return rows


def _src_mac(data: bytes) -> str:
    return data[6:12].hex(":") if len(data) >= 14 else ""


def port_range_verdict(kernel_range: tuple[int, int], model_range: tuple[int, int],
                       kernel_ports: list[int]) -> Verdict:
    """The VXLAN source ports' range: the kernel's (the host's ip_local_port_range, as
    udp_flow_src_port uses when the device sets none) against the model's configuration."""
    outside = [p for p in kernel_ports if not kernel_range[0] <= p <= kernel_range[1]]
    agree = kernel_range == model_range and not outside
    detail = (f"kernel {kernel_range[0]}-{kernel_range[1]} (ip_local_port_range), model "
              f"{model_range[0]}-{model_range[1]}")
    if outside:
        detail += f"; kernel ports outside it: {sorted(set(outside))}"
    return Verdict("synth vs kernel", "VXLAN source port range", agree, detail,
                   findings=[] if agree else [f"source port range: {detail}"])


# ------------------------------------------------------------------ synth vs kernel


def _fields(packet: Packet) -> list[tuple[str, dict[str, Any]]]:
    return [(layer.proto, dict(layer.fields)) for layer in packet.layers]


def _compare_packet(kernel: Packet, synth: Packet, where: str,
                    declared: Counter[str], findings: list[str]) -> None:
    k_layers, s_layers = _fields(kernel), _fields(synth)
    if kernel.protocols != synth.protocols:
        findings.append(f"{where}: layers {kernel.protocols} (kernel) vs {synth.protocols} "
                        "(synth)")
        return
    for i, ((proto, kf), (_, sf)) in enumerate(zip(k_layers, s_layers, strict=True)):
        vxlan_udp = proto == "udp" and i + 1 < len(k_layers) and k_layers[i + 1][0] == "vxlan"
        for name in sorted(set(kf) | set(sf)):
            kv, sv = kf.get(name), sf.get(name)
            if kv == sv:
                continue
            reason = _declared(proto, name, kv, sv, vxlan_udp, kf, sf)
            if reason is None:
                findings.append(f"{where}: {name} {_show(kv)} (kernel) vs {_show(sv)} (synth)")
            elif reason:
                declared[reason] += 1


def _declared(proto: str, name: str, kv: Any, sv: Any, vxlan_udp: bool,
              kf: dict[str, Any], sf: dict[str, Any]) -> str | None:
    """The declared difference this field's difference falls under ("" for a field that only
    follows from another one already counted), or None: a finding."""
    if name in _IP_ID_FIELDS and proto == "ip":
        return "ip.id" if name == "ip.id" else ""
    if name in _ICMP_FIELDS and proto == "icmp":
        return "icmp.ident" if name == "icmp.ident" else ""
    if vxlan_udp and name == "udp.srcport":
        return "udp.srcport"
    if vxlan_udp and name in _UDP_SUM_FIELDS:
        # Present in both (zero means "no checksum" in IPv4: that would be a real difference).
        if kf.get("udp.checksum") and sf.get("udp.checksum"):
            return "udp.checksum" if name == "udp.checksum" else ""
        return None
    if proto == "data" and name == "data.data" and isinstance(kv, bytes | bytearray) \
            and isinstance(sv, bytes | bytearray):
        if len(kv) == len(sv) and kv[_PING_STAMP:] == sv[_PING_STAMP:]:
            return "ping timestamp"
    return None


def _show(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return value.hex() if len(value) <= 16 else value[:16].hex() + "..."
    return repr(value)


def tap_verdict(tap: str, kernel: TapCapture, synth: list[bytes]) -> Verdict:
    """The kernel's packets on ``tap`` against synth's, one by one."""
    declared: Counter[str] = Counter()
    findings: list[str] = []
    k_packets = [decode(data, link) for _, data, link in kernel.packets]
    s_packets = [decode(data) for data in synth]
    for n, (k, s) in enumerate(zip(k_packets, s_packets, strict=False), 1):
        _compare_packet(k, s, f"{tap} #{n}", declared, findings)
    if len(k_packets) != len(s_packets):
        longer, who = ((kernel.packets[len(synth):], "kernel") if len(k_packets) > len(synth)
                       else ([(0, d, 1) for d in synth[len(k_packets):]], "synth"))
        extra = "; ".join(frame_label(d) for _, d, _ in longer[:4])
        findings.append(f"{tap}: {len(k_packets)} packets (kernel) vs {len(s_packets)} (synth); "
                        f"only {who} has: {extra}{' ...' if len(longer) > 4 else ''}")
    if k_packets:
        declared["timestamps"] += len(k_packets)
    agree = not findings
    detail = f"{len(k_packets)} packets" + ("" if agree else f", {len(findings)} finding(s)")
    return Verdict("synth vs kernel", tap, agree, detail, declared, findings)


def synth_verdicts(result: SynthResult, captured: dict[str, TapCapture]) -> list[Verdict]:
    """One verdict per tap synth writes."""
    return [tap_verdict(tap, captured[tap], [p.data for p in result.tap_packets(tap)])
            for tap in result.taps]


def vxlan_source_ports(captures: Iterable[TapCapture]) -> list[int]:
    """The UDP source ports of the VXLAN packets captured (outer IPv4/UDP to ``port``)."""
    ports = []
    for cap in captures:
        for _, data, link in cap.packets:
            packet = decode(data, link)
            if packet.layer("vxlan") is not None:
                udp = packet.layer("udp")
                if udp is not None:
                    ports.append(int(udp["udp.srcport"]))
    return ports
