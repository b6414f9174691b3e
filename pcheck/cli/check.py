"""`pcheck check`: options -> Config and Plan -> run.session -> exit code."""

from __future__ import annotations

import dataclasses
from typing import Any

import typer

from pcheck.cli import options as opt
from pcheck.cli.declare import CHECK, command
from pcheck.cli.exits import ending_code, fail
from pcheck.cli.prepare import ignore_files, prepare
from pcheck.config import parse_duration
from pcheck.errors import PcheckError


def run_check(ctx: typer.Context, **values: Any) -> None:
    """Check URLs from lists, documents, stdin and arguments; exit 0 if none failed, 1 if some did.

    An INPUT is a file of URLs (one a line), a Markdown/HTML document, a sitemap, a directory
    (searched for documents) or a glob; '-' for stdin; or an http(s) URL. `check` is the default
    command: `pcheck README.md docs/` is `pcheck check README.md docs/`.
    """
    from pcheck.run.archiving import Archivist
    from pcheck.run.session import Plan, Session
    from pcheck.run.soft404 import Soft404Judge

    archivist = soft404 = None
    try:
        o, config, sources = prepare(ctx, values)
        suggest = o.suggest or o.archive  # --archive says each dead link's archived copy as its suggestion
        if suggest and config.redirects == "allow":  # a redirected link's detail says if it moved for good
            config = dataclasses.replace(config, redirects="warn")
        archivist = Archivist(config, o.archive_api) if o.archive else None
        soft404 = Soft404Judge(config) if o.soft_404 else None
        plan = Plan(
            tuple(sources), fmt=o.format, output=o.output, host_stats=o.host_stats, progress=not o.no_progress,
            verbosity=o.verbosity, color=o.color,
            resume=o.resume, cache_path=o.cache_path if o.cache else None,
            max_cache_age_s=parse_duration(o.max_cache_age, "--max-cache-age") if o.cache else 0.0,
            suggest=suggest, archivist=archivist, soft404=soft404, other_inputs=tuple(p for p in (o.config_path, o.ca_bundle, o.render_from, o.files_from, o.cookie_jar,
                                           *ignore_files(config)) if p and p != "-"),
        )
        session = Session(config, plan)
        if o.dump:
            from pcheck.output.dump import problem_line

            ending = session.dump(lambda problem: typer.echo(f"pcheck: {problem_line(problem)}", err=True))
            raise typer.Exit(ending_code(ending, config.fail_on_blocked))
        if o.render_from is not None:
            from pcheck.output.render import read_records

            raise typer.Exit(ending_code(session.render(read_records(o.render_from), o.render_elapsed),
                                         config.fail_on_blocked))
        ending = session.run()
    except PcheckError as exc:
        fail(exc)
    finally:
        for helper in (archivist, soft404):
            if helper is not None:
                helper.close()
    raise typer.Exit(ending_code(ending, config.fail_on_blocked))


#: The command typer sees: `run_check` with a parameter for every option declared for check (cli.options).
check = command(opt.Options, CHECK, run_check, opt.leading_parameters())
