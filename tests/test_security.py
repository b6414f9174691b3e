"""Issue 5: hostile input and the network boundary.

Every test talks to loopback only (the lab on 127.0.0.1-4, or a tiny raw server
below) and never asks a real DNS server: names go through an injected resolver,
and `no_dns` turns any other non-numeric lookup into an error it records.

The lab's addresses stand in for the Internet: the policy `lab_policy` treats
127.0.0.1 and 127.0.0.3 as public and everything else (127.0.0.2 above all) as
private, so "refused" and "allowed" can both be watched on the lab's counters.
"""

from __future__ import annotations

import csv
import gzip
import io
import ipaddress
import json
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
import requests
import trustme
import urllib3.response
from urllib3.util import parse_url as urllib3_parse_url

from conftest import run_pcheck
from pcheck.check.checker import Checker
from pcheck.config import Config
from pcheck.inputs.sources import iter_stream, parse_url
from pcheck.lab import Lab
from pcheck.models import CheckResult, ErrorKind, Outcome, RECORD_FIELDS, Target
from pcheck.check.netguard import is_private, NetGuard, PrivateAddressRefused, system_resolver
from pcheck.output.reporter import printable
from pcheck.check.transport import Transport

pytestmark = pytest.mark.timeout(30)

FAST = ["--timeout", "3", "--retries", "0", "-p", "1", "--no-progress", "--recheck-after", "0"]
ROOT = Path(__file__).resolve().parent.parent
_real_getaddrinfo = socket.getaddrinfo  # captured before any test patches it
# Anything a terminal or a line-based parser could act on: C0 but LF, DEL, C1, bidi overrides.
RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
SENSITIVE = ("authorization", "cookie", "proxy-authorization")


# -- helpers -----------------------------------------------------------------------------------

def read(data: bytes) -> list[Target | CheckResult]:
    return list(iter_stream(io.BytesIO(data), "list.txt"))


def jsonl(proc: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines()]


def numeric(host: str, port: int) -> list[str]:
    """What getaddrinfo parses locally (2130706433, 0x7f.1, ::ffff:1.2.3.4); never a DNS query."""
    infos = _real_getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    return [info[4][0] for info in infos]


class FakeResolver:
    """Names from a table (or a sequence of answers, for rebinding); numeric hosts parsed locally."""

    def __init__(self, names: dict[str, list[str]] | None = None, rebinding: dict[str, list[list[str]]] | None = None):
        self.names = names or {}
        self.rebinding = {k: list(v) for k, v in (rebinding or {}).items()}
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host in self.rebinding:
            answers = self.rebinding[host]
            return answers.pop(0) if len(answers) > 1 else answers[0]
        if host in self.names:
            return self.names[host]
        try:
            return numeric(host, port)
        except socket.gaierror:
            raise socket.gaierror(socket.EAI_NONAME, f"test resolver: no such name {host!r}") from None


ALLOWED = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("127.0.0.3")}


def lab_policy(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Refuse everything but 127.0.0.1 and 127.0.0.3: 127.0.0.2 plays the private network."""
    return ip not in ALLOWED


@pytest.fixture
def no_dns(monkeypatch):
    """Only numeric hosts may be resolved by socket.getaddrinfo; the names asked are recorded."""
    asked: list = []

    def numeric_only(host, port, family=0, type=0, proto=0, flags=0):
        try:
            return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            asked.append(host)
            raise socket.gaierror(socket.EAI_NONAME, f"test: no DNS for {host!r}") from None

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)
    return asked


@pytest.fixture
def make_checker():
    """Checker factory: `guard=(resolver, refuse)` puts a NetGuard on the transport."""
    transports = []

    def make(guard=None, verify=True, **options):
        options = {"processes": 1, "timeout": 2.0, "retries": 0, "backoff_base": 0.05, **options}
        net_guard = NetGuard(resolver=guard[0], refuse=guard[1]) if guard else None
        transport = Transport(pool_maxsize=4, verify=verify, guard=net_guard)
        transports.append(transport)
        return Checker(Config(**options), transport)

    yield make
    for transport in transports:
        transport.close()


def headers_of(entry) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in entry.headers:
        out.setdefault(name.lower(), []).append(value)
    return out


class RawSite:
    """One fixed raw HTTP response per connection, for answers the lab cannot give."""

    def __init__(self, head: bytes, body: bytes) -> None:
        self.head, self.body = head, body
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data)
                try:
                    conn.sendall(self.head + (b"" if data.startswith(b"HEAD ") else self.body))
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


def tls_site(tmp_path: Path, *names: str):
    """A trustme CA, a server context with a certificate for `names`, and the CA written as PEM."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(server)
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return server, ca_path


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
    assert proc.returncode == 0, proc.stderr
    assert "new -> broken (protocol" in proc.stdout
    assert not RAW_CONTROL.search(proc.stdout), proc.stdout


# -- network boundary: NetGuard in the transport, with an injected resolver ------------------------------

def test_allowed_name_is_checked_through_the_guard(lab, make_checker, no_dns):
    resolver = FakeResolver({"public.test": ["127.0.0.1"]})
    verdict = make_checker(guard=(resolver, lab_policy)).check(f"http://public.test:{lab.port}/ok")
    assert (verdict.outcome, verdict.status) == (Outcome.ALIVE, 200)
    assert resolver.calls == ["public.test"] and no_dns == []
    assert dict(lab.log[0].headers)["Host"] == f"public.test:{lab.port}"


def test_idn_host_is_resolved_and_requested_as_punycode(lab, make_checker, no_dns):
    resolver = FakeResolver({"xn--bcher-kva.test": ["127.0.0.1"]})
    item = parse_url(f"http://BÜCHER.test:{lab.port}/ok", "<args>", None)
    assert isinstance(item, Target) and item.host == "xn--bcher-kva.test"
    verdict = make_checker(guard=(resolver, lab_policy)).check(item.key)
    assert verdict.outcome is Outcome.ALIVE
    assert resolver.calls == ["xn--bcher-kva.test"] and no_dns == []
    assert dict(lab.log[0].headers)["Host"] == f"xn--bcher-kva.test:{lab.port}"


@pytest.mark.parametrize("name, answer", [("evil.test", ["127.0.0.2"]), ("mixed.test", ["127.0.0.1", "127.0.0.2"])])
def test_name_resolving_to_a_private_address_is_excluded_without_connecting(lab, make_checker, no_dns, name, answer):
    resolver = FakeResolver({name: answer})
    verdict = make_checker(guard=(resolver, lab_policy), retries=2).check(f"http://{name}:{lab.port}/ok")
    assert (verdict.outcome, verdict.error, verdict.status) == (Outcome.EXCLUDED, ErrorKind.PRIVATE_ADDRESS, None)
    assert "127.0.0.2" in verdict.detail
    assert verdict.attempts == 1 and resolver.calls == [name]  # no GET fallback, no retry
    stats = lab.snapshot()
    assert stats["127.0.0.2"].connections == 0 and stats["127.0.0.1"].connections == 0
    assert no_dns == []


@pytest.mark.parametrize("target", [
    "http://evil.test:{port}/ok",
    "http://127.0.0.2:{port}/ok",
    "http://2130706434:{port}/ok",
    "http://0x7f.2:{port}/ok",
    "http://127.2:{port}/ok",
    "http://0177.0.0.2:{port}/ok",
    "http://[::ffff:127.0.0.2]:{port}/ok",
])
def test_redirect_from_allowed_to_private_is_refused_at_hop_2(lab, make_checker, no_dns, target):
    target = target.format(port=lab.port)
    resolver = FakeResolver({"public.test": ["127.0.0.1"], "evil.test": ["127.0.0.2"]})
    start = f"http://public.test:{lab.port}/redirect-to?url=" + quote(target, safe="")
    verdict = make_checker(guard=(resolver, lab_policy)).check(start)
    assert (verdict.outcome, verdict.error) == (Outcome.EXCLUDED, ErrorKind.PRIVATE_ADDRESS)
    assert verdict.redirects == 1 and verdict.attempts == 2
    stats = lab.snapshot()
    assert stats["127.0.0.2"].connections == 0
    assert stats["127.0.0.1"].requests == 1
    assert no_dns == []


def test_rebinding_resolver_cannot_move_a_connection(lab, make_checker, no_dns):
    resolver = FakeResolver(rebinding={"rebind.test": [["127.0.0.1"], ["127.0.0.2"]]})
    checker = make_checker(guard=(resolver, lab_policy))
    base = f"http://rebind.test:{lab.port}"
    assert checker.check(base + "/ok?i=1").outcome is Outcome.ALIVE
    assert checker.check(base + "/redirect/2").outcome is Outcome.ALIVE  # same pooled connection
    assert resolver.calls == ["rebind.test"]  # one lookup per connection, never a second one
    assert lab.snapshot()["127.0.0.1"].connections == 1
    # The lab resets the pooled connection; the GET fallback must open a new one, and re-check it.
    verdict = checker.check(base + "/reset-on-head")
    assert (verdict.outcome, verdict.error, verdict.method) == (Outcome.EXCLUDED, ErrorKind.PRIVATE_ADDRESS, "GET")
    assert resolver.calls == ["rebind.test", "rebind.test"]
    stats = lab.snapshot()
    assert stats["127.0.0.2"].connections == 0 and stats["127.0.0.1"].connections == 1
    assert no_dns == []  # nothing resolved the name behind the guard's back


def test_only_the_first_resolved_address_is_connected_to():
    with Lab(hosts=3) as site:
        resolver = FakeResolver({"multi.test": ["127.0.0.3", "127.0.0.1"]})
        transport = Transport(pool_maxsize=2, guard=NetGuard(resolver=resolver, refuse=lab_policy))
        try:
            checker = Checker(Config(processes=1, timeout=2.0, retries=0), transport)
            assert checker.check(f"http://multi.test:{site.port}/ok").outcome is Outcome.ALIVE
        finally:
            transport.close()
        stats = site.snapshot()
        assert (stats["127.0.0.3"].connections, stats["127.0.0.1"].connections) == (1, 0)


def test_guarded_tls_connects_to_the_checked_address_but_verifies_the_name(tmp_path, make_checker, no_dns):
    server, ca_path = tls_site(tmp_path, "secure.test")
    with Lab(hosts=1, ssl_context=server) as site:
        resolver = FakeResolver({"secure.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
        checker = make_checker(guard=(resolver, lab_policy), verify=str(ca_path))
        assert checker.check(f"https://secure.test:{site.port}/ok").outcome is Outcome.ALIVE
        verdict = checker.check(f"https://other.test:{site.port}/ok")
        assert (verdict.outcome, verdict.error) == (Outcome.BROKEN, ErrorKind.TLS)
    assert no_dns == []


PRIVATE_FORMS = [
    "127.0.0.1", "2130706433", "0x7f.1", "127.1", "0177.0.0.1", "0x7f000001", "017700000001",
    "0", "0.0.0.0", "::1", "[::1]", "::", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
    "169.254.169.254", "10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1", "198.18.0.1", "240.0.0.1",
    "255.255.255.255", "224.0.0.1", "fe80::1", "ff02::1", "fd00:ec2::254", "fc00::1", "2001:db8::1",
    "64:ff9b::a9fe:a9fe",  # NAT64 (RFC 6052) of the metadata address
    "64:ff9b::7f00:1",  # NAT64 of loopback
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64 prefix (RFC 8215)
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "::7f00:1",  # deprecated IPv4-compatible form of 127.0.0.1
]
PUBLIC_FORMS = ["8.8.8.8", "1.1.1.1", "134744072", "2001:4860:4860::8888", "2002:808:808::1",
                "::ffff:8.8.8.8"]  # IPv4-mapped: judged as the IPv4 address it connects to


@pytest.mark.parametrize("host", PRIVATE_FORMS)
def test_numeric_forms_of_private_addresses_are_refused(host):
    addresses = numeric(host.strip("[]"), 80)  # precondition: local parsing only, no DNS
    assert system_resolver(host.strip("[]"), 80) == addresses
    assert all(is_private(ipaddress.ip_address(a)) for a in addresses)
    with pytest.raises(PrivateAddressRefused):
        NetGuard().address_for(host, 80)


@pytest.mark.parametrize("host", PUBLIC_FORMS)
def test_numeric_forms_of_public_addresses_are_allowed(host):
    [address] = sorted(set(numeric(host, 80)))
    assert not is_private(ipaddress.ip_address(address))
    assert NetGuard().address_for(host, 80) == address


@pytest.mark.timeout(60)
def test_cli_exclude_private_refuses_loopback_in_every_spelling(lab):
    p = lab.port
    urls = [lab.url("ok"), f"http://2130706433:{p}/ok", f"http://0x7f.1:{p}/ok", f"http://127.1:{p}/ok",
            f"http://0:{p}/ok", f"http://[::1]:{p}/ok", f"http://[::ffff:127.0.0.1]:{p}/ok",
            lab.url("redirect/1", host=1)]
    proc = run_pcheck("check", *urls, "--exclude-private", "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    records = jsonl(proc)
    assert len(records) == len(urls)
    assert {(r["outcome"], r["error"]) for r in records} == {("excluded", "private_address")}
    assert all(s.connections == 0 for s in lab.snapshot().values())


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


# -- TLS -------------------------------------------------------------------------------------------------

@pytest.fixture
def https_lab(tmp_path):
    server, ca_path = tls_site(tmp_path, "127.0.0.1")
    with Lab(hosts=1, ssl_context=server) as site:
        yield site, ca_path


@pytest.mark.timeout(60)
def test_cli_self_signed_certificate_is_a_tls_error_by_default(https_lab):
    site, _ = https_lab
    proc = run_pcheck("check", site.url("ok"), "--format", "jsonl", *FAST)
    assert proc.returncode == 1
    [record] = jsonl(proc)
    assert (record["outcome"], record["error"]) == ("broken", "tls")


@pytest.mark.timeout(60)
def test_cli_ca_bundle_makes_it_alive(https_lab):
    site, ca_path = https_lab
    proc = run_pcheck("check", site.url("ok"), "--ca-bundle", str(ca_path), "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    [record] = jsonl(proc)
    assert (record["outcome"], record["status"]) == ("alive", 200)


@pytest.mark.timeout(60)
def test_cli_insecure_is_alive_and_warns_exactly_once(https_lab):
    site, _ = https_lab
    urls = [site.url(f"ok?i={i}") for i in range(8)]
    # A process of its own: its workers' stderr (where urllib3 would warn) is the command's stderr.
    proc = run_pcheck("check", *urls, "--insecure", "--format", "jsonl",
                      "--timeout", "3", "--retries", "0", "-p", "2", "--no-progress", subprocess=True)
    assert proc.returncode == 0, proc.stderr
    assert {r["outcome"] for r in jsonl(proc)} == {"alive"}
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "insecure" in lines[0].lower(), proc.stderr
    assert "InsecureRequestWarning" not in proc.stderr


# -- bodies are never downloaded, nothing is decompressed ---------------------------------------------------

BODY_SCRIPT = """
import json, resource, sys, time
from pcheck.check.checker import Checker
from pcheck.config import Config, parse_accept
from pcheck.check.transport import Transport
base, cases = sys.argv[1], json.loads(sys.argv[2])
transport = Transport(pool_maxsize=4)
def checker(method="head", accept="200-299"):
    return Checker(Config(processes=1, timeout=3.0, retries=0, method=method, accept=parse_accept(accept)), transport)
checker().check(base + "/ok")  # imports and first connection before the baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = []
for path, options in cases:
    started = time.monotonic()
    v = checker(**options).check(base + path)
    out.append({"path": path, "outcome": v.outcome.value, "status": v.status, "method": v.method,
                "redirects": v.redirects, "attempts": v.attempts, "elapsed": time.monotonic() - started})
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
transport.close()
print(json.dumps({"grown_kib": grown, "results": out}))
"""


def test_endless_bodies_cost_neither_memory_nor_time(lab):
    cases = [
        ("/endless", {"method": "get"}),
        ("/bytes/1073741824", {"method": "get"}),
        ("/redirect-endless-body", {"method": "get"}),
        ("/endless", {"accept": "201"}),  # HEAD's 200 is not accepted: the GET fallback meets the endless body
        ("/redirect-endless-body", {"accept": "201"}),  # GET fallback through a hop with an endless body
    ]
    proc = subprocess.run([sys.executable, "-c", BODY_SCRIPT, lab.base(), json.dumps(cases)],
                          capture_output=True, text=True, timeout=25, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    got = [(r["outcome"], r["status"], r["method"], r["redirects"], r["attempts"]) for r in out["results"]]
    assert got == [
        ("alive", 200, "GET", 0, 1),
        ("alive", 200, "GET", 0, 1),
        ("alive", 200, "GET", 1, 2),
        ("broken", 200, "GET", 0, 2),
        ("broken", 200, "GET", 1, 4),
    ]
    # About 5 ms each here; reading the body until the 0.5 s drain budget cuts it would show.
    slow = [(r["path"], round(r["elapsed"], 2)) for r in out["results"] if r["elapsed"] >= 0.3]
    assert not slow
    assert out["grown_kib"] < 20 * 1024, f"max RSS grew by {out['grown_kib']} KiB"


@pytest.mark.timeout(60)
def test_cli_get_does_not_download_endless_bodies(lab):
    urls = [lab.url("endless"), lab.url("bytes/1073741824"), lab.url("redirect-endless-body")]
    started = time.monotonic()
    proc = run_pcheck("check", *urls, "--method", "get", "--format", "jsonl",
                      "--timeout", "8", "--retries", "0", "-p", "1", "--no-progress")
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    records = jsonl(proc)
    assert [(r["outcome"], r["method"]) for r in records] == [("alive", "GET")] * 3
    # What the site wrote, not how long it took (a loaded machine slows a good check down too).
    assert lab.snapshot()["127.0.0.1"].body_bytes < 32 << 20
    assert all(r["elapsed_ms"] < 4000 for r in records), records  # none ran into the 8 s deadline
    assert elapsed < 8


def test_requests_ask_for_identity_and_nothing_decompresses(monkeypatch, make_checker):
    body = gzip.compress(bytes(8 << 20))  # 8 MiB of zeros in about 8 KiB
    assert len(body) < 16 * 1024
    head = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
    calls = []
    real = urllib3.response.GzipDecoder.decompress
    monkeypatch.setattr(urllib3.response.GzipDecoder, "decompress",
                        lambda self, data, *a, **k: calls.append(len(data)) or real(self, data, *a, **k))
    site = RawSite(head, body)
    try:
        for method in ("head", "get"):
            verdict = make_checker(method=method).check(f"http://127.0.0.1:{site.port}/gz")
            assert (verdict.outcome, verdict.method) == (Outcome.ALIVE, method.upper())
    finally:
        site.close()
    assert calls == []
    assert len(site.requests) == 2
    for raw in site.requests:
        lines = raw.decode("latin-1").lower().split("\r\n")
        assert [line for line in lines if line.startswith("accept-encoding:")] == ["accept-encoding: identity"]


def test_every_hop_and_fallback_asks_for_identity(lab, make_checker):
    make_checker().check(lab.url("redirect/2"))
    make_checker().check(lab.url("head-refused"))
    make_checker(method="get").check(lab.url("redirect/1?g=1"))
    assert len(lab.log) == 3 + 2 + 2
    assert all(headers_of(e).get("accept-encoding") == ["identity"] for e in lab.log)
