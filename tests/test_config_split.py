"""What travels to a worker is the checker's settings alone (CheckConfig); the run's own stay in the parent."""

from __future__ import annotations

import dataclasses
import pickle
import re
from pathlib import Path

from pcheck.config import CheckConfig, Config

PCHECK = Path(__file__).resolve().parents[1] / "pcheck"
#: The modules that run in a worker process: the checker, its transport and helpers, the worker's loop.
WORKER_SIDE = [*sorted((PCHECK / "check").glob("*.py")), PCHECK / "run" / "worker.py", PCHECK / "run" / "crew.py"]


def test_no_worker_side_module_reads_a_setting_workers_are_not_sent():
    sent = {f.name for f in dataclasses.fields(CheckConfig)} | {
        name for name in vars(CheckConfig) if not name.startswith("_")}
    read = {(path.relative_to(PCHECK).as_posix(), name) for path in WORKER_SIDE
            for name in re.findall(r"\bconfig\.([a-z_]+)", path.read_text(encoding="utf-8"))}
    assert read and {(where, name) for where, name in read if name not in sent} == set()


def test_the_workers_part_keeps_every_checker_setting_and_drops_the_runs():
    config = Config(timeout=3.0, retries=1, headers=(("X-A", "b"),), proxy="proxy.example:3128",
                    include=("^https://a",), recheck_after=0.0, processes=3)
    part = config.for_workers()
    assert type(part) is CheckConfig
    assert {f.name: getattr(part, f.name) for f in dataclasses.fields(part)} == {
        f.name: getattr(config, f.name) for f in dataclasses.fields(CheckConfig)}
    assert not hasattr(part, "include") and not hasattr(part, "processes")
    assert len(pickle.dumps(part)) < len(pickle.dumps(config))


def test_a_run_setting_is_still_validated_where_it_is_declared():
    import pytest

    from pcheck.errors import ConfigError

    with pytest.raises(ConfigError, match="--host-interval"):
        Config(host_interval=-1)
    with pytest.raises(ConfigError, match="--timeout"):
        Config(timeout=0)
    with pytest.raises(ConfigError, match="--timeout"):
        CheckConfig(timeout=0)
