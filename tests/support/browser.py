"""Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`): no websocket,
no driver, no package beyond the browser itself.

Chromium reads commands on its descriptor 3 and writes answers and events on its descriptor 4, each a
JSON message ended by a NUL byte. `Browser.open(url)` gives a `Page`, whose `evaluate` runs JavaScript
in it and whose `wait_for` waits until an expression holds (polled inside the page, with a deadline).
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

#: The flags this machine's closed network needs, and no first-run or background traffic.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1000")
#: Where Chromium may be: PCHECK_CHROMIUM first, then the Debian and other usual names.
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserError(Exception):
    """The browser could not be found, started or driven."""


def find_chromium() -> str | None:
    chosen = os.environ.get("PCHECK_CHROMIUM")
    if chosen:
        return chosen
    return next((path for path in map(shutil.which, NAMES) if path), None)


class Browser:
    """One headless Chromium with a fresh profile in `profile_dir`; close() ends it."""

    def __init__(self, executable: str, profile_dir: Path, timeout_s: float = 30.0) -> None:
        self.timeout_s = timeout_s
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # The child's ends above 4, so that moving them to 3 and 4 cannot overwrite one with the other.
        to_child_r, from_child_w = (_above_4(fd) for fd in (to_child_r, from_child_w))
        args = [executable, *FLAGS, f"--user-data-dir={profile_dir}", "--remote-debugging-pipe", "about:blank"]
        # The pipe's ends become the child's 3 and 4 (subprocess keeps descriptors' numbers, so bash moves them: dash takes one digit).
        self.proc = subprocess.Popen([shutil.which("bash") or "bash", "-c", 'exec 3<&"$1" 4>&"$2"; shift 2; exec "$@"', "sh",
                                      str(to_child_r), str(from_child_w), *args],
                                     pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        try:
            self.version = self.send("Browser.getVersion")["product"]
        except BrowserError:
            self.close()
            raise

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            os.write(self._to_child, json.dumps(message).encode() + b"\0")
        except OSError as exc:
            raise BrowserError(f"the browser went away: {exc}; {self._stderr()}") from exc
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply["result"]
            if "method" in reply:
                self.events.append(reply)

    def _read(self) -> dict:
        deadline = time.monotonic() + self.timeout_s
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise BrowserError(f"no answer from the browser in {self.timeout_s} s")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise BrowserError(f"the browser closed its pipe; {self._stderr()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return "it is still running"
        return f"it exited {self.proc.returncode}: " + (self.proc.stderr.read().decode(errors="replace")[-2000:]
                                                        if self.proc.stderr else "")

    def open(self, url: str) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        page.wait_for("document.readyState === 'complete' && document.URL === " + json.dumps(url))
        return page

    def close(self) -> None:
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()  # its own session: the whole group goes with it below
            try:
                os.killpg(self.proc.pid, 9)
            except OSError:
                pass
        self.proc.wait(10)


def _above_4(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class Page:
    """One tab, attached to by its session id."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser, self.session = browser, session

    def evaluate(self, expression: str) -> Any:
        """The value of `expression` (a promise is awaited), as JSON; a JavaScript exception is a BrowserError."""
        reply = self.browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                       "awaitPromise": True}, session=self.session)
        if "exceptionDetails" in reply:
            raise BrowserError(f"{expression[:200]}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 15.0) -> Any:
        """Polls `expression` inside the page until it is truthy (its value) or `timeout_s` passes (an error).
        A navigation that replaces the document while it waits is waited out."""
        poll = ("new Promise((resolve, reject) => { const end = Date.now() + %d; (function poll() {"
                " let v; try { v = (%s); } catch (e) { v = undefined; }"
                " if (v) resolve(v); else if (Date.now() > end) reject(new Error('still false: ' + %s));"
                " else setTimeout(poll, 10); })(); })") % (timeout_s * 1000, expression, json.dumps(expression))
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.evaluate(poll)
            except BrowserError as exc:
                if "context" not in str(exc).lower() or time.monotonic() > deadline:
                    raise

    def events(self, method: str) -> list[dict]:
        """The params of every event `method` this page has sent so far."""
        return [e["params"] for e in self.browser.events if e.get("method") == method and e.get("sessionId") == self.session]
