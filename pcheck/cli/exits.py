"""Exit codes, and the one place where errors and endings become them (docs/ARCHITECTURE.md has the contract)."""

from __future__ import annotations

import enum
import os
from typing import TYPE_CHECKING, NoReturn

import typer

from pcheck.errors import PcheckError, ReportError
from pcheck.models import redact_text
from pcheck.run import signals

if TYPE_CHECKING:
    from pcheck.run.session import Ending


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1  # a broken, invalid or unchecked URL (blocked too with --fail-on-blocked)
    USAGE = 2  # a bad option or an unreadable input; nothing was checked
    WRITE_FAILED = 3  # the report could not be written (disk full, stdout closed)
    HANGUP = 129  # SIGHUP (a closed terminal); the partial report was still written
    INTERRUPTED = 130  # Ctrl-C; the partial report was still written
    BROKEN_PIPE = 141  # the reader of stdout went away (`| head`): quiet, as a SIGPIPE death
    TERMINATED = 143  # SIGTERM (CI cancel, timeout, docker stop); the partial report was still written


def exit_code_for(error: PcheckError) -> ExitCode:
    """A report that cannot be written is 3 (141 when stdout's reader left); any other error is a usage error."""
    if isinstance(error, ReportError):
        return ExitCode.BROKEN_PIPE if error.broken_pipe else ExitCode.WRITE_FAILED
    return ExitCode.USAGE


def ending_code(ending: Ending, fail_on_blocked: bool) -> ExitCode:
    """128 + the ending signal, 130 for an interrupt, else 1 if a URL failed, else 0."""
    if ending.signal is not None:
        return ExitCode(128 + ending.signal)
    if ending.interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.FAILED if ending.failed(fail_on_blocked) else ExitCode.OK


def signal_code() -> ExitCode:
    """The exit code of the ending signal received (Ctrl-C's if none was recorded)."""
    return ExitCode(signals.received.exit_status())


def fail(error: PcheckError, context: str = "") -> NoReturn:
    """One line on stderr, then exit with the error's code; a reader of stdout gone away ends quietly."""
    code = exit_code_for(error)
    if code is ExitCode.BROKEN_PIPE:
        # Point stdout at /dev/null: the interpreter's own flush at exit would fail again, loudly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
        finally:
            os.close(devnull)
        raise typer.Exit(code)
    typer.echo(redact_text(f"pcheck: error: {error}{context}"), err=True)
    raise typer.Exit(code)
