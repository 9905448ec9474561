"""Readers compiled from the specs for one packet shape: a stack of fixed-size headers.

A fast path that knows the shape of the packets it reads (Ethernet / IPv4 without options /
UDP, the underlay of every VXLAN datagram) need not walk the layers one by one: the place of
every field is known in advance.  ``shape_reader(("eth", "ip", "udp"), names)`` writes, from the
layers' ``Field`` declarations (span, mask, type) and their dispatch rules, the Python source of
one function that checks the frame has that shape and returns the values of ``names`` read
straight from the bytes, and compiles it once.  Nothing about a protocol is restated here: a
new layer's fields are readable as soon as its spec declares their spans.

What "has that shape" means is the decoder's own dispatch: each layer's ``next_field`` must
select the next layer in ``options``' table (``eth.type`` 0x0800 -> ``ip`` in the EtherType
table, ``ip.proto`` 17 -> ``udp``); a layer with a variable length must have its minimum (its
``hdr_len_field`` equal to its ``header_len``: ``ip.hdr_len`` 20); the frame must hold all
the headers.  What the shape
does not say (lengths against the capture, fragments, checksums) is the caller's to check, as
its consumer's equality with the rich decoder requires; the test-suite holds every reading to
the decoder's values on every capture and on generated frames.

Only fields read where they sit are readable (``Field.at_span``, times ``Field.scale``): a
checksum's verdict or a field placed by the message type is the decoder's.  A layer whose
fields the sizes in it place (ARP) is read as ``LayerSpec.places`` puts them, the shape every
fast path takes; its reader checks those sizes itself.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vxlankit.addr import IP6_TEXTS, IP_TEXTS, MAC_TEXTS, ip6_text, ip_text, mac_text
from vxlankit.codec.options import DecodeOptions
from vxlankit.layers.registry import BY_NAME, field_of, placed_field, split_occurrence
from vxlankit.layers.spec import BOOL, BYTES, ETHER, IPV4, IPV6, UINT, Field, LayerSpec

__all__ = ["ShapeError", "ShapePlan", "ShapeReader", "plan_shape", "shape_reader"]



class ShapeError(ValueError):
    """A shape or a field no reader can be compiled for (and why)."""


@dataclass(frozen=True)
class ShapeReader:
    """``read(buf, off=0)``: the values of ``names`` in a frame of ``shape`` that starts at
    ``off``, as a tuple; None when the bytes are not that shape.  ``size`` is the bytes the
    shape's headers take; ``source`` the compiled Python (for the curious and the tests)."""

    shape: tuple[str, ...]
    names: tuple[str, ...]
    size: int
    source: str
    read: Callable[..., tuple[Any, ...] | None]


class _Plan:
    """The fields a reader reads: their byte ranges, merged into the items of one
    ``struct.unpack_from``, and the expression of each field over those items."""

    def __init__(self) -> None:
        self.wanted: list[tuple[Field, int, int]] = []  # (field, start, stop) in the frame
        # wanted index -> (item, its width in bits, the field's lowest bit in it, its mask),
        # for the numbers read from a numeric item (what ``condition`` can compare whole)
        self.bits: dict[int, tuple[int, int, int, int]] = {}

    def add(self, field: Field, at: int) -> int:
        """Read ``field`` of the header at ``at``; its index among the expressions."""
        if field.span is None:
            raise ShapeError(f"{field.name}: no fixed place")
        if field.type not in (UINT, BOOL, ETHER, IPV4, IPV6, BYTES):
            raise ShapeError(f"{field.name}: {field.type} fields are the decoder's")
        if field.span[2] and field.type not in (UINT, BOOL):
            raise ShapeError(f"{field.name}: a masked {field.type} field")
        offset, size, _ = field.span
        self.wanted.append((field, at + offset, at + offset + size))
        return len(self.wanted) - 1

    def layout(self) -> tuple[str, list[str]]:
        """(the struct format, an expression per wanted field over ``v0``, ``v1``...)."""
        ranges = sorted({(start, stop) for _, start, stop in self.wanted})
        numeric = {(start, stop) for f, start, stop in self.wanted if f.type in (UINT, BOOL)}
        items: list[list[int]] = []  # [start, stop], merged where they overlap
        for start, stop in ranges:
            if items and start < items[-1][1]:
                items[-1][1] = max(items[-1][1], stop)
            elif (items and start == items[-1][1] and (start, stop) in numeric
                  and stop - items[-1][0] in (2, 4, 8)
                  and (stop - start not in _INT_CODES
                       or items[-1][1] - items[-1][0] not in _INT_CODES)
                  and all((a, b) in numeric for a, b in ranges
                          if items[-1][0] <= a < items[-1][1])):
                items[-1][1] = stop  # adjacent numbers that make one machine word (a VNI
                # and the reserved byte after it): one read, two shifts
            else:
                items.append([start, stop])
        textual = {i for i, (istart, istop) in enumerate(items) for f, start, _ in self.wanted
                   if istart <= start < istop and f.type not in (UINT, BOOL)}
        fmt, at = "!", 0
        for i, (start, stop) in enumerate(items):
            if start > at:
                fmt += f"{start - at}x"
            length = stop - start
            fmt += (f"{length}s" if i in textual or length not in _INT_CODES
                    else _INT_CODES[length])
            at = stop
        exprs: list[str] = []
        for field, start, stop in self.wanted:
            i = next(k for k, (a, b) in enumerate(items) if a <= start < b)
            istart, istop = items[i]
            whole = start == istart and stop == istop
            as_bytes = i in textual or istop - istart not in _INT_CODES
            if field.type in (UINT, BOOL):
                mask = field.span[2] if field.span is not None else None
                if as_bytes:
                    raw = f"v{i}" if whole else f"v{i}[{start - istart}:{stop - istart}]"
                    raw = f"_int({raw}, 'big')"
                    if mask and field.type == BOOL:  # FT_BOOLEAN: any bit of the mask set
                        expr = f"(1 if {raw} & {mask:#x} else 0)"
                    elif mask:
                        shift = (mask & -mask).bit_length() - 1
                        expr = f"(({raw} & {mask:#x}) >> {shift})"
                    else:
                        expr = raw
                else:
                    place = self.bits[len(exprs)] = (
                        i, 8 * (istop - istart), 8 * (istop - stop),
                        mask or (1 << 8 * (stop - start)) - 1)
                    expr = _bits(f"v{i}", *place[1:], field.type == BOOL)
                exprs.append(f"({expr} * {field.scale})" if field.scale != 1 else expr)
                continue
            raw = f"v{i}" if whole else f"v{i}[{start - istart}:{stop - istart}]"
            if whole and field.type in _TEXTS:  # the cache's own get first: no call made
                exprs.append("({0}g({1}) or {0}({1}))".format(_TEXTS[field.type], raw))
                continue
            exprs.append({ETHER: "_mac({})", IPV4: "_ntoa({})", IPV6: "_ntop6({})",
                          BYTES: "{}"}[field.type].format(raw))
        return fmt, exprs


_INT_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}
_TEXTS = {ETHER: "_mac", IPV4: "_ntoa", IPV6: "_ntop6"}


def _condition(plan: _Plan, exprs: list[str], wanted: list[tuple[int, int]]) -> str:
    """The test that each wanted field (its index in the plan) has its value: the fields that
    share a read word compared in one test of the word (IPv4's version and header length:
    ``v == 0x45``; its MF flag and fragment offset both 0: ``not v & 0x3fff``), any other by
    its expression."""
    words: dict[int, list[int]] = {}  # item -> [width, mask, expected]
    others = []
    for k, value in wanted:
        field = plan.wanted[k][0]
        place = plan.bits.get(k)
        raw, rest = divmod(value, field.scale)
        if rest or value < 0:
            return "False"  # no bits give that value
        if place is None or (field.type == BOOL and place[3] & (place[3] - 1) and value):
            others.append(f"{exprs[k]} == {value}")  # a flag of several bits: any of them
            continue
        item, width, below, mask = place
        shift = (mask & -mask).bit_length() - 1
        bits = (mask if value else 0) if field.type == BOOL else raw << shift
        if bits & ~mask:
            return "False"
        word = words.setdefault(item, [width, 0, 0])
        word[1] |= mask << below
        word[2] |= bits << below
    tests = []
    for item, (width, mask, expected) in sorted(words.items()):
        if mask == (1 << width) - 1:
            tests.append(f"v{item} == {expected:#x}")
        elif not expected:
            tests.append(f"not v{item} & {mask:#x}")
        else:
            tests.append(f"v{item} & {mask:#x} == {expected:#x}")
    return " and ".join(tests + others) or "True"


def _bits(item: str, width: int, below: int, mask: int, flag: bool) -> str:
    """The expression of the bits ``mask`` of a field whose lowest bit is bit ``below`` of a
    ``width``-bit number ``item``: shifted down to bit 0, or 0/1 for a flag (FT_BOOLEAN: any
    bit of the mask set)."""
    whole = mask << below
    if flag and whole & (whole - 1):  # several bits: any of them
        return f"(1 if {item} & {whole:#x} else 0)"
    shift = (whole & -whole).bit_length() - 1
    shifted = f"({item} >> {shift})" if shift else item
    if whole >> shift == (1 << (width - shift)) - 1:  # up to the top bit: nothing to mask
        return shifted
    return f"({shifted} & {whole >> shift:#x})"


def _selects(spec: LayerSpec, after: LayerSpec, at: int, options: DecodeOptions,
             plan: _Plan, checks: list[str], env: dict[str, Any]) -> None:
    """The check that ``spec`` hands its payload to ``after``, as the decoder's tables say
    (``@N@`` in a check stands for the Nth field the plan reads)."""
    tag = f"{len(env)}"  # names for the function's globals: spec names have dots
    if spec.carries is not None and spec.next_table is None:
        if spec.carries != after.proto:
            raise ShapeError(f"{spec.name} carries {spec.carries}, not {after.name}")
        return
    if spec.next_table in ("udp.port", "tcp.port"):
        from vxlankit.layers.udp import port_layer

        table = options.udp_ports if spec.next_table == "udp.port" else \
            options.tables["tcp.port"]
        env["_ports" + tag] = table
        env["_port_layer"] = port_layer
        src = field_of(spec, f"{spec.proto}.srcport")
        dst = field_of(spec, f"{spec.proto}.dstport")
        if src is None or dst is None:
            raise ShapeError(f"{spec.name}: no ports to choose the next layer by")
        checks.append(f"_port_layer(_ports{tag}, @{plan.add(src, at)}@, "
                      f"@{plan.add(dst, at)}@) == {after.name!r}")
        return
    if spec.next_table is None or spec.next_field is None:
        raise ShapeError(f"{spec.name} hands its payload on by no field a shape can check")
    field = field_of(spec, spec.next_field)
    if field is None or field.span is None or not field.at_span:
        raise ShapeError(f"{spec.name}: {spec.next_field} has no fixed place")
    keys = [key for key, name in options.tables[spec.next_table].items() if name == after.name]
    if not keys:
        raise ShapeError(f"{spec.name} never hands on to {after.name} with these options")
    env["_keys" + tag] = frozenset(keys)
    checks.append(f"@{plan.add(field, at)}@ in _keys{tag}")


@dataclass(frozen=True)
class ShapePlan:
    """What compiled code needs to read ``names`` from a frame of ``shape`` at ``off`` in
    ``buf``: the globals it runs with (``env``), the statement that unpacks the bytes
    (``unpack``, ``size`` bytes from ``off``), the condition that they are that shape (``test``,
    "" for none), and per name the Python expression of its value (``values``) and the bytes it
    is read from (``spans``, relative to ``off``).  :func:`shape_reader` is one such code;
    another consumer (a JSON writer) writes its own from the same plan."""

    shape: tuple[str, ...]
    names: tuple[str, ...]
    size: int
    env: dict[str, Any]
    unpack: str
    test: str
    values: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]

    @property
    def unpack_from(self) -> Callable[..., tuple[Any, ...]] | None:
        """The struct's own ``unpack_from(buf, off)`` when its items are the values, in order
        (plain numbers where they sit): the fastest reader, for a caller that has checked the
        ``size`` bytes are there (it raises ``struct.error`` otherwise).  None for any other
        plan."""
        count = len(re.findall(r"\bv\d+\b", self.unpack.split("=")[0]))
        if self.values != tuple(f"v{i}" for i in range(count)):
            return None
        found: Callable[..., tuple[Any, ...]] = self.env["_unpack"]
        return found


def shape_reader(shape: Sequence[str], names: Sequence[str],
                 options: DecodeOptions | None = None, *, checked: bool = True,
                 where: Mapping[str, int] | None = None,
                 tests: Sequence[Mapping[str, int]] = ()) -> ShapeReader:
    """Compile a reader of ``names`` (Wireshark names, ``#N`` for the Nth layer of the shape
    that has the field) for frames of ``shape`` (spec names, outermost first) decoded with
    ``options`` (default: the decoder's).  Raises :class:`ShapeError` for what cannot be read
    straight from the bytes.

    ``checked=False`` leaves out the checks that the bytes are that shape (the dispatch from
    layer to layer, a variable header's minimum): the values are read as if they were, for a
    caller whose own checks tell a frame of another shape apart (and say what it is).
    ``where`` and ``tests`` are :func:`plan_shape`'s."""
    plan = plan_shape(shape, names, options, checked=checked, where=where, tests=tests)
    env = dict(plan.env)
    values = ", ".join(plan.values)
    source = (f"def read(buf, off=0):\n"
              f"    if len(buf) - off < {plan.size}:\n        return None\n"
              f"    {plan.unpack}\n"
              + (f"    if not ({plan.test}):\n        return None\n" if plan.test else "")
              + f"    return ({values}{',' if len(plan.values) == 1 else ''})\n")
    code = compile(source, f"<shape {'/'.join(shape)}>", "exec")
    exec(code, env)  # noqa: S102 - source built above from the specs, nothing from outside
    return ShapeReader(tuple(shape), tuple(names), plan.size, source, env["read"])


def plan_shape(shape: Sequence[str], names: Sequence[str],
               options: DecodeOptions | None = None, *, checked: bool = True,
               ranges: Sequence[tuple[int, int]] = (), where: Mapping[str, int] | None = None,
               tests: Sequence[Mapping[str, int]] = ()) -> ShapePlan:
    """The plan of a reader of ``names`` for frames of ``shape`` (as :func:`shape_reader`,
    whose arguments these are), and of the bytes ``ranges`` (start, stop from the frame's
    start, at most 8 bytes each) as big-endian numbers, after the names' values: what a
    consumer keys a cache by, read in the same unpack.

    ``where`` (field -> value) joins the test of the shape: the reader returns None unless
    the fields have those values.  Each of ``tests`` is such a condition returned as a truth
    value after the others (a consumer's branch: "the inner header is IPv4 without options
    and not a fragment").  Fields that share a read word are compared in one test of it, as
    a hand-written reader would (``_condition``)."""
    if options is None:
        from vxlankit.codec import DEFAULT_OPTIONS

        options = DEFAULT_OPTIONS
    specs = []
    for name in shape:
        spec = BY_NAME.get(name)
        if spec is None:
            raise ShapeError(f"no layer named {name!r}")
        specs.append(spec)
    if not specs:
        raise ShapeError("an empty shape")
    starts = []
    at = 0
    for spec in specs:
        starts.append(at)
        at += spec.header_len
    size = at
    env: dict[str, Any] = {"_int": int.from_bytes, "_ntoa": ip_text, "_ntop6": ip6_text,
                           "_mac": mac_text, "_ntoag": IP_TEXTS.get, "_ntop6g": IP6_TEXTS.get,
                           "_macg": MAC_TEXTS.get}
    plan = _Plan()
    checks: list[str] = []
    for i, spec in enumerate(specs if checked else ()):
        if spec.hdr_len_field is not None:
            field = placed_field(spec, spec.hdr_len_field)
            assert field is not None
            checks.append(f"@{plan.add(field, starts[i])}@ == {spec.header_len}")
        if i + 1 < len(specs):
            _selects(spec, specs[i + 1], starts[i], options, plan, checks, env)

    def place(name: str) -> int:
        try:
            base, occurrence = split_occurrence(name)
        except ValueError as exc:
            raise ShapeError(str(exc)) from None
        holders = [(spec, start) for spec, start in zip(specs, starts, strict=True)
                   if placed_field(spec, base) is not None]
        if len(holders) < occurrence or occurrence < 1:
            raise ShapeError(f"{name}: the shape has {len(holders)} layers with {base}")
        spec, start = holders[occurrence - 1]
        field = placed_field(spec, base)
        assert field is not None
        if field.span is None or not field.at_span:
            raise ShapeError(f"{name}: not read where it sits (the decoder's)")
        return plan.add(field, start)

    wanted = [place(name) for name in names]
    required = [(place(name), value) for name, value in (where or {}).items()]
    branches = [[(place(name), value) for name, value in test.items()] for test in tests]
    for begin, stop in ranges:
        if not 0 < stop - begin <= 8 or begin < 0 or stop > size:
            raise ShapeError(f"bytes {begin}-{stop}: not a number of the shape's headers")
        wanted.append(plan.add(Field(f"bytes {begin}-{stop}", UINT,
                                     (begin, stop - begin, None)), 0))
    fmt, exprs = plan.layout()
    env["_unpack"] = struct.Struct(fmt).unpack_from
    items = [f"v{k}" for k in range(sum(1 for c in _items_of(fmt)))]

    def resolve(text: str) -> str:
        return re.sub(r"@(\d+)@", lambda m: exprs[int(m.group(1))], text)

    if required:
        checks.append(_condition(plan, exprs, required))
    return ShapePlan(
        tuple(shape), tuple(names), size, env,  # values and spans: names', then ranges'
        f"{', '.join(items)}{',' if len(items) == 1 else ''} = _unpack(buf, off)",
        " and ".join(resolve(check) for check in checks),
        tuple(exprs[k] for k in wanted) + tuple(
            f"({_condition(plan, exprs, branch)})" for branch in branches),
        tuple((plan.wanted[k][1], plan.wanted[k][2]) for k in wanted))


def _items_of(fmt: str) -> list[str]:
    """The value-producing codes of a struct format ("6s", "H"; not the pad bytes)."""
    return [code for code in re.findall(r"\d*[a-zA-Z]", fmt[1:]) if not code.endswith("x")]
