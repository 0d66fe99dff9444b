"""A headless Chromium driven through the DevTools protocol over a pipe (no network port, no extra
package): open a page, run script in it, type, take screenshots, and collect console errors.

Plain helper (no pytest fixtures), importable as ``from browser import Chromium``.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
         "--remote-debugging-pipe"]  # fmt: skip


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.events: list[dict] = []
        self._buffer = b""
        self._next = 0

    def __enter__(self) -> Chromium:
        self._profile = tempfile.TemporaryDirectory()
        command_r, self._command_w = os.pipe()
        self._reply_r, reply_w = os.pipe()
        # never the desktop's (or another test's) sound server: the page plays into nothing
        env = {**os.environ, "PULSE_SERVER": "unix:/nonexistent/companion-test"}
        args = [self.executable, *FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"]
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec 3<&{command_r} 4>&{reply_w}; exec "$@"', "chromium", *args],
            pass_fds=(command_r, reply_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=env)
        os.close(command_r)
        os.close(reply_w)
        target = next(t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
        for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.send(domain, page=True)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._command_w)
        os.close(self._reply_r)
        self._profile.cleanup()

    def _message(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._reply_r], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._reply_r, 1 << 20)
            if not chunk:
                raise EOFError("Chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, page: bool = False, timeout: float = 60, **params) -> dict:
        """Call a DevTools method (on the page when `page`); events met meanwhile are kept."""
        self._next += 1
        message = {"id": self._next, "method": method, "params": params}
        if page:
            message["sessionId"] = self.session
        os.write(self._command_w, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._message(timeout)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def open(self, url: str, timeout: float = 60) -> None:
        """Navigate and wait for the load event."""
        self.send("Page.navigate", page=True, url=url)
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._message(max(0.1, deadline - time.monotonic())))

    def run(self, expression: str, timeout: float = 60):
        """Evaluate JavaScript in the page (promises awaited) and return its value."""
        result = self.send("Runtime.evaluate", page=True, timeout=timeout, expression=expression,
                           awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def type(self, text: str) -> None:
        """Type into the focused element, one character at a time."""
        for character in text:
            self.send("Input.insertText", page=True, text=character)

    def press(self, key: str, code: int) -> None:
        """Press and release one key (e.g. "ArrowRight", 39) in the focused element."""
        for kind in ("rawKeyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", page=True, type=kind, key=key, code=key, windowsVirtualKeyCode=code)

    def screenshot(self, path: Path, width: int, height: int, mobile: bool) -> Path:
        """A PNG of the page at this viewport size."""
        self.send("Emulation.setDeviceMetricsOverride", page=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=mobile)
        data = self.send("Page.captureScreenshot", page=True, format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries seen so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(json.dumps(params.get("args"))[:500])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"{params['entry'].get('source')}: {params['entry'].get('text')}"[:500])
        return found
