"""``vxlankit trace``: one packet followed through saved state, hop by hop, and its answer.

The models decide: a ``Bridge`` per bridge device (its ports, its static and learned entries
from ``bridge fdb``), a ``Vtep`` per vxlan device (its FDB, neighbour table and flags from
``ip -d link``, ``bridge fdb`` and ``ip neigh``).  What lies between them is thin adapters
over the saved tables, as the kernel's IP layer between the devices:

* a namespace's stack: the longest-prefix route (``ip route``), the neighbour (``ip neigh``,
  else ARP through the network as the kernel would send it), local delivery, forwarding
  when ``ip_forward`` is on (TTL, MTU and DF: fragmentation needed or fragments);
* links: a veth hands the frame to its peer (dropped if larger than the peer's MTU, as
  ``is_skb_forwardable`` does); a bridge port's MTU is checked on the way out
  (``br_dev_queue_push_xmit``); a device with no peer (a NIC) reaches the saved namespace that
  has the destination MAC, so states saved on separate hosts join through the underlay;
* the UDP socket of each vxlan device lives in its underlay namespace (where it was made,
  ``link_netnsid``): a datagram to a port with no socket is dropped there (``NO_SOCKET``) and
  answered with ICMP port unreachable.

The packet travels as real bytes (checksums, lengths) in the models' ``Frame`` values; the
outer VXLAN packet is what the VTEP model's ``Encapsulated`` output describes.  Fragments are
followed as one datagram: the largest piece is what each link's MTU is checked against.
Everything is in memory: nothing is sent, nothing on the host is read.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vxlankit.addr import ip_int
from vxlankit.diagnose.kinds import KINDS, VXLAN_OVERHEAD
from vxlankit.errors import StateError
from vxlankit.frames import encapsulated_bytes
from vxlankit.model.bridge import Bridge, PortConfig
from vxlankit.model.events import (
    ARPOP_REPLY,
    ARPOP_REQUEST,
    ETH_P_ARP,
    ETH_P_IP,
    ArpProxied,
    BridgeFdbAdd,
    Decapsulated,
    Dropped,
    Encapsulated,
    FdbAdd,
    FdbAppend,
    Flooded,
    Forwarded,
    Frame,
    FrameReceived,
    L2Miss,
    L3Miss,
    NeighAdd,
    Output,
    PathMtu,
    TooBig,
    UdpDelivered,
    VtepTransmit,
    VxlanReceived,
)
from vxlankit.model.host import Host
from vxlankit.model.lpm import PrefixTable
from vxlankit.model.vtep import Vtep, VtepConfig
from vxlankit.state.load import Device, Namespace, NetworkState, Route
from vxlankit.trace.packets import (
    BROADCAST,
    ZERO_MAC,
    Probe,
    arp_reply,
    arp_request,
    decrease_ttl,
    describe,
    ip_frame,
    ip_packet,
)

MAX_STEPS = 400  # a bridge loop in the saved state must not trace forever
VXLAN_HEADROOM = VXLAN_OVERHEAD[4]  # outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14


@dataclass(frozen=True)
class Hop:
    """One step: where (namespace, device), what happened, the table entry that decided (as
    iproute2 prints it) and the packet's headers there."""

    phase: str  # request, reply, arp (a neighbour resolution on the way)
    host: str
    device: str
    action: str
    entry: str = ""
    headers: str = ""
    outer: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": self.phase, "host": self.host, "device": self.device,
                               "action": self.action}
        if self.entry:
            out["entry"] = self.entry
        if self.headers:
            out["headers"] = self.headers
        if self.outer:
            out["outer"] = self.outer
        return out


@dataclass(frozen=True)
class Drop:
    host: str
    device: str
    reason: str  # the kernel's drop reason name (SKB_DROP_REASON_ less its prefix) or kind
    kind: str  # the diagnosis kind (docs/diagnosis.md)
    detail: str
    fix: tuple[str, ...] = ()
    what_if: str = ""
    phase: str = ""
    cause: str = ""  # the diagnosis kind's explanation (docs/diagnosis.md), when it applies

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"host": self.host, "device": self.device, "reason": self.reason,
                               "kind": self.kind, "detail": self.detail, "phase": self.phase,
                               "fix": list(self.fix)}
        if self.cause:
            out["cause"] = self.cause
        if self.what_if:
            out["what_if"] = self.what_if
        return out


@dataclass
class _Walk:
    """One packet's (or one ARP exchange's) progress through the network."""

    phase: str
    target: str  # the address whose owner ends the walk (delivery), or the ARP target
    arp_from: tuple[str, str] | None = None  # an ARP walk: (namespace, device) asking
    delivered: str | None = None  # where: "namespace device"
    resolved: str | None = None  # an ARP walk: the MAC that answered
    drops: list[Drop] = field(default_factory=list)
    steps: int = 0


@dataclass
class _Item:
    kind: str  # "rx" (arrives at a device) or "tx" (leaves by a device)
    ns: str
    dev: str
    frame: Frame
    piece: int = 0  # outer datagram sent in fragments: the largest fragment's length
    outer: Encapsulated | None = None  # the frame is this VXLAN packet


class TraceEngine:
    """The saved network with its models, and the walks through it."""

    def __init__(self, state: NetworkState) -> None:
        self.state = state
        self.ns: dict[str, Namespace] = {n.name: n for n in state.namespaces}
        self.hops: list[Hop] = []
        self.now = 1
        self._routes: dict[str, PrefixTable[list[Route]]] = {}
        self._bridges: dict[tuple[str, str], Bridge] = {}
        self._vteps: dict[tuple[str, str], Vtep] = {}
        # (namespace, device, ip) -> (mac, how it is known): the saved neighbours and those
        # the trace resolved (the kernel caches an answer, and learns the asker, arp_process).
        self._neigh: dict[tuple[str, str, str], tuple[str, str]] = {}
        self._by_mac: dict[str, list[tuple[str, Device]]] = {}
        for n in state.namespaces:
            for nb in n.neighbours:
                if nb.usable and nb.mac is not None:
                    self._neigh[(n.name, nb.dev, nb.ip)] = (nb.mac, nb.text)
            for dev in n.devices:
                if dev.kind not in ("loopback", "bridge", "vxlan") and dev.mac != ZERO_MAC:
                    self._by_mac.setdefault(dev.mac, []).append((n.name, dev))

    # ------------------------------------------------------------------ tables

    def device(self, ns: str, dev: str) -> Device:
        d = self.ns[ns].device(dev)
        if d is None:
            raise StateError(f"{ns} has no device {dev}")
        return d

    def route(self, ns: str, dst: str) -> Route | None:
        table = self._routes.get(ns)
        if table is None:
            table = self._routes[ns] = PrefixTable()
            groups: dict[str, list[Route]] = {}
            for r in self.ns[ns].routes:
                groups.setdefault(r.dst, []).append(r)
            for prefix, rs in groups.items():
                table.add(prefix, sorted(rs, key=lambda r: r.metric))
        found = table.lookup_ip(dst)
        return found[0] if found else None

    def local(self, ns: str, ip: str) -> Device | None:
        return self.ns[ns].owns(ip)

    def source_address(self, ns: str, route: Route) -> str | None:
        if route.prefsrc:
            return route.prefsrc
        dev = self.ns[ns].device(route.dev or "")
        if dev is not None and dev.addresses:
            return dev.addresses[0].ip
        for d in self.ns[ns].devices:
            for a in d.addresses:
                if a.scope == "global":
                    return a.ip
        return None

    def bridge(self, ns: str, name: str) -> Bridge:
        key = (ns, name)
        br = self._bridges.get(key)
        if br is not None:
            return br
        space = self.ns[ns]
        ports = [PortConfig(d.name, d.port_learning, d.hairpin) for d in space.devices
                 if d.master == name]
        # The bridge device itself is a port here: frames for its local addresses (its own
        # and its ports' MACs, the "permanent" entries) go up to its IP stack, and what the
        # stack sends enters the bridge through it (br_dev_xmit).
        br = Bridge(name, [*ports, PortConfig(name, learning=False)])
        own = space.device(name)
        local = {own.mac} if own is not None else set()
        for row in space.fdb:
            if row.master != name or row.mac[1] in "13579bdfBDF":
                continue
            if row.state == "permanent":
                local.add(row.mac)
            elif row.state == "static":
                br.handle(BridgeFdbAdd(row.mac, row.dev, "saved"), 0)
        for mac in local:
            br.handle(BridgeFdbAdd(mac, name, "local"), 0)
        for row in space.fdb:
            if (row.master == name and row.state in ("", "stale", "reachable")
                    and row.mac[1] not in "13579bdfBDF" and row.dev in br.ports):
                # A learned entry: learned again the way the kernel learned it.
                br.handle(FrameReceived(row.dev, Frame(row.mac, row.mac, ETH_P_IP)), 0)
        self._bridges[key] = br
        return br

    def bridge_entry(self, ns: str, bridge: str, mac: str) -> str:
        for row in self.ns[ns].fdb:
            if row.master == bridge and row.mac == mac:
                return row.text
        own = self.ns[ns].device(bridge)
        if own is not None and own.mac == mac:
            return f"{mac} dev {bridge} (the bridge's own address)"
        return ""

    def underlay_ns(self, ns: str, dev: Device) -> str:
        assert dev.vxlan is not None
        under = dev.vxlan.underlay
        if under is None:
            return ns
        if under not in self.ns:
            raise StateError(f"{ns} {dev.name}: its UDP socket is in namespace {under}, "
                             "which is not in the saved state (save it too: --netns)")
        return under

    def vtep(self, ns: str, name: str) -> Vtep:
        key = (ns, name)
        vt = self._vteps.get(key)
        if vt is not None:
            return vt
        dev = self.device(ns, name)
        vx = dev.vxlan
        assert vx is not None
        under = self.underlay_ns(ns, dev)
        rows = [r for r in self.ns[ns].fdb if r.dev == name and r.master is None and r.dst]
        local = vx.local
        nic_mac = ZERO_MAC
        for remote in [vx.remote or "", *(r.dst or "" for r in rows)]:
            if not remote or ":" in remote:
                continue
            route = self.route(under, remote)
            if route is not None:
                local = local or self.source_address(under, route)
                nic = self.ns[under].device(route.dev or "")
                nic_mac = nic.mac if nic is not None else ZERO_MAC
                break
        if local is None:
            for d in self.ns[under].devices:
                if d.kind != "loopback" and d.addresses:
                    local = d.addresses[0].ip
                    break
        if local is None:
            raise StateError(f"{ns} {name}: no underlay address in {under} to send from")
        group = vx.remote if vx.remote and 224 <= int(vx.remote.split(".")[0]) <= 239 else None
        config = VtepConfig(
            local_ip=local, mac=nic_mac, name=name, vnis=(vx.vni,), dev_mac=dev.mac,
            port=vx.port, learning=vx.learning, proxy=vx.proxy, l2miss=vx.l2miss,
            l3miss=vx.l3miss, ageing_ns=vx.ageing * 10**9, max_learned=0, ttl=vx.ttl,
            df="set" if vx.df == "set" else "inherit" if vx.df == "inherit" else "unset",
            udp_checksum="compute" if vx.udp_csum else "zero", group=group,
            # The underlay's own routing and ARP give the outer MACs (``_send_ip`` below),
            # as the kernel's iptunnel_xmit does after vxlan_xmit_one.
            next_hops={"0.0.0.0/0": ZERO_MAC},
        )
        vt = Vtep(config)
        if vx.remote and group is None:
            vt.handle(FdbAppend(vx.vni, ZERO_MAC, vx.remote, "remote"), 0)
        seen: set[str] = set()
        for r in rows:
            if r.vni is not None and r.vni != vx.vni:
                continue
            assert r.dst is not None
            if r.mac == ZERO_MAC or r.mac in seen:
                vt.handle(FdbAppend(vx.vni, r.mac, r.dst, "saved"), 0)
            else:
                vt.handle(FdbAdd(vx.vni, r.mac, r.dst, r.state in ("permanent", "static"),
                                 "saved"), 0)
            seen.add(r.mac)
        for nb in self.ns[ns].neighbours:
            if nb.dev == name and nb.mac is not None and nb.usable:
                vt.handle(NeighAdd(vx.vni, nb.ip, nb.mac, "saved"), 0)
        self._vteps[key] = vt
        return vt

    def vxlan_fdb_entry(self, ns: str, dev: str, mac: str) -> str:
        rows = [r.text for r in self.ns[ns].fdb if r.dev == dev and r.master is None
                and r.dst and r.mac == mac]
        return "; ".join(rows)

    def sockets(self, ns: str) -> list[tuple[str, Device]]:
        """The vxlan devices whose UDP socket is in ``ns``: (their namespace, device)."""
        out = []
        for n in self.state.namespaces:
            for d in n.devices:
                if d.vxlan is not None and (d.vxlan.underlay or n.name) == ns:
                    out.append((n.name, d))
        return out

    # ------------------------------------------------------------------ recording

    def hop(self, walk: _Walk, ns: str, dev: str, action: str, entry: str = "",
            frame: Frame | None = None, outer: Encapsulated | None = None,
            piece: int = 0) -> None:
        ttl = None
        if frame is not None and frame.ip is not None and outer is not None and frame.src:
            ttl = frame.ip.ttl  # on the underlay: the outer header as it is at this hop
        self.hops.append(Hop(walk.phase, ns, dev, action, entry,
                             describe(frame) if frame is not None else "",
                             _outer(outer, piece, ttl) if outer is not None else ""))

    def drop(self, walk: _Walk, ns: str, dev: str, reason: str, kind: str, detail: str,
             fix: Iterable[str] = (), what_if: str = "",
             words: Mapping[str, object] | None = None) -> None:
        # The likely cause in the diagnosis' own words (vxlankit/diagnose/kinds.py), where the
        # trace knows the facts its sentence needs.
        cause = KINDS[kind].cause.format(**words) if words is not None else ""
        d = Drop(ns, dev, reason, kind, detail, tuple(fix), what_if, walk.phase, cause)
        walk.drops.append(d)
        self.hops.append(Hop(walk.phase, ns, dev, f"DROP {reason}: {detail}"))

    # ------------------------------------------------------------------ walks

    def run(self, walk: _Walk, first: _Item) -> None:
        queue: deque[_Item] = deque([first])
        while queue:
            walk.steps += 1
            if walk.steps > MAX_STEPS:
                self.drop(walk, first.ns, first.dev, "LOOP", "loss",
                          f"more than {MAX_STEPS} steps: a loop in the saved state")
                return
            item = queue.popleft()
            self.now += 1
            if item.kind == "tx":
                queue.extend(self._tx(walk, item))
            else:
                queue.extend(self._rx(walk, item))

    def send_ip(self, walk: _Walk, ns: str, packet: bytes, piece: int = 0,
                outer: Encapsulated | None = None) -> _Item | None:
        """The namespace's stack sends ``packet``: route, MTU, neighbour (ARP when needed)."""
        dst = _dst(packet)
        route = self.route(ns, dst)
        if route is None or route.type in ("unreachable", "blackhole", "prohibit"):
            self.drop(walk, ns, "-", "IP_NOROUTES", "linux_drop",
                      f"no route to {dst} in {ns} (ENETUNREACH)",
                      (f"ip -n {ns} route add {dst} via GATEWAY",))
            return None
        dev = self.device(ns, route.dev or "")
        self.hop(walk, ns, dev.name, "route", route.text,
                 None if outer else ip_frame("", "", packet), outer, piece)
        size = piece or len(packet)
        if size > dev.mtu:
            if packet[6] & 0x40:
                self._too_big(walk, ns, dev, size, dev.mtu, "sender",
                              outer is not None)
                return None
            piece = 20 + ((dev.mtu - 20) & ~7)
            count = -(-(len(packet) - 20) // (piece - 20))
            self.hop(walk, ns, dev.name, f"fragments: {len(packet)} B over MTU {dev.mtu} in "
                     f"{count} pieces of at most {piece} B (DF clear; ip_fragment)")
        nexthop = route.gateway or dst
        mac = self.resolve(walk, ns, dev, nexthop)
        if mac is None:
            return None
        return _Item("tx", ns, dev.name, ip_frame(mac, dev.mac, packet), piece, outer)

    def resolve(self, walk: _Walk, ns: str, dev: Device, ip: str) -> str | None:
        """The neighbour's MAC: the table's entry, or ARP as the kernel sends it (its hops
        recorded, phase "arp"); None with the drop recorded when nobody answers."""
        known = self._neigh.get((ns, dev.name, ip))
        if known is not None:
            self.hop(walk, ns, dev.name, "neighbour", known[1])
            return known[0]
        if ip == "255.255.255.255":
            return BROADCAST
        src = next((a.ip for a in dev.addresses), None)
        if src is None:
            src = next((a.ip for d in self.ns[ns].devices for a in d.addresses
                        if a.scope == "global"), "0.0.0.0")
        arp = _Walk("arp", ip, arp_from=(ns, dev.name))
        self.hop(arp, ns, dev.name, f"no neighbour entry for {ip}: ARP request")
        self.run(arp, _Item("tx", ns, dev.name, arp_request(dev.mac, src, ip)))
        if arp.resolved is not None:
            return arp.resolved
        if arp.drops:
            d = arp.drops[-1]
            walk.drops.append(d)
        else:
            self.drop(walk, ns, dev.name, "NEIGH_FAILED", "unanswered_arp",
                      f"nobody answered ARP for {ip} on {dev.name}",
                      (f"ip -n {ns} neigh show dev {dev.name}",), "", {"target": ip})
        return None

    # ------------------------------------------------------------------ a frame leaves

    def _tx(self, walk: _Walk, item: _Item) -> list[_Item]:
        ns, frame = item.ns, item.frame
        dev = self.device(ns, item.dev)
        if not dev.up:
            self.drop(walk, ns, dev.name, "DEV_READY", "linux_drop",
                      f"{dev.name} is down", (f"ip -n {ns} link set {dev.name} up",))
            return []
        if dev.kind == "vxlan":
            return self._vtep_tx(walk, ns, dev, frame)
        if dev.kind == "bridge":
            return self._bridge(walk, ns, dev.name, dev.name, frame)
        if dev.kind == "loopback":
            return [_Item("rx", ns, dev.name, frame)]
        peer = self._peer(ns, dev, frame)
        if peer is None:
            if dev.kind == "veth" and dev.peer is not None:
                where = dev.peer[0] or ns
                self.drop(walk, ns, dev.name, "OUT_OF_STATE", "incomplete_state",
                          f"the frame leaves {dev.name} for namespace {where}, which is not in "
                          "the saved state", (f"vxlankit state save --netns {where} ...",))
            else:
                self.drop(walk, ns, dev.name, "OUT_OF_STATE", "incomplete_state",
                          f"the frame leaves {dev.name} towards {frame.dst}, which no saved "
                          "namespace has (save the host that has it and give both folders)")
            return []
        pns, pdev = peer
        size = _l3_len(frame, item.piece)
        if size > pdev.mtu:
            # veth_xmit -> __dev_forward_skb -> is_skb_forwardable: larger than the
            # receiving end's MTU is dropped, whatever the sender's MTU allowed.
            self.hop(walk, ns, dev.name, f"veth to {pns} {pdev.name}", "", frame, item.outer,
                     item.piece)
            self._too_big(walk, pns, pdev, size, pdev.mtu, "veth peer", item.outer is not None)
            return []
        what = f"veth to {pns} {pdev.name}" if dev.kind == "veth" else f"wire to {pns} {pdev.name}"
        self.hop(walk, ns, dev.name, what, "", frame, item.outer, item.piece)
        return [_Item("rx", pns, pdev.name, frame, item.piece, item.outer)]

    def _peer(self, ns: str, dev: Device, frame: Frame) -> tuple[str, Device] | None:
        if dev.peer is not None:
            pns = dev.peer[0] or ns
            space = self.ns.get(pns)
            if space is None:
                return None
            pdev = space.by_index(dev.peer[1])
            return None if pdev is None else (pns, pdev)
        # A device with no peer (a NIC): the saved namespace with the destination MAC.
        for pns, pdev in self._by_mac.get(frame.dst, []):
            if (pns, pdev.name) != (ns, dev.name):
                return pns, pdev
        if frame.dst == BROADCAST and frame.arp is not None:
            for n in self.state.namespaces:
                owner = n.owns(frame.arp.target_ip)
                if owner is not None and (n.name, owner.name) != (ns, dev.name) \
                        and owner.peer is None and owner.kind not in ("bridge", "vxlan"):
                    return n.name, owner
        return None

    # ------------------------------------------------------------------ a frame arrives

    def _rx(self, walk: _Walk, item: _Item) -> list[_Item]:
        ns, frame = item.ns, item.frame
        dev = self.device(ns, item.dev)
        if dev.master is not None:
            return self._bridge(walk, ns, dev.master, dev.name, frame)
        return self._stack(walk, ns, dev, frame, item)

    def _bridge(self, walk: _Walk, ns: str, bridge: str, port: str,
                frame: Frame) -> list[_Item]:
        br = self.bridge(ns, bridge)
        out = br.handle(FrameReceived(port, frame), self.now)
        items: list[_Item] = []
        for o in out:
            if isinstance(o, Forwarded):
                entry = self.bridge_entry(ns, bridge, frame.dst) or \
                    f"{frame.dst} dev {o.port} master {bridge} (learned in this trace)"
                items += self._bridge_out(walk, ns, bridge, port, o.port, frame,
                                          f"{bridge}: forwards to {o.port}", entry)
            elif isinstance(o, Flooded):
                # br_handle_frame_finish: a flood goes up to the bridge's own stack only for
                # broadcast and multicast (unknown unicast is not for it: not promiscuous).
                ports = [p for p in o.ports if p != bridge or o.kind != "unknown-unicast"]
                self.hop(walk, ns, bridge, f"{bridge}: floods {o.kind} from {port} to "
                         + ", ".join(ports), "", frame)
                for p in ports:
                    items += self._bridge_out(walk, ns, bridge, port, p, frame, "", "")
            elif isinstance(o, Dropped):
                self.drop(walk, ns, bridge, o.reason.value, "linux_drop", o.detail)
        return items

    def _bridge_out(self, walk: _Walk, ns: str, bridge: str, ingress: str, port: str,
                    frame: Frame, action: str, entry: str) -> list[_Item]:
        if action:
            self.hop(walk, ns, bridge, action, entry, frame)
        if port == bridge:
            return [_Item("rx", ns, bridge, frame)] if ingress != bridge else []
        dev = self.device(ns, port)
        size = _l3_len(frame, 0)
        if size > dev.mtu:
            # br_dev_queue_push_xmit: is_skb_forwardable fails, the frame is freed.
            self._too_big(walk, ns, dev, size, dev.mtu, "bridge port", False)
            return []
        return [_Item("tx", ns, port, frame)]

    def _stack(self, walk: _Walk, ns: str, dev: Device, frame: Frame,
               item: _Item) -> list[_Item]:
        if dev.kind != "bridge" and frame.dst not in (dev.mac, BROADCAST):
            self.hop(walk, ns, dev.name, "not for this host (PACKET_OTHERHOST): ignored",
                     "", frame)
            return []
        if frame.ethertype == ETH_P_ARP and frame.arp is not None:
            return self._arp(walk, ns, dev, frame)
        if frame.ethertype != ETH_P_IP or len(frame.payload) < 20:
            self.hop(walk, ns, dev.name, "not IPv4: ignored", "", frame)
            return []
        packet = frame.payload
        dst = _dst(packet)
        if self.local(ns, dst) is not None:
            if item.outer is not None:
                return self._udp_in(walk, ns, dev, frame, item)
            self.hop(walk, ns, dev.name, f"delivered: {dst} is {ns}'s own address "
                     "(ip_local_deliver)", "", frame)
            if dst == walk.target:
                walk.delivered = f"{ns} {dev.name}"
            return []
        return self._forward(walk, ns, dev, frame, item)

    def _arp(self, walk: _Walk, ns: str, dev: Device, frame: Frame) -> list[_Item]:
        arp = frame.arp
        assert arp is not None
        if arp.opcode == ARPOP_REQUEST:
            owner = self.local(ns, arp.target_ip)
            if owner is None or owner.kind == "loopback":
                self.hop(walk, ns, dev.name, f"ARP for {arp.target_ip}: not an address of "
                         f"{ns}, ignored", "", frame)
                return []
            # arp_process: the asker is learned, and the answer goes back out of dev.
            self._neigh[(ns, dev.name, arp.sender_ip)] = (
                arp.sender_mac, f"{arp.sender_ip} dev {dev.name} lladdr {arp.sender_mac} "
                "REACHABLE (learned from its ARP request in this trace)")
            self.hop(walk, ns, dev.name, f"answers ARP: {arp.target_ip} is {ns}'s "
                     f"({owner.name})", "", frame)
            return [_Item("tx", ns, dev.name,
                          arp_reply(dev.mac, arp.target_ip, arp.sender_mac, arp.sender_ip))]
        if arp.opcode == ARPOP_REPLY and walk.arp_from == (ns, dev.name) \
                and arp.sender_ip == walk.target:
            self._neigh[(ns, dev.name, arp.sender_ip)] = (
                arp.sender_mac, f"{arp.sender_ip} dev {dev.name} lladdr {arp.sender_mac} "
                "REACHABLE (resolved in this trace)")
            self.hop(walk, ns, dev.name, f"ARP answered: {arp.sender_ip} is at "
                     f"{arp.sender_mac}", "", frame)
            walk.resolved = arp.sender_mac
            return []
        self.hop(walk, ns, dev.name, "ARP reply not asked for here: ignored", "", frame)
        return []

    def _forward(self, walk: _Walk, ns: str, dev: Device, frame: Frame,
                 item: _Item) -> list[_Item]:
        packet = frame.payload
        dst = _dst(packet)
        space = self.ns[ns]
        if not space.forwarding:
            self.drop(walk, ns, dev.name, "IP_FORWARDING_OFF", "linux_drop",
                      f"{dst} is not {ns}'s and {ns} does not forward (ip_forward=0)",
                      (f"ip netns exec {ns} sysctl -w net.ipv4.ip_forward=1",))
            return []
        route = self.route(ns, dst)
        if route is None:
            self.drop(walk, ns, dev.name, "IP_NOROUTES", "linux_drop",
                      f"no route to {dst} in {ns}")
            return []
        if packet[8] <= 1:
            self.drop(walk, ns, dev.name, "IP_TTL_EXCEEDED", "ttl_expired",
                      f"TTL {packet[8]} expired in transit to {dst}")
            return []
        egress = self.device(ns, route.dev or "")
        self.hop(walk, ns, dev.name, f"forwards (ip_forward) out of {egress.name}",
                 route.text, frame, item.outer, item.piece)
        packet = decrease_ttl(packet)
        size = item.piece or len(packet)
        piece = item.piece
        if size > egress.mtu:
            if packet[6] & 0x40:
                self._too_big(walk, ns, egress, size, egress.mtu, "router",
                              item.outer is not None)
                return []
            piece = 20 + ((egress.mtu - 20) & ~7)
            self.hop(walk, ns, egress.name, f"fragments (DF clear, ip_do_fragment): pieces of "
                     f"at most {piece} B for MTU {egress.mtu}")
        nexthop = route.gateway or dst
        mac = self.resolve(walk, ns, egress, nexthop)
        if mac is None:
            return []
        outer = item.outer
        return [_Item("tx", ns, egress.name, ip_frame(mac, egress.mac, packet), piece, outer)]

    # ------------------------------------------------------------------ VXLAN

    def _vtep_tx(self, walk: _Walk, ns: str, dev: Device, frame: Frame) -> list[_Item]:
        vt = self.vtep(ns, dev.name)
        vx = dev.vxlan
        assert vx is not None
        under = self.underlay_ns(ns, dev)
        # The route to each remote has its device's MTU: the VTEP model's path MTU check
        # (skb_tunnel_check_pmtu) compares the inner packet with it less the VXLAN headroom.
        entry_ = vt.lookup(vx.vni, frame.dst) or vt.lookup(vx.vni, ZERO_MAC)
        paths: dict[str, Device] = {}
        for remote in entry_.remotes if entry_ is not None else ():
            route = self.route(under, remote) if ":" not in remote else None
            nic = self.ns[under].device(route.dev or "") if route is not None else None
            if nic is not None:
                paths[remote] = nic
                vt.handle(PathMtu(remote, nic.mtu), self.now)
        out = vt.handle(VtepTransmit(vx.vni, frame), self.now)
        items: list[_Item] = []
        misses = [o for o in out if isinstance(o, (L2Miss, L3Miss))]
        for o in out:
            if isinstance(o, ArpProxied):
                entry = next((n.text for n in self.ns[ns].neighbours
                              if n.dev == dev.name and n.ip == o.ip), "")
                self.hop(walk, ns, dev.name, f"proxy answers ARP for {o.ip} (arp_reduce)",
                         entry, frame)
                items.append(_Item("rx", ns, dev.name, o.frame))
            elif isinstance(o, Encapsulated):
                entry = self.vxlan_fdb_entry(ns, dev.name, frame.dst) or \
                    self.vxlan_fdb_entry(ns, dev.name, ZERO_MAC) or \
                    f"{frame.dst} dev {dev.name} dst {o.ip_dst} (learned in this trace)"
                packet = encapsulated_bytes(o)[14:]
                self.hop(walk, ns, dev.name, f"encapsulates to {o.ip_dst} (vxlan_xmit_one; "
                         f"its socket is in {under})", entry, frame, o)
                sent = self.send_ip(walk, under, packet, 0, o)
                if sent is not None:
                    items.append(sent)
            elif isinstance(o, TooBig):
                remote = next(iter(paths), "")
                nic = paths[remote] if remote else dev
                self._too_big(walk, ns, dev, len(frame.payload), o.mtu, "vtep", False,
                              path=(under, nic), remote=remote)
                self.hop(walk, ns, dev.name, f"answers ICMP fragmentation needed (mtu {o.mtu}) "
                         "back into the bridge (iptunnel_pmtud_build_icmp, vxlan_encap_bypass)",
                         "", o.icmp)
                items.append(_Item("rx", ns, dev.name, o.icmp))
            elif isinstance(o, Dropped):
                self._vtep_drop(walk, ns, dev, o, misses)
        return items

    def _vtep_drop(self, walk: _Walk, ns: str, dev: Device, o: Dropped,
                   misses: Sequence[Output]) -> None:
        reason = o.reason.value
        vx = dev.vxlan
        assert vx is not None
        kind, fix, what_if, target = "linux_drop", [], "", ""
        if reason in ("ARP_REDUCE", "NEIGH_REDUCE"):
            kind = "unanswered_arp"
            target = next((m.ip for m in misses if isinstance(m, L3Miss)), "")
            owner = self._owner_mac(target) if target else None
            if owner:
                fix.append(f"ip -n {ns} neigh add {target} lladdr {owner} dev {dev.name} "
                           "nud permanent")
            if misses:
                o = Dropped(o.device, o.reason, o.frame, o.detail + "; an L3 miss "
                            "(RTM_GETNEIGH) goes to the control plane")
        elif reason == "VXLAN_NO_REMOTE":
            kind = "unknown_unicast"
            fix.append(f"bridge -n {ns} fdb append {o.frame.dst if o.frame else 'MAC'} dev "
                       f"{dev.name} dst REMOTE_VTEP self permanent")
        words = {"target": target} if kind == "unanswered_arp" and target else None
        self.drop(walk, ns, dev.name, reason, kind, o.detail, fix, what_if, words)

    def _first_dst(self, ns: str, dev: str, mac: str) -> str:
        return next((r.dst for r in self.ns[ns].fdb if r.dev == dev and r.mac == mac
                     and r.master is None and r.dst), "another host")

    def _owner_mac(self, ip: str) -> str | None:
        for n in self.state.namespaces:
            d = n.owns(ip)
            if d is not None and d.kind not in ("bridge", "loopback"):
                return d.mac
        return None

    def _udp_in(self, walk: _Walk, ns: str, dev: Device, frame: Frame,
                item: _Item) -> list[_Item]:
        o = item.outer
        packet = frame.payload
        ihl = (packet[0] & 0x0F) * 4
        dport = int.from_bytes(packet[ihl + 2:ihl + 4], "big")
        if item.piece:
            self.hop(walk, ns, dev.name, "reassembles the outer fragments (ip_defrag)")
        ports = tuple(sorted({d.vxlan.port for _, d in self.sockets(ns) if d.vxlan}))
        # The host's UDP stack decides (model/host.py): a socket on the port, or NO_SOCKET
        # and an ICMP port unreachable to the sender (__udp4_lib_rcv).
        host = Host(ns, _dst(packet), dev.mac, frame.src, ports)
        answer = host.handle(FrameReceived(dev.name, frame), self.now)
        if not any(isinstance(a, UdpDelivered) for a in answer):
            icmp = next((a.frame for a in answer if isinstance(a, Forwarded)), None)
            kind = "port_mismatch" if ports else "linux_drop"
            detail = (f"no UDP socket on port {dport} in {ns}"
                      + (f" (its vxlan sockets: {', '.join(map(str, ports))})" if ports
                         else "") + "; ICMP port unreachable goes back to " + _src(packet))
            fix: list[str] = []
            what_if = ""
            owner = next(((n, d) for n, d in self.sockets(ns) if d.vxlan), None)
            if owner is not None and owner[1].vxlan is not None:
                name, vni = owner[1].name, owner[1].vxlan.vni
                fix.append(f"recreate {name} in {owner[0]} with dstport {dport}: ip link add "
                           f"{name} type vxlan id {vni} dstport {dport} ...  (the port of a "
                           "vxlan device cannot be changed in place)")
                what_if = f"--vxlan {owner[0]}:{name}:dstport={dport}"
            self.drop(walk, ns, dev.name, "NO_SOCKET", kind, detail, fix, what_if,
                      {"peer": ns, "port": dport, "other_port": ports[0]} if ports else None)
            if icmp is not None:
                self.hop(walk, ns, dev.name, "answers ICMP port unreachable (icmp_send)", "",
                         icmp)
            return []
        socks = [(n, d) for n, d in self.sockets(ns) if d.vxlan and d.vxlan.port == dport]
        if o is None:
            self.hop(walk, ns, dev.name, f"UDP {dport} to a vxlan socket that is not VXLAN "
                     "from a VTEP: ignored", "", frame)
            return []
        match = [(n, d) for n, d in socks if d.vxlan and d.vxlan.vni == o.vni]
        tns, tdev = (match or socks)[0]
        vx = tdev.vxlan
        assert vx is not None
        vt = self.vtep(tns, tdev.name)
        dst_ip = o.ip_dst if vx.local else vt.config.local_ip  # a socket on INADDR_ANY
        ev = VxlanReceived(o.ip_src, dst_ip, o.sport, o.dport, o.vni, o.frame, o.flags, o.gbp,
                           o.reserved8, o.tos)
        self.hop(walk, ns, dev.name, f"UDP {dport}: vxlan socket of {tns} {tdev.name} "
                 "(vxlan_rcv)", tdev.text(), None, o)
        out: list[_Item] = []
        for r in vt.handle(ev, self.now):
            if isinstance(r, Decapsulated):
                self.hop(walk, tns, tdev.name, f"decapsulates VNI {r.vni} from {r.from_vtep}",
                         self.vxlan_fdb_entry(tns, tdev.name, r.frame.src), r.frame)
                out.append(_Item("rx", tns, tdev.name, r.frame))
            elif isinstance(r, Dropped):
                self._rx_drop(walk, ns, tns, tdev, r, o, socks)
        return out

    def _rx_drop(self, walk: _Walk, ns: str, tns: str, tdev: Device, r: Dropped,
                 o: Encapsulated, socks: list[tuple[str, Device]]) -> None:
        reason = r.reason.value
        vx = tdev.vxlan
        assert vx is not None
        if reason == "VXLAN_VNI_NOT_FOUND":
            served = ", ".join(str(d.vxlan.vni) for _, d in socks if d.vxlan)
            self.drop(walk, ns, f"udp/{o.dport}", reason, "vni_mismatch",
                      f"VNI {o.vni} from {o.ip_src}: no vxlan device here serves it "
                      f"(VNIs on this socket: {served})",
                      (f"recreate {tdev.name} in {tns} with id {o.vni}: ip link add "
                       f"{tdev.name} type vxlan id {o.vni} dstport {vx.port} ...  (the VNI of "
                       "a vxlan device cannot be changed in place)",),
                      f"--vxlan {tns}:{tdev.name}:vni={o.vni}")
        elif reason == "VXLAN_ENTRY_EXISTS":
            mac = r.frame.src if r.frame else "MAC"
            entry = self.vxlan_fdb_entry(tns, tdev.name, mac)
            self.drop(walk, tns, tdev.name, reason, "wrong_remote",
                      f"{r.detail}: vxlan_snoop will not move a static entry and drops the "
                      f"frame ({entry})",
                      (f"bridge -n {tns} fdb replace {mac} dev {tdev.name} dst {o.ip_src} "
                       "self permanent",
                       f"or: bridge -n {tns} fdb del {mac} dev {tdev.name} self"),
                      f"--fdb-add {tns}:{tdev.name}:{mac}:{o.ip_src}",
                      {"vtep": tns, "mac": mac, "right": o.ip_src,
                       "wrong": self._first_dst(tns, tdev.name, mac)})
        else:
            self.drop(walk, tns, tdev.name, reason, "linux_drop", r.detail)

    def _too_big(self, walk: _Walk, ns: str, dev: Device, size: int, mtu: int, where: str,
                 outer: bool, path: tuple[str, Device] | None = None,
                 remote: str = "") -> None:
        if where == "vtep" and path is not None:
            under, nic = path
            need = size + VXLAN_HEADROOM
            detail = (f"{size} B inner packet with DF: the route to the remote leaves "
                      f"{under} by {nic.name}, MTU {nic.mtu}, which carries {mtu} B inside "
                      f"VXLAN; the VTEP answers ICMP fragmentation needed (mtu {mtu}) to the "
                      "inner source (skb_tunnel_check_pmtu)")
            fix = (f"ip -n {under} link set dev {nic.name} mtu {need}   (and every underlay "
                   "link to the remote, both ends of each)",
                   f"or lower the overlay MTU to {mtu}: ip -n {ns} link set dev {dev.name} "
                   f"mtu {mtu} (and the endpoints' interfaces)")
            vt = self._vteps.get((ns, dev.name))
            self.drop(walk, ns, dev.name, "PKT_TOO_BIG", "mtu", detail, fix,
                      f"--set {under}:{nic.name}:mtu={need}",
                      {"overhead": VXLAN_HEADROOM, "size": size, "needed": need,
                       "path_mtu": nic.mtu, "inner_mtu": mtu, "remote": remote or "the remote",
                       "local": vt.config.local_ip if vt else under})
            return
        kind = "mtu"
        reason = "PKT_TOO_BIG"
        what = {"sender": "the sender's own interface (EMSGSIZE)",
                "veth peer": "the veth's receiving end (is_skb_forwardable)",
                "bridge port": "the bridge port it must leave by (br_dev_queue_push_xmit)",
                "router": "the next hop's link with DF set: ICMP fragmentation needed goes "
                          "back (ip_forward)"}[where]
        detail = f"{size} B{' (outer)' if outer else ''} over MTU {mtu} of {dev.name}: {what}"
        self.drop(walk, ns, dev.name, reason, kind, detail,
                  (f"ip -n {ns} link set dev {dev.name} mtu {size}",),
                  f"--set {ns}:{dev.name}:mtu={size}")


# ------------------------------------------------------------------ helpers

def _dst(packet: bytes) -> str:
    return ".".join(str(b) for b in packet[16:20])


def _src(packet: bytes) -> str:
    return ".".join(str(b) for b in packet[12:16])


def _l3_len(frame: Frame, piece: int) -> int:
    if piece:
        return piece
    if frame.ethertype == ETH_P_IP:
        return len(frame.payload)
    return 28 if frame.arp is not None else len(frame.payload)


def _outer(o: Encapsulated, piece: int, ttl: int | None = None) -> str:
    size = 20 + 8 + 8 + 14 + len(o.frame.payload)
    frag = f", in fragments of <= {piece} B" if piece else ""
    return (f"{o.ip_src}:{o.sport} > {o.ip_dst}:{o.dport} VXLAN VNI {o.vni}, {size} B, "
            f"ttl {o.ttl if ttl is None else ttl}{' DF' if o.df else ''}{frag}; inner "
            f"{o.frame.src} > {o.frame.dst}")


def find_source(state: NetworkState, ip: str, vni: int | None = None) -> tuple[str, Device]:
    """The namespace and device that own ``ip`` ("NS:IP" picks the namespace)."""
    want_ns = None
    if ":" in ip:
        want_ns, _, ip = ip.rpartition(":")
    try:
        ip_int(ip)
    except Exception:  # noqa: BLE001 - any parse failure is the user's bad address
        raise StateError(f"{ip!r} is not an IPv4 address") from None
    hits = []
    for n in state.namespaces:
        if want_ns is not None and n.name != state.find(want_ns).name:
            continue
        for d in n.devices:
            if d.kind != "loopback" and any(a.ip == ip for a in d.addresses):
                hits.append((n.name, d))
    if vni is not None and len(hits) > 1:
        hits = [h for h in hits if vni in _vnis_near(state, h[0], h[1])] or hits
    if not hits:
        raise StateError(f"no saved namespace has the address {ip}")
    if len(hits) > 1:
        raise StateError(f"{ip} is an address of " + ", ".join(f"{n} ({d.name})"
                                                                 for n, d in hits)
                         + ": say which with --from NAMESPACE:IP or --vni")
    return hits[0]


def _vnis_near(state: NetworkState, ns: str, dev: Device) -> set[int]:
    """The VNIs of the vxlan devices on the bridge behind ``dev`` (through its veth)."""
    found: set[int] = set()
    spaces = {n.name: n for n in state.namespaces}
    if dev.peer is not None:
        pns = spaces.get(dev.peer[0] or ns)
        peer = pns.by_index(dev.peer[1]) if pns else None
        if pns is not None and peer is not None and peer.master:
            found |= {d.vxlan.vni for d in pns.devices
                      if d.vxlan is not None and d.master == peer.master}
    space = spaces[ns]
    if dev.kind == "bridge":
        found |= {d.vxlan.vni for d in space.devices
                  if d.vxlan is not None and d.master == dev.name}
    return found


def inject(engine: TraceEngine, phase: str, ns: str, probe: Probe, *,
           reply: bool = False) -> _Walk:
    """Send ``probe`` from namespace ``ns`` and follow it to its end."""
    walk = _Walk(phase, probe.dst)
    packet = ip_packet(probe, reply=reply)
    engine.hop(walk, ns, "-", f"sends {probe.proto.upper()} {probe.src} > {probe.dst}", "",
               ip_frame("", "", packet))
    if engine.local(ns, probe.dst) is not None:
        engine.hop(walk, ns, "lo", "delivered: the destination is this namespace's own")
        walk.delivered = f"{ns} lo"
        return walk
    first = engine.send_ip(walk, ns, packet)
    if first is not None:
        engine.run(walk, first)
    return walk


__all__ = ["Drop", "Hop", "TraceEngine", "find_source", "inject"]

