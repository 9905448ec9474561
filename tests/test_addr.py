"""addr.ipv4_prefix, shared by the VTEP's next-hop table and the router's routes."""

from __future__ import annotations

import pytest

from vxlankit.addr import ip_int, ipv4_prefix
from vxlankit.errors import EncodeError
from vxlankit.model.events import ModelError
from vxlankit.model.vtep import Vtep, VtepConfig


@pytest.mark.parametrize("text, net, mask", [
    ("10.1.1.7/24", "10.1.1.0", 0xFFFFFF00),
    ("0.0.0.0/0", "0.0.0.0", 0),
    ("192.0.2.9/32", "192.0.2.9", 0xFFFFFFFF),
])
def test_prefix(text: str, net: str, mask: int) -> None:
    assert ipv4_prefix(text) == (ip_int(net), mask)


@pytest.mark.parametrize("text", ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/x", "x/8", "1.2.3.4/-1"])
def test_bad_prefix(text: str) -> None:
    with pytest.raises(EncodeError):
        ipv4_prefix(text)


def test_vtep_names_a_bad_next_hop_prefix() -> None:
    with pytest.raises(ModelError, match="bad prefix in next hop '10.0.0.0/40'"):
        Vtep(VtepConfig("192.0.2.1", "02:00:00:00:00:01",
                        next_hops={"10.0.0.0/40": "02:00:00:00:00:02"}))
