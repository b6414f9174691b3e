"""`pcheck watch`: the same URLs every interval on a warm pool; a line per change on stdout."""

from __future__ import annotations

import dataclasses
from typing import Any

import typer

from pcheck.cli import options as opt
from pcheck.cli.declare import WATCH, command
from pcheck.cli.exits import ExitCode, fail, signal_code
from pcheck.cli.prepare import prepare
from pcheck.config import MAX_EVERY_S, parse_duration
from pcheck.errors import ConfigError, PcheckError


def run_watch(ctx: typer.Context, **values: Any) -> None:
    """Re-check the URLs every interval on a warm pool, printing only what changed.

    An INPUT is what `pcheck check` reads: a file of URLs, a document, a sitemap, a directory,
    a glob, '-' for stdin, or an http(s) URL.
    """
    from pcheck.output.changes import WATCH_FORMATS, Change, change_line, round_line
    from pcheck.output.stream import escaping_stdout
    from pcheck.run.session import watch_sources

    try:
        for fmt in (values["format"], (o := prepare(ctx, values))[0].format):  # the flag's, then the file's
            if fmt not in WATCH_FORMATS:
                raise ConfigError("watch --format must be text or jsonl")
        options, config, sources = o
        config = dataclasses.replace(config, recheck_after=0.0)  # each round is the next look: no late re-check
        every_s = parse_duration(options.every, "--every")
        if every_s > MAX_EVERY_S:
            raise ConfigError("--every must be at most 30d")
        if options.rounds is not None and options.rounds < 1:
            raise ConfigError("--rounds must be at least 1")
    except PcheckError as exc:
        fail(exc)
    out = escaping_stdout()
    failed = False
    try:
        for event in watch_sources(config, sources, every_s, options.rounds):
            if isinstance(event, Change):
                print(change_line(event, options.format), file=out, flush=True)
                continue
            typer.echo(round_line(event), err=True)
            failed = event.failed
            if event.interrupted:
                raise typer.Exit(signal_code())
    except KeyboardInterrupt:
        raise typer.Exit(signal_code()) from None
    # A bounded watch ends as a check of its last round would: 1 if a link failed then, else 0.
    raise typer.Exit(ExitCode.FAILED if failed else ExitCode.OK)


#: The command typer sees: `run_watch` with a parameter for every option declared for watch (cli.options).
watch = command(opt.Options, WATCH, run_watch, opt.leading_parameters())
