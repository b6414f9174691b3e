"""The one exception tree: faults of the run itself, never of a URL.

A URL that fails is a value (an `unchecked`, `broken` or `invalid` result),
never an exception. What is raised here stops a run, and `cli.app` maps
each class to its exit code in one place (`exit_code_for`).
"""

from __future__ import annotations

import errno


class PcheckError(Exception):
    """Base of every error pcheck raises to its caller."""


class ConfigError(PcheckError, ValueError):
    """An option or config-file value that cannot be used (exit 2)."""


class InputError(PcheckError):
    """An input that cannot be read at all, found before anything is checked (exit 2)."""


class StoreError(PcheckError, ValueError):
    """A cache or resumed report that cannot be used (exit 2)."""


class CacheError(StoreError):
    """The verdict cache cannot be opened, read or written."""


class ResumeError(StoreError):
    """The report named for --resume cannot be carried on."""


class ReportError(PcheckError):
    """The report cannot be written: a full disk, a closed stdout, a reader gone away (exit 3, or 141)."""

    def __init__(self, name: str, cause: OSError) -> None:
        super().__init__(f"cannot write the report to {name}: {cause.strerror or cause}")
        self.name = name
        self.cause = cause

    @property
    def broken_pipe(self) -> bool:
        return self.cause.errno == errno.EPIPE
