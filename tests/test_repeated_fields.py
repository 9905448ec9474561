"""Repeated fields (options, TLVs, records): a list of values in one layer, read by every
consumer as Wireshark reads a field its tree shows several times."""

from __future__ import annotations

from vxlankit.crosscheck.compare import Tally, _compare_layer
from vxlankit.crosscheck.fieldtypes import FieldType
from vxlankit.crosscheck.wireshark import WsField, WsLayer
from vxlankit.packet import Layer, Packet
from vxlankit.present.filter import compile_filter
from vxlankit.present.jsonl import dumps, packet_object
from vxlankit.present.tree import packet_tree


def _packet() -> Packet:
    eth = Layer("eth", {"eth.dst": "00:00:00:00:00:01", "eth.src": "00:00:00:00:00:02",
                        "eth.type": 0x88B5}, 0, 14)
    opts = Layer("demo", {"demo.kind": 7, "demo.opt": [3, 5, 9]}, 14, 8)
    return Packet([eth, opts], [])


def test_values_flatten_a_repeated_field() -> None:
    packet = _packet()
    assert packet.values("demo.opt") == [3, 5, 9]
    assert packet.get("demo.opt", 2) == 5 and packet.get("demo.opt", -1) == 9


def test_filter_matches_any_occurrence() -> None:
    packet = _packet()
    known = frozenset({"demo.opt", "demo.kind"})
    assert compile_filter("demo.opt == 5", known)(packet)
    assert not compile_filter("demo.opt == 4", known)(packet)
    assert compile_filter("demo.opt > 8", known)(packet)
    # "!=" holds only when every occurrence differs, as in Wireshark 4.0
    assert not compile_filter("demo.opt != 5", known)(packet)
    assert compile_filter("demo.opt != 4", known)(packet)
    assert compile_filter("demo.opt#1 == 9", known)(packet)


def test_tree_shows_a_line_per_occurrence() -> None:
    lines = [line.strip() for line in packet_tree(_packet())]
    shown = [line.split()[1] for line in lines if line.startswith("demo.opt:")]
    assert shown == ["3", "5", "9"]


def test_json_holds_the_list() -> None:
    text = dumps(packet_object(_packet()))
    assert '"demo.opt":[3,5,9]' in text


def _compare(values: list[int], shown: list[tuple[int, str]]) -> Tally:
    tally = Tally({"demo.opt": FieldType("demo.opt", "FT_UINT8", "BASE_DEC")})
    layer = Layer("demo", {"demo.opt": values}, 14, 8)
    ws = WsLayer("demo", {"demo.opt": [WsField("demo.opt", pos, text) for pos, text in shown]})
    _compare_layer(1, layer, 1, ws, tally)
    return tally


def test_crosscheck_compares_in_order() -> None:
    agree = _compare([3, 5], [(15, "3"), (17, "5"), (30, "1")])  # 30: outside the layer
    assert agree.fields_compared == 2 and not agree.disagreements
    swapped = _compare([3, 5], [(15, "5"), (17, "3")])
    assert [d.field for d in swapped.disagreements] == ["demo.opt[0]", "demo.opt[1]"]
    fewer = _compare([3, 5, 9], [(15, "3"), (17, "5")])
    assert [d.field for d in fewer.disagreements] == ["demo.opt[2]"]
    more = _compare([3], [(15, "3"), (17, "5")])
    assert [d.field for d in more.disagreements] == ["demo.opt"]
