"""HTTPS on many hosts: 200 TLS host addresses, 10 URLs each, pcheck vs lychee at their defaults (issue 18).

    python benchmarks/https.py                      # 3 rounds, interleaved; --quick: 20 hosts
    python benchmarks/https.py --ref /path/to/old   # also pcheck from an older checkout (PYTHONPATH)

Workload: the local site serves HTTPS (`python -m pcheck.lab N --tls CHAIN KEY`) with a certificate
made here with trustme (a test CA; IP SANs 127.0.0.1 ... 127.0.0.N). 2,000 distinct URLs (`?i=N`),
URL i on host i % 200: `/delay/<ms>` with ms drawn between 20 and 300, 3% `/status/404`. Each
tool runs at its defaults, verifying against the test CA (pcheck `--ca-bundle ca.pem`, lychee
`SSL_CERT_FILE=ca.pem`: it has no CA option) and once more with `--insecure`. Per run: the wall
time, the CPU of the whole process tree, the TLS connections (= handshakes) the site accepted and
how many of them resumed a session, and the verdicts (alive vs not) against what the site serves.
Writes results/https.json/.md (https-quick.* with --quick).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics

from common import (
    PY, LabProcess, cleanup, fmt_spread, machine, md_table, measured, read_verdicts,
    score, spread, workdir, write_results,
)

HOSTS, PER_HOST, QUICK_HOSTS = 200, 10, 20
DELAY_MS = (20, 300)
NOT_FOUND_SHARE = 0.03
SEED = 18


def make_certificate(tmp: str, hosts: int) -> tuple[str, str, str]:
    """A test CA and one certificate for 127.0.0.1 ... 127.0.0.<hosts>: (chain PEM, key PEM, CA PEM)."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert(*[f"127.0.0.{i}" for i in range(1, hosts + 1)])
    chain, key, ca_pem = (os.path.join(tmp, name) for name in ("chain.pem", "key.pem", "ca.pem"))
    with open(chain, "wb") as f:
        for blob in cert.cert_chain_pems:
            f.write(blob.bytes())
    cert.private_key_pem.write_to_path(key)
    ca.cert_pem.write_to_path(ca_pem)
    return chain, key, ca_pem


def make_urls(lab: LabProcess, hosts: int) -> tuple[list[str], dict[str, str]]:
    """The URLs (URL i on host i % hosts) and the outcome the site serves for each."""
    rng = random.Random(SEED)
    n = hosts * PER_HOST
    not_found = set(rng.sample(range(n), round(n * NOT_FOUND_SHARE)))
    urls, truth = [], {}
    for i in range(n):
        if i in not_found:
            url = f"{lab.base(i % hosts)}/status/404?i={i}"
            truth[url] = "broken"
        else:
            url = f"{lab.base(i % hosts)}/delay/{rng.randint(*DELAY_MS)}?i={i}"
            truth[url] = "alive"
        urls.append(url)
    return urls, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_HOSTS} hosts instead of {HOSTS}")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ref", help="an older pcheck checkout, run with PYTHONPATH=REF")
    parser.add_argument("--lychee", default=shutil.which("lychee"))
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    args = parser.parse_args()
    hosts = QUICK_HOSTS if args.quick else HOSTS
    name = "https-quick" if args.quick else "https"
    tmp = workdir("https")
    rows: dict[str, list[dict]] = {}
    try:
        chain, key, ca = make_certificate(tmp, hosts + 1)
        with LabProcess(hosts + 1, tls=(chain, key, ca)) as lab:  # +1: the stats' own address
            urls, truth = make_urls(lab, hosts)
            measured_hosts = lab.addresses[:hosts]
            listing = os.path.join(tmp, "urls.txt")
            with open(listing, "w") as f:
                f.writelines(u + "\n" for u in urls)
            tools = _tools(listing, tmp, ca, args)
            print(f"{len(urls)} URLs on {hosts} HTTPS hosts; {args.rounds} round(s); tools: {', '.join(tools)}",
                  flush=True)
            for r in range(args.rounds):
                names = list(tools)
                names = names[r % len(names):] + names[:r % len(names)]  # the order rotated each round
                for tool in names:
                    kind, cmd, out = tools[tool]
                    if os.path.exists(out):
                        os.unlink(out)
                    before = lab.stats(hosts)
                    lab_cpu = lab.cpu_s()
                    run = measured(cmd, args.timeout, tmp, f"{tool.replace(' ', '_')}-{r}")
                    lab_cpu = lab.cpu_s() - lab_cpu
                    after = lab.stats(hosts)
                    handshakes = [after[a]["connections"] - before[a]["connections"] for a in measured_hosts]
                    resumed = sum(after[a]["tls_resumed"] - before[a]["tls_resumed"] for a in measured_hosts)
                    s = score(read_verdicts(kind, out, urls), truth)
                    row = {"wall_s": run.wall_s, "cpu_s": run.cpu_s, "lab_cpu_s": lab_cpu,
                           "peak_rss_mb": run.peak_rss_mb, "handshakes": sum(handshakes),
                           "handshakes_per_host_median": statistics.median(handshakes),
                           "handshakes_per_host_max": max(handshakes), "resumed": resumed, "score": s,
                           "returncode": run.returncode, "timed_out": run.timed_out,
                           "busy_before": run.busy_before, "cmd": " ".join(cmd),
                           "stderr_tail": run.stderr_tail[-500:] if s["alive_match"] != s["urls"] else ""}
                    rows.setdefault(tool, []).append(row)
                    print(f"  round {r + 1} {tool:<24} {run.wall_s:6.2f} s wall, {run.cpu_s:6.2f} s CPU, "
                          f"{sum(handshakes)} handshakes ({resumed} resumed), "
                          f"verdicts {s['alive_match']}/{s['urls']}", flush=True)
    finally:
        cleanup(tmp)
    n = len(urls)
    table = []
    for tool, runs in rows.items():
        worst = min(x["score"]["alive_match"] for x in runs)
        verdicts = f"{worst}/{n}" if worst == n else f"**{worst}/{n}: not exact**"
        table.append([
            tool,
            fmt_spread(spread([x["wall_s"] for x in runs]), 2),
            fmt_spread(spread([x["cpu_s"] for x in runs]), 2),
            f"{fmt_spread(spread([float(x['handshakes']) for x in runs]), 0)}; "
            f"{fmt_spread(spread([float(x['handshakes_per_host_median']) for x in runs]), 0)}"
            f"/{fmt_spread(spread([float(x['handshakes_per_host_max']) for x in runs]), 0)}",
            fmt_spread(spread([float(x["resumed"]) for x in runs]), 0),
            verdicts,
        ])
    m = machine()
    md = (f"# HTTPS on many hosts: {n} URLs on {hosts} hosts, 20-300 ms answers, 3% 404, every tool at its defaults\n\n"
          + md_table(["tool (mode)", "wall s (median, range)", "CPU s (median, range)",
                      "TLS handshakes (total; per host median/max)", "resumed", "verdicts exact"], table)
          + f"\n{m['usable_cores']} usable cores; {args.rounds} round(s), interleaved; {m['when']}. "
          "CPU: the tool's whole process tree. Handshakes: TLS connections the site accepted during the run; "
          "resumed: those that resumed a session. Verifying = against the test CA (pcheck --ca-bundle, "
          "lychee SSL_CERT_FILE).\n")
    write_results(name, {"machine": m, "urls": n, "hosts": hosts, "rounds": args.rounds, "runs": rows}, md)
    print(md)


def _tools(listing: str, tmp: str, ca: str, args: argparse.Namespace) -> dict[str, tuple[str, list[str], str]]:
    """name -> (verdict kind, command, output file)."""
    tools = {}
    for mode, extra in (("verifying", ["--ca-bundle", ca]), ("insecure", ["--insecure"])):
        out = os.path.join(tmp, f"pcheck-{mode}.jsonl")
        tools[f"pcheck {mode}"] = ("pcheck", [PY, "-m", "pcheck", "check", listing, *extra, "--format", "jsonl",
                                              "-o", out, "--no-progress"], out)
        if args.ref:
            ref_out = os.path.join(tmp, f"ref-{mode}.jsonl")
            # -P: the current folder (this checkout) does not come before PYTHONPATH on sys.path.
            tools[f"pcheck (--ref) {mode}"] = ("pcheck", ["env", f"PYTHONPATH={args.ref}", PY, "-P", "-m", "pcheck",
                                                          "check", listing, *extra, "--format", "jsonl", "-o",
                                                          ref_out, "--no-progress"], ref_out)
        if args.lychee:
            lychee_out = os.path.join(tmp, f"lychee-{mode}.json")
            # lychee has no CA option; SSL_CERT_FILE adds the test CA to what it trusts.
            prefix = ["env", f"SSL_CERT_FILE={ca}"] if mode == "verifying" else []
            lychee_extra = ["--insecure"] if mode == "insecure" else []
            tools[f"lychee {mode}"] = ("lychee", [*prefix, args.lychee, listing, *lychee_extra, "--format", "json",
                                                  "-o", lychee_out, "--no-progress"], lychee_out)
    return tools


if __name__ == "__main__":
    main()
