"""`--archive`: each dead link's archived copy from before it started failing, asked of the availability API
(fix/archive.py says what is asked and what an answer allows) and checked before it is offered.

  a dead link --> when it last worked: --cache's failing_since, else its line's git commit, else today
             --> the API's closest snapshot (status 200, not later) --> that snapshot checked alive --> `Archived`

The API and the snapshots are third parties the user did not list: they get none of the run's credentials
(--header, cookies, --basic-auth, the GitHub token), and each question is asked once per run. The questions
run a few at a time (`ARCHIVE_WORKERS`), the archive's own limit on how fast it is asked being unknown.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from pcheck.check.fetch import fetch_body
from pcheck.config import CheckConfig
from pcheck.errors import PcheckError
from pcheck.fix.archive import MAX_ANSWER_BYTES, Snapshot, day, is_dead, question, read_answer, stamp
from pcheck.fix.blame import line_dates
from pcheck.models import CheckResult, Outcome, Verdict
from pcheck.urls import normalise

if TYPE_CHECKING:
    from pcheck.check.transport import Transport

ARCHIVE_WORKERS = 4


@dataclass(frozen=True)
class Archived:
    """What the archive offers a dead link: its `snapshot`, or None and `why` not; `asked`: the time asked
    for, in words, and where it comes from ("2025-01-02 (when it started failing, per --cache)", "today")."""

    snapshot: Snapshot | None
    why: str
    asked: str


class Archivist:
    """Asks the archive for dead links' copies, once per (URL, time asked) and per snapshot; thread-safe."""

    def __init__(self, config: CheckConfig, api: str, now: Callable[[], float] = time.time) -> None:
        # The third parties get no secret of the run's: a stranger's host is no host the user listed.
        self.config = dataclasses.replace(config, headers=(), hosts=(), cookies=(), basic_auth=(), github_token=None,
                                          redirects="allow", require_https=False)
        self.api = api
        self.now = now
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str], Future[Snapshot | str]] = {}
        self._alive: dict[str, Future[str | None]] = {}
        self._dates: dict[str, dict[int, float]] = {}
        self._transport: Transport | None = None

    def copy_of(self, result: CheckResult) -> Archived:
        """The archived copy of a dead link (fix/archive.is_dead), or why there is none."""
        when, asked = self.when(result)
        answer = self._once(self._answers, (result.url, stamp(when)),
                            lambda: self._ask(result.url, when))
        if isinstance(answer, str):
            return Archived(None, answer, asked)
        refused = self._once(self._alive, answer.url, lambda: self._dead_copy(answer.url))
        return Archived(None, refused, asked) if refused else Archived(answer, "", asked)

    def when(self, result: CheckResult) -> tuple[float, str]:
        """The time the link last worked, as far as pcheck knows, and where that comes from."""
        if result.failing_since is not None:
            return result.failing_since, f"{day(result.failing_since)} (when it started failing, per --cache)"
        if result.source and result.line is not None and os.path.isfile(result.source):
            with self._lock:
                dates = self._dates.get(result.source)
            if dates is None:
                dates = line_dates(result.source)
                with self._lock:
                    self._dates[result.source] = dates
            if result.line in dates:
                return dates[result.line], f"{day(dates[result.line])} (its line's last commit, per git)"
        now = self.now()
        return now, "today"

    def _once(self, memo: dict, key: object, ask: Callable[[], object]):  # type: ignore[no-untyped-def]
        """`ask()`'s answer, asked once for `key` whatever the threads asking."""
        with self._lock:
            future = memo.get(key)
            mine = future is None
            if mine:
                future = memo[key] = Future()
        if mine:
            try:
                future.set_result(ask())
            except BaseException as exc:
                future.set_exception(exc)
        return future.result()

    def _ask(self, url: str, when: float) -> Snapshot | str:
        body = fetch_body(self.config, question(self.api, url, when), MAX_ANSWER_BYTES)
        if isinstance(body, Verdict):
            return f"the archive could not be asked ({_said(body)})"
        return read_answer(body, when)

    def _dead_copy(self, url: str) -> str | None:
        """None when the snapshot answers alive; else why it is not offered."""
        try:
            key, host = normalise(url)
        except (PcheckError, ValueError):
            return f"the archive's copy {url} is not a URL pcheck can check"
        # Imported here: a run that asks the archive nothing never loads requests for it.
        from pcheck.check.checker import Checker
        from pcheck.check.transport import make_transport

        with self._lock:
            if self._transport is None:
                self._transport = make_transport(self.config, per_host=ARCHIVE_WORKERS, pool_hosts=2)
            transport = self._transport
        verdict = Checker(self.config, transport).check(key, host)
        return None if verdict.outcome is Outcome.ALIVE else f"the archive's copy {url} did not answer ({_said(verdict)})"

    def suggesting(self, results: Iterable[CheckResult], ahead: int = 64) -> Iterator[CheckResult]:
        """`check --suggest --archive`: the results, each dead one with its archived copy said in its suggestion
        (`archived copy: URL`). Dead links are looked up `ARCHIVE_WORKERS` at a time, at most `ahead` waiting;
        the others pass at once, so a dead link's record may come after later ones."""
        waiting: list[tuple[CheckResult, Future[Archived]]] = []
        with ThreadPoolExecutor(ARCHIVE_WORKERS, thread_name_prefix="pcheck-archive") as pool:
            try:
                for result in results:
                    if result.suggestion is None and wants_copy(result):
                        waiting.append((result, pool.submit(self.copy_of, result)))
                    else:
                        yield result
                    while waiting and (waiting[0][1].done() or len(waiting) > ahead):
                        yield _suggested(*waiting.pop(0))
                while waiting:
                    yield _suggested(*waiting.pop(0))
            finally:
                for _, future in waiting:
                    future.cancel()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _said(verdict: Verdict) -> str:
    if verdict.status:
        return f"HTTP {verdict.status}"
    return f"{verdict.error or verdict.outcome.value}: {verdict.detail}" if verdict.detail else str(verdict.error)


def copies_of(archivist: Archivist, dead: list[CheckResult]) -> list[Archived]:
    """Each dead link's `Archived`, `ARCHIVE_WORKERS` asked at a time. Ctrl-C drops the questions not yet
    asked, and waits only for those under way (each bounded by --timeout)."""
    pool = ThreadPoolExecutor(ARCHIVE_WORKERS, thread_name_prefix="pcheck-archive")
    try:
        return list(pool.map(archivist.copy_of, dead))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def wants_copy(result: CheckResult) -> bool:
    """Whether the archive is asked for a link: a dead one written as an absolute http(s) URL (a relative
    one names a page of the user's own site, to be fixed there)."""
    return is_dead(result) and result.link is None and result.url.lower().startswith(("http://", "https://"))


def _suggested(result: CheckResult, future: Future[Archived]) -> CheckResult:
    copy = future.result()
    if copy.snapshot is None:
        return result
    return dataclasses.replace(result, suggestion=f"archived copy: {copy.snapshot.url}")
