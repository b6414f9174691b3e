"""--cache: alive verdicts kept in SQLite across runs, so a re-run checks only what it must;
and each failing link's recent history, for --fail-after.

Only `alive` verdicts are stored and served: an error or a broken link may be
transient and must be checked again (lychee learned this: lychee#1400). The
key covers the URL and every option that can change a verdict, so a run with
other accept codes or headers never sees another run's answers. WAL mode and
a busy timeout let several pcheck runs share one cache file.

The file is created private (0600; SQLite gives its -wal and -shm files the
same mode) and holds no URL secret: keys are hashes, and the URLs kept for
people to read are redacted. A cache that cannot be opened, read or written
at the start is a usage error (CacheError); one that fails mid-run is
dropped with one warning, and the run goes on uncached: a cache may only
ever save work, never cost a record.

History (the `history` table, same salted keys): a run is one VerdictCache,
named by a run id kept in `last_run`. A link `broken` in a run continues its
streak (failed_runs + 1, first_failed kept) or starts one (1, now), counted
once per run however often the link occurs; a link checked `alive` ends it
(its row is deleted). Served from the cache, blocked, excluded, invalid and
unchecked results leave it as it was. Broken results go on carrying
`failed_runs` and `failing_since`. Since only alive verdicts are served,
a broken link is checked, and its history moves, on every run.

The file is input from a stranger: SQLite keeps any type in any column, and
another program (or a hand) may have written it. A table whose columns are
not pcheck's is a CacheError; a row whose values are not what pcheck writes
(a text `failed_runs`, a `checked_at` of 1e300, NULLs, a blob, a streak near
2**63) is ignored, said once per run: its link is checked again, or its
streak starts over, as if the row were not there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import re
import sqlite3
import time
from typing import Iterable, Iterator

from dataclasses import replace

from pcheck.anchors import fragment_of
from pcheck.config import DEFAULT_MAX_CACHE_AGE, MAX_STATUS, MIN_STATUS, Config, parse_duration
from pcheck.errors import CacheError
from pcheck.models import CheckResult, Outcome, Target, Verdict, redact_userinfo

_FLUSH_EVERY = 500
_BUSY_TIMEOUT_S = 30.0
#: The cache holds URLs (some internal ones): private to its owner, like the folder made for it.
_FILE_MODE = 0o600
_FOLDER_MODE = 0o700

log = logging.getLogger("pcheck")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    checked_at REAL NOT NULL,
    status INTEGER,
    final_url TEXT,
    redirects INTEGER NOT NULL,
    method TEXT,
    attempts INTEGER NOT NULL
)
"""
#: Added after the verdicts: created (IF NOT EXISTS) in a cache file an earlier pcheck made.
_HISTORY_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    key TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    first_failed REAL NOT NULL,
    failed_runs INTEGER NOT NULL,
    last_run TEXT NOT NULL,
    last_failed REAL NOT NULL
)
"""
_TABLES = {"verdicts", "history"}
_COLUMNS = {"verdicts": ("key", "url", "checked_at", "status", "final_url", "redirects", "method", "attempts"),
            "history": ("key", "url", "first_failed", "failed_runs", "last_run", "last_failed")}
#: A row's time may be this far ahead of this machine's clock (another machine's, shared through CI's cache).
_CLOCK_SLACK_S = 86400.0
#: The longest streak kept: a run a minute for 4,000 years; a larger one is no count pcheck made.
_MAX_RUNS = 2**31
_MAX_ATTEMPTS = 10_000
_HTTP_URL = re.compile(r"(?i)https?://[^\x00-\x20\x7f]+\Z")


class VerdictCache:
    """Alive verdicts by URL and options; `db` is None once a mid-run failure has switched it off."""

    def __init__(self, path: str, config: Config, max_age_s: float | None = None) -> None:
        self.path = path
        self.config = config
        #: Rows ignored as not what pcheck writes (said once, at the first).
        self.bad_rows = 0
        folder = os.path.dirname(path)
        try:
            if folder:
                os.makedirs(folder, mode=_FOLDER_MODE, exist_ok=True)
            _create_private(path)
            self.db: sqlite3.Connection | None = _open(path)
        except (sqlite3.Error, OSError) as exc:
            raise CacheError(f"--cache-path {path}: cannot use it as a cache ({_reason(exc)}); "
                             "repair or remove it, or name another file") from None
        self.max_age_s = parse_duration(DEFAULT_MAX_CACHE_AGE) if max_age_s is None else max_age_s
        self.salt = _options_fingerprint(config)
        #: --include-fragments: a cached "alive" knows nothing of a page's anchors, so links with a #fragment are checked.
        self.fragments = config.include_fragments
        self.pending: list[tuple] = []
        self.stored: set[str] = set()
        self.hits = 0
        #: This run's name, kept in `history.last_run` for whoever reads the file (pcheck reads a row only once
        #: per run, at a link's first failure, so it never meets its own).
        self.run_id = f"{time.time():.3f}-{os.getpid()}-{os.urandom(4).hex()}"
        #: History rows to write (upserts) and to delete (the link is alive again), flushed with the verdicts.
        self.failed: list[tuple] = []
        self.recovered: list[tuple] = []
        #: The streak of each link failing now: its history is moved once per run, on its first failure.
        self.streaks: dict[str, tuple[int, float]] = {}
        #: The salted keys that have a history row (links failing on an earlier run): only these are read or
        #: deleted, so the common alive link costs no history work at all.
        self.failing: set[str] = self._failing_keys()

    def _failing_keys(self) -> set[str]:
        try:
            return {key for (key,) in self.db.execute("SELECT key FROM history") if isinstance(key, str)} \
                if self.db is not None else set()
        except sqlite3.Error as exc:
            self._give_up(exc)
            return set()

    def _key(self, url_key: str) -> str:
        return hashlib.blake2b((self.salt + "\0" + url_key).encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()

    def serve(self, items: Iterable[Target | CheckResult]) -> Iterator[Target | CheckResult]:
        """Replace each target with a fresh cached verdict when there is one."""
        oldest = time.time() - self.max_age_s
        for item in items:
            # A page a crawl follows is fetched for its links, which no row keeps.
            if isinstance(item, Target) and self.db is not None and not item.page \
                    and not (self.fragments and fragment_of(item.url)):
                try:
                    row = self.db.execute(
                        "SELECT checked_at, status, final_url, redirects, method, attempts FROM verdicts "
                        "WHERE key = ? AND checked_at >= ?", (self._key(item.key), oldest)).fetchone()
                except sqlite3.Error as exc:
                    self._give_up(exc)
                    row = None
                if row is not None and not self._sound_verdict(row, oldest, item.host):
                    row = None
                if row is not None and row[3] and self.config.redirects == "warn":
                    row = None  # asked again: --redirects warn lists it with its first hop, which no row keeps
                if row is not None:
                    self.hits += 1
                    checked_at, status, final_url, redirects, method, attempts = row
                    age = time.time() - checked_at
                    verdict = Verdict(Outcome.ALIVE, status, None, final_url, redirects, method, attempts, 0.0,
                                      f"from cache, checked {age:.0f} s ago")
                    yield CheckResult.of(item.url, item.source, item.line, verdict, item.key, item.host, item.column,
                                         item.link, item.checked_url)
                    continue
            yield item

    def remember(self, results: Iterable[CheckResult]) -> Iterator[CheckResult]:
        """Pass results through, storing fresh alive verdicts and moving each link's failure history;
        a broken result comes out carrying its streak (failed_runs, failing_since)."""
        try:
            for result in results:
                if result.outcome is Outcome.ALIVE and not (result.detail or "").startswith("from cache"):
                    url_key = result.key  # normalised once, at input
                    if url_key is not None and self.db is not None:
                        self._recovered(result, url_key)
                        if url_key not in self.stored:
                            self.stored.add(url_key)
                            final_url = redact_userinfo(result.final_url) if result.final_url else result.final_url
                            self.pending.append((self._key(url_key), redact_userinfo(result.url), time.time(),
                                                 result.status, final_url, result.redirects, result.method,
                                                 result.attempts))
                elif result.outcome is Outcome.BROKEN and result.key is not None:
                    result = self._failed(result, result.key)
                if len(self.pending) + len(self.failed) + len(self.recovered) >= _FLUSH_EVERY:
                    self.flush()
                yield result
        finally:
            self.flush()

    def _history_id(self, result: CheckResult, url_key: str) -> str:
        """The link whose history this is: with --include-fragments, `page#a` and `page#b` fail apart."""
        fragment = fragment_of(result.url) if self.fragments else None
        return url_key if fragment is None else f"{url_key}#{fragment}"

    def _recovered(self, result: CheckResult, url_key: str) -> None:
        """A link checked alive: its failing streak, if it had one, ends (the row is deleted)."""
        if not self.failing:
            return
        key = self._key(self._history_id(result, url_key))
        if key in self.failing:
            self.failing.discard(key)
            self.recovered.append((key,))

    def _failed(self, result: CheckResult, url_key: str) -> CheckResult:
        """A link broken in this run: its streak, read once and moved once per run, set on the result."""
        link = self._history_id(result, url_key)
        streak = self.streaks.get(link)
        if streak is None and self.db is not None:
            key, now = self._key(link), time.time()
            try:  # a link with no history row starts a streak: no query
                row = self.db.execute("SELECT first_failed, failed_runs FROM history WHERE key = ?",
                                      (key,)).fetchone() if key in self.failing else None
            except sqlite3.Error as exc:
                self._give_up(exc)
                return result
            # A row was written by an earlier run: this run's own rows are never read back (`streaks` answers).
            if row is not None and not self._sound_streak(row, now):
                row = None
            streak = (1, now) if row is None else (row[1] + 1, float(row[0]))
            self.streaks[link] = streak
            self.failed.append((key, redact_userinfo(result.url), streak[1], streak[0], self.run_id, now))
        if streak is None:
            return result
        return replace(result, failed_runs=streak[0], failing_since=streak[1])

    def _sound_verdict(self, row: tuple, oldest: float, host: str) -> bool:
        """Whether a verdicts row holds what pcheck writes for an alive verdict this run would accept."""
        checked_at, status, final_url, redirects, method, attempts = row
        policy = self.config.host_policy(host) if self.config.hosts else None
        sound = (_real(checked_at) and oldest <= checked_at <= time.time() + _CLOCK_SLACK_S
                 and (status is None or _whole(status, MIN_STATUS, MAX_STATUS)
                      and self.config.accepts(status, policy.accept if policy else None))
                 and (final_url is None or isinstance(final_url, str) and _HTTP_URL.match(final_url) is not None)
                 and _whole(redirects, 0, self.config.max_redirects)
                 and method in (None, "HEAD", "GET") and _whole(attempts, 0, _MAX_ATTEMPTS))
        return sound or self._ignored("verdicts", row)

    def _sound_streak(self, row: tuple, now: float) -> bool:
        """Whether a history row holds a streak pcheck could have counted."""
        first_failed, failed_runs = row
        sound = _real(first_failed) and 0 < first_failed <= now + _CLOCK_SLACK_S and _whole(failed_runs, 1, _MAX_RUNS)
        return sound or self._ignored("history", row)

    def _ignored(self, table: str, row: tuple) -> bool:
        """A row that is not what pcheck writes: ignored, said once per run. Always False."""
        if not self.bad_rows:
            shown = ", ".join(repr(v)[:40] for v in row)
            log.warning("--cache-path %s: ignored a %s row pcheck did not write (%s); any such row is passed over "
                        "(its link checked again, its streak started over)", self.path, table, shown)
        self.bad_rows += 1
        return False

    def flush(self) -> None:
        batches = (self.pending, self.failed, self.recovered)
        if not any(batches) or self.db is None:
            for batch in batches:
                batch.clear()
            return
        try:
            with self.db:  # one transaction per batch
                self.db.execute("BEGIN IMMEDIATE")
                self.db.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?)", self.pending)
                self.db.executemany("INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?, ?)", self.failed)
                self.db.executemany("DELETE FROM history WHERE key = ?", self.recovered)
        except sqlite3.Error as exc:
            self._give_up(exc)
        for batch in batches:
            batch.clear()

    def close(self) -> None:
        self.flush()
        if self.db is not None:
            self.db.close()
            self.db = None

    def _give_up(self, exc: sqlite3.Error) -> None:
        """A failure mid-run (disk full, file gone, locked too long): go on without the cache, said once."""
        if self.db is None:
            return
        log.warning("--cache-path %s: %s; going on without the cache", self.path, _reason(exc))
        db, self.db = self.db, None
        self.stored.clear()  # the streaks already given stay: a link's later occurrences say the same
        try:
            db.close()
        except sqlite3.Error:
            pass


def _real(value: object) -> bool:
    """A number SQLite gave back (not text, a blob or NULL) that is finite."""
    return type(value) in (int, float) and math.isfinite(value)


def _whole(value: object, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _check_columns(db: sqlite3.Connection, path: str) -> None:
    """CacheError unless each table has pcheck's columns, in order, keyed by `key` (CREATE TABLE IF NOT EXISTS
    keeps any other table: one with no key would keep every row pcheck means to replace)."""
    for table, expected in _COLUMNS.items():
        info = list(db.execute(f"PRAGMA table_info({table})"))
        columns = tuple(name for _, name, *_ in info)
        if columns != expected or [name for _, name, _, _, _, pk in info if pk] != ["key"]:
            raise CacheError(f"--cache-path {path}: its {table} table has the columns ({', '.join(columns)}), "
                             f"not those of a pcheck cache; repair or remove it, or name another file")


def _create_private(path: str) -> None:
    """Create a new cache file 0600 before SQLite does (it would use the umask, often 0644)."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _FILE_MODE))
    except FileExistsError:
        pass


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def _open(path: str) -> sqlite3.Connection:
    """Connect, switch to WAL and create the table, however many runs open the file at once.

    Two runs switching a new file to WAL together deadlock on its lock, and
    SQLite then answers "database is locked" at once instead of calling the
    busy handler; so the set-up is retried with backoff until the busy timeout.
    """
    db = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    pause = 0.005
    while True:
        try:
            # Never add a table to (or switch the journal of) some other program's database.
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables - _TABLES:
                db.close()
                raise CacheError(f"--cache-path {path}: a database of something else (tables: "
                                 f"{', '.join(sorted(tables)[:5])}), not a pcheck cache; name another file")
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":  # WAL persists in the file
                db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
            db.execute(_HISTORY_SCHEMA)  # a cache from before --fail-after gains it here
            try:
                _check_columns(db, path)
            except CacheError:
                db.close()
                raise
            # Prove now that the file is a cache we can read and write: else the first
            # failure would come mid-run. A write transaction that changes nothing.
            db.execute("SELECT COUNT(*) FROM (SELECT 1 FROM verdicts LIMIT 1)").fetchone()
            db.execute("SELECT COUNT(*) FROM (SELECT 1 FROM history LIMIT 1)").fetchone()
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM verdicts WHERE 0")
            db.execute("DELETE FROM history WHERE 0")
            db.execute("COMMIT")
            return db
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                db.close()
                raise
        time.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(pause * 2, 0.5)


def _options_fingerprint(config: Config) -> str:
    """Every option that can change a verdict; the cache never mixes runs that differ in one."""
    credentials = ([(c.domain, c.path, c.name, c.value, c.secure) for c in config.cookies], config.basic_auth)
    return json.dumps({
        "method": config.method, "accept": config.accept, "headers": sorted(config.headers),
        "user_agent": config.user_agent, "max_redirects": config.max_redirects,
        "verify_tls": config.verify_tls, "ca_bundle": config.ca_bundle, "exclude_private": config.exclude_private,
        "hosts": [(h, p.accept, sorted(p.headers)) for h, p in config.hosts],
        # A link alive with a token may not be without one; the token itself is never stored.
        "github_token": hashlib.sha256(config.github_token.encode()).hexdigest() if config.github_token else None,
        # Said only when not the default, so a cache written before these options is still read.
        # warn judges as allow does (it only says more, and serve() asks a redirected link again under it):
        # `check --suggest` and `pcheck fix`, which run under warn, share a plain run's verdicts and history.
        **({"redirects": config.redirects} if config.redirects == "fail" else {}),
        **({"require_https": True} if config.require_https else {}),
        # --cookie-jar's cookies and --basic-auth's rules, by a digest: a link alive with them may not be without.
        **({"credentials": hashlib.sha256(repr(credentials).encode("utf-8", "surrogatepass")).hexdigest()}
           if any(credentials) else {}),
    }, sort_keys=True, default=list)
