"""The event values: frozen, slotted, and built by the fast ``__init__`` without changing
dataclass semantics."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from tests.model.frames import C1_IP, C1_MAC, C2_IP, C2_MAC, icmp_echo
from vxlankit.model import events
from vxlankit.model.events import Encapsulated, Frame, IpInfo


def _dataclasses() -> list[type]:
    return [obj for obj in vars(events).values()
            if isinstance(obj, type) and dataclasses.is_dataclass(obj)]


@pytest.mark.parametrize("cls", _dataclasses(), ids=lambda c: c.__name__)
def test_every_event_is_frozen_and_slotted(cls: type) -> None:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen and "__slots__" in vars(cls)


def test_fast_init_keeps_defaults_keywords_equality_and_hashing() -> None:
    f = icmp_echo(C1_MAC, C2_MAC, C1_IP, C2_IP)
    a = Encapsulated("vxlan0", 4096, f, "a", "b", "1.1.1.1", "2.2.2.2", 7, 64, 0, False,
                     50000, 4789, "zero")
    b = Encapsulated(device="vxlan0", vni=4096, frame=f, eth_src="a", eth_dst="b",
                     ip_src="1.1.1.1", ip_dst="2.2.2.2", ip_id=7, ttl=64, tos=0, df=False,
                     sport=50000, dport=4789, udp_checksum="zero", flags=0x0800)
    assert a == b and hash(a) == hash(b)
    assert (a.flags, a.gbp, a.reserved8) == (0x0800, 0, 0)
    assert dataclasses.replace(a, ip_id=8).ip_id == 8
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.ip_id = 9  # type: ignore[misc]
    with pytest.raises(TypeError):
        Frame("a", "b")  # type: ignore[call-arg]
    assert IpInfo("1.1.1.1", "2.2.2.2", 17) == IpInfo("1.1.1.1", "2.2.2.2", 17, 64, 0, False,
                                                      None, None)
    assert repr(Frame("a", "b", 1)) == (
        "Frame(dst='a', src='b', ethertype=1, arp=None, ip=None, payload=b'', nd=None)")
    assert Frame.__init__.__qualname__ == "Frame.__init__"
