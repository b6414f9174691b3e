"""`pcheck check`: options -> Config and Plan -> run.session -> exit code."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from pcheck.cli import options as opt
from pcheck.cli.exits import ExitCode, ending_code, fail
from pcheck.config import parse_duration
from pcheck.errors import PcheckError

if TYPE_CHECKING:
    pass

D = opt.Options  # every default, defined once (pcheck.config), read through Options


def check(
    ctx: typer.Context,
    inputs: opt.Inputs = None,
    processes: opt.Processes = None,
    threads: opt.Threads = D.threads,
    timeout: opt.Timeout = D.timeout,
    retries: opt.Retries = D.retries,
    accept: opt.Accept = D.accept,
    method: opt.Method = D.method,
    max_per_host: opt.MaxPerHost = D.max_per_host,
    host_interval: opt.HostInterval = D.host_interval,
    recheck_after: opt.RecheckAfter = D.recheck_after,
    accept_transient: opt.AcceptTransient = False,
    max_redirects: opt.MaxRedirects = D.max_redirects,
    format: opt.Format = D.format,  # noqa: A002 - the option's name
    output: opt.Output = None,
    include: opt.Include = [],  # noqa: B006 - typer reads defaults, never mutates them
    exclude: opt.Exclude = [],  # noqa: B006
    header: opt.Header = [],  # noqa: B006
    user_agent: opt.UserAgent = D.user_agent,
    exclude_private: opt.ExcludePrivate = False,
    proxy: opt.Proxy = None,
    github_token: opt.GithubToken = None,
    insecure: opt.Insecure = False,
    ca_bundle: opt.CaBundle = None,
    fail_on_blocked: opt.FailOnBlocked = False,
    input_format: opt.InputFormat = D.input_format,
    extensions: opt.Extensions = D.extensions,
    no_ignore: opt.NoIgnore = False,
    hidden: opt.Hidden = False,
    host_stats: opt.HostStats = False,
    no_progress: opt.NoProgress = False,
    color: opt.Color = D.color,
    verbose: opt.Verbose = False,
    quiet: opt.Quiet = False,
    config_path: opt.ConfigPath = None,
    start_method: opt.StartMethod = None,
    resume: opt.Resume = False,
    cache: opt.Cache = False,
    cache_path: opt.CachePath = D.cache_path,
    max_cache_age: opt.MaxCacheAge = D.max_cache_age,
    fail_after: opt.FailAfter = D.fail_after,
    distributor: opt.Distributor = D.distributor,
    ray_address: opt.RayAddress = None,
    shard_size: opt.ShardSize = D.shard_size,
    dump: opt.Dump = False,
    root_dir: opt.RootDir = None,
    base_url: opt.BaseUrl = None,
    include_fragments: opt.IncludeFragments = False,
) -> None:
    """Check URLs from lists, documents, stdin and arguments; exit 0 if none failed, 1 if some did.

    An INPUT is a file of URLs (one a line), a Markdown/HTML document, a sitemap, a directory
    (searched for documents) or a glob; '-' for stdin; or an http(s) URL. `check` is the default
    command: `pcheck README.md docs/` is `pcheck check README.md docs/`.
    """
    from pcheck.run.session import Plan, Session

    try:
        o, config, sources = opt.prepare(ctx)
        plan = Plan(
            tuple(sources), fmt=o.format, output=o.output, host_stats=o.host_stats, progress=not o.no_progress,
            verbosity=o.verbosity, color=o.color,
            resume=o.resume, cache_path=o.cache_path if o.cache else None,
            max_cache_age_s=parse_duration(o.max_cache_age) if o.cache else 0.0,
            other_inputs=tuple(p for p in (o.config_path, o.ca_bundle) if p),
        )
        session = Session(config, plan)
        if o.dump:
            session.dump()
            raise typer.Exit(ExitCode.OK)
        ending = session.run()
    except PcheckError as exc:
        fail(exc)
    raise typer.Exit(ending_code(ending, config.fail_on_blocked))
