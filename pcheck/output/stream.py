"""Where the report goes: opening it before anything is checked, closing it whole after any ending.

A report that cannot be written stops the run (nobody would read it), as a
`ReportError` the CLI turns into exit 3; a reader of stdout that went away
(`| head`) is the same error with EPIPE, which the CLI ends quietly.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterable, Iterator, TextIO

from pcheck.config import REPORT_ERRORS
from pcheck.errors import ConfigError, ReportError

if TYPE_CHECKING:
    from pcheck.store.resume import ResumeState

STDOUT_NAME = "<stdout>"

#: errno values that mean "the report cannot be written", as opposed to an input fault.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF, errno.EPIPE, errno.EROFS})


def open_report(output: str | None, resume: ResumeState | None = None) -> TextIO:
    """The report's stream; ReportError if it cannot be opened, before anything is checked."""
    if not output:
        if sys.stdout is None:  # started with stdout closed (`>&-`)
            raise ReportError(STDOUT_NAME, OSError(errno.EBADF, "stdout is closed; name a report file with -o"))
        return escaping_stdout()
    try:
        if resume is not None:
            return resume.open_for_append()  # under the lock that keeps a second run out
        return open(output, "w", encoding="utf-8", newline="", errors=REPORT_ERRORS)
    except OSError as exc:
        raise ReportError(output, exc) from exc


def escaping_stdout() -> TextIO:
    """stdout, set to show characters it cannot encode as escapes (PYTHONIOENCODING=ascii, a legacy
    code page) rather than end the report in a traceback."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors=REPORT_ERRORS)
    return sys.stdout


@contextmanager
def writing(stream: TextIO, name: str) -> Iterator[None]:
    """Raise a failure to write the report as ReportError; any other OSError passes as itself
    (an input file that vanished is not the report's fault)."""
    try:
        yield
    except OSError as exc:
        if exc.errno in WRITE_ERRNOS or bool(getattr(stream, "closed", False)):
            raise ReportError(name, exc) from exc
        raise


def refuse_output_over_inputs(output: str | None, input_paths: Iterable[str], reads_stdin: bool) -> None:
    """-o must not name a file pcheck reads: opening it for writing would empty the input first."""
    if not output:
        return
    try:
        target = os.stat(output)
    except OSError:
        return  # not there yet: nothing to destroy
    if not stat.S_ISREG(target.st_mode):
        return  # /dev/stdout, a pipe: writing to it destroys nothing
    for path in input_paths:
        try:
            same = os.path.samestat(target, os.stat(path))
        except OSError:
            continue
        if same:
            raise ConfigError(f"-o {output} is also an input ({path}); write the report to another file")
    if reads_stdin:
        try:
            same = os.path.samestat(target, os.fstat(0))
        except OSError:
            same = False
        if same:
            raise ConfigError(f"-o {output} is also the standard input; write the report to another file")
