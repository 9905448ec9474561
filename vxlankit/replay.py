"""``replay``: feed a capture through VTEP models as the capture's receiving VTEPs saw it.

Each VXLAN packet becomes a ``VxlanReceived`` event for the VTEP at its outer destination IP,
with the packet's timestamp (``ts_ns``, integer nanoseconds) as ``now``.  The report says what
each VTEP learned (its FDB per VNI), the timeline of table changes, and the anomalies an SRE
debugging an overlay wants named: a MAC behind two VTEPs, packets a Linux VTEP would drop and
why, ARP requests and IPv6 Neighbor Solicitations nobody answered, and how much of each VNI's
traffic was flooded.

Nothing is kept per packet but what the diagnosis needs (vxlankit.diagnose: bounded tables):
the models hold the state, and the report keeps counters and the table-changing events only,
so memory follows the number of MACs, not the size of the file.

A capture with several taps (pcapng interfaces) shows one datagram several times: it is
modelled once, where it is first seen.  Outer IPv4 fragments are reassembled before the
models see the datagram, as the receiving host does before vxlan_rcv.
"""

from __future__ import annotations

import textwrap
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from vxlankit.addr import ip6_str, is_group_mac
from vxlankit.capture.reader import open_capture
from vxlankit.checksum import internet_checksum
from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions, decode
from vxlankit.diagnose import Context, Diagnosis, Evidence, diagnose, wire
from vxlankit.diagnose.overlay import routed_pairs
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
    diagnoses: list[Diagnosis] = field(default_factory=list)

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
            "diagnoses": [d.to_json() for d in self.diagnoses],
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
           vxlan_port: int | None = None, gbp: bool = False) -> ReplayReport:
    """Run ``path`` (a capture file path) through VTEP models; see the module docstring.

    ``gbp``: model VTEPs made with the group policy extension (``ip link add ... gbp``), which
    read the G flag and the policy ID where a plain Linux VTEP drops them as reserved bits.
    ``vteps``: the VTEP IPs to model (default: every outer destination of VXLAN traffic).
    ``vxlan_port``: the UDP port each modelled VTEP listens on (a Linux vxlan device's
    ``dstport``: one port); default: the port it sends VXLAN to, or, not seen sending, the
    port it is first sent to.
    ``ageing_ns``: the VTEPs' FDB ageing time, in nanoseconds like the capture's timestamps.
    One pass: a VTEP's model is made on the first packet it receives, and serves every VNI
    sent to it, so ``path`` may be a pipe (``"-"``: stdin).
    """
    chosen = set(vteps)
    models: dict[str, Vtep] = {}
    # The UDP port each VTEP sends VXLAN to: a Linux VTEP listens on its own dstport.
    sends_to_port: dict[str, int] = {}

    def model_for(hop: VxlanReceived, mac: str) -> Vtep | None:
        """The model of the VTEP ``hop`` reaches, made on its first packet (every VTEP that
        receives VXLAN, or only the chosen ones), serving every VNI it is sent, listening on
        the port it sends to (or, not seen sending yet, the port it is first sent to)."""
        sends_to_port.setdefault(hop.src_ip, hop.dport)
        model = models.get(hop.dst_ip)
        if model is None:
            if chosen and hop.dst_ip not in chosen:
                return None
            model = models[hop.dst_ip] = Vtep(VtepConfig(
                hop.dst_ip, mac or "00:00:00:00:00:00", name=f"vxlan@{hop.dst_ip}",
                vnis=(hop.vni,), rx_policy=rx_policy,  # type: ignore[arg-type]
                ageing_ns=ageing_ns,
                port=vxlan_port if vxlan_port is not None
                else sends_to_port.get(hop.dst_ip, hop.dport), gbp=gbp))
        model.add_vni(hop.vni)
        return model

    report = ReplayReport(models, {}, [], Counter(), Counter(), Counter(), [], defaultdict(set))
    arp_waits: dict[tuple[int, str, str], _ArpWait] = {}
    nd_waits: dict[_WaitKey, _ArpWait] = {}
    # (receiving VTEP, VNI, inner source MAC) -> the outer source IPs it came from.
    owners: dict[tuple[str, int, str], set[str]] = defaultdict(set)
    ports = fast_path_ports(options)
    evidence = Evidence(ports[0] if ports is not None else frozenset(
        p for p, name in options.udp_ports.items() if name == "vxlan"))
    try:
        _walk(path, options, report, model_for, arp_waits, nd_waits, owners, evidence)
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
    for (vtep_ip, vni, mac), remotes in owners.items():
        if len(remotes) > 1 and vtep_ip in models:
            report.flapping[(vtep_ip, vni, mac)] = remotes
    ctx = Context(evidence, report.flapping, report.drops)
    # A conversation on two VNIs is a routed hop only when a router forwarded it; on two
    # VNIs with nothing routed, it is a VNI mismatch (a diagnosis, not a routed pair).
    for pair in routed_pairs(ctx):
        report.vni_pairs[pair] += 1
    report.diagnoses = diagnose(ctx)
    return report


def _walk(path: Any, options: DecodeOptions, report: ReplayReport,
          model_for: Callable[[VxlanReceived, str], Vtep | None],
          arp_waits: dict[tuple[int, str, str], _ArpWait],
          nd_waits: dict[_WaitKey, _ArpWait],
          owners: dict[tuple[str, int, str], set[str]], evidence: Evidence) -> None:
    seen = report.seen
    ports = fast_path_ports(options)
    defrag = _Defrag()
    # A datagram seen on several taps, by what identifies it -> the tap it was first seen on.
    first_tap: dict[tuple[object, ...], int] = {}
    with open_capture(path) as reader:
        try:
            for record in reader:
                report.packets += 1
                number = report.packets
                report.last_ns = record.ts_ns
                iface = record.interface
                tap = iface.name or f"interface {iface.id}"
                data = record.data
                linktype = iface.linktype
                frag = defrag.fragment(data, linktype)
                if frag is not None:
                    evidence.packet(number, record.ts_ns, tap, data, linktype, [])
                    whole = defrag.add(data, frag)
                    if whole is None:
                        continue
                    evidence.reassembled(frag.src, frag.dst, frag.ident)
                    data, linktype = whole, wire.LINKTYPE_ETHERNET
                    mac, hops = _hops(data, linktype, options, ports)
                else:
                    mac, hops = _hops(data, linktype, options, ports)
                multi_tap = len(reader.interfaces) > 1
                evidence.packet(number, record.ts_ns, tap, data, linktype, hops, multi_tap)
                if not hops:
                    continue
                report.vxlan_packets += 1
                if multi_tap:
                    key = _datagram_key(data, hops[0])
                    where = first_tap.setdefault(key, iface.id)
                    if len(first_tap) > 65536:
                        first_tap.clear()
                    if where != iface.id:
                        continue  # the same datagram on another tap: modelled once
                now = record.ts_ns
                for hop in hops:
                    _account(report, hop, record.ts_ns, arp_waits, owners)
                    if hop.frame.ethertype == 0x86DD:
                        _account_nd(hop, record.ts_ns, nd_waits)
                    model = model_for(hop, mac)
                    if model is None:
                        continue
                    times = seen.get((hop.dst_ip, hop.vni, hop.frame.src))
                    if times is None:
                        seen[(hop.dst_ip, hop.vni, hop.frame.src)] = [record.ts_ns,
                                                                      record.ts_ns]
                    else:
                        times[1] = record.ts_ns
                    for out in model.handle(hop, now):
                        _note(report, model.config.local_ip, out, record.ts_ns)
                        evidence.model_output(number, model.config.local_ip, out)
        finally:
            evidence.declared_taps = [i.name or f"interface {i.id}" for i in reader.interfaces]


def _datagram_key(data: bytes, hop: VxlanReceived) -> tuple[object, ...]:
    """What tells one VXLAN datagram from another wherever it is captured: the outer
    addresses, source port, VNI and the inner frame (TTLs and MACs change on the way)."""
    frame = hop.frame
    return (hop.src_ip, hop.dst_ip, hop.sport, hop.vni, frame.src, frame.dst,
            hash(frame.payload))


@dataclass
class _Pieces:
    parts: dict[int, bytes] = field(default_factory=dict)
    head: bytes | None = None  # link header and IP header of the first fragment
    length: int | None = None  # the payload's length, known from the last fragment


class _Defrag:
    """IPv4 reassembly (ip_defrag, reduced) of UDP datagrams on Ethernet: what a receiving
    host does before vxlan_rcv.  Bounded: at most 1024 datagrams in progress."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, str, int], _Pieces] = {}

    @staticmethod
    def fragment(data: bytes, linktype: int) -> wire.Ip | None:
        if (linktype != wire.LINKTYPE_ETHERNET or len(data) < 34
                or (data[12] << 8 | data[13]) != wire.ETH_P_IP or data[23] != 17
                or not (data[20] << 8 | data[21]) & 0x3FFF):
            return None
        return wire.ip(data, 14)

    def add(self, data: bytes, hdr: wire.Ip) -> bytes | None:
        key = (hdr.src, hdr.dst, hdr.ident)
        pieces = self.pending.get(key)
        if pieces is None:
            if len(self.pending) >= 1024:
                self.pending.pop(next(iter(self.pending)))
            pieces = self.pending[key] = _Pieces()
        offset = (hdr.frag & 0x1FFF) * 8
        pieces.parts[offset] = data[hdr.start:hdr.end]
        if offset == 0:
            pieces.head = data[:hdr.start]
        if not hdr.frag & 0x2000:
            pieces.length = offset + hdr.end - hdr.start
        if pieces.head is None or pieces.length is None:
            return None
        body = bytearray()
        for off in sorted(pieces.parts):
            if off > len(body):
                return None  # a hole: wait for the missing piece
            body[off:] = pieces.parts[off]
        if len(body) < pieces.length:
            return None
        del self.pending[key]
        head = bytearray(pieces.head)
        ihl = len(head) - 14
        head[16:18] = (ihl + pieces.length).to_bytes(2, "big")
        head[20:22] = b"\0\0"
        head[24:26] = b"\0\0"
        head[24:26] = internet_checksum(bytes(head[14:])).to_bytes(2, "big")
        return bytes(head) + bytes(body[:pieces.length])


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


def render_diagnoses(diagnoses: list[Diagnosis], width: int = 100) -> list[str]:
    """The "Diagnosis" section: each finding, most severe first, with what was seen, the
    likely cause and what to check."""
    if not diagnoses:
        return ["Diagnosis: nothing found", ""]
    counts = Counter(d.severity for d in diagnoses)
    tally = ", ".join(counted(counts[s], s, "info" if s == "info" else None)
                      for s in ("error", "warning", "info") if counts[s])
    out = [f"Diagnosis: {tally}"]
    for d in diagnoses:
        out += textwrap.wrap(f"{d.severity.upper()} {d.kind}: {d.summary}", width,
                             initial_indent="  ", subsequent_indent="      ")
        seen = []
        if d.vni:
            seen.append("VNI " + ", ".join(str(v) for v in d.vni))
        if d.vtep:
            seen.append("VTEPs " + ", ".join(d.vtep))
        if d.taps:
            seen.append("taps " + ", ".join(d.taps))
        if seen:
            out += textwrap.wrap("seen: " + "; ".join(seen), width, initial_indent="    ",
                                 subsequent_indent="      ")
        out += textwrap.wrap("cause: " + d.cause, width, initial_indent="    ",
                             subsequent_indent="      ")
        for i, line in enumerate(d.check):
            out += textwrap.wrap(line, width, initial_indent="    check: " if i == 0
                                 else "           ", subsequent_indent="             ",
                                 break_on_hyphens=False)
    out.append("")
    return out


def render_text(report: ReplayReport) -> str:
    """The report for a terminal: the diagnoses, FDB tables per VTEP and VNI, the timeline,
    the anomalies."""
    doc = report.to_json()
    out = render_diagnoses(report.diagnoses)
    out += [f"{counted(doc['packets'], 'packet')}, {doc['vxlan_packets']} with VXLAN; "
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
