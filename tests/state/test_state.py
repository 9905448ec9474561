"""state save (with a stand-in for iproute2: what it runs, what it writes, its errors), the
loader on fixtures saved from the kernel (tests/fixtures/state, `state save --netns` of
scripts/kernel-overlay.sh in docker and learning mode), and the what-if edits."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from vxlankit.errors import StateError
from vxlankit.state import load_state, save_state
from vxlankit.state.edit import apply_edits, parse_edit
from vxlankit.state.load import Namespace, NetworkState, parse_state, read_folder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "state"


class FakeIproute:
    """Answers the commands state save runs from a namespace's saved document."""

    def __init__(self, docs: dict[str, dict[str, object]], refuse: str = "") -> None:
        self.docs = docs
        self.refuse = refuse
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        argv = list(argv)
        self.calls.append(argv)
        if argv[1:] == ["-j", "netns", "list"]:
            return self._ok(json.dumps([{"name": n} for n in self.docs]))
        ns = argv[2] if argv[1] == "-n" else "vxkfx-c1"
        if ns not in self.docs:
            return self._fail(f'Cannot open network namespace "{ns}": No such file or directory')
        if self.refuse:
            return self._fail(self.refuse)
        args = argv[3:] if argv[1] == "-n" else argv[1:]
        if argv[0] == "bridge":
            key = "fdb" if "fdb" in args else "bridge_link"
        else:
            key = {"link": "link", "addr": "addr", "route": "route", "neigh": "neigh",
                   "netconf": "netconf", "netns": "netns_ids"}[args[-2]]
        return self._ok(json.dumps(self.docs[ns][key]))

    @staticmethod
    def _ok(out: str) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess([], 0, out, "")

    @staticmethod
    def _fail(err: str) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess([], 1, "", err)


def _docs(mode: str) -> dict[str, dict[str, object]]:
    return {str(d["netns"]): d for d in read_folder(str(FIXTURES / mode))}


def test_save_runs_only_show_and_list_commands_and_round_trips(tmp_path: Path) -> None:
    fake = FakeIproute(_docs("docker"))
    result = save_state(str(tmp_path / "out"), all_netns=True, run=fake, hostname="h")
    assert len(result.namespaces) == 7
    for argv in fake.calls:
        assert argv[0] in ("ip", "bridge")
        assert argv[-1] in ("show", "list", "list-id"), argv  # read-only commands only
    again = load_state([str(tmp_path / "out")])
    fixture = load_state([str(FIXTURES / "docker")])
    def by_name(st: NetworkState) -> dict[str, Namespace]:
        return {ns.name: replace(ns, folder="") for ns in st.namespaces}

    assert by_name(again) == by_name(fixture)
    assert "wrote" in result.render()


def test_save_names_the_missing_namespace_and_the_permission(tmp_path: Path) -> None:
    fake = FakeIproute(_docs("docker"))
    with pytest.raises(StateError, match="no network namespace 'nope'"):
        save_state(str(tmp_path / "a"), ["nope"], run=fake)
    refused = FakeIproute(_docs("docker"), refuse="setting the network namespace failed: "
                                                  "Operation not permitted")
    with pytest.raises(StateError, match=r"needs root \(CAP_SYS_ADMIN"):
        save_state(str(tmp_path / "b"), ["vxkfx-c1"], run=refused)
    assert not (tmp_path / "b").exists()  # nothing written when a namespace cannot be read


def test_save_names_a_missing_tool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StateError, match=r"`ip` \(Debian package iproute2\)"):
        save_state(str(tmp_path / "x"))


def test_load_reads_devices_peers_and_quotes_rows_as_iproute2() -> None:
    state = load_state([str(FIXTURES / "docker")])
    sbox1 = state.find("sbox1")
    vx = sbox1.device("vxlan0")
    assert vx is not None and vx.vxlan is not None
    assert (vx.vxlan.vni, vx.vxlan.port, vx.vxlan.proxy, vx.vxlan.underlay) == (
        4096, 4789, True, "vxkfx-node1")
    veth = sbox1.device("veth-c1")
    assert veth is not None and veth.master == "br0" and veth.peer is not None
    assert veth.peer[0] == "vxkfx-c1"
    c1 = state.find("c1")
    assert c1.by_index(veth.peer[1]) is not None
    assert "10.0.0.4 dev vxlan0 lladdr 02:42:0a:00:00:04 PERMANENT" in [
        n.text for n in sbox1.neighbours]
    assert any(r.text.startswith("02:42:0a:00:00:04 dev vxlan0 dst 192.168.1.10")
               and r.text.endswith("self permanent") for r in sbox1.fdb)
    assert [r.text for r in state.find("node1").routes][0] == "default via 172.31.1.1 dev eth0"
    assert state.find("router").forwarding and not state.find("node1").forwarding


def test_two_folders_with_the_same_names_are_told_apart() -> None:
    docs = read_folder(str(FIXTURES / "docker"))
    state = parse_state([("/x/hostA", docs), ("/y/hostB", docs)])
    assert state.get("hostA/vxkfx-c1") is not None and state.get("hostB/vxkfx-c1") is not None
    veth = state.find("hostB/vxkfx-sbox1").device("veth-c1")
    assert veth is not None and veth.peer is not None and veth.peer[0] == "hostB/vxkfx-c1"
    with pytest.raises(StateError, match="several"):
        state.find("c1")


def test_load_refuses_what_state_save_did_not_write(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="state.json"):
        load_state([str(tmp_path)])
    (tmp_path / "state.json").write_text("{\"format\": \"other\"}")
    with pytest.raises(StateError, match="manifest"):
        load_state([str(tmp_path)])


def test_edits_change_the_loaded_state_only() -> None:
    state = load_state([str(FIXTURES / "docker")])
    edits = [parse_edit("set", "node1:eth0:mtu=1400"),
             parse_edit("vxlan", "sbox2:vxlan0:dstport=8472"),
             parse_edit("fdb-add", "sbox2:vxlan0:02:42:0a:00:00:03:172.31.1.99"),
             parse_edit("fdb-del", "sbox1:vxlan0:02:42:0a:00:00:04")]
    new = apply_edits(state, edits)
    eth0 = new.find("node1").device("eth0")
    assert eth0 is not None and eth0.mtu == 1400
    vx = new.find("sbox2").device("vxlan0")
    assert vx is not None and vx.vxlan is not None and vx.vxlan.port == 8472
    assert [r.dst for r in new.find("sbox2").fdb if r.mac == "02:42:0a:00:00:03"
            and r.master is None] == ["172.31.1.99"]
    assert not [r for r in new.find("sbox1").fdb if r.mac == "02:42:0a:00:00:04"
                and r.master is None]
    assert state == load_state([str(FIXTURES / "docker")])  # the original is unchanged


@pytest.mark.parametrize(("op", "text", "message"), [
    ("set", "node1:eth0", "expected"),
    ("set", "node1:eth0:mtu=big", "number"),
    ("set", "node1:eth0:speed=10", "knows mtu"),
    ("set", "node1:eth9:mtu=1400", "no device eth9"),
    ("set", "nowhere:eth0:mtu=1400", "no namespace"),
    ("fdb-add", "sbox2:vxlan0:02:42:0a:00:00:03", "expected"),
    ("fdb-add", "sbox2:br0:02:42:0a:00:00:03:1.2.3.4", "not a vxlan device"),
    ("fdb-del", "sbox2:vxlan0:02:42:0a:00:00:99", "no FDB entry"),
    ("vxlan", "sbox2:vxlan0:vni=16777216", "within"),
    ("vxlan", "sbox2:vxlan0:colour=red", "knows"),
])
def test_bad_edits_say_what_is_wrong(op: str, text: str, message: str) -> None:
    state = load_state([str(FIXTURES / "docker")])
    with pytest.raises(StateError, match=message):
        apply_edits(state, [parse_edit(op, text)])
