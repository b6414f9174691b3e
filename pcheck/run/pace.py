"""A host that refused for load: when its refusals are its own state, how it is slowed, and how its pace
comes back (used by run/hosts.HostScheduler).

The rule, from TCP's congestion control and lychee's per-host backoff, with one
difference: a refusal is first the URL's answer (run/hosts.py puts the URL back
after its own wait), and only refusals that are the host's state slow it.

* **The host is slowed only when the refusals are its state**: within the last
  WINDOW_S, at least MIN_REFUSED_URLS different URLs were refused at their
  first try, and they are at least OVERLOAD_SHARE of the first tries answered.
  Only first tries count: a URL refused every time, tried again, says nothing
  new of the host; and answers to requests sent before the last slowdown do
  not count: that overload was already seen. Then the host is paused (the
  Retry-After, capped; else 1 s doubling while it keeps refusing), its
  concurrency halved and its interval doubled (at least MIN_BACKOFF_INTERVAL_S).
* **A host that says its quota is spent** (`RateLimit-Remaining: 0`, the IETF
  draft's, or GitHub's `X-RateLimit-Remaining: 0`, on any answer, a 200
  included) is paused until the quota resets (`RateLimit-Reset` seconds, or
  `X-RateLimit-Reset`'s Unix time; 1 s when not said), its pace untouched: a
  quota counts requests, not their rate. A reset beyond the cap is not waited
  for: the host's answers then stand.
* **The pace comes back by time, not by answers.** Each RECOVERY_STEP_S after
  the pause without a refused first try doubles the concurrency (up to the cap) and
  halves the extra interval (gone below MIN_BACKOFF_INTERVAL_S / 4): a host
  sent to one request every 10 s is back at its configured pace within about
  8 s of quiet, whatever its answers were. Only the step back to the pace that
  drew the last overload waits longer, REPROBE_S of quiet (TCP's slow-start
  threshold): a host that allows 10 requests a second is not asked for 20
  again every other second.
* **Slowing must help, and is bounded.** A second overload before the host got
  back to its configured pace, whose share of refused URLs did not fall below
  HELPLESS_SHARE of the last one's, says the refusals do not follow the pace
  (a backend refusing every other request, say): the host is not slowed again,
  and each URL keeps its own retries. So does a host whose pauses cost
  PAUSE_BUDGET times the cap. A Retry-After beyond the cap is not waited for,
  by the URL or its host: its refusal stands.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

#: The extra interval a slowdown sets at least, and at most.
MIN_BACKOFF_INTERVAL_S = 0.1
MAX_BACKOFF_INTERVAL_S = 10.0
#: How far back a host's answers are weighed, and what makes its refusals the host's state.
WINDOW_S = 2.0
MIN_REFUSED_URLS = 3
OVERLOAD_SHARE = 0.3
#: Answers weighed at most (a host answering faster than this in WINDOW_S is judged on its latest ones).
MAX_RECENT = 256
#: Quiet time (after a pause) that gives back one step of pace: concurrency doubled, extra interval halved.
RECOVERY_STEP_S = 1.0
#: Quiet time after an overload before the host is asked at the pace that drew it again.
REPROBE_S = 5.0
#: A slowdown right after another that leaves this share of refusals or more did not help.
HELPLESS_SHARE = 0.75
#: Pauses (in units of the pause cap) one host may cost the run before it is no longer slowed.
PAUSE_BUDGET = 2
#: How long a host is paused after its first overload without a usable Retry-After (it doubles after).
DEFAULT_PAUSE_S = 1.0


@dataclass(slots=True)
class Pace:
    """A host that refused: its answers of late, its slowdown, and what it cost."""

    cap: int
    limit: int
    interval: float  # the configured one
    extra_interval: float = 0.0
    #: The pace (concurrency, gap between starts) that drew the last overload.
    ceiling: tuple[int, float] = (0, 0.0)
    paused_until: float = 0.0
    backed_off_at: float = float("-inf")
    #: (when, task id, refused?) for answers to requests sent since the last slowdown, over the last WINDOW_S.
    recent: collections.deque = field(default_factory=lambda: collections.deque(maxlen=MAX_RECENT))
    in_a_row: int = 0  # slowdowns with no quiet step between them
    last_share: float = 0.0  # the share of refused URLs that drew the last slowdown
    given_up: bool = False  # its refusals do not follow the pace, or its pauses cost too much: not slowed again
    quiet_from: float = 0.0  # the next step of pace comes back RECOVERY_STEP_S after this
    slowed_since: float | None = None  # below its configured pace since then
    refusals: int = 0
    paused_s: float = 0.0
    slowed_s: float = 0.0  # time spent below its configured pace before slowed_since
    reason: str = ""

    def slowed(self) -> bool:
        return self.slowed_since is not None

    def calm(self, now: float) -> bool:
        """Never slowed, and nothing of late to weigh: all it holds is its count of refusals."""
        return not self.reason and (not self.recent or self.recent[-1][0] < now - WINDOW_S)

    def recover(self, now: float) -> None:
        """Give back a step of pace for each RECOVERY_STEP_S of quiet since the pause ended."""
        if self.slowed_since is None:
            return
        if self.limit >= self.cap and not self.extra_interval:  # only paused (its quota was spent)
            if now >= self.quiet_from:
                self.end_slowdown(self.quiet_from)
            return
        steps = int((now - self.quiet_from) // RECOVERY_STEP_S)
        if steps <= 0:
            return
        self.in_a_row = 0
        for _ in range(min(steps, 16)):
            limit = min(self.cap, self.limit * 2)
            extra = self.extra_interval / 2 if self.extra_interval > MIN_BACKOFF_INTERVAL_S / 4 else 0.0
            at_ceiling = limit >= self.ceiling[0] and max(self.interval, extra) <= self.ceiling[1]
            if at_ceiling and now - self.backed_off_at < REPROBE_S:
                break  # the pace that drew the overload: not before REPROBE_S of quiet
            self.limit, self.extra_interval = limit, extra
        self.quiet_from += steps * RECOVERY_STEP_S
        if self.limit >= self.cap and not self.extra_interval:
            self.end_slowdown(self.quiet_from)

    def end_slowdown(self, when: float) -> None:
        if self.slowed_since is not None:
            self.slowed_s += max(0.0, when - self.slowed_since)
            self.slowed_since = None
            self.last_share = 0.0  # the next overload starts an episode of its own

    def weigh(self, now: float, task_id: int, refused: bool) -> float | None:
        """Note a first try's answer; the share of refused URLs when the host's refusals are its state, else None."""
        recent = self.recent
        recent.append((now, task_id, refused))
        while recent[0][0] < now - WINDOW_S:
            recent.popleft()
        if not refused:
            return None
        # Quiet means no refusal at all: at a slow pace, refusals too few to make an overload within a
        # step must not pass for recovery (a backend refusing every other request stayed slowed for a minute).
        self.quiet_from = max(self.quiet_from, now)
        refused_urls = {t for _, t, r in recent if r}
        if len(refused_urls) < MIN_REFUSED_URLS:
            return None
        share = len(refused_urls) / len({t for _, t, _ in recent})
        return share if share >= OVERLOAD_SHARE else None

    def back_off(self, now: float, share: float, retry_after: float | None, max_pause_s: float) -> float | None:
        """Slow the host for an overload (`share` of its first tries refused): until when it is paused, or None
        when it is no longer slowed (slowing did not help, or its pauses cost too much)."""
        # Judged against the last overload while the host never got back to its pace since: a step or two back
        # between them (a refusal now and then at the slow pace) does not make it a new episode.
        helpless = self.slowed_since is not None and self.last_share > 0 and share >= HELPLESS_SHARE * self.last_share
        if helpless or self.paused_s >= PAUSE_BUDGET * max_pause_s:
            self.end_slowdown(now)
            self.given_up = True  # its refusals are its URLs' own: each keeps its retries, the host its pace
            self.limit, self.extra_interval = self.cap, 0.0
            self.reason += ("; then no more, as slowing did not lower its refusals" if helpless
                            else f"; then no more, its pauses having cost {self.paused_s:.0f} s")
            return None
        if self.slowed_since is None:
            self.slowed_since = now
            self.reason = self.reason or f"{share:.0%} of its URLs refused within {WINDOW_S:g} s"
        pause = retry_after if retry_after is not None else DEFAULT_PAUSE_S * 2 ** min(self.in_a_row, 10)
        pause = min(max(pause, 0.0), max_pause_s)
        self.in_a_row += 1
        self.last_share = share
        self.ceiling = (self.limit, max(self.interval, self.extra_interval))
        self.limit = max(1, self.limit // 2)
        self.extra_interval = min(MAX_BACKOFF_INTERVAL_S, max(MIN_BACKOFF_INTERVAL_S, 2 * self.extra_interval,
                                                              self.interval))
        self.backed_off_at = now
        self.recent.clear()  # what comes next is judged at the new pace
        return self._pause(now, pause)

    def wait_for_quota(self, now: float, wait: float, max_pause_s: float) -> float | None:
        """The host said its quota is spent: until when it is paused (its concurrency and interval untouched:
        a quota counts requests, not their pace), or None when it resets now, the wait is over the cap, or the
        pauses' budget is spent."""
        if wait <= 0 or wait > max_pause_s or self.paused_s >= PAUSE_BUDGET * max_pause_s:
            return None
        if self.slowed_since is None:
            self.slowed_since = now
            self.reason = self.reason or "its quota of requests was spent (RateLimit-Remaining: 0)"
        return self._pause(now, wait)

    def _pause(self, now: float, pause: float) -> float:
        until = now + pause
        if until > self.paused_until:
            self.paused_s += until - max(now, self.paused_until)
            self.paused_until = until
        self.quiet_from = max(self.quiet_from, until)
        return until

