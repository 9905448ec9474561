"""A Linux VXLAN device (VTEP) as a sans-IO state machine.

One ``Vtep`` stands for the vxlan devices of one host that share a UDP socket, one per VNI
(Docker creates one per overlay subnet): each VNI has its own FDB (inner MAC -> remote VTEP
IPs) and its own neighbour table (IP -> MAC, for proxy ARP and the ND proxy).

Followed from drivers/net/vxlan/vxlan_core.c (as of Linux 6.x): vxlan_rcv, vxlan_set_mac and
vxlan_snoop on the receive path; vxlan_xmit, arp_reduce, neigh_reduce/vxlan_na_create (the
IPv6 ND proxy) and vxlan_xmit_one on the transmit path; vxlan_cleanup for ageing.
docs/models.md says, for each behaviour, which function it follows and where the model
differs.

Time is ``now`` in integer nanoseconds.  The FDB is an ``AgeingTable`` (model/ageing.py): a
dynamic entry last refreshed at ``t`` is present at ``now < t + ageing_ns`` and gone at
``now >= t + ageing_ns`` (vxlan_cleanup deletes when ``time_before_eq(timeout, jiffies)``),
without the kernel's 10 s GC slack.  Receive traffic (vxlan_snoop with learning on) refreshes an
entry; transmit traffic does too only with ``tx_refreshes=True``, as before Linux 6.15 ("vxlan:
Age out FDB entries based on 'updated' time").  ``next_deadline()`` says when ``tick`` next has
work to do.

Next hops are resolved by exact remote IP, then by longest prefix (model/lpm.py).

The underlay is IPv4 or IPv6, as ``local_ip`` is (Linux: ``VXLAN_F_IPV6`` when the local or
remote address is IPv6; the device then opens an IPv6 socket only).  An IPv6 VTEP sends
Ethernet/IPv6/UDP/VXLAN with the UDP checksum computed (a zero one over IPv6 is illegal,
RFC 8200 8.1, unless ``udp6zerocsumtx``: ``udp6_zero_csum_tx``) and drops received datagrams
with a zero checksum unless ``udp6zerocsumrx`` (``udp6_zero_csum_rx``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from vxlankit.addr import ip6_str
from vxlankit.errors import EncodeError
from vxlankit.model.ageing import AgeingEntry, AgeingTable
from vxlankit.model.events import (
    ANY_IP,
    ANY_IP6,
    ARPHRD_ETHER,
    ARPHRD_IEEE802,
    ARPOP_REPLY,
    ARPOP_REQUEST,
    ETH_P_ARP,
    ETH_P_IP,
    ETH_P_IPV6,
    IANA_VXLAN_PORT,
    IPPROTO_ICMPV6,
    ND_OPT_SOURCE_LL_ADDR,
    ND_OPT_TARGET_LL_ADDR,
    NDISC_NEIGHBOUR_ADVERTISEMENT,
    NDISC_NEIGHBOUR_SOLICITATION,
    VXLAN_FLAG_D,
    VXLAN_FLAG_G,
    VXLAN_FLAG_I,
    ZERO_MAC,
    Aged,
    ArpInfo,
    ArpProxied,
    Decapsulated,
    Dropped,
    DropReason,
    Encapsulated,
    FdbAdd,
    FdbAppend,
    FdbDel,
    Frame,
    Installed,
    L2Miss,
    L3Miss,
    Learned,
    LimitReached,
    ModelError,
    Moved,
    NdInfo,
    NdProxied,
    NeighAdd,
    NeighDel,
    Output,
    PathMtu,
    Removed,
    TooBig,
    VtepInput,
    VtepTransmit,
    VxlanReceived,
)
from vxlankit.model.icmp import pmtud_icmp
from vxlankit.model.lpm import PrefixTable, canonical_ip, ip_key, ip_version

DEFAULT_AGEING_NS = 300 * 10**9  # FDB_AGE_DEFAULT: 300 s
DEFAULT_MAX_LEARNED = 4096  # Linux's maxaddress defaults to 0 (unlimited); see docs
RFC7348_SRC_PORTS = (49152, 65535)  # RFC 7348 §5: the dynamic/private range
# A device without "srcport" (port_min = port_max = 0) takes the namespace's ephemeral range,
# net.ipv4.ip_local_port_range (udp_flow_src_port -> inet_get_local_port_range): by default
# 32768-60999.  `vxlankit lab` saw the kernel use it (docs/lab.md).
LINUX_SRC_PORTS = (32768, 60999)
_ODD_NIBBLE = frozenset("13579bdfBDF")
# Bits vxlan_parse_gbp_hdr() consumes when the GBP extension is on: G, the whole second flag
# octet (D, A and the reserved bits beside them) and the 16-bit policy ID.
_GBP_FLAG_BITS = VXLAN_FLAG_G | 0x00FF
# vxlan_na_create: O always, S always, R when the FDB entry has NTF_ROUTER (never, here).
NA_FLAG_ROUTER = 0x80000000
NA_FLAG_SOLICITED = 0x40000000
NA_FLAG_OVERRIDE = 0x20000000
_IPV6_LOOPBACK = bytes(15) + b"\x01"

RxPolicy = Literal["linux", "rfc7348"]
DfPolicy = Literal["unset", "set", "inherit"]
UdpChecksum = Literal["zero", "compute"]


def _is_group(mac: str) -> bool:
    return mac[1] in _ODD_NIBBLE


def _first_octet(ip: str) -> int:
    return int(ip.partition(".")[0])


def _is_ip_multicast(ip: str) -> bool:
    if ":" in ip:  # ff00::/8: a first group of four hex digits starting "ff"
        first = ip.partition(":")[0]
        return len(first) == 4 and first[:2].lower() == "ff"
    return 224 <= _first_octet(ip) <= 239


def _group_mac(ip: str) -> str:
    """RFC 1112 §6.4: 01:00:5e followed by the low 23 bits of an IPv4 group address;
    RFC 2464 §7: 33:33 followed by the low 32 bits of an IPv6 one."""
    version, addr = ip_key(ip)
    if version == 6:
        low32 = addr & 0xFFFFFFFF
        return "33:33:" + ":".join(f"{(low32 >> s) & 0xFF:02x}" for s in (24, 16, 8, 0))
    low23 = addr & 0x7FFFFF
    return f"01:00:5e:{low23 >> 16:02x}:{(low23 >> 8) & 0xFF:02x}:{low23 & 0xFF:02x}"


def _is_ns(pkt: bytes) -> bool:
    """vxlan_xmit's test for neigh_reduce: an IPv6 header and a whole nd_msg (24 bytes)
    present, next header ICMPv6, type Neighbor Solicitation, code 0."""
    return (len(pkt) >= 64 and pkt[6] == IPPROTO_ICMPV6
            and pkt[40] == NDISC_NEIGHBOUR_SOLICITATION and pkt[41] == 0)


def _is_any(ip: str) -> bool:
    return ip == ANY_IP or ip == ANY_IP6


@dataclass(frozen=True, slots=True)
class VtepConfig:
    """How a VTEP is set up; the defaults are a plain ``ip link add type vxlan`` with RFC 7348
    choices where Linux has none of its own.  ``VtepConfig.docker(...)`` gives Docker's.

    ``local_ip`` is the outer source address and ``mac`` the underlay NIC's MAC (outer source
    MAC); ``dev_mac`` is the vxlan device's own MAC, used only to drop looped frames.
    ``next_hops`` maps a remote VTEP IP or a CIDR subnet ("192.168.1.0/24", "0.0.0.0/0") to the
    outer destination MAC: the remote itself on a shared segment, else the gateway.
    ``ttl`` 0 means the kernel's choice: 1 to a multicast group, 64 otherwise.  ``tos`` 1
    means "inherit" (copy the inner TOS); the outer ECN bits always follow the inner ones.
    ``ageing_ns`` is the FDB ageing time in nanoseconds (0: never age).  ``max_learned`` caps
    learned entries per VNI (0 = unlimited); configured ones don't count.
    An IPv6 ``local_ip`` makes the underlay IPv6: remotes, ``group`` and next hops are IPv6,
    ``udp_checksum``, ``df`` and ``ip_id_start`` do not apply (IPv6's own rules:
    ``udp6_zero_csum_tx``/``udp6_zero_csum_rx``, Linux's ``udp6zerocsumtx``/``udp6zerocsumrx``,
    both off: checksums computed, zero ones dropped), and ``flow_label`` is the outer flow label
    (``ip link ... flowlabel``, default 0).
    """

    local_ip: str
    mac: str
    name: str = "vxlan0"
    vnis: tuple[int, ...] = (4096,)
    dev_mac: str | None = None
    port: int = IANA_VXLAN_PORT
    learning: bool = True
    proxy: bool = False
    l2miss: bool = False
    l3miss: bool = False
    ageing_ns: int = DEFAULT_AGEING_NS
    max_learned: int = DEFAULT_MAX_LEARNED
    rx_policy: RxPolicy = "linux"
    gbp: bool = False
    honour_dont_learn: bool = False
    ttl: int = 0
    tos: int = 0
    df: DfPolicy = "unset"
    # vxlan_nl2conf sets VXLAN_F_UDP_ZERO_CSUM_TX only for an explicit "noudpcsum": without
    # the attribute (ip link add, Docker's libnetwork) an IPv4 device computes the checksum.
    udp_checksum: UdpChecksum = "compute"
    src_port_range: tuple[int, int] = LINUX_SRC_PORTS
    group: str | None = None
    next_hops: Mapping[str, str] = field(default_factory=dict)
    ip_id_start: int = 0
    tx_refreshes: bool = False
    udp6_zero_csum_tx: bool = False
    udp6_zero_csum_rx: bool = False
    flow_label: int = 0

    def __post_init__(self) -> None:
        # IPv6 addresses are compared as text, so they are kept as Wireshark prints them.
        object.__setattr__(self, "local_ip", canonical_ip(self.local_ip))
        if self.group is not None:
            object.__setattr__(self, "group", canonical_ip(self.group))
        try:
            ip_key(self.local_ip)
        except EncodeError:
            raise ModelError(f"local_ip {self.local_ip!r} is not an IPv4 or IPv6 address"
                             ) from None
        if self.rx_policy not in ("linux", "rfc7348"):
            raise ModelError(f"rx_policy must be 'linux' or 'rfc7348', not {self.rx_policy!r}")
        if self.df not in ("unset", "set", "inherit"):
            raise ModelError(f"df must be 'unset', 'set' or 'inherit', not {self.df!r}")
        if self.udp_checksum not in ("zero", "compute"):
            raise ModelError(f"udp_checksum must be 'zero' or 'compute', not "
                             f"{self.udp_checksum!r}")
        lo, hi = self.src_port_range
        if not 0 < lo <= hi <= 0xFFFF:
            raise ModelError(f"bad src_port_range {self.src_port_range}")
        if not self.vnis or any(not 0 <= v < 1 << 24 for v in self.vnis):
            raise ModelError(f"VNIs must be 24-bit integers, got {self.vnis}")
        if self.honour_dont_learn and not self.gbp:
            raise ModelError("honour_dont_learn needs the GBP extension (gbp=True)")
        if not isinstance(self.ageing_ns, int):
            raise ModelError(f"ageing_ns is integer nanoseconds, not {self.ageing_ns!r}")
        if self.ageing_ns < 0 or self.max_learned < 0 or not 0 <= self.ttl <= 255:
            raise ModelError("ageing_ns and max_learned must be >= 0, ttl within 0..255")
        if self.group is not None:
            if ip_version(self.group) != ip_version(self.local_ip):
                raise ModelError(f"group {self.group} and local_ip {self.local_ip} are of "
                                 "different address families")
            if not _is_ip_multicast(self.group):
                raise ModelError(f"group {self.group} is not a multicast address")
        if not 0 <= self.flow_label <= 0xFFFFF:
            raise ModelError(f"flow_label must be 20 bits, not {self.flow_label}")

    @property
    def ipv6(self) -> bool:
        """True for an IPv6 underlay (``local_ip`` is IPv6): Linux's ``VXLAN_F_IPV6``."""
        return ":" in self.local_ip

    @classmethod
    def docker(
        cls,
        local_ip: str,
        mac: str,
        vnis: tuple[int, ...] = (4096,),
        **overrides: object,
    ) -> VtepConfig:
        """Docker's overlay driver: ``learning proxy l2miss l3miss dstport 4789``.

        libnetwork's createVxlan (drivers/overlay/ov_utils.go) sets Learning, Proxy, L2miss
        and L3miss to true and no ageing, TTL, TOS, checksum or source-port range of its own.
        """
        settings: dict[str, object] = {
            "learning": True,
            "proxy": True,
            "l2miss": True,
            "l3miss": True,
            "port": IANA_VXLAN_PORT,
        }
        settings.update(overrides)
        return cls(local_ip, mac, vnis=vnis, **settings)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class FdbEntry:
    """A read-only view of one FDB entry."""

    vni: int
    mac: str
    remotes: tuple[str, ...]
    static: bool
    learned: bool
    last_seen: int


class _Entry(AgeingEntry):
    __slots__ = ("remotes", "learned")

    def __init__(self, remotes: list[str], static: bool, learned: bool, seen: int) -> None:
        self.remotes = remotes
        self.static = static
        self.learned = learned  # made by vxlan_snoop, so it counts against max_learned
        self.seen = seen


_Key = tuple[int, str]  # (VNI, MAC): one ageing table holds the FDBs of every VNI


class Vtep:
    """The VTEP.  ``handle(event, now)`` and ``tick(now)`` return lists of outputs;
    ``next_deadline()`` is the earliest ``now`` at which ``tick`` would return any."""

    __slots__ = (
        "config",
        "name",
        "_fdb",
        "_neigh",
        "_n_learned",
        "_ip_id",
        "_exact_hops",
        "_prefix_hops",
        "_hop_cache",
        "_port_lo",
        "_port_span",
        "_sport_cache",
        "_tos_inherit",
        "_tos_base",
        "_df_mode",
        "_v6",
        "_pmtu",
    )

    def __init__(self, config: VtepConfig) -> None:
        self.config = config
        self.name = config.name
        # The FDB of every VNI, keyed (vni, mac); the VNIs served are the keys of _n_learned.
        self._fdb: AgeingTable[_Key, _Entry] = AgeingTable(config.ageing_ns)
        self._neigh: dict[int, dict[str, str]] = {vni: {} for vni in config.vnis}
        self._n_learned: dict[int, int] = {vni: 0 for vni in config.vnis}
        self._ip_id = config.ip_id_start & 0xFFFF
        self._exact_hops: dict[str, str] = {}
        self._prefix_hops: PrefixTable[str] = PrefixTable()
        # remote -> (outer destination MAC, default TTL), or None when there is no next hop.
        self._hop_cache: dict[str, tuple[str, int] | None] = {}
        for key, mac in config.next_hops.items():
            if "/" in key:
                try:
                    self._prefix_hops.add(key, mac)
                except EncodeError as exc:
                    raise ModelError(f"bad prefix in next hop {key!r}: {exc.message}") from None
            else:
                self._exact_hops[canonical_ip(key)] = mac
        lo, hi = config.src_port_range
        self._port_lo = lo
        self._port_span = hi - lo + 1
        # Flow key -> UDP source port.  Captures repeat a few flows many times, so the hash is
        # computed once per flow; the cache is emptied when full to keep memory bounded.
        self._sport_cache: dict[tuple[object, ...], int] = {}
        self._tos_inherit = config.tos == 1
        self._tos_base = config.tos
        self._df_mode = ("unset", "set", "inherit").index(config.df)
        self._v6 = config.ipv6
        # remote -> the path MTU the host's route cache holds for it (PathMtu events).
        self._pmtu: dict[str, int] = {}
        if config.group is not None:
            # The device's "group" is its default destination: the kernel keeps it as the
            # all-zeros FDB entry (vxlan_dev_configure), and so does the model.
            for vni in config.vnis:
                self._fdb.put((vni, ZERO_MAC), _Entry([config.group], True, False, 0))

    def add_vni(self, vni: int) -> None:
        """Serve one more VNI (``ip link add ... id VNI`` for a device per VNI, or a VNI added
        to a collect-metadata device): empty tables, the device's settings."""
        if vni in self._n_learned:
            return
        if not 0 <= vni < 1 << 24:
            raise ModelError(f"{self.name}: VNI {vni} is not a 24-bit integer")
        self.config = replace(self.config, vnis=(*self.config.vnis, vni))
        self._neigh[vni] = {}
        self._n_learned[vni] = 0
        if self.config.group is not None:
            self._fdb.put((vni, ZERO_MAC), _Entry([self.config.group], True, False, 0))

    # ------------------------------------------------------------------ queries

    def fdb(self, vni: int) -> dict[str, FdbEntry]:
        """The FDB of ``vni``, MAC -> entry (one pass over every VNI's entries: for all of
        them, ``fdbs()``)."""
        self._check_vni(vni)
        return {mac: self._view(v, mac, e) for (v, mac), e in self._fdb.items() if v == vni}

    def fdbs(self) -> dict[int, dict[str, FdbEntry]]:
        """Every VNI's FDB, VNI -> MAC -> entry, in one pass."""
        tables: dict[int, dict[str, FdbEntry]] = {vni: {} for vni in self._n_learned}
        for (vni, mac), e in self._fdb.items():
            tables[vni][mac] = self._view(vni, mac, e)
        return tables

    def lookup(self, vni: int, mac: str) -> FdbEntry | None:
        self._check_vni(vni)
        entry = self._fdb.get((vni, mac))
        return None if entry is None else self._view(vni, mac, entry)

    def neighbours(self, vni: int) -> dict[str, str]:
        if vni not in self._neigh:
            raise ModelError(f"{self.name}: no VNI {vni}")
        return dict(self._neigh[vni])

    def learned_count(self, vni: int) -> int:
        return self._n_learned[vni]

    @staticmethod
    def _view(vni: int, mac: str, e: _Entry) -> FdbEntry:
        return FdbEntry(vni, mac, tuple(e.remotes), e.static, e.learned, e.seen)

    def _check_vni(self, vni: int) -> None:
        if vni not in self._n_learned:
            raise ModelError(f"{self.name}: no VNI {vni}")

    # ------------------------------------------------------------------ events

    def next_deadline(self) -> int | None:
        """The earliest ``now`` at which ``tick(now)`` would age an entry out (the ageing
        deadline of the oldest dynamic entry), or None while nothing can age.  Like aioquic's
        ``get_timer()``: a caller with a clock ticks then, or at its next event."""
        return self._fdb.next_deadline()

    def tick(self, now: int) -> list[Output]:
        """Age the tables without traffic."""
        out: list[Output] = []
        if now >= self._fdb.bound:
            self._expire(now, out)
        return out

    def handle(self, event: VtepInput, now: int) -> list[Output]:
        out: list[Output] = []
        if now >= self._fdb.bound:
            self._expire(now, out)
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise ModelError(f"{self.name}: not a VTEP event: {event!r}")
        handler(self, event, now, out)
        return out

    def _neigh_add(self, ev: NeighAdd, now: int, out: list[Output]) -> None:
        neigh = self._neigh_table(ev.vni)
        ip = canonical_ip(ev.ip)  # IPv6 neighbours are kept as Wireshark prints them
        if neigh.get(ip) != ev.mac:
            neigh[ip] = ev.mac
            out.append(Installed(self.name, "neigh", ev.vni, ip, ev.mac, True, now,
                                 ev.reason))

    def _neigh_del(self, ev: NeighDel, now: int, out: list[Output]) -> None:
        neigh = self._neigh_table(ev.vni)
        ip = canonical_ip(ev.ip)
        mac = neigh.pop(ip, None)
        if mac is not None:
            out.append(Removed(self.name, "neigh", ev.vni, ip, mac, now, ev.reason))

    def _neigh_table(self, vni: int) -> dict[str, str]:
        neigh = self._neigh.get(vni)
        if neigh is None:
            raise ModelError(f"{self.name}: no VNI {vni}")
        return neigh

    # ------------------------------------------------------------------ receive path

    def _receive(self, ev: VxlanReceived, now: int, out: list[Output]) -> None:
        cfg = self.config
        frame = ev.frame
        if ev.dport != cfg.port:
            out.append(Dropped(self.name, DropReason.UDP_NO_SOCKET, frame,
                               f"UDP port {ev.dport} is not the VXLAN port {cfg.port}"))
            return
        if (ev.dst_ip != cfg.local_ip and ev.dst_ip != cfg.group
                and canonical_ip(ev.dst_ip) not in (cfg.local_ip, cfg.group)):
            out.append(Dropped(self.name, DropReason.OTHERHOST, frame,
                               f"outer destination {ev.dst_ip} is not {cfg.local_ip}"))
            return
        if ev.udp_checksum == 0 and self._v6 and not cfg.udp6_zero_csum_rx:
            # __udp6_lib_rcv: a zero checksum is an error over IPv6 (RFC 8200 8.1) unless the
            # socket allows it (udp6zerocsumrx sets no_check6_rx).
            out.append(Dropped(self.name, DropReason.UDP_CSUM, frame,
                               "zero UDP checksum over IPv6 (udp6zerocsumrx is off)"))
            return
        flags = ev.flags
        # vxlan_rcv: "VNI flag always required to be set".  RFC 7348 §5 agrees in substance:
        # I=1 is what makes the VNI valid, so a packet without it has no network to go to.
        if not flags & VXLAN_FLAG_I:
            out.append(Dropped(self.name, DropReason.VXLAN_INVALID_HDR, frame,
                               f"I flag clear (vxlan.flags 0x{flags:04x})"))
            return
        if ev.vni not in self._n_learned:
            out.append(Dropped(self.name, DropReason.VXLAN_VNI_NOT_FOUND, frame,
                               f"no vxlan device for VNI {ev.vni}"))
            return
        if cfg.rx_policy == "linux":
            rest_flags = flags & ~VXLAN_FLAG_I
            rest_gbp = ev.gbp
            if cfg.gbp:
                rest_flags &= ~_GBP_FLAG_BITS
                rest_gbp = 0
            if rest_flags or rest_gbp or ev.reserved8:
                out.append(Dropped(
                    self.name, DropReason.VXLAN_INVALID_HDR, frame,
                    f"reserved bits set (vxlan.flags 0x{flags:04x}, vxlan.gbp 0x{ev.gbp:04x},"
                    f" vxlan.reserved8 0x{ev.reserved8:02x}); Linux drops what RFC 7348 ignores",
                ))
                return

        src = frame.src
        if src == cfg.dev_mac:
            out.append(Dropped(self.name, DropReason.LOCAL_MAC, frame,
                               f"inner source {src} is this device's own MAC: a loop"))
            return
        dont_learn = (cfg.honour_dont_learn and flags & VXLAN_FLAG_G != 0
                      and flags & VXLAN_FLAG_D != 0)
        if cfg.learning and not dont_learn:
            if _is_group(src) or src == ZERO_MAC:
                out.append(Dropped(self.name, DropReason.MAC_INVALID_SOURCE, frame,
                                   f"inner source {src} is not unicast (vxlan_snoop)"))
                return
            if not self._snoop(ev.vni, src, ev.src_ip, now, frame, out):
                return

        # vxlan_ecn_decapsulate / INET_ECN_decapsulate: congestion marked on the way over
        # cannot be passed on to an inner packet that does not do ECN, so it is dropped.
        ip = frame.ip
        if ev.tos & 3 == 3 and ip is not None and ip.tos & 3 == 0:
            out.append(Dropped(self.name, DropReason.IP_TUNNEL_ECN, frame,
                               "outer ECN CE over a not-ECT inner packet"))
            return
        out.append(Decapsulated(self.name, ev.vni, frame, ev.src_ip))

    def _snoop(self, vni: int, mac: str, remote: str, now: int, frame: Frame,
               out: list[Output]) -> bool:
        """vxlan_snoop: learn or refresh ``mac`` -> ``remote``.  False: drop the packet."""
        key = (vni, mac)
        entry = self._fdb.get(key)
        if entry is not None:
            first = entry.remotes[0]
            if first == remote:
                entry.seen = now
                return True
            if entry.static:
                out.append(Dropped(
                    self.name, DropReason.VXLAN_ENTRY_EXISTS, frame,
                    f"{mac} is statically behind {first}; not migrated to {remote}",
                ))
                return False
            entry.remotes[0] = remote
            entry.seen = now
            out.append(Moved(self.name, vni, mac, first, remote, now, "vxlan_snoop"))
            return True
        limit = self.config.max_learned
        if limit and self._n_learned[vni] >= limit:
            out.append(LimitReached(self.name, vni, mac, limit, now))
            return True
        self._fdb.put(key, _Entry([remote], False, True, now))
        self._n_learned[vni] += 1
        out.append(Learned(self.name, vni, mac, remote, now, "vxlan_snoop"))
        return True

    # ------------------------------------------------------------------ transmit path

    def _transmit(self, ev: VtepTransmit, now: int, out: list[Output]) -> None:
        cfg = self.config
        vni = ev.vni
        frame = ev.frame
        if vni not in self._n_learned:
            raise ModelError(f"{self.name}: no VNI {vni}")
        if cfg.proxy:
            if frame.ethertype == ETH_P_ARP:
                self._arp_reduce(vni, frame, now, out)
                return
            if frame.ethertype == ETH_P_IPV6 and _is_ns(frame.payload):
                self._neigh_reduce(vni, frame, now, out)
                return
        dst = frame.dst
        fdb = self._fdb
        entry = fdb.get((vni, dst))
        if entry is None:
            entry = fdb.get((vni, ZERO_MAC))
            if entry is None:
                if cfg.l2miss and not _is_group(dst):
                    out.append(L2Miss(self.name, vni, dst, now))
                out.append(Dropped(self.name, DropReason.VXLAN_NO_REMOTE, frame,
                                   f"no FDB entry for {dst} and no default entry"))
                return
        elif cfg.tx_refreshes:
            entry.seen = now
        self._encapsulate(vni, frame, entry.remotes, out)

    def _arp_reduce(self, vni: int, frame: Frame, now: int, out: list[Output]) -> None:
        """arp_reduce: with ``proxy`` on, every ARP frame is consumed here, answered or not."""
        arp = frame.arp
        if arp is None:
            out.append(Dropped(self.name, DropReason.ARP_REDUCE, frame,
                               "ARP frame with no readable ARP body"))
            return
        if (arp.hw_type not in (ARPHRD_ETHER, ARPHRD_IEEE802) or arp.proto_type != ETH_P_IP
                or arp.opcode != ARPOP_REQUEST or arp.hw_size != 6 or arp.proto_size != 4):
            out.append(Dropped(self.name, DropReason.ARP_REDUCE, frame,
                               f"ARP opcode {arp.opcode} is not an Ethernet/IPv4 request; "
                               "proxy mode consumes it"))
            return
        tip = arp.target_ip
        octet = _first_octet(tip)
        if octet == 127 or 224 <= octet <= 239:
            out.append(Dropped(self.name, DropReason.ARP_REDUCE, frame,
                               f"ARP for loopback/multicast {tip}"))
            return
        mac = self._proxied_neighbour(vni, tip, DropReason.ARP_REDUCE, "the request", frame,
                                      now, out)
        if mac is None:
            return
        # arp_create(ARPOP_REPLY, ETH_P_ARP, sip, dev, tip, sha, n->ha, sha): the reply goes
        # to the requester's ARP sender address, from the neighbour's MAC.
        reply = Frame(
            arp.sender_mac,
            mac,
            ETH_P_ARP,
            arp=ArpInfo(ARPOP_REPLY, mac, tip, arp.sender_mac, arp.sender_ip),
        )
        out.append(ArpProxied(self.name, vni, tip, mac, reply))

    def _proxied_neighbour(self, vni: int, target: str, reason: DropReason, what: str,
                           frame: Frame, now: int, out: list[Output]) -> str | None:
        """The MAC a proxy answer names for ``target`` (arp_reduce and neigh_reduce alike):
        None, with the drop (and an L3 miss) in ``out``, when there is no neighbour entry or
        the neighbour is local to the bridge; its FDB entry refreshed when the config says."""
        cfg = self.config
        mac = self._neigh[vni].get(target)
        if mac is None:
            if cfg.l3miss:
                out.append(L3Miss(self.name, vni, target, now))
            out.append(Dropped(self.name, reason, frame,
                               f"no neighbour entry for {target}; {what} is not flooded"))
            return None
        entry = self._fdb.get((vni, mac))
        if entry is not None:
            if cfg.tx_refreshes:
                entry.seen = now
            if _is_any(entry.remotes[0]):
                out.append(Dropped(self.name, reason, frame,
                                   f"{target} is a bridge-local neighbour"))
                return None
        return mac

    def _neigh_reduce(self, vni: int, frame: Frame, now: int, out: list[Output]) -> None:
        """neigh_reduce: with ``proxy`` on, every Neighbor Solicitation (ICMPv6 type 135 code 0
        right after the IPv6 header) is consumed here, answered or not."""
        pkt = frame.payload
        target = ip6_str(pkt[48:64])
        if pkt[24:40] == _IPV6_LOOPBACK or pkt[48] == 0xFF:
            out.append(Dropped(self.name, DropReason.NEIGH_REDUCE, frame,
                               f"NS to loopback or for multicast target {target}"))
            return
        mac = self._proxied_neighbour(vni, target, DropReason.NEIGH_REDUCE, "the NS", frame,
                                      now, out)
        if mac is None:
            return
        # vxlan_na_create: to the NS's source link-layer address option (else its Ethernet
        # source), from the neighbour's MAC; an option of length 0 makes no reply.
        dst_mac = frame.src
        opts = pkt[64:]
        i = 0
        while i < len(opts) - 1:
            olen = opts[i + 1]
            if olen == 0:
                out.append(Dropped(self.name, DropReason.NEIGH_REDUCE, frame,
                                   "NS option of length 0: vxlan_na_create makes no reply"))
                return
            if opts[i] == ND_OPT_SOURCE_LL_ADDR:
                dst_mac = opts[i + 2:i + 8].hex(":")
                break
            i += olen << 3
        nd = NdInfo(
            target, ip6_str(pkt[8:24]), NDISC_NEIGHBOUR_ADVERTISEMENT, target,
            NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE, ND_OPT_TARGET_LL_ADDR, mac,
            255, ((pkt[0] << 4) | (pkt[1] >> 4)) & 0xF0,
        )
        out.append(NdProxied(self.name, vni, target, mac,
                             Frame(dst_mac, mac, ETH_P_IPV6, nd=nd)))

    def _encapsulate(self, vni: int, frame: Frame, remotes: list[str],
                     out: list[Output]) -> None:
        """vxlan_xmit_one for each remote (head-end replication: one copy per remote)."""
        ip = frame.ip
        if ip is not None:
            key: tuple[object, ...] = (ip.src, ip.dst, ip.proto, ip.sport, ip.dport)
            inner_tos = ip.tos
        else:
            key = (frame.src, frame.dst, frame.ethertype)
            inner_tos = 0
        sport = self._sport_cache.get(key)
        if sport is None:
            sport = self._source_port(key)
            if len(self._sport_cache) >= 65536:
                self._sport_cache.clear()
            self._sport_cache[key] = sport
        tos = inner_tos if self._tos_inherit else self._tos_base
        # INET_ECN_encapsulate: the outer ECN field copies the inner one, except that CE
        # becomes ECT(0) so that a congestion mark is not applied twice.
        ecn = inner_tos & 3
        tos = (tos & 0xFC) | (2 if ecn == 3 else ecn)
        df_mode = self._df_mode
        if df_mode == 0:
            df = False
        elif df_mode == 1:
            df = True
        else:  # inherit: IPv6 is never fragmented on the way, IPv4 copies its DF bit
            df = frame.ethertype == ETH_P_IPV6 or (ip is not None and ip.df)
        cfg = self.config
        hops = self._hop_cache
        v6 = self._v6
        for remote in remotes:
            if remote == ANY_IP or remote == ANY_IP6:
                out.append(Dropped(self.name, DropReason.VXLAN_NO_REMOTE, frame,
                                   f"FDB remote is {remote} (vxlan_xmit_one)"))
                continue
            if (":" in remote) != v6:
                # vxlan_sock_add opens a socket of the device's family only.
                family = "IPv4" if v6 else "IPv6"
                out.append(Dropped(self.name, DropReason.UDP_NO_SOCKET, frame,
                                   f"FDB remote {remote} is {family}; this VTEP has no "
                                   f"{family} socket (local {cfg.local_ip})"))
                continue
            if remote in hops:
                hop = hops[remote]
            else:
                hop = hops[remote] = self._resolve_next_hop(remote)
            if hop is None:
                out.append(Dropped(self.name, DropReason.NO_NEXT_HOP, frame,
                                   f"no next-hop MAC configured for {remote}"))
                continue
            if self._pmtu and remote in self._pmtu:
                # skb_tunnel_check_pmtu: the route's MTU less the VXLAN headroom is what an
                # inner packet may be; a bridged IPv4 one with DF is answered by the VTEP
                # itself (vxlan_encap_bypass back into the bridge) instead of being sent.
                mtu = self._pmtu[remote] - (70 if v6 else 50)
                if len(frame.payload) > mtu:
                    icmp = pmtud_icmp(frame, mtu)
                    if icmp is not None:
                        out.append(TooBig(self.name, vni, mtu, frame, icmp))
                        continue
                    if df and not v6:
                        out.append(Dropped(self.name, DropReason.PKT_TOO_BIG, frame,
                                           f"{len(frame.payload)} bytes, path MTU to {remote} "
                                           f"{self._pmtu[remote]}, outer DF set"))
                        continue
            if v6:
                # vxlan6_xmit: udp_tunnel6_xmit_skb with the checksum on unless
                # udp6zerocsumtx; no ID, no DF; the hop limit as the TTL; the flow label.
                out.append(Encapsulated(
                    self.name, vni, frame, cfg.mac, hop[0], cfg.local_ip, remote, 0,
                    cfg.ttl or hop[1], tos, False, sport, cfg.port,
                    "zero" if cfg.udp6_zero_csum_tx else "compute",
                    flow_label=cfg.flow_label,
                ))
                continue
            ip_id = self._ip_id
            self._ip_id = (ip_id + 1) & 0xFFFF
            out.append(Encapsulated(
                self.name, vni, frame, cfg.mac, hop[0], cfg.local_ip, remote, ip_id,
                cfg.ttl or hop[1], tos, df, sport, cfg.port, cfg.udp_checksum,
            ))

    def _path_mtu(self, ev: PathMtu, now: int, out: list[Output]) -> None:
        """The host's route to a remote learned a smaller path MTU (ipv4_update_pmtu keeps the
        smaller of the two)."""
        remote = canonical_ip(ev.remote)
        known = self._pmtu.get(remote)
        if known is None or ev.mtu < known:
            self._pmtu[remote] = ev.mtu

    def _resolve_next_hop(self, remote: str) -> tuple[str, int] | None:
        """Outer destination MAC and the TTL (hop limit) the kernel would pick (vxlan_xmit_one:
        1 towards a multicast group, else the route's hop limit, 64 by default)."""
        try:
            version, addr = ip_key(remote)
        except EncodeError:
            raise ModelError(f"{self.name}: remote {remote!r} is not an IPv4 or IPv6 address"
                             ) from None
        if _is_ip_multicast(remote):
            return _group_mac(remote), 1
        mac = self._exact_hops.get(remote)
        if mac is None:
            mac = self._prefix_hops.lookup(addr, version)
        return None if mac is None else (mac, 64)

    def _source_port(self, key: tuple[object, ...]) -> int:
        """RFC 7348 §5: a hash of the inner flow, spread over the configured range.

        Linux hashes with skb_get_hash() (a seeded jhash of the flow dissector's keys, or the
        inner Ethernet header when there is no flow); a model must be reproducible, so CRC-32
        of the same keys stands in, mapped into the range the way udp_flow_src_port() does.
        The hashed text is ``"src>dst/proto:sport>dport"`` for IPv4 (ports ``None`` when not
        UDP/TCP) and ``"srcmac>dstmac/ethertype"`` (ethertype as 4 hex digits) otherwise.
        """
        if len(key) == 5:
            text = f"{key[0]}>{key[1]}/{key[2]}:{key[3]}>{key[4]}"
        else:
            text = f"{key[0]}>{key[1]}/{key[2]:04x}"
        h = zlib.crc32(text.encode())
        return self._port_lo + ((h * self._port_span) >> 32)

    # ------------------------------------------------------------------ configuration

    def _fdb_add(self, ev: FdbAdd, now: int, out: list[Output]) -> None:
        self._check_vni(ev.vni)
        key = (ev.vni, ev.mac)
        remote = canonical_ip(ev.remote)
        entry = self._fdb.get(key)
        if entry is None:
            entry = _Entry([remote], ev.static, False, now)
        else:
            if entry.remotes == [remote] and entry.static == ev.static and not entry.learned:
                return
            if entry.learned:
                self._n_learned[ev.vni] -= 1
            entry.remotes = [remote]
            entry.static = ev.static
            entry.learned = False
            entry.seen = now
        self._fdb.put(key, entry)  # a static entry may have become dynamic
        out.append(Installed(self.name, "fdb", ev.vni, ev.mac, remote, ev.static, now,
                             ev.reason))

    def _fdb_append(self, ev: FdbAppend, now: int, out: list[Output]) -> None:
        self._check_vni(ev.vni)
        key = (ev.vni, ev.mac)
        remote = canonical_ip(ev.remote)
        entry = self._fdb.get(key)
        if entry is None:
            self._fdb.put(key, _Entry([remote], True, False, now))
            static = True
        elif remote in entry.remotes:
            return
        else:
            entry.remotes.append(remote)
            static = entry.static
        out.append(Installed(self.name, "fdb", ev.vni, ev.mac, remote, static, now,
                             ev.reason))

    def _fdb_del(self, ev: FdbDel, now: int, out: list[Output]) -> None:
        self._check_vni(ev.vni)
        key = (ev.vni, ev.mac)
        entry = self._fdb.get(key)
        if entry is None:
            return
        remote = None if ev.remote is None else canonical_ip(ev.remote)
        if remote is None:
            gone = list(entry.remotes)
            entry.remotes.clear()
        elif remote in entry.remotes:
            gone = [remote]
            entry.remotes.remove(remote)
        else:
            return
        if not entry.remotes:
            self._fdb.pop(key)
            if entry.learned:
                self._n_learned[ev.vni] -= 1
        for remote in gone:
            out.append(Removed(self.name, "fdb", ev.vni, ev.mac, remote, now, ev.reason))

    # ------------------------------------------------------------------ ageing

    def _expire(self, now: int, out: list[Output]) -> None:
        """vxlan_cleanup, without its GC interval: every VNI's due entries, oldest first, then
        by VNI and MAC.  (Ageing 0 never gets here: vxlan_open() starts no GC timer.)"""
        for deadline, (vni, mac), entry in self._fdb.expire(now):
            if entry.learned:
                self._n_learned[vni] -= 1
            for remote in entry.remotes:
                out.append(Aged(self.name, vni, mac, remote, entry.seen, deadline, now))


# Event type -> handler, as aioquic's connection and h11 dispatch: exact types only.
_HANDLERS: dict[type, Callable[[Vtep, Any, int, list[Output]], None]] = {
    VtepTransmit: Vtep._transmit,
    VxlanReceived: Vtep._receive,
    FdbAdd: Vtep._fdb_add,
    FdbAppend: Vtep._fdb_append,
    FdbDel: Vtep._fdb_del,
    NeighAdd: Vtep._neigh_add,
    NeighDel: Vtep._neigh_del,
    PathMtu: Vtep._path_mtu,
}


__all__ = ["Vtep", "VtepConfig", "FdbEntry", "DEFAULT_AGEING_NS", "DEFAULT_MAX_LEARNED",
           "RFC7348_SRC_PORTS", "LINUX_SRC_PORTS"]
