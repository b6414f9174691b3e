"""`pcheck fix`: links that moved for good rewritten in place; a diff by default (exit 1 if any), `--write` writes."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import typer

from pcheck.cli import options as opt
from pcheck.cli.declare import FIX, command
from pcheck.cli.exits import ExitCode, fail, signal_code
from pcheck.cli.prepare import prepare
from pcheck.config import parse_duration
from pcheck.errors import PcheckError
from pcheck.output.reasons import where

if TYPE_CHECKING:
    from pcheck.run.fixing import Found


def run_fix(ctx: typer.Context, **values: Any) -> None:
    """Rewrite links that answered a permanent redirect (301, 308) to the page they ended at.

    An INPUT is a Markdown/HTML document, a directory (searched for documents) or a glob. Only the link's
    target changes, byte for byte; links in code are never touched; a #fragment written on the link is kept.
    Prints a unified diff and exits 1 when something would change, 0 when nothing does; --write applies it.
    """
    from pcheck.fix import files
    from pcheck.output.stream import STDOUT_NAME, escaping_stdout, writing
    from pcheck.run import signals
    from pcheck.run.archiving import Archivist
    from pcheck.run.fixing import find_rewrites
    from pcheck.run.session import check_sources

    archivist = None
    try:
        o, config, sources = prepare(ctx, values)
        config = dataclasses.replace(config, redirects="warn")  # a redirected link's detail says if it is permanent
        archivist = Archivist(config, o.archive_api) if o.archive else None
        results = check_sources(config, sources, progress=not o.no_progress,
                                cache_path=o.cache_path if o.cache else None,
                                max_cache_age_s=parse_duration(o.max_cache_age, "--max-cache-age") if o.cache else 0.0)
        found = find_rewrites(results, sources, o.temporary, config.base_url, archivist)
    except PcheckError as exc:
        fail(exc)
    except KeyboardInterrupt:
        raise typer.Exit(signal_code()) from None
    finally:
        if archivist is not None:
            archivist.close()
    if signals.received.first is not None:
        typer.echo("pcheck: fix interrupted: no file written", err=True)
        raise typer.Exit(signal_code())
    for kept in found.kept:
        typer.echo(f"pcheck: {where(kept.source, kept.line, kept.column)}: {kept.link}: left as written: {kept.why}",
                   err=True)
    links = sum(len(r.edits) for r in found.rewrites)
    if not o.write:
        try:
            out = escaping_stdout()
            with writing(out, STDOUT_NAME):
                for rewrite in found.rewrites:
                    out.write(rewrite.diff)
                out.flush()
        except PcheckError as exc:
            fail(exc)
        typer.echo(f"pcheck: {_counts(found, links, 'to rewrite')}", err=True)
        raise typer.Exit(ExitCode.FAILED if found.rewrites else ExitCode.OK)
    refused = []
    for rewrite in found.rewrites:
        try:
            files.replace_file(rewrite.name, rewrite.after, rewrite.before)
        except PcheckError as exc:
            typer.echo(f"pcheck: error: {exc}", err=True)
            refused.append(rewrite.name)
            continue
        typer.echo(f"pcheck: rewrote {rewrite.name} ({len(rewrite.edits)} link{'s' * (len(rewrite.edits) != 1)})",
                   err=True)
    typer.echo(f"pcheck: {_counts(found, links, 'rewritten')}" + (f"; {len(refused)} not written" if refused else ""),
               err=True)
    raise typer.Exit(ExitCode.USAGE if refused else ExitCode.OK)


def _counts(found: Found, links: int, done: str) -> str:
    """`3 links rewritten in 2 files, 1 of them to an archived copy (40 links checked, 2 left as written)`."""
    archived = f", {found.archived} of them to archived copies" if found.archived else ""
    kept = f", {len(found.kept)} left as written" if found.kept else ""
    files = len(found.rewrites)
    return (f"{links} link{'s' * (links != 1)} {done} in {files} file{'s' * (files != 1)}{archived} "
            f"({found.checked} links checked{kept})")


#: The command typer sees: `run_fix` with a parameter for every option declared for fix (cli.options).
fix = command(opt.Options, FIX, run_fix, opt.leading_parameters())
