"""The decoded form of a frame: an ordered list of layers, each with Wireshark-named fields.

A ``Layer`` holds the fields of one protocol header (``eth``, ``vlan``, ``ip``, ``udp``,
``vxlan``, ``arp``, ``icmp``, ``data``, ``trailer`` ...), where it sits in the frame and whether it
was complete.  Field names are Wireshark's (``tshark -G fields``); integers are ints, MAC and IPv4
addresses are strings as Wireshark shows them, byte strings are ``bytes``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from vxlankit.errors import DecodeError, MalformedError, TruncatedError

# Layer statuses.
OK = "ok"
TRUNCATED = "truncated"  # the capture ended before this layer did
MALFORMED = "malformed"  # complete, but with impossible values

# Checksum statuses, with Wireshark's numbering (proto_checksum_enum_e), so that
# ``ip.checksum.status`` compares directly with tshark's value.
CHECKSUM_BAD = 0
CHECKSUM_GOOD = 1
CHECKSUM_UNVERIFIED = 2
CHECKSUM_NOT_PRESENT = 3
CHECKSUM_ILLEGAL = 4  # a UDP checksum of 0 over IPv6 (RFC 8200 8.1)
CHECKSUM_STATUS_NAMES = {
    CHECKSUM_BAD: "bad",
    CHECKSUM_GOOD: "good",
    CHECKSUM_UNVERIFIED: "unverified",
    CHECKSUM_NOT_PRESENT: "not present",
    CHECKSUM_ILLEGAL: "illegal",
}


T = TypeVar("T")


class FieldKey(Generic[T]):
    """A field's name with the Python type of its values, for typed access:
    ``packet.first(F.VXLAN_VNI)`` is an ``int | None`` to mypy, where ``packet.get("vxlan.vni")``
    is ``Any``.  ``vxlankit.fieldkeys`` (generated from the registry) holds one per field."""

    __slots__ = ("name", "type")

    def __init__(self, name: str, type: type[T]) -> None:
        self.name = name
        self.type = type

    def __repr__(self) -> str:
        return f"FieldKey({self.name!r}, {self.type.__name__})"


class Layer:
    """One protocol header (or payload) inside a frame.

    ``raw`` is set only when the header could not be decoded into fields (it was cut short, or
    is opaque); encoding then writes it back verbatim, so ``encode(decode(b)) == b`` always holds.
    """

    __slots__ = ("proto", "fields", "offset", "length", "status", "raw", "notes")

    def __init__(
        self,
        proto: str,
        fields: dict[str, Any] | None = None,
        offset: int = 0,
        length: int = 0,
        status: str = OK,
        raw: bytes | None = None,
        notes: tuple[str, ...] = (),
    ) -> None:
        self.proto = proto
        self.fields: dict[str, Any] = fields if fields is not None else {}
        self.offset = offset
        self.length = length
        self.status = status
        self.raw = raw
        # A tuple: most layers have no notes, and a shared empty tuple costs no allocation.
        self.notes = notes

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Layer):
            return NotImplemented
        return (
            self.proto == other.proto
            and self.fields == other.fields
            and self.raw == other.raw
        )

    def __hash__(self) -> int:  # layers are mutable value objects; hash by identity
        return id(self)

    def __repr__(self) -> str:
        extra = "" if self.status == OK else f" status={self.status}"
        raw = "" if self.raw is None else f" raw={len(self.raw)}B"
        return f"Layer({self.proto!r}@{self.offset}+{self.length}{extra}{raw} {self.fields!r})"


class Packet:
    """A decoded frame: its layers in wire order, decode problems, and the bytes themselves."""

    __slots__ = ("layers", "errors", "linktype", "data", "frame")

    def __init__(
        self,
        layers: list[Layer],
        errors: list[str] | None = None,
        *,
        linktype: int = 1,
        data: bytes = b"",
    ) -> None:
        self.layers = layers
        self.errors: list[str] = errors if errors is not None else []
        self.linktype = linktype
        self.data = data
        # The capture record's own fields (frame.number, frame.len...), when the reader of a
        # capture set them: what a display filter on frame.* reads.
        self.frame: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Packet):
            return NotImplemented
        return self.layers == other.layers

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        stack = ":".join(layer.proto for layer in self.layers)
        return f"Packet({stack}, {len(self.data)}B, errors={self.errors!r})"

    @property
    def protocols(self) -> str:
        """The stack as tshark's ``frame.protocols`` would name it, without ``ethertype``."""
        return ":".join(layer.proto for layer in self.layers)

    @property
    def ok(self) -> bool:
        return not self.errors and all(layer.status == OK for layer in self.layers)

    def raise_for_status(self, *, path: str | None = None, number: int | None = None) -> None:
        """Raise what decoding only reported, for callers that want a packet whole or not at
        all: :class:`TruncatedError` or :class:`MalformedError` for the first layer so
        marked, else :class:`DecodeError` for the first other problem (a bad checksum, an
        unsupported link type).  ``path`` and ``number`` say where, in the error."""
        for layer in self.layers:
            if layer.status != OK:
                kind = TruncatedError if layer.status == TRUNCATED else MalformedError
                mine = [e for e in self.errors if e.startswith(layer.proto + ":")]
                message = (mine or self.errors or [f"{layer.proto}: {layer.status}"])[0]
                raise kind(message, path=path, packet=number, offset=layer.offset)
        if self.errors:
            raise DecodeError(self.errors[0], path=path, packet=number)

    def addresses_below(self, index: int) -> tuple[str, str] | None:
        """The source and destination of the IPv4 or IPv6 header nearest below layer
        ``index`` (what a transport's conversation is keyed by), or None."""
        for layer in reversed(self.layers[:index]):
            fields = layer.fields
            if "ip.src" in fields:
                return fields["ip.src"], fields["ip.dst"]
            if "ipv6.src" in fields:
                return fields["ipv6.src"], fields["ipv6.dst"]
        return None

    def layer(self, proto: str, occurrence: int = 1) -> Layer | None:
        """The ``occurrence``-th layer (1-based) of ``proto``; ``-1`` is the last one."""
        found = [layer for layer in self.layers if layer.proto == proto]
        if not found:
            return None
        if occurrence < 0:
            return found[occurrence]
        return found[occurrence - 1] if occurrence <= len(found) else None

    def values(self, name: str) -> list[Any]:
        """Every occurrence of ``name``, outermost first (Wireshark's ``name#1``, ``#2``...); a
        repeated field (a list in its layer) gives each of its values in turn."""
        found: list[Any] = []
        frame = self.frame
        if frame is not None and name in frame:
            found.append(frame[name])
            return found
        for layer in self.layers:
            if name in layer.fields:
                value = layer.fields[name]
                if type(value) is list:
                    found.extend(value)
                else:
                    found.append(value)
        return found

    def occurrences(self, names: tuple[str, ...]) -> Iterator[tuple[dict[str, Any], str, Any]]:
        """(the layer's fields, the name, a value) for every value of any of ``names`` (an
        alias's fields: ``ip.addr`` is ``ip.src`` and ``ip.dst``), in wire order and, within a
        layer, in the order of ``names``; a repeated field gives each of its values in turn.
        ``-T fields`` and ``export -e`` count ``#N`` over these."""
        for layer in self.layers:
            fields = layer.fields
            for name in names:
                if name in fields:
                    value = fields[name]
                    if type(value) is list:
                        for item in value:
                            yield fields, name, item
                    else:
                        yield fields, name, value

    def get(self, name: str, occurrence: int = 1, default: Any = None) -> Any:
        """Field ``name`` at its ``occurrence``-th appearance (1 = outer, 2 = inner, -1 = last)."""
        found = self.values(name)
        if not found:
            return default
        if occurrence < 0:
            return found[occurrence] if -occurrence <= len(found) else default
        return found[occurrence - 1] if occurrence <= len(found) else default

    def first(self, key: FieldKey[T]) -> T | None:
        """The outermost value of the field ``key`` names, typed (None when absent)."""
        found = self.values(key.name)
        return found[0] if found else None

    def every(self, key: FieldKey[T]) -> list[T]:
        """Every value of the field ``key`` names, outermost first, typed."""
        return self.values(key.name)

    def __getitem__(self, name: str) -> Any:
        found = self.values(name)
        if not found:
            raise KeyError(name)
        return found[0]

    def __contains__(self, name: object) -> bool:
        frame = self.frame  # the record's own fields, when a reader set them (frame.comment)
        if frame is not None and name in frame:
            return True
        return any(name in layer.fields for layer in self.layers)
