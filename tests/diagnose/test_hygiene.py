"""checksum_offload and low_entropy from hand-built captures."""

from __future__ import annotations

from pathlib import Path

from tests.diagnose.frames import C1, C2, MAC1, MAC2, N1, N2, kinds, of_kind, vxlan, write
from vxlankit import build, encode


def _udp(src: str, dst: str, sport: int, checksum: int | None) -> bytes:
    """A UDP datagram, its checksum computed, or ``checksum`` written over it."""
    smac, dmac = (MAC1, MAC2) if src == C1 else (MAC2, MAC1)
    frame = bytearray(encode([build.eth(dst=dmac, src=smac), build.ipv4(src=src, dst=dst),
                              build.udp(sport, 53), build.payload(b"q" * 12)]))
    if checksum is not None:
        frame[40:42] = checksum.to_bytes(2, "big")
    return bytes(frame)


def test_bad_checksums_only_on_what_one_host_sent_is_offload(tmp_path: Path) -> None:
    frames = [("node1/eth0", vxlan(_udp(C1, C2, 1000 + i, 0x1234), sport=50000 + i))
              for i in range(3)]
    frames += [("node1/eth0", vxlan(_udp(C2, C1, 2000 + i, None), N2, N1)) for i in range(2)]
    path = write(tmp_path / "offload.pcapng", frames, ("node1/eth0",))
    (found,) = of_kind(path, "checksum_offload")
    assert found["severity"] == "info"
    assert found["evidence"]["sender"] == C1 and found["evidence"]["packets"] == [1, 2, 3]


def test_bad_checksums_both_ways_are_not_called_offload(tmp_path: Path) -> None:
    frames = [("node1/eth0", vxlan(_udp(C1, C2, 1000, 0x1234))),
              ("node1/eth0", vxlan(_udp(C2, C1, 2000, 0x1234), N2, N1))]
    assert "checksum_offload" not in kinds(write(tmp_path / "both.pcapng", frames,
                                                 ("node1/eth0",)))


def test_many_flows_on_one_source_port_is_low_entropy(tmp_path: Path) -> None:
    frames = [("node1/eth0", vxlan(_udp(C1, C2, 1000 + i, None), sport=40000))
              for i in range(5)]
    path = write(tmp_path / "entropy.pcapng", frames, ("node1/eth0",))
    (found,) = of_kind(path, "low_entropy")
    assert found["evidence"]["flows"] == 5 and found["evidence"]["sport"] == 40000


def test_flows_spread_over_ports_are_fine(tmp_path: Path) -> None:
    frames = [("node1/eth0", vxlan(_udp(C1, C2, 1000 + i, None), sport=40000 + i))
              for i in range(5)]
    assert kinds(write(tmp_path / "spread.pcapng", frames, ("node1/eth0",))) == {}
