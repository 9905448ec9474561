"""Hand-built overlay frames and multi-tap captures for the diagnosis tests: each test builds
exactly the evidence one kind needs, with vxlankit.build (lengths and checksums filled in)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vxlankit import build, encode
from vxlankit.capture.writer import PcapngWriter
from vxlankit.layers.arp import OP_REPLY, OP_REQUEST
from vxlankit.replay import replay

T0 = 1_700_000_000 * 10**9
N1, N2, ROUTER = "172.31.1.10", "192.168.1.10", "192.168.1.1"
C1, C2 = "10.0.0.3", "10.0.0.4"
MAC1, MAC2 = "02:42:0a:00:00:03", "02:42:0a:00:00:04"
ETH_N1, ETH_N2 = "02:00:00:00:01:10", "02:00:00:00:02:10"
TAPS = ("node1/veth-C1", "node1/eth0", "node2/eth0", "node2/veth-C2")


def echo(src: str = C1, dst: str = C2, seq: int = 1, *, reply: bool = False,
         src_mac: str = MAC1, dst_mac: str = MAC2, ttl: int = 64, size: int = 56,
         ident: int = 7) -> bytes:
    return encode([build.eth(dst=dst_mac, src=src_mac),
                   build.ipv4(src=src, dst=dst, ttl=ttl, df=not reply),
                   build.icmp_echo(ident, seq, reply=reply), build.payload(bytes(size))])


def arp(op: int, sender_mac: str, sender_ip: str, target_ip: str,
        target_mac: str = "00:00:00:00:00:00") -> bytes:
    dst = "ff:ff:ff:ff:ff:ff" if op == OP_REQUEST else target_mac
    return encode([build.eth(dst=dst, src=sender_mac),
                   build.arp(op, sender_mac, sender_ip, target_mac, target_ip)])


def vxlan(inner: bytes, src: str = N1, dst: str = N2, *, vni: int = 4096, sport: int = 50000,
          dport: int = 4789, df: bool = False, ttl: int = 64, ident: int = 1,
          flags: int = 0x0800) -> bytes:
    return encode([build.eth(dst=ETH_N2, src=ETH_N1),
                   build.ipv4(src=src, dst=dst, df=df, ttl=ttl, id=ident),
                   build.udp(sport, dport, checksum=0), build.vxlan(vni, flags=flags),
                   build.payload(inner)])


def icmp_error(offender: bytes, reporter: str, to: str, icmp_type: int, code: int,
               rest: bytes = bytes(4), *, src_mac: str = ETH_N2,
               dst_mac: str = ETH_N1) -> bytes:
    """An ICMP error about ``offender`` (an Ethernet frame), quoting as Linux does: as much
    of the IP packet as fits in 576 bytes."""
    quoted = offender[14:14 + 548]
    return encode([build.eth(dst=dst_mac, src=src_mac), build.ipv4(src=reporter, dst=to),
                   build.icmp(icmp_type, code, rest), build.payload(quoted)])


REQUEST, REPLY = OP_REQUEST, OP_REPLY


def write(path: Path, packets: list[tuple[str, bytes]], taps: tuple[str, ...] = TAPS) -> str:
    """A pcapng with one interface per tap; ``packets`` are (tap, frame), 1 ms apart."""
    with PcapngWriter(str(path), userappl="tests") as ng:
        ids = {t: ng.add_interface(t, 1, tsresol=10**9) for t in taps}
        for i, (tap, data) in enumerate(packets):
            ng.write(data, T0 + i * 10**6, ids[tap])
    return str(path)


def diagnoses(path: str) -> list[dict[str, Any]]:
    return list(replay(path).to_json()["diagnoses"])


def kinds(path: str) -> dict[str, str]:
    """kind -> its most severe severity."""
    found: dict[str, str] = {}
    for d in diagnoses(path):
        found.setdefault(d["kind"], d["severity"])
    return found


def of_kind(path: str, kind: str) -> list[dict[str, Any]]:
    return [d for d in diagnoses(path) if d["kind"] == kind]
