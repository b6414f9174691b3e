"""--require-https (issue 27): an http:// link whose https:// twin is alive is `broken` (`insecure_link`).

The twin is the same URL with https and the default port, asked once after the http check, in the same
task (so under the same host's caps). A link whose twin is not alive is judged as usual. A URL that names
a port other than 80 has no twin pcheck can guess: it is judged as usual, with no extra request.
"""

from __future__ import annotations

import json
import ssl

import pytest
import trustme

from conftest import run_pcheck
from pcheck.lab import Lab
from pcheck.models import ErrorKind, Outcome
from support.fast import FAST
from support.transport import Reply, redirect

pytestmark = pytest.mark.timeout(60)


def jsonl(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines()]


def both_ways(https_status: int = 200, https_error: Exception | None = None):
    def site(method, url, headers):
        if url.startswith("https:"):
            if https_error is not None:
                raise https_error
            return Reply(https_status)
        return Reply(200)
    return site


# -- the checker's rule ---------------------------------------------------------------------------------

def test_an_http_link_with_a_live_https_twin_is_broken_naming_the_twin(fake_checker):
    checker = fake_checker(both_ways(), require_https=True)
    verdict = checker.check("http://a.test/page?q=1")
    assert verdict.outcome is Outcome.BROKEN and verdict.error is ErrorKind.INSECURE_LINK
    assert "https://a.test/page?q=1" in verdict.detail
    assert [r.url for r in checker.transport.requests] == ["http://a.test/page?q=1", "https://a.test/page?q=1"]
    assert verdict.attempts == 2


@pytest.mark.parametrize("twin", [dict(https_status=404), dict(https_error=ConnectionRefusedError("refused"))])
def test_a_link_whose_twin_is_not_alive_is_judged_as_usual(fake_checker, twin):
    verdict = fake_checker(both_ways(**twin), require_https=True).check("http://a.test/")
    assert verdict.outcome is Outcome.ALIVE and verdict.error is None and verdict.status == 200


def test_a_twin_that_sends_back_to_http_is_no_working_twin(fake_checker):
    def site(method, url, headers):
        return redirect("http://a.test/", 301) if url.startswith("https:") else Reply(200)
    verdict = fake_checker(site, require_https=True).check("http://a.test/")
    assert verdict.outcome is Outcome.ALIVE


@pytest.mark.parametrize("url, options", [("https://a.test/", {"require_https": True}),
                                          ("http://a.test:8080/", {"require_https": True}),
                                          ("http://a.test/", {})])
def test_no_twin_is_asked_for_https_links_other_ports_or_without_the_option(fake_checker, url, options):
    checker = fake_checker(both_ways(), **options)
    assert checker.check(url).outcome is Outcome.ALIVE
    assert [r.url for r in checker.transport.requests] == [url]


# -- end to end: the local site served both ways, on 127.0.0.1:80 and :443 --------------------------------

@pytest.fixture
def served_both_ways(tmp_path):
    """The local site over http on port 80 and over https on 443 (a trustme CA); skipped where those ports
    cannot be bound (not root, or taken)."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    try:
        plain, tls = Lab(port=80).start(), None
        try:
            tls = Lab(ssl_context=server, port=443).start()
        except OSError:
            plain.stop()
            raise
    except OSError as exc:
        pytest.skip(f"ports 80 and 443 cannot be bound here: {exc}")
    try:
        yield plain, tls, ca_path
    finally:
        plain.stop()
        tls.stop()


def test_require_https_flags_an_http_link_with_a_working_https_twin_and_asks_none_without_it(served_both_ways):
    """One test for both, on purpose: two tests binding ports 80 and 443 in parallel workers would take
    turns skipping (seen in CI: 'Address already in use')."""
    plain, tls, ca_path = served_both_ways
    proc = run_pcheck("check", "http://127.0.0.1/ok", "--ca-bundle", str(ca_path), *FAST)
    assert proc.returncode == 0, proc.stdout
    assert not list(tls.log)  # without the option, no twin is asked

    tls.flips["gone"] = 404
    urls = ["http://127.0.0.1/ok", "http://127.0.0.1/flip/gone", "https://127.0.0.1/ok"]
    proc = run_pcheck("check", *urls, "--require-https", "--ca-bundle", str(ca_path), "--format", "jsonl", *FAST)
    assert proc.returncode == 1, proc.stderr
    by_url = {r["url"]: r for r in jsonl(proc)}
    flagged = by_url["http://127.0.0.1/ok"]
    assert (flagged["outcome"], flagged["error"]) == ("broken", "insecure_link")
    assert "https://127.0.0.1/ok" in flagged["detail"]
    assert by_url["http://127.0.0.1/flip/gone"]["outcome"] == "alive"  # its twin is dead: judged as usual
    assert by_url["https://127.0.0.1/ok"]["outcome"] == "alive"
    asked = [e.target for e in tls.log]  # the twins (a 404 confirmed with GET), and the https link itself
    assert asked.count("/ok") == 2 and set(asked) == {"/ok", "/flip/gone"}
