"""``replay``: feed a capture through VTEP models as the capture's receiving VTEPs saw it.

Each VXLAN packet becomes a ``VxlanReceived`` event for the VTEP at its outer destination IP,
with the packet's timestamp (``ts_ns``, integer nanoseconds) as ``now``.  The report says what
each VTEP learned (its FDB per VNI), the timeline of table changes, and the anomalies an SRE
debugging an overlay wants named: a MAC behind two VTEPs, packets a Linux VTEP would drop and
why, ARP requests and IPv6 Neighbor Solicitations nobody answered, and how much of each VNI's
traffic was flooded.

Nothing is kept per packet: the models hold the state, and the report keeps counters and the
table-changing events only, so memory follows the number of MACs, not the size of the file.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from vxlankit.addr import ip6_str, is_group_mac
from vxlankit.capture.reader import open_capture
from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions, decode
from vxlankit.errors import CaptureError
from vxlankit.frames import fast_path_ports, fast_vxlan_received, vxlan_received
from vxlankit.model.events import (
    Aged,
    Dropped,
    Learned,
    LimitReached,
    Moved,
    Output,
    VxlanReceived,
)
from vxlankit.model.vtep import DEFAULT_AGEING_NS, Vtep, VtepConfig
from vxlankit.present.plural import counted
from vxlankit.present.timeformat import utc_text


def iso_time(ts: float | int, ns: bool = False) -> str:
    """A timestamp (seconds, or integer nanoseconds with ``ns=True``) as ISO 8601 UTC with
    nanoseconds, e.g. ``2013-05-18T20:21:44.837063000Z``."""
    total_ns = int(ts) if ns else round(ts * 1e9)
    seconds, frac = divmod(total_ns, 10**9)
    return f"{utc_text(seconds, '%Y-%m-%dT%H:%M:%S')}.{frac:09d}Z"


@dataclass
class _ArpWait:
    vni: int
    sender_ip: str
    target_ip: str
    first_ns: int
    count: int = 1


# (VNI, asker, target) of an ARP request or an NS waiting for its answer.
_WaitKey = tuple[int, str, str]


def _nd_key(payload: bytes, vni: int) -> tuple[int, _WaitKey] | None:
    """An inner IPv6 Neighbor Solicitation (135) or Advertisement (136), ICMPv6 right after
    the IPv6 header: its type and the wait it opens (NS: asker = its source) or closes (NA:
    asker = its destination)."""
    if len(payload) < 64 or payload[6] != 58 or payload[40] not in (135, 136):
        return None
    asker = payload[8:24] if payload[40] == 135 else payload[24:40]
    return payload[40], (vni, ip6_str(asker), ip6_str(payload[48:64]))


@dataclass
class ReplayReport:
    """What ``replay`` found.  ``to_json()`` gives the documented JSON document."""

    vteps: dict[str, Vtep]
    # (vtep, vni, mac) -> [first, last] capture time (ns) a frame from mac reached vtep,
    # whatever the model made of the frame (dropped frames count too).
    seen: dict[tuple[str, int, str], list[int]]
    events: list[tuple[int, Output]]
    drops: Counter[tuple[str, str]]
    floods: Counter[int]
    per_vni: Counter[int]
    unanswered_arp: list[_ArpWait]
    flapping: dict[tuple[str, int, str], set[str]]
    packets: int = 0
    vxlan_packets: int = 0
    vni_pairs: Counter[tuple[int, int]] = field(default_factory=Counter)
    # A damaged capture: the report covers every good packet before it; the caller says so.
    error: CaptureError | None = None
    last_ns: int | None = None
    # Inner IPv6 Neighbor Solicitations no Advertisement in the capture answered (an ND
    # proxy answers on the sending host, so with Docker's proxy none crosses the overlay).
    unanswered_nd: list[_ArpWait] = field(default_factory=list)

    def fdb_rows(self, vtep_ip: str) -> list[dict[str, Any]]:
        vtep = self.vteps[vtep_ip]
        tables = vtep.fdbs()
        rows = []
        for vni in vtep.config.vnis:
            for mac, entry in sorted(tables[vni].items()):
                for remote in entry.remotes:
                    times = self.seen.get((vtep_ip, vni, mac))
                    first = iso_time(times[0], ns=True) if times else None
                    last = iso_time(times[1] if times else entry.last_seen, ns=True)
                    rows.append({
                        "vni": vni, "mac": mac, "remote": remote, "static": entry.static,
                        "first_seen": first, "last_seen": last,
                    })
        return rows

    def anomalies(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for (vtep, vni, mac), remotes in sorted(self.flapping.items()):
            found.append({"kind": "mac_flapping", "vtep": vtep, "vni": vni, "mac": mac,
                          "remotes": sorted(remotes),
                          "detail": f"{mac} seen behind {len(remotes)} VTEPs"})
        for (vtep, reason), count in sorted(self.drops.items()):
            found.append({"kind": "linux_would_drop", "vtep": vtep, "reason": reason,
                          "packets": count})
        for wait in self.unanswered_arp:
            found.append({"kind": "unanswered_arp", "vni": wait.vni, "who_has": wait.target_ip,
                          "tell": wait.sender_ip, "requests": wait.count,
                          "first": iso_time(wait.first_ns, ns=True)})
        for wait in self.unanswered_nd:
            found.append({"kind": "unanswered_nd", "vni": wait.vni, "who_has": wait.target_ip,
                          "tell": wait.sender_ip, "requests": wait.count,
                          "first": iso_time(wait.first_ns, ns=True)})
        for vni, count in sorted(self.floods.items()):
            found.append({"kind": "flood_volume", "vni": vni, "packets": count,
                          "of_packets": self.per_vni[vni]})
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "vteps": [
                {"vtep": ip, "vnis": list(vtep.config.vnis), "fdb": self.fdb_rows(ip),
                 "neighbors": [{"vni": vni, "ip": nip, "mac": mac}
                               for vni in vtep.config.vnis
                               for nip, mac in sorted(vtep.neighbours(vni).items())]}
                for ip, vtep in sorted(self.vteps.items())
            ],
            "events": [event_json(e, ts_ns) for ts_ns, e in self.events],
            "anomalies": self.anomalies(),
            "packets": self.packets,
            "vxlan_packets": self.vxlan_packets,
            "vni_pairs": [{"vnis": list(pair), "packets": n}
                          for pair, n in sorted(self.vni_pairs.items())],
        }


def event_json(event: Output, ts_ns: int | None = None) -> dict[str, Any]:
    """A model output as a flat JSON object (frames left out, times as ISO strings).

    ``ts_ns``: the capture time of the packet that caused it; it replaces ``now`` (the time the
    model noticed, which is the same for everything but the end-of-capture ageing)."""
    out: dict[str, Any] = {"event": type(event).__name__.lower()}
    if ts_ns is not None:
        out["time"] = iso_time(ts_ns, ns=True)
    for name in event.__dataclass_fields__:
        value = getattr(event, name)
        if name == "frame" or (name == "now" and ts_ns is not None):
            continue
        if name in ("now", "last_seen", "expired_at"):
            value = iso_time(value, ns=True)
        elif hasattr(value, "value"):
            value = value.value
        out[name] = value
    return out


def replay(path: Any, vteps: Iterable[str] = (), *, options: DecodeOptions = DEFAULT_OPTIONS,
           rx_policy: str = "linux", ageing_ns: int = DEFAULT_AGEING_NS,
           vxlan_port: int | None = None) -> ReplayReport:
    """Run ``path`` (a capture file path) through VTEP models; see the module docstring.

    ``vteps``: the VTEP IPs to model (default: every outer destination of VXLAN traffic).
    ``vxlan_port``: the UDP port each modelled VTEP listens on (a Linux vxlan device's
    ``dstport``: one port); default: the destination port of the first VXLAN packet it receives.
    ``ageing_ns``: the VTEPs' FDB ageing time, in nanoseconds like the capture's timestamps.
    One pass: a VTEP's model is made on the first packet it receives, and serves every VNI
    sent to it, so ``path`` may be a pipe (``"-"``: stdin).
    """
    chosen = set(vteps)
    models: dict[str, Vtep] = {}

    def model_for(hop: VxlanReceived, mac: str) -> Vtep | None:
        """The model of the VTEP ``hop`` reaches, made on its first packet (every VTEP that
        receives VXLAN, or only the chosen ones), serving every VNI it is sent."""
        model = models.get(hop.dst_ip)
        if model is None:
            if chosen and hop.dst_ip not in chosen:
                return None
            model = models[hop.dst_ip] = Vtep(VtepConfig(
                hop.dst_ip, mac or "00:00:00:00:00:00", name=f"vxlan@{hop.dst_ip}",
                vnis=(hop.vni,), rx_policy=rx_policy,  # type: ignore[arg-type]
                ageing_ns=ageing_ns,
                port=hop.dport if vxlan_port is None else vxlan_port))
        model.add_vni(hop.vni)
        return model

    report = ReplayReport(models, {}, [], Counter(), Counter(), Counter(), [], defaultdict(set))
    arp_waits: dict[tuple[int, str, str], _ArpWait] = {}
    nd_waits: dict[_WaitKey, _ArpWait] = {}
    # Inner flows seen on each VNI: the same flow on two VNIs is a routed hop between subnets.
    flow_vnis: dict[tuple[str, str, int], set[int]] = defaultdict(set)
    # (receiving VTEP, VNI, inner source MAC) -> the outer source IPs it came from.
    owners: dict[tuple[str, int, str], set[str]] = defaultdict(set)
    try:
        _walk(path, options, report, model_for, arp_waits, nd_waits, flow_vnis, owners)
    except CaptureError as exc:
        if not report.packets:
            raise  # not a capture at all, or damaged before its first packet
        report.error = exc
    last_ns = report.last_ns
    if last_ns is not None:
        # Age the tables as they stood when the capture ended: the VTEPs with an entry due by
        # then (next_deadline) are ticked at the last packet's time.
        for vtep in models.values():
            deadline = vtep.next_deadline()
            if deadline is not None and deadline <= last_ns:
                for out in vtep.tick(last_ns):
                    _note(report, vtep.config.local_ip, out, last_ns)
    report.unanswered_arp = sorted(arp_waits.values(), key=lambda w: w.first_ns)
    report.unanswered_nd = sorted(nd_waits.values(), key=lambda w: w.first_ns)
    for crossed in flow_vnis.values():
        if len(crossed) > 1:
            ordered = sorted(crossed)
            for a, b in zip(ordered, ordered[1:], strict=False):
                report.vni_pairs[(a, b)] += 1
    for (vtep_ip, vni, mac), remotes in owners.items():
        if len(remotes) > 1 and vtep_ip in models:
            report.flapping[(vtep_ip, vni, mac)] = remotes
    return report


def _walk(path: Any, options: DecodeOptions, report: ReplayReport,
          model_for: Callable[[VxlanReceived, str], Vtep | None],
          arp_waits: dict[tuple[int, str, str], _ArpWait],
          nd_waits: dict[_WaitKey, _ArpWait],
          flow_vnis: dict[tuple[str, str, int], set[int]],
          owners: dict[tuple[str, int, str], set[str]]) -> None:
    seen = report.seen
    ports = fast_path_ports(options)
    with open_capture(path) as reader:
        for record in reader:
            report.packets += 1
            report.last_ns = record.ts_ns
            mac, hops = _hops(record.data, record.interface.linktype, options, ports)
            if not hops:
                continue
            report.vxlan_packets += 1
            now = record.ts_ns
            for hop in hops:
                _account(report, hop, record.ts_ns, arp_waits, flow_vnis, owners)
                if hop.frame.ethertype == 0x86DD:
                    _account_nd(hop, record.ts_ns, nd_waits)
                model = model_for(hop, mac)
                if model is None:
                    continue
                times = seen.get((hop.dst_ip, hop.vni, hop.frame.src))
                if times is None:
                    seen[(hop.dst_ip, hop.vni, hop.frame.src)] = [record.ts_ns, record.ts_ns]
                else:
                    times[1] = record.ts_ns
                for out in model.handle(hop, now):
                    _note(report, model.config.local_ip, out, record.ts_ns)


def _hops(data: bytes, linktype: int, options: DecodeOptions,
          ports: tuple[frozenset[int], dict[int, str]] | None
          ) -> tuple[str, list[VxlanReceived]]:
    """The VXLAN hops of one frame and its outer destination MAC: from the bytes for the
    common shape (``ports``: ``fast_path_ports(options)``), else through the full decoder (the
    two are proven equal by the tests)."""
    if ports is not None:
        fast = fast_vxlan_received(data, linktype, *ports)
        if fast is not None:
            return fast
    packet = decode(data, linktype, options)
    first = packet.layers[0] if packet.layers else None
    mac = first.fields.get("eth.dst", "") if first is not None and first.proto == "eth" else ""
    return mac, [hop for _, hop in vxlan_received(packet)]


def _account(report: ReplayReport, hop: VxlanReceived, ts_ns: int,
             arp_waits: dict[tuple[int, str, str], _ArpWait],
             flow_vnis: dict[tuple[str, str, int], set[int]],
             owners: dict[tuple[str, int, str], set[str]]) -> None:
    frame = hop.frame
    report.per_vni[hop.vni] += 1
    if is_group_mac(frame.dst):
        report.floods[hop.vni] += 1
    if not is_group_mac(frame.src):
        owners[(hop.dst_ip, hop.vni, frame.src)].add(hop.src_ip)
    arp = frame.arp
    if arp is not None:
        if arp.opcode == 1:
            key = (hop.vni, arp.sender_ip, arp.target_ip)
            wait = arp_waits.get(key)
            if wait is None:
                arp_waits[key] = _ArpWait(hop.vni, arp.sender_ip, arp.target_ip, ts_ns)
            else:
                wait.count += 1
        elif arp.opcode == 2:
            arp_waits.pop((hop.vni, arp.target_ip, arp.sender_ip), None)
    if frame.ip is not None:
        # Unordered: a routed exchange goes out on one subnet's VNI and comes back on another.
        a, b = sorted((frame.ip.src, frame.ip.dst))
        flow_vnis[(a, b, frame.ip.proto)].add(hop.vni)


def _account_nd(hop: VxlanReceived, ts_ns: int, nd_waits: dict[_WaitKey, _ArpWait]) -> None:
    found = _nd_key(hop.frame.payload, hop.vni)
    if found is None:
        return
    itype, key = found
    if itype == 135:
        wait = nd_waits.get(key)
        if wait is None:
            nd_waits[key] = _ArpWait(key[0], key[1], key[2], ts_ns)
        else:
            wait.count += 1
    else:
        nd_waits.pop(key, None)


def _note(report: ReplayReport, vtep_ip: str, out: Output, ts_ns: int) -> None:
    if isinstance(out, (Learned, Moved, Aged, LimitReached)):
        report.events.append((ts_ns, out))
    elif isinstance(out, Dropped):
        report.events.append((ts_ns, out))
        report.drops[(vtep_ip, out.reason.value)] += 1


def render_text(report: ReplayReport) -> str:
    """The report for a terminal: FDB tables per VTEP and VNI, the timeline, the anomalies."""
    doc = report.to_json()
    out = [f"{counted(doc['packets'], 'packet')}, {doc['vxlan_packets']} with VXLAN; "
           f"{counted(len(doc['vteps']), 'VTEP')} modelled", ""]
    for vtep in doc["vteps"]:
        for vni in vtep["vnis"]:
            rows = [r for r in vtep["fdb"] if r["vni"] == vni]
            out.append(f"VTEP {vtep['vtep']}  VNI {vni}: {counted(len(rows), 'FDB entry')}")
            if rows:
                # 15 fits any IPv4 address; an IPv6 underlay widens the column as needed.
                w = max(15, *(len(r["remote"]) for r in rows))
                out.append(f"  {'MAC':<17}  {'remote VTEP':<{w}}  {'type':<7}  "
                           f"{'first seen':<30}  last seen")
                for r in rows:
                    kind = "static" if r["static"] else "learned"
                    out.append(f"  {r['mac']:<17}  {r['remote']:<{w}}  {kind:<7}  "
                               f"{r['first_seen'] or '-':<30}  {r['last_seen']}")
            neigh = [n for n in vtep["neighbors"] if n["vni"] == vni]
            for n in neigh:
                out.append(f"  neighbour {n['ip']} -> {n['mac']}")
            out.append("")
    if doc["events"]:
        out.append("Timeline:")
        for e in doc["events"]:
            detail = {k: v for k, v in e.items() if k not in ("event", "time", "device")}
            text = " ".join(f"{k}={v}" for k, v in detail.items())
            out.append(f"  {e.get('time', '')}  {e['device']:<22} {e['event']:<8} {text}")
        out.append("")
    anomalies = doc["anomalies"]
    out.append("Anomalies:" if anomalies else "Anomalies: none")
    for a in anomalies:
        kind = a["kind"]
        if kind == "mac_flapping":
            out.append(f"  MAC {a['mac']} (VNI {a['vni']}) behind several VTEPs: "
                       f"{', '.join(a['remotes'])}")
        elif kind == "linux_would_drop":
            out.append(f"  a Linux VTEP at {a['vtep']} would drop "
                       f"{counted(a['packets'], 'packet')}: "
                       f"{a['reason']}")
        elif kind == "unanswered_arp":
            out.append(f"  unanswered ARP (VNI {a['vni']}): who-has {a['who_has']} tell "
                       f"{a['tell']}, {counted(a['requests'], 'request')} from {a['first']}")
        elif kind == "unanswered_nd":
            out.append(f"  unanswered NS (VNI {a['vni']}): who-has {a['who_has']} tell "
                       f"{a['tell']}, {counted(a['requests'], 'request')} from {a['first']}")
        elif kind == "flood_volume":
            out.append(f"  VNI {a['vni']}: {a['packets']} of "
                       f"{counted(a['of_packets'], 'frame')} flooded "
                       "(broadcast/multicast)")
    for pair in doc["vni_pairs"]:
        crosses = "crosses" if pair["packets"] == 1 else "cross"
        out.append(f"  routed: {counted(pair['packets'], 'inner conversation')} {crosses} VNIs "
                   f"{' <-> '.join(str(v) for v in pair['vnis'])}")
    return "\n".join(out) + "\n"
