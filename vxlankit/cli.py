"""The ``vxlankit`` command: click options in, library calls, text out.

Every command is a small function over the library (``vxlankit.present`` and friends); what they
share lives here: the common options, colour, the error boundary (one line on stderr and a
documented exit code, never a traceback for bad input) and the batched, pipe-safe output.

Exit codes (docs/cli.md):

* 0: done;
* 1: an error that is not about a capture's contents (a file that cannot be opened, ...);
* 2: bad usage, including a display filter that does not parse (click's usage errors too);
* 3: a capture that could not be read to its end (not a capture file, or damaged): every packet
  before the damage was printed first;
* 4: ``crosscheck`` found fields on which vxlankit and Wireshark disagree, or ``lab ping``
  found the kernel and vxlankit differing;
* 141: standard output was closed early (``| head``), as a process killed by SIGPIPE reports.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeVar

import click

from vxlankit import __version__
from vxlankit.addr import ip_bytes, ip_str
from vxlankit.codec import DEFAULT_OPTIONS, DecodeOptions
from vxlankit.errors import CaptureError, FilterError, VxlanKitError
from vxlankit.present.plural import counted
from vxlankit.present.run import (
    DecodedRecord,
    FastPathTally,
    PacketTest,
    RecordLike,
    decode_records,
)
from vxlankit.synth.faults import FAULTS as _SYNTH_FAULTS  # a table only: cheap to import

if TYPE_CHECKING:  # live capture is imported by its commands only, to keep start-up short
    from vxlankit.capture.live import LiveCapture, LiveOptions

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DAMAGED = 3
EXIT_DISAGREE = 4  # crosscheck: vxlankit and Wireshark disagree on some field
EXIT_PIPE = 141

# dumpcap refuses a packet count above this (-c, -a packets:N).
DUMPCAP_MAX_COUNT = (1 << 31) - 1
PROGRESS_MIN_BYTES = 8 << 20  # show a progress bar for files at least this big
_BATCH = 1024  # lines per write

F = TypeVar("F", bound=Callable[..., Any])


# --------------------------------------------------------------------------------------------
# Errors and output


class Failed(Exception):
    """Stop the command with ``code`` after ``message`` (already formatted, one line)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def error_line(exc: VxlanKitError) -> str:
    """``FILE: packet N, offset M: message``, leaving out the parts the error does not know."""
    where = []
    if exc.path is not None:
        where.append(str(exc.path))
    place = []
    if exc.packet is not None:
        place.append(f"packet {exc.packet}")
    if exc.offset is not None:
        place.append(f"offset {exc.offset}")
    if place:
        where.append(", ".join(place))
    return ": ".join([*where, exc.message])


def exit_code(exc: VxlanKitError) -> int:
    from vxlankit.errors import CaptureFilterError, OutputIsInputError, StatisticError

    if isinstance(exc, (FilterError, OutputIsInputError, CaptureFilterError, StatisticError)):
        return EXIT_USAGE
    if isinstance(exc, CaptureError) and exc.offset is not None:
        return EXIT_DAMAGED  # the file was opened: it is not a capture, or it is damaged
    return EXIT_ERROR


def _say_error(message: str) -> None:
    sys.stderr.write(f"vxlankit: error: {message}\n")
    sys.stderr.flush()


def _broken_pipe() -> NoReturn:
    # Python would complain again when it flushes stdout at exit: point stdout at /dev/null.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    sys.exit(EXIT_PIPE)


def guarded(func: F) -> F:
    """The error boundary of a command: vxlankit errors become one line and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BrokenPipeError:
            _broken_pipe()
        except Failed as exc:
            _flush_stdout()
            _say_error(exc.message)
            sys.exit(exc.code)
        except VxlanKitError as exc:
            _flush_stdout()
            _say_error(error_line(exc))
            sys.exit(exit_code(exc))
        except KeyboardInterrupt:
            _flush_stdout()
            sys.stderr.write("vxlankit: interrupted\n")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _broken_pipe()


class Writer:
    """Lines to stdout, in batches (one write per ``_BATCH`` lines)."""

    def __init__(self, stream: TextIO | None = None, batch: int = _BATCH) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.pending: list[str] = []
        self.counted = 0  # lines written through ``lines``
        self.batch = batch  # 1 for a live capture: each packet shows as it arrives

    def line(self, text: str) -> None:
        self.pending.append(text)
        if len(self.pending) >= self.batch:
            self.flush()

    def lines(self, texts: Iterable[str]) -> int:
        """Write every line of ``texts``; returns how many."""
        pending = self.pending
        write = self.stream.write
        batch = self.batch
        live = batch == 1
        count = 0
        try:
            for text in texts:
                pending.append(text)
                count += 1
                if len(pending) >= batch:
                    pending.append("")
                    write("\n".join(pending))
                    pending.clear()
                    if live:
                        self.stream.flush()
        finally:
            self.counted += count
            self.flush()  # what was made before an error is printed before it
        return count

    def flush(self) -> None:
        if self.pending:
            self.pending.append("")
            self.stream.write("\n".join(self.pending))
            self.pending.clear()
        self.stream.flush()


# --------------------------------------------------------------------------------------------
# Shared options


def use_color(choice: str, stream: TextIO) -> bool:
    """``--color``: always/never win; auto means a terminal, unless NO_COLOR or TERM=dumb."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _vtep(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return tuple(ip_str(ip_bytes(value)) for value in values)
    except VxlanKitError as exc:
        raise click.BadParameter(exc.message) from None


def color_option(func: F) -> F:
    return click.option(
        "--color", "color", type=click.Choice(["auto", "always", "never"]), default="auto",
        show_default=True,
        help="Colour the output (auto: when stdout is a terminal and NO_COLOR is unset).",
    )(func)


def decode_options(func: F) -> F:
    """--vxlan-port / --gpe-port / --geneve-port."""
    func = click.option(
        "--geneve-port", "geneve_ports", multiple=True, type=click.IntRange(0, 65535),
        metavar="PORT", help="UDP port carrying Geneve (repeatable; default 6081).",
    )(func)
    func = click.option(
        "--gpe-port", "gpe_ports", multiple=True, type=click.IntRange(0, 65535),
        metavar="PORT", help="UDP port carrying VXLAN-GPE (repeatable; default 4790).",
    )(func)
    return click.option(
        "--vxlan-port", "vxlan_ports", multiple=True, type=click.IntRange(0, 65535),
        metavar="PORT",
        help="UDP port carrying VXLAN (repeatable; default 4789 and 8472). Like tshark's "
             "-d udp.port==PORT,vxlan, but replacing the defaults.",
    )(func)


def selection_options(func: F) -> F:
    """--vni / --vtep / -Y."""
    func = click.option(
        "-Y", "--filter", "filter_expr", metavar="EXPR",
        help="Display filter, Wireshark syntax (e.g. 'vxlan.vni == 100 && icmp').",
    )(func)
    func = click.option(
        "--vtep", "vteps", multiple=True, callback=_vtep, metavar="IP",
        help="Keep packets with this outer IP as source or destination (repeatable).",
    )(func)
    return click.option(
        "--vni", "vnis", multiple=True, type=click.IntRange(0, (1 << 24) - 1), metavar="N",
        help="Keep packets with this VNI at any tunnel depth (repeatable).",
    )(func)


def files_argument(func: F) -> F:
    # Not required by click: -i captures live instead (live_request says what is missing).
    return click.argument(
        "files", nargs=-1, required=False,
        type=click.Path(dir_okay=True, allow_dash=True),
    )(func)


def make_decode_options(vxlan_ports: tuple[int, ...], gpe_ports: tuple[int, ...],
                        geneve_ports: tuple[int, ...] = ()) -> DecodeOptions:
    options = DEFAULT_OPTIONS
    if vxlan_ports or gpe_ports:
        ports = vxlan_ports or (4789, 8472)
        # A port named for VXLAN is VXLAN, even GPE's default 4790 (as tshark's -d overrides).
        gpe = gpe_ports or tuple(p for p in (4790,) if p not in ports)
        options = options.with_vxlan_ports(list(ports), gpe)
    if geneve_ports:
        options = options.with_geneve_ports(geneve_ports)
    return options


def make_filter(expr: str | None) -> PacketTest | None:
    if expr is None:
        return None
    from vxlankit.layers.registry import ALIASES, FIELDS
    from vxlankit.present.filter import compile_filter

    try:  # names checked as tshark checks them: a field or protocol the registry knows
        return compile_filter(expr, known_fields=[*FIELDS, *ALIASES])
    except FilterError as exc:
        raise Failed(str(exc), EXIT_USAGE) from None


# --------------------------------------------------------------------------------------------
# Reading captures


class Capture:
    """One input: the reader of a file (or of a live capture) and its progress bar."""

    def __init__(self, source: str | LiveSession, progress: bool) -> None:
        from vxlankit.capture import open_capture

        self.session = source if isinstance(source, LiveSession) else None
        if isinstance(source, LiveSession):
            self.path = source.capture.name
            self.reader = open_capture(source.capture)
            self._progress = False
        else:
            self.path = source
            self.reader = open_capture(source)
            self._progress = (progress and source != "-"
                              and _file_size(source) >= PROGRESS_MIN_BYTES)
        self.format = self.reader.format

    def records(self) -> Iterator[RecordLike]:
        if self.session is not None:
            return self.session.counted(self.reader)
        if not self._progress:
            return iter(self.reader)
        return _with_progress(self.reader, self.path)

    def close(self) -> None:
        self.reader.close()


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _with_progress(records: Iterable[Any], path: str) -> Iterator[Any]:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    total = _file_size(path)
    console = Console(file=sys.stderr, no_color=bool(os.environ.get("NO_COLOR")))
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task(os.path.basename(path), total=total)
        n = 0
        for record in records:
            yield record
            n += 1
            if not n & 0x3FF:
                bar.update(task, completed=record.offset)
        bar.update(task, completed=total)


def for_each_file(files: Iterable[str | LiveSession], work: Callable[[Capture], None], *,
                  progress: bool = False, on_error: Callable[[str, str], None] | None = None
                  ) -> int:
    """Run ``work`` on every capture; a capture error ends that file only (after its good
    packets), is reported on one line, and decides the exit code (the first one wins)."""
    code = EXIT_OK
    for source in files:
        capture: Capture | None = None
        try:
            capture = Capture(source, progress)
            work(capture)
        except CaptureError as exc:
            _flush_stdout()
            _say_error(error_line(exc))
            if on_error is not None:
                on_error(source if isinstance(source, str) else source.capture.name,
                         error_line(exc))
            if code == EXIT_OK:
                code = exit_code(exc)
        finally:
            if capture is not None:
                capture.close()
    return code


# --------------------------------------------------------------------------------------------
# Live capture (docs/live.md)


class LiveSession:
    """A live capture as the one input of a command: dumpcap running (``capture``) and the
    packets read from it so far (``packets``), for the summary line at the end."""

    def __init__(self, capture: LiveCapture) -> None:
        self.capture = capture
        self.packets = 0

    def counted(self, records: Iterable[RecordLike]) -> Iterator[RecordLike]:
        for record in records:
            self.packets += 1
            yield record


class FiniteFloatRange(click.FloatRange):
    """``click.FloatRange`` that also refuses NaN (which compares false with both bounds, so
    click lets it through)."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number != number:
            self.fail(f"{value!r} is not a number", param, ctx)
        return number


def live_options(with_count: bool) -> Callable[[F], F]:
    """-i / -f / -a / --tee, and -c for the commands that have none of their own."""

    def add(func: F) -> F:
        if with_count:
            func = click.option(
                "-c", "count", type=click.IntRange(min=1, max=DUMPCAP_MAX_COUNT), metavar="N",
                help="With -i: stop after N packets captured.")(func)
        func = click.option(
            "--tee", "tee", metavar="FILE",
            help="With -i: also save what dumpcap captured, byte for byte as it was read "
                 "(pcapng), to FILE.")(func)
        func = click.option(
            "-a", "--autostop", "autostop", multiple=True, metavar="COND",
            help="With -i: stop after duration:SECONDS or packets:N (as tshark -a; "
                 "repeatable).")(func)
        func = click.option(
            "-f", "capture_filter", metavar="BPF",
            help="With -i: capture filter in libpcap syntax (as tshark -f), e.g. "
                 "'udp port 4789'.")(func)
        return click.option(
            "-i", "--interface", "interfaces", multiple=True, metavar="IFACE",
            help="Capture live on IFACE with dumpcap instead of reading files (repeatable; "
                 "Ctrl-C ends the capture; docs/live.md).")(func)

    return add


def live_request(files: tuple[str, ...], interfaces: tuple[str, ...],
                 capture_filter: str | None, autostop: tuple[str, ...], count: int | None,
                 tee: str | None, *, argument: str = "FILES...") -> LiveOptions | None:
    """The live capture the options ask for, or None to read ``files``; usage errors for
    what does not go together (files with -i, as tshark refuses -r with -i)."""
    from vxlankit.capture.live import LiveOptions, parse_autostop

    if interfaces and files:
        raise click.UsageError("capture files and -i cannot be combined: read files, or "
                               "capture live (-i), not both at once")
    if not interfaces:
        if not files:
            raise click.UsageError(f"Missing argument '{argument}' (or -i IFACE to capture "
                                   "live).")
        for flag, value in (("-f", capture_filter), ("-a", autostop), ("--tee", tee)):
            if value:
                raise click.UsageError(f"{flag} needs -i: it applies to a live capture")
        return None
    if tee == "-":
        raise click.UsageError("--tee needs a file name (standard output carries the output)")
    try:
        packets, seconds = parse_autostop(autostop)
        if count is not None:
            packets = count if packets is None else min(packets, count)
        return LiveOptions(interfaces, capture_filter=capture_filter, count=packets,
                           duration_s=seconds)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@contextlib.contextmanager
def inputs_of(files: tuple[str, ...], live: LiveOptions | None, tee: str | None
              ) -> Iterator[list[str | LiveSession]]:
    """The command's inputs: its files, or a live capture running for as long as the block
    (with Ctrl-C ending the capture, not the command, and a summary line on stderr after)."""
    if live is None:
        yield list(files)
        return
    from vxlankit.capture.live import LiveCapture, stop_on_interrupt
    from vxlankit.output import SafeOutput

    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(SafeOutput(tee, CaptureError)) if tee is not None else None
        session = LiveSession(stack.enter_context(LiveCapture(live, tee=sink)))
        names = [f"'{name}'" for name in live.interfaces]
        said = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        sys.stderr.write(f"Capturing on {said}\n")
        sys.stderr.flush()
        stack.enter_context(stop_on_interrupt(session.capture))
        yield [session]
    _flush_stdout()
    n = session.packets
    sys.stderr.write(f"{n} packet{'' if n == 1 else 's'} captured\n")
    sys.stderr.flush()


def _show_progress(command_prints_as_it_goes: bool) -> bool:
    """A bar on stderr when it is a terminal and stdout does not print to that terminal."""
    if not sys.stderr.isatty():
        return False
    return not (command_prints_as_it_goes and sys.stdout.isatty())


# --------------------------------------------------------------------------------------------
# Commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="vxlankit")
def main() -> None:
    """vxlankit: VXLAN overlay networks, byte for byte."""
    _escape_undecodable_text()


def _bytes_as_escapes(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    # A lone surrogate U+DC80-U+DCFF is a byte that was not UTF-8 in the capture (the readers
    # decode text with surrogateescape): show the byte, as tshark does.
    bad = exc.object[exc.start:exc.end]
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF
                   else f"\\u{ord(c):04x}" for c in bad), exc.end


def _escape_undecodable_text() -> None:
    """Text from a capture (interface names, comments) may hold bytes that are not UTF-8:
    print them as ``\\xNN`` whatever the locale says (a strict stream raised
    UnicodeEncodeError; C.UTF-8's surrogateescape wrote the raw, invalid bytes)."""
    import codecs

    codecs.register_error("vxlankit-escape", _bytes_as_escapes)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError, io.UnsupportedOperation):
                reconfigure(errors="vxlankit-escape")


@main.command()
@files_argument
@click.option("-V", "verbose", is_flag=True, help="Every layer and field (like tshark -V).")
@click.option("-x", "hexdump", is_flag=True, help="Hex and ASCII dump, layers marked.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one object per packet.")
@click.option("-T", "output_type", type=click.Choice(["fields"]),
              help="-T fields: the -e fields, a column each (as tshark -T fields).")
@click.option("-e", "field_names", multiple=True, metavar="FIELD",
              help="A field for -T fields (repeatable), by its Wireshark name.")
@click.option("-E", "field_options", multiple=True, metavar="OPTION=VALUE",
              help="-T fields layout as tshark's -E: header=y|n, separator=/t|/s|C, "
                   "occurrence=f|l|a|N, aggregator=,|/s|C, quote=d|s|n.")
@click.option("-w", "write_to", metavar="OUT",
              help="Write the packets that pass -Y/--vni/--vtep/-c to capture OUT (- for "
                   "stdout), records byte for byte, instead of printing them.")
@click.option("-F", "write_format", type=click.Choice(["pcap", "pcapng"]),
              help="-w's format (default: the first input's).")
@click.option("-c", "--count", type=click.IntRange(min=0, max=sys.maxsize), metavar="N",
              help="Stop after N packets shown.")
@click.option("-t", "time_format", type=click.Choice(["r", "a", "ad", "e", "d", "dd", "u", "ud"]),
              default="r", show_default=True,
              help="Time column as tshark -t: relative, absolute, absolute with date, epoch, "
                   "delta, delta displayed, UTC, UTC with date.")
@selection_options
@decode_options
@live_options(with_count=False)
@color_option
@click.option("-z", "zstat_specs", multiple=True, metavar="STATISTIC",
              help="After the packets, tshark's statistic (io,phs; conv,TYPE; "
              "endpoints,TYPE; io,stat,SECONDS; TYPE is eth, ip, ipv6, udp or tcp); "
              "repeatable (docs/tshark-stats.md).")
@click.option("-q", "quiet", is_flag=True, help="No packets: only the -z statistics.")
@click.option("--per-tunnel", is_flag=True,
              help="-z tables split by the tunnel (VNI) that carries each layer.")
@click.option("--fast-path-stats", is_flag=True,
              help="At the end, say on stderr how many packets the fast path answered and how "
                   "many were decoded in full.")
@guarded
def decode(files: tuple[str, ...], verbose: bool, hexdump: bool, as_json: bool,
           output_type: str | None, field_names: tuple[str, ...],
           field_options: tuple[str, ...], write_to: str | None, write_format: str | None,
           count: int | None, time_format: str, vnis: tuple[int, ...], vteps: tuple[str, ...],
           filter_expr: str | None, vxlan_ports: tuple[int, ...], gpe_ports: tuple[int, ...],
           geneve_ports: tuple[int, ...], interfaces: tuple[str, ...],
           capture_filter: str | None, autostop: tuple[str, ...], tee: str | None,
           color: str, zstat_specs: tuple[str, ...], quiet: bool, per_tunnel: bool,
           fast_path_stats: bool) -> None:
    """Print the packets of capture FILEs (pcap or pcapng; - reads stdin), or of a live
    capture (-i IFACE).

    One line per packet by default: outer VTEPs, VNI, then the inner frame.
    """
    from vxlankit.present.palette import ANSI, PLAIN

    live = live_request(files, interfaces, capture_filter, autostop, count, tee)
    if as_json and (verbose or hexdump):
        raise click.UsageError("--json cannot be combined with -V or -x")
    fields = _fields_format(output_type, field_names, field_options,
                            as_json or verbose or hexdump)
    options = make_decode_options(vxlan_ports, gpe_ports, geneve_ports)
    if write_to is not None:
        if as_json or verbose or hexdump or fields is not None:
            raise click.UsageError("-w cannot be combined with --json, -V, -x or -T")
        test = make_filter(filter_expr)
        with inputs_of(files, live, tee) as inputs:
            code = _write_selected(inputs, write_to, write_format, options, count, vnis,
                                   vteps, test)
        sys.exit(code)
    if write_format is not None:
        raise click.UsageError("-F needs -w")
    taps = make_zstats(zstat_specs, per_tunnel)
    if quiet and not taps:
        raise click.UsageError("-q prints nothing without -z")
    view = DecodeView(
        options=options, count=count, vnis=vnis,
        vteps=vteps, filter=make_filter(filter_expr), verbose=verbose, hexdump=hexdump,
        as_json=as_json, time_format=time_format, several=len(files) > 1,
        pal=ANSI if (not as_json and use_color(color, sys.stdout)) else PLAIN, fields=fields,
        taps=taps, quiet=quiet, live=live is not None,
    )
    with inputs_of(files, live, tee) as inputs:
        try:
            code = for_each_file(inputs, view.show, progress=_show_progress(True))
        except FilterError as exc:  # a literal that does not fit its field shows at first use
            view.out.flush()
            raise Failed(str(exc), EXIT_USAGE) from None
        view.out.flush()
        for tap in taps:
            view.out.line(tap.render())
        view.out.flush()
    if fast_path_stats:
        used = view.tally.total or not (verbose or hexdump or vnis or vteps or filter_expr)
        click.echo(str(view.tally) if used else
                   "fast path: not used (-V, -x and selections decode every packet in full)",
                   err=True)
    sys.exit(code)


def _write_selected(files: Sequence[str | LiveSession], target: str, format: str | None,
                    options: DecodeOptions, count: int | None, vnis: tuple[int, ...],
                    vteps: tuple[str, ...], filter: PacketTest | None) -> int:
    """``decode -w``: the records that pass the selection, from every input in turn, written
    byte for byte (interfaces and sections kept in pcapng) to ``target``, which may not be an
    input; a damaged input ends after its good packets, as ``decode`` prints them.  Returns
    the exit code."""
    from itertools import chain

    from vxlankit.capture.writer import write_capture
    from vxlankit.errors import OutputIsInputError
    from vxlankit.output import SafeOutput, refuse_overwriting_inputs

    refuse_overwriting_inputs(target, [f for f in files if isinstance(f, str)],
                              OutputIsInputError)
    code = EXIT_OK
    chosen: list[str] = [] if format is None else [format]
    selecting = bool(vnis or vteps or filter)
    left = [count]

    def records() -> Iterator[Any]:
        nonlocal code
        for path in files:
            if left[0] == 0:
                return
            capture: Capture | None = None
            try:
                capture = Capture(path, False)
                if not chosen:
                    chosen.append("pcapng" if capture.format == "pcapng" else "pcap")
                found: Iterable[Any] = capture.records()
                if selecting:
                    found = (item.record for item in decode_records(
                        found, options, vnis=vnis, vteps=vteps, filter=filter))
                for record in found:
                    if left[0] is not None:
                        if left[0] == 0:
                            break
                        left[0] -= 1
                    yield record
            except CaptureError as exc:
                _say_error(error_line(exc))
                if code == EXIT_OK:
                    code = exit_code(exc)
            finally:
                if capture is not None:
                    capture.close()

    selected = records()
    first = next(selected, None)
    with SafeOutput(target, CaptureError) as out:
        if first is None:
            if (chosen[0] if chosen else "pcapng") == "pcap":
                raise CaptureError("no packet passed the selection: a pcap file needs one for "
                                   "its link type (-F pcapng writes an empty capture)",
                                   path=target)
            write_capture(out, [], "pcapng")
        else:
            write_capture(out, chain([first], selected), chosen[0])
    return code


def _fields_format(output_type: str | None, names: tuple[str, ...], options: tuple[str, ...],
                   other_view: bool) -> Any:
    """The ``-T fields`` layout, or None; a usage error (exit 2) for what tshark refuses."""
    from vxlankit.present.fields import fields_format, unknown_fields

    if output_type is None:
        if names or options:
            raise click.UsageError("-e and -E need -T fields")
        return None
    if other_view:
        raise click.UsageError("-T fields cannot be combined with --json, -V or -x")
    if not names:
        raise click.UsageError("-T fields needs at least one -e FIELD")
    unknown = unknown_fields(names)
    if unknown:
        raise click.UsageError("Some fields aren't valid: " + " ".join(unknown))
    try:
        return fields_format(names, options)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def make_zstats(specs: Iterable[str], per_tunnel: bool) -> list[Any]:
    """The -z statistics asked for (a usage error for one vxlankit does not have)."""
    from vxlankit.present.zstats import parse_zstat

    try:
        return [parse_zstat(spec, per_tunnel) for spec in specs]
    except VxlanKitError as exc:
        raise Failed(str(exc), EXIT_USAGE) from None


def _feeding(items: Iterable[DecodedRecord], taps: Sequence[Any]) -> Iterator[DecodedRecord]:
    for item in items:
        for tap in taps:
            tap.add(item.record, item.packet)
        yield item


def _drained(items: Iterable[Any]) -> Iterator[str]:
    for _ in items:
        pass
    yield from ()


class DecodeView:
    """What ``decode`` prints for each capture, in the mode its options chose."""

    def __init__(self, *, options: DecodeOptions, count: int | None, vnis: tuple[int, ...],
                 vteps: tuple[str, ...], filter: PacketTest | None, verbose: bool,
                 hexdump: bool, as_json: bool, time_format: str, several: bool,
                 pal: Any, fields: Any = None, taps: Sequence[Any] = (),
                 quiet: bool = False, live: bool = False) -> None:
        self.options = options
        self.taps = taps  # the -z statistics, fed every packet selected
        self.quiet = quiet
        self.remaining = count
        self.vnis = vnis
        self.vteps = vteps
        self.filter = filter
        self.verbose = verbose
        self.hexdump = hexdump
        self.as_json = as_json
        self.time_format = time_format
        self.several = several
        self.pal = pal
        self.out = Writer(batch=1 if live else _BATCH)
        self.tally = FastPathTally()
        self.fields = fields  # the -T fields layout (FieldsFormat) or None
        self.header_due = fields is not None and fields.header

    def show(self, capture: Capture) -> None:
        if self.several and not self.as_json and self.fields is None:
            self.out.line(f"==> {capture.path} <==")
        left = self.remaining
        if left == 0:
            return
        before = self.out.counted
        try:
            self.out.lines(self.lines(capture, left))
        finally:  # a damaged file still used up what it printed of -c
            if left is not None:
                self.remaining = max(0, left - (self.out.counted - before))

    def lines(self, capture: Capture, count: int | None) -> Iterator[str]:
        from vxlankit.present.summary import Summarizer

        records = capture.records()
        file = capture.path if self.several else None
        summarizer = Summarizer(self.time_format, self.pal, self.options,
                                interfaces=capture.reader.interfaces)
        if self.fields is not None:
            from dataclasses import replace

            from vxlankit.present.fields import field_lines

            fmt = replace(self.fields, header=self.header_due)  # one header for all files
            self.header_due = False
            return field_lines(decode_records(records, self.options, count=count,
                                              vnis=self.vnis, vteps=self.vteps,
                                              filter=self.filter), fmt)
        if self.taps:
            items = _feeding(decode_records(records, self.options, count=count,
                                            vnis=self.vnis, vteps=self.vteps,
                                            filter=self.filter), self.taps)
            if self.quiet:
                return _drained(items)
            return self.render(items, summarizer, file)
        if not (self.vnis or self.vteps or self.filter):  # no Packet needed: fast paths
            if self.as_json:
                from vxlankit.present.jsonl import fast_json_lines

                return fast_json_lines(records, self.options, count=count, file=file,
                                       tally=self.tally)
            if not (self.verbose or self.hexdump):
                return summarizer.fast_lines(records, count, self.tally)
        items = decode_records(records, self.options, count=count, vnis=self.vnis,
                               vteps=self.vteps, filter=self.filter)
        return self.render(items, summarizer, file)

    def render(self, items: Iterable[DecodedRecord], summarizer: Any, file: str | None
               ) -> Iterator[str]:
        from vxlankit.present.hexdump import hexdump
        from vxlankit.present.jsonl import record_json
        from vxlankit.present.tree import record_tree

        first = True
        for item in items:
            if first:
                summarizer.set_resolution(item.record.interface.tsresol)
                first = False
            if self.as_json:
                yield record_json(item.record, item.packet, file=file)
                continue
            text = record_tree(item, self.pal) if self.verbose else summarizer.line(item)
            if self.hexdump:
                text += "\n" + hexdump(item.packet.data, item.packet.layers, self.pal) + "\n"
            elif self.verbose:
                text += "\n"
            yield text


@main.command()
@files_argument
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of tables.")
@click.option("-z", "zstat_specs", multiple=True, metavar="STATISTIC",
              help="Instead of the overlay summary, tshark's statistic (io,phs; conv,TYPE; "
              "endpoints,TYPE; io,stat,SECONDS; TYPE is eth, ip, ipv6, udp or tcp; "
              "',FILTER' after it as in tshark); repeatable (docs/tshark-stats.md).")
@click.option("--per-tunnel", is_flag=True,
              help="-z tables split by the tunnel (VNI) that carries each layer.")
@selection_options
@decode_options
@live_options(with_count=True)
@guarded
def stats(files: tuple[str, ...], as_json: bool, zstat_specs: tuple[str, ...],
          per_tunnel: bool, vnis: tuple[int, ...], vteps: tuple[str, ...],
          filter_expr: str | None, vxlan_ports: tuple[int, ...],
          gpe_ports: tuple[int, ...],
          geneve_ports: tuple[int, ...], interfaces: tuple[str, ...],
          capture_filter: str | None, autostop: tuple[str, ...], tee: str | None,
          count: int | None) -> None:
    """Summarise capture FILEs (or a live capture, -i): capinfos-style header, VNIs, VTEP
    pairs, inner conversations, ping round trips and loss, unanswered ARP requests."""
    from vxlankit.present.jsonl import dumps
    from vxlankit.present.stats import OverlayStats

    live = live_request(files, interfaces, capture_filter, autostop, count, tee)
    options = make_decode_options(vxlan_ports, gpe_ports, geneve_ports)
    test = make_filter(filter_expr)
    result = OverlayStats()
    taps = make_zstats(zstat_specs, per_tunnel)

    def add(capture: Capture) -> None:
        result.start_file(capture.path, capture.format)
        for item in decode_records(capture.records(), options, vnis=vnis, vteps=vteps,
                                   filter=test):
            if taps:
                for tap in taps:
                    tap.add(item.record, item.packet)
            else:
                result.add(item.record, item.packet)

    def damaged(path: str, message: str) -> None:
        if result.files and result.files[-1].path == path:
            result.files[-1].error = message

    with inputs_of(files, live, tee) as inputs:
        try:
            code = for_each_file(inputs, add, progress=_show_progress(False),
                                 on_error=damaged)
        except FilterError as exc:
            raise Failed(str(exc), EXIT_USAGE) from None
    if taps:
        text = (dumps([tap.to_dict() for tap in taps]) if as_json
                else "\n".join(tap.render() for tap in taps))
    else:
        text = dumps(result.to_dict()) if as_json else result.render()
    sys.stdout.write(text + "\n")
    _flush_stdout()
    sys.exit(code)



@main.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--vtep", "vteps", multiple=True, callback=_vtep, metavar="IP",
              help="Model this VTEP (repeatable; default: every outer destination of VXLAN).")
@click.option("--policy", type=click.Choice(["linux", "rfc7348"]), default="linux",
              show_default=True,
              help="Receive policy: linux drops I=0 and reserved bits; rfc7348 ignores them.")
@click.option("--gbp", is_flag=True,
              help="The VTEPs were made with 'gbp' (VXLAN group policy): the G flag and the "
              "policy ID are read, not dropped as reserved bits.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document (docs/replay.md).")
@decode_options
@live_options(with_count=True)
@guarded
def replay(file: str | None, vteps: tuple[str, ...], policy: str, gbp: bool, as_json: bool,
           vxlan_ports: tuple[int, ...], gpe_ports: tuple[int, ...],
           geneve_ports: tuple[int, ...], interfaces: tuple[str, ...],
           capture_filter: str | None, autostop: tuple[str, ...], tee: str | None,
           count: int | None) -> None:
    """Run FILE (or a live capture, -i) through reference VTEP models, as the VTEPs in it saw
    it: what each learned (FDB per VNI), when, and the anomalies (flapping MACs, Linux drops,
    unanswered ARP, flooding)."""
    from vxlankit.present.jsonl import dumps
    from vxlankit.replay import render_text
    from vxlankit.replay import replay as run_replay

    files = (file,) if file is not None else ()
    live = live_request(files, interfaces, capture_filter, autostop, count, tee,
                        argument="FILE")
    options = make_decode_options(vxlan_ports, gpe_ports, geneve_ports)
    # One --vxlan-port is the port the VTEPs listen on; otherwise each listens where its
    # first VXLAN packet arrives.
    port = vxlan_ports[0] if len(vxlan_ports) == 1 else None
    with inputs_of(files, live, tee) as inputs:
        source = inputs[0]
        report = run_replay(source.capture if isinstance(source, LiveSession) else source,
                            vteps, options=options, rx_policy=policy, vxlan_port=port,
                            gbp=gbp)
        if isinstance(source, LiveSession):
            source.packets = report.packets
    sys.stdout.write(dumps(report.to_json()) + "\n" if as_json else render_text(report))
    _flush_stdout()
    if report.error is not None:
        raise report.error  # after the report of every packet before the damage


@main.group()
def synth() -> None:
    """Synthesize captures of whole overlay exchanges, driven by the reference models."""


@synth.command("ping")
@click.option("--vni", type=click.IntRange(0, (1 << 24) - 1), default=4096, show_default=True,
              help="VNI of the (first) overlay subnet; Docker's swarm allocator starts at 4096.")
@click.option("-c", "count", type=click.IntRange(min=1, max=100000), default=4,
              show_default=True, help="Echo requests to send.")
@click.option("-i", "interval", type=FiniteFloatRange(min=1e-9, max=86400.0),
              default=1.0,
              show_default=True, help="Seconds between echo requests.")
@click.option("-s", "size", type=click.IntRange(0, 1400), default=None,
              help="ICMP payload bytes (ping -s). Default 56, 1400 with --fault mtu|fragment.")
@click.option("--arp", type=click.Choice(["proxy", "flood"]), default="proxy", show_default=True,
              help="proxy: the VTEP answers ARP from gossip (Docker); flood: RFC 7348 "
                   "flood-and-learn.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Same seed, same bytes.")
@click.option("--port", type=click.IntRange(1, 65535), default=4789, show_default=True,
              help="VXLAN UDP port.")
@click.option("--subnet", "subnets", multiple=True, metavar="CIDR",
              help="An overlay subnet (repeatable; several are routed by each host's sandbox, "
                   "one VNI each). Default 10.0.0.0/24.")
@click.option("--to", "target", type=click.Choice(["remote", "same-subnet", "same-host"]),
              default="remote", show_default=True, help="Where C2 is, relative to C1.")
@click.option("--underlay", type=click.Choice(["ipv4", "ipv6"]), default="ipv4",
              show_default=True,
              help="The hosts' network: ipv6 puts node1/node2 on 2001:db8:1::/64 and "
                   "2001:db8:2::/64, VXLAN over IPv6/UDP with checksums.")
@click.option("--inner", type=click.Choice(["ipv4", "ipv6"]), default="ipv4",
              show_default=True,
              help="The containers' ping: ipv6 pings fd00:10::4 from fd00:10::3 (ICMPv6), "
                   "neighbour discovery answered by the VTEP's ND proxy.")
@click.option("--fault", type=click.Choice(list(_SYNTH_FAULTS)), default=None,
              help="One misconfiguration, as the kernel behaves under it (docs/synth.md): "
                   "mtu, fragment, vni, port, remote, ttl, neigh, fdb.")
@click.option("-w", "output", metavar="FILE|-",
              help="Write the capture here (- for stdout). Default: a file named after the "
                   "scenario in the current directory.")
@click.option("--tap", metavar="NAME",
              help="Write only this tap (e.g. node2/eth0); a .pcap FILE gets classic pcap.")
@click.option("--diagram", metavar="FILE.svg|-",
              help="Also draw the ladder diagram: an SVG file, or text on the terminal (-).")
@click.option("--width", type=click.IntRange(60, 1000), default=100, show_default=True,
              help="Columns the text ladder (--diagram -) fits in.")
@click.option("--delay", "delays", multiple=True, metavar="HOP=MS",
              help="Fix a hop's one-way delay in milliseconds (repeatable): veth, bridge, vtep, "
                   "underlay, router, stack, or HOP@NODE / HOP@CONTAINER for one of them "
                   "(docs/synth.md).")
@guarded
def synth_ping(vni: int, count: int, interval: float, size: int | None, arp: str, seed: int,
               port: int, subnets: tuple[str, ...], target: str, underlay: str, inner: str,
               fault: str | None, output: str | None, tap: str | None, diagram: str | None,
               width: int, delays: tuple[str, ...]) -> None:
    """C1 pings C2 across the seed's two-host Docker overlay; every tap's view, as pcapng."""
    from vxlankit.output import SafeOutput
    from vxlankit.synth.diagram import ladder_svg, ladder_text
    from vxlankit.synth.faults import FAULT_PING_SIZE, FAULTS
    from vxlankit.synth.output import default_name, guess_format, write_result
    from vxlankit.synth.ping import PingOptions, parse_delay, synthesize_ping
    from vxlankit.synth.topology import DEFAULT_SUBNET

    if output and tap is None and guess_format(output) == "pcap":
        raise Failed(f"{output}: a classic pcap file holds one tap: add --tap NAME (e.g. "
                     "--tap node2/eth0), or write .pcapng for every tap", EXIT_USAGE)
    try:
        # -i is seconds, as ping's; everything past the options is integer nanoseconds.
        if size is None:
            small_link = fault is not None and FAULTS[fault].underlay_mtu is not None
            size = FAULT_PING_SIZE if small_link else 56
        options = PingOptions(vni=vni, count=count, interval_ns=round(interval * 1e9),
                              size=size, arp=arp, seed=seed, port=port,
                              subnets=subnets or (DEFAULT_SUBNET,), to=target,
                              underlay=underlay, inner=inner,
                              delays=tuple(parse_delay(d) for d in delays), fault=fault)
        result = synthesize_ping(options)
    except ValueError as exc:
        raise Failed(str(exc), EXIT_USAGE) from None
    if tap is not None and tap not in result.taps:
        raise Failed(f"no tap named {tap!r}; taps: {', '.join(result.taps)}", EXIT_USAGE)
    target_file = output or default_name(options, tap)
    binary_stdout = target_file == "-"
    if binary_stdout:
        written = write_result(result, sys.stdout.buffer, tap=tap)
    else:
        # Under a temporary name until complete: a failed write leaves no half capture.
        with SafeOutput(target_file, CaptureError) as out:
            written = write_result(result, out, tap=tap, format=guess_format(target_file))
    # With the capture on stdout, everything for people goes to stderr.
    say = sys.stderr if binary_stdout else sys.stdout
    if diagram == "-":
        say.write(ladder_text(result.lanes, result.ladder, width=width))
    elif diagram:
        try:
            with open(diagram, "w", encoding="utf-8") as fh:
                # The options that shape the exchange; not where its outputs go (-w, --tap,
                # --diagram, --width), so that the same exchange gets the same title.
                title = typed_command(click.get_current_context(), "vxlankit synth ping",
                                      leave_out=("output", "tap", "diagram", "width"))
                fh.write(ladder_svg(result.lanes, result.ladder, title))
        except OSError as exc:
            raise Failed(f"{diagram}: {exc.strerror or exc}", EXIT_ERROR) from None
    answered = [e for e in result.echoes if e.replied_ns is not None]
    where = "<stdout>" if binary_stdout else target_file
    taps = 1 if tap else len(result.taps)
    say.write(f"wrote {counted(written, 'packet')} from {counted(taps, 'tap')} to {where}\n")
    # Timed on C1's tap, request frame to reply frame: what `vxlankit stats` prints for it.
    summary = result.rtt()
    rtt = (f", rtt min/avg/max/mdev = {summary.text()} ms on {result.pinger_tap}"
           if summary else "")
    say.write(f"{counted(len(result.echoes), 'echo request')}, "
              f"{counted(len(answered), 'reply')}{rtt}\n")
    say.flush()


def typed_command(ctx: click.Context, name: str, leave_out: Sequence[str] = ()) -> str:
    """The command line that ``ctx`` parsed, as one would type it again: ``name`` and every
    option given on the command line (not those left at their defaults) but the parameters
    named in ``leave_out``, in the command's order of options, quoted for a shell."""
    import shlex

    from click.core import ParameterSource

    words = name.split()
    for param in ctx.command.params:
        if param.name is None or param.name in leave_out or ctx.get_parameter_source(
                param.name) not in (
                ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            continue
        value = ctx.params[param.name]
        if isinstance(param, click.Option) and param.is_flag:
            words.append(param.opts[0])
            continue
        values = value if getattr(param, "multiple", False) else (value,)
        for one in values:
            if isinstance(param, click.Option):
                words.append(param.opts[0])
            words.append(f"{one:g}" if isinstance(one, float) else str(one))
    return shlex.join(words)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=False))
@click.option("--limit", type=click.IntRange(min=0, max=sys.maxsize), default=2000,
              show_default=True,
              metavar="N", help="Compare the first N packets only (0: all). pyshark is slow.")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON document.")
@click.option("--show-allow-list", is_flag=True,
              help="Print the known, deliberate differences and exit.")
@decode_options
@guarded
def crosscheck(file: str, limit: int, as_json: bool, show_allow_list: bool,
               vxlan_ports: tuple[int, ...], gpe_ports: tuple[int, ...],
               geneve_ports: tuple[int, ...]) -> None:
    """Dissect FILE with tshark (through pyshark) and compare every field vxlankit decodes
    and Wireshark also names, layer by layer; exit 0 only when everything agrees."""
    from vxlankit.crosscheck import crosscheck as run_crosscheck
    from vxlankit.crosscheck import describe_allow_list, render_text

    if show_allow_list:
        sys.stdout.write(describe_allow_list() + "\n")
        return
    report = run_crosscheck(file, vxlan_ports=vxlan_ports or (4789, 8472),
                            gpe_ports=gpe_ports or (4790,),
                            geneve_ports=geneve_ports or (6081,), limit=limit or None)
    sys.stdout.write(report.to_json() + "\n" if as_json else render_text(report))
    _flush_stdout()
    if not report.ok:
        sys.exit(EXIT_DISAGREE)


@main.command()
@click.argument("files", nargs=-1, required=False, type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out", required=True, metavar="OUT",
              help="Output file (- for stdout with csv and jsonl).")
@click.option("--format", "fmt", type=click.Choice(["parquet", "arrow", "csv", "jsonl"]),
              default=None, help="Default: from OUT's extension, else parquet.")
@click.option("-j", "--jobs", type=click.IntRange(min=1, max=1024), default=1, show_default=True,
              help="Decode in this many processes (files, or record ranges of one file).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Run the decoding on this Dask distributed scheduler (tcp://host:8786).")
@click.option("-Y", "--filter", "filter_expr", metavar="EXPR",
              help="Export only the packets that pass this display filter (as decode -Y); "
                   "one process.")
@click.option("-e", "field_names", multiple=True, metavar="FIELD",
              help="A column, by its Wireshark name (repeatable; FIELD#N: the N-th "
                   "occurrence): these columns, in this order, instead of the bulk set.")
@decode_options
@live_options(with_count=True)
@guarded
def export(files: tuple[str, ...], out: str, fmt: str | None, jobs: int,
           scheduler: str | None, filter_expr: str | None, field_names: tuple[str, ...],
           vxlan_ports: tuple[int, ...], gpe_ports: tuple[int, ...],
           geneve_ports: tuple[int, ...], interfaces: tuple[str, ...],
           capture_filter: str | None, autostop: tuple[str, ...], tee: str | None,
           count: int | None) -> None:
    """Decode capture FILEs (or a live capture, -i) into columns named after Wireshark's
    fields (parquet, arrow, csv or jsonl; docs/export.md), fast, in parallel if asked."""
    from vxlankit.bulk import export as run_export
    from vxlankit.bulk.errors import SelectionError

    live = live_request(files, interfaces, capture_filter, autostop, count, tee)
    if live is not None and (jobs > 1 or scheduler is not None):
        raise click.UsageError("-i decodes in one process: -j and --scheduler need files")

    if fmt is None:
        suffix = os.path.splitext(out)[1].lower().lstrip(".")
        fmt = {"parquet": "parquet", "arrow": "arrow", "feather": "arrow", "ipc": "arrow",
               "csv": "csv", "jsonl": "jsonl", "json": "jsonl", "ndjson": "jsonl"}.get(
                   suffix, "parquet")
    with inputs_of(files, live, tee) as inputs:
        sources = [i.capture if isinstance(i, LiveSession) else i for i in inputs]
        try:
            summary = run_export(sources, out, format=fmt, jobs=jobs, scheduler=scheduler,
                                 options=make_decode_options(vxlan_ports, gpe_ports,
                                                             geneve_ports),
                                 display_filter=make_filter(filter_expr),
                                 fields=field_names or None)
        except SelectionError as exc:
            raise Failed(str(exc), EXIT_USAGE) from None
        for source in inputs:
            if isinstance(source, LiveSession):
                source.packets = summary.read  # captured, whatever -Y kept
    shown = (f"{summary.packets} of {counted(summary.read, 'packet')}"
             if summary.read != summary.packets else counted(summary.packets, 'packet'))
    message = (f"exported {shown} from "
               f"{counted(summary.files, 'file')} to "
               f"{summary.out} ({summary.format})\n")
    (sys.stderr if out == "-" else sys.stdout).write(message)


@main.group()
def lab() -> None:
    """The seed's overlay on the Linux kernel (network namespaces, as root), compared with
    the models and the synth (docs/lab.md)."""


def _fault(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Any:
    """``--fault KIND`` (synth ping's kinds) or ``--fault KEY=VALUE`` (repeatable): returns
    (the kind or None, the KEY=VALUE faults)."""
    from vxlankit.lab import LabFaults
    from vxlankit.lab.faults import fault_kinds

    settings: dict[str, Any] = {}
    keys = {"vni": "vni", "port": "port", "underlay-mtu": "underlay_mtu", "c1-vtep": "c1_vtep"}
    kinds = []
    for text in values:
        key, _, value = text.partition("=")
        if not value and key in fault_kinds():
            kinds.append(key)
            continue
        if key not in keys or not value:
            raise click.BadParameter(f"{text!r}: use a kind ({', '.join(fault_kinds())}) or "
                                     f"one of {', '.join(k + '=' for k in keys)}")
        if key == "c1-vtep":
            try:
                ip_str(ip_bytes(value))
            except (VxlanKitError, ValueError):
                raise click.BadParameter(f"{value!r} is not an IPv4 address") from None
            settings[keys[key]] = value
        else:
            try:
                number = int(value, 0)
            except ValueError:
                raise click.BadParameter(f"{text!r}: {key} takes a number") from None
            low, high = _FAULT_RANGES[key]
            if not low <= number <= high:
                raise click.BadParameter(f"{text!r}: {key} must be from {low} to {high}")
            settings[keys[key]] = number
    if len(kinds) > 1:
        raise click.BadParameter(f"one kind at a time, not {', '.join(kinds)}")
    if kinds and settings:
        raise click.BadParameter(f"--fault {kinds[0]} breaks the kernel and synth alike; "
                                 "KEY=VALUE breaks the kernel alone: use one or the other")
    return (kinds[0] if kinds else None), LabFaults(**settings)


# What the kernel takes: a 24-bit VNI, a UDP port, an MTU from IPv4's minimum to a veth's
# maximum.
_FAULT_RANGES = {"vni": (0, (1 << 24) - 1), "port": (1, 65535), "underlay-mtu": (68, 65535)}


@lab.command("ping")
@click.option("--mode", type=click.Choice(["docker", "learning"]), default="docker",
              show_default=True,
              help="docker: static FDB and neighbour entries, vxlan0 'learning proxy l2miss "
                   "l3miss'; learning: an all-zeros flood entry, the VTEPs learn.")
@click.option("--vni", type=click.IntRange(0, (1 << 24) - 1), default=4096, show_default=True,
              help="The overlay's VNI.")
@click.option("-c", "--count", "count", type=click.IntRange(1, 20), default=3,
              show_default=True, help="Echo requests C1 sends (at most 20).")
@click.option("-i", "interval", type=FiniteFloatRange(0.05, 2.0), default=0.2,
              show_default=True, help="Seconds between echo requests.")
@click.option("-s", "size", type=click.IntRange(0, 1400), default=None,
              help="ICMP payload bytes (ping -s). Default 56, 1400 with --fault mtu|fragment.")
@click.option("--port", type=click.IntRange(1, 65535), default=4789, show_default=True,
              help="VXLAN UDP port.")
@click.option("--subnet", default="10.0.0.0/24", show_default=True, metavar="CIDR",
              help="The overlay subnet (one: the lab does not build the routed variant).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="synth's seed: the MACs the lab gives the devices.")
@click.option("--fault", "faults", multiple=True, callback=_fault, metavar="KIND|KEY=VALUE",
              help="Break the overlay as synth ping --fault KIND does (mtu, fragment, vni, "
                   "port, remote, ttl, neigh, fdb), on the kernel and in synth alike; or "
                   "node2's side of the kernel alone (repeatable): vni=N, port=N, "
                   "underlay-mtu=N, c1-vtep=IP (its FDB entry for C1).")
@click.option("-o", "out_dir", metavar="DIR",
              help="Write the capture (pcapng, an interface per tap), the kernel's tables and "
                   "the verdict (JSON) here.")
@click.option("--keep", is_flag=True,
              help="Leave the namespaces for a person to look at; print how to remove them.")
@click.option("--json", "as_json", is_flag=True, help="The verdict as one JSON document.")
@guarded
def lab_ping(mode: str, vni: int, count: int, interval: float, size: int | None, port: int,
             subnet: str, seed: int, faults: Any, out_dir: str | None, keep: bool,
             as_json: bool) -> None:
    """Build the seed's two-host overlay in fresh network namespaces, capture every tap with
    dumpcap while C1 pings C2, and compare: replay's VTEP models and a bridge model against
    the kernel's tables, synth ping against the capture.  Exit 0 when all agree, 4 when not."""
    from vxlankit.lab import LabOptions, run_lab_ping
    from vxlankit.present.jsonl import dumps

    kind, kernel_faults = faults
    options = LabOptions(mode=mode, vni=vni, count=count, interval_s=interval, size=size,
                         port=port, subnet=subnet, seed=seed, fault=kind,
                         faults=kernel_faults, keep=keep, out_dir=out_dir)
    report = run_lab_ping(options)
    sys.stdout.write(dumps(report.to_json()) + "\n" if as_json else report.render())
    _flush_stdout()
    if not report.ok:
        sys.exit(EXIT_DISAGREE)


@main.group()
def state() -> None:
    """A host's network state (links, addresses, routes, neighbours, FDBs) saved as
    iproute2's JSON, for `vxlankit trace` (docs/trace.md)."""


@state.command("save")
@click.option("-o", "out_dir", required=True, metavar="DIR",
              help="The folder to write (made if needed): a file per namespace and state.json.")
@click.option("--netns", "netns", multiple=True, metavar="NAME",
              help="Save this network namespace (repeatable); default: the current one.")
@click.option("--all-netns", is_flag=True, help="Save every named network namespace.")
@guarded
def state_save(out_dir: str, netns: tuple[str, ...], all_netns: bool) -> None:
    """Record, read-only, `ip -d link`, `ip addr`, `ip route`, `ip neigh`, `bridge fdb`,
    `bridge link` and the namespaces' ids (which namespace each veth peer is in) as JSON.
    Reading a named namespace needs root."""
    from vxlankit.state import save_state

    if netns and all_netns:
        raise click.UsageError("give --netns NAME or --all-netns, not both")
    result = save_state(out_dir, netns, all_netns=all_netns)
    sys.stdout.write(result.render())
    _flush_stdout()


def _edits(op: str) -> Callable[[click.Context, click.Parameter, tuple[str, ...]], Any]:
    def parse(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Any:
        from vxlankit.state.edit import parse_edit

        try:
            return tuple(parse_edit(op, v) for v in values)
        except VxlanKitError as exc:
            raise click.BadParameter(exc.message) from None

    return parse


@main.command("trace")
@click.argument("folders", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False))
@click.option("--from", "src", required=True, metavar="IP",
              help="The source address (NAMESPACE:IP when several namespaces have it).")
@click.option("--to", "dst", required=True, metavar="IP", help="The destination address.")
@click.option("--proto", type=click.Choice(["icmp", "udp", "tcp"]), default="icmp",
              show_default=True, help="ICMP echo, a UDP datagram or a TCP SYN.")
@click.option("--dport", type=click.IntRange(1, 65535), default=None,
              help="Destination port (udp, tcp).")
@click.option("--size", type=click.IntRange(28, 65535), default=None, metavar="BYTES",
              help="The IP packet's length (default 84, ping's 56-byte echo).")
@click.option("--df", is_flag=True, help="Set Don't Fragment (ping -M do).")
@click.option("--vni", type=click.IntRange(0, (1 << 24) - 1), default=None,
              help="Where the source address is on several overlays: the one to use.")
@click.option("--set", "sets", multiple=True, callback=_edits("set"), metavar="HOST:DEV:mtu=N",
              help="What if DEV had this MTU (or up=0/1)? Repeatable; the state only.")
@click.option("--fdb-add", "fdb_adds", multiple=True, callback=_edits("fdb-add"),
              metavar="HOST:DEV:MAC:DST", help="What if the VTEP DEV sent MAC to DST?")
@click.option("--fdb-del", "fdb_dels", multiple=True, callback=_edits("fdb-del"),
              metavar="HOST:DEV:MAC", help="What if the VTEP DEV had no entry for MAC?")
@click.option("--vxlan", "vxlans", multiple=True, callback=_edits("vxlan"),
              metavar="HOST:DEV:KEY=VALUE",
              help="What if the vxlan device had dstport=, vni=, learning=, proxy=, ...?")
@click.option("--json", "as_json", is_flag=True,
              help="verdict, hops, drop {host, device, reason, kind} as one JSON document.")
@guarded
def trace_command(folders: tuple[str, ...], src: str, dst: str, proto: str,
                  dport: int | None, size: int | None, df: bool, vni: int | None,
                  sets: tuple[Any, ...], fdb_adds: tuple[Any, ...], fdb_dels: tuple[Any, ...],
                  vxlans: tuple[Any, ...], as_json: bool) -> None:
    """Follow one packet from --from to --to through the state saved by `vxlankit state
    save` (one folder per host), hop by hop, then its answer: the table entry that decides
    at each hop, and for a drop the kernel's reason, the diagnosis kind and the fix.
    Exit 0 when delivered both ways, 1 when dropped."""
    from vxlankit.present.jsonl import dumps
    from vxlankit.state import load_state
    from vxlankit.trace import TraceOptions, trace

    edits = (*sets, *fdb_adds, *fdb_dels, *vxlans)
    options = TraceOptions(src, dst, proto, dport or 0, size, df, vni, edits)
    report = trace(load_state(list(folders)), options)
    sys.stdout.write(dumps(report.to_json()) + "\n" if as_json else report.render())
    _flush_stdout()
    if not report.delivered:
        sys.exit(EXIT_ERROR)


__all__ = [
    "EXIT_DAMAGED", "EXIT_DISAGREE", "EXIT_ERROR", "EXIT_OK", "EXIT_PIPE", "EXIT_USAGE", "main",
]
