"""trace on state saved from the kernel (tests/fixtures/state: scripts/kernel-overlay.sh in
docker and learning mode, `state save --netns` of its seven namespaces), each lab fault made
with a what-if edit of that state, and the edit that undoes it.  Expectations are written by
hand from the kernel's behaviour; tests/trace/test_kernel_trace.py holds the same predictions
against the kernel itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vxlankit.cli import main
from vxlankit.diagnose.kinds import KINDS
from vxlankit.errors import StateError
from vxlankit.state import load_state
from vxlankit.state.edit import parse_edit
from vxlankit.state.load import parse_state, read_folder
from vxlankit.trace import TraceOptions, TraceReport, trace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "state"
C1_MAC = "02:42:0a:00:00:03"
UNDERLAY = ("node1:eth0", "router:eth1", "router:eth2", "node2:eth0")

# fault -> (edits that make it, what the trace must say: host, device, kind, reason, edits
# that undo it)
FAULTS = {
    "mtu": ([f"set={d}:mtu=1400" for d in UNDERLAY],
            ("vxkfx-sbox1", "vxlan0", "mtu", "PKT_TOO_BIG"),
            ["set=node1:eth0:mtu=1500", "set=router:eth1:mtu=1500"]),
    "vni-mismatch": (["vxlan=sbox2:vxlan0:vni=4097"],
                     ("vxkfx-node2", "udp/4789", "vni_mismatch", "VXLAN_VNI_NOT_FOUND"),
                     ["vxlan=sbox2:vxlan0:vni=4096"]),
    "port-mismatch": (["vxlan=sbox2:vxlan0:dstport=4790"],
                      ("vxkfx-node2", "eth0", "port_mismatch", "NO_SOCKET"),
                      ["vxlan=sbox2:vxlan0:dstport=4789"]),
    "wrong-fdb": ([f"fdb-add=sbox2:vxlan0:{C1_MAC}:172.31.1.99"],
                  ("vxkfx-sbox2", "vxlan0", "wrong_remote", "VXLAN_ENTRY_EXISTS"),
                  [f"fdb-add=sbox2:vxlan0:{C1_MAC}:172.31.1.10"]),
}


def _edits(texts: list[str]) -> tuple[object, ...]:
    out = []
    for text in texts:
        op, _, arg = text.partition("=")
        out.append(parse_edit(op, arg))
    return tuple(out)


def run(mode: str, edits: list[str] = (), **kw: object) -> TraceReport:  # type: ignore[assignment]
    state = load_state([str(FIXTURES / mode)])
    size = 1450 if any("mtu=1400" in e for e in edits) else 84
    options = TraceOptions("10.0.0.3", "10.0.0.4", size=kw.pop("size", size),  # type: ignore[arg-type]
                           df=kw.pop("df", True), edits=_edits(list(edits)),  # type: ignore[arg-type]
                           **kw)  # type: ignore[arg-type]
    return trace(state, options)


@pytest.mark.parametrize("mode", ["docker", "learning"])
def test_healthy_overlay_delivers_both_ways(mode: str) -> None:
    report = run(mode)
    assert report.verdict == "delivered" and report.drop is None
    assert report.delivered_at == ("vxkfx-c2 eth0", "vxkfx-c1 eth0")
    actions = [h.action for h in report.hops]
    if mode == "docker":
        # Docker: arp_reduce answers from the vxlan device's neighbour table on both hosts.
        assert sum("proxy answers ARP" in a for a in actions) == 2
        assert not [h for h in report.hops if h.phase == "arp" and "VXLAN" in h.outer]
    else:
        # Learning: the ARP request crosses the tunnel (flood entry) and C2 answers it.
        arp_outer = [h.outer for h in report.hops if h.phase == "arp" and h.outer]
        assert any("ff:ff:ff:ff:ff:ff" in o for o in arp_outer)
        assert any(h.host == "vxkfx-c2" and "answers ARP" in h.action for h in report.hops)
    encaps = [h for h in report.hops if h.action.startswith("encapsulates")]
    assert [h.host for h in encaps if h.phase != "arp"] == ["vxkfx-sbox1", "vxkfx-sbox2"]
    assert "VNI 4096" in encaps[0].outer and ":4789" in encaps[0].outer
    assert any(h.entry == "default via 172.31.1.1 dev eth0" for h in report.hops)
    forwarded = [h for h in report.hops if h.host == "vxkfx-router" and "forwards" in h.action]
    assert forwarded and "ttl 64" in forwarded[0].headers
    delivered = [h for h in report.hops if h.action.startswith("delivered")]
    assert "ttl 64 DF" in delivered[0].headers  # the inner packet arrives untouched


@pytest.mark.parametrize("mode", ["docker", "learning"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_is_dropped_where_the_kernel_drops_it(mode: str, fault: str) -> None:
    make, (host, device, kind, reason), undo = FAULTS[fault]
    report = run(mode, make)
    assert report.verdict == "dropped"
    assert report.drop is not None
    d = report.drop
    assert (d.host, d.device, d.kind, d.reason) == (host, device, kind, reason)
    assert d.fix and d.what_if
    assert d.kind in KINDS  # the diagnosis' own kinds (vxlankit/diagnose/kinds.py)
    if kind != "vni_mismatch":  # its wording is about captures (inner TTLs): not used here
        assert d.cause and "{" not in d.cause
    if mode == "learning" and fault != "mtu":
        assert d.phase == "arp"  # learning mode never gets past ARP, which crosses the tunnel
    fixed = run(mode, make + undo)
    assert fixed.verdict == "delivered", fixed.render()


def test_the_suggested_what_if_is_one_that_can_be_given_back() -> None:
    report = run("docker", ["vxlan=sbox2:vxlan0:vni=4097"])
    assert report.drop is not None
    assert report.drop.what_if == "--vxlan vxkfx-sbox2:vxlan0:vni=4096"
    op, _, arg = report.drop.what_if[2:].partition(" ")
    again = run("docker", ["vxlan=sbox2:vxlan0:vni=4097", f"{op}={arg}"])
    assert again.delivered


def test_mtu_drop_names_the_room_left_and_the_vtep_answers() -> None:
    report = run("docker", FAULTS["mtu"][0])
    assert report.drop is not None and "mtu 1350" in report.drop.detail
    assert report.drop.phase == "request"
    small = run("docker", FAULTS["mtu"][0], size=1350)
    assert small.delivered  # 1350 + 50 fits the 1400-byte underlay


def test_without_df_the_outer_packet_is_fragmented_and_delivered() -> None:
    report = run("docker", ["set=node1:eth0:mtu=1400", "set=router:eth1:mtu=1400"], df=False)
    assert report.delivered, report.render()
    assert any("fragments" in h.action and h.host == "vxkfx-node1" for h in report.hops)
    assert any("reassembles" in h.action and h.host == "vxkfx-node2" for h in report.hops)


def test_one_end_of_a_veth_raised_is_not_enough() -> None:
    report = run("docker", [*FAULTS["mtu"][0], "set=node1:eth0:mtu=1500"])
    assert report.drop is not None
    assert (report.drop.host, report.drop.device, report.drop.kind) == (
        "vxkfx-router", "eth1", "mtu")


def test_udp_and_tcp_probes() -> None:
    udp = run("learning", proto="udp", dport=53, size=60)
    assert udp.delivered
    assert any("UDP 40000 > 53" in h.headers for h in udp.hops)
    tcp = run("docker", proto="tcp", dport=80)
    assert tcp.delivered
    assert any("TCP 80 > 40000" in h.headers for h in tcp.hops if h.phase == "reply")


def test_a_missing_proxy_entry_is_an_unanswered_arp_with_its_l3_miss() -> None:
    state = load_state([str(FIXTURES / "docker")])
    sbox1 = state.find("sbox1")
    from dataclasses import replace

    state = type(state)(tuple(replace(ns, neighbours=()) if ns is sbox1 else ns
                              for ns in state.namespaces))
    report = trace(state, TraceOptions("10.0.0.3", "10.0.0.4"))
    assert report.drop is not None
    assert (report.drop.kind, report.drop.reason, report.drop.phase) == (
        "unanswered_arp", "ARP_REDUCE", "arp")
    assert "L3 miss" in report.drop.detail
    assert report.drop.fix == ("ip -n vxkfx-sbox1 neigh add 10.0.0.4 lladdr "
                               "02:42:0a:00:00:04 dev vxlan0 nud permanent",)


def test_state_without_the_underlay_namespace_says_what_to_save() -> None:
    docs = [d for d in read_folder(str(FIXTURES / "docker")) if d["netns"] != "vxkfx-node1"]
    state = parse_state([(str(FIXTURES / "docker"), docs)])
    with pytest.raises(StateError, match="vxkfx-node1, which is not in the saved state"):
        trace(state, TraceOptions("10.0.0.3", "10.0.0.4"))


def test_source_must_be_unique_or_chosen() -> None:
    state = load_state([str(FIXTURES / "docker")])
    with pytest.raises(StateError, match="10.0.0.1 is an address of"):
        trace(state, TraceOptions("10.0.0.1", "10.0.0.4"))
    report = trace(state, TraceOptions("sbox1:10.0.0.1", "10.0.0.4"))
    assert report.source == "vxkfx-sbox1 br0"
    with pytest.raises(StateError, match="no saved namespace has"):
        trace(state, TraceOptions("10.9.9.9", "10.0.0.4"))


def test_cli_json_and_exit_status() -> None:
    runner = CliRunner()
    folder = str(FIXTURES / "docker")
    ok = runner.invoke(main, ["trace", folder, "--from", "10.0.0.3", "--to", "10.0.0.4",
                              "--json"])
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.output)
    assert doc["verdict"] == "delivered" and doc["drop"] is None and doc["hops"]
    assert {"phase", "host", "device", "action"} <= set(doc["hops"][0])
    bad = runner.invoke(main, ["trace", folder, "--from", "10.0.0.3", "--to", "10.0.0.4",
                               "--vxlan", "sbox2:vxlan0:dstport=8472", "--json"])
    assert bad.exit_code == 1
    drop = json.loads(bad.output)["drop"]
    assert {k: drop[k] for k in ("host", "device", "reason", "kind")} == {
        "host": "vxkfx-node2", "device": "eth0", "reason": "NO_SOCKET",
        "kind": "port_mismatch"}
    text = runner.invoke(main, ["trace", folder, "--from", "10.0.0.3", "--to", "10.0.0.4",
                                "--vxlan", "sbox2:vxlan0:dstport=8472"])
    assert text.exit_code == 1
    assert "verdict: dropped on vxkfx-node2 eth0 during the request: " \
           "SKB_DROP_REASON_NO_SOCKET" in text.output
    assert "kind:    port_mismatch" in text.output
    usage = runner.invoke(main, ["trace", folder, "--from", "10.0.0.3", "--to", "10.0.0.4",
                                 "--set", "node1:eth0"])
    assert usage.exit_code == 2 and "HOST:DEV:mtu=N" in usage.output
