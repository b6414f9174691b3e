"""`pcheck watch`: the same URLs every interval on a warm pool; a line per change on stdout."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from pcheck.cli import options as opt
from pcheck.cli.exits import ExitCode, fail, signal_code
from pcheck.config import DEFAULT_EVERY, parse_duration
from pcheck.errors import ConfigError, PcheckError

D = opt.Options  # every default, defined once (pcheck.config), read through Options

WatchFormat = Annotated[str, typer.Option("--format", metavar="FORMAT", help="text (a line per change) or jsonl (a record per change).")]


def watch(
    ctx: typer.Context,
    inputs: opt.Inputs = None,
    every: opt.Every = DEFAULT_EVERY,
    rounds: opt.Rounds = None,
    processes: opt.Processes = None,
    threads: opt.Threads = D.threads,
    timeout: opt.Timeout = D.timeout,
    retries: opt.Retries = D.retries,
    accept: opt.Accept = D.accept,
    method: opt.Method = D.method,
    max_per_host: opt.MaxPerHost = D.max_per_host,
    host_interval: opt.HostInterval = D.host_interval,
    max_redirects: opt.MaxRedirects = D.max_redirects,
    format: WatchFormat = D.format,  # noqa: A002 - the option's name
    include: opt.Include = [],  # noqa: B006 - typer reads defaults, never mutates them
    exclude: opt.Exclude = [],  # noqa: B006
    header: opt.Header = [],  # noqa: B006
    user_agent: opt.UserAgent = D.user_agent,
    exclude_private: opt.ExcludePrivate = False,
    proxy: opt.Proxy = None,
    github_token: opt.GithubToken = None,
    insecure: opt.Insecure = False,
    ca_bundle: opt.CaBundle = None,
    input_format: opt.InputFormat = D.input_format,
    extensions: opt.Extensions = D.extensions,
    no_ignore: opt.NoIgnore = False,
    hidden: opt.Hidden = False,
    config_path: opt.ConfigPath = None,
    start_method: opt.StartMethod = None,
    root_dir: opt.RootDir = None,
    base_url: opt.BaseUrl = None,
    include_fragments: opt.IncludeFragments = False,
) -> None:
    """Re-check the URLs every interval on a warm pool, printing only what changed.

    An INPUT is what `pcheck check` reads: a file of URLs, a document, a sitemap, a directory,
    a glob, '-' for stdin, or an http(s) URL.
    """
    from pcheck.output.changes import WATCH_FORMATS, change_line, round_line
    from pcheck.output.stream import escaping_stdout
    from pcheck.run.watch import Change, watch_sources

    try:
        if format not in WATCH_FORMATS:
            raise ConfigError("watch --format must be text or jsonl")
        _, config, sources = opt.prepare(ctx, exclude={"every", "rounds"})
        config = dataclasses.replace(config, recheck_after=0.0)  # each round is the next look: no late re-check
        try:
            every_s = parse_duration(every)
        except ConfigError as exc:
            raise ConfigError(f"--every: {exc}") from None
    except PcheckError as exc:
        fail(exc)
    out = escaping_stdout()
    try:
        for event in watch_sources(config, sources, every_s, rounds):
            if isinstance(event, Change):
                print(change_line(event, format), file=out, flush=True)
                continue
            typer.echo(round_line(event), err=True)
            if event.interrupted:
                raise typer.Exit(signal_code())
    except KeyboardInterrupt:
        raise typer.Exit(signal_code()) from None
    raise typer.Exit(ExitCode.OK)
