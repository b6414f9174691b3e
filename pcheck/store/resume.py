"""--resume: carry on with a jsonl report that a killed or interrupted run left behind.

The report is append-only, one record per line, flushed per record, so a
SIGKILL can only ever leave a torn last line. The whole file is read and
checked first: only if every complete line is a record is anything changed
(the torn line cut, records appended); anything else is left byte for byte.
The report is held under an exclusive OS lock (flock) from the moment it is
read until the run closes it, so a second run resuming it stops at once.

An occurrence (url, source, line) is counted as often as it has a final
record: the same URL twice on one Markdown line is two occurrences with one
key, and each needs its own record. `unchecked` ones (cancelled, worker
crashed) are checked again and get a new record.

While a report is being resumed, the last record for an occurrence wins: an
`unchecked` record stays in the file until its occurrence's new record is
written. A resumed run that ends (not interrupted) then rewrites the report
without them (`compact`: a copy and an atomic rename), so a finished audit
holds one record per occurrence, as a run that was never interrupted does.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
from typing import BinaryIO, Iterable, Iterator, TextIO

from pcheck.config import REPORT_ERRORS
from pcheck.errors import ResumeError
from pcheck.models import (
    ARGS_SOURCE,
    RECORD_FIELDS,
    STDIN,
    CheckResult,
    Outcome,
    Target,
    redact_userinfo,
)

#: Longest line a record can take: two URLs of MAX_URL_LENGTH, escaped at worst 6 bytes a
#: character, plus a source path and a detail. A longer line is not a record, and is never read whole.
MAX_RECORD_BYTES = 1 << 20
#: Private: a report holds every URL checked, some of them internal (also the cache's mode).
PRIVATE_MODE = 0o600
#: How every record line begins (json.dumps of CheckResult.to_record): what a torn last line must look like.
_RECORD_START = json.dumps({RECORD_FIELDS[0]: None})[:-len("null}")].encode()
#: The fields resume reads; a line without them is not a record.
_NEEDED = ("url", "outcome", "source", "line")
#: Distinct sources whose canonical path is remembered; more are resolved again (a syscall each).
_SOURCE_MEMO = 4096
# Sources that are not paths and are kept as written.
_NOT_PATHS = (STDIN, ARGS_SOURCE)


def create_private(path: str) -> bool:
    """Create `path` empty with mode 0600 unless it exists; True if it was created.

    For reports opened afterwards with open(path, "w"): an existing file keeps its mode.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


class ResumeState:
    """The occurrences that already have a final record in the report, and the lock on it.

    Use as a context manager, or call close(): the lock lasts until then (or
    until the process dies, which the OS also takes as a release).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        #: Final records per occurrence key: a multiset, so repeated occurrences each keep one.
        self.finished: collections.Counter[bytes] = collections.Counter()
        #: Outcomes of the final records already in the report, so the exit code covers the whole audit.
        self.counts: collections.Counter[Outcome] = collections.Counter()
        self.repaired_bytes = 0
        self._sources: dict[str | None, str | None] = {}
        #: The `unchecked` records in the report: where each line starts and ends, and its key.
        self._unchecked: list[tuple[int, int, bytes]] = []
        #: Their keys, and those of them this run's input holds: every occurrence of such a key ends
        #: the run with a record of its own (a final one already here, or a new one), so `compact` drops them.
        self._unchecked_keys: set[bytes] = set()
        self._superseded: set[bytes] = set()
        self._fd = self._open_locked()
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    def _open_locked(self) -> int:
        """Open (creating it 0600 if new) and lock the report; another run holding it is an error."""
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, PRIVATE_MODE)
        except IsADirectoryError:
            raise ResumeError(f"{self.path}: a directory, not a jsonl report") from None
        if not _is_regular(fd):
            os.close(fd)
            raise ResumeError(f"{self.path}: not a regular file, so not a jsonl report")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise ResumeError(f"{self.path}: another pcheck run is resuming this report; "
                                  "wait for it to finish (two runs would record every URL twice)") from None
            raise
        return fd

    def _load(self) -> None:
        """Read every record; cut a torn last line only once the rest proved to be a report."""
        number = 0
        good_end = 0
        with os.fdopen(os.dup(self._fd), "rb") as f:
            f.seek(0)
            while True:
                start = f.tell()
                raw = f.readline(MAX_RECORD_BYTES + 1)
                if not raw:
                    break
                number += 1
                if not raw.endswith(b"\n"):
                    if len(raw) > MAX_RECORD_BYTES:
                        raise ResumeError(f"{self.path}:{number}: not a pcheck jsonl report "
                                          f"(a line longer than {MAX_RECORD_BYTES} bytes); left as it was")
                    if not _looks_like_record_start(raw):
                        raise ResumeError(f"{self.path}:{number}: not a pcheck jsonl record (no final newline, "
                                          "and not a record cut short); left as it was")
                    break  # a torn last record: a run was killed while writing it
                key = self._add(raw, number)
                good_end = f.tell()
                if key is not None:
                    self._unchecked.append((start, good_end, key))
                    self._unchecked_keys.add(key)
            data_end = f.seek(0, os.SEEK_END)
        if good_end != data_end:
            os.ftruncate(self._fd, good_end)
            self.repaired_bytes = data_end - good_end

    def _add(self, raw: bytes, number: int) -> bytes | None:
        """Count one record; its key when it is `unchecked` (to be checked again), else None."""
        try:
            record = json.loads(raw)
            if not isinstance(record, dict) or not all(name in record for name in _NEEDED):
                raise ValueError(f"not an object with {', '.join(_NEEDED)}")
            outcome = Outcome(record["outcome"])
            key = self.occurrence(record["url"], record["source"], record["line"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ResumeError(f"{self.path}:{number}: not a pcheck jsonl record ({exc}); left as it was") from None
        if outcome is Outcome.UNCHECKED:
            return key
        self.finished[key] += 1
        self.counts[outcome] += 1
        return None

    def occurrence(self, url: str, source: str | None, line: int | None) -> bytes:
        """The key of one occurrence: the URL as the report shows it, its source's canonical path, its line.

        The URL is redacted as in every record, so a report matches its own
        input; the source is resolved, so `urls.txt`, `./urls.txt`, an absolute
        path or a symlink to it all name the same input.
        """
        if not isinstance(url, str) or not (source is None or isinstance(source, str)):
            raise TypeError("url and source must be strings")
        if line is not None and (not isinstance(line, int) or isinstance(line, bool)):
            raise TypeError("line must be an integer")
        text = json.dumps([redact_userinfo(url), self._canonical(source), line])
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def _canonical(self, source: str | None) -> str | None:
        if source is None or source in _NOT_PATHS:
            return source
        known = self._sources.get(source)
        if known is None:
            if len(self._sources) >= _SOURCE_MEMO:
                self._sources.clear()
            # A regular file by its real path; a pipe (/dev/fd/63) or a vanished file by its spelling.
            known = os.path.realpath(source) if os.path.isfile(source) else os.path.abspath(source)
            self._sources[source] = known
        return known

    def skip_finished(self, items: Iterable[Target | CheckResult]) -> Iterator[Target | CheckResult]:
        """The items that still need a record; the rest already have one in the report (one each)."""
        if not self.finished and not self._unchecked_keys:
            yield from items
            return
        for item in items:
            key = self.occurrence(item.url, item.source, item.line)
            if key in self._unchecked_keys:
                self._superseded.add(key)
            if self.finished[key] > 0:
                self.finished[key] -= 1
                if not self.finished[key]:
                    del self.finished[key]
                continue
            yield item

    def compact(self) -> int:
        """Rewrite the report without the `unchecked` records of occurrences this run held; how many went.

        Call once the run's records are all written (and only then: an interrupted run keeps them,
        the last record for an occurrence winning). The copy is written beside the report, synced and
        renamed over it, so a failure leaves the report as it was; OSError says why.
        """
        dropped = [(start, end) for start, end, key in self._unchecked if key in self._superseded]
        if not dropped:
            return 0
        folder = os.path.dirname(os.path.abspath(self.path))
        temporary = os.path.join(folder, f".{os.path.basename(self.path)}.compact-{os.getpid()}")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_MODE)
            with os.fdopen(fd, "wb") as out, os.fdopen(os.dup(self._fd), "rb") as report:
                os.fchmod(out.fileno(), stat.S_IMODE(os.fstat(report.fileno()).st_mode))
                at = 0
                for start, end in [*dropped, (None, None)]:
                    report.seek(at)
                    _copy(report, out, None if start is None else start - at)
                    at = end if end is not None else at
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return len(dropped)

    def open_for_append(self) -> TextIO:
        """The report as a text stream appending after its last record, under the lock this state holds."""
        if self._fd < 0:
            raise ValueError(f"{self.path}: the resume state is closed")
        return os.fdopen(os.dup(self._fd), "a", encoding="utf-8", newline="", errors=REPORT_ERRORS)

    def close(self) -> None:
        """Let go of the report: the lock ends once this and every stream from open_for_append are closed."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __enter__(self) -> ResumeState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _copy(source: BinaryIO, target: BinaryIO, size: int | None) -> None:
    """`size` bytes (None: all that is left) from `source` to `target`, a MiB at a time."""
    while size is None or size > 0:
        chunk = source.read(1 << 20 if size is None else min(size, 1 << 20))
        if not chunk:
            return
        target.write(chunk)
        if size is not None:
            size -= len(chunk)


def _is_regular(fd: int) -> bool:
    return stat.S_ISREG(os.fstat(fd).st_mode)


def _looks_like_record_start(tail: bytes) -> bool:
    """A torn record begins as every record does, or is a prefix of that beginning."""
    return tail.startswith(_RECORD_START) or _RECORD_START.startswith(tail)
