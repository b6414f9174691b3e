"""Every option of `check`, `watch` and `fix`, declared once, and how they become the run's Config.

Each option is one field of `Options` (cli.declare derives the typer
parameters, the config file's types and the README's table from it). A
command hands its parameters to `prepare`: the config file fills in what the
command line left at its default, and `Options` makes the run's `Config` and
its sources. Every default comes from `pcheck.config`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, fields, replace
from typing import Annotated, Any, Iterable, List, Optional

import typer

from pcheck.cli.declare import (
    BOTH,
    CRAWL,
    FILES,
    CHECK,
    DEMO,
    FIX,
    WATCH,
    config_values,
    declared,
    file_types,
    from_file,
    option,
)
from pcheck.config import (
    COLORS,
    DEFAULT_ACCEPT,
    DEFAULT_CACHE_PATH,
    DEFAULT_COLOR,
    DEFAULT_DISTRIBUTOR,
    DEFAULT_EVERY,
    DEFAULT_EXTENSIONS,
    DEFAULT_FAIL_AFTER,
    DEFAULT_FORMAT,
    DEFAULT_HOST_INTERVAL,
    DEFAULT_INPUT_FORMAT,
    DEFAULT_MAX_CACHE_AGE,
    DEFAULT_MAX_PER_HOST,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_MAX_RETRY_AFTER_S,
    DEFAULT_METHOD,
    DEFAULT_RECHECK_AFTER,
    DEFAULT_REDIRECTS,
    DEFAULT_RETRIES,
    DEFAULT_SHARD_SIZE,
    DEFAULT_THREADS,
    DEFAULT_TIMEOUT_S,
    DEFAULT_USER_AGENT,
    FORMATS,
    GITHUB_TOKEN_ENV,
    INPUT_FORMATS,
    PROCESSES_ENV,
    SMALL_RUN,
    Config,
    HostPolicy,
    parse_accept,
    parse_duration,
    parse_header,
    small_run_limit,
)
from pcheck.cli.credentials import load_cookie_jar, parse_basic_auths
from pcheck.fix.archive import DEFAULT_ARCHIVE_API
from pcheck.errors import ConfigError
from pcheck.inputs.remaps import parse_remap

# Hidden from the Arguments section (typer would show its type there, `<list[str]>`): each
# command's help says what an INPUT is, and the usage line still shows `[INPUT]...`.
Inputs = Annotated[Optional[List[str]], typer.Argument(
    metavar="[INPUT]...", hidden=True,
    help="URL lists, Markdown/HTML documents, directories or globs; '-' for stdin; or http(s) URLs.")]


def leading_parameters() -> list[inspect.Parameter]:
    """The parameters every checking command takes before its options: click's context and the inputs."""
    return [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
            inspect.Parameter("inputs", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Inputs)]


def _headers(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple(parse_header(h) for h in values)


def _remaps(rules: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple(parse_remap(rule) for rule in rules)


def _lower(text: str) -> str:
    return text.lower()


def _none_if_empty(text: str | None) -> str | None:
    return text or None


def _verify(insecure: bool) -> bool:
    return not insecure


@dataclass(frozen=True)
class Options:
    """Every option of `check` and `watch`, declared once: its name is its long flag and its config-file key.

    The typer parameters, the config file's types, the conversion into Config
    and the README's options table all come from these fields (cli.declare).
    """

    inputs: tuple[str, ...] = ()
    every: str = option(DEFAULT_EVERY, "--every", metavar="DURATION", commands=frozenset({WATCH}), in_file=False,
                        duration=True, help="Interval between rounds: `30s`, `5m`, `1h` (at most `30d`).")
    rounds: int | None = option(None, "--rounds", metavar="N", commands=frozenset({WATCH}), in_file=False,
                                shown_default="never", help="Stop after this many rounds.")
    write: bool = option(False, "--write", commands=frozenset({FIX}), in_file=False,
                         help="Rewrite the files (each atomically, its mode kept; one changed since it was read is "
                              "not written: exit 2) instead of printing the diff (exit 1 when there is one).")
    temporary: bool = option(False, "--temporary", commands=frozenset({FIX}), in_file=False,
                             help="Also rewrite links that answered through temporary redirects (302, 303, 307).")
    suggest: bool = option(False, "--suggest", commands=frozenset({CHECK, CRAWL}), in_file=False,
                           help="Say the fix of each link that has one (`moved to URL`: what `pcheck fix` would write): "
                                "a Suggestions section, a `suggestion` field. No file is touched.")
    archive: bool = option(False, "--archive", commands=frozenset({CHECK, FIX}), in_file=False,
                           help="Replace each dead link (404, 410, no such host) with its Wayback Machine copy from "
                                "before it failed (see Fixing links); with `check`, say it (`--suggest`).")
    archive_api: str = option(DEFAULT_ARCHIVE_API, "--archive-api", metavar="URL",
                              commands=frozenset({CHECK, FIX}), help="The availability API `--archive` asks.")
    soft_404: bool = option(False, "--soft-404", commands=frozenset({CHECK, CRAWL}), help=(
        "Find pages that are gone but answer 200: ask each host once for a page that cannot exist and compare its "
        "200 answers with it; a look-alike, or a deep link redirected to the home page, is `broken` (`soft_404`). "
        "Costs a request per host, and on a host that serves soft 404s one GET per 200 page."))
    scope: tuple[str, ...] = option((), "--scope", metavar="REGEX", commands=frozenset({CRAWL}), help=(
        "The pages to follow: those whose URL a REGEX matches (repeatable); else those of the start URLs' origins."))
    max_depth: int | None = option(None, "--max-depth", metavar="N", commands=frozenset({CRAWL}),
                                   help="Follow pages at most N links from a start page (the start pages: 0).")
    max_pages: int | None = option(None, "--max-pages", metavar="N", commands=frozenset({CRAWL}),
                                   help="Fetch at most N pages to follow (their links are still all checked).")
    no_robots: bool = option(False, "--no-robots", commands=frozenset({CRAWL}), help="Ignore robots.txt.")
    sitemap: tuple[str, ...] = option((), "--sitemap", metavar="URL", commands=frozenset({CRAWL}), in_file=False,
                                      help="Also start from the pages a sitemap lists (repeatable).")
    processes: int | None = option(
        None, "-p", "--processes", metavar="N", config="processes", commands=BOTH | {DEMO},
        shown_default=f"usable cores (affinity-aware); env `{PROCESSES_ENV}`",
        help="Worker processes (when neither this nor the environment variable is set, a run of at most "
             f"{SMALL_RUN} URL arguments is checked in the pcheck process itself: no worker to start; at most 1024).")
    threads: int = option(DEFAULT_THREADS, "-t", "--threads", metavar="N", config="threads",
                          help="Threads per process, at most: each parks on one request; a worker starts with 32 "
                               "and doubles while its checks wait on the network, not on the CPU (at most 10000).")
    timeout: float = option(DEFAULT_TIMEOUT_S, "--timeout", metavar="SECONDS", config="timeout",
                            help="Total seconds for one attempt, connect to last header byte, whatever the server drips "
                                 "(at most 3600).")
    retries: int = option(DEFAULT_RETRIES, "--retries", metavar="N", config="retries",
                          help="Retries on timeout, connection/DNS error, 408, 429, 5xx; exponential backoff with "
                               "jitter; `Retry-After` honoured up to `--max-retry-after` (at most 100).")
    max_retry_after: str = option(f"{DEFAULT_MAX_RETRY_AFTER_S:g}s", "--max-retry-after", metavar="DURATION",
                                  config="max_retry_after", convert=parse_duration, duration=True,
                                  help="Longest `Retry-After` waited for; a longer one ends the URL's check at once "
                                       "(`blocked` for a 429), and a host pause is capped at it.")
    accept: str = option(DEFAULT_ACCEPT, "--accept", metavar="CODES", config="accept", convert=parse_accept,
                         joined=True, per_host=True,
                         help="Statuses that count as alive, comma-separated: `403`, `200-299` (both ends in), and "
                              "lychee's ranges: `200..=299` (end in), `400..404` (end out: 400-403), `..=299` (from "
                              "100), `200..` (to 999); a malformed part is an error naming it (exit 2).")
    method: str = option(DEFAULT_METHOD, "--method", metavar="head|get", config="method", convert=_lower,
                         help="First method; with HEAD, any non-alive answer except a timeout or rate limit is "
                              "confirmed with a GET whose body is never downloaded.")
    max_per_host: int = option(DEFAULT_MAX_PER_HOST, "--max-per-host", metavar="N", config="max_per_host",
                               per_host=True,
                               help="Concurrent requests to one host, across all processes together (at most 10000).")
    host_interval: str = option(DEFAULT_HOST_INTERVAL, "--host-interval", metavar="DURATION", config="host_interval",
                                convert=parse_duration, duration=True, per_host=True,
                                help="Least time between two request starts to one host (`0`: none); a host whose "
                                     "refusals (429, 503) are the host's state is slowed further, then comes back "
                                     "within seconds (see Polite per host).")
    recheck_after: str = option(DEFAULT_RECHECK_AFTER, "--recheck-after", metavar="DURATION", config="recheck_after",
                                convert=parse_duration, duration=True, commands=frozenset({CHECK, FIX, CRAWL}),
                                help="Check a transient failure (timeout, refused connection, 5xx, 429) once more "
                                     "this long after it, before the report (`0`: never).")
    accept_transient: bool = option(False, "--accept-transient", config="accept_transient",
                                    commands=frozenset({CHECK, CRAWL}),
                                    help="Transient failures (after the late re-check) are reported but do not "
                                         "fail the run.")
    max_redirects: int = option(DEFAULT_MAX_REDIRECTS, "--max-redirects", metavar="N", config="max_redirects",
                                help="Redirect hops followed (a loop stops at its first repeat; at most 1000).")
    redirects: str = option(DEFAULT_REDIRECTS, "--redirects", metavar="allow|warn|fail", config="redirects",
                            commands=frozenset({CHECK, WATCH, CRAWL}),
                            help="A link that answers through redirects: `allow` (alive), `warn` (alive, and listed "
                                 "in the text report with where it ends), `fail` (`broken`, error `redirected`, the "
                                 "detail saying whether it is permanent: 301/308 at every hop).")
    require_https: bool = option(False, "--require-https", config="require_https",
                                 help="An `http://` link whose `https://` twin (same host and path, default port) is "
                                      "alive is `broken` (`insecure_link`); one more request per http link, none for "
                                      "a URL naming a port other than 80.")
    remap: tuple[str, ...] = option((), "--remap", metavar="'REGEX REPLACEMENT'", config="remap", convert=_remaps,
                                    commands=frozenset({CHECK, WATCH, CRAWL}),
                                    help="Check a link matching REGEX at REPLACEMENT instead (repeatable, the first "
                                         "match wins; lychee's `$1` groups): the record keeps the link in `url` and "
                                         "what was requested in `checked_url`; a rule without a replacement is exit 2.")
    format: str = option(DEFAULT_FORMAT, "--format", metavar="FORMAT", commands=frozenset({CHECK, WATCH, DEMO, CRAWL}),
                         help=f"Report format: {', '.join(f'`{f}`' for f in FORMATS)} (`github`: annotations on "
                              "the lines in GitHub Actions; `sarif`: SARIF 2.1.0 for code scanning; `html`: one "
                              "self-contained page with charts and filters, best with -o).",
                         help_for=((WATCH, "text (a line per change) or jsonl (a record per change)."),))
    output: str | None = option(None, "-o", "--output", metavar="FILE", commands=frozenset({CHECK, CRAWL}),
                                shown_default="stdout",
                                help="Write the report to this file, replacing it (appending if it is "
                                     "`$GITHUB_STEP_SUMMARY`'s, see In CI).")
    include: tuple[str, ...] = option((), "--include", metavar="REGEX", config="include",
                                      help="Only check URLs matching this regex (repeatable), as written or in "
                                           "normal form; the others are reported as `excluded`.")
    exclude: tuple[str, ...] = option((), "--exclude", metavar="REGEX", config="exclude",
                                      help="Skip URLs matching this regex (repeatable), as written or in normal form "
                                           "(`HTTPS://X.org` is matched by `^https://x\\.org/`); reported as `excluded`.")
    exclude_path: tuple[str, ...] = option((), "--exclude-path", commands=FILES, metavar="REGEX",
                                           help="Leave input files and folders whose path (as reports name it, a "
                                                "folder's ending in `/`) matches this regex (repeatable) out of "
                                                "directory walks and globs; a file named as an input is read all the "
                                                "same (see Saying what is not checked).")
    header: tuple[str, ...] = option((), "--header", metavar="HEADER", config="headers", convert=_headers,
                                     help="Extra request header `Name: value` (repeatable); `Authorization`, `Cookie` "
                                          "and `Proxy-Authorization` are dropped when a redirect leaves the origin.")
    user_agent: str = option(DEFAULT_USER_AGENT, "--user-agent", metavar="AGENT", config="user_agent",
                             shown_default="`Mozilla/5.0 (compatible; pcheck/<version>)`", help="User-Agent header.")
    exclude_private: bool = option(False, "--exclude-private", config="exclude_private",
                                   help="Refuse private, loopback, link-local and metadata addresses, checked on the "
                                        "resolved address of every hop (see Security).")
    proxy: str | None = option(None, "--proxy", metavar="URL", config="proxy", convert=_none_if_empty,
                               shown_default="env `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`",
                               help="Send every request through this HTTP(S) proxy (`http://[user:password@]host:port`) "
                                    "instead of the environment's; `NO_PROXY` still applies (see Proxies).")
    github_token: str | None = option(None, "--github-token", metavar="TOKEN", config="github_token",
                                      convert=_none_if_empty, envvar=GITHUB_TOKEN_ENV, in_file=False,
                                      shown_default=f"env `{GITHUB_TOKEN_ENV}`",
                                      help="Sent as `Authorization: Bearer` to `https://github.com` and "
                                           "`https://api.github.com` only (see GitHub token); never a file key.")
    cookie_jar: str | None = option(None, "--cookie-jar", metavar="FILE", config="cookies", convert=load_cookie_jar,
                                    help="Send the cookies of FILE (Netscape format, as curl and browsers export them) "
                                         "to their domains and paths; read, never written (see Cookies and basic auth).")
    basic_auth: tuple[str, ...] = option((), "--basic-auth", metavar="'REGEX USER:PASSWORD'", config="basic_auth",
                                         convert=parse_basic_auths,
                                         help="`Authorization: Basic` for URLs matching REGEX (repeatable, the first "
                                              "match wins), dropped when a redirect leaves the origin; also "
                                              "`basic_auth = \"USER:PASSWORD\"` in a host table.")
    insecure: bool = option(False, "--insecure", config="verify_tls", convert=_verify,
                            help="Skip TLS certificate verification (warns).")
    ca_bundle: str | None = option(None, "--ca-bundle", metavar="FILE", config="ca_bundle",
                                   shown_default="the system's",
                                   help="CA certificates to verify TLS with: a PEM file, or a folder of them hashed "
                                        "by `openssl rehash`.")
    fail_on_blocked: bool = option(False, "--fail-on-blocked", config="fail_on_blocked", commands=frozenset({CHECK, CRAWL}),
                                   help="Count `blocked` URLs (401, 403, 429, 999, challenges) as failures.")
    input_format: str = option(DEFAULT_INPUT_FORMAT, "--input-format", commands=FILES, metavar="FORMAT",
                               help=f"How to read inputs: {', '.join(f'`{f}`' for f in INPUT_FORMATS)} "
                                    "(`auto`: by extension).")
    extensions: str = option(",".join(DEFAULT_EXTENSIONS), "--extensions", metavar="EXTS", joined=True, commands=FILES,
                             help="Document extensions searched for in directories.")
    files_from: str | None = option(None, "--files-from", commands=FILES, metavar="FILE", in_file=False,
                                    help="Also read the inputs from FILE (`-`: stdin), one path a line; blank lines "
                                         "and `#` comments skipped; a path that does not exist is an error naming "
                                         "FILE and its line.")
    changed_since: str | None = option(None, "--changed-since", metavar="REF", commands=frozenset({CHECK, FIX}),
                                       in_file=False,
                                       help="Check only the documents git sees changed between revision REF and the "
                                            "working tree (committed, staged or not, untracked but not ignored), "
                                            "among the inputs; URL arguments and stdin are kept (see In CI).")
    no_ignore: bool = option(False, "--no-ignore", commands=FILES,
                             help="Walk directories without reading `.gitignore` and `.ignore` files.")
    hidden: bool = option(False, "--hidden", commands=FILES, help="Walk hidden files and folders (names starting with `.`) too.")
    host_stats: bool = option(False, "--host-stats", commands=frozenset({CHECK, CRAWL}),
                              help="Add per-host statistics to the report.")
    no_progress: bool = option(False, "--no-progress", commands=frozenset({CHECK, FIX, CRAWL}),
                               help="No progress bar or status lines.")
    color: str = option(DEFAULT_COLOR, "--color", metavar="WHEN", commands=frozenset({CHECK, CRAWL}),
                        help=f"Colour the text report: {', '.join(f'`{c}`' for c in COLORS)} "
                             "(`auto`: on a terminal, unless `NO_COLOR` is set).")
    verbose: bool = option(False, "--verbose", "-v", commands=frozenset({CHECK, CRAWL}),
                           help="Text report: list every link with its outcome, alive and excluded ones too.")
    quiet: bool = option(False, "--quiet", "-q", commands=frozenset({CHECK, CRAWL}),
                         help="Text report: only the problem lines, no counts or hints.")
    config_path: str | None = option(None, "--config", metavar="FILE", in_file=False,
                                     shown_default="the nearest `pcheck.toml`, or `pyproject.toml` with `[tool.pcheck]`",
                                     help="Config file.")
    start_method: str | None = option(None, "--start-method", metavar="METHOD", config="start_method", hidden=True,
                                      in_file=False, help="multiprocessing start method: forkserver or spawn.")
    resume: bool = option(False, "--resume", commands=frozenset({CHECK, CRAWL}), in_file=False,
                          help="Append to the `-o` jsonl report of an earlier run, skipping URLs it already holds a "
                               "verdict for (see Long runs).")
    cache: bool = option(False, "--cache", commands=frozenset({CHECK, FIX, CRAWL}), in_file=False,
                         help="Reuse alive verdicts from a local SQLite cache; errors are never cached (see Long runs).")
    cache_path: str = option(DEFAULT_CACHE_PATH, "--cache-path", metavar="FILE", commands=frozenset({CHECK, FIX, CRAWL}),
                             in_file=False, help="The cache file.")
    max_cache_age: str = option(DEFAULT_MAX_CACHE_AGE, "--max-cache-age", metavar="DURATION",
                                commands=frozenset({CHECK, FIX, CRAWL}), in_file=False, duration=True,
                                help="How long a cached verdict is served: `30s`, `15m`, `12h`, `1d`.")
    fail_after: int = option(DEFAULT_FAIL_AFTER, "--fail-after", metavar="N", config="fail_after",
                             commands=frozenset({CHECK, CRAWL}),
                             help="With `--cache`: a broken link fails the run only once it has failed on N runs in "
                                  "a row (it is reported every time; see In CI).")
    distributor: str = option(DEFAULT_DISTRIBUTOR, "--distributor", metavar="NAME", config="distributor",
                              commands=frozenset({CHECK}), in_file=False,
                              help="`multiprocessing` (this machine) or `ray` (a Ray cluster; "
                                   "`pip install 'pcheck[ray]'`; see On a Ray cluster).")
    ray_address: str | None = option(None, "--ray-address", metavar="ADDRESS", config="ray_address",
                                     commands=frozenset({CHECK}), in_file=False, shown_default="a local cluster",
                                     help="Ray cluster to join (`auto`, `ray://host:10001`).")
    shard_size: int = option(DEFAULT_SHARD_SIZE, "--shard-size", metavar="N", config="shard_size",
                             commands=frozenset({CHECK}), in_file=False, help="URLs per Ray task.")
    dump: bool = option(False, "--dump", commands=frozenset({CHECK, CRAWL}), in_file=False, help_for=((CRAWL, (
                            "Crawl, and print each page the crawl fetches, one per line: no other link is checked.")),),
                        help="Print the links that would be checked (after `--include`/`--exclude`), one per line, "
                             "local ones as `file://` URLs, and check none; `--format jsonl` gives a record each "
                             "with `source`, `line` and `column` (a local link's `link` as written too). "
                             "Problems met on the way (invalid lines, missing local files) go to stderr, and fail "
                             "the run as in a check.")
    render_from: str | None = option(None, "--render-from", metavar="REPORT", commands=frozenset({CHECK}),
                                     in_file=False, hidden=True,
                                     help="Check nothing: write the report in --format from the records of a jsonl "
                                          "REPORT of an earlier run (the Action's summary and annotations).")
    render_elapsed: float = option(0.0, "--render-elapsed", metavar="SECONDS", commands=frozenset({CHECK}),
                                   in_file=False, hidden=True, help="With --render-from: the run's duration.")
    root_dir: str | None = option(None, "--root-dir", commands=FILES, metavar="DIR", config="root_dir",
                                  shown_default="not resolved (excluded, saying so)",
                                  help="The folder a document's root-relative links (`/guide/a.md`) start from, "
                                       "checked on disk.")
    base_url: str | None = option(None, "--base-url", commands=FILES, metavar="URL", config="base_url", shown_default="on disk",
                                  help="Resolve a document's relative links against URL and check them over HTTP "
                                       "instead of on disk.")
    include_fragments: bool = option(False, "--include-fragments", config="include_fragments",
                                     help="Check `#fragments`: of local files (heading slugs as GitHub makes them, "
                                          "`id`/`name` attributes) and of http(s) pages (fetched once with GET).")

    @property
    def verbosity(self) -> int:
        """-1 with --quiet, 1 with --verbose, else 0 (see run.session.Plan)."""
        return 1 if self.verbose else -1 if self.quiet else 0

    @classmethod
    def given(cls, ctx: typer.Context, values: dict[str, Any]) -> tuple[Options, frozenset[str]]:
        """Options from a command's parameters, and the names the command line actually set."""
        names = {f.name for f in fields(cls)}
        unknown = set(values) - names
        if unknown:  # a programming error: a command parameter with no Options field
            raise TypeError(f"no such option: {', '.join(sorted(unknown))}")
        typed = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        typed["inputs"] = tuple(values.get("inputs") or ())
        # typer ships its own copy of click, so compare the enum member's name, not the member.
        explicit = frozenset(k for k in values
                             if getattr(ctx.get_parameter_source(k), "name", "DEFAULT") not in ("DEFAULT", "DEFAULT_MAP"))
        return cls(**typed), explicit

    def under_file(self, explicit: frozenset[str], file_options: dict[str, Any],
                   accepted: Iterable[str]) -> tuple[Options, list[str]]:
        """The config file's values for options the command line left at their defaults.

        Only keys in `accepted` (the command's own options) are taken; returns
        the merged options and the file keys used.
        """
        by_name = {d.name: d for d in declared(Options)}
        changes = {key: from_file(by_name[key], value) for key, value in file_options.items()
                   if key not in explicit and key in accepted and key in by_name}
        return replace(self, **changes), list(changes)

    def to_config(self, hosts: tuple[tuple[str, HostPolicy], ...] = ()) -> Config:
        """The run's Config; ConfigError names the option at fault."""
        if not self.inputs and self.files_from is None and self.render_from is None:
            raise ConfigError("no INPUT given: name files of URLs, documents, '-' for stdin, or URLs")
        if self.format not in FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(FORMATS)}")
        if self.color not in COLORS:
            raise ConfigError(f"--color must be one of {', '.join(COLORS)}")
        if self.verbose and self.quiet:
            raise ConfigError("--verbose and --quiet ask for opposite reports: give one")
        if self.fail_after > 1 and not self.cache:
            raise ConfigError("--fail-after needs --cache: the count of runs lives there")
        return Config(**config_values(self), small_run=small_run_limit(self.processes is not None), hosts=hosts)

    def extension_list(self) -> list[str]:
        return [e.strip() for e in self.extensions.split(",") if e.strip()]


#: The config file's keys and their TOML types, from the declarations (cli.configfile checks a file by them).
FILE_TYPES = file_types(Options)
#: The keys a [hosts."name"] table takes from the options (configfile adds its `headers` table).
HOST_TYPES = file_types(Options, per_host=True)


if __name__ == "__main__":  # python -m pcheck.cli.options README.md: write the README's options table anew
    import sys

    from pcheck.cli.declare import markdown_table, with_table

    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        with open(path, "w", encoding="utf-8") as f:
            f.write(with_table(text, markdown_table(Options)))
