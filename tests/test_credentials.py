"""Credentials (issue 5): --header secrets never cross a change of origin, and .netrc is never read."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from conftest import run_pcheck
from pcheck.lab import Lab
from pcheck.models import Outcome

from support.fast import FAST
from support.runs import jsonl
from support.servers import headers_of

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


def test_credentials_stay_dropped_after_a_redirect_back(lab, make_checker):
    back = lab.url("ok?back=1")
    via_b = lab.url("redirect-to?url=" + quote(back, safe=""), host=1)
    start = lab.url("redirect-to?url=" + quote(via_b, safe=""))
    checker = make_checker(headers=tuple((k.title(), v) for k, v in CREDENTIALS.items()))
    verdict = checker.check(start)
    assert (verdict.outcome, verdict.redirects) == (Outcome.ALIVE, 2)
    sent = [(e.address, e.target, headers_of(e)) for e in lab.log]
    assert [s[:2] for s in sent][2] == ("127.0.0.1", "/ok?back=1")
    assert "authorization" in sent[0][2]
    assert not any(name in h for _, _, h in sent[1:] for name in SENSITIVE)


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
