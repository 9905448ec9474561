"""Writing an output file without ever destroying anything: what ``export -o`` and
``decode -w`` share.

An output that is one of the inputs (the same file, through a link or another name) is
refused before anything is written.  A regular file is written under a temporary name and
renamed when complete, so a failed run never leaves a half-written file under the final name;
a symbolic link keeps pointing where it pointed (the file it names is replaced); a device,
FIFO or socket is written through; a directory is refused; the temporary file goes on every
way out, SIGTERM and SIGHUP included.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Sequence
from typing import IO, Any

from vxlankit.errors import VxlanKitError


def refuse_overwriting_inputs(target: str, inputs: Sequence[str],
                              error: type[VxlanKitError] = VxlanKitError) -> None:
    """An output that is one of the inputs (the same file, also through a link or another
    name) would replace the capture being read: refuse before anything is written."""
    if target == "-":
        return
    try:
        out = os.stat(target)
    except OSError:
        return  # not there yet (or not reachable: opening it will say why)
    for name in inputs:
        if name == "-":
            continue
        try:
            source = os.stat(name)
        except OSError:
            continue  # reading it will report the problem
        if (source.st_dev, source.st_ino) == (out.st_dev, out.st_ino):
            raise error(f"the output {target} is the input {name}; refusing to "
                        "overwrite a capture", path=target)


_TRAPPED = (signal.SIGTERM, signal.SIGHUP)


class SafeOutput:
    """The output file, written under a temporary name and renamed when complete, so that a
    failed export never leaves a half-written file behind under the final name.  A file
    finished up to a capture's damage counts as complete (see the module docstring).

    What is not a regular file is never replaced: a symbolic link keeps pointing where it
    pointed (the file it names is replaced), a device, FIFO or socket is written through, and
    a directory is refused.  The temporary file goes on every way out, SIGTERM and SIGHUP
    included."""

    def __init__(self, target: str, error: type[VxlanKitError] = VxlanKitError) -> None:
        self.target = target
        self.error = error
        self.prefix = "export-"  # the temporary file's name: .vxlankit-export-XXXX
        self.final = target  # where the finished file goes: a link's target, resolved
        self.temp: str | None = None
        self.file: IO[bytes] | None = None
        self.through = False  # written straight to a device, FIFO or socket
        self.handlers: dict[int, Any] = {}

    def __enter__(self) -> IO[bytes]:
        if self.target == "-":
            self.file = sys.stdout.buffer
            return self.file
        self.final = os.path.realpath(self.target)
        try:
            mode = os.stat(self.final).st_mode
        except OSError:
            mode = None
        if mode is not None and stat.S_ISDIR(mode):
            raise self.error(f"{self.target} is a directory: name a file to write",
                              path=self.target)
        if mode is not None and not stat.S_ISREG(mode):
            try:
                self.file = open(self.final, "wb")  # noqa: SIM115 - closed in __exit__
            except OSError as exc:
                raise self.error(f"cannot write to {self.target}: {exc.strerror or exc}",
                                  path=self.target) from None
            self.through = True
            return self.file
        folder = os.path.dirname(self.final)
        # The handlers first, and the signals held while the file is made and named, so that
        # no SIGTERM can land between the two; one that came meanwhile ends the export here.
        trapped = self._trap_signals()
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _TRAPPED) if trapped else None
        try:
            try:
                fd, self.temp = tempfile.mkstemp(prefix=".vxlankit-" + self.prefix, dir=folder)
                self.file = os.fdopen(fd, "wb")
            finally:
                if held is not None:
                    signal.pthread_sigmask(signal.SIG_SETMASK, held)
        except OSError as exc:
            self._abandon()
            raise self.error(f"cannot write to {folder}: {exc.strerror or exc}",
                              path=self.target) from None
        except BaseException:
            self._abandon()
            raise
        return self.file

    def _abandon(self) -> None:
        """Undo ``__enter__``: the file closed and removed, the signal handlers restored."""
        self._restore_signals()
        if self.file is not None:
            self.file.close()
        if self.temp is not None:
            os.unlink(self.temp)
            self.temp = None

    def _trap_signals(self) -> bool:
        """SIGTERM and SIGHUP end the run through ``__exit__`` (which removes the temporary
        file) instead of killing the process where it stands (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return False

        def stop(signum: int, frame: Any) -> None:
            raise SystemExit(128 + signum)

        for signum in _TRAPPED:
            self.handlers[signum] = signal.signal(signum, stop)
        return True

    def _restore_signals(self) -> None:
        for signum, handler in self.handlers.items():
            signal.signal(signum, handler)
        self.handlers = {}

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._restore_signals()
        if self.target == "-" or self.file is None:
            return
        if self.through:
            try:
                self.file.close()
            except OSError as exc:
                if exc_type is None:
                    raise self.error(f"cannot write to {self.target}: {exc.strerror or exc}",
                                      path=self.target) from None
            return
        if self.temp is None:
            return
        try:
            self.file.close()
        finally:
            if exc_type is not None:
                os.unlink(self.temp)
        if exc_type is not None:
            return
        # mkstemp makes the file private; give it the mode a plain open() would have.
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(self.temp, 0o666 & ~mask)
        os.replace(self.temp, self.final)
