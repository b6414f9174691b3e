"""The first lines of the text and Markdown reports: counts that add up the way they read, a rate only
where the run was busy checking, redirects counted, and the skipped links that look like mistakes said once.

  pcheck: 220 links in 8.33 s: 217 checked (26/s), 3 invalid    every count here has its row below
  Redirected 12: 2 to another host; -v shows where each went
  2 root-relative links were not checked: pass --root-dir DIR (...) or --base-url URL; -v lists them
"""

from __future__ import annotations

import collections

from pcheck.models import STDIN, CheckResult, ErrorKind, Outcome, Summary
from pcheck.urls import host_of

#: Outcomes with a verdict from a look at the link (a request, the cache, the disk): "checked" in the header.
_LOOKED_AT = (Outcome.ALIVE, Outcome.BROKEN, Outcome.BLOCKED)

#: A rate is a number worth reading only for a run that spent its time on requests: at least this long...
RATE_MIN_S = 1.0
#: ...with at least this many requested links, and these at least half of the verdicts (the rest come
#: from the cache or the disk in no time, and would make the rate say more about them than the network).
RATE_MIN_LINKS = 10


def is_local(url: str) -> bool:
    """A link checked on disk, as the document was read: a local file, or a #place in the document itself."""
    return url.startswith(("file:", "#"))


class Overview:
    """What a report's first lines say beyond the Summary's counts, counted as the records pass."""

    def __init__(self) -> None:
        #: Of `checked`: links looked at on disk (no request).
        self.on_disk = 0
        #: Links whose answer came after redirects, and of them those that ended on another host.
        self.redirected = 0
        self.elsewhere = 0
        #: Skipped links that look like mistakes, by kind (see _MISTAKES).
        self.mistakes: collections.Counter[str] = collections.Counter()

    def add(self, r: CheckResult) -> None:
        if r.outcome in _LOOKED_AT:
            if is_local(r.url):
                self.on_disk += 1
            elif r.redirects and r.error is None:  # a loop or too many hops never arrived: said as such
                self.redirected += 1
                if r.final_url and host_of(r.final_url) != (r.host or host_of(r.url)):
                    self.elsewhere += 1
        elif r.error is ErrorKind.UNSUPPORTED:
            kind = _mistake(r.link or r.url, r.source)
            if kind:
                self.mistakes[kind] += 1

    def headline(self, s: Summary) -> str:
        """`pcheck: 220 links in 8.33 s: 217 checked (26/s), 3 invalid`: the parts add up to the total, and
        each is a row of the counts below it (`checked`: alive, broken and blocked, less `from cache`)."""
        when = f", interrupted after {s.elapsed_s:.2f} s" if s.interrupted else f" in {s.elapsed_s:.2f} s"
        c = s.counts
        requested = s.checked - self.on_disk
        # A rate says how fast pcheck asked servers: not for a run too short to measure, nor for one
        # whose verdicts came mostly from the cache or the disk (its rate would be theirs, not the network's).
        busy = s.elapsed_s >= RATE_MIN_S and requested >= RATE_MIN_LINKS and 2 * requested >= s.checked + s.cached
        rate = f" ({requested / s.elapsed_s:.0f}/s)" if busy else ""
        parts = [(f"{s.checked} checked{rate}", s.checked), (f"{s.cached} from cache", s.cached),
                 *((f"{c[o]} {o.value}", c[o]) for o in (Outcome.EXCLUDED, Outcome.INVALID, Outcome.UNCHECKED))]
        said = ", ".join(text for text, n in parts if n)
        return f"pcheck: {s.total} link{'s' if s.total != 1 else ''}{when}" + (f": {said}" if said else "")

    def notes(self) -> list[str]:
        """The lines under the counts: redirects, then each kind of skipped link that looks like a mistake."""
        lines = []
        if self.redirected:
            lines.append(f"Redirected {self.redirected}" + (f": {self.elsewhere} to another host" if self.elsewhere
                                                             else "") + "; -v shows where each went")
        for kind, (one, many, advice) in _MISTAKES.items():
            n = self.mistakes[kind]
            if n:
                them = "it" if n == 1 else "them"
                lines.append(f"{n} {one if n == 1 else many} {'was' if n == 1 else 'were'} not checked: "
                             f"{advice.format(them=them, they='it' if n == 1 else 'they', s='s' if n == 1 else '')}"
                             f"; -v lists {them}")
        return lines


#: Kinds of skipped link that look like a mistake, with what to pass: (one, many, advice).
_MISTAKES = {
    "root": ("root-relative link", "root-relative links",
             "pass --root-dir DIR (the folder {they} start{s} from) or --base-url URL"),
    "anchor": ("#anchor", "#anchors", "pass --include-fragments to look {them} up"),
    "protocol": ("protocol-relative link", "protocol-relative links", "pass --base-url URL to give {them} a scheme"),
    "stdin": ("relative link in standard input", "relative links in standard input",
              "pass --base-url URL to resolve {them}"),
}


def _mistake(link: str, source: str | None) -> str | None:
    """Which kind of mistake-looking link `link` (as written, and skipped) is; None for a deliberate one
    (mailto:, an empty link)."""
    if link.startswith("//"):
        return "protocol"
    if link.startswith("/"):
        return "root"
    if link.startswith("#"):
        return "anchor"
    if source == STDIN and link.strip() and ":" not in link.split("/", 1)[0]:
        return "stdin"
    return None
