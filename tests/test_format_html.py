"""--format html (issue 30): one self-contained page, streamed, safe against a hostile list, and read back
in a real browser (headless Chromium over the DevTools protocol, tests/support/browser.py).

Where Chromium cannot be found or started the browser tests skip, saying why; with
PCHECK_REQUIRE_BROWSER=1 (set by .ci/run once it installed the browser) they fail instead.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import html.parser
import io
import json
import os
import re
import subprocess
import sys

import pytest
from support.browser import Browser, BrowserError, find_chromium

from pcheck.models import CheckResult, ErrorKind, Outcome, Verdict
from pcheck.output import htmlreport
from pcheck.output.htmlreport import data_json
from pcheck.output.reports import make_reporter

N = 5_000
HOSTS = [f"h{i}.test" for i in range(10)]
#: Outcomes in the proportions of a link-rot audit: mostly alive, every kind of problem present.
KINDS = [(Outcome.ALIVE, 200, None)] * 6 + [
    (Outcome.BROKEN, 404, None), (Outcome.BROKEN, None, ErrorKind.TIMEOUT), (Outcome.BROKEN, None, ErrorKind.DNS),
    (Outcome.BLOCKED, 403, None), (Outcome.INVALID, None, ErrorKind.INVALID_URL),
    (Outcome.EXCLUDED, None, ErrorKind.UNSUPPORTED), (Outcome.UNCHECKED, None, ErrorKind.WORKER_CRASHED)]
HOSTILE = [
    "https://evil.test/</script><script>window.__pwned = 1</script>",
    'https://evil.test/"><img src=x onerror="window.__pwned = 2">',
    "https://evil.test/\u2028\u2029line<!--comment",
    "https://evil.test/&lt;b&gt;&amp;",
    "javascript:window.__pwned=3",
]


def mixed(n: int = N) -> list[CheckResult]:
    results = []
    for i in range(n):
        outcome, status, error = KINDS[i % len(KINDS)]
        host = HOSTS[i % len(HOSTS)]
        url = f"https://{host}/page/{i}"
        source, line, column = (f"docs/p{i % 7}.md", i // 7 + 1, 3) if i % 2 else ("urls.txt", i + 1, None)
        verdict = Verdict(outcome, status=status, error=error, elapsed_ms=float(i % 997),
                          detail="not an absolute http(s) URL" if outcome is Outcome.INVALID else None)
        results.append(CheckResult.of(url, source, line, verdict, host=host, column=column))
    return results


def hostile() -> list[CheckResult]:
    broken = Verdict(Outcome.BROKEN, status=404, detail="</script><img src=x onerror=alert(1)>")
    out = [CheckResult.of(url, "<b>docs</b>/x\u2028.md", 1 + i, broken, host="evil.test", column=1)
           for i, url in enumerate(HOSTILE[:-1])]
    return out + [CheckResult.of(HOSTILE[-1], "urls.txt", 9, Verdict(Outcome.INVALID, error=ErrorKind.INVALID_URL))]


def page_of(results: list[CheckResult], **options) -> str:
    stream = io.StringIO()
    reporter = make_reporter("html", stream, **options)
    for r in results:
        reporter.write(r)
    reporter.finish(2.5, False)
    return stream.getvalue()


class Tags(html.parser.HTMLParser):
    """Every start tag with its attributes, and the text of every script and style element."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.texts: list[tuple[str, dict, str]] = []
        self._open: tuple[str, dict] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open = (tag, dict(attrs))

    def handle_data(self, data):
        if self._open:
            self.texts.append((*self._open, data))
            self._open = None


def parsed(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


# -- the file ---------------------------------------------------------------------------------------------


def test_the_page_loads_nothing_from_anywhere_and_its_policy_says_so():
    page = page_of(mixed(200))
    tags = parsed(page)
    assert not [t for t, a in tags.tags if "src" in a or (t == "link" and "href" in a)]
    assert not re.search(r"@import|url\(", page)
    csp = [a["content"] for t, a in tags.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert len(csp) == 1 and "default-src 'none'" in csp[0] and "unsafe" not in csp[0]


def test_the_policy_lets_run_exactly_the_pages_own_script_and_style_by_their_hashes():
    tags = parsed(page_of(mixed(20)))
    csp = next(a["content"] for t, a in tags.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    code = [text for tag, attrs, text in tags.texts if tag == "style" or (tag == "script" and "type" not in attrs)]
    assert len(code) == 2
    for text in code:
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_the_page_holds_the_counts_and_every_record():
    results = mixed(700)
    tags = parsed(page_of(results))
    summary = json.loads(next(text for tag, attrs, text in tags.texts if attrs.get("id") == "pcheck-summary"))
    expected = collections.Counter(r.outcome.value for r in results)
    assert summary["total"] == 700 and summary["counts"] == {o.value: expected[o.value] for o in Outcome}
    rows = [row for tag, attrs, text in tags.texts if attrs.get("class") == "pcheck-records" for row in json.loads(text)]
    assert [row[1] for row in rows] == [r.url for r in results]


def test_records_reach_the_file_as_they_come_in_blocks_before_the_run_ends(monkeypatch):
    monkeypatch.setattr(htmlreport, "RECORDS_PER_BLOCK", 10)
    stream = io.StringIO()
    reporter = make_reporter("html", stream)
    for r in mixed(25):
        reporter.write(r)
    written = stream.getvalue()
    assert written.count("</script>") == 2 and "https://h4.test/page/24" in written  # two blocks closed, a third open
    reporter.finish(1.0, False)
    assert stream.getvalue().count('class="pcheck-records"') == 3


def test_a_record_costs_at_most_600_bytes_of_the_file():
    empty, full = page_of([]), page_of(mixed())
    per_record = (len(full.encode()) - len(empty.encode())) / N
    assert per_record <= 600, per_record
    assert len(full.encode()) <= 600 * N


def test_data_blocks_hold_no_markup_and_no_line_separator_whatever_the_list_holds():
    for text in [*HOSTILE, "\udcff lone surrogate", "</SCRIPT >", "<!-- <script>", "\u2028"]:
        encoded = data_json([text])
        assert not set(encoded) & set("<>&\u2028\u2029") and encoded.isascii()
        assert json.loads(encoded) == [text]


def test_a_hostile_list_cannot_open_an_element_in_the_page():
    tags = parsed(page_of(hostile()))
    assert [t for t, a in tags.tags] == ["html", "head", "meta", "meta", "meta", "meta", "title", "style", "body",
                                         "noscript", "p", "main", "script", "script", "script"]


def test_format_html_writes_one_file_from_the_command_line(tmp_path):
    doc = tmp_path / "guide.md"
    doc.write_text("[gone](missing.md) and [there](guide.md)\n\nmailto:someone@example.org\n")
    out = tmp_path / "report.html"
    proc = subprocess.run([sys.executable, "-m", "pcheck", "check", str(doc), "--format", "html", "-o", str(out)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>\n") and "missing.md" in page


# -- in the browser ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    executable = find_chromium()
    problem = None
    if executable is None:
        problem = "no Chromium found (install the Debian package `chromium`, or set PCHECK_CHROMIUM)"
    else:
        try:
            started = Browser(executable, tmp_path_factory.mktemp("chromium-profile"))
        except (OSError, BrowserError) as exc:
            problem = f"Chromium ({executable}) could not be started: {exc}"
    if problem:
        if os.environ.get("PCHECK_REQUIRE_BROWSER") == "1":
            pytest.fail(f"PCHECK_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(f"browser tests skipped: {problem}")
    yield started
    started.close()


@pytest.fixture(scope="module")
def report(browser, tmp_path_factory):
    """The page of 5,000 mixed records, opened and drawn."""
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(page_of(mixed()), encoding="utf-8")
    page = browser.open(path.as_uri())
    assert page.wait_for("document.body.getAttribute('data-ready')") == "1"
    return page


def shown(page, expression: str = "") -> list[list[str]]:
    """Every row the problems table lists, across its pages (1,000 a page), as its cells' text; `expression`
    first (a filter set, a header clicked)."""
    return page.evaluate("""(() => {
      %s;
      const size = document.getElementById('problems-size');
      size.value = '1000'; size.dispatchEvent(new Event('change'));
      const rows = [], next = document.getElementById('problems-next');
      for (;;) {
        for (const tr of document.querySelectorAll('#problems-body tr')) rows.push([...tr.cells].map(td => td.textContent));
        if (next.disabled) return rows;
        next.click();
      }
    })()""" % expression)


def set_filter(id_: str, value: str) -> str:
    event = "change" if id_ == "f-outcome" else "input"
    return f"(e => {{ e.value = {json.dumps(value)}; e.dispatchEvent(new Event('{event}')); }})(document.getElementById('{id_}'))"


URL, HOST, MS, OUTCOME = 2, 5, 6, 1


def test_the_browser_draws_the_counts_and_both_charts(report):
    cards = report.evaluate("[...document.querySelectorAll('#counts .card')].map(c => [c.dataset.outcome, c.querySelector('b').textContent])")
    expected = collections.Counter(r.outcome.value for r in mixed())
    assert dict(cards) == {"total": f"{N:,}", **{o: f"{n:,}" for o, n in expected.items()}}
    bars = report.evaluate("[...document.querySelectorAll('#chart-kinds text')].map(t => t.textContent)")
    assert {"HTTP 404", "timeout", "dns", "HTTP 403", "invalid_url", "worker_crashed"} <= set(bars)
    assert report.evaluate("document.querySelectorAll('#chart-outcomes rect').length") == len(expected)


def test_the_browser_renders_every_link_that_is_not_alive_across_the_pages(report):
    problems = {r.url for r in mixed() if r.outcome in (Outcome.BROKEN, Outcome.BLOCKED, Outcome.INVALID, Outcome.UNCHECKED)}
    rows = shown(report, set_filter("f-outcome", "problems"))
    assert len(rows) == len(problems) and {row[URL] for row in rows} == problems
    every = shown(report, set_filter("f-outcome", ""))
    assert {row[URL] for row in every} == {r.url for r in mixed()}


def test_filtering_by_host_lists_that_hosts_problems_only(report):
    rows = shown(report, set_filter("f-outcome", "problems") + ";" + set_filter("f-host", "h3.test"))
    expected = {r.url for r in mixed() if r.host == "h3.test" and r.outcome.value in ("broken", "blocked", "invalid", "unchecked")}
    assert {row[URL] for row in rows} == expected and {row[HOST] for row in rows} == {"h3.test"}
    report.evaluate(set_filter("f-host", ""))


def test_filtering_by_outcome_lists_that_outcome_only(report):
    rows = shown(report, set_filter("f-outcome", "blocked"))
    assert {row[URL] for row in rows} == {r.url for r in mixed() if r.outcome is Outcome.BLOCKED}
    assert {row[OUTCOME] for row in rows} == {"blocked"}
    report.evaluate(set_filter("f-outcome", "problems"))


def test_filtering_by_text_matches_the_url_place_and_reason(report):
    assert {row[URL] for row in shown(report, set_filter("f-text", "Page/4999"))} == {"https://h9.test/page/4999"}
    assert len(shown(report, set_filter("f-text", "timed out"))) == sum(r.error is ErrorKind.TIMEOUT for r in mixed())
    report.evaluate(set_filter("f-text", ""))


def test_a_click_on_a_column_sorts_by_it_and_a_second_click_reverses(report):
    click = "document.querySelector('#problems th[data-key=\"ms\"]').click()"
    down = [int(row[MS].replace(",", "")) for row in shown(report, click)]
    assert down == sorted(down, reverse=True) and down[0] > down[-1]
    up = [int(row[MS].replace(",", "")) for row in shown(report, click)]
    assert up == sorted(up)
    urls = [row[URL] for row in shown(report, "document.querySelector('#problems th[data-key=\"url\"]').click()")]
    assert urls == sorted(urls)


def test_the_host_table_counts_each_host_and_a_click_filters_the_links_by_it(report):
    rows = report.evaluate("document.getElementById('tab-hosts').click();"
                           "[...document.querySelectorAll('#hosts-body tr')].map(tr => [...tr.cells].map(td => td.textContent))")
    by_host = {row[0]: row[1:] for row in rows}
    h0 = [r for r in mixed() if r.host == "h0.test"]
    times = sorted(r.elapsed_ms for r in h0 if r.outcome in (Outcome.ALIVE, Outcome.BROKEN, Outcome.BLOCKED))
    median = (times[len(times) // 2 - 1] + times[len(times) // 2]) / 2 if len(times) % 2 == 0 else times[len(times) // 2]
    assert by_host["h0.test"] == [str(len(h0)), str(len(times)), str(sum(r.outcome is Outcome.BROKEN for r in h0)),
                                  str(sum(r.outcome is Outcome.BLOCKED for r in h0)), f"{median:,g}"]
    report.evaluate("[...document.querySelectorAll('#hosts-body tr')].find(tr => tr.cells[0].textContent === 'h0.test').click()")
    assert report.evaluate("document.getElementById('f-host').value") == "h0.test"
    assert {row[HOST] for row in shown(report)} == {"h0.test"}
    report.evaluate(set_filter("f-host", ""))


def test_the_by_file_view_counts_each_document_and_a_click_lists_its_links(report):
    rows = report.evaluate("document.getElementById('tab-files').click();"
                           "[...document.querySelectorAll('#files-body tr')].map(tr => [...tr.cells].map(td => td.textContent))")
    p3 = [r for r in mixed() if r.source == "docs/p3.md"]
    assert {row[0]: row[1] for row in rows}["docs/p3.md"] == str(len(p3))
    report.evaluate("[...document.querySelectorAll('#files-body tr')].find(tr => tr.cells[0].textContent === 'docs/p3.md').click()")
    listed = shown(report, set_filter("f-outcome", ""))
    assert {row[URL] for row in listed} == {r.url for r in p3} and all(row[0].startswith("docs/p3.md:") for row in listed)
    report.evaluate("document.getElementById('f-file').click()")


def test_no_request_leaves_the_page_and_nothing_breaks_its_policy(report, browser):
    requested = {e["request"]["url"] for e in report.events("Network.requestWillBeSent")}
    assert all(url.startswith("file:") for url in requested), requested
    assert not report.events("Runtime.exceptionThrown")
    assert not [e for e in report.events("Log.entryAdded") if "Content Security Policy" in e["entry"].get("text", "")]
    refused = report.evaluate("""new Promise(resolve => {
      document.addEventListener('securitypolicyviolation', e => resolve(e.violatedDirective), {once: true});
      const img = document.createElement('img'); img.src = 'http://127.0.0.1:9/x.png'; document.body.appendChild(img);
    })""")
    assert refused.startswith("img-src")


def test_a_hostile_url_list_renders_as_text_and_runs_nothing(browser, tmp_path):
    path = tmp_path / "hostile.html"
    path.write_text(page_of(hostile()), encoding="utf-8")
    page = browser.open(path.as_uri())
    assert page.wait_for("document.body.getAttribute('data-ready')") == "1"
    rows = shown(page)
    assert {row[URL] for row in rows} == {*HOSTILE[:2], "https://evil.test/\\u2028\\u2029line<!--comment",
                                          HOSTILE[3], HOSTILE[4]}
    assert {row[0] for row in rows} >= {"<b>docs</b>/x\\u2028.md:1:1"}
    assert page.evaluate("window.__pwned === undefined && document.querySelectorAll('img, [onerror], main b:not(.card b), #problems-body script').length === 0")
    hrefs = page.evaluate("[...document.querySelectorAll('#problems-body a')].map(a => a.getAttribute('href'))")
    assert sorted(hrefs) == sorted(HOSTILE[:4]) and not [h for h in hrefs if not h.startswith("https://")]
