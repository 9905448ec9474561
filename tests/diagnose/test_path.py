"""mtu, outer_fragmentation, port_mismatch, ttl_expired from hand-built captures."""

from __future__ import annotations

from pathlib import Path

from tests.diagnose.frames import (
    C1,
    C2,
    ETH_N1,
    ETH_N2,
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
from vxlankit import build, encode
from vxlankit.replay import replay


def test_router_frag_needed_names_mtu_and_the_inner_mtu_that_fits(tmp_path: Path) -> None:
    big = vxlan(echo(size=1400), df=True)  # 1428-byte inner packet, 1478 outer
    frag_needed = icmp_error(big, ROUTER, N1, 3, 4, bytes(2) + (1400).to_bytes(2, "big"))
    # The VTEP's own answer to the next one: from C2's address to C1, MTU 1400 - 50.
    vtep_icmp = icmp_error(echo(seq=2, size=1400), C2, C1, 3, 4,
                           bytes(2) + (1350).to_bytes(2, "big"),
                           src_mac=MAC2, dst_mac=MAC1)
    path = write(tmp_path / "mtu.pcapng", [("node1/eth0", big), ("node1/eth0", frag_needed),
                                          ("node1/veth-C1", vtep_icmp)])
    (found,) = of_kind(path, "mtu")
    assert found["severity"] == "error"
    assert found["evidence"]["path_mtu"] == 1400 and found["evidence"]["inner_mtu"] == 1350
    assert found["evidence"]["packets"] == [2, 3]
    assert found["evidence"]["vni"] == [4096] and found["evidence"]["vtep"] == [N1, N2]
    assert "1350" in " ".join(found["check"])


def test_vtep_icmp_alone_names_mtu(tmp_path: Path) -> None:
    vtep_icmp = icmp_error(echo(size=1400), C2, C1, 3, 4, bytes(2) + (1350).to_bytes(2, "big"),
                           src_mac=MAC2, dst_mac=MAC1)
    path = write(tmp_path / "own.pcapng", [("node1/veth-C1", vtep_icmp)])
    (found,) = of_kind(path, "mtu")
    assert found["evidence"]["inner_mtu"] == 1350 and found["severity"] == "error"


def test_large_echoes_lost_small_answered_is_an_mtu_warning(tmp_path: Path) -> None:
    frames = [("node1/eth0", vxlan(echo(seq=1, size=56))),
              ("node1/eth0", vxlan(echo(seq=1, size=56, reply=True, src=C2, dst=C1,
                                        src_mac=MAC2, dst_mac=MAC1), N2, N1)),
              ("node1/eth0", vxlan(echo(seq=2, size=1400), ident=2)),
              ("node1/eth0", vxlan(echo(seq=3, size=1400), ident=3))]
    path = write(tmp_path / "hole.pcapng", frames, ("node1/eth0",))
    (found,) = of_kind(path, "mtu")
    assert found["severity"] == "warning"
    assert found["evidence"]["packets"] == [3, 4]
    assert found["evidence"]["largest_answered"] == 84


def _fragments(datagram: bytes, mtu: int) -> list[bytes]:
    """``datagram`` (Ethernet/IPv4) split as a router with a ``mtu`` link does (DF clear)."""
    header, body = datagram[14:34], datagram[34:]
    step = (mtu - 20) & ~7
    out = []
    for off in range(0, len(body), step):
        chunk = body[off:off + step]
        more = off + step < len(body)
        ip = build.ipv4(src=N1, dst=N2, id=int.from_bytes(header[4:6], "big"), ttl=63,
                        mf=more, frag_offset=off // 8, proto=17)
        out.append(encode([build.eth(dst=ETH_N2, src=ETH_N1), ip, build.payload(chunk)]))
    return out


def test_outer_fragments_are_reassembled_and_named(tmp_path: Path) -> None:
    whole = vxlan(echo(size=1400), ident=77)
    pieces = _fragments(whole, 1400)
    assert len(pieces) == 2
    path = write(tmp_path / "frag.pcapng",
                 [("node1/eth0", whole)] + [("node2/eth0", p) for p in pieces],
                 ("node1/eth0", "node2/eth0"))
    (found,) = of_kind(path, "outer_fragmentation")
    assert found["severity"] == "warning"
    assert found["evidence"]["packets"] == [2, 3]
    assert found["evidence"]["largest_fragment"] == 1396
    # The reassembled datagram reached the model: it learned C1's MAC behind node1.
    report = replay(path)
    assert report.vteps[N2].lookup(4096, MAC1) is not None
    assert "error" not in kinds(path).values()


def test_port_unreachable_names_port_mismatch(tmp_path: Path) -> None:
    sent = vxlan(echo(), dport=4789)
    unreachable = icmp_error(sent, N2, N1, 3, 3)
    back = vxlan(echo(reply=True, src=C2, dst=C1, src_mac=MAC2, dst_mac=MAC1), N2, N1,
                 dport=8472)
    path = write(tmp_path / "port.pcapng", [("node2/eth0", sent), ("node2/eth0", unreachable),
                                            ("node2/eth0", back)])
    (found,) = of_kind(path, "port_mismatch")
    assert found["severity"] == "error"
    assert found["evidence"]["port"] == 4789 and found["evidence"]["peer_port"] == 8472
    assert found["evidence"]["packets"] == [2]


def test_ports_differing_by_direction_name_port_mismatch_without_icmp(tmp_path: Path) -> None:
    there = vxlan(echo(), dport=4789)
    back = vxlan(echo(reply=True, src=C2, dst=C1, src_mac=MAC2, dst_mac=MAC1), N2, N1,
                 dport=8472)
    path = write(tmp_path / "ports.pcapng", [("node1/eth0", there), ("node1/eth0", back)],
                 ("node1/eth0",))
    (found,) = of_kind(path, "port_mismatch")
    assert found["evidence"]["ports"] == {N1: 4789, N2: 8472}


def test_same_port_both_ways_is_no_port_mismatch(tmp_path: Path) -> None:
    there = vxlan(echo(), dport=8472)
    back = vxlan(echo(reply=True, src=C2, dst=C1, src_mac=MAC2, dst_mac=MAC1), N2, N1,
                 dport=8472)
    path = write(tmp_path / "same.pcapng", [("node1/eth0", there), ("node1/eth0", back)],
                 ("node1/eth0",))
    assert kinds(path) == {}


def test_time_exceeded_about_vxlan_names_ttl_expired(tmp_path: Path) -> None:
    sent = vxlan(echo(), ttl=1)
    expired = icmp_error(sent, ROUTER, N1, 11, 0)
    path = write(tmp_path / "ttl.pcapng", [("node1/eth0", sent), ("node1/eth0", expired)],
                 ("node1/eth0",))
    (found,) = of_kind(path, "ttl_expired")
    assert found["severity"] == "error" and found["evidence"]["sent_ttl"] == 1
