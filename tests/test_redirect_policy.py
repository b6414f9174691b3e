"""--redirects allow|warn|fail (issue 27): what a redirected link is worth.

`allow` (the default) keeps it alive; `warn` lists it in the report (`place: URL -> final URL (301 Moved
Permanently)`) without failing; `fail` makes it `broken` with error `redirected`, its detail telling a
permanent redirect (301, 308) from a temporary one (302, 303, 307).
"""

from __future__ import annotations

import json

import pytest

from conftest import run_pcheck
from pcheck.models import ErrorKind, Outcome
from support.fast import FAST
from support.transport import Reply, redirect

pytestmark = pytest.mark.timeout(60)


def jsonl(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines()]


def moved(code: int):
    def site(method, url, headers):
        return redirect("http://a.test/new", code) if url.endswith("/old") else Reply(200)
    return site


# -- the checker's rule ---------------------------------------------------------------------------------

@pytest.mark.parametrize("code, kind", [(301, "permanent"), (308, "permanent"), (302, "temporary"),
                                        (303, "temporary"), (307, "temporary")])
def test_fail_makes_a_redirected_link_broken_and_tells_permanent_from_temporary(fake_checker, code, kind):
    verdict = fake_checker(moved(code), redirects="fail").check("http://a.test/old")
    assert verdict.outcome is Outcome.BROKEN and verdict.error is ErrorKind.REDIRECTED
    assert verdict.detail.startswith(f"{kind} redirect: {code} ")
    assert "http://a.test/new" in verdict.detail


def test_allow_keeps_a_redirected_link_alive_and_says_nothing_more(fake_checker):
    verdict = fake_checker(moved(301)).check("http://a.test/old")
    assert verdict.outcome is Outcome.ALIVE and verdict.detail is None and verdict.redirects == 1


def test_warn_keeps_it_alive_with_its_first_hop_in_the_detail(fake_checker):
    verdict = fake_checker(moved(301), redirects="warn").check("http://a.test/old")
    assert verdict.outcome is Outcome.ALIVE and verdict.detail == "permanent redirect: 301 Moved Permanently"


def test_a_chain_is_permanent_only_when_every_hop_is(fake_checker):
    def site(method, url, headers):
        if url.endswith("/a"):
            return redirect("http://a.test/b", 301)
        return redirect("http://a.test/c", 302) if url.endswith("/b") else Reply(200)
    verdict = fake_checker(site, redirects="fail").check("http://a.test/a")
    assert verdict.detail.startswith("temporary redirect: 301 Moved Permanently")


def test_a_redirect_to_a_dead_page_stays_broken_for_its_status(fake_checker):
    def site(method, url, headers):
        return redirect("http://a.test/gone", 301) if url.endswith("/old") else Reply(404)
    verdict = fake_checker(site, redirects="fail").check("http://a.test/old")
    assert verdict.status == 404 and verdict.error is None


# -- end to end on the local site -----------------------------------------------------------------------

def test_fail_turns_a_301_link_broken_and_allow_keeps_it_alive(lab):
    url = lab.url(f"redirect-to?url={lab.url('ok')}&code=301")
    failed = run_pcheck("check", url, "--redirects", "fail", "--format", "jsonl", *FAST)
    assert failed.returncode == 1
    (record,) = jsonl(failed)
    assert (record["outcome"], record["error"]) == ("broken", "redirected")
    assert record["detail"].startswith("permanent redirect: 301 Moved Permanently")
    allowed = run_pcheck("check", url, "--format", "jsonl", *FAST)
    assert allowed.returncode == 0 and jsonl(allowed)[0]["outcome"] == "alive"


def test_warn_lists_each_redirected_link_and_exits_0(lab, tmp_path):
    doc = tmp_path / "doc.md"
    old = lab.url(f"redirect-to?url={lab.url('ok')}&code=301")
    doc.write_text(f"See [it]({old}) and [there]({lab.url('redirect/1')}).\n")
    proc = run_pcheck("check", str(doc), "--redirects", "warn", "--color", "never", *FAST)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"doc.md:1:10: {old} -> {lab.url('ok')}  (301 Moved Permanently)" in proc.stdout
    assert f"{lab.url('redirect/1')} -> {lab.url('redirect/0')}  (302 Found)" in proc.stdout
    assert "1 link redirects permanently" in proc.stdout and "pcheck fix" in proc.stdout


def test_a_bad_policy_is_a_usage_error_naming_it():
    proc = run_pcheck("check", "https://example.org/", "--redirects", "sometimes", *FAST)
    assert proc.returncode == 2 and "--redirects" in proc.stderr and "sometimes" in proc.stderr


def test_warn_asks_a_cached_redirected_link_again_to_list_it(lab, tmp_path):
    url = lab.url(f"redirect-to?url={lab.url('ok')}&code=308")
    for _ in range(2):
        proc = run_pcheck("check", url, "--redirects", "warn", "--cache", "--color", "never", *FAST, cwd=tmp_path)
        assert proc.returncode == 0 and f"{url} -> {lab.url('ok')}  (308 Permanent Redirect)" in proc.stdout
