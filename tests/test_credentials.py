"""Credentials (issues 5, 13): --header and host-table secrets never cross a change of origin, and .netrc is never read.

The Checker's rules run on the FakeTransport (support/transport.py); what the real transport and the
command send is watched on the local site."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest
from conftest import run_pcheck
from support.fast import FAST
from support.runs import jsonl
from support.servers import headers_of
from support.transport import Reply, redirect

from pcheck.check.auth import is_credential, redirect_headers
from pcheck.urls import changes_origin
from pcheck.config import HostPolicy
from pcheck.lab import Lab
from pcheck.models import Outcome

pytestmark = pytest.mark.timeout(30)

SENSITIVE = ("authorization", "cookie", "proxy-authorization")


# -- credentials -----------------------------------------------------------------------------------------

CREDENTIALS = {"authorization": "Bearer T0KEN", "cookie": "sid=C00KIE", "proxy-authorization": "Basic UFJPWFk="}


@pytest.mark.timeout(60)
def test_cli_drops_credentials_on_cross_origin_redirects_only(lab):
    cross = lab.url("redirect-to?url=" + quote(lab.url("ok?c=1", host=1), safe=""))
    same = lab.url("redirect/1?s=1")
    headers = [arg for name, value in CREDENTIALS.items() for arg in ("--header", f"{name.title()}: {value}")]
    proc = run_pcheck("check", cross, same, *headers, "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert {r["outcome"] for r in jsonl(proc)} == {"alive"}
    first = [headers_of(e) for e in lab.log if e.address == "127.0.0.1"]
    second = [headers_of(e) for e in lab.log if e.address == "127.0.0.2"]
    assert len(first) == 3 and len(second) == 1  # cross hop 1, same hops 1 and 2; cross hop 2
    for h in first:
        assert all(h.get(name) == [value] for name, value in CREDENTIALS.items()), h
    for h in second:
        assert not any(name in h for name in SENSITIVE), h
    assert all(headers_of(e)["accept-encoding"] == ["identity"] for e in lab.log)


def test_credentials_stay_dropped_after_a_redirect_back(fake_checker):
    def site(method, url, headers):
        return {"http://a.test/start": redirect("http://b.test/via"), "http://b.test/via": redirect("http://a.test/back")
                }.get(url, Reply(200))

    checker = fake_checker(site, headers=tuple((k.title(), v) for k, v in CREDENTIALS.items()))
    verdict = checker.check("http://a.test/start")
    assert (verdict.outcome, verdict.redirects) == (Outcome.ALIVE, 2)
    sent = checker.transport.requests
    assert [r.url for r in sent] == ["http://a.test/start", "http://b.test/via", "http://a.test/back"]
    assert "Authorization" in sent[0].headers
    assert not any(name.lower() in SENSITIVE for r in sent[1:] for name in r.headers)


def test_cross_port_redirect_drops_credentials_and_url_userinfo(lab, make_checker):
    with Lab(hosts=1) as other:  # same address, another port: another origin
        target = other.url("ok")
        start = lab.url("redirect-to?url=" + quote(target, safe="")).replace("http://", "http://alice:pw@")
        checker = make_checker(headers=(("Authorization", "Bearer T0KEN"), ("Cookie", "a=b")))
        verdict = checker.check(start)
        assert (verdict.outcome, verdict.redirects) == (Outcome.ALIVE, 1)
        [hop2] = list(other.log)
        assert not any(name in headers_of(hop2) for name in SENSITIVE)
    assert "authorization" in headers_of(lab.log[0])


@pytest.mark.timeout(60)
def test_cli_never_uses_netrc(lab, tmp_path):
    # Environment proxies are honoured (tests/test_proxies.py); netrc credentials never are.
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\ndefault login bob password hunter2\n")
    netrc.chmod(0o600)
    env = {"HOME": str(tmp_path), "NETRC": str(netrc)}
    # A process started with this environment, workers and all (they would read netrc).
    proc = run_pcheck("check", lab.url("ok"), lab.url("redirect/1"), "--format", "jsonl", *FAST, env=env,
                      subprocess=True)
    assert proc.returncode == 0, proc.stderr
    assert {r["outcome"] for r in jsonl(proc)} == {"alive"}
    assert len(lab.log) == 3
    assert all(e.address == "127.0.0.1" and "authorization" not in headers_of(e) for e in lab.log)
    assert lab.snapshot()["127.0.0.3"].connections == 0


# -- secrets stay with their host (issue 13) ---------------------------------------------------------------

SECRETS = (("Authorization", "Bearer T"), ("Cookie", "sid=C"), ("Proxy-Authorization", "Basic P"),
           ("X-Api-Key", "K"), ("PRIVATE-TOKEN", "T2"), ("X-Session-Id", "S"), ("X-Client-Secret", "S2"),
           ("X-Auth-User", "U"))
PLAIN = (("X-Trace", "1"), ("Accept-Language", "en"))


@pytest.mark.parametrize("old, new, crosses", [
    ("https://a.test/x", "http://a.test/x", True),  # a downgrade on the same host changes origin
    ("http://a.test/x", "https://a.test/x", True),
    ("http://a.test/x", "http://b.test/x", True),
    ("http://a.test:8080/x", "http://a.test:8081/x", True),
    ("http://a.test/x", "http://A.test:80/y?z", False),
    ("https://a.test/x", "https://a.test:443/y", False),
])
def test_credential_like_headers_are_dropped_on_every_change_of_origin(old, new, crosses):
    headers = dict(SECRETS + PLAIN)
    assert all(is_credential(name) for name, _ in SECRETS) and not any(is_credential(n) for n, _ in PLAIN)
    kept = redirect_headers(headers, changes_origin(old, new))
    assert kept == (dict(PLAIN) if crosses else headers)
    assert redirect_headers(dict(PLAIN), changes_origin(old, new)) == dict(PLAIN)


def test_command_line_credentials_never_reach_the_host_a_redirect_points_to(fake_checker):
    def site(method, url, headers):
        return redirect("http://b.test/ok?to=2") if url.startswith("http://a.test/") else Reply(200)

    checker = fake_checker(site, headers=SECRETS + PLAIN)
    verdict = checker.check("http://a.test/redirect-to")
    assert (verdict.outcome, verdict.redirects) == (Outcome.ALIVE, 1)
    first, second = checker.transport.requests
    assert all(first.headers.get(name) == value for name, value in SECRETS + PLAIN)
    assert second.url == "http://b.test/ok?to=2"
    assert not [name for name, _ in SECRETS if name in second.headers]
    assert all(second.headers.get(name) == value for name, value in PLAIN)


def test_host_table_headers_go_to_that_host_only_never_where_it_redirects(fake_checker):
    table = (("X-Api-Key", "for-1"), ("PRIVATE-TOKEN", "t1"), ("X-Plain-Setting", "p1"))
    hosts = (("one.test", HostPolicy(headers=table)), ("three.test", HostPolicy(headers=(("X-Api-Key", "for-3"),))))
    redirects = {"http://one.test/to-2": "http://two.test/ok?i=2", "http://two.test/to-1": "http://one.test/ok?i=1",
                 "http://one.test/to-3": "http://three.test/ok?i=3"}

    def site(method, url, headers):
        return redirect(redirects[url]) if url in redirects else Reply(200)

    checker = fake_checker(site, hosts=hosts)
    assert [checker.check(u).outcome for u in redirects] == [Outcome.ALIVE] * 3
    sent = {r.url: {k.lower(): v for k, v in r.headers.items()} for r in checker.transport.requests}
    for url, headers in sent.items():
        own = {"one.test": table, "three.test": (("X-Api-Key", "for-3"),)}.get(urlsplit(url).hostname, ())
        assert {k: v for k, v in headers.items() if k in ("x-api-key", "private-token", "x-plain-setting")} \
            == {k.lower(): v for k, v in own}, url
    assert len(sent) == 6
