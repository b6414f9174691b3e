"""TLS: certificates are verified unless asked otherwise (issue 5), and the set-up is paid once per process
and mode, not once per connection (issue 18).

Handed no SSL context, urllib3 built one for every new connection and loaded
the system's CA store into it under --insecure (about 40 ms of CPU each), or
parsed the CA bundle again when verifying: on many HTTPS hosts, most of the CPU.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import time

import pytest
import trustme

from conftest import run_pcheck
from pcheck.check.checker import Checker
from pcheck.check.transport import Transport
from pcheck.config import Config
from pcheck.lab import Lab
from pcheck.models import Outcome
from support.fast import FAST
from support.runs import jsonl
from support.servers import tls_site

pytestmark = pytest.mark.timeout(60)

HOSTS = 6


@pytest.fixture
def https_hosts(tmp_path):
    """A lab serving HTTPS on HOSTS addresses, and its CA written as PEM."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*[f"127.0.0.{i}" for i in range(1, HOSTS + 1)]).configure_cert(server)
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    with Lab(hosts=HOSTS, ssl_context=server) as site:
        yield site, ca_path


@pytest.fixture
def ca_loads(monkeypatch):
    """Counts of CA loading calls made on any SSLContext while the test runs."""
    counts = {"load_verify_locations": 0, "load_default_certs": 0}
    for name in counts:
        original = getattr(ssl.SSLContext, name)

        def counting(self, *args, _name=name, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            counts[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(ssl.SSLContext, name, counting)
    return counts


def check_every_host(site: Lab, verify: bool | str, rounds: int = 3) -> list[Outcome]:
    """Each round opens a new connection to every host (a new transport has no kept-alive ones)."""
    outcomes = []
    for _ in range(rounds):
        transport = Transport(pool_maxsize=2, verify=verify)
        checker = Checker(Config(processes=1, timeout=5.0, retries=0), transport)
        outcomes += [checker.check(site.url(f"ok?t={time.monotonic_ns()}", host)).outcome for host in range(HOSTS)]
        transport.close()
    return outcomes


def test_a_ca_bundle_is_read_once_however_many_connections_use_it(https_hosts, ca_loads):
    site, ca_path = https_hosts
    connections_before = sum(s.connections for s in site.snapshot().values())
    outcomes = check_every_host(site, str(ca_path))
    assert outcomes == [Outcome.ALIVE] * 3 * HOSTS
    assert sum(s.connections for s in site.snapshot().values()) - connections_before == 3 * HOSTS
    assert ca_loads["load_verify_locations"] == 1  # 18 handshakes, one parse of the bundle
    assert ca_loads["load_default_certs"] == 0


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_insecure_connections_never_load_the_system_ca_store(https_hosts, ca_loads):
    site, _ = https_hosts
    assert check_every_host(site, False) == [Outcome.ALIVE] * 3 * HOSTS
    assert ca_loads == {"load_verify_locations": 0, "load_default_certs": 0}


def test_the_shared_context_still_refuses_a_certificate_its_ca_did_not_sign(https_hosts, tmp_path):
    site, _ = https_hosts
    stranger = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    verdicts = [Checker(Config(processes=1, timeout=5.0, retries=0), Transport(pool_maxsize=2, verify=verify))
                .check(site.url("ok")) for verify in (str(stranger), True)]
    assert [(v.outcome, v.error.value if v.error else None) for v in verdicts] == [(Outcome.BROKEN, "tls")] * 2


def test_a_ca_bundle_with_no_certificate_in_it_is_a_usage_error_naming_the_file(tmp_path):
    bundle = tmp_path / "not-a-bundle.pem"
    bundle.write_text("this is not PEM\n")
    proc = run_pcheck("check", "https://127.0.0.1:1/", "--ca-bundle", str(bundle), "--no-progress")
    assert proc.returncode == 2
    assert "--ca-bundle" in proc.stderr and str(bundle) in proc.stderr and "PEM" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to hash a CA folder")
def test_a_folder_of_hashed_certificates_is_a_ca_bundle_as_requests_takes_it(https_hosts, tmp_path):
    """`--ca-bundle /etc/ssl/certs`: a folder `openssl rehash` made, as requests' `verify=` takes it."""
    site, ca_path = https_hosts
    folder = tmp_path / "certs"
    folder.mkdir()
    shutil.copy(ca_path, folder / "test-ca.pem")
    subprocess.run(["openssl", "rehash", str(folder)], check=True, capture_output=True, timeout=30)
    proc = run_pcheck("check", site.url("ok"), "--ca-bundle", str(folder), "--format", "jsonl", "--no-progress",
                      "--timeout", "5", "--retries", "0")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "alive"
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = run_pcheck("check", site.url("ok"), "--ca-bundle", str(empty), "--format", "jsonl", "--no-progress",
                         "--timeout", "5", "--retries", "0", "--recheck-after", "0")
    assert (json.loads(refused.stdout)["outcome"], json.loads(refused.stdout)["error"]) == ("broken", "tls")


# -- certificates verified (issue 5) -------------------------------------------------------------------------------------------------

@pytest.fixture
def https_lab(tmp_path):
    server, ca_path = tls_site(tmp_path, "127.0.0.1")
    with Lab(hosts=1, ssl_context=server) as site:
        yield site, ca_path


@pytest.mark.timeout(60)
def test_cli_self_signed_certificate_is_a_tls_error_by_default(https_lab):
    site, _ = https_lab
    proc = run_pcheck("check", site.url("ok"), "--format", "jsonl", *FAST)
    assert proc.returncode == 1
    [record] = jsonl(proc)
    assert (record["outcome"], record["error"]) == ("broken", "tls")


@pytest.mark.timeout(60)
def test_cli_ca_bundle_makes_it_alive(https_lab):
    site, ca_path = https_lab
    proc = run_pcheck("check", site.url("ok"), "--ca-bundle", str(ca_path), "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    [record] = jsonl(proc)
    assert (record["outcome"], record["status"]) == ("alive", 200)


@pytest.mark.timeout(60)
def test_cli_insecure_is_alive_and_warns_exactly_once(https_lab):
    site, _ = https_lab
    urls = [site.url(f"ok?i={i}") for i in range(8)]
    # A process of its own: its workers' stderr (where urllib3 would warn) is the command's stderr.
    proc = run_pcheck("check", *urls, "--insecure", "--format", "jsonl",
                      "--timeout", "3", "--retries", "0", "-p", "2", "--no-progress", subprocess=True)
    assert proc.returncode == 0, proc.stderr
    assert {r["outcome"] for r in jsonl(proc)} == {"alive"}
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "insecure" in lines[0].lower(), proc.stderr
    assert "InsecureRequestWarning" not in proc.stderr
