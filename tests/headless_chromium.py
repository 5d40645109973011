"""A tiny headless-Chromium driver for the HTML report tests: the DevTools protocol over --remote-debugging-pipe.

The pipe (Chromium reads fd 3, writes fd 4, NUL-separated JSON messages) needs no port, no websocket and no
extra package. Only what the tests need: load a file, collect console errors and network requests, evaluate an
expression, take a full-page screenshot, print to PDF.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio"]


def find_chromium() -> str | None:
    """$CHROMIUM, else Debian's chromium on PATH or in /usr/bin."""
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class ChromiumError(RuntimeError):
    pass


class Page:
    """One page in a fresh headless Chromium; use as a context manager."""

    def __init__(self, binary: str, width: int = 1280, height: int = 900, timeout: float = 30.0):
        self.timeout, self.width, self.height = timeout, width, height
        self.console_errors: list[str] = []
        self.requests: list[str] = []
        self._profile = tempfile.TemporaryDirectory(prefix="dedupaudit-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child_fds():  # Chromium expects the pipe on fds 3 and 4; go through high fds so nothing is clobbered
            a, b = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self._profile.name}", f"--window-size={width},{height}",
             "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=child_fds, close_fds=False)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer, self._next_id, self._events = b"", 0, []
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    # -- protocol
    def _send(self, message: dict) -> None:
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise ChromiumError("timed out waiting for Chromium")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise ChromiumError("Chromium closed the pipe: " + self._stderr_tail())
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        if "method" in message:
            self._on_event(message["method"], message.get("params", {}))
        return message

    def _call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._send(message)
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise ChromiumError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def call(self, method: str, params: dict | None = None) -> dict:
        return self._call(method, params, self._session)

    def _on_event(self, method: str, params: dict) -> None:
        self._events.append(method)
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            self.console_errors.append(params.get("exceptionDetails", {}).get("text", "exception"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.console_errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            self.requests.append(params.get("request", {}).get("url", ""))

    def wait_for(self, method: str) -> None:
        deadline = time.monotonic() + self.timeout
        seen = len(self._events)
        while method not in self._events[seen:]:
            self._read_message(deadline)

    # -- what the tests use
    def open(self, path: Path) -> str:
        url = path.resolve().as_uri()
        self._events.clear()
        self.call("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")
        self.settle()
        return url

    def settle(self, seconds: float = 0.3) -> None:
        """Read the events that arrive shortly after load (late console messages, late requests)."""
        end = time.monotonic() + seconds
        try:
            while True:
                self._read_message(end)
        except ChromiumError:
            pass

    def evaluate(self, expression: str):
        reply = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in reply:
            raise ChromiumError(f"{expression}: {reply['exceptionDetails'].get('text')}")
        return reply["result"].get("value")

    def screenshot(self, path: Path) -> int:
        """A full-page PNG at the page's width; returns the page height in CSS pixels."""
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                    "clip": {"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1}})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return height

    def pdf(self, path: Path) -> bytes:
        data = base64.b64decode(self.call("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True})["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data

    def _stderr_tail(self) -> str:
        try:
            self.proc.wait(timeout=2)
            return self.proc.stderr.read().decode(errors="replace")[-2000:]
        except subprocess.TimeoutExpired:
            return "(Chromium still running)"

    def close(self) -> None:
        try:
            self._call("Browser.close")
        except (ChromiumError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc.stderr.close()
        self._profile.cleanup()

    def __enter__(self) -> "Page":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
