"""`python -m pcheck.lab`, the local site as a command (CI's smoke run and the benchmarks start it): its usage.

--help prints the usage and exits 0; a bad argument is a usage error, exit 2, one message and no traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pcheck.lab import main


def lab_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pcheck.lab", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_the_usage_and_exits_0(flag, capsys):
    with pytest.raises(SystemExit) as ended:
        main([flag])
    out = capsys.readouterr().out
    assert ended.value.code == 0
    assert out.startswith("usage: python -m pcheck.lab") and "HOSTS" in out and "--tls CERT_CHAIN_PEM KEY_PEM" in out, out


@pytest.mark.parametrize("args, says", [
    (["0"], "'0' is not a number of hosts from 1 to 250"),
    (["251"], "'251' is not a number of hosts from 1 to 250"),
    (["two"], "'two' is not a number of hosts from 1 to 250"),
    (["²"], "'²' is not a number of hosts from 1 to 250"),
    (["2", "3"], "unrecognized arguments: 3"),
    (["--tls", "chain.pem"], "--tls: expected 2 arguments"),
    (["--tls", "/nonexistent/chain.pem", "/nonexistent/key.pem"], "--tls: [Errno 2] No such file or directory"),
    (["--port", "80"], "unrecognized arguments: --port"),
])
def test_a_bad_argument_is_a_usage_error_exit_2(args, says, capsys):
    with pytest.raises(SystemExit) as ended:
        main(args)
    err = capsys.readouterr().err
    assert ended.value.code == 2
    assert err.startswith("usage: python -m pcheck.lab") and says in err, err


def test_the_command_answers_help_and_bad_arguments_without_a_traceback():
    helped, refused = lab_command("--help"), lab_command("many")
    assert (helped.returncode, helped.stderr) == (0, "") and helped.stdout.startswith("usage: "), helped
    assert refused.returncode == 2 and refused.stdout == "" and "Traceback" not in refused.stderr, refused
    assert refused.stderr.splitlines()[-1] == "python -m pcheck.lab: error: argument HOSTS: 'many' is not a number of hosts from 1 to 250"


def test_the_command_serves_its_hosts_until_stdin_closes():
    served = lab_command("2")  # stdin is /dev/null: closed at once
    assert served.returncode == 0, served
    first = json.loads(served.stdout.splitlines()[0])
    assert first["addresses"] == ["127.0.0.1", "127.0.0.2"] and first["scheme"] == "http" and first["port"] > 0, first
