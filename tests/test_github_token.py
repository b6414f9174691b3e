"""The GitHub token: `Authorization: Bearer` to github.com and api.github.com over https, and nowhere else.

The lab cannot be github.com, so the rule is held at the function that decides a URL's headers
(`check.auth.token_headers`), end to end by pointing `Config.github_hosts` at a TLS lab, and by
showing that a run with GITHUB_TOKEN set sends nothing to the lab (127.0.0.x is no GitHub host).
"""

from __future__ import annotations

import ssl
from urllib.parse import quote

import pytest
import trustme

import pcheck.run.session
from conftest import run_pcheck
from pcheck.check.auth import token_headers
from pcheck.check.checker import Checker
from pcheck.check.transport import Transport
from pcheck.config import DEFAULT_GITHUB_HOSTS, FORMATS, Config, HostPolicy
from pcheck.errors import ConfigError
from pcheck.lab import Lab
from pcheck.models import Outcome
from support.fast import FAST

pytestmark = pytest.mark.timeout(60)

TOKEN = "ghp_T0kenThatMustNeverLeak"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def config(**options) -> Config:
    return Config(**{"processes": 1, "github_token": TOKEN, **options})


# -- the rule, for a URL and a Config ---------------------------------------------------------------

@pytest.mark.parametrize("url", ["https://github.com/owner/repo", "https://api.github.com/repos/owner/repo",
                                 "https://github.com:443/owner/repo#readme"])
def test_the_token_goes_to_github_over_https(url):
    assert token_headers(url, config()) == BEARER


@pytest.mark.parametrize("url", [
    "http://github.com/owner/repo",  # plain http: anyone on the path would read it
    "http://api.github.com/repos/owner/repo",
    "https://raw.githubusercontent.com/owner/repo/main/README.md",  # content hosts take no token
    "https://gist.github.com/owner/1",
    "https://owner.github.io/site",
    "https://github.com.evil.test/owner/repo",
    "https://evilgithub.com/owner/repo",
    "https://example.com/https://github.com/owner/repo",
])
def test_the_token_goes_nowhere_else(url):
    assert token_headers(url, config()) is None


def test_no_token_means_no_header():
    assert token_headers("https://github.com/owner/repo", Config(processes=1)) is None
    assert DEFAULT_GITHUB_HOSTS == ("github.com", "api.github.com")


@pytest.mark.parametrize("settings", [
    {"headers": (("authorization", "token mine"),)},
    {"hosts": (("github.com", HostPolicy(headers=(("Authorization", "Bearer mine"),))),)},
])
def test_an_authorization_the_user_set_wins_over_the_token(settings):
    assert token_headers("https://github.com/owner/repo", config(**settings)) is None


def test_another_host_table_does_not_stop_the_token():
    other = (("example.com", HostPolicy(headers=(("Authorization", "Bearer other"),))),)
    assert token_headers("https://github.com/owner/repo", config(hosts=other)) == BEARER


def test_the_token_is_never_in_a_config_repr():
    assert TOKEN not in repr(config())


@pytest.mark.parametrize("bad", [f"{TOKEN}\r\nX-Evil: 1", f"{TOKEN} ", "tök"])
def test_a_token_that_could_split_a_request_is_refused_without_being_shown(bad):
    with pytest.raises(ConfigError) as caught:
        config(github_token=bad)
    assert TOKEN not in str(caught.value) and "tök" not in str(caught.value)


# -- on the wire: a TLS lab standing in for GitHub ----------------------------------------------------

@pytest.fixture
def tls_ca(tmp_path):
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "127.0.0.2").configure_cert(server)
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return server, str(path)


@pytest.fixture
def github_lab(tls_ca):
    """127.0.0.1 and 127.0.0.2 over TLS; the checker treats both as GitHub hosts."""
    server, ca_path = tls_ca
    with Lab(hosts=2, ssl_context=server) as site:
        transport = Transport(pool_maxsize=2, verify=ca_path)
        checker = Checker(config(timeout=2.0, retries=0, github_hosts=("127.0.0.1", "127.0.0.2")), transport)
        try:
            yield site, checker
        finally:
            transport.close()


def https(site, path: str, host: int = 0) -> str:
    return site.url(path, host=host).replace("http://", "https://")


def authorizations(site) -> list[tuple[str, str, str | None]]:
    return [(e.address, e.target, dict((k.lower(), v) for k, v in e.headers).get("authorization")) for e in site.log]


def test_a_github_host_over_https_gets_the_token_on_every_hop_within_its_origin(github_lab):
    site, checker = github_lab
    verdict = checker.check(https(site, "redirect/1"))
    assert (verdict.outcome, verdict.redirects) == (Outcome.ALIVE, 1)
    assert authorizations(site) == [("127.0.0.1", "/redirect/1", BEARER["Authorization"]),
                                    ("127.0.0.1", "/redirect/0", BEARER["Authorization"])]


def test_a_redirect_to_another_host_drops_the_token_even_to_another_github_host(github_lab):
    site, checker = github_lab
    onward = https(site, "ok", host=1)
    back = https(site, "ok?back=1")
    via_other = https(site, "redirect-to?url=" + quote(back, safe=""), host=1)
    verdict = checker.check(https(site, "redirect-to?url=" + quote(via_other, safe="")))
    assert (verdict.outcome, verdict.redirects) == (Outcome.ALIVE, 2)
    sent = authorizations(site)
    assert sent[0][2] == BEARER["Authorization"]
    assert [s[2] for s in sent[1:]] == [None, None]  # not to the other host, nor when the chain comes back
    assert checker.check(onward).outcome is Outcome.ALIVE  # listed itself, the other host gets it
    assert authorizations(site)[-1] == ("127.0.0.2", "/ok", BEARER["Authorization"])


def test_a_downgrade_to_http_drops_the_token(github_lab):
    site, checker = github_lab
    with Lab(hosts=1) as plain:
        verdict = checker.check(https(site, "redirect-to?url=" + quote(plain.url("ok"), safe="")))
        assert (verdict.outcome, verdict.redirects) == (Outcome.ALIVE, 1)
        [hop2] = plain.log
        assert not any(name.lower() == "authorization" for name, _ in hop2.headers)


def test_a_github_host_over_plain_http_never_gets_the_token(lab):
    transport = Transport(pool_maxsize=2)
    try:
        checker = Checker(config(timeout=2.0, retries=0, github_hosts=("127.0.0.1",)), transport)
        assert checker.check(lab.url("ok")).outcome is Outcome.ALIVE
    finally:
        transport.close()
    assert authorizations(lab) == [("127.0.0.1", "/ok", None)]


# -- the command line --------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_with_github_token_set_sends_and_writes_nothing_of_it(lab, tmp_path, fmt):
    out = tmp_path / "report"
    urls = [lab.url("ok"), lab.url("status/404"), lab.url("redirect-to?url=" + quote(lab.url("ok?i=1", host=1), safe=""))]
    proc = run_pcheck("check", *urls, "--format", fmt, "-o", str(out), "--cache", "--cache-path",
                      str(tmp_path / "cache.sqlite"), *FAST, env={"GITHUB_TOKEN": TOKEN})
    assert proc.returncode == 1, proc.stderr
    assert len(lab.log) >= 4
    assert not any(name.lower() == "authorization" for e in lab.log for name, _ in e.headers)
    assert TOKEN not in out.read_text(encoding="utf-8") + proc.stdout + proc.stderr
    assert TOKEN.encode() not in (tmp_path / "cache.sqlite").read_bytes()


def test_cli_dump_never_shows_the_token(lab):
    proc = run_pcheck("check", lab.url("ok"), "--dump", "--format", "jsonl", "--github-token", TOKEN, *FAST)
    assert proc.returncode == 0, proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr and len(lab.log) == 0


@pytest.fixture
def configs(monkeypatch):
    """The Config each `pcheck check --dump` run would check with (the run itself is left out)."""
    seen: list[Config] = []

    class Recording:
        def __init__(self, config, plan):
            seen.append(config)

        def dump(self, on_problem=None):
            from pcheck.models import Summary
            from pcheck.run.session import Ending

            return Ending(Summary(), False, None)

    monkeypatch.setattr(pcheck.run.session, "Session", Recording)
    return seen


@pytest.mark.parametrize("args, env, expected", [
    (["--github-token", "from-option"], {"GITHUB_TOKEN": "from-env"}, "from-option"),  # the option wins
    ([], {"GITHUB_TOKEN": "from-env"}, "from-env"),
    ([], {"GITHUB_TOKEN": ""}, None),  # empty means none
    ([], {}, None),
])
def test_cli_token_comes_from_the_option_else_the_environment(configs, monkeypatch, args, env, expected):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    proc = run_pcheck("check", "https://github.com/owner/repo", "--dump", *args)
    assert proc.returncode == 0, proc.stderr
    [seen] = configs
    assert seen.github_token == expected and seen.github_hosts == DEFAULT_GITHUB_HOSTS


def test_the_token_is_not_a_config_file_key(tmp_path, lab):
    (tmp_path / "pcheck.toml").write_text(f'github_token = "{TOKEN}"\n', encoding="utf-8")
    proc = run_pcheck("check", lab.url("ok"), *FAST, cwd=tmp_path)
    assert proc.returncode == 2 and "unknown key 'github_token'" in proc.stderr
    assert TOKEN not in proc.stderr


def test_a_verdict_cached_with_a_token_is_not_served_to_a_run_without_it(tmp_path):
    from pcheck.config import Config
    from pcheck.models import CheckResult, Outcome, Verdict
    from pcheck.store.cache import VerdictCache
    from pcheck.inputs.targets import parse_url

    path = str(tmp_path / "cache.sqlite")
    target = parse_url("https://github.com/a/b", "doc.md", 1)
    with_token = VerdictCache(path, Config(processes=1, github_token="ghp_secret123"))
    alive = CheckResult.of(target.url, "doc.md", 1, Verdict(Outcome.ALIVE, 200, final_url=target.key), target.key,
                           target.host)
    list(with_token.remember([alive]))
    with_token.close()
    assert b"ghp_secret123" not in (tmp_path / "cache.sqlite").read_bytes()
    again = VerdictCache(path, Config(processes=1, github_token="ghp_secret123"))
    assert isinstance(next(again.serve([target])), CheckResult)  # the same token: served
    again.close()
    without = VerdictCache(path, Config(processes=1))
    assert next(without.serve([target])) is target  # no token: checked again
    without.close()
