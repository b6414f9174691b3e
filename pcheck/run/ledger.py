"""Exactly one result per input occurrence: the bookkeeping every distributor shares.

An input item is either answered at once (invalid, excluded, cached, or a
duplicate of a URL already decided) or joins a task: one per unique URL,
carrying every occurrence that waits for its verdict. Resolving a task yields
a result for each occurrence. `held` counts the occurrences waiting, so a
distributor bounds its read-ahead in occurrences, not unique URLs: one slow
URL repeated a million times would otherwise hold a million of them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator

from pcheck.anchors import MAX_PAGE_ANCHORS, MAX_PAGE_BYTES, fragment_of, has_anchor
from pcheck.models import CheckResult, ErrorKind, Order, Outcome, Target, Verdict


class DoneIndex:
    """Verdicts of finished URLs, kept compact so a million-URL run stays small.

    Keys are 128-bit BLAKE2 digests rather than the URLs themselves (a collision
    is about as likely as 1e-21 in a billion-URL run), and the common verdict,
    answered without redirects, is stored once per kind: a duplicate occurrence
    then reports it with its own URL as final_url and 0 ms, since it cost nothing.
    """

    def __init__(self) -> None:
        self._verdicts: dict[int, Verdict] = {}
        self._shared: dict[tuple, Verdict] = {}

    @staticmethod
    def _digest(key: str) -> int:
        return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest(), "little")

    def add(self, key: str, verdict: Verdict) -> None:
        if verdict.final_url == key and verdict.detail is None and verdict.anchors is None:
            kind = (verdict.outcome, verdict.status, verdict.error, verdict.redirects, verdict.method, verdict.attempts)
            verdict = self._shared.get(kind) or self._shared.setdefault(kind, replace(verdict, final_url=None, elapsed_ms=0.0))
        self._verdicts[self._digest(key)] = verdict

    def get(self, key: str) -> Verdict | None:
        verdict = self._verdicts.get(self._digest(key))
        if verdict is not None and verdict.final_url is None:
            verdict = replace(verdict, final_url=key)
        return verdict

    def __len__(self) -> int:
        return len(self._verdicts)


@dataclass
class Task:
    key: str
    host: str
    occurrences: list[tuple[str, str | None, int | None, int | None, str | None, str | None]]  # url, source, line, column, link, checked_url
    crashes: int = 0
    #: Fetch the page and bring back its anchors: an occurrence names a #fragment (--include-fragments).
    anchors: bool = False
    #: `pcheck crawl`: fetch the page to follow it, and bring back its links (and anchors).
    page: bool = False

    @property
    def slot(self) -> str:
        """The ledger's key: a page fetched for its anchors, or to follow, is a task apart from a plain check of it."""
        return _paged(self.key) if self.page else _anchored(self.key) if self.anchors else self.key

    def order(self, task_id: int, again: bool = False, last: bool = False) -> Order:
        """What a worker gets. `again`: a try after a refusal or a re-check, straight to GET; `last`: the
        re-check, whose answer is the verdict."""
        return Order(task_id, self.key, self.host, self.anchors, "GET" if again else None, last, self.page)


class Ledger:
    """Tasks waiting for a verdict, and the verdicts already given (for later duplicates)."""

    def __init__(self, fragments: bool = False) -> None:
        #: --include-fragments: an http(s) link with a #fragment is judged against the page's anchors.
        self.fragments = fragments
        self.tasks: dict[int, Task] = {}
        self.by_key: dict[str, int] = {}
        self.done = DoneIndex()
        self._next_id = 0
        #: Occurrences waiting in tasks (at least len(tasks)): what a read-ahead bound counts.
        self.held = 0
        #: `pcheck crawl` (run/crawl.py): told of each page fetched to follow (its key and verdict, the links in
        #: `verdict.page`) before its occurrences' results, and of each one answered without a fetch.
        self.on_page: Callable[[str, Verdict], None] | None = None

    def new_round(self) -> None:
        """Forget old verdicts, so `pcheck watch` checks every URL again."""
        self.done = DoneIndex()

    def admit(self, item: Target | CheckResult) -> CheckResult | int | None:
        """A result to report now, the id of a new task to dispatch, or None (joined a waiting task)."""
        if isinstance(item, CheckResult):
            return item
        anchors = self.fragments and fragment_of(item.url) is not None
        # A plain occurrence may take a page's anchored verdict too; an anchored one needs the anchors. A page
        # fetched to follow it (a crawl) has both. A page to follow needs its links: only such a fetch has them.
        slots = (_anchored(item.key),) if anchors else (item.key, _anchored(item.key)) if self.fragments else (item.key,)
        if item.page:
            slots, anchors = (_paged(item.key),), True
        elif self.on_page is not None:
            slots += (_paged(item.key),)
        for slot in slots:
            done = self.done.get(slot)
            if done is not None:
                if item.page and self.on_page is not None:
                    self.on_page(item.key, done)
                return CheckResult.of(item.url, item.source, item.line, judged(done, item.url), item.key, item.host,
                                      item.column, item.link, item.checked_url)
        self.held += 1
        occurrence = (item.url, item.source, item.line, item.column, item.link, item.checked_url)
        for slot in slots:
            task_id = self.by_key.get(slot)
            if task_id is not None:
                self.tasks[task_id].occurrences.append(occurrence)
                return None
        task_id = self._next_id
        self._next_id += 1
        task = self.tasks[task_id] = Task(item.key, item.host, [occurrence], anchors=anchors, page=item.page)
        self.by_key[task.slot] = task_id
        return task_id

    def resolve(self, task_id: int, verdict: Verdict) -> Iterator[CheckResult]:
        task = self.tasks.pop(task_id)
        del self.by_key[task.slot]
        self.held -= len(task.occurrences)
        if task.page and self.on_page is not None:
            self.on_page(task.key, verdict)
        if verdict.page is not None:  # the links are the crawl's, told once; the page's verdict is kept without them
            verdict = replace(verdict, page=None)
        if verdict.outcome is not Outcome.UNCHECKED:
            self.done.add(task.slot, verdict)
        for url, source, line, column, link, checked_url in task.occurrences:
            shown = judged(verdict, url) if task.anchors else verdict
            yield CheckResult.of(url, source, line, shown, task.key, task.host, column, link, checked_url)

    def abandon(self, source: Iterable[Target | CheckResult], error: ErrorKind, detail: str) -> Iterator[CheckResult]:
        """Give every URL still without a verdict (waiting, or not yet read) an `unchecked` result."""
        verdict = Verdict(Outcome.UNCHECKED, error=error, detail=detail)
        for task_id in list(self.tasks):
            yield from self.resolve(task_id, verdict)
        for item in source:
            if not isinstance(item, (Target, CheckResult)):  # a live input's NOTHING_YET: it ends once tasks are done
                continue
            admitted = self.admit(item)
            if isinstance(admitted, CheckResult):
                yield admitted
            elif admitted is not None:
                yield from self.resolve(admitted, verdict)


def judged(verdict: Verdict, url: str) -> Verdict:
    """One occurrence's verdict: its page's, unless the page lacks the #fragment it names (`broken`)."""
    page = verdict.anchors
    fragment = fragment_of(url) if page is not None else None
    if fragment is None or page is None or verdict.outcome is not Outcome.ALIVE or has_anchor(page.ids, fragment):
        return verdict
    if not page.complete:
        read = page.cut or f"the first {MAX_PAGE_BYTES >> 20} MiB, {MAX_PAGE_ANCHORS:,} anchors at most"
        return replace(verdict, detail=f"#{fragment} not among the anchors read ({read}): not judged")
    return replace(verdict, outcome=Outcome.BROKEN, error=ErrorKind.MISSING_FRAGMENT, detail=f"no #{fragment} in the page")


def _anchored(key: str) -> str:
    # No URL key starts with "#": this one cannot be mistaken for a plain check of any URL.
    return "#" + key


def _paged(key: str) -> str:
    # Nor with "@".
    return "@" + key


def remember_page(ledger: Ledger, key: str, verdict: Verdict) -> None:
    """A page a resumed crawl fetched before (store/crawljournal): its verdict answers every occurrence, no fetch."""
    ledger.done.add(_paged(key), verdict)
