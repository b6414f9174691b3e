"""The command line's options, declared once, gathered into a typed `Options`, turned into a Config.

`check` and `watch` share the option declarations below (Annotated types);
each command builds an `Options` from its parameters by name, the config
file fills in what the command line left at its default, and `Options`
makes the run's `Config` and its sources. Every default comes from
`pcheck.config`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Annotated, Any, Iterable, List, Optional

import typer

from pcheck.config import (
    COLORS,
    DEFAULT_ACCEPT,
    DEFAULT_CACHE_PATH,
    DEFAULT_COLOR,
    DEFAULT_DISTRIBUTOR,
    DEFAULT_FAIL_AFTER,
    DEFAULT_EXTENSIONS,
    DEFAULT_FORMAT,
    DEFAULT_HOST_INTERVAL,
    DEFAULT_INPUT_FORMAT,
    DEFAULT_MAX_CACHE_AGE,
    DEFAULT_MAX_PER_HOST,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_METHOD,
    DEFAULT_RECHECK_AFTER,
    DEFAULT_RETRIES,
    DEFAULT_SHARD_SIZE,
    DEFAULT_THREADS,
    DEFAULT_TIMEOUT_S,
    DEFAULT_USER_AGENT,
    FORMATS,
    GITHUB_TOKEN_ENV,
    PROCESSES_ENV,
    SMALL_RUN,
    processes_from_environment,
    Config,
    HostPolicy,
    parse_accept,
    parse_duration,
    parse_header,
)
from pcheck.errors import ConfigError

if TYPE_CHECKING:
    from pcheck.inputs.sources import Source

# Hidden from the Arguments section (typer would show its type there, `<list[str]>`): each
# command's help says what an INPUT is, and the usage line still shows `[INPUT]...`.
Inputs = Annotated[Optional[List[str]], typer.Argument(
    metavar="[INPUT]...", hidden=True,
    help="URL lists, Markdown/HTML documents, directories or globs; '-' for stdin; or http(s) URLs.")]
Processes = Annotated[Optional[int], typer.Option("-p", "--processes", metavar="N", help=f"Worker processes [default: usable cores, or ${PROCESSES_ENV}].")]
Threads = Annotated[int, typer.Option("-t", "--threads", metavar="N", help="Threads per process, at most: a worker starts with 32 and doubles while its checks wait on the network.")]
Timeout = Annotated[float, typer.Option("--timeout", metavar="SECONDS", help="Total seconds for one attempt, connect to last header byte.")]
Retries = Annotated[int, typer.Option("--retries", metavar="N", help="Retries on timeout, connection/DNS error, 408, 429, 5xx.")]
Accept = Annotated[str, typer.Option("--accept", metavar="CODES", help="Statuses that count as alive, comma-separated: 403, 200-299, or lychee's 200..=299, 400..404 (end excluded), ..=299, 200...")]
Method = Annotated[str, typer.Option("--method", metavar="head|get", help="First method: head (a failure is confirmed with GET) or get.")]
MaxPerHost = Annotated[int, typer.Option("--max-per-host", metavar="N", help="Concurrent requests to one host, all processes together.")]
RecheckAfter = Annotated[str, typer.Option("--recheck-after", metavar="DURATION", help="Check a transient failure (timeout, refused connection, 5xx, 429) once more this long after it, before the report (0: never).")]
AcceptTransient = Annotated[bool, typer.Option("--accept-transient", help="Transient failures (after the late re-check) do not fail the run; they are still reported.")]
HostInterval = Annotated[str, typer.Option("--host-interval", metavar="DURATION", help="Least time between two request starts to one host (500ms, 2s; 0: none); a host answering 429 or 503 is slowed further.")]
MaxRedirects = Annotated[int, typer.Option("--max-redirects", metavar="N", help="Redirect hops followed.")]
Format = Annotated[str, typer.Option("--format", metavar="FORMAT", help=f"Report format: {', '.join(FORMATS)}.")]
Output = Annotated[Optional[str], typer.Option("-o", "--output", metavar="FILE", help="Write the report to this file [default: stdout].")]
Include = Annotated[List[str], typer.Option("--include", metavar="REGEX", help="Only check URLs matching this regex (repeatable).")]
Exclude = Annotated[List[str], typer.Option("--exclude", metavar="REGEX", help="Skip URLs matching this regex (repeatable).")]
Header = Annotated[List[str], typer.Option("--header", metavar="HEADER", help="Extra request header 'Name: value' (repeatable).")]
UserAgent = Annotated[str, typer.Option("--user-agent", metavar="AGENT", help="User-Agent header.")]
ExcludePrivate = Annotated[bool, typer.Option("--exclude-private", help="Refuse private, loopback, link-local and metadata addresses, checked on every hop's resolved address.")]
Proxy = Annotated[Optional[str], typer.Option("--proxy", metavar="URL", help="Send every request through this HTTP(S) proxy (http://[user:password@]host:port) instead of $HTTP_PROXY, $HTTPS_PROXY, $ALL_PROXY; $NO_PROXY still applies.")]
GithubToken = Annotated[Optional[str], typer.Option("--github-token", metavar="TOKEN", envvar=GITHUB_TOKEN_ENV, show_envvar=False, help=f"GitHub token, sent as a bearer token to https://github.com and api.github.com only [default: ${GITHUB_TOKEN_ENV}].")]
Insecure = Annotated[bool, typer.Option("--insecure", help="Skip TLS certificate verification.")]
CaBundle = Annotated[Optional[str], typer.Option("--ca-bundle", metavar="FILE", help="CA certificates (a PEM file, or a folder of them hashed by `openssl rehash`) to verify TLS with.")]
FailOnBlocked = Annotated[bool, typer.Option("--fail-on-blocked", help="Count blocked URLs (401, 403, 429, 999, challenges) as failures.")]
InputFormat = Annotated[str, typer.Option("--input-format", metavar="FORMAT", help="How to read inputs: auto (by extension), list, markdown, html, text, sitemap.")]
Extensions = Annotated[str, typer.Option("--extensions", metavar="EXTS", help="Document extensions searched for in directories.")]
NoIgnore = Annotated[bool, typer.Option("--no-ignore", help="Walk directories without reading .gitignore and .ignore files.")]
Hidden = Annotated[bool, typer.Option("--hidden", help="Walk hidden files and folders (names starting with '.') too.")]
HostStats = Annotated[bool, typer.Option("--host-stats", help="Add per-host statistics to the report.")]
NoProgress = Annotated[bool, typer.Option("--no-progress", help="No progress bar or status lines.")]
Color = Annotated[str, typer.Option("--color", metavar="WHEN", help=f"Colour the text report: {', '.join(COLORS)} (auto: on a terminal, unless NO_COLOR is set).")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Text report: list every link with its outcome, alive and excluded ones too.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Text report: only the problem lines, no counts or hints.")]
ConfigPath = Annotated[Optional[str], typer.Option("--config", metavar="FILE", help="Config file [default: the nearest pcheck.toml, or pyproject.toml with [tool.pcheck]].")]
StartMethod = Annotated[Optional[str], typer.Option("--start-method", metavar="METHOD", help="multiprocessing start method: forkserver or spawn.", hidden=True)]
Resume = Annotated[bool, typer.Option("--resume", help="Append to the -o jsonl report of an earlier run, skipping URLs it already holds a verdict for.")]
Cache = Annotated[bool, typer.Option("--cache", help="Reuse alive verdicts from a local SQLite cache (errors are never cached).")]
CachePath = Annotated[str, typer.Option("--cache-path", metavar="FILE", help="The cache file.")]
FailAfter = Annotated[int, typer.Option("--fail-after", metavar="N", help="With --cache: a broken link fails the run only once it has failed on N runs in a row (it is reported every time).")]
MaxCacheAge = Annotated[str, typer.Option("--max-cache-age", metavar="DURATION", help="How long a cached verdict is served: 30s, 15m, 12h, 1d.")]
Distributor = Annotated[str, typer.Option("--distributor", metavar="NAME", help="multiprocessing (this machine) or ray (a Ray cluster; pip install 'pcheck[ray]').")]
RayAddress = Annotated[Optional[str], typer.Option("--ray-address", metavar="ADDRESS", help="Ray cluster to join ('auto', 'ray://host:10001') [default: start a local one].")]
ShardSize = Annotated[int, typer.Option("--shard-size", metavar="N", help="URLs per Ray task.")]
RootDir = Annotated[Optional[str], typer.Option("--root-dir", metavar="DIR", help="Folder that a document's root-relative links (/guide/a.md) start from, checked on disk.")]
BaseUrl = Annotated[Optional[str], typer.Option("--base-url", metavar="URL", help="Resolve a document's relative links against URL and check them over HTTP instead of on disk.")]
IncludeFragments = Annotated[bool, typer.Option("--include-fragments", help="Check #fragments: of local files (heading slugs as GitHub makes them, id/name attributes) and of http(s) pages (fetched once with GET, ids and names).")]
Dump = Annotated[bool, typer.Option("--dump", help="Print the links that would be checked, one per line (--format jsonl: a record each, with source, line and column), and check none.")]
Every = Annotated[str, typer.Option("--every", metavar="DURATION", help="Interval between rounds: 30s, 5m, 1h.")]
Rounds = Annotated[Optional[int], typer.Option("--rounds", metavar="N", help="Stop after this many rounds [default: never].")]


@dataclass(frozen=True)
class Options:
    """Every option of `check` and `watch`, by its long name (and config-file key)."""

    inputs: tuple[str, ...] = ()
    processes: int | None = None  # None: PCHECK_PROCESSES, else the usable cores
    threads: int = DEFAULT_THREADS
    timeout: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    accept: str = DEFAULT_ACCEPT
    method: str = DEFAULT_METHOD
    max_per_host: int = DEFAULT_MAX_PER_HOST
    host_interval: str = DEFAULT_HOST_INTERVAL
    recheck_after: str = DEFAULT_RECHECK_AFTER
    accept_transient: bool = False
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    format: str = DEFAULT_FORMAT
    output: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    user_agent: str = DEFAULT_USER_AGENT
    exclude_private: bool = False
    proxy: str | None = None  # None: the environment's proxies
    github_token: str | None = field(default=None, repr=False)  # --github-token, else $GITHUB_TOKEN (empty: none)
    insecure: bool = False  # only --insecure turns TLS verification off
    ca_bundle: str | None = None
    fail_on_blocked: bool = False
    input_format: str = DEFAULT_INPUT_FORMAT
    extensions: str = ",".join(DEFAULT_EXTENSIONS)
    no_ignore: bool = False
    hidden: bool = False
    host_stats: bool = False
    no_progress: bool = False
    color: str = DEFAULT_COLOR
    verbose: bool = False
    quiet: bool = False
    config_path: str | None = None
    start_method: str | None = None
    resume: bool = False
    cache: bool = False
    cache_path: str = DEFAULT_CACHE_PATH
    max_cache_age: str = DEFAULT_MAX_CACHE_AGE
    fail_after: int = DEFAULT_FAIL_AFTER
    distributor: str = DEFAULT_DISTRIBUTOR
    ray_address: str | None = None
    shard_size: int = DEFAULT_SHARD_SIZE
    dump: bool = False
    root_dir: str | None = None
    base_url: str | None = None
    include_fragments: bool = False

    @property
    def verbosity(self) -> int:
        """-1 with --quiet, 1 with --verbose, else 0 (see run.session.Plan)."""
        return 1 if self.verbose else -1 if self.quiet else 0

    @classmethod
    def given(cls, ctx: typer.Context, **values: Any) -> tuple[Options, frozenset[str]]:
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
        changes: dict[str, Any] = {}
        for key, value in file_options.items():
            if key in explicit or key not in accepted:
                continue
            if key in ("accept", "extensions") and isinstance(value, list):
                value = ",".join(map(str, value))
            elif isinstance(value, list):
                value = tuple(value)
            elif key == "timeout":
                value = float(value)
            changes[key] = value
        return replace(self, **changes), list(changes)

    def to_config(self, hosts: tuple[tuple[str, HostPolicy], ...] = ()) -> Config:
        """The run's Config; ConfigError names the option at fault."""
        if not self.inputs:
            raise ConfigError("no INPUT given: name files of URLs, documents, '-' for stdin, or URLs")
        if self.format not in FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(FORMATS)}")
        if self.color not in COLORS:
            raise ConfigError(f"--color must be one of {', '.join(COLORS)}")
        if self.verbose and self.quiet:
            raise ConfigError("--verbose and --quiet ask for opposite reports: give one")
        if self.fail_after > 1 and not self.cache:
            raise ConfigError("--fail-after needs --cache: the count of runs lives there")
        if self.ca_bundle is not None:
            _check_ca_bundle(self.ca_bundle)
        return Config(
            **({"processes": self.processes} if self.processes is not None else {}),
            small_run=0 if self.processes is not None or processes_from_environment() else SMALL_RUN,
            threads=self.threads, timeout=float(self.timeout), retries=self.retries, accept=parse_accept(self.accept),
            method=self.method.lower(), max_per_host=self.max_per_host, max_redirects=self.max_redirects,
            host_interval=parse_duration(self.host_interval), recheck_after=parse_duration(self.recheck_after),
            accept_transient=self.accept_transient,
            headers=tuple(parse_header(h) for h in self.header), user_agent=self.user_agent,
            verify_tls=not self.insecure, ca_bundle=self.ca_bundle, exclude_private=self.exclude_private,
            include=self.include, exclude=self.exclude, fail_on_blocked=self.fail_on_blocked,
            start_method=self.start_method, hosts=hosts, distributor=self.distributor,
            ray_address=self.ray_address, shard_size=self.shard_size, root_dir=self.root_dir,
            base_url=self.base_url, include_fragments=self.include_fragments,
            proxy=self.proxy or None, github_token=self.github_token or None,
            fail_after=self.fail_after,
        )

    def extension_list(self) -> list[str]:
        return [e.strip() for e in self.extensions.split(",") if e.strip()]


def prepare(ctx: typer.Context, exclude: frozenset[str] | set[str] = frozenset()) -> tuple[Options, Config, list[Source]]:
    """The command's options under the config file, the run's Config, and its opened sources.

    The command's parameters (click's `ctx.params`, less `exclude`) become an
    `Options`; only those options are taken from the config file. Raises
    ConfigError (saying which file keys were in play) or InputError.
    """
    values = {k: v for k, v in ctx.params.items() if k not in exclude}
    from pcheck.cli.configfile import find_config, load_config
    from pcheck.inputs.sources import open_sources

    options, explicit = Options.given(ctx, **values)
    path, used = None, []
    try:
        path = options.config_path or find_config()
        settings = load_config(path) if path else None
        if settings is not None:  # a flag given on the command line wins over the file
            options, used = options.under_file(explicit, settings.options, values)
        config = options.to_config(settings.hosts if settings else ())
        sources = open_sources(options.inputs, options.input_format, options.extension_list(),
                               ignore_files=not options.no_ignore, hidden=options.hidden)
    except ConfigError as exc:
        if used:
            raise ConfigError(f"{exc} (set in {path}: {', '.join(used)})") from None
        raise
    if options.insecure:
        typer.echo("pcheck: warning: --insecure: TLS certificates are not verified", err=True)
    return options, config, sources


def _check_ca_bundle(path: str) -> None:
    """Read the bundle once here: every worker loads it once (check.tls), so a bad one would fail every URL.
    A folder of hashed certificates (`openssl rehash`, /etc/ssl/certs) is taken as requests takes it."""
    import ssl

    if os.path.isdir(path):
        if not os.access(path, os.R_OK | os.X_OK):
            raise ConfigError(f"--ca-bundle {path}: a folder that cannot be read")
        return  # OpenSSL reads a certificate from it when a handshake needs one
    if not os.path.isfile(path):
        raise ConfigError(f"--ca-bundle {path}: no such file or folder")
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(f"--ca-bundle {path}: no PEM certificate could be read from it ({exc})") from exc

