"""tshark, through pyshark, in PDML mode: a capture as plain per-packet layer/field records.

PDML, not pyshark's JSON or EK modes: with those (pyshark 0.6, tshark 4.0) the inner Ethernet
and IPv4 layers of a VXLAN frame vanish.  tshark's JSON groups both Ethernet headers of a packet
under one ``"eth"`` key, and pyshark builds one layer per key, walking ``frame.protocols`` and
finding nothing left for the second ``eth``.  The test-suite checks that this is still so.

pyshark's PDML layer keeps every ``<field>`` below a top-level ``<proto>``, those of protocols
nested inside it included (the IPv4 header an ICMP error quotes lands in the ``icmp`` layer).
The comparison therefore works from field positions and names, and this module hands it each
field's name, position and ``show`` string, nothing pyshark-specific.
"""

from __future__ import annotations

import asyncio
import functools
import re
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vxlankit.crosscheck.fieldtypes import CrosscheckError
from vxlankit.layers.registry import LAYERS
from vxlankit.layers.spec import CHECKSUM_HEADER, CHECKSUM_PSEUDO

# The tshark settings that make it dissect what vxlankit dissects:
# - vxlankit verifies IPv4/UDP checksums and the FCS by default; tshark verifies none unless told.
# - vxlankit takes a frame to have an FCS only when the capture says so (pcapng if_fcslen, pcap's
#   FCS bits); tshark guesses when the capture is silent, and calls the last 4 bytes of a trailer
#   an FCS.  "Never" applies only where the capture is silent, like vxlankit.
# - vxlankit dissects every frame on its own; with reassembly on, tshark moves a fragmented
#   datagram's payload (IPv4 or IPv6) to its last fragment.
# - tshark always verifies some checksums and has no preference for them (ICMPv6).
_ALWAYS_VERIFIED = frozenset({"icmpv6"})
PREFS: Mapping[str, str] = {
    **{f"{spec.proto}.check_checksum": "TRUE" for spec in LAYERS
       if spec.checksum in (CHECKSUM_HEADER, CHECKSUM_PSEUDO)
       and spec.proto not in _ALWAYS_VERIFIED},
    "eth.check_fcs": "TRUE",
    "eth.fcs": "Never",
    "ip.defragment": "FALSE",
    "ipv6.defragment": "FALSE",
}

# What tshark 4.0 decodes on its own, by UDP port (`tshark -G decodes`): the decode-as entries
# that make it agree with vxlankit's port table are the differences from this.
TSHARK_UDP_DEFAULTS: Mapping[int, str] = {4789: "vxlan", 4790: "vxlan_gpe", 6081: "geneve"}


# A field each compared protocol's dissector always adds, near the start of its header: the sign
# that the protocol was dissected inside another layer.  pyshark folds nested protocols into
# their parent, so a parent's fields may carry a foreign prefix; expert items do too
# (eth.padding_bad in a vlan layer), which is why a field name prefix alone proves nothing.
ANCHORS: Mapping[str, str] = {spec.proto: spec.anchor for spec in LAYERS}


@dataclass(frozen=True)
class WsField:
    name: str
    pos: int | None
    show: str


@dataclass
class WsLayer:
    """One top-level PDML ``<proto>``: its fields by name, each name's occurrences in document
    order."""

    proto: str
    fields: dict[str, list[WsField]] = field(default_factory=dict)

    def first(self, name: str) -> int | None:
        """Position of the first occurrence of ``name`` in this layer, if it has one."""
        for item in self.fields.get(name, ()):
            if item.pos is not None:
                return item.pos
        return None

    @property
    def start(self) -> int | None:
        """Where the layer starts: the position of its first field, PDML listing a header's
        fields in wire order."""
        for occurrences in self.fields.values():
            for item in occurrences:
                if item.pos is not None:
                    return item.pos
        return None


@dataclass
class WsPacket:
    number: int
    layers: list[WsLayer]


def decode_as_for(vxlan_ports: Sequence[int], gpe_ports: Sequence[int],
                  geneve_ports: Sequence[int] = (6081,)) -> dict[str, str]:
    """tshark ``-d`` entries that make it dissect exactly these ports as VXLAN / VXLAN-GPE /
    Geneve.

    A port tshark claims by default but the caller left out is decoded as ``data``, so both
    sides stop at the UDP header there.
    """
    wanted = {port: "vxlan" for port in vxlan_ports}
    wanted.update({port: "vxlan_gpe" for port in gpe_ports})
    wanted.update({port: "geneve" for port in geneve_ports})
    out: dict[str, str] = {}
    for port in sorted(set(wanted) | set(TSHARK_UDP_DEFAULTS)):
        want = wanted.get(port, "data")
        if TSHARK_UDP_DEFAULTS.get(port) != want:
            out[f"udp.port=={port}"] = want
    return out


def find_tshark(tshark_path: str | None) -> str:
    found = shutil.which(tshark_path) if tshark_path else shutil.which("tshark")
    if found is None:
        wanted = tshark_path or "tshark"
        raise CrosscheckError(f"{wanted} not found: the cross-check needs Wireshark's tshark "
                              "(Debian/Ubuntu: apt install tshark)")
    return found


def _pos(raw: Any) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _convert(packet: Any) -> WsPacket:
    layers = []
    for layer in packet.layers:
        out = WsLayer(str(layer.layer_name))
        # _all_fields is pyshark's own name -> container map for a PDML layer; the public
        # accessors sanitise names (ip.src -> src) and would lose the Wireshark abbreviation.
        for name, container in layer._all_fields.items():
            if not name:
                continue  # unnamed text items (tree labels such as "Timestamps")
            out.fields[name] = [
                WsField(name, _pos(item.pos), "" if item.show is None else str(item.show))
                for item in container.all_fields
            ]
        layers.append(out)
    return WsPacket(int(packet.number), layers)


@contextmanager
def dissect(path: Path, *, tshark: str, decode_as: Mapping[str, str],
            limit: int | None) -> Iterator[Iterator[WsPacket]]:
    """tshark's dissection of ``path`` packet by packet (the first ``limit`` only, when given).

    The capture is closed on the way out whatever happens: pyshark otherwise leaves tshark
    running and closes it from ``__del__``, on an event loop that may be gone by then.
    """
    try:
        import pyshark
    except ImportError:
        raise CrosscheckError("pyshark is not installed (pip install 'vxlankit[crosscheck]')",
                              path=str(path)) from None
    params = ["-c", str(limit)] if limit else None
    with _own_loop() as loop:
        try:
            capture = _capture_class(pyshark)(
                str(path), keep_packets=False, decode_as=dict(decode_as) or None,
                override_prefs=dict(PREFS), tshark_path=tshark, custom_parameters=params,
                eventloop=loop)
        except Exception as exc:  # pyshark raises its own exception types, untyped
            raise CrosscheckError(f"pyshark could not start tshark: {exc}",
                                  path=str(path)) from None
        try:
            yield _packets(capture, path)
        finally:
            try:
                capture.close()
            except Exception as exc:  # TSharkCrashException: tshark exited with an error
                # close() stops before it forgets the process, and __del__ would close it
                # again at exit, printing pyshark's traceback after our error line.
                running = getattr(capture, "_running_processes", None)
                if isinstance(running, set):
                    running.clear()
                raise CrosscheckError(_tshark_failed(exc), path=str(path)) from None


@functools.cache
def _capture_class(pyshark: Any) -> Any:
    """pyshark's ``FileCapture``, letting tshark exit before it is cleaned up.

    At the end of its output pyshark cleans the process up at once: still running by its
    count (the exit not yet learnt), it is killed, and Python's ``Popen.send_signal`` polls
    first, reaping the process under the child watcher's feet.  The watcher then reports
    "Unknown child process pid ..., will report returncode 255", pyshark calls that a crash,
    and a complete comparison failed (now and then: it is a race).  Here the process is given
    a few seconds to exit by itself once its output has ended, its exit status learnt the
    watcher's way, before pyshark's own cleanup (which kills what is left)."""

    class _FileCapture(pyshark.FileCapture):  # type: ignore[misc]
        async def _cleanup_subprocess(self, process: Any) -> Any:
            if self._eof_reached and process.returncode is None:
                try:
                    await asyncio.wait_for(process.wait(), _EXIT_WAIT_S)
                except asyncio.TimeoutError:
                    pass
            return await super()._cleanup_subprocess(process)

    return _FileCapture


# Seconds tshark has to exit once its output has ended.
_EXIT_WAIT_S = 5


@contextmanager
def _own_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop of pyshark's own, closed after.

    Left to itself, pyshark takes the thread's current loop, installs a SIGCHLD-driven
    ``SafeChildWatcher`` on it and leaves both behind: every child the process starts later
    then writes to that idle loop's signal wakeup pipe until it fills (``BlockingIOError`` in
    ``_sighandler_noop``), and the next capture inherits the state.  Given a loop, pyshark
    leaves the signals alone, and tshark's exit is learnt through asyncio's default watcher
    (a thread per child), which serves any loop.  Should the process have a watcher bound to
    another loop (a ``SafeChildWatcher`` of its own), a threaded one stands in for the
    capture and the process's is put back as it was, neither closed nor moved."""
    loop = asyncio.new_event_loop()
    policy: Any = asyncio.get_event_loop_policy()
    previous: Any = None
    swapped = False
    if hasattr(asyncio, "get_child_watcher"):  # 3.10-3.13; 3.14 has no watchers to consult
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            current = asyncio.get_child_watcher()
            # A pidfd watcher serves any loop from 3.12 on; before, only its own, running.
            serves_any: tuple[type, ...] = (asyncio.ThreadedChildWatcher,) + (
                (asyncio.PidfdChildWatcher,) if sys.version_info >= (3, 12) else ())
            if not isinstance(current, serves_any) and hasattr(policy, "_watcher"):
                previous = policy._watcher
                policy._watcher = asyncio.ThreadedChildWatcher()
                swapped = True
    try:
        yield loop
    finally:
        if swapped:
            policy._watcher.close()
            policy._watcher = previous
        loop.close()


def _tshark_failed(exc: Exception) -> str:
    """One line: what tshark said (pyshark's message is several lines of advice around it)."""
    text = str(exc)
    said = re.search(r"Last error line: \(?(.*?)\)?$", text, re.MULTILINE)
    if said and said.group(1).strip():
        return f"tshark failed: {said.group(1).strip()}"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"tshark failed: {first}"


def _packets(capture: Any, path: Path) -> Iterator[WsPacket]:
    source = iter(capture)
    while True:
        try:
            packet = next(source)
        except StopIteration:
            return
        except Exception as exc:  # as above: tshark died or wrote something pyshark rejects
            raise CrosscheckError(_tshark_failed(exc), path=str(path)) from None
        yield _convert(packet)
