"""``vxlankit/fieldkeys.py``, made from the registry: one typed key per field.

    python -m vxlankit.layers.keysgen > vxlankit/fieldkeys.py

The test-suite regenerates the text and fails when the committed file is stale, and checks
every key's type against the values decoded from every capture.
"""

from __future__ import annotations

import re

from vxlankit.layers.registry import FIELDS
from vxlankit.layers.spec import BOOL, BYTES, ETHER, IPV4, IPV6, STRING, UINT

# A field type -> the Python type of its values (addresses are text, as tshark prints them).
PYTHON_TYPES = {UINT: "int", BOOL: "int", BYTES: "bytes", ETHER: "str", IPV4: "str",
                IPV6: "str", STRING: "str"}


def constant(name: str) -> str:
    """``vxlan.vni`` -> ``VXLAN_VNI``."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def keys_module() -> str:
    lines = [
        '"""Typed keys for every field vxlankit decodes (generated: do not edit).',
        "",
        "    python -m vxlankit.layers.keysgen > vxlankit/fieldkeys.py",
        "",
        "    from vxlankit import fieldkeys as F",
        "    vni = packet.first(F.VXLAN_VNI)      # int | None, to mypy too",
        "    inner = packet.every(F.IP_SRC)[1:]   # list[str]",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from vxlankit.packet import FieldKey",
        "",
    ]
    for name, field in FIELDS.items():
        py = PYTHON_TYPES[field.type]
        lines.append(f"{constant(name)} = FieldKey({name!r}, {py})")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(keys_module(), end="")
