"""``lab ping``: the seed's ping on the real kernel, beside the models and the synth.

Builds the overlay (``topology.build``), captures every tap with dumpcap, lets C1 ping C2 a
bounded number of times, dumps the kernel's FDB and neighbour tables, removes everything it
made, and then compares (``compare``): ``replay`` of the capture against the kernel's vxlan
FDBs, a bridge model against the kernel's br0, and ``synth ping`` with the same settings
against the capture, tap by tap.  ``LabReport.ok`` is the verdict.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vxlankit.errors import LabError
from vxlankit.lab.capture import Dumpcaps, TapCapture, merge
from vxlankit.lab.compare import (
    DECLARED,
    Verdict,
    bridge_ingress,
    bridge_verdict,
    diagnosis_verdict,
    port_range_verdict,
    synth_verdicts,
    vtep_verdict,
    vxlan_source_ports,
)
from vxlankit.lab.faults import both_ways, default_size, lab_faults
from vxlankit.lab.netns import Netns, check_prerequisites, trap_signals
from vxlankit.lab.tables import bridge_fdb, dump, vxlan_fdb
from vxlankit.lab.topology import BuiltLab, LabFaults, LabSpec, build
from vxlankit.output import SafeOutput
from vxlankit.synth.faults import EXPECTED
from vxlankit.synth.topology import DEFAULT_SUBNET, DEFAULT_VNI

MAX_COUNT = 20
MIN_INTERVAL_S = 0.05
MAX_INTERVAL_S = 2.0
_PING_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")


@dataclass(frozen=True)
class LabOptions:
    mode: str = "docker"  # docker | learning
    vni: int = DEFAULT_VNI
    count: int = 3
    interval_s: float = 0.2
    size: int | None = None  # ping -s; None: 56, or 1400 under a fault of a small link
    port: int = 4789
    subnet: str = DEFAULT_SUBNET
    seed: int = 0
    fault: str | None = None  # one of synth ping --fault's kinds (vxlankit.lab.faults)
    faults: LabFaults = field(default_factory=LabFaults)  # KEY=VALUE faults (not with fault)
    keep: bool = False
    out_dir: str | None = None
    prefix: str | None = None  # namespace prefix; default unique per run

    def check(self) -> None:
        if not 1 <= self.count <= MAX_COUNT:
            raise LabError(f"count must be 1..{MAX_COUNT}, not {self.count}")
        if not MIN_INTERVAL_S <= self.interval_s <= MAX_INTERVAL_S:
            raise LabError(f"interval must be {MIN_INTERVAL_S}..{MAX_INTERVAL_S} s")
        if not 0 <= self.ping_size <= 1400:
            raise LabError(f"size must be 0..1400, not {self.size}")
        if not 0 <= self.vni < 1 << 24:
            raise LabError(f"VNI must be a 24-bit integer, not {self.vni}")
        if self.fault is not None and self.faults.any:
            raise LabError("--fault KIND makes the kernel and synth break the same way; "
                           "KEY=VALUE breaks the kernel alone: use one or the other")
        self.kernel_faults  # noqa: B018 (refuses a kind the lab cannot make in this mode)

    @property
    def ping_size(self) -> int:
        return self.size if self.size is not None else default_size(self.fault)

    @property
    def kernel_faults(self) -> LabFaults:
        """What the builder breaks: the kind's configuration, or the KEY=VALUE faults."""
        if self.fault is None:
            return self.faults
        return lab_faults(self.fault, self.vni, self.mode)


@dataclass
class PingOutcome:
    sent: int
    received: int
    output: str


@dataclass
class LabReport:
    options: LabOptions
    prefix: str
    namespaces: tuple[str, ...]
    ping: PingOutcome
    synth_replies: int
    verdicts: list[Verdict]
    tables: dict[str, dict[str, Any]]
    packets: int
    taps: tuple[str, ...] = ()
    kept: bool = False
    cleanup: str = ""
    files: list[str] = field(default_factory=list)
    back: PingOutcome | None = None  # C2's ping of C1, under a fault that needs both ends

    @property
    def ok(self) -> bool:
        return all(v.agree for v in self.verdicts)

    def declared(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for v in self.verdicts:
            for reason, n in v.declared.items():
                total[reason] = total.get(reason, 0) + n
        return total

    def to_json(self) -> dict[str, Any]:
        o = self.options
        return {
            "mode": o.mode, "vni": o.vni, "count": o.count, "port": o.port, "subnet": o.subnet,
            "size": o.ping_size, "fault": o.fault,
            "ok": self.ok, "prefix": self.prefix, "packets": self.packets,
            "taps": list(self.taps),
            "ping": {"sent": self.ping.sent, "received": self.ping.received,
                     "synth_received": self.synth_replies},
            "ping_back": None if self.back is None else {"sent": self.back.sent,
                                                         "received": self.back.received},
            "verdicts": [v.to_json() for v in self.verdicts],
            "declared": [{"difference": k, "count": n, "meaning": DECLARED[k]}
                         for k, n in sorted(self.declared().items())],
            "kept": self.kept, "cleanup": self.cleanup if self.kept else None,
            "files": self.files,
        }

    def render(self) -> str:
        o = self.options
        fault = f" --fault {o.fault}" if o.fault else ""
        back = ("" if self.back is None else f" (C2 -> C1: {self.back.received}/"
                f"{self.back.sent} on the kernel)")
        out = [f"vxlankit lab ping --mode {o.mode} --vni {o.vni}{fault}: C1 {self.ping.received}/"
               f"{self.ping.sent} echoes answered on the kernel, {self.synth_replies}/{o.count}"
               f" in synth{back}; {self.packets} packets captured on {len(self.taps)} taps", ""]
        w_check = max(len(v.check) for v in self.verdicts)
        w_subj = max(len(v.subject) for v in self.verdicts)
        out.append(f"{'check':<{w_check}}  {'subject':<{w_subj}}  verdict  detail")
        for v in self.verdicts:
            mark = "agree" if v.agree else "DIFFER"
            detail = v.detail
            if v.declared:
                detail += "; declared: " + ", ".join(f"{k} x{n}" for k, n in
                                                     sorted(v.declared.items()))
            out.append(f"{v.check:<{w_check}}  {v.subject:<{w_subj}}  {mark:<7}  {detail}")
        findings = [f for v in self.verdicts for f in v.findings]
        if findings:
            out += ["", "Findings:"] + [f"  {f}" for f in findings[:40]]
            if len(findings) > 40:
                out.append(f"  ... {len(findings) - 40} more (--json lists them all)")
        declared = self.declared()
        if declared:
            out += ["", "Declared differences (expected; not findings):"]
            for k, n in sorted(declared.items()):
                out.append(f"  {k} ({n}): {DECLARED[k]}")
        out.append("")
        out.append("all agree" if self.ok else "the kernel and vxlankit DIFFER (see above)")
        if self.kept:
            out.append(f"namespaces kept ({self.prefix}*); remove them with: {self.cleanup}")
        for f in self.files:
            out.append(f"wrote {f}")
        return "\n".join(out) + "\n"


def run_lab_ping(options: LabOptions) -> LabReport:
    """Build, capture, ping, dump, tear down, compare.  Raises ``LabError`` when the lab
    cannot run (no root, a missing tool, a failed command); every namespace made is removed
    on every way out unless ``options.keep`` (then only after a successful run)."""
    options.check()
    check_prerequisites()
    spec = LabSpec(options.mode, options.vni, options.port, options.subnet, options.seed,
                   options.kernel_faults)
    with trap_signals(), tempfile.TemporaryDirectory(prefix="vxlankit-lab-") as tmp:
        folder = Path(tmp)
        with Netns(options.prefix, keep=options.keep) as net:
            lab = build(net, spec)
            caps = Dumpcaps(net, lab.taps, folder)
            caps.start()
            ping, back = _ping(net, lab, options)
            caps.stop()
            tables = dump(net, lab.namespaces)
            port_range = _port_range(net, lab)
            captured = caps.read()
            prefix, namespaces, cleanup = net.prefix, tuple(net.made), net.cleanup_command()
        merged = folder / "lab.pcapng"
        order = tuple(t.tap for t in lab.taps)
        comment = (f"vxlankit lab ping mode={options.mode} vni={options.vni} "
                   f"count={options.count}" + (f" fault={options.fault}" if options.fault
                                               else ""))
        packets = merge(captured, order, str(merged), comment=comment)
        verdicts, synth_replies = _compare(options, lab, captured, tables, port_range, ping,
                                           folder)
        result = LabReport(options, prefix, namespaces, ping, synth_replies, verdicts, tables,
                           packets, order, kept=options.keep, cleanup=cleanup, back=back)
        if options.out_dir is not None:
            result.files = _write_outputs(options, merged, result)
    return result


def _ping(net: Netns, lab: BuiltLab,
          options: LabOptions) -> tuple[PingOutcome, PingOutcome | None]:
    """C1 pings C2; under a fault that shows only when both ends send (``both_ways``), C2
    pings C1 as well, half an interval later, as synth schedules it."""
    c1, c2 = lab.topology.containers
    # -c and -W bound it (no -w: with a deadline ping keeps sending until replies come).
    bound = options.count * options.interval_s + 10
    argv = ("ping", "-n", "-q", "-c", str(options.count), "-i", f"{options.interval_s:g}",
            "-s", str(options.ping_size), "-W", "1")
    first = net.spawn(lab.container_ns(c1.name), *argv, c2.ip, stdout=subprocess.PIPE)
    second = None
    if both_ways(options.fault):
        time.sleep(options.interval_s / 2)
        second = net.spawn(lab.container_ns(c2.name), *argv, c1.ip, stdout=subprocess.PIPE)
    outcome = _ping_outcome(net, lab.container_ns(c1.name), first, bound)
    back = None if second is None else _ping_outcome(net, lab.container_ns(c2.name), second,
                                                     bound)
    return outcome, back


def _ping_outcome(net: Netns, ns: str, proc: subprocess.Popen[Any],
                  bound: float) -> PingOutcome:
    try:
        out, err = proc.communicate(timeout=bound)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise LabError(f"ping in {net.name(ns)} did not finish in {bound:g} s") from None
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    found = _PING_SUMMARY.search(stdout)
    if found is None:
        said = (stderr or stdout).strip().splitlines()
        raise LabError(f"ping in {net.name(ns)} failed: "
                       f"{said[-1] if said else proc.returncode}")
    return PingOutcome(int(found.group(1)), int(found.group(2)), stdout)


def _port_range(net: Netns, lab: BuiltLab) -> tuple[int, int]:
    text = net.exec(lab.topology.nodes[0].name, "sysctl", "-n",
                    "net.ipv4.ip_local_port_range").stdout.split()
    return int(text[0]), int(text[1])


def _compare(options: LabOptions, lab: BuiltLab, captured: list[TapCapture],
             tables: dict[str, dict[str, Any]], port_range: tuple[int, int],
             ping: PingOutcome, folder: Path) -> tuple[list[Verdict], int]:
    """Every verdict, in the table's order: the echoes, model vs kernel (each VTEP's FDB, each
    br0), synth vs kernel (each tap, the source port range), the diagnoses.  A new kind of
    check is one more function of ``compare`` appended here."""
    from vxlankit.replay import replay
    from vxlankit.synth.output import write_result
    from vxlankit.synth.ping import PingOptions, synthesize_ping

    topo = lab.topology
    by_tap = {c.tap: c for c in captured}
    sub = topo.subnets[0]
    faults = options.kernel_faults
    verdicts: list[Verdict] = []
    # replay of the taps synth writes (the lab's own vxlan0 taps left out, which carry no
    # VXLAN but would give the loss detector places synth's capture has not), for the FDBs
    # and the diagnoses alike.
    kernel_path = folder / "kernel-taps.pcapng"
    merge(captured, tuple(t.tap for t in lab.taps if t.synth), str(kernel_path),
          comment="the taps synth writes")
    report = replay(str(kernel_path))
    for i, node in enumerate(topo.nodes):
        sbox = lab.sandbox(node.name)
        vni = faults.vni if i == 1 and faults.vni is not None else sub.vni
        verdicts.append(vtep_verdict(report, node.name, node.ip, vni,
                                     vxlan_fdb(tables[sbox]["fdb"], sub.vxlan)))
    for node in topo.nodes:
        sbox = lab.sandbox(node.name)
        local = [c for c in topo.containers if c.node == node.name]
        ingress = []
        for c in local:
            ingress += bridge_ingress(by_tap[f"{c.node}/{c.veth}"], c.veth, c.mac,
                                      by_tap[f"{node.name}/{sub.vxlan}"], sub.vxlan,
                                      {x.mac for x in local} | {node.bridge_macs[0]})
        verdicts.append(bridge_verdict(node.name, sub.bridge, ingress,
                                       [*(c.veth for c in local), sub.vxlan],
                                       bridge_fdb(tables[sbox]["fdb"], sub.bridge)))
    synth = synthesize_ping(PingOptions(
        vni=options.vni, count=options.count, interval_ns=round(options.interval_s * 1e9),
        size=options.ping_size, arp="proxy" if options.mode == "docker" else "flood",
        seed=options.seed, port=options.port, subnets=(options.subnet,), fault=options.fault))
    verdicts += synth_verdicts(synth, by_tap)
    model_range = synth.vtep(topo.nodes[0].name).config.src_port_range
    verdicts.append(port_range_verdict(port_range, model_range, vxlan_source_ports(
        by_tap[f"{n.name}/eth0"] for n in topo.nodes)))
    replies = sum(1 for e in synth.echoes if e.replied_ns is not None)
    # Every echo answered on both sides: with a fault, unanswered echoes on both are agreement.
    agree = ping.sent == options.count and ping.received == replies
    detail = (f"kernel {ping.received}/{ping.sent} answered, synth {replies}/"
              f"{len(synth.echoes)}")
    echoes = Verdict("ping", "C1 -> C2 echoes", agree, detail,
                     findings=[] if agree else [f"echoes: {detail}"])
    synth_path = folder / "synth.pcapng"
    write_result(synth, str(synth_path))
    verdicts.append(diagnosis_verdict(
        [d.to_json() for d in report.diagnoses],
        [d.to_json() for d in replay(str(synth_path)).diagnoses],
        EXPECTED.get(options.fault) if options.fault else None))
    return [echoes, *verdicts], replies


def _write_outputs(options: LabOptions, merged: Path, report: LabReport) -> list[str]:
    folder = Path(options.out_dir or ".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabError(f"{folder}: {exc.strerror or exc}") from None
    stem = f"lab-ping-{options.mode}" + (f"-fault-{options.fault}" if options.fault else "")
    written = []
    capture = folder / f"{stem}.pcapng"
    with SafeOutput(str(capture), LabError) as out:
        out.write(merged.read_bytes())
    written.append(str(capture))
    for name, doc in ((f"{stem}-tables.json", report.tables),
                      (f"{stem}-verdict.json", report.to_json())):
        path = folder / name
        with SafeOutput(str(path), LabError) as out:
            out.write((json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())
        written.append(str(path))
    return written
