"""Screenshots of a live /dashboard after it has collected real data.

`chromium --headless --screenshot` shoots as soon as the page has loaded
(or after *virtual* time), when the charts are still empty; this drives
headless Chromium over the DevTools protocol on a pipe (stdlib only) so the
page polls the server in real time for SECONDS before the shots: one in the
light scheme, then the same moment in the dark one.

Usage: python3 scripts/dashboard-shot.py URL SECONDS LIGHT.png DARK.png
"""

import base64
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time

WIDTH, HEIGHT = 1280, 900


class Browser:
    def __init__(self, binary: str, profile: str):
        # Chromium reads commands on fd 3 and writes replies on fd 4.
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def fds():
            # Move both ends above 4 first, so neither is clobbered by the
            # other's dup2; Popen keeps 3 and 4 open (pass_fds).
            low = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            high = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(low, 3)
            os.dup2(high, 4)

        self.proc = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                f"--window-size={WIDTH},{HEIGHT}",
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            preexec_fn=fds,
            pass_fds=(3, 4, to_chrome_r, from_chrome_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.next_id = 0
        self.pending = b""
        self.session = None

    def call(self, method: str, params=None, timeout: float = 30.0):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while b"\0" in self.pending:
                raw, self.pending = self.pending.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.pending += chunk
        raise RuntimeError(f"{method}: no reply in {timeout} s")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def shoot(browser: Browser, path: str):
    data = browser.call("Page.captureScreenshot", {"format": "png"})["data"]
    with open(path, "wb") as f:
        f.write(base64.b64decode(data))


def main(url: str, seconds: float, light: str, dark: str):
    binary = os.environ.get("RNATS_CHROMIUM", "chromium")
    with tempfile.TemporaryDirectory() as profile:
        browser = Browser(binary, profile)
        try:
            target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            browser.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            browser.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
            )
            light_scheme = {"features": [{"name": "prefers-color-scheme", "value": "light"}]}
            browser.call("Emulation.setEmulatedMedia", light_scheme)
            browser.call("Page.enable")
            browser.call("Page.navigate", {"url": url})
            time.sleep(seconds)  # the page polls the server once a second meanwhile
            shoot(browser, light)
            dark_scheme = {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
            browser.call("Emulation.setEmulatedMedia", dark_scheme)
            time.sleep(1.5)  # one more poll, drawn in the dark scheme
            shoot(browser, dark)
        finally:
            browser.close()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4])
