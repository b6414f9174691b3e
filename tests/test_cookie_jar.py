"""--cookie-jar FILE, and the cookies a server sets during a redirect chain (issue 27, item 6).

A jar's cookies (the Netscape format curl and browsers export) go to their domains and paths only; a
cookie a server sets on a redirect is sent on the later hops of that chain, by the cookie rules (never to
another host), and forgotten when the chain ends. No cookie is ever in a report; the jar is read, never
written; the cache tells runs with different jars apart; a malformed jar is exit 2 naming it and its line.
"""

from __future__ import annotations

import os
from urllib.parse import quote

import pytest
from conftest import run_pcheck
from support.fast import FAST
from support.runs import jsonl
from support.servers import headers_of

from pcheck.config import FORMATS

pytestmark = pytest.mark.timeout(60)

SECRET = "C00kieValueNeverShown"
MAGIC = "# Netscape HTTP Cookie File\n"


def jar(tmp_path, *lines: str, name: str = "cookies.txt"):
    path = tmp_path / name
    path.write_text(MAGIC + "".join(line + "\n" for line in lines))
    return path


def cookie_line(domain: str, name: str, value: str = SECRET, path: str = "/", expires: str = "0",
                secure: str = "FALSE") -> str:
    flag = "TRUE" if domain.startswith(".") else "FALSE"
    return "\t".join((domain, flag, path, secure, expires, name, value))


def cookies_sent(lab, address: str) -> list[list[str]]:
    return [headers_of(e).get("cookie", []) for e in lab.log if e.address == address]


def to(url: str) -> str:
    return quote(url, safe="")


# -- cookies a redirect chain sets ---------------------------------------------------------------------

def test_a_cookie_set_on_the_first_hop_reaches_the_second_and_no_other_host(lab):
    last = lab.url("ok?last=1", host=1)
    second = lab.url("redirect-to?url=" + to(last))
    first = lab.url("set-cookie-redirect?name=sid&value=v1&url=" + to(second))
    proc = run_pcheck("check", first, "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    (record,) = jsonl(proc)
    assert record["outcome"] == "alive" and record["redirects"] == 2
    on_first = [(e.target, headers_of(e).get("cookie")) for e in lab.log if e.address == "127.0.0.1"]
    assert on_first == [(first.split(str(lab.port), 1)[1], None), (second.split(str(lab.port), 1)[1], ["sid=v1"])]
    assert cookies_sent(lab, "127.0.0.2") == [[]]


def test_a_login_wall_that_sets_its_cookie_on_a_redirect_resolves(lab):
    wall = lab.url("set-cookie-redirect?name=consent&value=yes&url=" + to(lab.url("needs-cookie/consent")))
    proc = run_pcheck("check", wall, "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert [r["outcome"] for r in jsonl(proc)] == ["alive"]


def test_a_chain_cookie_is_not_kept_beyond_its_chain(lab):
    wall = lab.url("set-cookie-redirect?name=consent&value=yes&url=" + to(lab.url("ok?i=1")))
    later = lab.url("needs-cookie/consent")
    proc = run_pcheck("check", wall, later, "--format", "jsonl", "-t", "1", *FAST)
    outcomes = {r["url"]: r["outcome"] for r in jsonl(proc)}
    assert outcomes == {wall: "alive", later: "blocked"}, proc.stderr
    assert {str(headers_of(e).get("cookie")) for e in lab.log if "needs-cookie" in e.target} == {"None"}


def test_a_cookie_set_for_another_domain_is_refused(lab):
    back = lab.url("ok?back=1")
    third = lab.url("redirect-to?url=" + to(back), host=1)
    second = lab.url("set-cookie-redirect?name=mine&value=1&url=" + to(third))
    first = lab.url(f"set-cookie-redirect?name=x&value={SECRET}&attrs=" + to("; Domain=127.0.0.2; Path=/")
                    + "&url=" + to(second))
    proc = run_pcheck("check", first, "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert cookies_sent(lab, "127.0.0.2") == [[]]
    assert cookies_sent(lab, "127.0.0.1") == [[], [], ["mine=1"]]  # its own domain's cookie, after the detour


@pytest.mark.parametrize("attrs", ["; Domain=0.0.1", "; Domain=.0.0.1", "; Domain=0.1", "; Domain=1"])
def test_an_address_sets_cookies_for_itself_never_for_a_domain_of_addresses(attrs):
    from pcheck.check.cookies import ChainCookies

    chain = ChainCookies(())
    chain.take("http://127.0.0.1:8000/a", ("x=1" + attrs, "mine=1"))
    assert chain.sent("http://127.0.0.1:9/b", {}) == {"Cookie": "mine=1"}
    assert chain.sent("http://10.0.0.1/b", {}) == {}


def test_a_domain_cookie_in_the_jar_never_goes_to_an_address_it_is_a_suffix_of(lab, tmp_path):
    from pcheck.check.cookies import ChainCookies
    from pcheck.cli.credentials import load_cookie_jar

    cookies = load_cookie_jar(str(jar(tmp_path, cookie_line(".0.0.1", "wide"), cookie_line("example.com", "host"))))
    chain = ChainCookies(cookies)
    assert chain.sent("http://127.0.0.1/", {}) == {} and chain.sent("http://10.0.0.1/", {}) == {}
    assert chain.sent("http://example.com/", {"cookie": "a=b"}) == {"Cookie": f"a=b; host={SECRET}"}
    assert chain.sent("http://www.example.com/", {}) == {}  # a host-only cookie (FALSE): not its subdomains
    local = ChainCookies(load_cookie_jar(str(jar(tmp_path, cookie_line("localhost", "n", "v"), name="local.txt"))))
    assert local.sent("http://localhost:8000/", {}) == {"Cookie": "n=v"}  # a name without a dot is a host too


# -- the jar -------------------------------------------------------------------------------------------

def test_a_jar_cookie_reaches_its_domain_only(lab, tmp_path):
    cookies = jar(tmp_path, cookie_line("127.0.0.1", "session"))
    mine, other = lab.url("needs-cookie/session"), lab.url("needs-cookie/session", host=1)
    proc = run_pcheck("check", mine, other, "--cookie-jar", str(cookies), "--format", "jsonl", *FAST)
    outcomes = {r["url"]: r["outcome"] for r in jsonl(proc)}
    assert outcomes == {mine: "alive", other: "blocked"}, proc.stderr
    assert cookies_sent(lab, "127.0.0.1") == [[f"session={SECRET}"]]
    assert cookies_sent(lab, "127.0.0.2") == [[], []]  # HEAD, then GET to confirm the 403


def test_a_jar_cookie_follows_its_path_and_secure_flag(lab, tmp_path):
    cookies = jar(tmp_path, cookie_line("127.0.0.1", "p", path="/needs-cookie"),
                  cookie_line("127.0.0.1", "s", secure="TRUE"),
                  "#HttpOnly_" + cookie_line("127.0.0.1", "h", value="ho"))
    urls = [lab.url("needs-cookie/p"), lab.url("ok?i=2")]
    proc = run_pcheck("check", *urls, "--cookie-jar", str(cookies), "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    sent = {e.target.split("?")[0]: headers_of(e).get("cookie") for e in lab.log}
    assert sent == {"/needs-cookie/p": [f"p={SECRET}; h=ho"], "/ok": ["h=ho"]}  # s is for https only


def test_an_expired_jar_cookie_is_not_sent(lab, tmp_path):
    cookies = jar(tmp_path, cookie_line("127.0.0.1", "old", expires="1000000000"))
    proc = run_pcheck("check", lab.url("needs-cookie/old"), "--cookie-jar", str(cookies), "--format", "jsonl", *FAST)
    assert [r["outcome"] for r in jsonl(proc)] == ["blocked"]


def test_the_jar_is_read_never_written(lab, tmp_path):
    cookies = jar(tmp_path, cookie_line("127.0.0.1", "session"))
    before = cookies.read_bytes(), os.stat(cookies).st_mtime_ns
    chain = lab.url("set-cookie-redirect?name=new&value=1&url=" + to(lab.url("ok")))
    proc = run_pcheck("check", chain, "--cookie-jar", str(cookies), *FAST)
    assert proc.returncode == 0, proc.stderr
    assert (cookies.read_bytes(), os.stat(cookies).st_mtime_ns) == before
    refused = run_pcheck("check", chain, "--cookie-jar", str(cookies), "-o", str(cookies), *FAST)
    assert refused.returncode == 2 and cookies.read_bytes() == before[0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_cookie_is_in_any_report(lab, tmp_path, fmt):
    cookies = jar(tmp_path, cookie_line("127.0.0.1", "session"), cookie_line("127.0.0.1", "other", path="/status"))
    chain = lab.url("set-cookie-redirect?name=sid&value=1&url=" + to(lab.url("status/404")))
    proc = run_pcheck("check", chain, lab.url("needs-cookie/nope"), lab.url("needs-cookie/session"),
                      "--cookie-jar", str(cookies), "--format", fmt, *(["-v"] if fmt == "text" else []), *FAST)
    assert proc.returncode == 1, proc.stderr
    assert any(SECRET in h for e in lab.log for h in headers_of(e).get("cookie", []))  # sent, then never shown
    assert SECRET not in proc.stdout and SECRET not in proc.stderr


def test_the_cache_tells_jars_apart(lab, tmp_path):
    url = lab.url("needs-cookie/session")
    with_it, without = jar(tmp_path, cookie_line("127.0.0.1", "session")), jar(tmp_path, name="empty.txt")
    cache = ["--cache", "--cache-path", str(tmp_path / "cache.sqlite"), "--format", "jsonl", *FAST]
    first = run_pcheck("check", url, "--cookie-jar", str(with_it), *cache)
    assert [r["outcome"] for r in jsonl(first)] == ["alive"], first.stderr
    second = run_pcheck("check", url, "--cookie-jar", str(without), *cache)
    assert [r["outcome"] for r in jsonl(second)] == ["blocked"], second.stderr
    with_it.write_text(MAGIC + cookie_line("127.0.0.1", "session", value="another") + "\n")
    lab.reset_stats()
    third = run_pcheck("check", url, "--cookie-jar", str(with_it), *cache)
    assert [r["outcome"] for r in jsonl(third)] == ["alive"]
    assert [headers_of(e)["cookie"] for e in lab.log] == [["session=another"]]  # the jar changed: checked again


# -- malformed jars ------------------------------------------------------------------------------------

@pytest.mark.parametrize("lines, line", [
    ([cookie_line("127.0.0.1", "a"), f"127.0.0.1\tFALSE\t/\tFALSE\t0\t{SECRET}"], 3),  # six fields
    ([f"127.0.0.1\tMAYBE\t/\tFALSE\t0\tname\t{SECRET}"], 2),
    ([f"127.0.0.1\tFALSE\t/\tFALSE\tsoon\tname\t{SECRET}"], 2),
    (["", "# a comment", f"127.0.0.1\tFALSE\t/\tFALSE\t0\tna\x01me\t{SECRET}"], 4),
    ([f"{SECRET} is no cookie line"], 2),
])
def test_a_malformed_jar_is_exit_2_naming_the_file_and_line(tmp_path, lines, line):
    cookies = jar(tmp_path, *lines)
    proc = run_pcheck("check", "http://127.0.0.1:9/", "--cookie-jar", str(cookies), *FAST)
    assert proc.returncode == 2
    assert f"--cookie-jar {cookies}" in proc.stderr and f"line {line}" in proc.stderr, proc.stderr
    assert SECRET not in proc.stderr and "Traceback" not in proc.stderr


def test_a_missing_or_unreadable_jar_is_exit_2(tmp_path):
    proc = run_pcheck("check", "http://127.0.0.1:9/", "--cookie-jar", str(tmp_path / "nope.txt"), *FAST)
    assert proc.returncode == 2 and "--cookie-jar" in proc.stderr and "nope.txt" in proc.stderr, proc.stderr
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00cookies")
    proc = run_pcheck("check", "http://127.0.0.1:9/", "--cookie-jar", str(binary), *FAST)
    assert proc.returncode == 2 and "binary.txt" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_the_cookie_jar_is_a_config_file_key(lab, tmp_path):
    jar(tmp_path, cookie_line("127.0.0.1", "session"))
    (tmp_path / "pcheck.toml").write_text('cookie_jar = "cookies.txt"\n')
    proc = run_pcheck("check", lab.url("needs-cookie/session"), "--format", "jsonl", *FAST, cwd=tmp_path)
    assert [r["outcome"] for r in jsonl(proc)] == ["alive"], proc.stderr
