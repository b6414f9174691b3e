"""Shared fixtures: the local site on loopback, and a runner for the real `pcheck` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pcheck.lab import Lab

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def lab():
    """A fresh local site on 127.0.0.1-4 with zeroed counters."""
    with Lab(hosts=4) as site:
        yield site


def run_pcheck(*args: str, stdin: str | bytes | None = None, timeout: float = 60, env: dict | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python -m pcheck ARGS` as a user would, bounded in time."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "pcheck", *args],
        input=data, capture_output=True, timeout=timeout, env=full_env, cwd=cwd,
    )
    proc.stdout = proc.stdout.decode("utf-8", "replace")
    proc.stderr = proc.stderr.decode("utf-8", "replace")
    return proc


def write_list(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path
