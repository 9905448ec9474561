"""Typed field keys: vxlankit/fieldkeys.py is generated from the registry and current, and every
key's type is the type of the values decoding gives, on every frame of every capture."""

from __future__ import annotations

from pathlib import Path

from tests.codec.realcaptures import iter_real_frames, require_real_dir
from vxlankit import fieldkeys as F
from vxlankit.capture.reader import open_capture
from vxlankit.codec import decode
from vxlankit.layers.keysgen import constant, keys_module
from vxlankit.layers.registry import FIELDS
from vxlankit.packet import FieldKey

MODULE = Path(__file__).resolve().parents[1] / "vxlankit" / "fieldkeys.py"
CAPTURES = Path(__file__).resolve().parents[1] / "captures"


def test_the_module_is_current() -> None:
    assert MODULE.read_text() == keys_module(), (
        "vxlankit/fieldkeys.py is stale: python -m vxlankit.layers.keysgen > "
        "vxlankit/fieldkeys.py")


def test_one_key_per_field() -> None:
    keys = {k.name: k for k in vars(F).values() if isinstance(k, FieldKey)}
    assert set(keys) == set(FIELDS)
    assert getattr(F, constant("vxlan.vni")) is keys["vxlan.vni"]


def test_every_value_has_its_keys_type() -> None:
    require_real_dir()
    types = {k.name: k.type for k in vars(F).values() if isinstance(k, FieldKey)}
    frames = [(bytes(r.data), r.interface.linktype) for p in sorted(CAPTURES.glob("*.pcap*"))
              for r in open_capture(p)]
    frames += [(data, linktype) for _, _, linktype, data in iter_real_frames()]
    seen: set[str] = set()
    for data, linktype in frames:
        for layer in decode(data, linktype).layers:
            for name, value in layer.fields.items():
                if name not in types:
                    continue  # a field of the data/trailer pseudo layers
                for one in value if type(value) is list else (value,):
                    assert isinstance(one, types[name]), (name, one)
                    assert not isinstance(one, bool) or types[name] is int, name
                seen.add(name)
    assert len(seen) > 250


def test_typed_access() -> None:
    packet = decode(bytes.fromhex(
        "0000000000020000000000010800450000320001000040117ab2ac1f010ac0a8010a"
        "c35012b5001e0000080000000010000002420a00000402420a0000030806"))
    assert packet.first(F.VXLAN_VNI) == 4096
    assert packet.every(F.ETH_SRC) == ["00:00:00:00:00:01", "02:42:0a:00:00:03"]
    assert packet.first(F.TCP_SRCPORT) is None
