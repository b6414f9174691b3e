"""--basic-auth 'REGEX USER:PASSWORD' and a host table's `basic_auth` (issue 27, item 7).

`Authorization: Basic` goes only to URLs the regex matches (a host table's: that host only), is
dropped on a redirect that leaves the origin, and the password is in no report and no error message:
a bad value is exit 2 naming the option, the password as `***`.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from conftest import run_pcheck
from support.fast import FAST
from support.runs import jsonl
from support.servers import headers_of

from pcheck.config import FORMATS

pytestmark = pytest.mark.timeout(60)

PASSWORD = "s3cretPassw0rd"
ENCODED = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
BASIC = f"Basic {ENCODED}"


def authorizations(lab, address: str) -> list[list[str]]:
    return [headers_of(e).get("authorization", []) for e in lab.log if e.address == address]


def never_shown(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text and ENCODED not in text, text


def test_basic_auth_reaches_only_the_matching_host(lab):
    mine, other = lab.url(f"needs-basic/alice/{PASSWORD}"), lab.url(f"needs-basic/alice/{PASSWORD}", host=1)
    proc = run_pcheck("check", mine, other, "--basic-auth", rf"^http://127\.0\.0\.1: alice:{PASSWORD}",
                      "--format", "jsonl", *FAST)
    outcomes = {r["url"]: r["outcome"] for r in jsonl(proc)}
    assert outcomes == {mine: "alive", other: "blocked"}, proc.stderr
    assert authorizations(lab, "127.0.0.1") == [[BASIC]]
    assert all(sent == [] for sent in authorizations(lab, "127.0.0.2"))


def test_the_first_matching_rule_wins_and_beats_a_header(lab):
    url = lab.url(f"needs-basic/alice/{PASSWORD}")
    proc = run_pcheck("check", url, "--header", "authorization: Bearer other", "--basic-auth", f"needs-basic alice:{PASSWORD}",
                      "--basic-auth", "127 bob:wrong", "--format", "jsonl", *FAST)
    assert [r["outcome"] for r in jsonl(proc)] == ["alive"], proc.stderr
    assert authorizations(lab, "127.0.0.1") == [[BASIC]]


def test_basic_auth_is_dropped_when_a_redirect_leaves_the_origin(lab):
    away = lab.url("redirect-to?url=" + quote(lab.url("ok?away=1", host=1), safe=""))
    same = lab.url("redirect/1?same=1")
    proc = run_pcheck("check", away, same, "--basic-auth", f".* alice:{PASSWORD}", "--format", "jsonl", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert authorizations(lab, "127.0.0.1") == [[BASIC]] * 3  # away's first hop, both hops of same
    assert authorizations(lab, "127.0.0.2") == [[]]  # the regex matches it too: the chain's origin rule wins


def test_the_rule_is_matched_against_the_url_as_listed():
    from pcheck.check.auth import basic_auth_headers

    rules = ((r"^https://a\.test/", "Basic A"), ("b\\.test", "Basic B"))
    assert basic_auth_headers("https://a.test/x", {"authorization": "x"}, rules) == {"Authorization": "Basic A"}
    assert basic_auth_headers("https://b.test/x", {}, rules) == {"Authorization": "Basic B"}
    headers = {"User-Agent": "u"}
    assert basic_auth_headers("https://c.test/a.test/", headers, rules) is headers


def test_a_host_tables_basic_auth_goes_to_that_host_only(lab, tmp_path):
    (tmp_path / "pcheck.toml").write_text(f'[hosts."127.0.0.2"]\nbasic_auth = "alice:{PASSWORD}"\n')
    mine, other = lab.url(f"needs-basic/alice/{PASSWORD}", host=1), lab.url(f"needs-basic/alice/{PASSWORD}")
    proc = run_pcheck("check", mine, other, "--format", "jsonl", *FAST, cwd=tmp_path)
    outcomes = {r["url"]: r["outcome"] for r in jsonl(proc)}
    assert outcomes == {mine: "alive", other: "blocked"}, proc.stderr
    assert authorizations(lab, "127.0.0.2") == [[BASIC]]
    assert all(sent == [] for sent in authorizations(lab, "127.0.0.1"))


def test_basic_auth_rules_are_a_config_file_key(lab, tmp_path):
    (tmp_path / "pcheck.toml").write_text(f'basic_auth = ["127\\\\.0\\\\.0\\\\.1 alice:{PASSWORD}"]\n')
    proc = run_pcheck("check", lab.url(f"needs-basic/alice/{PASSWORD}"), "--format", "jsonl", *FAST, cwd=tmp_path)
    assert [r["outcome"] for r in jsonl(proc)] == ["alive"], proc.stderr


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_password_is_in_no_report(lab, fmt):
    urls = [lab.url("needs-basic/bob/other"), lab.url("status/404"), lab.url("ok"),
            lab.url("redirect-to?url=" + quote(lab.url("status/500", host=1), safe=""))]
    proc = run_pcheck("check", *urls, "--basic-auth", f"127 alice:{PASSWORD}", "--format", fmt,
                      *(["-v", "--host-stats"] if fmt == "text" else []), *FAST)
    assert proc.returncode == 1, proc.stderr
    assert authorizations(lab, "127.0.0.1")[0] == [BASIC]  # sent, and never shown
    never_shown(proc.stdout, proc.stderr)


@pytest.mark.parametrize("value, named", [
    (f"alice:{PASSWORD}", "--basic-auth"),  # no regex
    (f"example\\.com alice{PASSWORD}", "--basic-auth 'example\\.com ***'"),  # no colon
    (f"example\\.com(  alice:{PASSWORD}", "--basic-auth 'example\\.com( alice:***'"),  # bad regex
    ("example\\.com", "--basic-auth 'example\\.com'"),
])
def test_a_bad_value_is_exit_2_naming_it_never_the_password(value, named):
    proc = run_pcheck("check", "http://127.0.0.1:9/", "--basic-auth", value, *FAST)
    assert proc.returncode == 2, proc.stderr
    assert named in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    never_shown(proc.stderr)


@pytest.mark.parametrize("table", [f'basic_auth = "alice{PASSWORD}"', "basic_auth = 12",
                                   f'basic_auth = "alice:{PASSWORD}"\nheaders = {{ Authorization = "x" }}'])
def test_a_bad_host_table_value_is_exit_2_never_the_password(tmp_path, table):
    (tmp_path / "pcheck.toml").write_text(f'[hosts."example.com"]\n{table}\n')
    proc = run_pcheck("check", "http://127.0.0.1:9/", *FAST, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "hosts.example.com.basic_auth" in proc.stderr, proc.stderr
    never_shown(proc.stderr)


def test_the_cache_tells_credentials_apart(lab, tmp_path):
    url = lab.url(f"needs-basic/alice/{PASSWORD}")
    cache = ["--cache", "--cache-path", str(tmp_path / "cache.sqlite"), "--format", "jsonl", *FAST]
    first = run_pcheck("check", url, "--basic-auth", f". alice:{PASSWORD}", *cache)
    assert [r["outcome"] for r in jsonl(first)] == ["alive"], first.stderr
    second = run_pcheck("check", url, *cache)
    assert [r["outcome"] for r in jsonl(second)] == ["blocked"], second.stderr
    assert ENCODED.encode() not in (tmp_path / "cache.sqlite").read_bytes()  # (the URL names the password)


def test_no_credential_is_in_a_config_repr(tmp_path):
    from pcheck.cli.configfile import HOST_HEADERS, _host_policy
    from pcheck.cli.credentials import load_cookie_jar, parse_basic_auth
    from pcheck.config import Config

    jar = tmp_path / "cookies.txt"
    jar.write_text(f"# Netscape HTTP Cookie File\nexample.com\tFALSE\t/\tFALSE\t0\tsid\t{PASSWORD}\n")
    host = _host_policy("pcheck.toml", "a.test", {"basic_auth": f"alice:{PASSWORD}"}, HOST_HEADERS)
    config = Config(processes=1, cookies=load_cookie_jar(str(jar)), basic_auth=(parse_basic_auth(f". alice:{PASSWORD}"),),
                    hosts=(("a.test", host),))
    assert config.cookies and config.basic_auth and config.hosts[0][1].headers
    never_shown(repr(config), repr(config.for_workers()), repr(host))
