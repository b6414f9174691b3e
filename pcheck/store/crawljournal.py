"""A crawl's journal: each page fetched, its verdict and links, so that `--resume` goes on without fetching
a page twice.

It lives beside the jsonl report (`REPORT.pages`), one JSON line per page, written (and flushed) when the
page's verdict arrives, before any of its records: a crawl killed at any moment finds in it every page it
fetched, and a page whose record the report lacks is answered from it. A torn last line (a kill mid-write)
is cut; a journal that is not one (another program's file) is an error naming it, never read as pages.
It is removed when the crawl ends without interruption: it only ever serves a resumed crawl.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TextIO

from pcheck.errors import StoreError
from pcheck.models import ErrorKind, Outcome, Verdict

#: The first line of every journal: what the file is, so a stranger's file is never read as one.
_HEADER = {"pcheck_crawl_journal": 1}


@dataclass(frozen=True)
class JournaledPage:
    """A page the crawl fetched: its key, depth, verdict (without links) and links (None: none read)."""

    key: str
    depth: int
    verdict: Verdict
    #: The fields of its inputs/documents.PageLinks: (links, nofollow, base, anchors); None: no links read.
    links: tuple | None


def journal_path(report: str) -> str:
    return report + ".pages"


def read_journal(path: str) -> list[JournaledPage]:
    """The pages a journal holds, in the order they were fetched; [] when there is none."""
    try:
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StoreError(f"{path}: the crawl's journal cannot be read ({exc.strerror or exc})") from exc
    pages = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
            if number == 1:
                if entry != _HEADER:
                    raise ValueError("not a journal")
                continue
            v = entry["verdict"]
            verdict = Verdict(Outcome(v["outcome"]), v["status"], ErrorKind(v["error"]) if v["error"] else None,
                              v["final_url"], int(v["redirects"]), v["method"], int(v["attempts"]),
                              float(v["elapsed_ms"]), v["detail"])
            links = entry["links"]
            found = None if links is None else (
                tuple((str(a), int(b), None if c is None else int(c), bool(d)) for a, b, c, d in links["links"]),
                bool(links["nofollow"]), links["base"], frozenset(map(str, links["anchors"])))
            pages.append(JournaledPage(str(entry["key"]), int(entry["depth"]), verdict, found))
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines) or (number == len(lines) - 1 and not lines[-1]):
                break  # a torn last line: the kill came mid-write
            raise StoreError(f"{path}:{number}: not a pcheck crawl journal ({exc}); remove it to crawl afresh") from None
    return pages


class Journal:
    """The journal being written; every line is flushed before the page's records are."""

    def __init__(self, path: str, carry_on: bool = False) -> None:
        """`carry_on` (--resume): append to the journal there; else start one afresh (a journal left by an
        earlier crawl whose report this run writes anew would tell of pages this run has not fetched)."""
        self.path = path
        try:
            new = not carry_on or not os.path.exists(path) or os.path.getsize(path) == 0
            self._file: TextIO = open(path, "w" if new else "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
            if new:
                self._file.write(json.dumps(_HEADER) + "\n")
        except OSError as exc:
            raise StoreError(f"{path}: the crawl's journal cannot be written ({exc.strerror or exc})") from exc

    def add(self, key: str, depth: int, verdict: Verdict, links: tuple | None) -> None:
        v = verdict
        entry = {"key": key, "depth": depth,
                 "verdict": {"outcome": v.outcome.value, "status": v.status, "error": v.error.value if v.error else None,
                             "final_url": v.final_url, "redirects": v.redirects, "method": v.method,
                             "attempts": v.attempts, "elapsed_ms": v.elapsed_ms, "detail": v.detail},
                 "links": None if links is None else {"links": [list(link) for link in links.links],
                                                      "nofollow": links.nofollow, "base": links.base,
                                                      "anchors": sorted(links.anchors)}}
        try:
            self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._file.flush()
        except OSError as exc:
            raise StoreError(f"{self.path}: the crawl's journal cannot be written ({exc.strerror or exc})") from exc

    def close(self, finished: bool) -> None:
        """Close it; a crawl that `finished` needs it no more: it is removed."""
        self._file.close()
        if finished:
            try:
                os.unlink(self.path)
            except OSError:
                pass
