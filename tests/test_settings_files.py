"""A settings file pcheck reads whole (--config, --cookie-jar) must be a regular file of sane size: a FIFO
named so must not hold the run waiting for a writer, nor /dev/zero fill the memory (issue 32's class of
files read whole, met again by issue 27's cookie jar)."""

from __future__ import annotations

import os

import pytest
from conftest import run_pcheck

import pcheck.cli.credentials as credentials

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("option", ["--config", "--cookie-jar"])
def test_a_fifo_or_a_device_as_a_settings_file_is_a_usage_error_naming_it(tmp_path, option):
    fifo = tmp_path / "settings.fifo"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        proc = run_pcheck("http://127.0.0.1:1/", option, path, "--no-progress")
        assert proc.returncode == 2 and f"{path}: not a regular file" in proc.stderr, proc.stderr


def test_a_settings_file_past_the_cap_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(credentials, "MAX_SETTINGS_BYTES", 64)
    jar = tmp_path / "cookies.txt"
    jar.write_text("# Netscape HTTP Cookie File\n" + "#\n" * 100)
    from pcheck.errors import ConfigError

    with pytest.raises(ConfigError, match="larger than"):
        credentials.load_cookie_jar(str(jar))
