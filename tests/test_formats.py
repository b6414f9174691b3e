"""Report formats for people and CI (issue 6), parsed back rather than compared as text.

JUnit XML is read with xml.etree and held to the JUnit schema's required
elements and attributes; Markdown is rendered with markdown-it-py (GitHub's
tables enabled) and the HTML is inspected; the text report is parsed into its
groups. All URLs are served by the loopback lab.
"""

from __future__ import annotations

import io
import re
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree as ET

import pytest
from markdown_it import MarkdownIt

from conftest import run_pcheck
from support.faults import wait_until
from pcheck.inputs.sources import invalid_result
from pcheck.lab import Lab
from pcheck.models import CheckResult, Outcome, Verdict
from pcheck.output.progress import Progress
from pcheck.output.reports import make_reporter
from support.fast import FAST

pytestmark = pytest.mark.timeout(60)

ESCAPES = re.compile(r"[\r\x1b\x07\x08]")


@pytest.fixture(scope="module")
def site():
    with Lab(hosts=4) as lab:
        yield lab


@pytest.fixture(scope="module")
def docs(site, tmp_path_factory):
    """Two documents, a URL list, and what each link is known to be."""
    root = tmp_path_factory.mktemp("formats")
    u = site.url
    odd = u("status/404?x=a|b_c*d(e)")  # characters Markdown tables and links must escape
    urls = {
        "ok": u("ok"), "gone": u("status/404"), "gone410": u("status/410"), "odd": odd,
        "wall": u("status/403", 2), "slow1": u("status/429", 1), "slow2": u("status/429?i=2", 1),
        "skip": u("ok?excluded=1", 3),
    }
    a_md = root / "a_guide.md"
    a_md.write_text(
        "# Guide\n\n"
        f"All [fine]({urls['ok']}).\n"                       # 3
        f"A [dead link]({urls['gone']}).\n"                  # 4
        "\n"
        f"The same [dead link]({urls['gone']}) again.\n"     # 6
        f"Behind a [wall]({urls['wall']}).\n"                # 7
        f"Not checked: <{urls['skip']}>.\n", encoding="utf-8")  # 8
    b_html = root / "b page.html"
    b_html.write_text(
        "<html><body>\n"
        f"<a href=\"{urls['slow1']}\">1</a>\n"               # 2
        f"<a href=\"{urls['slow2']}\">2</a>\n"               # 3
        f"<img src=\"{urls['gone410']}\">\n"                 # 4
        f"<a href=\"{urls['odd'].replace('&', '&amp;')}\">odd</a>\n"  # 5
        "</body></html>\n", encoding="utf-8")
    listing = root / "list.txt"
    listing.write_text(f"{urls['gone']}\nnot a url\n", encoding="utf-8")
    expected = {  # outcome -> source -> [(line, url)]
        "broken": {str(a_md): [(4, urls["gone"]), (6, urls["gone"])],
                   str(b_html): [(4, urls["gone410"]), (5, odd)],
                   str(listing): [(1, urls["gone"])]},
        "blocked": {str(a_md): [(7, urls["wall"])], str(b_html): [(2, urls["slow1"]), (3, urls["slow2"])]},
        "invalid": {str(listing): [(2, "not a url")]},
    }
    args = [str(a_md), str(b_html), str(listing), "--exclude", "excluded=1", *FAST]
    return {"urls": urls, "expected": expected, "args": args, "root": root,
            "sources": [str(a_md), str(b_html), str(listing)]}


# -- JUnit ----------------------------------------------------------------------------------------------

def junit(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert suites, "no testsuite element"
    for element in (root, *suites):
        for attribute in ("name", "tests", "failures", "errors"):
            assert attribute in element.attrib, (element.tag, attribute)
        for attribute in ("tests", "failures", "errors"):
            assert int(element.get(attribute)) >= 0
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(suite.get("errors")) == sum(1 for c in cases if c.find("error") is not None)
        if "skipped" in suite.attrib:
            assert int(suite.get("skipped")) == sum(1 for c in cases if c.find("skipped") is not None)
        if "time" in suite.attrib:
            float(suite.get("time"))
        for case in cases:
            assert case.get("name") and case.get("classname"), case.attrib
            if "time" in case.attrib:
                assert float(case.get("time")) >= 0
            assert len([c for c in case if c.tag in ("failure", "error", "skipped")]) <= 1
            for failure in case.findall("failure"):
                assert "message" in failure.attrib and "type" in failure.attrib
    for attribute in ("tests", "failures", "errors"):
        assert int(root.get(attribute)) == sum(int(s.get(attribute)) for s in suites)
    return root


def test_junit_has_one_testcase_per_unique_url_and_a_failure_for_each_broken_one(docs, tmp_path):
    out = tmp_path / "links.xml"
    proc = run_pcheck("check", *docs["args"], "--format", "junit", "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert out.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = junit(out)
    cases = {c.get("name"): c for c in root.iter("testcase")}
    urls = docs["urls"]
    assert len(list(root.iter("testcase"))) == len(cases)  # unique names
    assert set(cases) == set(urls.values()) | {"not a url"}
    broken = {urls["gone"], urls["gone410"], urls["odd"], "not a url"}
    assert {n for n, c in cases.items() if c.find("failure") is not None} == broken
    assert {n for n, c in cases.items() if c.find("skipped") is not None} == {
        urls["wall"], urls["slow1"], urls["slow2"], urls["skip"]}
    assert cases[urls["ok"]].find("*") is None
    gone = cases[urls["gone"]].find("failure")
    assert gone.get("type") == "broken" and "404" in gone.get("message")
    a_md, _, listing = docs["sources"]
    assert set(gone.text.splitlines()) == {f"{a_md}:4", f"{a_md}:6", f"{listing}:1"}  # every place
    assert cases[urls["gone"]].get("classname") == a_md


def test_junit_counts_blocked_as_failures_with_fail_on_blocked(docs, tmp_path):
    out = tmp_path / "links.xml"
    proc = run_pcheck("check", *docs["args"], "--format", "junit", "-o", str(out), "--fail-on-blocked")
    assert proc.returncode == 1, proc.stderr
    root = junit(out)
    failed = {c.get("name") for c in root.iter("testcase") if c.find("failure") is not None}
    urls = docs["urls"]
    assert {urls["wall"], urls["slow1"], urls["slow2"]} <= failed
    assert int(root.get("failures")) == 7


def test_junit_stays_well_formed_with_hostile_urls_and_sources():
    hostile = 'http://evil.test/\x1b[2J\x00<x>&"\u202e'
    stream = io.StringIO()
    reporter = make_reporter("junit", stream)
    reporter.write(invalid_result(hostile, "list\x07.txt", 1, "holds a control character"))
    reporter.write(CheckResult.of("http://ok.test/<&>", "l.md", 2, Verdict(Outcome.BROKEN, status=500)))
    reporter.finish(0.5, False)
    root = ET.fromstring(stream.getvalue().encode("utf-8"))
    names = [c.get("name") for c in root.iter("testcase")]
    assert names[1] == "http://ok.test/<&>"
    assert "\x1b" not in names[0] and "\\x1b[2J" in names[0]
    assert int(root.get("failures")) == 2


# -- Markdown ---------------------------------------------------------------------------------------------

class Structure(HTMLParser):
    """Rendered report -> [(tag, text, attrs)] for headings/strong, and tables as rows of cells with links."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list = []
        self.stack: list[str] = []
        self.row: list | None = None
        self.cell: dict | None = None
        self.text: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("h2", "h3", "strong", "li"):
            self.text = []
            self.stack.append(tag)
        elif tag == "table":
            self.blocks.append(("table", []))
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = {"text": "", "links": []}
        elif tag == "a" and self.cell is not None:
            self.cell["links"].append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag in ("h2", "h3", "strong", "li") and self.stack and self.stack[-1] == tag:
            self.stack.pop()
            self.blocks.append((tag, "".join(self.text or [])))
            self.text = None
        elif tag in ("td", "th") and self.row is not None:
            self.row.append(self.cell)
            self.cell = None
        elif tag == "tr":
            self.blocks[-1][1].append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data
        if self.text is not None:
            self.text.append(data)


def render_markdown(text: str) -> Structure:
    html = MarkdownIt("commonmark").enable("table").render(text)
    parser = Structure()
    parser.feed(html)
    return parser


def markdown_groups(blocks) -> dict:
    """outcome -> source -> [(line, link text, href)] from the rendered report."""
    groups: dict = {}
    outcome = source = None
    for kind, value in blocks:
        if kind == "h3":
            m = re.fullmatch(r"(\w+) \((\d+)\)", value)
            outcome = m.group(1).lower() if m else None
            source = None
        elif kind == "strong" and outcome:
            source = value
        elif kind == "table" and outcome and source:
            header, *rows = value
            assert [c["text"] for c in header] == ["line", "URL", "why"]
            for line, url, _why in rows:
                groups.setdefault(outcome, {}).setdefault(source, []).append(
                    (int(line["text"].split(":")[0]), url["text"], url["links"][0] if url["links"] else None))
    return groups


def test_markdown_report_renders_links_grouped_by_source_with_lines(docs):
    proc = run_pcheck("check", *docs["args"], "--format", "markdown")
    assert proc.returncode == 1, proc.stderr
    page = render_markdown(proc.stdout)
    [title] = [v for k, v in page.blocks if k == "h2"]
    assert "failed" in title and "11 links" in title
    counts_table = next(v for k, v in page.blocks if k == "table")
    counts = {row[0]["text"]: int(row[1]["text"]) for row in counts_table[1:]}
    assert counts == {"alive": 1, "broken": 5, "blocked": 3, "excluded": 1, "invalid": 1}
    groups = markdown_groups(page.blocks)
    expected = docs["expected"]
    for outcome in ("broken", "blocked"):
        assert set(groups[outcome]) == set(expected[outcome])
        for source, items in expected[outcome].items():
            got = groups[outcome][source]
            assert sorted((line, text) for line, text, _ in got) == items, (outcome, source)
            for _, text, href in got:
                assert href is not None and unquote(href) == text, (href, text)
    [(line, text, href)] = groups["invalid"][docs["sources"][2]]
    assert (line, text, href) == (2, "not a url", None)  # shown, not offered as a link
    assert docs["urls"]["ok"] not in proc.stdout and docs["urls"]["skip"] not in proc.stdout


def test_markdown_report_with_host_stats_renders_hints_and_a_hosts_table(docs, site):
    proc = run_pcheck("check", *docs["args"], "--format", "markdown", "--host-stats")
    page = render_markdown(proc.stdout)
    hints = [v for k, v in page.blocks if k == "li"]
    # Two URLs refused with --retries 0: their own answers (too few to slow the host), so the results' hint.
    assert any(h.startswith("127.0.0.2:") and "429" in h and "--max-per-host" in h for h in hints), hints
    assert any(h.startswith("127.0.0.3:") and "403" in h and "--accept 403" in h for h in hints), hints
    hosts_table = [v for k, v in page.blocks if k == "table"][-1]
    assert [c["text"] for c in hosts_table[0]] == ["host", "URLs", "alive", "broken", "blocked", "mean ms", "429/503",
                                                   "paused s"]
    rows = {r[0]["text"]: [int(c["text"]) for c in r[1:5]] + [int(r[6]["text"])] for r in hosts_table[1:]}
    assert rows == {"127.0.0.1": [6, 1, 5, 0, 0], "127.0.0.2": [2, 0, 0, 2, 2], "127.0.0.3": [1, 0, 0, 1, 0],
                    "127.0.0.4": [1, 0, 0, 0, 0]}


# -- text -------------------------------------------------------------------------------------------------

def text_sections(report: str) -> tuple[dict, list[str], dict]:
    """(outcome -> source -> [(line, url)], hints, host rows) parsed from the text report."""
    groups: dict = {}
    hints: list[str] = []
    hosts: dict = {}
    section = outcome = source = None
    for line in report.splitlines():
        if m := re.fullmatch(r"(\w+) \((\d+)\):", line):
            section, outcome = "problems", m.group(1).lower()
        elif line in ("Hints:", "Hosts:"):
            section = line[:-1].lower()
        elif section == "problems" and (m := re.fullmatch(r"  (.+?)(?::(\d+)(?::\d+)?)?: (.+?)  \((.+)\)", line)):
            # One self-contained line per problem: `file:line:col: URL  (why)`.
            source, at, url, _why = m.groups()
            groups.setdefault(outcome, {}).setdefault(source, []).append((int(at) if at else None, url))
        elif section == "hints" and line.startswith("  "):
            hints.append(line.strip())
        elif section == "hosts" and line.startswith("  ") and not line.strip().startswith("host "):
            host, *numbers = line.split()
            hosts[host] = [int(n) for n in numbers[:4]]
    return groups, hints, hosts


def test_text_report_groups_by_source_and_hints_at_throttling_and_bot_walls(docs):
    proc = run_pcheck("check", *docs["args"])
    assert proc.returncode == 1, proc.stderr
    assert not ESCAPES.search(proc.stdout)
    groups, hints, hosts = text_sections(proc.stdout)
    assert {o: {s: sorted(i) for s, i in by.items()} for o, by in groups.items()} == docs["expected"]
    assert re.search(r"^  excluded +1$", proc.stdout, re.M)
    assert docs["urls"]["skip"] not in proc.stdout  # excluded: counted, not listed
    assert len(hints) == 2, hints
    [throttled] = [h for h in hints if h.startswith("127.0.0.2:")]
    assert "rate-limited (429)" in throttled and "--max-per-host" in throttled  # two URLs: not the host's state
    [walled] = [h for h in hints if h.startswith("127.0.0.3:")]
    assert "403" in walled and "--accept 403" in walled
    assert hosts == {}  # no --host-stats, no table


def test_text_host_stats_table_counts_per_host(docs):
    proc = run_pcheck("check", *docs["args"], "--host-stats")
    _, _, hosts = text_sections(proc.stdout)
    assert hosts == {"127.0.0.1": [6, 1, 5, 0], "127.0.0.2": [2, 0, 0, 2], "127.0.0.3": [1, 0, 0, 1],
                     "127.0.0.4": [1, 0, 0, 0]}


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_links_of_one_source_are_listed_in_line_order(fmt):
    stream = io.StringIO()
    reporter = make_reporter(fmt, stream)
    for line in (9, 2, 5):  # verdicts arrive in completion order, not document order
        reporter.write(CheckResult.of(f"http://a.test/{line}", "doc.md", line, Verdict(Outcome.BROKEN, status=404)))
    reporter.finish(0.1, False)
    report = stream.getvalue()
    positions = [report.index(f"http://a.test/{line}") for line in (2, 5, 9)]
    assert positions == sorted(positions), report


# -- progress when stderr is not a terminal -----------------------------------------------------------------

def status_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pcheck-status" and t.is_alive()]


def test_status_lines_on_a_non_terminal_stream_are_plain_and_current():
    stream = io.StringIO()
    progress = Progress(5, stream=stream, interval=0.05)
    try:
        assert progress.bar is None
        for outcome in (Outcome.ALIVE, Outcome.ALIVE, Outcome.BROKEN):
            progress.update(CheckResult.of("http://a.test/", "l", 1, Verdict(outcome)))
        wait_until(lambda: "3/5 checked" in stream.getvalue(), 5.0, "a status line for 3/5")
        progress.update(CheckResult.of("http://a.test/", "l", 1, Verdict(Outcome.BLOCKED)))
        wait_until(lambda: "4/5 checked" in stream.getvalue(), 5.0, "a status line for 4/5")
    finally:
        progress.close()
    output = stream.getvalue()
    assert not ESCAPES.search(output), repr(output)
    lines = output.splitlines()
    assert len(lines) >= 2 and output.endswith("\n")
    pattern = re.compile(r"pcheck: (\d+)/5 checked, \d+/s, alive (\d+), broken (\d+), blocked (\d+)")
    assert all(pattern.fullmatch(line) for line in lines), lines
    assert pattern.fullmatch(lines[-1]).groups() == ("4", "2", "1", "1")
    assert not status_threads()  # closed: nothing left to write another line


def test_status_lines_without_a_total_and_none_when_disabled():
    stream = io.StringIO()
    progress = Progress(None, stream=stream, interval=0.05)
    try:
        wait_until(lambda: "pcheck: 0 checked" in stream.getvalue(), 5.0, "a status line without a total")
    finally:
        progress.close()
    quiet = io.StringIO()
    before = len(status_threads())
    Progress(10, enabled=False, stream=quiet, interval=0.01).close()
    assert quiet.getvalue() == "" and len(status_threads()) == before


def test_cli_with_stderr_not_a_terminal_writes_no_bar(docs):
    args = [a for a in docs["args"] if a != "--no-progress"]
    proc = run_pcheck("check", *args, "--format", "jsonl")
    assert proc.returncode == 1
    assert not ESCAPES.search(proc.stderr), repr(proc.stderr)
    assert "it/s" not in proc.stderr and "url/s" not in proc.stderr and "%|" not in proc.stderr
    assert len(proc.stdout.splitlines()) == 11
