"""The `pcheck` command: options -> Config -> CheckRun -> reporter -> exit code. Thin on purpose.

Options shared by `check` and `watch` are declared once, as Annotated types.
"""

from __future__ import annotations

import enum
import errno
import logging
import os
import stat
import sys
import time
from typing import Annotated, Any, List, Optional, TextIO

import typer

from pcheck.run import signals
from pcheck._version import __version__
from pcheck.config import Config, DEFAULT_ACCEPT, DEFAULT_EXTENSIONS, DEFAULT_MAX_PER_HOST, DEFAULT_MAX_REDIRECTS, DEFAULT_METHOD, DEFAULT_RETRIES, DEFAULT_THREADS, DEFAULT_TIMEOUT_S, DEFAULT_USER_AGENT, parse_accept, parse_header, PROCESSES_ENV
from pcheck.errors import ConfigError
from pcheck.output.reports import FORMATS, REPORT_ERRORS

log = logging.getLogger("pcheck")


class ExitCode(enum.IntEnum):
    """The one place outcomes become exit codes (DESIGN.md's contract)."""

    OK = 0
    FAILED = 1  # a broken, invalid or unchecked URL (blocked too with --fail-on-blocked)
    USAGE = 2  # a bad option or an unreadable input; nothing was checked
    WRITE_FAILED = 3  # the report could not be written (disk full, stdout closed)
    HANGUP = 129  # SIGHUP (a closed terminal); the partial report was still written
    INTERRUPTED = 130  # Ctrl-C; the partial report was still written
    BROKEN_PIPE = 141  # the reader of stdout went away (`| head`): quiet, as a SIGPIPE death
    TERMINATED = 143  # SIGTERM (CI cancel, timeout, docker stop); the partial report was still written


app = typer.Typer(
    add_completion=True,
    # Plain click help and tracebacks: rich's renderer costs ~0.2 s on every start-up.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="pcheck: check thousands to millions of links fast, on every core, losing none.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

Inputs = Annotated[Optional[List[str]], typer.Argument(
    help="URL lists, Markdown/HTML documents, directories or globs; '-' for stdin; or http(s) URLs.")]
Processes = Annotated[Optional[int], typer.Option("-p", "--processes", help=f"Worker processes [default: usable cores, or ${PROCESSES_ENV}].")]
Threads = Annotated[int, typer.Option("-t", "--threads", help="Threads per process.")]
Timeout = Annotated[float, typer.Option("--timeout", help="Total seconds for one attempt, connect to last header byte.")]
Retries = Annotated[int, typer.Option("--retries", help="Retries on timeout, connection/DNS error, 408, 429, 5xx.")]
Accept = Annotated[str, typer.Option("--accept", help="Statuses that count as alive, e.g. 200-299,403.")]
Method = Annotated[str, typer.Option("--method", help="First method: head (a failure is confirmed with GET) or get.")]
MaxPerHost = Annotated[int, typer.Option("--max-per-host", help="Concurrent requests to one host, all processes together.")]
MaxRedirects = Annotated[int, typer.Option("--max-redirects", help="Redirect hops followed.")]
Format = Annotated[str, typer.Option("--format", help=f"Report format: {', '.join(FORMATS)}.")]
Output = Annotated[Optional[str], typer.Option("-o", "--output", help="Write the report to this file [default: stdout].")]
Include = Annotated[List[str], typer.Option("--include", help="Only check URLs matching this regex (repeatable).")]
Exclude = Annotated[List[str], typer.Option("--exclude", help="Skip URLs matching this regex (repeatable).")]
Header = Annotated[List[str], typer.Option("--header", help="Extra request header 'Name: value' (repeatable).")]
UserAgent = Annotated[str, typer.Option("--user-agent", help="User-Agent header.")]
ExcludePrivate = Annotated[bool, typer.Option("--exclude-private", help="Refuse private, loopback, link-local and metadata addresses, checked on every hop's resolved address.")]
Insecure = Annotated[bool, typer.Option("--insecure", help="Skip TLS certificate verification.")]
CaBundle = Annotated[Optional[str], typer.Option("--ca-bundle", help="CA certificates (PEM) to verify TLS with.")]
FailOnBlocked = Annotated[bool, typer.Option("--fail-on-blocked", help="Count blocked URLs (401, 403, 429, 999, challenges) as failures.")]
InputFormat = Annotated[str, typer.Option("--input-format", help="How to read inputs: auto (by extension), list, markdown, html, text.")]
Extensions = Annotated[str, typer.Option("--extensions", help="Document extensions searched for in directories.")]
HostStats = Annotated[bool, typer.Option("--host-stats", help="Add per-host statistics to the report.")]
NoProgress = Annotated[bool, typer.Option("--no-progress", help="No progress bar or status lines.")]
ConfigPath = Annotated[Optional[str], typer.Option("--config", help="Config file [default: the nearest pcheck.toml, or pyproject.toml with [tool.pcheck]].")]
StartMethod = Annotated[Optional[str], typer.Option("--start-method", help="multiprocessing start method: forkserver or spawn.", hidden=True)]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pcheck {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """pcheck: a fast bulk link checker."""


@app.command()
def check(
    ctx: typer.Context,
    inputs: Inputs = None,
    processes: Processes = None,
    threads: Threads = DEFAULT_THREADS,
    timeout: Timeout = DEFAULT_TIMEOUT_S,
    retries: Retries = DEFAULT_RETRIES,
    accept: Accept = DEFAULT_ACCEPT,
    method: Method = DEFAULT_METHOD,
    max_per_host: MaxPerHost = DEFAULT_MAX_PER_HOST,
    max_redirects: MaxRedirects = DEFAULT_MAX_REDIRECTS,
    fmt: Format = "text",
    output: Output = None,
    include: Include = [],  # noqa: B006 - typer reads defaults, never mutates them
    exclude: Exclude = [],  # noqa: B006
    header: Header = [],  # noqa: B006
    user_agent: UserAgent = DEFAULT_USER_AGENT,
    exclude_private: ExcludePrivate = False,
    insecure: Insecure = False,
    ca_bundle: CaBundle = None,
    fail_on_blocked: FailOnBlocked = False,
    input_format: InputFormat = "auto",
    extensions: Extensions = ",".join(DEFAULT_EXTENSIONS),
    host_stats: HostStats = False,
    no_progress: NoProgress = False,
    config_path: ConfigPath = None,
    start_method: StartMethod = None,
    resume: Annotated[bool, typer.Option("--resume", help="Append to the -o jsonl report of an earlier run, skipping URLs it already holds a verdict for.")] = False,
    cache: Annotated[bool, typer.Option("--cache", help="Reuse alive verdicts from a local SQLite cache (errors are never cached).")] = False,
    cache_path: Annotated[str, typer.Option("--cache-path", help="The cache file.")] = os.path.join(".pcheck", "cache.sqlite"),
    max_cache_age: Annotated[str, typer.Option("--max-cache-age", help="How long a cached verdict is served: 30s, 15m, 12h, 1d.")] = "1d",
    distributor: Annotated[str, typer.Option("--distributor", help="multiprocessing (this machine) or ray (a Ray cluster; pip install 'pcheck[ray]').")] = "multiprocessing",
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="Ray cluster to join ('auto', 'ray://host:10001') [default: start a local one].")] = None,
    shard_size: Annotated[int, typer.Option("--shard-size", help="URLs per Ray task.")] = 10_000,
) -> None:
    """Check URLs from lists, documents, stdin and arguments; exit 0 if none failed, 1 if some did."""
    from pcheck.store.cache import parse_age, VerdictCache
    from pcheck.errors import ResumeError
    from pcheck.store.resume import ResumeState

    o, config, sources = _prepare(ctx, dict(locals()))
    _refuse_output_over_inputs(o["output"], sources, o["config_path"], o["ca_bundle"],
                               o["cache_path"] if o["cache"] else None)
    resume_state = cache_store = None
    try:
        if o["resume"] and (o["fmt"] != "jsonl" or not o["output"]):
            raise ConfigError("--resume needs --format jsonl and -o FILE (the report to carry on)")
        # The cache first: a cache that cannot be used must stop the run before the report is touched.
        if o["cache"]:
            cache_store = VerdictCache(o["cache_path"], config, parse_age(o["max_cache_age"]))
        if o["resume"]:
            resume_state = ResumeState(o["output"])
    except (ConfigError, ResumeError, ValueError, OSError) as exc:
        if cache_store is not None:
            cache_store.close()
        _usage(str(exc))
    if resume_state is not None and resume_state.repaired_bytes:
        typer.echo(f"pcheck: {o['output']}: cut a torn last record ({resume_state.repaired_bytes} bytes)", err=True)
    try:
        code = _execute(config, sources, o["fmt"], o["output"], not o["no_progress"], host_stats=o["host_stats"],
                        resume=resume_state, cache=cache_store)
    finally:
        if cache_store is not None:
            cache_store.close()
        if resume_state is not None:
            resume_state.close()
    raise typer.Exit(code)


@app.command()
def watch(
    ctx: typer.Context,
    inputs: Inputs = None,
    every: Annotated[str, typer.Option("--every", help="Interval between rounds: 30s, 5m, 1h.")] = "30s",
    rounds: Annotated[Optional[int], typer.Option("--rounds", help="Stop after this many rounds [default: never].")] = None,
    processes: Processes = None,
    threads: Threads = DEFAULT_THREADS,
    timeout: Timeout = DEFAULT_TIMEOUT_S,
    retries: Retries = DEFAULT_RETRIES,
    accept: Accept = DEFAULT_ACCEPT,
    method: Method = DEFAULT_METHOD,
    max_per_host: MaxPerHost = DEFAULT_MAX_PER_HOST,
    max_redirects: MaxRedirects = DEFAULT_MAX_REDIRECTS,
    fmt: Annotated[str, typer.Option("--format", help="text (a line per change) or jsonl (a record per change).")] = "text",
    include: Include = [],  # noqa: B006
    exclude: Exclude = [],  # noqa: B006
    header: Header = [],  # noqa: B006
    user_agent: UserAgent = DEFAULT_USER_AGENT,
    exclude_private: ExcludePrivate = False,
    insecure: Insecure = False,
    ca_bundle: CaBundle = None,
    input_format: InputFormat = "auto",
    extensions: Extensions = ",".join(DEFAULT_EXTENSIONS),
    config_path: ConfigPath = None,
    start_method: StartMethod = None,
) -> None:
    """Re-check the URLs every interval on a warm pool, printing only what changed."""
    import json

    from pcheck.run.session import targets
    from pcheck.store.cache import parse_age
    from pcheck.run.pool import CheckRun
    from pcheck.run.procs import stop_helper_processes
    from pcheck.urls import redact_userinfo
    from pcheck.output.reports import printable
    from pcheck.run.watch import Change, watch as watch_rounds

    values = dict(locals())
    values.update(output=None, fail_on_blocked=False, host_stats=False, no_progress=True)
    if values["fmt"] not in ("text", "jsonl"):
        _usage("watch --format must be text or jsonl")
    o, config, sources = _prepare(ctx, values)
    try:
        every_s = parse_age(o["every"])
    except ValueError as exc:
        _usage(f"--every: {exc}")
    _log_to(None)
    _escaping_stdout()
    summary = None
    try:
        with CheckRun(config) as run:
            for event in watch_rounds(run, lambda: targets(run.config, sources), every_s, o["rounds"]):
                if isinstance(event, Change):
                    r = event.result
                    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(event.at))
                    before = event.previous.value if event.previous else "new"
                    if o["fmt"] == "jsonl":
                        record = {**r.to_record(), "previous": event.previous and event.previous.value,
                                  "round": event.round, "at": when}
                        print(json.dumps(record), flush=True)
                    else:
                        url = printable(redact_userinfo(r.url))
                        print(f"{when} {url} {before} -> {r.outcome.value} ({printable(_reason(r))})", flush=True)
                else:
                    summary = event
                    counts = ", ".join(f"{o.value} {n}" for o, n in event.counts.items() if n)
                    typer.echo(f"pcheck: round {event.round}: {counts}; {event.changes} change(s) "
                               f"in {event.elapsed_s:.1f} s", err=True)
                    if event.interrupted:
                        break
    except KeyboardInterrupt:
        summary = None
        raise typer.Exit(signals.received.exit_status())
    finally:
        stop_helper_processes()
    if summary is not None and summary.interrupted:
        raise typer.Exit(signals.received.exit_status())
    raise typer.Exit(ExitCode.OK)


@app.command()
def demo(
    processes: Processes = None,
    fmt: Format = "text",
) -> None:
    """Start the embedded local site, check a mixed list on every core, and show the report (offline)."""
    import tempfile

    from pcheck.cli.demo import demo_cases
    from pcheck.inputs.sources import Source
    from pcheck.lab import Lab

    with Lab(hosts=4) as lab, tempfile.TemporaryDirectory(prefix="pcheck-demo-") as tmp:
        cases = demo_cases(lab)
        path = os.path.join(tmp, "demo-urls.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("# pcheck demo: a mixed list served by the local site\n")
            f.writelines(line + "\n" for line, _ in cases)
        config = Config(
            **({"processes": processes} if processes is not None else {}),
            timeout=1.5, retries=1, backoff_base=0.1, threads=16, max_retry_after=5.0,
        )
        outcomes: dict[int, str] = {}
        code = _execute(config, [Source(path, "file")], fmt, None, True, outcomes)
        expected = {i + 2: want.value for i, (_, want) in enumerate(cases)}
        wrong = {line: (outcomes.get(line), want) for line, want in expected.items() if outcomes.get(line) != want}
    typer.echo(f"pcheck demo: {config.processes} process(es) x {config.threads} threads; "
               f"{len(expected) - len(wrong)}/{len(expected)} verdicts match what the local site serves", err=True)
    for line, (got, want) in sorted(wrong.items()):
        typer.echo(f"  line {line}: got {got}, expected {want}", err=True)
    if signals.received.first is not None:
        raise typer.Exit(code)
    raise typer.Exit(ExitCode.FAILED if wrong else ExitCode.OK)


def _prepare(ctx: typer.Context, values: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Merge the config file under the command line, then build the Config and the sources."""
    from pcheck.cli.configfile import find_config, load_config
    from pcheck.errors import InputError
    from pcheck.inputs.sources import open_sources

    o = values
    path, from_file = None, []
    try:
        path = o["config_path"] or find_config()
        settings = load_config(path) if path else None
        if settings is not None:  # a flag given on the command line wins over the file
            for key, value in settings.options.items():
                name = "fmt" if key == "format" else key
                # typer ships its own copy of click, so compare the enum member's name, not the member.
                source = getattr(ctx.get_parameter_source(name), "name", "DEFAULT")
                if name in o and source in ("DEFAULT", "DEFAULT_MAP"):
                    o[name] = value
                    from_file.append(key)
        if not o["inputs"]:
            raise ConfigError("no INPUT given: name files of URLs, documents, '-' for stdin, or URLs")
        if o["fmt"] not in FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(FORMATS)}")
        accept_spec = o["accept"] if isinstance(o["accept"], str) else ",".join(map(str, o["accept"]))
        exts = o["extensions"] if isinstance(o["extensions"], list) else o["extensions"].split(",")
        config = Config(
            **({"processes": o["processes"]} if o["processes"] is not None else {}),
            threads=o["threads"], timeout=float(o["timeout"]), retries=o["retries"], accept=parse_accept(accept_spec),
            method=o["method"].lower(), max_per_host=o["max_per_host"], max_redirects=o["max_redirects"],
            headers=tuple(parse_header(h) for h in o["header"]), user_agent=o["user_agent"],
            verify_tls=not o["insecure"], ca_bundle=o["ca_bundle"], exclude_private=o["exclude_private"],
            include=tuple(o["include"]), exclude=tuple(o["exclude"]), fail_on_blocked=o["fail_on_blocked"],
            start_method=o["start_method"], hosts=settings.hosts if settings else (),
            **{k: o[k] for k in ("distributor", "ray_address", "shard_size") if k in o},
        )
        sources = open_sources(o["inputs"], o["input_format"], [e.strip() for e in exts if e.strip()])
        if o["ca_bundle"] is not None and not os.path.isfile(o["ca_bundle"]):
            raise ConfigError(f"--ca-bundle {o['ca_bundle']}: no such file")
    except ConfigError as exc:
        _usage(f"{exc} (set in {path}: {', '.join(from_file)})" if from_file else str(exc))
    except InputError as exc:
        _usage(str(exc))
    if o["insecure"]:
        typer.echo("pcheck: warning: --insecure: TLS certificates are not verified", err=True)
    return o, config, sources


def _execute(config: Config, sources, fmt: str, output: Optional[str], progress: bool,  # type: ignore[no-untyped-def]
             outcomes: Optional[dict] = None, host_stats: bool = False, resume=None, cache=None) -> ExitCode:
    """Run the check and write the report; any ending signal still leaves a whole report behind."""
    from pcheck.run.session import open_run, pipeline
    from pcheck.inputs.sources import count_candidates
    from pcheck.run.procs import stop_helper_processes
    from pcheck.output.progress import Progress
    from pcheck.output.reports import make_reporter

    stream = _open_report(output, resume)
    name = output or "<stdout>"
    try:
        total = count_candidates(sources) if progress else None
        cancel_at_once = False
    except KeyboardInterrupt:  # interrupted while counting: every URL is reported cancelled
        total, cancel_at_once = None, True
    bar = Progress(total, enabled=progress)
    _log_to(bar)
    reporter = make_reporter(fmt, stream, host_stats=host_stats, fail_on_blocked=config.fail_on_blocked)
    if resume is not None:
        reporter.summary.counts.update(resume.counts)  # the exit code covers the whole report
    started = time.monotonic()
    interrupted = cancel_at_once
    failure: Optional[OSError] = None
    try:
        with open_run(config) as run:
            if cancel_at_once:
                run.cancel()
            try:
                for result in pipeline(config, sources, run, resume=resume, cache=cache, idle=reporter.flush):
                    reporter.write(result)
                    bar.update(result)
                    if outcomes is not None and result.line is not None:
                        outcomes[result.line] = result.outcome.value
            except OSError as exc:  # the report cannot be written: stop checking, nobody would read it
                if not _is_report_error(exc, stream):
                    raise
                failure = exc
            interrupted = interrupted or run.interrupted
            if run.input_cut:
                log.warning("input not read to its end: %s", run.input_cut)
    except KeyboardInterrupt:  # a second Ctrl-C: stop now, keep what was written
        interrupted = True
    except ConfigError as exc:  # found only once the run starts (e.g. Ray is not installed)
        bar.close()
        _usage(str(exc))
    finally:
        bar.close()
        stop_helper_processes()
    if failure is None:
        failure = _finish_report(reporter, stream, time.monotonic() - started, interrupted)
    if failure is not None:
        _report_failed(name, failure)
    if signals.received.first is not None:
        return ExitCode(signals.received.exit_status())
    if interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.FAILED if reporter.summary.failed(config.fail_on_blocked) else ExitCode.OK


def _open_report(output: Optional[str], resume) -> TextIO:  # type: ignore[no-untyped-def]
    """The report's stream; exit 3 if it cannot be opened, before anything is checked."""
    if not output:
        if sys.stdout is None:  # started with stdout closed (`>&-`)
            _report_failed("<stdout>", OSError(errno.EBADF, "stdout is closed; name a report file with -o"))
        return _escaping_stdout()
    try:
        if resume is not None:
            return resume.open_for_append()  # under the lock that keeps a second run out
        return open(output, "w", encoding="utf-8", newline="", errors=REPORT_ERRORS)
    except OSError as exc:
        _report_failed(output, exc)
    raise AssertionError("unreachable")


def _escaping_stdout() -> TextIO:
    """stdout, set to show characters it cannot encode as escapes (PYTHONIOENCODING=ascii, a legacy
    code page) rather than end the report in a traceback."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors=REPORT_ERRORS)
    return sys.stdout


def _finish_report(reporter, stream: TextIO, elapsed_s: float, interrupted: bool) -> Optional[OSError]:  # type: ignore[no-untyped-def]
    """Write the summary and close the report; a signal now waits for the report to be whole.

    The first ending signal during this step is only recorded; a second one stops the writing.
    """
    seen = []

    def defer(signum: int, frame: object) -> None:
        seen.append(signum)
        if len(seen) >= 2:
            raise signals.Interrupted

    try:
        with signals.handling(defer):
            reporter.finish(elapsed_s, interrupted)
            if stream is not sys.stdout:
                stream.close()
    except OSError as exc:
        if not _is_report_error(exc, stream):
            raise
        return exc
    except KeyboardInterrupt:
        pass
    return None


#: errno values that mean "the report cannot be written", as opposed to an input fault.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF, errno.EPIPE, errno.EROFS})


def _is_report_error(exc: OSError, stream: TextIO) -> bool:
    """True for a failure to write the report (not, say, an input file that vanished)."""
    return exc.errno in _WRITE_ERRNOS or bool(getattr(stream, "closed", False))


def _report_failed(name: str, exc: OSError) -> None:
    """One line and exit 3; a reader of stdout that went away (`| head`) ends it quietly instead."""
    if exc.errno == errno.EPIPE:
        # Point stdout at /dev/null: the interpreter's own flush at exit would fail again, loudly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
        finally:
            os.close(devnull)
        raise typer.Exit(ExitCode.BROKEN_PIPE)
    typer.echo(f"pcheck: error: cannot write the report to {name}: {exc.strerror or exc}", err=True)
    raise typer.Exit(ExitCode.WRITE_FAILED)


def _refuse_output_over_inputs(output: Optional[str], sources, *other_inputs: Optional[str]) -> None:  # type: ignore[no-untyped-def]
    """-o must not name a file pcheck reads: opening it for writing would empty the input first."""
    if not output:
        return
    try:
        target = os.stat(output)
    except OSError:
        return  # not there yet: nothing to destroy
    if not stat.S_ISREG(target.st_mode):
        return  # /dev/stdout, a pipe: writing to it destroys nothing
    named = [s.name for s in sources if s.kind in ("file", "document") and s.name != "-"]
    named += [p for p in other_inputs if p]
    for path in named:
        try:
            same = os.path.samestat(target, os.stat(path))
        except OSError:
            continue
        if same:
            _usage(f"-o {output} is also an input ({path}); write the report to another file")
    if any(s.name == "-" for s in sources):
        try:
            same = os.path.samestat(target, os.fstat(0))
        except OSError:
            same = False
        if same:
            _usage(f"-o {output} is also the standard input; write the report to another file")


def _reason(r) -> str:  # type: ignore[no-untyped-def]
    return " ".join(str(x) for x in (r.status, r.error and r.error.value, r.detail) if x) or r.outcome.value


def _log_to(bar) -> None:  # type: ignore[no-untyped-def]
    """Route the library's log lines (worker crashes) to stderr, above the bar if there is one."""
    class ToStderr(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            line = "pcheck: " + self.format(record)
            if bar is not None:
                bar.write(line)
            else:
                print(line, file=sys.stderr, flush=True)

    logger = logging.getLogger("pcheck")
    logger.handlers[:] = [ToStderr()]
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _usage(message: str) -> None:
    typer.echo(f"pcheck: error: {message}", err=True)
    raise typer.Exit(ExitCode.USAGE)


def run() -> None:
    """The command, under pcheck.__main__'s signal handlers: SIGTERM and SIGHUP unwind like Ctrl-C
    (a run installs its own handlers over these) instead of killing the process where it stands."""
    warm = False
    try:
        warm = _prestart(sys.argv[1:])
        # Named explicitly so `python -m pcheck` prints help and completion scripts for `pcheck`.
        app(prog_name="pcheck")
    except KeyboardInterrupt:  # before typer took over (it turns a later one into exit 130)
        sys.exit(signals.received.exit_status())
    except SystemExit as exc:
        # Typer ends a command that a signal unwound before its run began with exit 130
        # (Ctrl-C's): say which signal it was, as a run does.
        if exc.code == ExitCode.INTERRUPTED and signals.received.first is not None:
            sys.exit(signals.received.exit_status())
        raise
    finally:
        if warm:
            from pcheck.run.procs import stop_helper_processes

            stop_helper_processes()


def _prestart(args: list[str]) -> bool:
    """Start the worker server before typer parses the options (which costs as much again).

    Only the command name is looked at: options are typer's to parse. A run that
    then picks spawn or Ray leaves the server idle until run() stops it.
    """
    if not args or args[0] not in ("check", "watch", "demo") or {"--help", "-h"} & set(args):
        return False
    from pcheck.run.procs import prestart

    return prestart()
