"""loss: where a packet vanished in a multi-tap capture, and what explains it."""

from __future__ import annotations

from pathlib import Path

from tests.diagnose.frames import (
    C1,
    C2,
    MAC1,
    MAC2,
    N1,
    N2,
    ROUTER,
    echo,
    icmp_error,
    kinds,
    of_kind,
    vxlan,
    write,
)


def _exchange(seq: int, answered: bool) -> list[tuple[str, bytes]]:
    req = echo(seq=seq)
    frames = [("node1/veth-C1", req), ("node1/eth0", vxlan(req, ident=seq)),
              ("node2/eth0", vxlan(req, ident=seq, ttl=63))]
    if answered:
        rep = echo(seq=seq, reply=True, src=C2, dst=C1, src_mac=MAC2, dst_mac=MAC1)
        frames += [("node2/veth-C2", req), ("node2/veth-C2", rep),
                   ("node2/eth0", vxlan(rep, N2, N1, ident=100 + seq)),
                   ("node1/eth0", vxlan(rep, N2, N1, ident=100 + seq, ttl=63)),
                   ("node1/veth-C1", rep)]
    return frames


def test_healthy_four_taps_have_no_loss(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.pcapng", _exchange(1, True) + _exchange(2, True))
    assert "loss" not in kinds(path)


def test_lost_inside_the_receiving_host(tmp_path: Path) -> None:
    path = write(tmp_path / "lost.pcapng", _exchange(1, False) + _exchange(2, False))
    (found,) = of_kind(path, "loss")
    ev = found["evidence"]
    assert found["severity"] == "error"
    assert ev["last_seen"] == "node2/eth0" and ev["expected"] == "node2/veth-C2"
    assert ev["stage"] == "receiving host" and ev["lost"] == 2
    assert ev["packets"] == [3, 6] and ev["vni"] == [4096] and ev["vtep"] == [N1, N2]
    assert "static FDB entry" in found["cause"]


def test_lost_after_answers_stopped_uses_the_learned_path(tmp_path: Path) -> None:
    path = write(tmp_path / "later.pcapng", _exchange(1, True) + _exchange(2, False))
    (found,) = of_kind(path, "loss")
    assert found["evidence"]["expected"] == "node2/veth-C2"
    assert found["evidence"]["packets"] == [11]


def test_lost_in_the_underlay_with_the_router_icmp_as_cause(tmp_path: Path) -> None:
    req = echo(seq=1, size=1400)
    sent = vxlan(req, df=True)
    frames = [("node1/veth-C1", req), ("node1/eth0", sent),
              ("node1/eth0", icmp_error(sent, ROUTER, N1, 3, 4, bytes(2) + (1400).to_bytes(2,
                                                                                   "big")))]
    path = write(tmp_path / "underlay.pcapng", frames)
    (found,) = of_kind(path, "loss")
    assert found["evidence"]["stage"] == "underlay"
    assert found["evidence"]["last_seen"] == "node1/eth0"
    assert found["evidence"]["expected"] == "node2/eth0"
    assert "MTU 1400" in found["cause"]
    assert "mtu" in kinds(path)


def test_never_encapsulated_to_an_unknown_mac_is_unknown_unicast(tmp_path: Path) -> None:
    healthy = _exchange(1, True)
    stray = echo(seq=9, dst="10.0.0.5", dst_mac="02:42:0a:00:00:05")
    path = write(tmp_path / "l2miss.pcapng", healthy + [("node1/veth-C1", stray)])
    (found,) = of_kind(path, "loss")
    assert found["evidence"]["stage"] == "sending host"
    assert found["evidence"]["expected"] == "node1/eth0"
    (miss,) = of_kind(path, "unknown_unicast")
    assert miss["evidence"]["mac"] == "02:42:0a:00:00:05" and miss["severity"] == "error"


def test_one_tap_never_reports_loss(tmp_path: Path) -> None:
    path = write(tmp_path / "one.pcapng", [("node2/eth0", vxlan(echo()))], ("node2/eth0",))
    assert "loss" not in kinds(path)


def test_a_tap_without_mac_addresses(tmp_path: Path) -> None:
    """C1's veth captured as raw IP (linktype 101, no Ethernet header): its packets have no
    destination MAC to tell a group address by.  The fuzz campaign found this an IndexError
    (a pcapng interface's link type overwritten); the loss is still found and placed."""
    from tests.diagnose.frames import T0, TAPS, diagnoses
    from vxlankit.capture.writer import PcapngWriter

    path = tmp_path / "raw-ip-tap.pcapng"
    with PcapngWriter(str(path), userappl="tests") as ng:
        ids = {t: ng.add_interface(t, 101 if t == "node1/veth-C1" else 1, tsresol=10**9)
               for t in TAPS}
        for i, (tap, data) in enumerate(_exchange(1, False) + _exchange(2, False)):
            ng.write(data[14:] if tap == "node1/veth-C1" else data, T0 + i * 10**6, ids[tap])
    (found,) = [d for d in diagnoses(str(path)) if d["kind"] == "loss"]
    assert found["evidence"]["last_seen"] == "node2/eth0"
    assert found["evidence"]["lost"] == 2
