"""Options that make a check of the local site quick: give these, then what the test is about.

Later options win (click keeps the last value of an option given twice), so a test that needs another
timeout or more processes writes them after these: `run_pcheck("check", url, *FAST, "-p", "2")`.
"""

from __future__ import annotations

#: A short timeout, no retries and no late re-check (they have tests of their own: test_rechecks.py),
#: no progress bar, without saying how many processes (for tests where a config file or the test says it).
FAST_ANY_PROCESSES = ["--timeout", "5", "--retries", "0", "--no-progress", "--recheck-after", "0"]

#: The usual options for a `pcheck check` of the local site in a test: FAST_ANY_PROCESSES, in one process.
FAST = [*FAST_ANY_PROCESSES, "-p", "1"]

#: For tests of retries, late re-checks and host pacing: a short timeout, one process, no progress bar,
#: and pcheck's own retries and re-checks (a test gives its own values after these).
FAST_KEEPING_RETRIES = ["--timeout", "5", "-p", "1", "--no-progress"]

#: For `pcheck watch` (which has no progress bar or late re-check): a short timeout, no retries, no wait.
FAST_WATCH = ["--timeout", "5", "--retries", "0", "--every", "0s"]

#: FAST as keywords of `Config(...)` and `check_urls(...)`.
FAST_CONFIG = {"timeout": 5.0, "retries": 0, "recheck_after": 0}
