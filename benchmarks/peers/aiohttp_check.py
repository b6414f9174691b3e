"""The asyncio script a user would write: one aiohttp.ClientSession, a semaphore, gather.

    python aiohttp_check.py URLS.txt [CONCURRENCY]   (0 or absent: aiohttp's defaults,
                                                    a TCPConnector limit of 100 and no semaphore)

Prints one JSON line per URL: {"url": ..., "status": 200} or {"url": ..., "error": "ClientConnectorError"}.
GET with redirects followed (aiohttp's default, up to 10), no retries.
"""

import asyncio
import json
import sys

import aiohttp

TIMEOUT_S = 10


async def run(urls, concurrency):
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0) if concurrency else aiohttp.TCPConnector()
    semaphore = asyncio.Semaphore(concurrency) if concurrency else None
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    out = sys.stdout

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def fetch(url):
            try:
                async with session.get(url) as response:
                    await response.read()
                    return {"url": url, "status": response.status}
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                return {"url": url, "error": type(exc).__name__}

        async def check(url):
            if semaphore is None:
                result = await fetch(url)
            else:
                async with semaphore:
                    result = await fetch(url)
            out.write(json.dumps(result) + "\n")

        await asyncio.gather(*(check(u) for u in urls))
    out.flush()


def main() -> int:
    path = sys.argv[1]
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    with open(path, encoding="utf-8") as f:
        urls = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    asyncio.run(run(urls, concurrency))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
