"""The compact-protocol codec under the Parquet splice: read and written back byte for byte."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vxlankit.bulk import thrift
from vxlankit.bulk.splice import footer

# Golden: struct {1: i32 -3, 2: binary "ab", 4: true, 20: list<i64> [1, 300], 21: struct {1:
# double 0.5}, 22: map<binary, i16> {"k": 7}}, by hand from the specification.
GOLDEN = bytes.fromhex(
    "15 05"            # field 1 (delta 1), i32, zigzag(-3) = 5
    "18 02 6162"       # field 2, binary, length 2, "ab"
    "21"               # field 4 (delta 2), boolean true
    "09 28 26 02 d804"  # field 20 (long form: type 9, zigzag(20) = 40), list of 2 i64: 1, 300
    "1c"               # field 21 (delta 1), struct
    "17 000000000000e03f 00"  # its field 1, double 0.5 (little-endian), stop
    "1b 01 84 01 6b 0e"  # field 22, map of 1, binary -> i16: "k" -> 7
    "00")
GOLDEN_TREE = [
    [1, thrift.I32, -3],
    [2, thrift.BINARY, b"ab"],
    [4, thrift.TRUE, True],
    [20, thrift.LIST, (thrift.I64, [1, 300])],
    [21, thrift.STRUCT, [[1, thrift.DOUBLE, 0.5]]],
    [22, thrift.MAP, (thrift.BINARY, thrift.I16, [(b"k", 7)])],
]


def test_golden_both_ways() -> None:
    assert thrift.read_struct(GOLDEN) == (GOLDEN_TREE, len(GOLDEN))
    assert thrift.write_struct(GOLDEN_TREE) == GOLDEN


def test_a_long_list_and_negative_numbers() -> None:
    tree = [[1, thrift.LIST, (thrift.I32, list(range(-20, 20)))], [2, thrift.I64, -(2 ** 63)],
            [3, thrift.BYTE, -128], [4, thrift.FALSE, False],
            [5, thrift.LIST, (thrift.TRUE, [True, False, True])]]
    data = thrift.write_struct(tree)
    assert data[1] == 0xF5  # 40 items: size 15 in the nibble, then the size as a varint
    assert thrift.read_struct(data) == (tree, len(data))


def _parquet_footer(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=3)
    data = buffer.getvalue()
    _, start = footer(data)
    return data[start:-8]


def test_a_pyarrow_footer_round_trips() -> None:
    table = pa.table({"a": [1, 2, None, 4, 5, 6, 7], "s": ["x", "y", "z", None, "é", "", "w"],
                      "f": [0.5, -1.0, 2.0, 3.5, None, 1e300, -0.0]})
    data = _parquet_footer(table)
    tree, end = thrift.read_struct(data)
    assert end == len(data)
    assert thrift.write_struct(tree) == data
    assert thrift.get(tree, 3) == [3, thrift.I64, 7]  # num_rows


_INT = {thrift.BYTE: st.integers(-128, 127), thrift.I16: st.integers(-2 ** 15, 2 ** 15 - 1),
        thrift.I32: st.integers(-2 ** 31, 2 ** 31 - 1),
        thrift.I64: st.integers(-2 ** 63, 2 ** 63 - 1)}
_SCALARS = {**_INT, thrift.BINARY: st.binary(max_size=20),
            thrift.DOUBLE: st.floats(allow_nan=False)}


def _values(kind: int, structs: st.SearchStrategy[list[thrift.Field]]) -> st.SearchStrategy:
    if kind in (thrift.TRUE, thrift.FALSE):
        return st.booleans()
    if kind == thrift.STRUCT:
        return structs
    return _SCALARS[kind]


_ELEMENT_TYPES = st.sampled_from([*_SCALARS, thrift.TRUE])


def _containers(structs: st.SearchStrategy[list[thrift.Field]]) -> st.SearchStrategy:
    lists = _ELEMENT_TYPES.flatmap(lambda elem: st.tuples(
        st.just(elem), st.lists(_values(elem, structs), max_size=17)))
    maps = st.tuples(st.sampled_from(list(_SCALARS)), _ELEMENT_TYPES).flatmap(
        lambda kv: st.tuples(st.just(kv[0]), st.just(kv[1]), st.lists(
            st.tuples(_values(kv[0], structs), _values(kv[1], structs)), min_size=1,
            max_size=4)))
    return st.one_of(lists.map(lambda v: (thrift.LIST, v)), maps.map(lambda v: (thrift.MAP, v)))


def _struct(children: st.SearchStrategy[list[thrift.Field]]) -> st.SearchStrategy:
    def field(kind_value: tuple[int, object], fid: int) -> list[object]:
        kind, value = kind_value
        if kind == thrift.TRUE:
            kind = thrift.TRUE if value else thrift.FALSE
        return [fid, kind, value]

    kinds = st.one_of(
        st.sampled_from(list(_SCALARS)).flatmap(lambda k: st.tuples(st.just(k), _SCALARS[k])),
        st.booleans().map(lambda b: (thrift.TRUE, b)),
        children.map(lambda v: (thrift.STRUCT, v)),
        _containers(children))
    ids = st.lists(st.integers(1, 400), unique=True, max_size=6)
    return ids.flatmap(lambda fids: st.tuples(*[kinds.map(lambda kv, f=f: field(kv, f))
                                                for f in fids]).map(list))


STRUCTS = st.recursive(st.just([]), _struct, max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(STRUCTS)
def test_any_struct_round_trips(tree: list[thrift.Field]) -> None:
    data = thrift.write_struct(tree)
    assert thrift.read_struct(data) == (tree, len(data))
    again = thrift.read_struct(data)[0]
    assert thrift.write_struct(again) == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_read_or_raise_thrift_error(data: bytes) -> None:
    try:
        tree, end = thrift.read_struct(data)
    except thrift.ThriftError:
        return
    assert 0 < end <= len(data)
    # What was read writes back, and reads again as itself (the bytes may differ where the
    # input padded a varint, 0x80 0x00 for 0, which a writer never does).
    again = thrift.write_struct(tree)
    assert thrift.write_struct(thrift.read_struct(again)[0]) == again


def test_truncated_and_too_deep_inputs_are_thrift_errors() -> None:
    with pytest.raises(thrift.ThriftError):
        thrift.read_struct(GOLDEN[:-3])
    with pytest.raises(thrift.ThriftError):
        thrift.read_struct(b"\x1c" * 100)  # structs nested 100 deep
    with pytest.raises(thrift.ThriftError):
        thrift.read_struct(b"\x18\x7f")  # a 127-byte binary in 2 bytes
