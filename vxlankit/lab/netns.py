"""A tiny runner of iproute2 commands that remembers what it made and removes it.

``Netns`` is the lab's only way to touch the kernel.  Every namespace it creates gets the run's
unique prefix (``vxk-<pid>-<random>-``), is recorded, and is deleted again by ``close()``,
which the ``with`` block calls on every way out: normal end, an error, Ctrl-C, and (through
``trap_signals``) SIGTERM and SIGHUP.  Processes started inside the namespaces (dumpcap, ping)
are recorded too and stopped, by their own pid, before the namespaces go: a namespace with a
process still in it would outlive its name.  Nothing outside the recorded names is touched.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any

from vxlankit.errors import LabError

NETNS_DIR = Path("/run/netns")
COMMAND_TIMEOUT_S = 20.0  # no iproute2 command takes more than a fraction of a second

# (tool, Debian package): what the lab needs on PATH.
TOOLS = (("ip", "iproute2"), ("bridge", "iproute2"), ("dumpcap", "tshark"),
         ("ping", "iputils-ping"))
_CAP_NET_ADMIN = 12
_CAP_SYS_ADMIN = 21  # ip netns add mounts the namespace on /run/netns


def unique_prefix() -> str:
    """``vxk-<pid>-<4 hex>-``: unique per run, recognisable, short enough for any name."""
    return f"vxk-{os.getpid()}-{secrets.token_hex(2)}-"


def _effective_caps() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return 0


def check_prerequisites() -> None:
    """Refuse, with what to do, where the lab cannot work: without root (CAP_NET_ADMIN and
    CAP_SYS_ADMIN) or without the tools."""
    caps = _effective_caps()
    if os.geteuid() != 0 and not (caps >> _CAP_NET_ADMIN & 1 and caps >> _CAP_SYS_ADMIN & 1):
        raise LabError("the lab builds network namespaces: run it as root (it needs "
                       "CAP_NET_ADMIN and CAP_SYS_ADMIN)")
    missing = [f"{tool} (Debian package {package})" for tool, package in TOOLS
               if shutil.which(tool) is None]
    if missing:
        raise LabError("the lab needs " + ", ".join(missing) + ": apt-get install "
                       + " ".join(sorted({p for t, p in TOOLS if shutil.which(t) is None})))


def leftovers(prefix: str) -> list[str]:
    """The namespaces whose names start with ``prefix`` (none after a clean run)."""
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))
    except OSError:
        return []


class Netns:
    """Namespaces named ``prefix + short name``, the commands run in them, and the cleanup."""

    def __init__(self, prefix: str | None = None, *, keep: bool = False) -> None:
        self.prefix = prefix or unique_prefix()
        self.keep = keep
        self.made: list[str] = []
        self.procs: list[subprocess.Popen[Any]] = []
        self.log: list[str] = []  # every command run, for --keep and error messages

    def __enter__(self) -> Netns:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(keep=self.keep and exc_type is None)

    def name(self, short: str) -> str:
        return self.prefix + short

    # -- running

    def run(self, argv: Sequence[str], *, timeout: float = COMMAND_TIMEOUT_S,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        self.log.append(" ".join(argv))
        try:
            done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise LabError(f"`{' '.join(argv)}` did not finish in {timeout:g} s") from None
        except OSError as exc:
            raise LabError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
        if check and done.returncode != 0:
            said = (done.stderr or done.stdout).strip().splitlines()
            raise LabError(f"`{' '.join(argv)}` failed: {said[-1] if said else done.returncode}")
        return done

    def ip(self, ns: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(["ip", "-n", self.name(ns), *args])

    def bridge(self, ns: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(["bridge", "-n", self.name(ns), *args])

    def exec(self, ns: str, *argv: str, timeout: float = COMMAND_TIMEOUT_S,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(["ip", "netns", "exec", self.name(ns), *argv], timeout=timeout,
                        check=check)

    def sysctl(self, ns: str, *settings: str) -> None:
        self.exec(ns, "sysctl", "-qw", *settings)

    def spawn(self, ns: str, *argv: str, stdout: int | IO[Any] | None = subprocess.DEVNULL,
              stderr: int | IO[Any] | None = subprocess.PIPE) -> subprocess.Popen[Any]:
        """Start ``argv`` in ``ns``; recorded, so ``close()`` stops it."""
        full = ["ip", "netns", "exec", self.name(ns), *argv]
        self.log.append(" ".join(full) + " &")
        try:
            proc = subprocess.Popen(full, stdout=stdout, stderr=stderr,
                                    stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise LabError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
        self.procs.append(proc)
        return proc

    # -- making

    def add(self, short: str) -> str:
        """A new namespace with loopback up and IPv6 off (so that nothing but the lab's own
        traffic is on its links: no router solicitations, no MLD, no DAD)."""
        name = self.name(short)
        if (NETNS_DIR / name).exists():
            raise LabError(f"namespace {name} exists already; refusing to touch it")
        self.run(["ip", "netns", "add", name])
        self.made.append(name)
        self.sysctl(short, "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1")
        self.ip(short, "link", "set", "lo", "up")
        return name

    # -- removing

    def stop_processes(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        self.procs.clear()

    def cleanup_command(self) -> str:
        return "; ".join(f"ip netns del {name}" for name in reversed(self.made))

    def close(self, *, keep: bool = False) -> None:
        """Stop every process started, then delete every namespace made (unless ``keep``).
        Deleting a namespace removes the devices in it, and a veth's peer with it."""
        with _signals_deferred():
            self.stop_processes()
            if keep:
                return
            failed = []
            for name in reversed(self.made):
                done = subprocess.run(["ip", "netns", "del", name], capture_output=True,
                                      text=True, timeout=COMMAND_TIMEOUT_S, check=False)
                if done.returncode != 0 and (NETNS_DIR / name).exists():
                    failed.append(name)
            self.made = failed
            if failed:
                raise LabError("could not delete namespace(s) " + ", ".join(failed)
                               + f"; remove them with: {self.cleanup_command()}")


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP during a lab run: unwinds like Ctrl-C, through every ``finally``."""


@contextmanager
def trap_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise ``Interrupted`` (in the main thread) while the block runs, so
    that the cleanup in ``finally`` blocks runs for them as for Ctrl-C."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous: dict[int, Any] = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            previous[sig] = signal.signal(sig, interrupt)
    except ValueError:
        pass  # not the main thread: the caller's own handling applies
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP while the cleanup runs (a second Ctrl-C must not leave
    half the namespaces behind); they are delivered when it is done."""
    sigs = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
