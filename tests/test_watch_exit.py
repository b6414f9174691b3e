"""A bounded `pcheck watch --rounds N` exits as a check of its last round would: 1 while a link is still
failing then, 0 once every link is well (CI and cron read 0 as "all well")."""

from __future__ import annotations

from conftest import run_pcheck
from support.fast import FAST_WATCH as FAST


def test_a_bounded_watch_whose_last_round_still_fails_exits_1(lab):
    proc = run_pcheck("watch", lab.url("status/500"), lab.url("ok"), "--rounds", "2", *FAST)
    assert proc.returncode == 1, proc.stderr


def test_a_bounded_watch_whose_last_round_is_well_exits_0(lab):
    proc = run_pcheck("watch", lab.url("ok"), lab.url("ok?b=1"), "--rounds", "2", *FAST)
    assert proc.returncode == 0, proc.stderr


def test_only_the_last_round_counts(lab):
    flip = lab.url("flaky/2/watch-exit")  # 503 to its first two requests (round 1: HEAD, then GET), then 200
    proc = run_pcheck("watch", flip, "--rounds", "2", *FAST)
    assert "-> broken" in proc.stdout and "broken -> alive" in proc.stdout
    assert proc.returncode == 0, proc.stderr
