"""Checksum verdicts (Wireshark's numbering: 0 bad, 1 good, 2 unverified, 3 not present), the
calculated value of a bad one, and tshark as an independent oracle for the verdicts."""

from __future__ import annotations

import subprocess
import zlib
from pathlib import Path

import pytest

from tests.codec.realcaptures import require_tshark, write_pcap
from tests.codec.test_first_packet import PACKET
from vxlankit import DecodeOptions, build, decode, encode
from vxlankit.packet import (
    CHECKSUM_BAD,
    CHECKSUM_GOOD,
    CHECKSUM_NOT_PRESENT,
    CHECKSUM_UNVERIFIED,
    Layer,
    Packet,
)

MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"


def with_bytes(wire: bytes, offset: int, new: bytes) -> bytes:
    return wire[:offset] + new + wire[offset + len(new):]


def vxlan_ping(udp_checksum: int | None = None, data: bytes = b"abcdefghijklmnop") -> list[Layer]:
    return [build.eth(dst=MAC_B, src=MAC_A), build.ipv4(src="192.0.2.1", dst="192.0.2.2"),
            build.udp(40000, 4789, checksum=udp_checksum), build.vxlan(vni=7),
            build.eth(dst=MAC_A, src=MAC_B), build.ipv4(src="10.0.0.1", dst="10.0.0.2"),
            build.icmp_echo(ident=3, seq=4), build.payload(data)]


def plain_udp(payload: bytes, checksum: int | None = None) -> list[Layer]:
    return [build.eth(dst=MAC_B, src=MAC_A), build.ipv4(src="192.0.2.1", dst="192.0.2.2"),
            build.udp(1111, 2222, checksum=checksum), build.payload(payload)]


def udp_summing_to_zero() -> bytes:
    """A UDP datagram whose checksum computes to 0, which is sent as 0xffff (RFC 768)."""
    first = decode(encode(plain_udp(bytes(8))))
    computed = first.layer("udp")["udp.checksum"]  # type: ignore[index]
    # Adding the checksum into a zero word of the data makes the sum 0xffff: checksum 0.
    wire = encode(plain_udp(computed.to_bytes(2, "big") + bytes(6)))
    assert decode(wire).layer("udp")["udp.checksum"] == 0xFFFF  # type: ignore[index]
    return wire


def statuses(packet: Packet) -> dict[str, list[int]]:
    return {name: packet.values(name) for name in
            ("ip.checksum.status", "udp.checksum.status", "icmp.checksum.status")}


# ------------------------------------------------------------------------- the codec by itself


def test_bad_ip_checksum_reports_calculated() -> None:
    wire = with_bytes(PACKET, 14 + 10, b"\x00\x00")
    packet = decode(wire)
    ip = packet.layers[1]
    assert ip["ip.checksum"] == 0
    assert ip["ip.checksum.status"] == CHECKSUM_BAD
    assert ip["ip.checksum_calculated"] == 0x5152  # the value in the real capture
    assert "ip: bad header checksum at offset 24: 0x0000, should be 0x5152" in packet.errors
    assert not packet.ok
    # The inner packet is still dissected and verified.
    assert packet.layers[5]["ip.checksum.status"] == CHECKSUM_GOOD


def test_bad_icmp_checksum_reports_calculated() -> None:
    wire = with_bytes(PACKET, 84 + 2, b"\x12\x34")
    icmp = decode(wire).layer("icmp")
    assert icmp is not None
    assert icmp["icmp.checksum.status"] == CHECKSUM_BAD
    assert icmp["icmp.checksum_calculated"] == 0xF6F2


def test_bad_udp_checksum_reports_calculated() -> None:
    wire = encode(vxlan_ping())
    good = decode(wire).layers[2]["udp.checksum"]
    assert decode(wire).layers[2]["udp.checksum.status"] == CHECKSUM_GOOD
    packet = decode(with_bytes(wire, 34 + 6, ((good + 1) & 0xFFFF or 1).to_bytes(2, "big")))
    udp = packet.layers[2]
    assert udp["udp.checksum.status"] == CHECKSUM_BAD
    assert udp["udp.checksum_calculated"] == good
    assert any(e.startswith("udp: bad checksum at offset 40") for e in packet.errors)


def test_udp_data_corruption_is_caught() -> None:
    wire = encode(vxlan_ping())
    broken = with_bytes(wire, len(wire) - 1, b"\xff")  # inner ICMP data, covered by both
    packet = decode(broken)
    assert statuses(packet) == {"ip.checksum.status": [1, 1], "udp.checksum.status": [0],
                                "icmp.checksum.status": [0]}


def test_udp_zero_is_not_present() -> None:
    packet = decode(PACKET)
    assert packet.layers[2]["udp.checksum"] == 0
    assert packet.layers[2]["udp.checksum.status"] == CHECKSUM_NOT_PRESENT
    assert "udp.checksum_calculated" not in packet.layers[2]
    # ... and encode keeps a zero checksum zero, as VTEPs send it.
    assert encode(vxlan_ping(udp_checksum=0))[34 + 6:34 + 8] == b"\x00\x00"


def test_udp_computed_zero_is_sent_as_ffff() -> None:
    packet = decode(udp_summing_to_zero())
    assert packet.layer("udp")["udp.checksum.status"] == CHECKSUM_GOOD  # type: ignore[index]


@pytest.mark.parametrize("cut", [1, 9, 30])
def test_truncated_payload_is_unverified(cut: int) -> None:
    wire = encode(vxlan_ping())
    packet = decode(wire[:-cut])
    assert packet.layers[1]["ip.checksum.status"] == CHECKSUM_GOOD  # the header is all there
    assert packet.layers[2]["udp.checksum.status"] == CHECKSUM_UNVERIFIED
    assert "udp.checksum_calculated" not in packet.layers[2]
    icmp = packet.layer("icmp")
    if icmp is not None:
        assert icmp["icmp.checksum.status"] == CHECKSUM_UNVERIFIED
    assert not any("bad" in e for e in packet.errors)


def test_verification_off_is_unverified() -> None:
    packet = decode(encode(vxlan_ping()), options=DecodeOptions(verify_checksums=False))
    assert statuses(packet) == {"ip.checksum.status": [2, 2], "udp.checksum.status": [2],
                                "icmp.checksum.status": [2]}
    packet = decode(PACKET, options=DecodeOptions(verify_checksums=False))
    assert packet.layers[2]["udp.checksum.status"] == CHECKSUM_NOT_PRESENT


def test_encode_computes_and_keeps() -> None:
    layers = vxlan_ping(udp_checksum=0x1234)
    for lay in layers:
        if lay.proto in ("ip", "icmp"):
            lay.fields[f"{lay.proto}.checksum"] = 0xBEEF
    # compute_checksums=False keeps what was given; True replaces it (except a UDP zero).
    kept = decode(encode(layers, compute_checksums=False))
    assert statuses(kept) == {"ip.checksum.status": [0, 0], "udp.checksum.status": [0],
                              "icmp.checksum.status": [0]}
    fixed = decode(encode(layers))
    assert statuses(fixed) == {"ip.checksum.status": [1, 1], "udp.checksum.status": [1],
                               "icmp.checksum.status": [1]}


def _fcs_frame(fcs: bytes | None = None) -> bytes:
    frame = encode([build.eth(dst=MAC_B, src=MAC_A), build.arp(), build.padding(bytes(18))])
    return frame + (zlib.crc32(frame).to_bytes(4, "little") if fcs is None else fcs)


def test_encode_fills_in_the_fcs() -> None:
    """``eth.fcs`` left as None is computed, like any other checksum; a stale one is
    recomputed with compute_checksums (and kept without)."""
    good = _fcs_frame()
    layers = [build.eth(dst=MAC_B, src=MAC_A), build.arp(), build.padding(bytes(18)),
              Layer("fcs", {"eth.fcs": None})]
    assert encode(layers) == good
    assert encode(layers, fix_lengths=False, compute_checksums=False) == good
    stale = decode(_fcs_frame(b"\x00\x00\x00\x00"), options=DecodeOptions(fcs_len=4))
    assert encode(stale) == good
    assert encode(stale, compute_checksums=False) == _fcs_frame(b"\x00\x00\x00\x00")


# ------------------------------------------------------------------------- tshark as the oracle


def tshark_fields(path: Path, fields: list[str], *prefs: str) -> list[list[list[str]]]:
    """Per frame, per field, every occurrence (outer first) as tshark prints it."""
    # vxlankit does not reassemble: it dissects a first fragment, as tshark does without
    # defragmentation.
    command = [require_tshark(), "-r", str(path), "-n", "-o", "ip.defragment:FALSE",
               "-o", "ip.check_checksum:TRUE",
               "-o", "udp.check_checksum:TRUE", "-T", "fields", "-E", "occurrence=a",
               "-E", "aggregator=,"]
    for pref in prefs:
        command += ["-o", pref]
    for name in fields:
        command += ["-e", name]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    return [[cell.split(",") if cell else [] for cell in line.split("\t")]
            for line in out.stdout.splitlines()]


def checksum_frames() -> list[tuple[str, bytes, int]]:
    """(name, captured bytes, original length) for every verdict worth asking about."""
    good = encode(vxlan_ping())
    zero = encode(vxlan_ping(udp_checksum=0))
    inner_ip = len(good) - 16 - 8 - 20
    inner_icmp = len(good) - 16 - 8
    cases = [
        ("good", good),
        ("bad outer ip", with_bytes(good, 24, b"\xbe\xef")),
        ("bad outer udp", with_bytes(good, 40, b"\x00\x01")),
        ("bad inner ip", with_bytes(zero, inner_ip + 10, b"\xbe\xef")),
        ("bad inner icmp", with_bytes(zero, inner_icmp + 2, b"\xbe\xef")),
        ("bad inner, outer udp covers it", with_bytes(good, inner_icmp + 2, b"\xbe\xef")),
        ("udp zero", zero),
        ("udp 0xffff", udp_summing_to_zero()),
        ("ip options", encode([build.eth(), build.ipv4(src="10.0.0.1", dst="10.0.0.2",
                                                      options=b"\x94\x04\x00\x00"),
                               build.icmp_echo(1, 2), build.payload(b"x" * 20)])),
        ("first fragment", encode([build.eth(), build.ipv4(src="10.0.0.1", dst="10.0.0.2",
                                                           mf=True, id=9),
                                   build.udp(5, 6), build.payload(b"y" * 24)])),
    ]
    frames = [(name, wire, len(wire)) for name, wire in cases]
    # Cut by the capture (snap length): the original length says more was sent.
    frames.append(("cut vxlan", good[:-10], len(good)))
    frames.append(("cut icmp", encode([build.eth(), build.ipv4(src="10.0.0.1", dst="10.0.0.2"),
                                       build.icmp_echo(1, 1), build.payload(bytes(40))])[:-5],
                   14 + 20 + 8 + 40))
    return frames


def test_checksum_verdicts_match_tshark(tmp_path: Path) -> None:
    frames = checksum_frames()
    path = tmp_path / "checksums.pcap"
    write_pcap(path, [wire for _, wire, _ in frames], orig_lens=[n for _, _, n in frames])
    names = ["ip.checksum.status", "udp.checksum.status", "icmp.checksum.status"]
    rows = tshark_fields(path, names)
    assert len(rows) == len(frames)
    for (name, wire, _), row in zip(frames, rows, strict=True):
        packet = decode(wire)
        ours = [[str(v) for v in packet.values(field)] for field in names]
        assert ours == row, (name, packet, packet.errors)


def test_fcs_matches_tshark(tmp_path: Path) -> None:
    good = _fcs_frame()
    frames = [good, _fcs_frame(b"\x01\x02\x03\x04"), good[:-4] + bytes(4),
              encode(vxlan_ping()) + bytes.fromhex("deadbeef")]
    path = tmp_path / "fcs.pcap"
    write_pcap(path, frames)
    rows = tshark_fields(path, ["eth.fcs", "eth.fcs.status"], "eth.fcs:TRUE",
                         "eth.check_fcs:TRUE")
    for wire, row in zip(frames, rows, strict=True):
        fcs = decode(wire, options=DecodeOptions(fcs_len=4)).layers[-1]
        assert [[f"0x{fcs['eth.fcs']:08x}"], [str(fcs["eth.fcs.status"])]] == row
