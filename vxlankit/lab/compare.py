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
from vxlankit.present.plural import counted
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
    "arp retransmission": "an ARP request repeating an unanswered one: the kernel's "
                          "neighbour code probes again every second (retrans_time_ms 1000, "
                          "mcast_solicit 3); synth's stacks ask once.  Set aside on both "
                          "sides before comparing",
    "fdb from lost frames": "replay's model learned a MAC from VXLAN frames that the capture "
                            "shows never reached the VTEP's socket (stopped by the underlay, or "
                            "at a port it does not listen on) and that replay's diagnoses name "
                            "as lost; the kernel never saw them",
    "fdb static elsewhere": "a permanent vxlan FDB entry sending a MAC to another VTEP than "
                            "the one its frames arrive from: the kernel keeps it and drops "
                            "those frames (vxlan_snoop); replay's model, which cannot see "
                            "configuration, learns where they come from; replay's diagnoses "
                            "name the contradiction (wrong_remote) or the drops (loss)",
    "fdb programmed": "a permanent vxlan FDB entry (Docker's gossip, or the fault's) for a MAC "
                      "whose frames never reached that VTEP in the capture: configuration, "
                      "which replay's model learns only from arriving frames",
    "ping timestamp": "the first 16 bytes of the echo payload: the struct timeval ping puts "
                      "there at sending; the rest of the payload is compared",
}

# Diagnoses one side's capture may hold and the other's not: (the side, why).
DECLARED_DIAGNOSES: dict[str, tuple[str, str]] = {
    "checksum_offload": ("kernel", "the kernel's VXLAN UDP checksums on a veth are partial "
                                   "(the udp.checksum difference): replay sees it where it "
                                   "checks a reassembled datagram"),
}
DECLARED.update({f"diagnosis {kind}": f"replay names {kind} on the {side}'s capture only: "
                 f"{why}" for kind, (side, why) in DECLARED_DIAGNOSES.items()})

_IP_ID_FIELDS = {"ip.id", "ip.checksum"}
_ICMP_FIELDS = {"icmp.ident", "icmp.checksum"}
_UDP_SUM_FIELDS = {"udp.checksum", "udp.checksum_calculated", "udp.checksum.status"}
_ICMP_ERRORS = {3, 4, 5, 11, 12}  # unreachable, source quench, redirect, time exceeded, param
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
    # A programmed entry for a MAC whose frames never reached this VTEP (a fault stopped
    # them): configuration the model, which learns from arrivals, cannot know.
    declared: Counter[str] = Counter()
    for mac in sorted(set(theirs) - set(model)):
        if all(e.permanent for e in kernel if e.mac == mac):
            del theirs[mac]
            declared["fdb programmed"] += 1
    stopped = {str(v) for d in report.diagnoses if d.severity == "error"
               and d.kind in ("loss", "port_mismatch", "ttl_expired") for v in d.vtep}
    named = {(str(d.facts.get("mac")), str(to)) for d in report.diagnoses
             if d.kind == "wrong_remote" for to in d.facts.get("sent_to", ())}
    for mac in sorted(set(theirs) & set(model)):
        static = [e for e in kernel if e.mac == mac]
        if theirs[mac] != model[mac] and all(
                e.permanent and ((mac, e.target) in named or vtep_ip in stopped)
                for e in static):
            theirs[mac] = model[mac]
            declared["fdb static elsewhere"] += 1
    for mac in sorted(set(model) - set(theirs)):
        if vtep_ip in stopped:
            del model[mac]
            declared["fdb from lost frames"] += 1
    subject = f"{node} vxlan FDB, VNI {vni}"
    if model == theirs:
        kinds = sorted({"permanent" if e.permanent else "learned" for e in kernel
                        if e.mac in theirs})
        how = f" (kernel: {'/'.join(kinds)})" if kinds else ""
        return Verdict("model vs kernel", subject, True, _fdb_text(model) + how, declared)
    return Verdict("model vs kernel", subject, False,
                   f"model: {_fdb_text(model)}; kernel: {_fdb_text(theirs)}", declared,
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
        quote = proto == "data" and i > 0 and k_layers[i - 1][0] == "icmp" \
            and k_layers[i - 1][1].get("icmp.type") in _ICMP_ERRORS
        for name in sorted(set(kf) | set(sf)):
            kv, sv = kf.get(name), sf.get(name)
            if kv == sv:
                continue
            if quote and name == "data.data" and isinstance(kv, bytes | bytearray) \
                    and isinstance(sv, bytes | bytearray):
                # An ICMP error quotes the datagram it refuses: compared as a packet of its
                # own, under the same declared differences (its IP ID, the VXLAN source port
                # and checksum, ping's identifier and timestamp).
                _compare_packet(_quoted(kv), _quoted(sv), f"{where} (quoted)", declared,
                                findings)
                continue
            reason = _declared(proto, name, kv, sv, vxlan_udp, kf, sf)
            if reason is None:
                findings.append(f"{where}: {name} {_show(kv)} (kernel) vs {_show(sv)} (synth)")
            elif reason:
                declared[reason] += 1


def _quoted(data: bytes | bytearray) -> Packet:
    """An ICMP error's quote (an IPv4 header and what follows, maybe cut) as a packet."""
    return decode(bytes(6) + bytes(6) + b"\x08\x00" + bytes(data))


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


def _arp_retransmissions(packets: list[Packet]) -> set[int]:
    """The broadcast ARP requests that repeat an earlier one (the same sender and target, on
    the tap or inside VXLAN): the neighbour code's probes after the first, which only an
    unresolved neighbour sends; with what each draws (the reply, an ICMP error quoting it)."""
    asked: set[tuple[Any, Any]] = set()
    again: set[tuple[Any, Any]] = set()
    repeats = set()
    for i, p in enumerate(packets):
        arp = p.layer("arp", -1)
        if arp is None:
            icmp = p.layer("icmp")
            data = p.layer("data")
            if icmp is not None and data is not None and icmp.get("icmp.type") in _ICMP_ERRORS:
                quoted = _quoted(data.get("data.data") or b"").layer("arp", -1)
                key = None if quoted is None else (quoted.get("arp.src.proto_ipv4"),
                                                   quoted.get("arp.dst.proto_ipv4"))
                if key in again and quoted is not None and quoted.get("arp.opcode") == 1:
                    repeats.add(i)
            continue
        key = (arp.get("arp.src.proto_ipv4"), arp.get("arp.dst.proto_ipv4"))
        eth = p.layer("eth", -1)
        if arp.get("arp.opcode") == 1 and eth is not None \
                and eth.get("eth.dst") == "ff:ff:ff:ff:ff:ff":
            if key in asked:
                repeats.add(i)
                again.add(key)
            asked.add(key)
        elif (key[1], key[0]) in again:
            repeats.add(i)
    return repeats


def tap_verdict(tap: str, kernel: TapCapture, synth: list[bytes]) -> Verdict:
    """The kernel's packets on ``tap`` against synth's, one by one (ARP retransmissions set
    aside: ``DECLARED``)."""
    declared: Counter[str] = Counter()
    findings: list[str] = []
    k_packets = [decode(data, link) for _, data, link in kernel.packets]
    s_packets = [decode(data) for data in synth]
    k_again, s_again = _arp_retransmissions(k_packets), _arp_retransmissions(s_packets)
    if len(k_again) != len(s_again):
        declared["arp retransmission"] += abs(len(k_again) - len(s_again))
    kernel = TapCapture(kernel.tap, tuple(p for i, p in enumerate(kernel.packets)
                                          if i not in k_again))
    synth = [d for i, d in enumerate(synth) if i not in s_again]
    k_packets = [p for i, p in enumerate(k_packets) if i not in k_again]
    s_packets = [p for i, p in enumerate(s_packets) if i not in s_again]
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
    detail = counted(len(k_packets), "packet") + (
        "" if agree else ", " + counted(len(findings), "finding"))
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


# ------------------------------------------------------------------ diagnoses

_SEVERITY = {"error": 3, "warning": 2, "info": 1}


def diagnosis_kinds(diagnoses: Iterable[dict[str, Any]]) -> dict[str, str]:
    """kind -> its most severe severity, from ``replay --json``'s ``diagnoses``."""
    kinds: dict[str, str] = {}
    for d in diagnoses:
        kind, severity = str(d["kind"]), str(d["severity"])
        if _SEVERITY.get(severity, 0) > _SEVERITY.get(kinds.get(kind, ""), 0):
            kinds[kind] = severity
    return kinds


def _kinds_text(kinds: dict[str, str]) -> str:
    return ", ".join(f"{k} ({v})" for k, v in sorted(
        kinds.items(), key=lambda kv: (-_SEVERITY.get(kv[1], 0), kv[0]))) or "none"


def diagnosis_verdict(kernel: list[dict[str, Any]], synth: list[dict[str, Any]],
                      expected: str | None) -> Verdict:
    """replay's diagnoses of the kernel's capture against those of synth's (the same taps):
    the same kinds with the same severity, and ``expected`` (synth/faults.py ``EXPECTED``
    for the fault) among them on both sides; a healthy run has no error on either."""
    k, s = diagnosis_kinds(kernel), diagnosis_kinds(synth)
    declared: Counter[str] = Counter()
    findings: list[str] = []
    for kind in sorted(set(k) | set(s)):
        if k.get(kind) == s.get(kind):
            continue
        reason = DECLARED_DIAGNOSES.get(kind)
        if reason is not None and reason[0] == ("kernel" if kind in k else "synth") \
                and kind not in (s if kind in k else k):
            declared[f"diagnosis {kind}"] += 1
            continue
        findings.append(f"diagnosis {kind}: kernel {k.get(kind, 'not named')}, synth "
                        f"{s.get(kind, 'not named')}")
    for side, kinds in (("kernel", k), ("synth", s)):
        if expected is not None and expected not in kinds:
            findings.append(f"replay of the {side}'s capture does not name {expected}, the "
                            "kind the fault implies")
        if expected is None and "error" in kinds.values():
            findings.append(f"replay finds an error in the healthy {side} capture: "
                            + _kinds_text({a: b for a, b in kinds.items() if b == "error"}))
    subject = "diagnoses" + (f" (expected {expected})" if expected else "")
    same = _kinds_text({a: b for a, b in k.items() if a in s})
    detail = f"kernel: {_kinds_text(k)}; synth: {_kinds_text(s)}"
    if k == s:
        detail = f"both: {same}"
    return Verdict("replay", subject, not findings, detail, declared, findings)
