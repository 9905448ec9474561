"""Opening inputs and outputs, and the sequential read buffer the readers share.

Nothing here seeks or asks for a position: captures arrive through pipes and stdin as often as
from files, so a reader only ever reads forward and counts offsets itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, Protocol

from vxlankit.errors import CaptureError

# How much the reader asks for at a time.  Big enough that the per-read cost vanishes, small
# enough that memory stays flat; a record larger than this is read in one piece of its own size.
CHUNK = 1 << 18


class BinaryReadable(Protocol):
    """Anything with a binary ``read``: open files, pipes, sockets' makefile, BytesIO..."""

    def read(self, size: int = -1, /) -> bytes | None: ...


class BinaryWritable(Protocol):
    def write(self, data: bytes, /) -> object: ...


# A path, "-" for stdin/stdout, or an open binary stream.
Source = str | os.PathLike[str] | BinaryReadable
Target = str | os.PathLike[str] | BinaryWritable


def input_name(source: Any) -> str:
    if isinstance(source, str):
        return "<stdin>" if source == "-" else source
    if isinstance(source, os.PathLike):
        return os.fspath(source)  # type: ignore[no-any-return]
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<stream>"


def open_input(source: Source) -> tuple[str, Any, bool]:
    """(name for errors, binary file object, whether we opened it and so must close it)."""
    name = input_name(source)
    if isinstance(source, (str, os.PathLike)):
        if isinstance(source, str) and source == "-":
            return name, sys.stdin.buffer, False
        try:
            # Unbuffered: the reader does its own buffering, one copy is enough.
            return name, open(source, "rb", buffering=0), True
        except OSError as exc:
            raise CaptureError(f"cannot open: {exc.strerror or exc}", path=name) from exc
    if not hasattr(source, "read"):
        raise CaptureError(
            f"cannot read a capture from {type(source).__name__}: "
            "expected a path, '-' or a binary file object",
            path=name,
        )
    return name, source, False


def open_output(target: Target) -> tuple[str, Any, bool]:
    """(name for errors, binary file object, whether we opened it and so must close it)."""
    if isinstance(target, str) and target == "-":
        return "<stdout>", sys.stdout.buffer, False
    name = input_name(target)
    if isinstance(target, (str, os.PathLike)):
        try:
            return name, open(target, "wb"), True
        except OSError as exc:
            raise CaptureError(f"cannot create: {exc.strerror or exc}", path=name) from exc
    if not hasattr(target, "write"):
        raise CaptureError(
            f"cannot write a capture to {type(target).__name__}: "
            "expected a path, '-' or a binary file object",
            path=name,
        )
    return name, target, False


class ReadBuffer:
    """A forward-only window on a stream: ``buf[pos:]`` is unread, ``buf[0]`` is at ``base``.

    The readers' hot loops copy ``buf``/``pos``/``base`` into locals and call ``fill`` only when
    a record runs past the end of ``buf``.
    """

    __slots__ = ("_read", "path", "buf", "pos", "base", "eof")

    def __init__(self, file: Any, path: str) -> None:
        # read1 returns what is there instead of blocking for a whole chunk, so records from a
        # live pipe are handed out as they arrive.
        read = getattr(file, "read1", None) or file.read
        self._read: Callable[[int], Any] = read
        self.path = path
        self.buf = b""
        self.pos = 0
        self.base = 0
        self.eof = False

    def fill(self, need: int, packet: int | None = None) -> int:
        """Make ``need`` bytes available at ``pos`` if the stream has them; return how many are.

        The caller checks ``need`` against its bounds first: this reads what it is asked for.
        ``packet`` is the record being read, for the error should the read fail.
        """
        avail = len(self.buf) - self.pos
        if avail >= need or self.eof:
            return avail
        parts = [self.buf[self.pos :]] if avail else []
        self.base += self.pos
        self.pos = 0
        while avail < need:
            offset = self.base + avail
            try:
                chunk = self._read(max(need - avail, CHUNK))
            except OSError as exc:
                raise CaptureError(
                    f"read failed: {exc.strerror or exc}",
                    path=self.path,
                    packet=packet,
                    offset=offset,
                ) from exc
            if chunk is None:
                raise CaptureError(
                    "the stream is non-blocking and has no data ready",
                    path=self.path,
                    packet=packet,
                    offset=offset,
                )
            if not isinstance(chunk, bytes):
                if isinstance(chunk, str):
                    raise CaptureError(
                        "the file is open in text mode; open it with 'rb'",
                        path=self.path,
                        packet=packet,
                        offset=offset,
                    )
                chunk = bytes(chunk)
            if not chunk:
                self.eof = True
                break
            parts.append(chunk)
            avail += len(chunk)
        self.buf = b"".join(parts) if len(parts) != 1 else parts[0]
        return avail
