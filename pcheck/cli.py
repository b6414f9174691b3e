"""The `pcheck` command: options -> Config -> CheckRun -> reporter -> exit code. Thin on purpose."""

from __future__ import annotations

import enum
import logging
import os
import sys
import time
from typing import List, Optional

import typer
from click.core import ParameterSource

from . import __version__
from .config import (
    DEFAULT_ACCEPT, DEFAULT_MAX_PER_HOST, DEFAULT_MAX_REDIRECTS, DEFAULT_METHOD, DEFAULT_RETRIES,
    DEFAULT_EXTENSIONS, DEFAULT_THREADS, DEFAULT_TIMEOUT_S, DEFAULT_USER_AGENT, PROCESSES_ENV, Config, ConfigError,
    parse_accept, parse_header,
)
from .report import FORMATS


class ExitCode(enum.IntEnum):
    """The one place outcomes become exit codes (DESIGN.md's contract)."""

    OK = 0
    FAILED = 1  # a broken, invalid or unchecked URL (blocked too with --fail-on-blocked)
    USAGE = 2  # a bad option or an unreadable input; nothing was checked
    INTERRUPTED = 130  # Ctrl-C; the partial report was still written


app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    help="pcheck: check thousands to millions of links fast, on every core, losing none.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pcheck {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """pcheck: a fast bulk link checker."""


@app.command()
def check(
    ctx: typer.Context,
    inputs: List[str] = typer.Argument(None, help="URL lists, Markdown/HTML documents, directories or globs; '-' for stdin; or http(s) URLs."),
    processes: Optional[int] = typer.Option(None, "-p", "--processes", help=f"Worker processes [default: usable cores, or ${PROCESSES_ENV}]."),
    threads: int = typer.Option(DEFAULT_THREADS, "-t", "--threads", help="Threads per process."),
    timeout: float = typer.Option(DEFAULT_TIMEOUT_S, "--timeout", help="Total seconds for one attempt, connect to last header byte."),
    retries: int = typer.Option(DEFAULT_RETRIES, "--retries", help="Retries on timeout, connection/DNS error, 408, 429, 5xx."),
    accept: str = typer.Option(DEFAULT_ACCEPT, "--accept", help="Statuses that count as alive, e.g. 200-299,403."),
    method: str = typer.Option(DEFAULT_METHOD, "--method", help="First method: head (a failure is confirmed with GET) or get."),
    max_per_host: int = typer.Option(DEFAULT_MAX_PER_HOST, "--max-per-host", help="Concurrent requests to one host, all processes together."),
    max_redirects: int = typer.Option(DEFAULT_MAX_REDIRECTS, "--max-redirects", help="Redirect hops followed."),
    fmt: str = typer.Option("text", "--format", help=f"Report format: {', '.join(FORMATS)}."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Write the report to this file [default: stdout]."),
    include: List[str] = typer.Option([], "--include", help="Only check URLs matching this regex (repeatable)."),
    exclude: List[str] = typer.Option([], "--exclude", help="Skip URLs matching this regex (repeatable)."),
    header: List[str] = typer.Option([], "--header", help="Extra request header 'Name: value' (repeatable)."),
    user_agent: str = typer.Option(DEFAULT_USER_AGENT, "--user-agent", help="User-Agent header."),
    exclude_private: bool = typer.Option(False, "--exclude-private", help="Refuse private, loopback, link-local and metadata addresses, checked on every hop's resolved address."),
    insecure: bool = typer.Option(False, "--insecure", help="Skip TLS certificate verification."),
    ca_bundle: Optional[str] = typer.Option(None, "--ca-bundle", help="CA certificates (PEM) to verify TLS with."),
    fail_on_blocked: bool = typer.Option(False, "--fail-on-blocked", help="Count blocked URLs (401, 403, 429, 999, challenges) as failures."),
    input_format: str = typer.Option("auto", "--input-format", help="How to read inputs: auto (by extension), list, markdown, html, text."),
    extensions: str = typer.Option(",".join(DEFAULT_EXTENSIONS), "--extensions", help="Document extensions searched for in directories."),
    host_stats: bool = typer.Option(False, "--host-stats", help="Add per-host statistics to the report."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar or status lines."),
    config_path: Optional[str] = typer.Option(None, "--config", help="Config file [default: the nearest pcheck.toml or pyproject.toml with [tool.pcheck]]."),
    start_method: Optional[str] = typer.Option(None, "--start-method", help="multiprocessing start method: forkserver or spawn.", hidden=True),
) -> None:
    """Check URLs from lists, documents, stdin and arguments; exit 0 if none failed, 1 if some did."""
    from .configfile import find_config, load_config
    from .inputs import InputError, open_sources

    options = dict(locals())
    try:
        path = config_path or find_config()
        settings = load_config(path) if path else None
        if settings is not None:  # a flag given on the command line wins over the file
            for key, value in settings.options.items():
                name = "fmt" if key == "format" else key
                if ctx.get_parameter_source(name) in (ParameterSource.DEFAULT, None):
                    options[name] = value
        o = options
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
        )
        sources = open_sources(o["inputs"], o["input_format"], [e.strip() for e in exts if e.strip()])
        if o["ca_bundle"] is not None and not os.path.isfile(o["ca_bundle"]):
            raise ConfigError(f"--ca-bundle {o['ca_bundle']}: no such file")
    except (ConfigError, InputError) as exc:
        _usage(str(exc))
    if o["insecure"]:
        typer.echo("pcheck: warning: --insecure: TLS certificates are not verified", err=True)
    raise typer.Exit(_execute(config, sources, o["fmt"], o["output"], not o["no_progress"], host_stats=o["host_stats"]))


@app.command()
def demo(
    processes: Optional[int] = typer.Option(None, "-p", "--processes", help="Worker processes [default: usable cores]."),
    fmt: str = typer.Option("text", "--format", help=f"Report format: {', '.join(FORMATS)}."),
) -> None:
    """Start the embedded local site, check a mixed list on every core, and show the report (offline)."""
    import tempfile

    from .demo import demo_cases
    from .inputs import Source
    from .lab import Lab

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
    if code == ExitCode.INTERRUPTED:
        raise typer.Exit(code)
    raise typer.Exit(ExitCode.FAILED if wrong else ExitCode.OK)


def _execute(config: Config, sources, fmt: str, output: Optional[str], progress: bool,
             outcomes: Optional[dict] = None, host_stats: bool = False) -> ExitCode:
    from .api import run_sources
    from .inputs import count_candidates
    from .pool import CheckRun, stop_helper_processes
    from .progress import Progress
    from .report import make_reporter

    try:
        stream = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    except OSError as exc:
        _usage(f"{output}: {exc.strerror}")
    bar = Progress(count_candidates(sources) if progress else None, enabled=progress)
    _log_to(bar)
    reporter = make_reporter(fmt, stream, host_stats=host_stats, fail_on_blocked=config.fail_on_blocked)
    started = time.monotonic()
    interrupted = False
    try:
        with CheckRun(config) as run:
            for result in run_sources(run, sources):
                reporter.write(result)
                bar.update(result)
                if outcomes is not None and result.line is not None:
                    outcomes[result.line] = result.outcome.value
            interrupted = run.interrupted
    except KeyboardInterrupt:  # a second Ctrl-C: stop now, keep what was written
        interrupted = True
    finally:
        bar.close()
        stop_helper_processes()
    summary = reporter.finish(time.monotonic() - started, interrupted)
    if output:
        stream.close()
    if interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.FAILED if summary.failed(config.fail_on_blocked) else ExitCode.OK


def _log_to(bar) -> None:  # type: ignore[no-untyped-def]
    class ToBar(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            bar.write("pcheck: " + self.format(record))

    logger = logging.getLogger("pcheck")
    logger.handlers[:] = [ToBar()]
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _usage(message: str) -> None:
    typer.echo(f"pcheck: error: {message}", err=True)
    raise typer.Exit(ExitCode.USAGE)


def run() -> None:
    app()
