"""The benchmark workloads, served by the embedded local site (`python -m pcheck.lab N`, its own process).

Every URL is distinct (`?i=N`), so no tool can answer one from a cache, and
URL i goes to host i % hosts, so the hosts are interleaved in the file.

  latency-bound  5,000 URLs over 50 hosts, each /delay/100 (answered after 100 ms)
                 ideal wall time = URLs x 0.1 s / concurrency
  cpu-bound      20,000 URLs over 50 hosts, /ok (no delay): the client's CPU per request decides
  single-host    20,000 URLs on one host, /ok: the per-host limit and one host's connections decide
  mixed          2,000 URLs over 50 hosts: statuses, redirects, loops, HEAD refused, 5xx; every
                 URL has the outcome the site is known to serve, so verdicts can be scored

`--quick` divides the URL counts by 10 (`--scale` sets any factor).

    python benchmarks/workloads.py            # describe the workloads
    python benchmarks/workloads.py --serve mixed --out urls.txt   # serve one by hand until Enter
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from common import LabProcess

ALIVE, BROKEN, BLOCKED = "alive", "broken", "blocked"
QUICK_SCALE = 0.1
LATENCY_S = 0.1


@dataclass(frozen=True)
class Spec:
    name: str
    urls: int
    hosts: int
    description: str
    #: i -> (path with query, expected outcome)
    route: Callable[[int], tuple[str, str]]
    latency_s: float = 0.0


@dataclass
class Workload:
    name: str
    hosts: int
    urls: list[str]
    expected: list[str]
    description: str
    latency_s: float = 0.0
    meta: dict = field(default_factory=dict)

    def ideal_s(self, concurrency: int) -> float | None:
        """Wall time if every slot were busy all the time (latency-bound only)."""
        if not self.latency_s:
            return None
        return len(self.urls) * self.latency_s / concurrency

    def write(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(u + "\n" for u in self.urls)

    def save(self, folder: str) -> str:
        """Write the list as folder/urls.txt, the file every tool is given; returns its path."""
        path = os.path.join(folder, "urls.txt")
        self.write(path)
        return path

    def truth(self) -> dict[str, str]:
        return dict(zip(self.urls, self.expected))


# The mixed workload's cycle of 20: (path template, outcome the lab serves for it).
MIXED_CYCLE: list[tuple[str, str]] = [
    *[("ok?i={i}", ALIVE)] * 10,
    ("status/204?i={i}", ALIVE),  # no body (the lab sent one with 204 before 16bba86; aiohttp refused it)
    ("redirect/2?i={i}", ALIVE),  # 2 hops of 302, then 200
    ("redirect-to?url=/ok&i={i}", ALIVE),
    ("head-refused?i={i}", ALIVE),  # 405 to HEAD, 200 to GET
    ("status/404?i={i}", BROKEN),
    ("status/410?i={i}", BROKEN),
    ("redirect-to?url=/status/404&i={i}", BROKEN),  # a redirect to a dead page
    ("status/403?i={i}", BLOCKED),
    ("loop/a/{i}", BROKEN),  # a 302 loop
    ("status/500?i={i}", BROKEN),  # retried by the tools that retry, still 500
]


def _mixed(i: int) -> tuple[str, str]:
    template, outcome = MIXED_CYCLE[i % len(MIXED_CYCLE)]
    return template.format(i=i), outcome


SPECS: dict[str, Spec] = {
    "latency-bound": Spec("latency-bound", 5_000, 50, "5,000 URLs over 50 hosts, each answered after 100 ms",
                          lambda i: (f"delay/100?i={i}", ALIVE), LATENCY_S),
    "cpu-bound": Spec("cpu-bound", 20_000, 50, "20,000 URLs over 50 hosts, /ok, no delay",
                      lambda i: (f"ok?i={i}", ALIVE)),
    "single-host": Spec("single-host", 20_000, 1, "20,000 URLs on one host, /ok, no delay",
                        lambda i: (f"ok?i={i}", ALIVE)),
    "mixed": Spec("mixed", 2_000, 50, "2,000 URLs over 50 hosts: 55% 2xx, 15% redirects to 200, "
                  "5% HEAD refused, 20% 4xx/loops/5xx, 5% 403", _mixed),
}


@contextmanager
def served(name: str, scale: float, folder: str) -> Iterator[tuple[LabProcess, Workload, str]]:
    """The lab for workload `name`, the workload built on it, and its URL list written into `folder`."""
    with LabProcess(SPECS[name].hosts) as lab:
        workload = build(name, lab, scale)
        yield lab, workload, workload.save(folder)


def build(name: str, lab, scale: float = 1.0) -> Workload:  # lab: common.LabProcess (port, addresses)
    spec = SPECS[name]
    n = max(1, int(round(spec.urls * scale)))
    hosts = min(spec.hosts, len(lab.addresses))
    urls, expected = [], []
    for i in range(n):
        path, outcome = spec.route(i)
        urls.append(f"http://{lab.addresses[i % hosts]}:{lab.port}/{path}")
        expected.append(outcome)
    return Workload(name, hosts, urls, expected, spec.description, spec.latency_s,
                    {"scale": scale, "full_size": spec.urls})


def hosts_needed(name: str) -> int:
    return SPECS[name].hosts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve", choices=sorted(SPECS), help="start a lab, write this workload's URLs, wait for Enter")
    ap.add_argument("--out", default="urls.txt")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--scale", type=float)
    args = ap.parse_args()
    scale = args.scale or (QUICK_SCALE if args.quick else 1.0)
    if not args.serve:
        for spec in SPECS.values():
            n = int(round(spec.urls * scale))
            ideal = f"; ideal at concurrency 128: {n * spec.latency_s / 128:.2f} s" if spec.latency_s else ""
            print(f"{spec.name:<14} {n:>6} URLs, {spec.hosts:>2} host(s): {spec.description}{ideal}")
        return 0
    from common import LabProcess

    with LabProcess(SPECS[args.serve].hosts) as lab:
        w = build(args.serve, lab, scale)
        w.write(args.out)
        with open(args.out + ".truth.json", "w") as f:
            json.dump(w.truth(), f)
        print(f"{len(w.urls)} URLs in {args.out} (truth in {args.out}.truth.json); lab on port {lab.port}. "
              "Press Enter to stop.", flush=True)
        try:
            sys.stdin.readline()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
