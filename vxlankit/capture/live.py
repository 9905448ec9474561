"""Live capture: Wireshark's dumpcap on one or more interfaces, its pcapng read from a pipe.

``LiveCapture`` runs ``dumpcap -q -n -w - -i IF ...`` and is itself a binary stream, so the
capture reader reads it exactly as it reads a file (``open_capture(live)``): the same records,
the same decoding, hence the same output as for the file dumpcap would have written.  pcapng
(``-n``), not pcap, so that several interfaces keep their ids, names and link types.

Bounded: each read asks the pipe for what it holds (at most one chunk); when the consumer is
slower than the traffic, dumpcap blocks on the full pipe and the kernel's capture buffer drops
packets, which dumpcap counts, instead of anything growing here.  dumpcap's stderr is kept
(the last lines only) to explain a failure, never echoed.

The child is always reaped: ``close`` (also on ``with`` exit, so on an error, on a broken
pipe and on Ctrl-C) closes the pipe first, so a dumpcap blocked writing to it ends at once,
then sends SIGTERM, and SIGKILL if it has not ended within ``STOP_GRACE_S``.  ``stop`` asks
dumpcap to end the capture as Ctrl-C would: it writes what it captured and exits, and the
reader gets the end of the stream after the last packet.
"""

from __future__ import annotations

import math
import os
import select
import shutil
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

from vxlankit.capture._io import CHUNK, BinaryWritable
from vxlankit.errors import CaptureFilterError, LiveCaptureError

DEBIAN_PACKAGE = "tshark"  # brings wireshark-common, which holds dumpcap
START_TIMEOUT_S = 10.0  # dumpcap opens the interfaces and writes its header within this
STOP_GRACE_S = 3.0  # after SIGINT/SIGTERM, before SIGKILL
MAX_DURATION_S = 366 * 86400.0
MAX_PACKETS = (1 << 31) - 1  # dumpcap -c takes no more
_STDERR_LINES = 40
_STDERR_LINE_MAX = 1000
_MESSAGE_MAX = 600
# What dumpcap says on stderr when all goes well: not part of an error's explanation.
_CHATTER = (
    "Capturing on ",
    "File: ",
    "Packets captured: ",
    "Packets received/dropped on interface",
    "See the User's Guide",
    "Running as user",
)

__all__ = [
    "DEBIAN_PACKAGE",
    "LiveCapture",
    "LiveOptions",
    "dumpcap_command",
    "find_dumpcap",
    "parse_autostop",
    "stop_on_interrupt",
]


@dataclass(frozen=True)
class LiveOptions:
    """What to capture: ``interfaces`` (names or dumpcap's indexes), an optional capture
    filter (BPF, libpcap syntax, applied on every interface), and when to stop: after
    ``count`` packets (over all interfaces) and/or ``duration_s`` seconds; neither means
    until ``stop`` (Ctrl-C)."""

    interfaces: tuple[str, ...]
    capture_filter: str | None = None
    count: int | None = None
    duration_s: float | None = None

    def __post_init__(self) -> None:
        if not self.interfaces:
            raise ValueError("a live capture needs at least one interface")
        for name in self.interfaces:
            if not name or "\0" in name:
                raise ValueError(f"bad interface name {name!r}")
        if self.count is not None and self.count < 1:
            raise ValueError(f"packet count must be at least 1, not {self.count}")
        if self.duration_s is not None and not (
            0 < self.duration_s <= MAX_DURATION_S and math.isfinite(self.duration_s)
        ):
            raise ValueError(f"duration must be more than 0 s and at most a year, "
                             f"not {self.duration_s}")
        if self.capture_filter is not None and "\0" in self.capture_filter:
            raise ValueError("the capture filter holds a NUL character")

    @property
    def label(self) -> str:
        """The interfaces as a person reads them: ``lo``, ``lo and eth0``, ``a, b and c``."""
        names = list(self.interfaces)
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def parse_autostop(conditions: Iterable[str]) -> tuple[int | None, float | None]:
    """tshark's ``-a`` conditions for a capture to stdout: ``duration:SECONDS`` and
    ``packets:N`` (repeated: the smallest wins).  (packets, seconds); ValueError on others."""
    packets: int | None = None
    seconds: float | None = None
    for condition in conditions:
        key, sep, value = condition.partition(":")
        if not sep:
            raise ValueError(f"bad autostop condition {condition!r}: expected "
                             "duration:SECONDS or packets:N")
        if key == "duration":
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"bad duration {value!r} in {condition!r}") from None
            if not (0 < number <= MAX_DURATION_S):
                raise ValueError(f"duration {value!r} out of range (more than 0, at most "
                                 "a year)")
            seconds = number if seconds is None else min(seconds, number)
        elif key == "packets":
            try:
                whole = int(value, 10)
            except ValueError:
                raise ValueError(f"bad packet count {value!r} in {condition!r}") from None
            if not 1 <= whole <= MAX_PACKETS:
                raise ValueError(f"packet count {whole} must be at least 1 and at most "
                                 f"{MAX_PACKETS} (dumpcap's limit)")
            packets = whole if packets is None else min(packets, whole)
        elif key in ("filesize", "files"):
            raise ValueError(f"autostop {key} applies to capture files dumpcap writes itself; "
                             "here the capture goes through a pipe (use duration: or packets:)")
        else:
            raise ValueError(f"unknown autostop condition {key!r} (duration:SECONDS, "
                             "packets:N)")
    return packets, seconds


def find_dumpcap() -> str:
    """dumpcap's path, or a LiveCaptureError naming the Debian package that brings it."""
    found = shutil.which("dumpcap")
    if found is None:
        raise LiveCaptureError(
            "dumpcap not found on PATH: live capture runs Wireshark's dumpcap "
            f"(Debian package {DEBIAN_PACKAGE}: apt-get install {DEBIAN_PACKAGE})")
    return found


def dumpcap_command(options: LiveOptions, dumpcap: str = "dumpcap") -> list[str]:
    """The dumpcap command line: pcapng (``-n``) to stdout (``-w -``), quiet (``-q``)."""
    cmd = [dumpcap, "-q", "-n", "-w", "-"]
    if options.capture_filter is not None:
        # Before every -i: dumpcap takes a filter given first as the default of every
        # interface (one given after an -i would apply to that interface only).
        cmd += ["-f", options.capture_filter]
    for name in options.interfaces:
        cmd += ["-i", name]
    if options.count is not None:
        cmd += ["-c", str(options.count)]
    if options.duration_s is not None:
        cmd += ["-a", f"duration:{options.duration_s!r}"]
    return cmd


class LiveCapture:
    """dumpcap running, read as a binary stream (``read``/``read1``); see the module docstring.

    Use it as a context manager (which starts it, and closes it on every way out) and hand it to
    ``open_capture``.  ``tee``, if given, receives every byte read from dumpcap, as read: the
    capture file dumpcap would have written (up to where reading stopped).  ``dumpcap`` is its
    path (default: found on PATH).
    """

    def __init__(self, options: LiveOptions, *, tee: BinaryWritable | None = None,
                 dumpcap: str | None = None) -> None:
        self.options = options
        self.name = f"<live: {', '.join(options.interfaces)}>"
        self.bytes_read = 0
        self._tee = tee
        self._dumpcap = dumpcap
        self._proc: subprocess.Popen[bytes] | None = None
        self._stdout: IO[bytes] | None = None
        self._pending = b""
        self._stopping = False
        self._closed = False
        self._ended = False
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        self._stderr_thread: threading.Thread | None = None
        self._killer: threading.Timer | None = None

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start dumpcap and wait (at most ``START_TIMEOUT_S``) until it captures: its file
        header has arrived.  A dumpcap that cannot capture raises LiveCaptureError here."""
        if self._proc is not None:
            raise LiveCaptureError("this live capture was already started")
        dumpcap = self._dumpcap or find_dumpcap()
        cmd = dumpcap_command(self.options, dumpcap)
        try:
            # The same process group as ours: a Ctrl-C at the terminal reaches dumpcap too,
            # which then ends its capture cleanly (``stop`` forwards it for a signal sent to
            # this process alone).
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, bufsize=0)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                raise LiveCaptureError(
                    f"{dumpcap} not found: live capture runs Wireshark's dumpcap (Debian "
                    f"package {DEBIAN_PACKAGE})") from None
            raise LiveCaptureError(f"cannot run {dumpcap}: {exc.strerror or exc}") from None
        try:
            assert self._proc.stdout is not None and self._proc.stderr is not None
            self._stdout = self._proc.stdout
            self._stderr_thread = threading.Thread(
                target=_keep_lines, args=(self._proc.stderr, self._stderr),
                name="dumpcap-stderr", daemon=True)
            self._stderr_thread.start()
            ready, _, _ = select.select([self._stdout], [], [], START_TIMEOUT_S)
            if not ready:
                raise LiveCaptureError(
                    f"dumpcap did not start capturing on {self.options.label} within "
                    f"{START_TIMEOUT_S:g} s")
            first = self._read_pipe(CHUNK)
            if not first:
                raise LiveCaptureError(
                    f"dumpcap ended without starting a capture on {self.options.label}")
            self._pending = first
        except BaseException:
            self.close()
            raise

    def stop(self) -> None:
        """Ask dumpcap to end the capture (SIGINT, as Ctrl-C): it writes what it captured and
        exits, and reading ends after the last packet.  SIGKILL follows if it has not exited
        within ``STOP_GRACE_S``.  Safe to call from a signal handler, and more than once."""
        proc = self._proc
        if self._stopping or proc is None:
            return
        self._stopping = True
        if proc.poll() is not None:
            return
        try:
            proc.send_signal(signal.SIGINT)
        except OSError:  # pragma: no cover - it has just exited
            return
        self._killer = threading.Timer(STOP_GRACE_S, self._kill)
        self._killer.daemon = True
        self._killer.start()

    @property
    def stopping(self) -> bool:
        """``stop`` was called."""
        return self._stopping

    @property
    def returncode(self) -> int | None:
        """dumpcap's exit status, once it has been reaped."""
        return None if self._proc is None else self._proc.returncode

    def dumpcap_messages(self) -> list[str]:
        """The last lines dumpcap wrote on stderr."""
        return list(self._stderr)

    def close(self) -> None:
        """End dumpcap if it runs and reap it; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stopping = True
        if self._killer is not None:
            self._killer.cancel()
        proc = self._proc
        if proc is None:
            return
        # The pipe first: a dumpcap blocked writing to a full pipe gets EPIPE at once.
        if self._stdout is not None:
            self._stdout.close()
        if proc.poll() is None:
            try:
                proc.terminate()
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._join_stderr()

    def __enter__(self) -> LiveCapture:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LiveCapture({self.name})"

    # -- the stream ------------------------------------------------------------------------

    def read1(self, size: int = -1, /) -> bytes:
        """What the pipe holds now (waiting for some if it is empty), at most ``size`` bytes;
        b"" at the end.  A dumpcap that failed raises LiveCaptureError at the end instead."""
        if size < 0:
            size = CHUNK
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        if self._ended or self._stdout is None or self._closed:
            return b""
        return self._read_pipe(size)

    def read(self, size: int = -1, /) -> bytes:
        if size >= 0:
            return self.read1(size)
        parts: list[bytes] = []
        while True:
            chunk = self.read1(CHUNK)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)

    def readable(self) -> bool:
        return True

    def _read_pipe(self, size: int) -> bytes:
        assert self._stdout is not None
        data = os.read(self._stdout.fileno(), max(1, size))
        if data:
            self.bytes_read += len(data)
            if self._tee is not None:
                self._tee.write(data)
            return data
        self._end()
        return b""

    def _end(self) -> None:
        """The end of dumpcap's output: reap it, and raise what made it fail, if it failed."""
        self._ended = True
        proc = self._proc
        assert proc is not None
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:  # it closed its stdout but lingers
            proc.kill()
            proc.wait()
        if self._killer is not None:
            self._killer.cancel()
        self._join_stderr()
        code = proc.returncode
        if code == 0 or self._stopping:
            return
        raise self._failure(code)

    def _failure(self, code: int) -> LiveCaptureError:
        said = [text for text in (line.strip() for line in self._stderr)
                if text and not text.startswith(_CHATTER)]
        text = " ".join(said)
        if text.startswith("dumpcap: "):
            text = text[len("dumpcap: "):]
        if len(text) > _MESSAGE_MAX:
            text = text[:_MESSAGE_MAX] + "..."
        if not text:
            text = (f"dumpcap was killed by signal {-code}" if code < 0
                    else f"dumpcap exited with status {code}")
        kind = CaptureFilterError if "capture filter" in text else LiveCaptureError
        return kind(f"cannot capture on {self.options.label}: {text}")

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    def _join_stderr(self) -> None:
        thread = self._stderr_thread
        if thread is not None:
            thread.join(STOP_GRACE_S)
        proc = self._proc
        if proc is not None and proc.stderr is not None and (thread is None
                                                             or not thread.is_alive()):
            proc.stderr.close()


def _keep_lines(stream: IO[bytes], lines: deque[str]) -> None:
    """Read ``stream`` to its end, keeping its last lines (each cut to a bound)."""
    try:
        for raw in stream:
            lines.append(raw[:_STDERR_LINE_MAX].decode("utf-8", "replace").rstrip("\n"))
    except (OSError, ValueError):  # closed under us: close() is ending the capture
        pass


@contextmanager
def stop_on_interrupt(capture: LiveCapture) -> Iterator[None]:
    """While inside: Ctrl-C (SIGINT) stops the capture (``capture.stop``) instead of raising,
    so that reading goes on to the last packet dumpcap captured; a second Ctrl-C raises
    KeyboardInterrupt.  SIGTERM and SIGHUP raise SystemExit, so that the capture is closed and
    dumpcap reaped on the way out.  (Signal handlers exist in the main thread only: elsewhere
    this does nothing.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        if capture.stopping:
            raise KeyboardInterrupt
        capture.stop()

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = {signal.SIGINT: signal.signal(signal.SIGINT, interrupt)}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, terminate)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
