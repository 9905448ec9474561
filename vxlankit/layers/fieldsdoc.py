"""``docs/fields.md``, made from the registry: every layer, what selects it, and its fields.

    python -m vxlankit.layers.fieldsdoc > docs/fields.md

The test-suite regenerates the text and fails when the committed file is stale.
"""

from __future__ import annotations

from vxlankit.layers.registry import LAYERS, PSEUDO_FIELDS, PSEUDO_LAYERS
from vxlankit.layers.spec import Field


def _selectors(pairs: tuple[tuple[str, int], ...]) -> str:
    shown = [f"{table} {value:#06x}" if table == "ethertype" else f"{table} {value}"
             for table, value in pairs]
    return ", ".join(shown) or "(where decoding starts)"


def _field_rows(fields: tuple[Field, ...]) -> list[str]:
    rows = []
    for f in fields:
        where = ""
        if f.span is not None:
            off, size, mask = f.span
            where = f"{off}+{size}" + (f" mask {mask:#x}" if mask is not None else "")
        kind = f"{f.type}, repeated" if f.repeated else f.type
        rows.append(f"| `{f.name}` | {kind} | {where} | {f.doc} |")
    return rows


def fields_markdown() -> str:
    lines = [
        "# Layers and fields",
        "",
        "Generated from `vxlankit/layers/registry.py` by "
        "`python -m vxlankit.layers.fieldsdoc > docs/fields.md`; a test fails when this file",
        "is stale.  Names are Wireshark's (`tshark -G fields`) except where the last column says",
        "a field is vxlankit's own.  \"Place\" is the byte offset in the layer, the length and",
        "the bit mask, where the field sits at a fixed place.  A \"repeated\" field occurs",
        "several times in one layer (options, records): the layer holds a list of its values.",
        "",
        "| layer | Layer.proto | role | selected by | payload looked up in |",
        "|---|---|---|---|---|",
    ]
    for spec in LAYERS:
        carries = spec.next_table or (f"(carries {spec.carries})" if spec.carries else "")
        lines.append(f"| {spec.title} | `{spec.proto}` | {spec.role} | "
                     f"{_selectors(spec.selectors)} | {carries} |")
    for spec in LAYERS:
        lines += ["", f"## {spec.title} (`{spec.name}`)", "",
                  "| field | type | place | vxlankit's own |", "|---|---|---|---|",
                  *_field_rows(spec.fields)]
    lines += ["", "## Data, trailers and FCS (" + ", ".join(
        f"`{name}`" for name in PSEUDO_LAYERS) + ")", "",
              "| field | type | place | vxlankit's own |", "|---|---|---|---|",
              *_field_rows(PSEUDO_FIELDS)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(fields_markdown(), end="")
