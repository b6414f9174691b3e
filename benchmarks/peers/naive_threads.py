"""The script a user would write: a ThreadPoolExecutor and one shared requests.Session.

    python naive_threads.py URLS.txt [CONCURRENCY]   (0 or absent: ThreadPoolExecutor's default)

Prints one JSON line per URL: {"url": ..., "status": 200} or {"url": ..., "error": "ConnectTimeout"}.
Deliberately naive: GET with redirects followed, the Session's default adapter
(pools for 10 hosts, 10 connections each), no retries.
"""

import json
import sys
from concurrent.futures import ThreadPoolExecutor

import requests

TIMEOUT_S = 10


def main() -> int:
    path = sys.argv[1]
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    with open(path, encoding="utf-8") as f:
        urls = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    session = requests.Session()

    def check(url):
        try:
            response = session.get(url, timeout=TIMEOUT_S)
            return {"url": url, "status": response.status_code}
        except requests.RequestException as exc:
            return {"url": url, "error": type(exc).__name__}

    out = sys.stdout
    with ThreadPoolExecutor(max_workers=concurrency or None) as pool:
        for result in pool.map(check, urls):
            out.write(json.dumps(result) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
