"""--soft-404 (issue 30): pages that are gone but answer 200 are `broken` (`soft_404`).

Each host with a 200 answer is asked once per run for a page that cannot exist, in the directory of its
first such link; when that answers 2xx too, the host serves soft 404s and each of its 200 pages is compared
with it (title, length, word shingles). A deep link redirected to its site's home page is a soft 404 too.
The lab's `/soft/` section (pcheck/lab/soft404site.py) is such a host.
"""

from __future__ import annotations

import json

import pytest

from conftest import run_pcheck
from pcheck.lab.soft404site import REAL_PAGE, not_found_page
from pcheck.models import CheckResult, ErrorKind, Outcome
from pcheck.run.soft404 import (
    PROBE_PREFIX,
    SOFT_404_BYTES,
    Fingerprint,
    fingerprint,
    home_redirect,
    looks_alike,
    probe_url,
    similarity,
)
from support.fast import FAST

pytestmark = pytest.mark.timeout(60)


def jsonl(proc) -> dict[str, dict]:
    return {json.loads(line)["url"]: json.loads(line) for line in proc.stdout.splitlines()}


def probes(lab) -> list:
    return [r for r in lab.log if PROBE_PREFIX in r.target]


# -- end to end: the "done when" ------------------------------------------------------------------

def test_missing_pages_of_a_soft_host_are_broken_soft_404_its_real_page_alive_and_a_deep_page_moved_home_broken(lab):
    missing, other, real, moved = (lab.url("soft/no-such-page"), lab.url("soft/old/gone.html"), lab.url("soft/real"),
                                   lab.url("soft/deep/old"))
    proc = run_pcheck("check", missing, other, real, moved, *FAST, "--soft-404", "--format", "jsonl")
    records = jsonl(proc)
    assert proc.returncode == 1, proc.stderr
    for url in (missing, other):
        assert (records[url]["outcome"], records[url]["error"]) == ("broken", "soft_404")
        assert "same title 'Page not found'" in records[url]["detail"]
        assert records[url]["transient"] is False
    assert (records[real]["outcome"], records[real]["error"]) == ("alive", None)
    assert (records[moved]["outcome"], records[moved]["error"]) == ("broken", "soft_404")
    assert records[moved]["detail"] == f"redirected to the home page ({lab.url('')})"


def test_without_soft_404_the_same_links_are_all_alive_and_nothing_is_probed(lab):
    urls = [lab.url("soft/no-such-page"), lab.url("soft/real"), lab.url("soft/deep/old")]
    proc = run_pcheck("check", *urls, *FAST, "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    assert {r["outcome"] for r in jsonl(proc).values()} == {"alive"}
    assert probes(lab) == []


def test_a_host_whose_missing_pages_answer_404_is_probed_once_and_its_pages_stay_alive(lab):
    urls = [lab.url(f"status/200?i={i}") for i in range(5)]
    proc = run_pcheck("check", *urls, *FAST, "--soft-404", "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    assert {r["outcome"] for r in jsonl(proc).values()} == {"alive"}
    asked = probes(lab)
    assert len(asked) == 1 and asked[0].target.startswith(f"/status/{PROBE_PREFIX}")
    # Its pages are not asked again: only a soft host's 200 pages are.
    assert sum(r.target.startswith("/status/200") for r in lab.log) == 5


def test_one_probe_per_host_per_run_with_two_worker_processes(lab):
    urls = [lab.url(f"soft/missing-{i}", i % 2) for i in range(40)] + [lab.url("soft/real", 1)]
    proc = run_pcheck("check", *urls, *FAST, "-p", "2", "--soft-404", "--format", "jsonl")
    records = jsonl(proc)
    assert sorted(r.address for r in probes(lab)) == [lab.addresses[0], lab.addresses[1]]
    assert all(records[lab.url(f"soft/missing-{i}", i % 2)]["error"] == "soft_404" for i in range(40))
    assert records[lab.url("soft/real", 1)]["outcome"] == "alive"


def test_the_probe_waits_the_hosts_interval_after_the_hosts_last_request(lab):
    url = lab.url("soft/no-such-page")
    proc = run_pcheck("check", url, *FAST, "--host-interval", "700ms", "--soft-404", "--format", "jsonl")
    assert jsonl(proc)[url]["error"] == "soft_404"
    log = list(lab.log)
    probe = next(i for i, r in enumerate(log) if PROBE_PREFIX in r.target)
    assert probe > 0
    gaps = [b.at - a.at for a, b in zip(log, log[1:])]
    assert min(gaps) >= 0.65, [(r.method, r.target, round(r.at, 3)) for r in log]


@pytest.mark.parametrize("path", ["soft/binary", "soft/huge"])
def test_hostile_bodies_on_a_soft_host_never_crash_and_stay_alive(lab, path):
    url = lab.url(path)
    proc = run_pcheck("check", lab.url("soft/x"), url, *FAST, "--soft-404", "--format", "jsonl")
    records = jsonl(proc)
    assert records[url]["outcome"] == "alive", proc.stderr
    assert records[lab.url("soft/x")]["error"] == "soft_404"


def test_the_text_report_says_why_a_soft_404_is_broken(lab):
    proc = run_pcheck("check", lab.url("soft/deep/old"), *FAST, "--soft-404")
    assert proc.returncode == 1
    assert "redirected to the home page" in proc.stdout


def test_crawl_takes_soft_404_too(lab):
    proc = run_pcheck("crawl", lab.url("soft/real"), *FAST, "--soft-404", "--format", "jsonl", "--max-pages", "1")
    by_end = {url.rsplit(str(lab.port), 1)[-1]: record for url, record in jsonl(proc).items()}
    assert by_end["/soft/blog"]["error"] == "soft_404", proc.stderr
    assert by_end["/"]["outcome"] == "alive"


# -- the rules, without a network -----------------------------------------------------------------------

def test_a_not_found_page_is_alike_whatever_path_it_echoes_and_a_real_page_is_not():
    probe = fingerprint(not_found_page("/soft/pcheck-soft404-0123"), "http://h/soft/pcheck-soft404-0123")
    missing = fingerprint(not_found_page("/soft/some/other/page"), "http://h/soft/some/other/page")
    assert probe.title == "Page not found"
    assert similarity(missing, probe) == 1.0
    assert looks_alike(missing, probe, "http://h/p") is not None
    assert looks_alike(fingerprint(REAL_PAGE, "http://h/soft/real"), probe, "http://h/p") is None


def test_a_same_title_alone_is_not_enough_the_text_must_match_too():
    probe = Fingerprint("My site", 1000, frozenset(range(100)))
    assert looks_alike(Fingerprint("My site", 1000, frozenset(range(200, 300))), probe, "u") is None
    assert looks_alike(Fingerprint("My site", 1000, frozenset(range(30, 130))), probe, "u") is not None


def test_a_page_of_another_length_is_not_alike_even_with_the_same_text():
    probe = Fingerprint("", 1000, frozenset(range(100)))
    assert looks_alike(Fingerprint("", 1000, frozenset(range(100))), probe, "u") is not None
    assert looks_alike(Fingerprint("", 3000, frozenset(range(100))), probe, "u") is None


@pytest.mark.parametrize("body", [b"", b"\x00\xff" * 50_000, b"<title>" * 10_000, b"<html><title>x</title",
                                  "<title>caf\u00e9 \u2603</title><p>\u00e9t\u00e9</p>".encode("utf-16"),
                                  b"<script>" + b"a " * 100_000])
def test_any_bytes_have_a_fingerprint(body):
    found = fingerprint(body, "http://h/x")
    assert found.length == len(body) and len(found.title) <= 120
    assert 0.0 <= similarity(found, fingerprint(not_found_page("/x"))) <= 1.0
    assert SOFT_404_BYTES == 16 * 1024


def test_the_probe_is_in_the_directory_of_the_link():
    assert probe_url("https://h/docs/guide/page.html?q=1", "ab") == f"https://h/docs/guide/{PROBE_PREFIX}ab"
    assert probe_url("https://h/docs/", "ab") == f"https://h/docs/{PROBE_PREFIX}ab"
    assert probe_url("https://h", "ab") == f"https://h/{PROBE_PREFIX}ab"


def result(key: str, final_url: str | None, redirects: int = 1, outcome: Outcome = Outcome.ALIVE) -> CheckResult:
    return CheckResult(url=key, key=key, host="h", outcome=outcome, status=200, final_url=final_url, redirects=redirects)


@pytest.mark.parametrize("key, final, home", [
    ("https://h.org/docs/old", "https://h.org/", True),
    ("https://h.org/docs/old", "https://www.h.org/index.html", True),
    ("http://h.org/a", "https://h.org", True),
    ("https://h.org/", "https://h.org/", False),  # the home page itself
    ("https://h.org/docs/old", "https://h.org/docs/", False),  # another page of the site
    ("https://sho.rt/abc", "https://example.org/", False),  # a short link to another site's home page
    ("https://h.org/a", "https://h.org/?lang=en", False),
])
def test_a_deep_link_redirected_to_its_own_sites_home_page_is_a_home_redirect(key, final, home):
    assert home_redirect(result(key, final)) is home


def test_an_answer_without_a_redirect_or_not_alive_is_no_home_redirect():
    assert not home_redirect(result("https://h.org/a", "https://h.org/", redirects=0))
    assert not home_redirect(result("https://h.org/a", "https://h.org/", outcome=Outcome.BROKEN))
    assert ErrorKind.SOFT_404.value == "soft_404"
