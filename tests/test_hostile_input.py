"""Hostile input (issue 5): every hostile line is one clear `invalid` result shown as written, and hostile
text from a list or a server never breaks a record nor reaches the terminal raw.

Every test talks to loopback only (the lab on 127.0.0.1-4, or a tiny raw server).
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
import requests
from conftest import run_pcheck
from support.fast import FAST
from support.runs import jsonl
from support.servers import RawSite
from urllib3.util import parse_url as urllib3_parse_url

from pcheck.inputs.sources import iter_stream, parse_url
from pcheck.models import RECORD_FIELDS, CheckResult, ErrorKind, Outcome, Target
from pcheck.output.reporter import printable

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parent.parent
# Anything a terminal or a line-based parser could act on: C0 but LF, DEL, C1, bidi overrides.
RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def read(data: bytes) -> list[Target | CheckResult]:
    return list(iter_stream(io.BytesIO(data), "list.txt"))


# -- input: every hostile line is one clear `invalid` result, shown as written ---------------------

HOSTILE_LINES = [
    ("http://127.0.0.1/a\rb", "control character (U+000D)"),  # CR inside a line
    ("http://127.0.0.1/a\nb", "control character (U+000A)"),  # only reachable from arguments/documents
    ("http://exa\tmple.com/", "control character (U+0009)"),  # urlsplit would fetch example.com
    ("http://example.com/pa\tth", "control character (U+0009)"),
    ("http://example.com/\x00", "control character (U+0000)"),
    ("http://example.com/\x7f", "control character (U+007F)"),
    ("http://example.com/\x1b[2J\x1b[31m", "control character (U+001B)"),
    ("\x1b]0;owned\x07http://example.com/", "control character (U+001B)"),
    ("\x01http://example.com/", "control character (U+0001)"),  # leading C0: urlsplit strips it (CVE-2023-24329)
    ("\x1fhttp://example.com/", "control character (U+001F)"),
    ("http://example.com/\u009b31m", "control character (U+009B)"),  # C1 CSI
    ("http://example.com/a b", "whitespace (U+0020)"),
    ("http://example.com/\u00a0", "whitespace (U+00A0)"),
    ("http://example.com/\u2028", "whitespace (U+2028)"),
    ("http://example.com/\ufeffx", "whitespace (U+FEFF)"),  # a BOM anywhere but the file's start
    ("ftp://example.com/file", "not an absolute http(s) URL"),
    ("file:///etc/passwd", "not an absolute http(s) URL"),
    ("javascript:alert(1)", "not an absolute http(s) URL"),
    ("JavaScript:alert(document.cookie)", "not an absolute http(s) URL"),
    ("mailto:someone@example.com", "not an absolute http(s) URL"),
    ("data:text/html,<b>x</b>", "not an absolute http(s) URL"),
    ("//example.com/scheme-relative", "not an absolute http(s) URL"),
    ("example.com/no-scheme", "not an absolute http(s) URL"),
    ("http:///no-host", "no host"),
    ("http:example.com", "no host"),
    ("http://:80/", "empty host"),
    ("http://@/", "empty host"),
    ("http://user:password@/", "empty host"),
    ("http://[::1/", "IPv6"),
    ("http://[1.2.3.4]/", "IPv4 address cannot be in brackets"),
    ("http://[::g]/", "IPv6"),
    ("http://::1/", "bad port"),
    ("http://example.com:99999/", "bad port"),
    ("http://example.com:+80/", "bad port"),
    ("http://a..b/", "bad host name"),
    ("http://.example/", "bad host name"),
    ("http://" + "a" * 64 + ".example/", "bad host name"),
    ("http://ex%61mple.com/", "bad host name"),  # requests would fetch example.com
    ("http://-bücher.example/", "bad international host name"),
    ("http://bücher-.example/", "bad international host name"),
    ("http://" + "ü" * 60 + ".example/", "bad international host name"),
    ("http://aא.example/", "bad international host name"),  # mixed direction in one label
]


@pytest.mark.parametrize("line, reason", HOSTILE_LINES, ids=[repr(line)[:40] for line, _ in HOSTILE_LINES])
def test_hostile_line_is_invalid_as_written(line, reason):
    if "\n" in line:  # a list file splits here; as an argument the whole text is one URL
        item = parse_url(line, "<args>", None)
    else:
        [item] = read(b"# first line\n" + line.encode() + b"\n")
        assert (item.source, item.line) == ("list.txt", 2)
    assert isinstance(item, CheckResult)
    assert (item.outcome, item.error) == (Outcome.INVALID, ErrorKind.INVALID_URL)
    assert item.url == line  # never "cleaned" into some other URL
    assert reason in item.detail


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\x80"])
def test_invalid_utf8_is_invalid_with_its_line_and_never_decoded_into_a_url(raw):
    items = read(b"http://a.example/\n" + b"http://example.com/" + raw + b"x\n" + b"http://b.example/\n")
    assert [i.line for i in items] == [1, 2, 3]
    bad = items[1]
    assert isinstance(bad, CheckResult) and bad.outcome is Outcome.INVALID
    assert "UTF-8" in bad.detail and "\ufffd" in bad.url
    assert isinstance(items[0], Target) and isinstance(items[2], Target)


def test_bom_counts_only_at_the_start_and_crlf_lines_keep_their_numbers():
    data = b"\xef\xbb\xbfhttp://a.example/\r\n\r\n# comment\r\nhttp://b.example/\r\n\xef\xbb\xbfhttp://c.example/\r\n"
    items = read(data)
    assert [(type(i).__name__, i.line) for i in items] == [("Target", 1), ("Target", 4), ("CheckResult", 5)]
    assert [items[0].url, items[1].url] == ["http://a.example/", "http://b.example/"]
    assert items[2].outcome is Outcome.INVALID and "U+FEFF" in items[2].detail
    assert read(b"\xef\xbb\xbf\r\n") == []  # a file that is only a BOM holds no candidate


def test_lone_cr_line_endings_are_one_invalid_line_not_several_urls():
    [item] = read(b"http://a.example/\rhttp://b.example/\r")
    assert item.outcome is Outcome.INVALID and item.line == 1 and "U+000D" in item.detail


@pytest.mark.parametrize(
    "url, key, host",
    [
        ("HTTP://Example.COM/Path", "http://example.com/Path", "example.com"),
        ("http://user:password@h.example:81/x", "http://user:password@h.example:81/x", "h.example"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x", "::1"),
        ("http://[2001:DB8:0:0::1]/", "http://[2001:db8::1]/", "2001:db8::1"),
        ("http://[::ffff:127.0.0.1]:8/", "http://[::ffff:7f00:1]:8/", "::ffff:7f00:1"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/", "xn--bcher-kva.example"),
        ("https://BÜCHER.example/", "https://xn--bcher-kva.example/", "xn--bcher-kva.example"),
        ("https://bücher\uff0eexample/", "https://xn--bcher-kva.example/", "xn--bcher-kva.example"),
        ("https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/", "xn--bcher-kva.example"),
        ("http://例え．テスト/", "http://xn--r8jz45g.xn--zckzah/", "xn--r8jz45g.xn--zckzah"),
        ("http://ß.example/", "http://xn--zca.example/", "xn--zca.example"),  # UTS-46 non-transitional
    ],
)
def test_valid_hosts_are_normalised_once(url, key, host):
    [item] = read(url.encode() + b"\n")
    assert isinstance(item, Target), item
    assert (item.url, item.key, item.host) == (url, key, host)
    # What requests will connect to is the host pcheck dedupes and limits on.
    fetched = urllib3_parse_url(requests.Request("HEAD", item.key).prepare().url)
    assert (fetched.host or "").strip("[]") == item.host


@pytest.mark.parametrize(
    "url",
    [
        "http://a.example\\@b.example/",
        "http://[::1]x/",
        "http://[fe80::1%25eth0]/",
        "http://127.0.0.1:0/",
        "http://exa%0ample.com/",
        "http://example.com:８０/",
        "http://example.com: 80/",
    ],
)
def test_authority_that_would_be_fetched_differently_is_invalid(url):
    [item] = read(url.encode() + b"\n")
    assert isinstance(item, CheckResult) and item.outcome is Outcome.INVALID, (
        f"accepted as {getattr(item, 'key', None)!r} with host {getattr(item, 'host', None)!r}")


@pytest.mark.parametrize("host", [
    "xn--zz.example",  # not valid Punycode
    "xn--a.example",  # decodes to U+0080, disallowed
    "xn--.example",  # caught today by the trailing-hyphen rule
    "xn--bcher-kva-.example",
])
def test_invalid_a_labels_are_invalid(host):
    [item] = read(f"http://{host}/\n".encode())
    assert isinstance(item, CheckResult) and item.outcome is Outcome.INVALID


def test_reported_host_is_the_host_connected_to(lab, make_checker):
    url = f"http://127.0.0.1:{lab.port}\\@127.0.0.2:{lab.port}/ok"
    item = parse_url(url, "<args>", None)
    if isinstance(item, CheckResult):
        assert item.outcome is Outcome.INVALID
        return
    make_checker().check(item.key)
    assert {entry.address for entry in lab.log} == {item.host}


def test_fifty_megabyte_line_is_read_in_bounded_memory(tmp_path, lab):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        f.write(b"# one 50 MB line\n" + lab.url("ok?l=2").encode() + b"\n")
        f.write(b"http://example.com/")
        block = b"a" * (1 << 20)
        for _ in range(50):
            f.write(block)
        f.write(b"\n\xff\xfe\n" + lab.url("ok?l=5").encode() + b"\n\n" + lab.url("ok?l=7").encode() + b"\n")
    script = (
        "import json, resource, sys\n"
        "from pcheck.inputs.sources import count_candidates, iter_targets, open_sources\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "sources = open_sources([sys.argv[1]])\n"
        "total = count_candidates(sources)\n"
        "items = [(type(i).__name__, i.line, len(i.url)) for i in iter_targets(sources)]\n"
        "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before\n"
        "print(json.dumps({'grown_kib': grown, 'total': total, 'items': items}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                          timeout=25, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["total"] == 5
    assert [(kind, line) for kind, line, _ in out["items"]] == [
        ("Target", 2), ("CheckResult", 3), ("CheckResult", 4), ("Target", 5), ("Target", 7)]
    assert out["items"][1][2] < 1000  # the report keeps a prefix, not 50 MB
    assert out["grown_kib"] < 16 * 1024, f"reading grew max RSS by {out['grown_kib']} KiB"


@pytest.mark.timeout(60)
def test_cli_gives_one_record_per_candidate_line(lab, tmp_path):
    p = lab.port
    ok = lab.url
    lines: list[tuple[bytes, str | None]] = [  # (raw line without LF, expected outcome; None = no record)
        (b"\xef\xbb\xbf# a hostile list, BOM first", None),
        (ok("ok?l=2").encode() + b"\r", "alive"),
        (b"", None),
        (b"   ", None),
        (f"http://127.0.0.1:{p}/a\rb".encode(), "invalid"),
        (f"http://127.0.0.1:{p}/a\tb".encode(), "invalid"),
        (f"http://127.0.0.1:{p}/\x00".encode(), "invalid"),
        (f"http://127.0.0.1:{p}/\x7f".encode(), "invalid"),
        (f"http://127.0.0.1:{p}/\x1b[2J".encode(), "invalid"),
        (b"\x01" + ok("ok?l=10").encode(), "invalid"),
        (f"http://127.0.0.1:{p}/".encode() + b"\xff\xfe", "invalid"),
        (b"http://127.0.0.1/" + b"a" * (50 << 20), "invalid"),
        (ok("ok?l=13").encode(), "alive"),
        (b"ftp://127.0.0.1/x", "invalid"),
        (b"file:///etc/passwd", "invalid"),
        (b"javascript:alert(1)", "invalid"),
        (b"mailto:a@b.example", "invalid"),
        (f"//127.0.0.1:{p}/ok".encode(), "invalid"),
        (b"http:///ok", "invalid"),
        (f"http://:{p}/ok".encode(), "invalid"),
        (f"http://alice:s3cret@127.0.0.1:{p}/ok?l=21".encode(), "alive"),
        (b"http://[::1]:1/", "broken"),  # an IPv6 literal: checked (nothing listens there), not invalid
        (f"http://bücher.test:{p}/ok".encode(), "excluded"),  # valid IDN; --exclude keeps it off DNS
        (b"http://-b\xc3\xbccher.test/", "invalid"),
        (b"  # indented comment", None),
        (ok("ok?l=26").encode() + b"\r", "alive"),
    ]
    path = tmp_path / "hostile.txt"
    path.write_bytes(b"".join(raw + b"\n" for raw, _ in lines))
    proc = run_pcheck("check", str(path), "--format", "jsonl", "--exclude", r"\.test[:/]", *FAST)
    assert proc.returncode == 1, proc.stderr
    records = jsonl(proc)
    expected = {n: want for n, (_, want) in enumerate(lines, start=1) if want}
    assert sorted(r["line"] for r in records) == sorted(expected)  # exactly one record per candidate
    got = {r["line"]: r["outcome"] for r in records}
    assert got == expected
    assert all(r["source"] == str(path) for r in records)
    long_line = next(r for r in records if r["line"] == 12)
    assert "longer than" in long_line["detail"] and len(long_line["url"]) < 1000
    assert next(r for r in records if r["line"] == 11)["detail"].startswith("not valid UTF-8")
    assert lab.snapshot()["127.0.0.1"].requests == 4  # lines 2, 13, 21 and 26; nothing hostile was fetched


# -- reports: hostile text never breaks a record or reaches the terminal raw ---------------------------

def hostile_report_inputs(lab) -> tuple[list[str], list[str]]:
    """(lines of a list file, URL arguments): control characters, quotes, commas, newlines, bidi."""
    p = lab.port
    lines = [
        "# hostile report",
        lab.url('ok?q="quoted",comma'),  # alive, with quotes and a comma
        lab.url("ok?\u202egnp.exe"),  # alive, with a right-to-left override
        f"http://127.0.0.1:{p}/\x1b[2J\x1b[31mred",
        f"http://127.0.0.1:{p}/a\rb,\"c\"",
        "\x1b]0;owned\x07http://x.example/",
        f"http://127.0.0.1:{p}/\u009b31m",
        '=HYPERLINK("http://evil.example/","x"),',
        lab.url("redirect-to?url=" + quote('/x\x1b[2J"y",z', safe="")),  # hostile Location from the server
    ]
    args = [f"http://127.0.0.1:{p}/new\nline\r\x1b[1A,\"q\""]
    return lines, args


#: A status line a hostile server sends: http.client quotes it, raw, in its BadStatusLine message.
HOSTILE_STATUS_LINE = b"\x1b[2J\x1b]0;owned\x07HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


@pytest.fixture
def hostile_server():
    site = RawSite(HOSTILE_STATUS_LINE, b"")
    yield site
    site.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fmt", ["text", "csv", "jsonl", "json", "markdown", "junit"])
def test_hostile_urls_never_break_a_report(lab, hostile_server, tmp_path, fmt):
    lines, args = hostile_report_inputs(lab)
    args.append(f"http://127.0.0.1:{hostile_server.port}/status-line")  # server text in `detail`
    path = tmp_path / "hostile.txt"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8", newline="")
    proc = run_pcheck("check", str(path), *args, "--format", fmt, *FAST)
    assert proc.returncode == 1, proc.stderr
    assert not RAW_CONTROL.search(proc.stdout), RAW_CONTROL.search(proc.stdout)
    assert not RAW_CONTROL.search(proc.stderr), proc.stderr
    urls = lines[1:] + args
    if fmt == "jsonl":
        records = jsonl(proc)  # every line parses: no record was split
        assert sorted(r["url"] for r in records) == sorted(urls)  # and every URL round-trips exactly
    elif fmt == "json":
        assert sorted(r["url"] for r in json.loads(proc.stdout)["results"]) == sorted(urls)
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(proc.stdout)))
        assert rows[0] == list(RECORD_FIELDS)
        assert len(rows) == 1 + len(urls) and all(len(row) == len(RECORD_FIELDS) for row in rows)
        # escaped, and a would-be spreadsheet formula is defused with a leading quote
        shown = ["'" + printable(u) if u[:1] in "=+-@" else printable(u) for u in urls]
        assert sorted(row[0] for row in rows[1:]) == sorted(shown)
        assert len(proc.stdout.splitlines()) == 1 + len(urls)  # one physical line per record
    elif fmt == "text":
        shown = proc.stdout.splitlines()
        for url in urls[2:]:  # the two alive URLs are counted, not listed
            assert sum(f": {printable(url)}  (" in line for line in shown) == 1, url
        assert """Location '/x\\x1b[2J"y",z': holds a control character""" in proc.stdout  # server text, escaped
        assert "(the answer was not valid HTTP; transient)" in proc.stdout  # in words; the raw detail is in the machine formats
    elif fmt == "junit":
        ElementTree.fromstring(proc.stdout.split("\n", 1)[1])  # well-formed XML
    else:  # markdown: every problem stays one table row
        shown = [line for line in proc.stdout.splitlines() if line][2:]  # after the title and the counts' sentence
        assert all(line.startswith(("#", "**", "|", "Blocked: ", "Broken: ")) for line in shown), shown
        assert all(line.endswith("|") for line in shown if line.startswith("|"))
        assert sum("not a valid URL" in line for line in shown) == 7  # six invalid lines, one bad Location


@pytest.mark.timeout(60)
def test_watch_text_output_escapes_server_text(hostile_server):
    url = f"http://127.0.0.1:{hostile_server.port}/status-line"
    proc = run_pcheck("watch", url, "--rounds", "1", "--every", "1s", "--timeout", "2", "--retries", "0", "-p", "1")
    assert proc.returncode == 1, proc.stderr  # the last round's link is broken
    assert "new -> broken (protocol" in proc.stdout
    assert not RAW_CONTROL.search(proc.stdout), proc.stdout
