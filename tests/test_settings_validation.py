"""A setting is judged when it is read, and pcheck's own path failing is never a verdict on a link.

A malformed --proxy, a timeout of 1e10 or inf, a retry count of 10**9 are usage errors (exit 2 naming the
option) instead of every URL ending `broken invalid_url` or `broken internal`. A proxy that cannot be
reached, asks for credentials (407) or cannot be used is error kind `proxy`, outcome `unchecked`: the
link was never asked, and the run does not pass.
"""

from __future__ import annotations

import json
import math
import socket

import pytest

from conftest import run_pcheck
from pcheck.config import Config, HostPolicy, parse_proxy
from pcheck.errors import ConfigError
from pcheck.lab.proxy import Proxy

pytestmark = pytest.mark.timeout(60)
SETTINGS = [("--retries", "0"), ("-p", "1"), ("--recheck-after", "0")]
FAST = [a for pair in SETTINGS for a in pair] + ["--no-progress", "--format", "jsonl"]


def records(proc):
    return [json.loads(line) for line in proc.stdout.splitlines()]


def dead_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


BAD_PROXIES = ["http://127.0.0.1:abc", "http://[::1", "http://127.0.0.1:99999", "127.0.0.1:0", "http://:8080",
               "http://[::1]:x", "http://a:b:c@127.0.0.1:80:81", "http://127.0.0.1:-1"]


@pytest.mark.parametrize("spec", BAD_PROXIES)
def test_a_malformed_proxy_is_a_usage_error_naming_it(lab, spec):
    proc = run_pcheck("check", lab.url("ok"), "--proxy", spec, *FAST)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--proxy" in proc.stderr and "Traceback" not in proc.stderr
    assert len(lab.log) == 0


@pytest.mark.parametrize("spec", ["http://127.0.0.1:3128", "127.0.0.1:3128", "https://u:p@proxy.example:443/",
                                  "http://[::1]:8080", "proxy.example"])
def test_a_usable_proxy_is_taken(spec):
    assert parse_proxy(spec).startswith(("http://", "https://"))


BAD_NUMBERS = [("--timeout", "1e10"), ("--timeout", "inf"), ("--timeout", "nan"), ("--timeout", "-1"),
               ("--retries", str(10**9)), ("--threads", str(10**9)), ("--max-per-host", str(10**9)),
               ("--max-redirects", str(10**9)), ("--host-interval", "1e400"), ("--processes", str(10**6)),
               ("--max-retry-after", "1e300"), ("--recheck-after", "inf")]


@pytest.mark.parametrize("option,value", BAD_NUMBERS)
def test_an_out_of_range_number_is_a_usage_error_naming_it(lab, option, value):
    rest = [a for pair in SETTINGS if pair[0] not in (option, "-p") for a in pair] + FAST[6:]
    proc = run_pcheck("check", lab.url("ok"), option, value, *rest)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert option in proc.stderr and "Traceback" not in proc.stderr
    assert len(lab.log) == 0


@pytest.mark.parametrize("field,value", [("timeout", 1e10), ("timeout", math.inf), ("timeout", math.nan),
                                         ("retries", 10**9), ("threads", 10**9), ("max_redirects", 10**9),
                                         ("host_interval", math.nan), ("max_retry_after", math.nan)])
def test_the_library_config_refuses_the_same(field, value):
    with pytest.raises(ConfigError):
        Config(processes=1, **{field: value})


@pytest.mark.parametrize("table", ["max_per_host = -1", f"max_per_host = {10**9}"])
def test_a_host_table_out_of_range_is_a_usage_error(lab, tmp_path, table):
    (tmp_path / "pcheck.toml").write_text(f'[hosts."127.0.0.1"]\n{table}\n', encoding="utf-8")
    proc = run_pcheck("check", lab.url("ok"), *FAST, cwd=tmp_path)
    assert proc.returncode == 2 and "max_per_host" in proc.stderr, proc.stdout + proc.stderr
    with pytest.raises(ConfigError):
        HostPolicy(max_per_host=-1)


def test_a_config_file_timeout_of_inf_is_a_usage_error(lab, tmp_path):
    (tmp_path / "pcheck.toml").write_text("timeout = inf\n", encoding="utf-8")
    proc = run_pcheck("check", lab.url("ok"), *FAST, cwd=tmp_path)
    assert proc.returncode == 2 and "timeout" in proc.stderr, proc.stdout + proc.stderr


def _proxy_failed(proc):
    assert proc.returncode == 1, proc.stdout + proc.stderr  # pcheck could not check: the run does not pass
    [record] = records(proc)
    assert (record["outcome"], record["error"], record["status"]) == ("unchecked", "proxy", None), record
    assert "proxy" in record["detail"]
    return record


def test_a_proxy_asking_for_credentials_is_no_verdict_on_an_http_link(lab):
    with Proxy(credentials=("alice", "secret")) as guarded:
        proc = run_pcheck("check", lab.url("ok"), "--proxy", guarded.url(), *FAST)
    assert "407" in _proxy_failed(proc)["detail"]
    assert len(lab.log) == 0


def test_a_dead_proxy_is_no_verdict_on_the_link(lab):
    _proxy_failed(run_pcheck("check", lab.url("ok"), "--proxy", f"http://{dead_address()}", *FAST))


@pytest.mark.parametrize("value", ["http://127.0.0.1:abc", "http://[::1", "socks5://127.0.0.1:1080"])
def test_an_unusable_environment_proxy_is_no_verdict_on_the_link(lab, value):
    env = {"HTTP_PROXY": value, "http_proxy": value, "NO_PROXY": "", "no_proxy": ""}
    record = _proxy_failed(run_pcheck("check", lab.url("ok"), *FAST, env=env))
    assert "abc" not in record["url"]
    assert len(lab.log) == 0


def test_a_link_answering_407_itself_is_still_its_verdict(lab):
    proc = run_pcheck("check", lab.url("status/407"), *FAST, env={"NO_PROXY": "*"})
    [record] = records(proc)
    assert (record["outcome"], record["status"], record["error"]) == ("broken", 407, None)


@pytest.mark.parametrize("args,named", [(["--every", "1e300", "--rounds", "2"], "--every"),
                                        (["--every", "x"], "--every"), (["--rounds", "0"], "--rounds")])
def test_watch_settings_out_of_range_are_usage_errors(lab, args, named):
    proc = run_pcheck("watch", lab.url("ok"), *args, "-p", "1", timeout=20)
    assert proc.returncode == 2 and named in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_a_duration_option_in_error_is_named(lab):
    proc = run_pcheck("check", lab.url("ok"), "--cache", "--max-cache-age", "soon", *FAST)
    assert proc.returncode == 2 and "--max-cache-age" in proc.stderr, proc.stderr
