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
from typing import Iterable, Iterator, Protocol, TextIO

from pcheck.config import REPORT_ERRORS
from pcheck.errors import ConfigError, ReportError

STDOUT_NAME = "<stdout>"
#: GitHub Actions names a file every step appends its job summary to: -o naming it appends too.
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"

#: errno values that mean "the report cannot be written", as opposed to an input fault.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF, errno.EPIPE, errno.EROFS})


class Resumed(Protocol):
    """A report carried on (`store.resume.ResumeState`, which output/ may not import): it opens itself."""

    def open_for_append(self) -> TextIO: ...


def open_report(output: str | None, resume: Resumed | None = None) -> TextIO:
    """The report's stream; ReportError if it cannot be opened, before anything is checked.

    -o truncates its file, except the one `$GITHUB_STEP_SUMMARY` names: that one is appended to,
    as GitHub asks of every step (the report starts on a line of its own).
    """
    if not output:
        if sys.stdout is None:  # started with stdout closed (`>&-`)
            raise ReportError(STDOUT_NAME, OSError(errno.EBADF, "stdout is closed; name a report file with -o"))
        return escaping_stdout()
    try:
        if resume is not None:
            return resume.open_for_append()  # under the lock that keeps a second run out
        if is_step_summary(output):
            return _open_appending(output)
        return open(output, "w", encoding="utf-8", newline="", errors=REPORT_ERRORS)
    except OSError as exc:
        raise ReportError(output, exc) from exc


def is_step_summary(output: str) -> bool:
    """Whether `output` is the file $GITHUB_STEP_SUMMARY names: the same file when both exist
    (any spelling, a link), else the same absolute path."""
    summary = os.environ.get(STEP_SUMMARY_ENV)
    if not summary:
        return False
    try:
        return os.path.samefile(output, summary)
    except OSError:
        return os.path.abspath(output) == os.path.abspath(summary)


def _open_appending(output: str) -> TextIO:
    """`output` opened at its end, after a line end if what is there does not finish with one."""
    stream = open(output, "a", encoding="utf-8", newline="", errors=REPORT_ERRORS)
    try:
        info = os.fstat(stream.fileno())
        if stat.S_ISREG(info.st_mode) and info.st_size > 0:
            with open(output, "rb") as existing:
                existing.seek(-1, os.SEEK_END)
                if existing.read(1) not in (b"\n", b"\r"):
                    stream.write("\n")
    except OSError:
        stream.close()
        raise
    return stream


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
