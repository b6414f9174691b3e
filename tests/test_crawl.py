"""`pcheck crawl`: a site's pages followed from a start URL, every link checked once and reported where it is
written, robots.txt and the bounds obeyed (issue 29), on the lab's generated site (pcheck.lab.crawlsite)."""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys

import pytest

from conftest import run_pcheck
from support import faults as fh
from support.fast import FAST_ANY_PROCESSES
from support.runs import kill_group, read_jsonl

#: A crawl as fast as the lab goes: quick timeouts, no retries, no waits between requests to a host.
CRAWL = [*FAST_ANY_PROCESSES, "-p", "2", "--host-interval", "0"]
EXTRA_EVERY = 16  # every 16th page of a tree links a missing page, a 404 and a page on 127.0.0.2, a private page


def _tree(lab, n: int, i: int, host: int = 0) -> str:
    return lab.url(f"tree/{n}/{i}.html", host=host)


def _requests(lab, address: str = "127.0.0.1") -> collections.Counter:
    """(method, target) of every request an address of the lab got."""
    return collections.Counter((r.method, r.target) for r in lab.log if r.address == address)


def _crawl(lab, tmp_path, *args: str, start: str | None = None):
    report = tmp_path / "report.jsonl"
    result = run_pcheck("crawl", start or _tree(lab, 255, 1), "--format", "jsonl", "-o", str(report), *CRAWL, *args)
    return result, read_jsonl(report, complete=True)


def _crawl_under_way(lab, report, cli_processes, records: int, interval: str = "20ms") -> subprocess.Popen:
    """`pcheck crawl` of the 255-page tree in its own process group, paced so that it can be stopped mid-way;
    returned once `records` records are in its jsonl report."""
    proc = subprocess.Popen([sys.executable, "-m", "pcheck", "crawl", _tree(lab, 255, 1), "--format", "jsonl", "-o",
                             str(report), *FAST_ANY_PROCESSES, "-p", "2", "--host-interval", interval],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    cli_processes.append(proc)
    fh.wait_until(lambda: proc.poll() is not None or len(read_jsonl(report)) >= records, fh.MAX_WAIT_S,
                  "records written")
    return proc


def test_every_page_is_fetched_once_and_every_link_reported_where_it_is_written(lab, tmp_path):
    result, records = _crawl(lab, tmp_path)
    assert result.returncode == 1, result.stderr  # the site has broken links
    fetched = _requests(lab)
    assert {fetched[("GET", f"/tree/255/{i}.html")] for i in range(1, 256)} == {1}  # each page once, none left
    assert not [t for _, t in fetched if "/private/" in t]  # robots.txt disallows them: never requested
    assert len(records) == 820 + 1  # every link of every page, and the start URL
    by_place = {(r["source"], r["line"], r["column"]): r for r in records}
    for i in range(EXTRA_EVERY, 256, EXTRA_EVERY):
        page = _tree(lab, 255, i)
        missing = [r for (source, _, _), r in by_place.items() if source == page and "missing" in r["url"]]
        assert [(r["url"], r["outcome"], r["status"]) for r in missing] == [
            (lab.url(f"tree/255/missing-{i}.html"), "broken", 404)]
        private = [r for (source, _, _), r in by_place.items() if source == page and "/private/" in r["url"]]
        assert [(r["outcome"], r["detail"]) for r in private] == [
            ("excluded", f"disallowed by {lab.base()}/robots.txt")]
    line = f"{lab.base()}/status/404?from=16"  # written on its own line of page 16: the record says where
    record = next(r for r in records if r["url"].startswith(lab.base(1)) and r["url"].endswith("?from=16"))
    assert (record["source"], record["outcome"]) == (_tree(lab, 255, 16), "broken") and record["column"] > 1, line


def test_a_second_host_gets_only_its_linked_urls_never_followed(lab, tmp_path):
    result, records = _crawl(lab, tmp_path)
    assert result.returncode == 1, result.stderr
    linked = {f"/status/404?from={i}" for i in range(EXTRA_EVERY, 256, EXTRA_EVERY)} | {
        f"/tree/255/{i}.html" for i in range(EXTRA_EVERY, 256, EXTRA_EVERY)}
    second = _requests(lab, "127.0.0.2")
    assert {target for _, target in second} == linked  # its pages are checked, not fetched to be followed
    assert all(n <= 2 for n in second.values())  # at most HEAD, then GET
    assert not [r for r in records if r["source"] and r["source"].startswith(lab.base(1))]  # no link read there


def test_max_depth_2_crawls_exactly_the_seven_pages_of_depth_two_and_says_what_it_left(lab, tmp_path):
    result, records = _crawl(lab, tmp_path, "--max-depth", "2")
    fetched = {t for (method, t) in _requests(lab) if method == "GET" and re.fullmatch(r"/tree/255/\d+\.html", t)}
    assert fetched == {f"/tree/255/{i}.html" for i in range(1, 8)}
    assert {r["source"] for r in records} == {"<args>", *(_tree(lab, 255, i) for i in range(1, 8))}
    assert "pcheck: crawled 7 pages" in result.stderr
    assert "pcheck: stopped at --max-depth 2: 8 pages found but not crawled" in result.stderr  # the 8 of depth 3


def test_max_pages_bounds_the_pages_fetched_and_their_links_are_still_all_checked(lab, tmp_path):
    result, records = _crawl(lab, tmp_path, "--max-pages", "10")
    pages = {t for (method, t) in _requests(lab) if method == "GET" and re.fullmatch(r"/tree/255/\d+\.html", t)}
    assert len(pages) == 10
    assert len({r["source"] for r in records} - {"<args>"}) == 10
    said = re.search(r"stopped at --max-pages 10: (\d+) pages found but not crawled", result.stderr)
    assert said and int(said.group(1)) > 0, result.stderr


def test_scope_regexes_choose_the_pages_followed(lab, tmp_path):
    result, records = _crawl(lab, tmp_path, "--scope", r"/tree/255/[1-3]\.html$")
    pages = {t for (method, t) in _requests(lab) if method == "GET" and "/tree/255/" in t}
    assert pages == {"/tree/255/1.html", "/tree/255/2.html", "/tree/255/3.html"}
    assert {_tree(lab, 255, i) for i in (4, 5, 6, 7)} <= {r["url"] for r in records}  # checked, not followed


def test_dump_lists_the_pages_and_checks_no_other_link(lab, tmp_path):
    result = run_pcheck("crawl", _tree(lab, 255, 1), "--max-depth", "1", "--dump", *CRAWL)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [_tree(lab, 255, i) for i in (1, 2, 3)]
    deeper = run_pcheck("crawl", _tree(lab, 255, 1), "--max-depth", "4", "--dump", *CRAWL)  # page 16 links a private one
    assert len(deeper.stdout.splitlines()) == 31 and "/private/" not in deeper.stdout
    assert {t for _, t in _requests(lab) if "/tree/255/" in t} == {f"/tree/255/{i}.html" for i in range(1, 32)}
    assert not [t for method, t in _requests(lab) if method == "HEAD"]  # no link checked but the pages
    assert not _requests(lab, "127.0.0.2")


def test_the_traps_end_within_their_bounds_and_every_stop_is_explained(lab, tmp_path):
    """A redirect loop between pages, a page linking to itself 10,000 times, an endless calendar."""
    result, records = _crawl(lab, tmp_path, "--max-pages", "40", start=lab.url("trap/index.html"))
    assert result.returncode == 1, result.stderr
    self_page = lab.url("trap/self.html")
    assert sum(r["source"] == self_page for r in records) == 10_000  # one record per occurrence
    assert _requests(lab)[("GET", "/trap/self.html")] == 1  # fetched once, however often it links itself
    loop = [r for r in records if r["url"] == lab.url("trap/loop/a")]
    assert loop and {r["error"] for r in loop} == {"redirect_loop"}
    months = [t for (_, t) in _requests(lab) if t.startswith("/trap/cal")]
    assert len(months) <= 40 and "stopped at --max-pages 40" in result.stderr


def test_a_crawl_killed_and_resumed_ends_with_one_record_per_link_and_no_page_fetched_twice(lab, tmp_path,
                                                                                            cli_processes):
    report = tmp_path / "report.jsonl"
    proc = _crawl_under_way(lab, report, cli_processes, 200, interval="10ms")
    kill_group(proc)  # SIGKILL, the whole group, mid-crawl
    assert proc.returncode == -9, "the crawl ended before it could be killed: make it slower"
    first = len(read_jsonl(report))
    assert 0 < first < 821
    journal = (tmp_path / "report.jsonl.pages").read_text(encoding="utf-8").splitlines()
    fetched_before = {json.loads(line)["key"] for line in journal[1:] if line.endswith("}")}
    assert len(fetched_before) >= 50
    again = run_pcheck("crawl", _tree(lab, 255, 1), "--format", "jsonl", "-o", str(report), "--resume", *CRAWL)
    assert again.returncode == 1, again.stderr
    records = read_jsonl(report, complete=True)
    occurrences = collections.Counter((r["url"], r["source"], r["line"], r["column"]) for r in records)
    assert len(occurrences) == 821 and set(occurrences.values()) == {1}
    fetched = _requests(lab)
    # A page the killed crawl had fetched is not fetched again; one whose answer the kill cut off is (at most
    # the requests in flight then).
    assert {fetched[("GET", key[len(lab.base()):])] for key in fetched_before} == {1}
    twice = [i for i in range(1, 256) if fetched[("GET", f"/tree/255/{i}.html")] != 1]
    assert all(fetched[("GET", f"/tree/255/{i}.html")] == 2 for i in twice) and len(twice) <= 2 * 8, twice
    assert not (tmp_path / "report.jsonl.pages").exists()  # the journal goes once the crawl is done


def test_a_start_that_is_not_a_url_or_a_bound_below_one_is_a_usage_error(lab, tmp_path):
    (tmp_path / "README.md").write_text("[a](https://example.org/)\n", encoding="utf-8")
    for args, said in (((str(tmp_path / "README.md"),), "starts from http(s) URLs"),
                       ((), "needs a URL to start from"),
                       ((_tree(lab, 255, 1), "--max-pages", "0"), "--max-pages 0: at least 1"),
                       ((_tree(lab, 255, 1), "--scope", "(unclosed"), "--scope '(unclosed': not a regular expression")):
        result = run_pcheck("crawl", *args, *CRAWL)
        assert result.returncode == 2 and said in result.stderr, (args, result.stderr)
    assert not lab.log


def test_pages_are_never_served_from_the_cache_so_a_second_crawl_follows_them_all(lab, tmp_path):
    cache = tmp_path / "cache.db"
    for _ in range(2):
        result = run_pcheck("crawl", _tree(lab, 255, 1), "--max-depth", "3", "--cache", "--cache-path", str(cache),
                            *CRAWL)
        assert "crawled 15 pages" in result.stdout, result.stdout
    fetched = _requests(lab)
    assert {fetched[("GET", f"/tree/255/{i}.html")] for i in range(1, 16)} == {2}
    assert fetched[("HEAD", "/tree/255/16.html")] == 1  # a plain link (depth 4): served from the cache the 2nd time


def test_sitemap_urls_are_start_pages_reported_from_the_sitemap(lab, tmp_path):
    sitemap = lab.url("sitemap/3.xml")
    result, records = _crawl(lab, tmp_path, "--max-depth", "0", "--sitemap", sitemap)
    from_sitemap = [r for r in records if r["source"] == sitemap]
    assert sorted(r["url"] for r in from_sitemap) == [lab.url(f"ok?s={i}") for i in range(3)]
    assert all(r["outcome"] == "alive" for r in from_sitemap), from_sitemap
    assert {("GET", f"/ok?s={i}") for i in range(3)} <= set(_requests(lab))  # in scope: fetched as pages

def test_ctrl_c_ends_a_crawl_with_a_record_for_every_link_found_and_the_journal_kept(lab, tmp_path, cli_processes):
    import signal

    report = tmp_path / "report.jsonl"
    proc = _crawl_under_way(lab, report, cli_processes, 100)
    proc.send_signal(signal.SIGINT)
    proc.wait(20)
    assert proc.returncode == 130, proc.stderr.read()
    records = read_jsonl(report, complete=True)
    occurrences = collections.Counter((r["url"], r["source"], r["line"], r["column"]) for r in records)
    assert set(occurrences.values()) == {1} and 100 <= len(records) < 821
    assert {r["error"] for r in records if r["outcome"] == "unchecked"} <= {"cancelled"}
    assert (tmp_path / "report.jsonl.pages").exists()  # kept: the crawl may go on with --resume


@pytest.mark.parametrize("fmt", ["text", "json", "csv", "markdown", "junit", "github", "sarif", "html"])
def test_every_format_reports_a_crawl(lab, tmp_path, fmt):
    result = run_pcheck("crawl", _tree(lab, 255, 1), "--max-depth", "4", "--format", fmt, *CRAWL)
    assert result.returncode == 1, result.stderr
    written = "/tree/255/missing-16.html" if fmt in ("github", "sarif") else lab.url("tree/255/missing-16.html")
    assert written in result.stdout  # page 16 (depth 4) links it (as written there, in the review formats)
    if fmt in ("github", "sarif"):
        assert f"on {_tree(lab, 255, 16)}:" in result.stdout  # and the page is said: no file to point at
    assert "crawled 31 pages" in (result.stdout if fmt == "text" else result.stderr)


def test_a_new_crawl_over_an_old_journal_starts_it_afresh(lab, tmp_path, cli_processes):
    """A journal left by a killed crawl, whose report a new run (no --resume) writes anew, is not carried on:
    a later --resume must not take its pages for this run's."""
    import signal

    journal, report = tmp_path / "report.jsonl.pages", tmp_path / "report.jsonl"
    stale = {"key": _tree(lab, 255, 2), "depth": 1, "links": None, "verdict": {
        "outcome": "broken", "status": 500, "error": None, "final_url": None, "redirects": 0, "method": "GET",
        "attempts": 1, "elapsed_ms": 1.0, "detail": None}}
    journal.write_text('{"pcheck_crawl_journal": 1}\n' + json.dumps(stale) + "\n", encoding="utf-8")
    proc = _crawl_under_way(lab, report, cli_processes, 50)
    proc.send_signal(signal.SIGINT)
    proc.wait(20)
    assert proc.returncode == 130
    keys = [json.loads(line).get("key") for line in journal.read_text(encoding="utf-8").splitlines()[1:]]
    assert keys and keys[0] == _tree(lab, 255, 1)  # this run's pages, from its start
    assert '"status": 500' not in journal.read_text(encoding="utf-8")


@pytest.mark.parametrize("given", [["--host-interval", "50ms"], ["--host-interval", "0.05s"], ["--config", "pcheck.toml"]])
def test_a_host_interval_the_user_gives_paces_the_start_host_too_even_spelled_as_the_default(lab, tmp_path, given):
    (tmp_path / "pcheck.toml").write_text('host_interval = "50ms"\n', encoding="utf-8")
    args = [a if a != "pcheck.toml" else str(tmp_path / "pcheck.toml") for a in given]
    result = run_pcheck("crawl", _tree(lab, 255, 1), "--max-depth", "2", *FAST_ANY_PROCESSES, "-p", "2", *args,
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    arrivals = sorted(r.at for r in lab.log if r.address == "127.0.0.1" and "/tree/" in r.target)
    assert len(arrivals) >= 7 and arrivals[-1] - arrivals[0] >= (len(arrivals) - 1) * 0.05 * 0.8


def test_by_default_the_start_host_is_not_paced_but_every_other_host_is(lab, tmp_path):
    result = run_pcheck("crawl", _tree(lab, 255, 1), "--max-depth", "4", *FAST_ANY_PROCESSES, "-p", "2", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    start = sorted(r.at for r in lab.log if r.address == "127.0.0.1" and "/tree/" in r.target)
    assert len(start) > 60 and start[-1] - start[0] < len(start) * 0.05 / 2  # paced at 50 ms: 3 s at least
    first: dict[str, float] = {}  # a check's HEAD and confirming GET go together: the interval is between checks
    for r in lab.log:
        if r.address == "127.0.0.2":
            first.setdefault(r.target, r.at)
    other = sorted(first.values())
    assert len(other) == 2 and other[1] - other[0] >= 0.05 * 0.8


def test_suggest_says_where_a_moved_link_went_in_a_crawl_too(lab, tmp_path):
    start = lab.url("redirect-to?url=/tree/255/1.html&code=301")
    result, records = _crawl(lab, tmp_path, "--max-depth", "0", "--suggest", start=start)
    assert result.returncode == 0, result.stderr
    assert [r["suggestion"] for r in records if r["url"] == start] == [f"moved to {_tree(lab, 255, 1)}"]


def test_a_journal_that_cannot_be_written_stops_the_crawl_before_the_report_is_touched(lab, tmp_path):
    report = tmp_path / "report.jsonl"
    report.write_text('{"url": "an earlier report"}\n', encoding="utf-8")
    (tmp_path / "report.jsonl.pages").mkdir()  # a folder where the journal goes: as a full disk, it cannot be written
    result = run_pcheck("crawl", _tree(lab, 255, 1), "--format", "jsonl", "-o", str(report), *CRAWL)
    assert result.returncode == 2 and "report.jsonl.pages: the crawl's journal cannot be written" in result.stderr
    assert report.read_text(encoding="utf-8") == '{"url": "an earlier report"}\n'
    assert not lab.log
