"""Run options as one frozen value, and the defaults the CLI and README show.

No I/O here: the CLI and the library both build a `Config` and hand it on.
"""

from __future__ import annotations

import math
import os
import random
import re
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit

from pcheck._version import __version__
from pcheck.errors import ConfigError
from pcheck.models import redact_userinfo

#: Threads per process, at most: each parks on one request. A worker starts with 32 and doubles while its
#: checks wait on the network (run/crew.py): 128 checked 2,000 URLs on 200 HTTPS hosts in 2.5 s against
#: 3.3 s at 64, where a CPU-bound list went 15 % slower with 128 than with 64 (benchmarks/README.md, issue 18).
DEFAULT_THREADS = 128
#: --fail-after: a broken link fails the run on its first failing run.
DEFAULT_FAIL_AFTER = 1
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_RETRIES = 2
DEFAULT_ACCEPT = "200-299"
DEFAULT_METHOD = "head"
DEFAULT_MAX_PER_HOST = 8
#: Least time between two request starts to one host: lychee's default (20 a second at most), with
#: --max-per-host 8 in flight. Polite crawlers go slower (Scrapy's AutoThrottle, wget --wait), but a link
#: checker asks each page once; a host that wants less says so with 429, and pcheck slows for it.
DEFAULT_HOST_INTERVAL = "50ms"
#: The late re-check of transient failures (--recheck-after): long enough to ride out a server's restart
#: or a network blip, counted from the failure, so it overlaps the rest of the run; a clean run never waits.
DEFAULT_RECHECK_AFTER = "10s"
DEFAULT_MAX_REDIRECTS = 10
#: --redirects: what a redirected link is worth: alive (allow), alive and listed (warn), broken (fail).
DEFAULT_REDIRECTS, REDIRECT_POLICIES = "allow", ("allow", "warn", "fail")
DEFAULT_USER_AGENT = f"Mozilla/5.0 (compatible; pcheck/{__version__})"
#: Longest Retry-After pcheck waits for; a longer one ends the check at once.
DEFAULT_MAX_RETRY_AFTER_S = 30.0
#: First backoff step: retry n waits between half and all of base * 2**n (jitter). The late re-check, not these
#: retries, is what waits out a blip: they only need to pass a momentary glitch, and at the end of a list
#: their waits are the run's tail (0.25 s: a URL refused to the end costs 0.4-0.75 s, not 0.75-1.5 s).
DEFAULT_BACKOFF_BASE_S = 0.25
DEFAULT_BACKOFF_CAP_S = 10.0
#: Hosts whose idle kept-alive connections a worker keeps (requests' default of 10 re-opens
#: connections beyond 10 hosts); fewer only when the open-files limit cannot hold them.
POOL_HOSTS = 256
#: The largest values a run takes (a setting beyond them is a usage error, not a run that fails every URL):
#: an attempt of an hour, 100 retries, 10,000 threads or requests to one host, 1,000 hops, 1,024 processes.
MAX_TIMEOUT_S, MAX_RETRIES, MAX_THREADS, MAX_PER_HOST = 3600.0, 100, 10_000, 10_000
MAX_REDIRECTS_LIMIT, MAX_PROCESSES = 1000, 1024
MAX_EVERY_S = 30 * 86400.0  # `pcheck watch --every`: a month at most
#: --fail-after: a run a minute for 4,000 years (the cache keeps no longer streak).
MAX_FAIL_AFTER = 2**31
#: Lines longer than this are `invalid` and never held in memory whole (RFC 9110 asks for 8000).
MAX_URL_LENGTH = 8192
#: A document input is read whole to find its links: past this it is one `unchecked` record instead
#: (parsing costs about ten times its size in memory; the largest single-page references are a few MiB).
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024

#: Document extensions looked for in directories (--extensions); .txt there means a text document.
DEFAULT_EXTENSIONS = ("md", "markdown", "html", "htm")

#: Report format, and where the report goes (None: stdout).
DEFAULT_FORMAT = "text"
FORMATS = ("text", "jsonl", "json", "csv", "markdown", "junit", "github", "sarif", "html")
#: --color for the text report: auto colours a terminal (unless NO_COLOR is set).
DEFAULT_COLOR = "auto"
COLORS = ("auto", "always", "never")
#: How report streams encode what UTF-8 cannot hold: an undecodable file name or argument (a lone
#: surrogate, \udcff) is written as that escape instead of ending the report in a traceback.
REPORT_ERRORS = "backslashreplace"
#: How input files are read: by extension (auto), or as one kind for all.
DEFAULT_INPUT_FORMAT = "auto"
INPUT_FORMATS = ("auto", "list", "markdown", "html", "text", "sitemap")
#: Sitemaps: bytes of one read (uncompressed; sitemaps.org's cap), sitemaps followed per input, index nesting.
MAX_SITEMAP_BYTES, MAX_SITEMAPS, MAX_SITEMAP_DEPTH = 50 * 1024 * 1024, 1000, 3
#: The verdict cache (--cache): where it lives, and how long an alive verdict is served.
DEFAULT_CACHE_PATH = os.path.join(".pcheck", "cache.sqlite")
DEFAULT_MAX_CACHE_AGE = "1d"
DEFAULT_EVERY = "30s"  #: `pcheck watch`: the interval between rounds
DEFAULT_DISTRIBUTOR = "multiprocessing"
DEFAULT_SHARD_SIZE = 10_000  # URLs per Ray task
#: Hosts a GitHub token is sent to, over https only: the site and its API, whose rate limits it lifts.
DEFAULT_GITHUB_HOSTS = ("github.com", "api.github.com")
GITHUB_TOKEN_ENV = "GITHUB_TOKEN"
#: Proxy URL schemes pcheck sends through (https://: TLS to the proxy itself); SOCKS is not supported.
PROXY_SCHEMES = ("http", "https")

PROCESSES_ENV = "PCHECK_PROCESSES"
#: Config.small_run when the user has not chosen --processes: a handful of URLs, an hour's edits to a README.
SMALL_RUN = 16
METHODS, DISTRIBUTORS = ("head", "get"), (DEFAULT_DISTRIBUTOR, "ray")


def usable_cores() -> int:
    """Cores this process may run on: affinity-aware, unlike os.cpu_count()."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def processes_from_environment() -> str:
    """`PCHECK_PROCESSES` as set (stripped), or "" when it is not: the user's choice of processes, if any."""
    return os.environ.get(PROCESSES_ENV, "").strip()


def small_run_limit(processes_chosen: bool) -> int:
    """Config.small_run: SMALL_RUN, unless the user chose the processes (--processes, or PCHECK_PROCESSES): 0."""
    return 0 if processes_chosen or processes_from_environment() else SMALL_RUN


def is_small_run(urls: int, limit: int) -> bool:
    """The one rule for a small run (Config.small_run): at most `limit` URLs, 0 meaning never. Before the input
    is read (to start the worker server early or not), callers ask with the inputs, all of them URLs."""
    return 0 < limit and urls <= limit


def default_processes() -> int:
    """`PCHECK_PROCESSES` if set, else the usable cores (Go's GOMAXPROCS rule)."""
    raw = processes_from_environment()
    if not raw:
        return usable_cores()
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{PROCESSES_ENV}={raw!r} is not a whole number") from None
    if value < 1:
        raise ConfigError(f"{PROCESSES_ENV} must be at least 1, got {value}")
    return value


#: The lowest and highest status `--accept` takes, and where lychee's open ranges (`..=299`, `200..`) stop.
MIN_STATUS, MAX_STATUS = 100, 999
_ACCEPT_PART = re.compile(
    r"(?P<one>[0-9]+)"  # 403
    r"|(?P<lo>[0-9]+)\s*-\s*(?P<hi>[0-9]+)"  # 200-299, both ends included (pcheck's own form)
    r"|(?P<start>[0-9]+)?\s*\.\.(?P<incl>=)?\s*(?P<end>[0-9]+)?"  # lychee's: 200..=299, 400..404, ..=299, 200.., ..
)


def parse_accept(spec: str) -> tuple[tuple[int, int], ...]:
    """Statuses that count as alive, as inclusive (low, high) pairs: '200-299,403' -> ((200, 299), (403, 403)).

    Comma-separated parts, each one of: `403`; `200-299` (both ends included); or lychee's ranges,
    `200..=299` (end included), `400..404` (end excluded: 400-403), `..=299` (from 100), `200..` (to 999).
    ConfigError names the part at fault.
    """
    ranges = [_accept_part(part.strip()) for part in spec.split(",") if part.strip()]
    if not ranges:
        raise ConfigError("--accept needs at least one status code")
    return tuple(ranges)


def _accept_part(part: str) -> tuple[int, int]:
    """One part of --accept as an inclusive (low, high) pair; ConfigError naming the part."""
    m = _ACCEPT_PART.fullmatch(part)
    if not m:
        raise ConfigError(f"--accept: {part!r} is not a status code or a range like 200-299, 200..=299 or 400..404")
    for written in (m["one"], m["lo"], m["hi"], m["start"], m["end"]):
        if written is not None and not (len(written) <= 4 and MIN_STATUS <= int(written) <= MAX_STATUS):
            raise ConfigError(f"--accept: {part!r}: {written} is not an HTTP status ({MIN_STATUS}-{MAX_STATUS})")
    if m["one"] is not None:
        return int(m["one"]), int(m["one"])
    if m["lo"] is not None:
        lo, hi = int(m["lo"]), int(m["hi"])
    elif m["incl"] and m["end"] is None:
        raise ConfigError(f"--accept: {part!r} has no end after '..=' (write {part}{MAX_STATUS}, or {part[:-1]} for no end)")
    else:
        lo = int(m["start"]) if m["start"] is not None else MIN_STATUS
        hi = MAX_STATUS if m["end"] is None else int(m["end"]) - (0 if m["incl"] else 1)
        if m["end"] is not None and not m["incl"] and int(m["end"]) == lo:
            raise ConfigError(f"--accept: {part!r} holds no status: '..' leaves its end out (write {lo}..={lo} or {lo})")
    if lo > hi:
        raise ConfigError(f"--accept: {part!r} runs backwards: it starts after it ends")
    return lo, hi


def parse_duration(text: str, name: str | None = None) -> float:
    """'90' or '90s', '500ms', '15m', '12h', '1d' -> seconds; ConfigError (naming the option `name`, if given)."""
    try:
        return _duration(text)
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}" if name else str(exc)) from None


def _duration(text: str) -> float:
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text.endswith("ms"):
        scale, number = 0.001, text[:-2]
    else:
        scale = units.get(text[-1:], None)
        number = text[:-1] if scale else text
    try:
        value = float(number) * (scale or 1)
    except ValueError:
        raise ConfigError(f"{text!r} is not a duration like 500ms, 30s, 15m, 12h or 1d") from None
    if not math.isfinite(value):
        raise ConfigError(f"{text!r} is not a duration like 500ms, 30s, 15m, 12h or 1d")
    if value < 0:
        raise ConfigError("a duration cannot be negative")
    return value


def parse_header(spec: str) -> tuple[str, str]:
    """'Name: value' -> ('Name', 'value'), refusing anything that could split a request."""
    name, sep, value = spec.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
        raise ConfigError(f"--header {spec!r}: expected 'Name: value'")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ConfigError(f"--header {name}: the value holds control characters")
    return name, value


def parse_proxy(spec: str, name: str = "--proxy") -> str:
    """A proxy as a URL: 'host:port' means http://host:port; ConfigError (never showing a password) if unusable:
    an unsupported scheme, no host, an unclosed IPv6 bracket, a port that is not a number in 1-65535.
    `name` is what the message calls it (the option, or an environment variable)."""
    url = spec.strip() if "://" in spec else "http://" + spec.strip()
    scheme, _, rest = url.partition("://")
    authority = rest.split("/", 1)[0]
    shown = redact_userinfo(url)
    if scheme.lower() not in PROXY_SCHEMES:
        raise ConfigError(f"{name} {shown}: only http:// and https:// proxies are supported")
    why = None
    if not authority.rpartition("@")[2] or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        why = "expected a URL like http://host:port"
    else:
        try:
            parts = urlsplit(url)
            port = parts.port  # ValueError unless digits in 0-65535
        except ValueError:
            port, parts = -1, None
        hostport = authority.rpartition("@")[2]
        if parts is None or not parts.hostname or port == 0 or (port is None and hostport.endswith(":")) \
                or hostport.rpartition("]")[2].count(":") > 1:
            why = "not a host and a port (1-65535) like http://host:port"
    if why:
        raise ConfigError(f"{name} {shown}: {why}")
    return url


@dataclass(frozen=True)
class HostPolicy:
    """Per-host settings from a config file's [hosts."name"] table; None means the run's own."""

    max_per_host: int | None = None
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # credentials among them, basic_auth's too
    accept: tuple[tuple[int, int], ...] | None = None
    host_interval: float | None = None

    def __post_init__(self) -> None:
        _refuse_unless([
            (self.max_per_host is None or 1 <= self.max_per_host <= MAX_PER_HOST,
             f"hosts: max_per_host must be between 1 and {MAX_PER_HOST}"),
            (self.host_interval is None or 0 <= self.host_interval <= 3600, "hosts: host_interval must be between 0 and 1h"),
        ])


@dataclass(frozen=True)
class CheckConfig:
    """What a checker needs to check one URL: all that is pickled into each worker process.

    The run's own settings (scheduling, inputs, report policy) are `Config`'s,
    which adds them to these; `Config.for_workers()` is this part alone.
    """

    threads: int = DEFAULT_THREADS
    timeout: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    accept: tuple[tuple[int, int], ...] = parse_accept(DEFAULT_ACCEPT)
    method: str = DEFAULT_METHOD
    #: The most one host gets at once (a worker sizes its kept-alive pools by it).
    max_per_host: int = DEFAULT_MAX_PER_HOST
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    headers: tuple[tuple[str, str], ...] = ()
    user_agent: str = DEFAULT_USER_AGENT
    verify_tls: bool = True  # only --insecure turns this off
    ca_bundle: str | None = None
    exclude_private: bool = False
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER_S
    backoff_base: float = DEFAULT_BACKOFF_BASE_S
    backoff_cap: float = DEFAULT_BACKOFF_CAP_S
    hosts: tuple[tuple[str, HostPolicy], ...] = ()  #: (host, policy) pairs: lower-case punycode, matched exactly
    #: --proxy, for HTTP(S)_PROXY/ALL_PROXY (NO_PROXY still applies; None: the environment's); may hold a password.
    proxy: str | None = field(default=None, repr=False)
    github_token: str | None = field(default=None, repr=False)  #: Bearer to github_hosts, https only
    github_hosts: tuple[str, ...] = DEFAULT_GITHUB_HOSTS
    redirects: str = DEFAULT_REDIRECTS  #: --redirects: allow, warn or fail (check/policies.py)
    require_https: bool = False  #: --require-https: an http:// link with a live https:// twin is broken
    #: --cookie-jar's cookies (http.cookiejar.Cookie each) and --basic-auth's (regex, `Basic ...`) pairs: secrets.
    cookies: tuple = field(default=(), repr=False)
    basic_auth: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        _refuse_unless([
            (1 <= self.threads <= MAX_THREADS, f"--threads must be between 1 and {MAX_THREADS}"),
            (0 < self.timeout <= MAX_TIMEOUT_S, f"--timeout must be more than 0 and at most {MAX_TIMEOUT_S:g} seconds"),
            (0 <= self.retries <= MAX_RETRIES, f"--retries must be between 0 and {MAX_RETRIES}"),
            (1 <= self.max_per_host <= MAX_PER_HOST, f"--max-per-host must be between 1 and {MAX_PER_HOST}"),
            (0 <= self.max_retry_after <= 3600, "--max-retry-after must be between 0 and 1h"),
            (0 <= self.max_redirects <= MAX_REDIRECTS_LIMIT, f"--max-redirects must be between 0 and {MAX_REDIRECTS_LIMIT}"),
            (0 < self.backoff_base <= self.backoff_cap <= 3600, "backoff_base and backoff_cap: 0 < base <= cap <= 1h"),
            (self.method in METHODS, f"--method must be one of {', '.join(METHODS)}"),
            (self.redirects in REDIRECT_POLICIES, f"--redirects {self.redirects!r}: one of {', '.join(REDIRECT_POLICIES)}"),
        ])
        if self.proxy is not None:
            object.__setattr__(self, "proxy", parse_proxy(self.proxy))
        if self.github_token is not None and not re.fullmatch(r"[\x21-\x7e]+", self.github_token):
            raise ConfigError("--github-token: a token is printable ASCII without spaces (the value is not shown)")

    def accepts(self, status: int, accept: tuple[tuple[int, int], ...] | None = None) -> bool:
        return any(lo <= status <= hi for lo, hi in (accept or self.accept))

    def host_policy(self, host: str) -> HostPolicy | None:
        return next((policy for name, policy in self.hosts if name == host), None)

    def retry_wait(self, attempt: int) -> float:
        """Seconds before retry `attempt` (0 for the first) of a URL with no Retry-After: exponential, capped,
        with jitter in its upper half so the URLs refused together do not come back together."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** min(attempt, 30))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def max_per_host_for(self, host: str) -> int:
        policy = self.host_policy(host) if self.hosts else None
        return policy.max_per_host if policy and policy.max_per_host else self.max_per_host


@dataclass(frozen=True)
class Config(CheckConfig):
    """Everything a run needs: the checker's settings (CheckConfig, what workers get) and the run's own."""

    processes: int = field(default_factory=default_processes)
    #: A run of at most this many URLs is checked in threads of this process: a worker process costs more
    #: (about 0.2 s). 0: always worker processes. The CLI sets small_run_limit(); is_small_run() applies it.
    small_run: int = 0
    host_interval: float = parse_duration(DEFAULT_HOST_INTERVAL)
    #: Seconds after a transient failure before its URL is checked once more (0: no late re-check).
    recheck_after: float = parse_duration(DEFAULT_RECHECK_AFTER)
    #: Transient failures (after the late re-check) do not fail the run; they are still reported.
    accept_transient: bool = False
    #: With --cache: a broken link fails the run only once it has failed on this many runs in a row.
    fail_after: int = DEFAULT_FAIL_AFTER
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    fail_on_blocked: bool = False
    ignore_rules: tuple[tuple[str, str], ...] = ()  # .pcheckignore's URL patterns and their `file:line`s, as exclude
    start_method: str | None = None  # None picks per platform (see pool.mp_context); tests parametrize it
    #: "multiprocessing" (this machine) or "ray" (a Ray cluster, pip install 'pcheck[ray]').
    distributor: str = DEFAULT_DISTRIBUTOR
    ray_address: str | None = None  # None starts a local cluster; "auto" or "ray://host:port" joins one
    shard_size: int = DEFAULT_SHARD_SIZE
    #: Where a document's root-relative links (`/x`) start on disk (--root-dir); None: they are not resolved.
    root_dir: str | None = None
    #: What a document's relative links resolve against, to be checked over HTTP (--base-url).
    base_url: str | None = None
    #: Check #fragments (--include-fragments): of local files, and of http(s) pages fetched once with GET.
    include_fragments: bool = False
    remap: tuple[tuple[str, str], ...] = ()  #: --remap: (regex, Python replacement), first match wins (inputs/remaps)

    def __post_init__(self) -> None:
        super().__post_init__()
        _refuse_unless([
            (1 <= self.processes <= MAX_PROCESSES, f"--processes must be between 1 and {MAX_PROCESSES}"),
            (self.small_run >= 0, "small_run cannot be negative"),
            (0 <= self.host_interval <= 3600, "--host-interval must be between 0 and 1h"),
            (0 <= self.recheck_after <= 3600, "--recheck-after must be between 0 and 1h"),
            (1 <= self.fail_after <= MAX_FAIL_AFTER, f"--fail-after must be between 1 and {MAX_FAIL_AFTER}"),
            (self.distributor in DISTRIBUTORS, f"--distributor must be one of {', '.join(DISTRIBUTORS)}"),
            (self.shard_size >= 1, "--shard-size must be at least 1"),
        ])
        if self.root_dir is not None and not os.path.isdir(self.root_dir):
            raise ConfigError(f"--root-dir {self.root_dir}: not a directory")
        if self.base_url is not None and not re.match(r"(?i)https?://[^/?#]", self.base_url):
            raise ConfigError(f"--base-url {self.base_url!r}: not an absolute http(s) URL")
        for pattern in self.include + self.exclude:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"pattern {pattern!r}: {exc}") from None

    def for_workers(self) -> CheckConfig:
        """The checker's part alone: what each worker process is sent (the run's own settings stay here)."""
        return CheckConfig(**{f.name: getattr(self, f.name) for f in fields(CheckConfig)})

    def host_interval_for(self, host: str) -> float:
        policy = self.host_policy(host) if self.hosts else None
        return policy.host_interval if policy and policy.host_interval is not None else self.host_interval


def _refuse_unless(checks: list[tuple[bool, str]]) -> None:
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
