"""The formats for code review: `--format github` (workflow commands) and `--format sarif` (SARIF 2.1.0).

Both say the same of a record, written as it comes. A problem is an `error`
when it fails the run (the exit code's own rule, `Summary.forgives`), a
`warning` when it does not (blocked, unless --fail-on-blocked; a transient
failure forgiven by --accept-transient or --fail-after); an alive or excluded
link is no finding. Its words are the link as written and the text report's
reason; its file is the record's document relative to the workspace
(`GITHUB_WORKSPACE` when set, else the working directory), where a reviewer's
tools look for it.

github: one workflow command per problem, which the runner shows on its line,

    ::error file=docs/a.md,line=3,col=5,title=pcheck%3A broken link::https://x.org/y (404 Not Found)

its values escaped exactly as GitHub's toolkit escapes them (@actions/core,
command.ts): in the message `%`, CR and LF; in a property also `:` and `,`. So
a file named `a,b:c.md` or a URL holding `%41` reaches GitHub as it is, and
nothing a document controls can end the line or start a command of its own.
One `::notice` counting the problems ends it, when there were any.

sarif: for code scanning (github/codeql-action/upload-sarif). The rules, one
per kind of problem (an error kind, else the outcome), are a fixed vocabulary
written first; then a `result` per problem occurrence: its location relative to
`%SRCROOT%` (the workspace) with line and column, and `partialFingerprints` that
hash where and what the link is, never when, so the same broken link on the
same line keeps one alert run after run. A million records cost no memory.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

from pcheck._version import __version__
from pcheck.models import ARGS_SOURCE, STDIN, CheckResult, ErrorKind, Outcome, Summary, redact_userinfo
from pcheck.output.reasons import reason
from pcheck.output.reporter import Reporter, printable

# -- what both say --------------------------------------------------------------------------------------------

ERROR, WARNING = "error", "warning"


def level(result: CheckResult, summary: Summary, fail_on_blocked: bool) -> str | None:
    """`error`, `warning`, or None for a record that is no problem (alive, excluded)."""
    outcome = result.outcome
    if outcome in (Outcome.ALIVE, Outcome.EXCLUDED):
        return None
    if outcome is Outcome.BLOCKED:
        return ERROR if fail_on_blocked else WARNING
    return WARNING if summary.forgives(result) else ERROR


def written(result: CheckResult) -> str:
    """The link as its document has it (a local link as written, not its file:// URL), secrets hidden."""
    return redact_userinfo(result.link or result.url)


def workspace() -> str:
    """The folder reviewers' paths are relative to: `GITHUB_WORKSPACE` when set, else the working directory."""
    return os.path.abspath(os.environ.get("GITHUB_WORKSPACE") or os.getcwd())


def document_path(source: str | None, root: str, absolute_outside: bool = False) -> str | None:
    """The record's document relative to `root` (with `/`); outside `root`, as it is (or absolute);
    None when the links came from no file: the command line, standard input, a URL."""
    if not source or source in (ARGS_SOURCE, STDIN) or "://" in source:
        return None
    path = os.path.abspath(source)
    for base, inside in ((root, path), (os.path.realpath(root), os.path.realpath(path))):
        if os.path.commonpath((base, inside)) == base:
            return os.path.relpath(inside, base).replace(os.sep, "/")
    return path if absolute_outside else source


#: Documents whose place a reporter keeps worked out (a walk of more starts over: memory stays bounded).
_PATHS_KEPT = 4096


def rule_of(result: CheckResult) -> str:
    """The kind of problem: the record's error kind, else its outcome (`broken` by its HTTP status)."""
    return result.error.value if result.error is not None else result.outcome.value


class FindingsReporter(Reporter):
    """What both formats share: the run's policy, the workspace, a finding's words; a problem at a time."""

    def __init__(self, stream: TextIO, fail_on_blocked: bool = False, summary: Summary | None = None,
                 timeout_s: float | None = None) -> None:
        super().__init__(stream, summary)
        self.fail_on_blocked = fail_on_blocked
        self.timeout_s = timeout_s
        self.root = workspace()
        self._paths: dict[tuple[str | None, bool], str | None] = {}

    def path_of(self, source: str | None, absolute_outside: bool = False) -> str | None:
        """document_path, worked out once per document of the run (a path's real path costs a stat per part)."""
        key = (source, absolute_outside)
        if key not in self._paths:
            if len(self._paths) >= _PATHS_KEPT:
                self._paths.clear()
            self._paths[key] = document_path(source, self.root, absolute_outside)
        return self._paths[key]

    def _write(self, result: CheckResult) -> None:
        said = level(result, self.summary, self.fail_on_blocked)
        if said is not None:
            self._finding(result, said)

    def _finding(self, result: CheckResult, said: str) -> None:
        raise NotImplementedError

    def words(self, result: CheckResult) -> str:
        """`https://x.org/y (404 Not Found)`: the link as written and why, as the text report says it (and on
        which page, line, for a link read from a web page)."""
        s = self.summary
        said = f"{written(result)} ({reason(result, self.timeout_s, s.fail_after, s.accept_transient)})"
        if result.source and "://" in result.source:  # a crawled page (or a sitemap): no file to point at, so say it
            said += f" on {redact_userinfo(result.source)}" + (f":{result.line}" if result.line is not None else "")
        return said


# -- github -----------------------------------------------------------------------------------------------

#: The annotation's title, by outcome.
TITLES = {Outcome.BROKEN: "broken link", Outcome.BLOCKED: "blocked link", Outcome.INVALID: "invalid link",
          Outcome.UNCHECKED: "unchecked link"}
#: What GitHub shows as annotations of one step, of each level; the rest are in the log only.
SHOWN_PER_STEP = 10


def escape_data(text: str) -> str:
    """A command's message, as @actions/core's escapeData writes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A command's property value, as @actions/core's escapeProperty writes it."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, properties: dict[str, object], message: str) -> str:
    """`::name key=value,...::message`, every value escaped."""
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items() if value is not None)
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


class GithubReporter(FindingsReporter):
    """One workflow command per problem occurrence, written as it comes."""

    def __init__(self, stream: TextIO, fail_on_blocked: bool = False, summary: Summary | None = None,
                 timeout_s: float | None = None) -> None:
        super().__init__(stream, fail_on_blocked, summary, timeout_s)
        self.written = {ERROR: 0, WARNING: 0}

    def _finding(self, result: CheckResult, said: str) -> None:
        self.written[said] += 1
        path = self.path_of(result.source)
        properties = {"file": path, "line": result.line if path else None, "col": result.column if path else None,
                      "title": f"pcheck: {TITLES[result.outcome]}"}
        # printable: the log shows no control character of a URL (CR and LF are escaped all the same).
        self.stream.write(command(said, properties, printable(self.words(result))) + "\n")

    def _finish(self) -> None:
        errors, warnings = self.written[ERROR], self.written[WARNING]
        if not errors and not warnings:
            return
        s = self.summary
        counts = ", ".join(f"{n} {outcome.value}" for outcome, n in s.counts.items() if n and outcome is not Outcome.ALIVE)
        line = f"{s.total} links: {s.counts[Outcome.ALIVE]} alive, {counts}; {_n(errors, 'error')}, {_n(warnings, 'warning')}"
        if errors > SHOWN_PER_STEP or warnings > SHOWN_PER_STEP:
            line += f" (GitHub shows {SHOWN_PER_STEP} of each per step on the files: all are in this log)"
        self.stream.write(command("notice", {"title": "pcheck"}, line) + "\n")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# -- sarif ------------------------------------------------------------------------------------------------

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
ROOT_ID = "%SRCROOT%"
#: The partialFingerprints key: a new algorithm gets a new version, so old alerts are not matched wrongly.
FINGERPRINT = "pcheckLink/v1"

#: (rule id, name, short description, help): one per outcome that is not alive, one per error kind.
RULES = (
    ("broken", "BrokenLink", "The link's server answered with a status that is not accepted.",
     "Fix or remove the link, or accept the status with --accept."),
    ("blocked", "BlockedLink", "The server refuses robots (401, 403, 429, 999, a challenge page).",
     "Open it in a browser: if it works there, exclude it or give its host credentials."),
    ("excluded", "ExcludedLink", "Not checked by the run's choice.", "Nothing to do."),
    ("invalid", "InvalidLink", "The input is not a checkable http(s) URL.", "Correct the URL as written."),
    ("unchecked", "UncheckedLink", "No verdict: the run was cut short or ran out of resources.",
     "Run the check again; the detail says what stopped it."),
    (ErrorKind.TIMEOUT.value, "Timeout", "The server did not answer within the timeout.",
     "A transient failure as a rule: check again later, or raise --timeout."),
    (ErrorKind.DNS.value, "NoSuchHost", "The host name did not resolve.",
     "Correct the host name, or remove a link to a site that is gone."),
    (ErrorKind.CONNECTION.value, "ConnectionFailed", "The connection was refused, reset or closed before an answer.",
     "Check again later; if it lasts, the site is down or gone."),
    (ErrorKind.TLS.value, "TlsFailed", "The TLS handshake or the certificate check failed.",
     "The site's certificate is expired, self-signed or for another name: tell its owner or link elsewhere."),
    (ErrorKind.PROTOCOL.value, "NotHttp", "The server answered, but not with valid HTTP.",
     "Check the URL's scheme and port."),
    (ErrorKind.TOO_MANY_REDIRECTS.value, "TooManyRedirects", "More redirect hops than --max-redirects.",
     "Link to where the redirects end."),
    (ErrorKind.REDIRECT_LOOP.value, "RedirectLoop", "A redirect pointed back at a URL already visited.",
     "The site is misconfigured, or wants a cookie: link elsewhere or exclude it."),
    (ErrorKind.MISSING_FILE.value, "MissingFile", "A local link's file or folder does not exist.",
     "Correct the path, relative to the document."),
    (ErrorKind.MISSING_FRAGMENT.value, "MissingFragment", "The page or file is there, the #fragment it names is not.",
     "Correct the #fragment to a heading or id the target has."),
    (ErrorKind.INVALID_URL.value, "InvalidUrl", "Not a valid URL, or a Location header that is not one.",
     "Correct the URL as written."),
    (ErrorKind.PRIVATE_ADDRESS.value, "PrivateAddress", "Refused by --exclude-private.", "Nothing to do."),
    (ErrorKind.UNSUPPORTED.value, "NotChecked", "A link pcheck does not check as written (mailto:, /root...).",
     "Give --root-dir or --base-url for root-relative links."),
    (ErrorKind.WORKER_CRASHED.value, "WorkerCrashed", "Its worker process died twice while checking it.",
     "Run the check again; if it lasts, please report it."),
    (ErrorKind.LOCAL_RESOURCES.value, "LocalResources", "This machine kept running out of open files, memory or ports.",
     "Lower --processes or --threads, or raise the open files limit."),
    (ErrorKind.PROXY.value, "ProxyFailed", "The proxy could not be reached or used: not the link's fault.",
     "Check the proxy settings (--proxy, HTTPS_PROXY) and its credentials."),
    (ErrorKind.REDIRECTED.value, "Redirected", "The link answers through redirects (--redirects fail).",
     "Link to where it ends; a permanent redirect (301, 308) says the page has moved for good."),
    (ErrorKind.INSECURE_LINK.value, "InsecureLink", "An http:// link whose https:// twin works (--require-https).",
     "Link to the https:// URL the detail names."),
    (ErrorKind.SOFT_404.value, "Soft404", "A page that answers 200 but looks gone (--soft-404): like the site's "
     "not-found page, or redirected to its home page.", "Link to the page's new address, or remove the link."),
    (ErrorKind.CANCELLED.value, "Cancelled", "The run was interrupted before a verdict.", "Run the check again."),
    (ErrorKind.INTERNAL.value, "InternalError", "An error in pcheck; the detail says what happened.",
     "Please report it."),
)
RULE_INDEX = {rule[0]: i for i, rule in enumerate(RULES)}
#: The level a rule's results have unless a run's policy says otherwise.
_DEFAULT_LEVELS = {"blocked": "warning", "excluded": "none", ErrorKind.PRIVATE_ADDRESS.value: "none",
                   ErrorKind.UNSUPPORTED.value: "none"}


def _rule(rule_id: str, name: str, short: str, help_text: str) -> dict:
    return {"id": rule_id, "name": name, "shortDescription": {"text": short}, "fullDescription": {"text": short},
            "help": {"text": help_text}, "defaultConfiguration": {"level": _DEFAULT_LEVELS.get(rule_id, "error")}}


def artifact_uri(path: str) -> dict:
    """The artifactLocation of a document path: relative to %SRCROOT% and percent-encoded, or a file: URI."""
    if path.startswith("/"):
        return {"uri": Path(path).as_uri()}
    # An undecodable name's lone surrogates are its bytes again (%FF), as the file system spells it.
    return {"uri": quote(path, safe="/", errors="surrogateescape"), "uriBaseId": ROOT_ID}


def fingerprint(uri: str | None, line: int | None, link: str, rule_id: str) -> str:
    """Where and what, never when: the same link on the same line of the same file keeps its fingerprint."""
    key = "\0".join((uri or "", str(line or ""), link, rule_id))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class SarifReporter(FindingsReporter):
    """The SARIF log: the run's tool and rules first, then a result per problem as it comes."""

    def __init__(self, stream: TextIO, fail_on_blocked: bool = False, summary: Summary | None = None,
                 timeout_s: float | None = None) -> None:
        super().__init__(stream, fail_on_blocked, summary, timeout_s)
        run = {"tool": {"driver": {"name": "pcheck", "version": __version__, "semanticVersion": __version__,
                                   "rules": [_rule(*rule) for rule in RULES]}},
               "originalUriBaseIds": {ROOT_ID: {"uri": Path(self.root).as_uri().rstrip("/") + "/"}},
               "columnKind": "unicodeCodePoints"}
        head = json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]})
        # Everything up to the closing of the run object, then the results array left open.
        self.stream.write(head[:-3] + ', "results": [')
        self.first = True

    def _finding(self, result: CheckResult, said: str) -> None:
        rule_id = rule_of(result)
        found = {"ruleId": rule_id, "ruleIndex": RULE_INDEX[rule_id], "level": said,
                 "message": {"text": self.words(result)}}
        path = self.path_of(result.source, absolute_outside=True)
        uri = None
        if path is not None:
            artifact = artifact_uri(path)
            uri = artifact["uri"]
            physical: dict = {"artifactLocation": artifact}
            if result.line:
                physical["region"] = {"startLine": result.line, **({"startColumn": result.column} if result.column else {})}
            found["locations"] = [{"physicalLocation": physical}]
        found["partialFingerprints"] = {FINGERPRINT: fingerprint(uri, result.line, written(result), rule_id)}
        self.stream.write(("\n  " if self.first else ",\n  ") + json.dumps(found))
        self.first = False

    def _finish(self) -> None:
        invocation = {"executionSuccessful": not self.summary.interrupted}
        self.stream.write('\n], "invocations": ' + json.dumps([invocation]) + "}]}\n")
