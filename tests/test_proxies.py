"""Proxies as curl, requests and lychee honour them: HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY, --proxy.

Every test runs a real forward proxy on loopback (`pcheck.lab.proxy.Proxy`), which logs what it took
(absolute-form requests, CONNECT tunnels) and stamps what it forwards with a `Via` header, so the lab's
log tells a request that came through the proxy from one that came straight.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import time

import pytest
import trustme

from conftest import run_pcheck
from pcheck.check.checker import Checker
from pcheck.check.netguard import NetGuard
from pcheck.check.proxies import ProxyRoutes
from pcheck.check.transport import Transport
from pcheck.config import FORMATS, Config
from pcheck.lab import Lab
from pcheck.lab.proxy import VIA, Proxy
from pcheck.models import ErrorKind, Outcome
from support.fast import FAST

pytestmark = pytest.mark.timeout(60)

PROXY_VARIABLES = [f"{name}_proxy" for name in ("http", "https", "all", "no")]
PASSWORD = "pr0xy-s3cret"


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch):
    """Each test sets the proxy variables it means; none leak in from the machine running the tests."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


@pytest.fixture
def proxy():
    with Proxy() as running:
        yield running


@pytest.fixture
def tls_lab(tmp_path):
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    with Lab(hosts=1, ssl_context=server) as site:
        yield site, str(ca_path)


def dead_address() -> str:
    """host:port on loopback where nothing listens (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def via_proxy(lab) -> list[tuple[str, str]]:
    return [(e.address, e.target) for e in lab.log if dict(e.headers).get("Via") == VIA]


def straight(lab) -> list[tuple[str, str]]:
    return [(e.address, e.target) for e in lab.log if "Via" not in dict(e.headers)]


def jsonl(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines()]


# -- which proxy ---------------------------------------------------------------------------------

def test_http_proxy_carries_http_urls_over_one_kept_alive_connection(lab, proxy, make_checker, no_proxy_environment):
    no_proxy_environment.setenv("HTTP_PROXY", proxy.url())
    checker = make_checker()
    verdicts = [checker.check(lab.url(path)) for path in ("ok", "ok?i=2", "status/404", "redirect/2")]
    assert [(v.outcome, v.status) for v in verdicts] == [
        (Outcome.ALIVE, 200), (Outcome.ALIVE, 200), (Outcome.BROKEN, 404), (Outcome.ALIVE, 200)]
    took = [(f.method, f.target) for f in proxy.log]
    assert took[:2] == [("HEAD", lab.url("ok")), ("HEAD", lab.url("ok?i=2"))]  # absolute form, as a proxy expects
    assert len(took) == len(lab.log) == 7 and straight(lab) == []  # every request came from the proxy
    assert proxy.connections == 1  # one kept-alive connection to the proxy, shared by every request


def test_https_proxy_tunnels_https_urls_with_connect_and_http_proxy_does_not(tls_lab, proxy, make_checker,
                                                                               no_proxy_environment):
    site, ca_path = tls_lab
    no_proxy_environment.setenv("HTTPS_PROXY", proxy.url())
    no_proxy_environment.setenv("HTTP_PROXY", f"http://{dead_address()}")  # for http:// URLs only
    verdict = make_checker(verify=ca_path).check(site.url("ok").replace("http://", "https://"))
    assert (verdict.outcome, verdict.status) == (Outcome.ALIVE, 200)
    assert [(f.method, f.target) for f in proxy.log] == [("CONNECT", f"127.0.0.1:{site.port}")]
    assert [e.target for e in site.log] == ["/ok"]  # TLS end to end: the proxy saw only the tunnel


@pytest.mark.parametrize("variable", ["http_proxy", "all_proxy", "ALL_PROXY"])
def test_each_spelling_of_the_proxy_variables_is_honoured(lab, proxy, make_checker, no_proxy_environment, variable):
    no_proxy_environment.setenv(variable, proxy.url())
    assert make_checker().check(lab.url("ok")).outcome is Outcome.ALIVE
    assert via_proxy(lab) == [("127.0.0.1", "/ok")]


def test_lower_case_wins_over_upper_case(lab, proxy, make_checker, no_proxy_environment):
    no_proxy_environment.setenv("http_proxy", proxy.url())
    no_proxy_environment.setenv("HTTP_PROXY", f"http://{dead_address()}")
    assert make_checker().check(lab.url("ok")).outcome is Outcome.ALIVE
    assert len(proxy.log) == 1


@pytest.mark.parametrize("variable, value", [("NO_PROXY", "127.0.0.2"), ("no_proxy", "localhost, 127.0.0.2"),
                                             ("NO_PROXY", "127.0.0.2/32")])
def test_no_proxy_sends_the_hosts_it_names_straight_there(proxy, make_checker, no_proxy_environment, variable, value):
    no_proxy_environment.setenv("HTTP_PROXY", proxy.url())
    no_proxy_environment.setenv(variable, value)
    with Lab(hosts=3) as site:
        checker = make_checker()
        assert all(checker.check(site.url("ok", host=i)).outcome is Outcome.ALIVE for i in range(3))
        assert sorted(via_proxy(site)) == [("127.0.0.1", "/ok"), ("127.0.0.3", "/ok")]
        assert straight(site) == [("127.0.0.2", "/ok")]


def test_no_proxy_star_turns_proxies_off(lab, proxy, make_checker, no_proxy_environment):
    no_proxy_environment.setenv("ALL_PROXY", proxy.url())
    no_proxy_environment.setenv("NO_PROXY", "*")
    assert make_checker().check(lab.url("ok")).outcome is Outcome.ALIVE
    assert proxy.log == [] and straight(lab) == [("127.0.0.1", "/ok")]


def test_the_choice_is_made_once_per_origin_and_matches_requests(no_proxy_environment):
    from requests.utils import get_environ_proxies, select_proxy

    no_proxy_environment.setenv("http_proxy", "http://p1:1")
    no_proxy_environment.setenv("HTTPS_PROXY", "http://p2:2")
    no_proxy_environment.setenv("NO_PROXY", ".internal.test,10.0.0.0/8,db.test:5432")
    routes = ProxyRoutes()
    urls = ["http://a.test/x", "https://a.test/x", "http://x.internal.test/", "http://10.1.2.3/", "http://db.test:5432/",
            "http://db.test:80/"]
    assert [routes.proxy_for(u) for u in urls] == [select_proxy(u, get_environ_proxies(u)) for u in urls]
    assert [routes.proxy_for(u) for u in urls] == ["http://p1:1", "http://p2:2", None, None, None, "http://p1:1"]
    no_proxy_environment.setenv("http_proxy", "http://changed:3")  # read once, in the worker, at its start
    assert routes.proxy_for("http://a.test/y") == "http://p1:1"


def test_explicit_proxy_overrides_the_environment_for_every_scheme(lab, tls_lab, proxy, make_checker,
                                                                    no_proxy_environment):
    site, ca_path = tls_lab
    dead = f"http://{dead_address()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        no_proxy_environment.setenv(name, dead)
    checker = make_checker(verify=ca_path, proxy=proxy.url())
    assert checker.check(lab.url("ok")).outcome is Outcome.ALIVE
    assert checker.check(site.url("ok").replace("http://", "https://")).outcome is Outcome.ALIVE
    assert [f.method for f in proxy.log] == ["HEAD", "CONNECT"]


# -- through the command line: workers inherit the environment, --proxy travels in the Config --------

def test_cli_workers_use_the_environment_proxy(lab, proxy):
    proc = run_pcheck("check", lab.url("ok"), lab.url("status/404"), "--format", "jsonl", *FAST,
                      env={"HTTP_PROXY": proxy.url()})
    assert proc.returncode == 1, proc.stderr
    assert {r["url"]: r["status"] for r in jsonl(proc)} == {lab.url("ok"): 200, lab.url("status/404"): 404}
    assert straight(lab) == [] and len(via_proxy(lab)) == len(proxy.log) == 3  # HEAD ok, HEAD + GET 404


def test_cli_proxy_option_overrides_the_environment(lab, proxy):
    proc = run_pcheck("check", lab.url("ok"), "--proxy", proxy.url(), "--format", "jsonl", *FAST,
                      env={"HTTP_PROXY": f"http://{dead_address()}"})
    assert proc.returncode == 0, proc.stderr
    assert via_proxy(lab) == [("127.0.0.1", "/ok")]


# -- failures --------------------------------------------------------------------------------------

def test_a_dead_proxy_is_a_proxy_error_naming_the_proxy(lab, make_checker):
    dead = dead_address()
    verdict = make_checker(proxy=f"http://alice:{PASSWORD}@{dead}").check(lab.url("ok"))
    assert (verdict.outcome, verdict.error) == (Outcome.UNCHECKED, ErrorKind.PROXY)  # no verdict on the link (issue 32)
    assert f"proxy http://alice:***@{dead}" in verdict.detail and "refused" in verdict.detail
    assert str(lab.port) not in verdict.detail and PASSWORD not in verdict.detail
    assert lab.log == type(lab.log)([], maxlen=lab.log.maxlen)  # nothing reached the site


def test_a_proxy_refusing_the_tunnel_is_a_proxy_error_naming_it(tls_lab, make_checker):
    site, ca_path = tls_lab
    with Proxy(credentials=("alice", PASSWORD)) as guarded:  # asked without credentials: 407 to CONNECT
        verdict = make_checker(verify=ca_path, proxy=guarded.url()).check(site.url("ok").replace("http:", "https:"))
    assert (verdict.outcome, verdict.error) == (Outcome.UNCHECKED, ErrorKind.PROXY)
    assert verdict.detail.startswith(f"ProxyError: proxy {guarded.url()}: ") and "407" in verdict.detail


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_deadline_holds_through_a_proxy_that_never_answers(lab, make_checker, scheme):
    with Proxy(hang=True) as hanging:
        checker = make_checker(proxy=hanging.url(), timeout=0.5)
        started = time.monotonic()
        verdict = checker.check(lab.url("ok").replace("http:", f"{scheme}:"))
        took = time.monotonic() - started
    assert (verdict.outcome, verdict.error) == (Outcome.BROKEN, ErrorKind.TIMEOUT)
    assert took < 2.0  # 0.5 s asked; the watchdog (http) or the connect deadline (CONNECT) ended it


def test_an_unsupported_proxy_scheme_is_refused_without_sending(lab, make_checker, no_proxy_environment):
    no_proxy_environment.setenv("ALL_PROXY", f"socks5://alice:{PASSWORD}@127.0.0.1:1080")
    verdict = make_checker().check(lab.url("ok"))
    assert (verdict.outcome, verdict.error) == (Outcome.UNCHECKED, ErrorKind.PROXY)
    assert "only http:// and https:// proxies" in verdict.detail and PASSWORD not in verdict.detail
    assert len(lab.log) == 0


# -- --exclude-private through a proxy -----------------------------------------------------------------

def refuse_127_0_0_2(ip) -> bool:
    """127.0.0.2 plays the private network; the rest of the lab plays the Internet."""
    return str(ip) == "127.0.0.2"


def test_exclude_private_judges_the_target_not_the_proxy():
    with Lab(hosts=3) as site, Proxy(host="127.0.0.2") as private_proxy:  # the proxy sits on a "private" address
        transport = Transport(pool_maxsize=2, guard=NetGuard(refuse=refuse_127_0_0_2), proxy=private_proxy.url())
        try:
            checker = Checker(Config(processes=1, timeout=2.0, retries=0), transport)
            allowed = checker.check(site.url("ok"))
            refused = checker.check(site.url("ok", host=1))
        finally:
            transport.close()
        assert (allowed.outcome, allowed.status) == (Outcome.ALIVE, 200)
        assert (refused.outcome, refused.error) == (Outcome.EXCLUDED, ErrorKind.PRIVATE_ADDRESS)
        assert "127.0.0.2" in refused.detail
        assert [f.target for f in private_proxy.log] == [site.url("ok")]  # the refused one never reached the proxy
        assert site.snapshot()["127.0.0.2"].connections == 0


def test_exclude_private_judges_every_redirect_hop_through_a_proxy(proxy):
    with Lab(hosts=3) as site:
        transport = Transport(pool_maxsize=2, guard=NetGuard(refuse=refuse_127_0_0_2), proxy=proxy.url())
        try:
            checker = Checker(Config(processes=1, timeout=2.0, retries=0), transport)
            verdict = checker.check(site.url(f"redirect-to?url=http://127.0.0.2:{site.port}/ok"))
        finally:
            transport.close()
        assert (verdict.outcome, verdict.error, verdict.redirects) == (Outcome.EXCLUDED, ErrorKind.PRIVATE_ADDRESS, 1)
        assert site.snapshot()["127.0.0.2"].requests == 0


def test_cli_exclude_private_refuses_a_loopback_target_even_through_a_proxy(lab, proxy):
    proc = run_pcheck("check", lab.url("ok"), "--exclude-private", "--proxy", proxy.url(), "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert [(r["outcome"], r["error"]) for r in jsonl(proc)] == [("excluded", "private_address")]
    assert proxy.log == [] and len(lab.log) == 0


# -- secrets ------------------------------------------------------------------------------------------

def test_proxy_credentials_go_to_the_proxy_only(lab):
    with Proxy(credentials=("alice", PASSWORD)) as guarded:
        proc = run_pcheck("check", lab.url("ok"), "--proxy", guarded.url(f"alice:{PASSWORD}"),
                          "--format", "jsonl", *FAST)
        assert proc.returncode == 0, proc.stderr
        assert guarded.refused == 0 and len(guarded.log) == 1
    assert PASSWORD not in proc.stdout + proc.stderr
    [seen] = lab.log
    assert not any(name.lower() == "proxy-authorization" for name, _ in seen.headers)


@pytest.mark.parametrize("fmt", FORMATS)
def test_proxy_passwords_never_appear_in_any_report_format(lab, tmp_path, fmt):
    dead = f"http://alice:{PASSWORD}@{dead_address()}"
    out = tmp_path / "report"
    proc = run_pcheck("check", lab.url("ok"), lab.url("status/404"), "--format", fmt, "-o", str(out), *FAST,
                      env={"HTTP_PROXY": dead, "HTTPS_PROXY": dead})
    assert proc.returncode == 1, proc.stderr
    written = out.read_text(encoding="utf-8")
    if fmt in ("jsonl", "json", "csv"):  # they keep the raw detail, which names the proxy, redacted
        assert "alice:***@" in written
    assert PASSWORD not in written + proc.stdout + proc.stderr


def test_a_bad_proxy_option_is_a_usage_error_that_hides_the_password(lab):
    proc = run_pcheck("check", lab.url("ok"), "--proxy", f"socks5://alice:{PASSWORD}@127.0.0.1:1080", *FAST)
    assert proc.returncode == 2
    assert "only http:// and https:// proxies" in proc.stderr and PASSWORD not in proc.stderr
    assert len(lab.log) == 0


def test_the_proxy_is_a_config_file_key(lab, proxy, tmp_path):
    (tmp_path / "pcheck.toml").write_text(f'proxy = "{proxy.url()}"\n', encoding="utf-8")
    proc = run_pcheck("check", lab.url("ok"), "--format", "jsonl", *FAST, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert via_proxy(lab) == [("127.0.0.1", "/ok")]


def test_config_keeps_the_proxy_out_of_its_repr():
    assert PASSWORD not in repr(Config(processes=1, proxy=f"http://alice:{PASSWORD}@127.0.0.1:3128"))
    assert os.environ.get("HTTP_PROXY") is None  # the fixture cleared it
