# SPDX-License-Identifier: BSD-3-Clause
"""Headless Chromium pages running sotto's web client, driven by selenium.

Each Page is its own Chromium (own chromedriver, own fresh profile under the
test's temp dir), started with the flags docs/testing and DESIGN.md name for
a fake microphone on a machine without one. The web client mirrors its state
on window.sotto (signaling/web/app.js); Page.state() reads it.
"""

import hashlib
import json
import os
import re
import shutil
import time

CHROMIUM = os.environ.get("SOTTO_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SOTTO_CHROMEDRIVER", "/usr/bin/chromedriver")

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]

GUM_COUNTER = r"""
(() => {
  const md = navigator.mediaDevices;
  window.__gum = 0;
  if (!md || !md.getUserMedia) return;
  const orig = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => { window.__gum += 1; return orig(c); };
})();
"""

FINGERPRINT_RE = re.compile(r"^[0-9A-F]{2}(?::[0-9A-F]{2}){31}$")


class Skip(Exception):
    """The machine lacks something the test needs (exit 77)."""


class Failure(Exception):
    """A check failed (exit 1)."""


def log(msg):
    print(f"browser: {msg}", flush=True)


def verification_code(fp_a, fp_b):
    """docs/signaling.md "Verification code", written independently of
    app.js so the test checks the page's arithmetic."""
    for fp in (fp_a, fp_b):
        if not FINGERPRINT_RE.match(fp):
            raise Failure(f"not an uppercase sha-256 fingerprint: {fp!r}")
    text = "\n".join(sorted([fp_a, fp_b])).encode()
    n = int.from_bytes(hashlib.sha256(text).digest()[:4], "big") % 1000000
    return f"{n:06d}"


def random_fingerprint(avoid):
    """A well-formed sha-256 fingerprint that differs from every one in
    avoid (SDP form: uppercase hex pairs joined by colons)."""
    while True:
        fp = ":".join(f"{b:02X}" for b in os.urandom(32))
        if fp not in avoid:
            return fp


class Page:
    """One Chromium with one tab."""

    def __init__(self, name, tmpdir, extra_flags=()):
        try:
            from selenium import webdriver
            from selenium.webdriver.chrome.service import Service
        except ImportError as e:
            raise Skip(f"python3-selenium is missing ({e})")
        for path in (CHROMIUM, CHROMEDRIVER):
            if not os.access(path, os.X_OK):
                raise Skip(f"{path} not found (Debian packages chromium, chromium-driver)")
        self.name = name
        self.profile = os.path.join(tmpdir, f"chromium-{name}")
        shutil.rmtree(self.profile, ignore_errors=True)
        os.makedirs(self.profile)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for flag in (*CHROMIUM_FLAGS, *extra_flags):
            opts.add_argument(flag)
        opts.add_argument(f"--user-data-dir={self.profile}")
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # The page asks before it is left during a call (beforeunload):
        # accepted, and the command that met the prompt is told, so a
        # test sees that it was asked (Page.prompts).
        opts.set_capability("unhandledPromptBehavior", "accept and notify")
        # The log path puts the temp dir in chromedriver's command line, by
        # which the shell script finds strays if this process is killed.
        service = Service(
            executable_path=CHROMEDRIVER,
            service_args=[f"--log-path={os.path.join(tmpdir, f'chromedriver-{name}.log')}"],
        )
        self.driver = webdriver.Chrome(service=service, options=opts)
        self.driver.set_window_size(1280, 900)
        self.driver.set_page_load_timeout(30)
        self.driver.set_script_timeout(10)
        self.console = []
        self.prompts = 0
        # Counts the page's microphone requests (window.__gum), so a test
        # can tell that a screen did not ask for it. DevTools scripts are
        # not subject to the page's CSP.
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": GUM_COUNTER})

    def _nav(self, fn, what):
        from selenium.common.exceptions import UnexpectedAlertPresentException
        for _ in range(3):
            try:
                fn()
                return
            except UnexpectedAlertPresentException as e:
                self.prompts += 1
                log(f"{self.name}: {what}: the page asked first ({e.alert_text or 'beforeunload'}), accepted")
        raise Failure(f"{self.name}: {what}: a prompt kept coming back")

    def open(self, url):
        log(f"{self.name}: open {redact(url)}")
        self._nav(lambda: self.driver.get(url), "open")

    def reload(self):
        log(f"{self.name}: reload")
        self._nav(self.driver.refresh, "reload")

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def shown(self, element_id):
        """Whether the element exists and is displayed."""
        return bool(self.js("const e = document.getElementById(arguments[0]);"
                            "return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0;",
                            element_id))

    def active_id(self):
        return self.js("return document.activeElement ? document.activeElement.id : null;")

    def gum(self):
        """How many times the page asked for the microphone."""
        return self.js("return window.__gum || 0;")

    def stored(self):
        """The page's sessionStorage call record (and localStorage size)."""
        return self.js("return [sessionStorage.getItem('sotto.call'), localStorage.length];")

    def state(self):
        """window.sotto as a dict (empty before app.js has run)."""
        text = self.driver.execute_script(
            "return window.sotto ? JSON.stringify(window.sotto) : '{}';")
        return json.loads(text)

    def click(self, element_id):
        self.driver.find_element("id", element_id).click()

    def text(self, element_id):
        return self.driver.find_element("id", element_id).text

    def value(self, element_id):
        return self.driver.find_element("id", element_id).get_property("value")

    def collect_console(self):
        try:
            for entry in self.driver.get_log("browser"):
                self.console.append(f"{entry.get('level')} {entry.get('message')}")
        except Exception as e:  # the browser may be gone already
            self.console.append(f"(console not available: {e})")
        return self.console

    def dump(self):
        """What a failing test prints about this page."""
        st = {}
        try:
            st = self.state()
        except Exception as e:
            log(f"{self.name}: window.sotto not readable: {e}")
        history = st.pop("history", [])
        log(f"{self.name}: window.sotto = {json.dumps(st, sort_keys=True)}")
        for line in history:
            log(f"{self.name}:   {line}")
        for line in self.collect_console()[-40:]:
            log(f"{self.name}: console: {line}")

    def quit(self):
        try:
            self.driver.quit()
        except Exception as e:
            log(f"{self.name}: quit: {e}")


def redact(url):
    """Invite tokens are credentials; the log shows only their start."""
    return re.sub(r"(#join=[A-Za-z0-9_-]{8})[A-Za-z0-9_.=-]*", r"\1…", url)


def wait_for(pages, cond, timeout, what, interval=0.5, fail_on_error=True):
    """Poll until cond(states) is true for the pages' window.sotto; returns
    the states. Fails on timeout, and early (with fail_on_error) when a
    page shows an error it cannot recover from."""
    deadline = time.monotonic() + timeout
    while True:
        states = [p.state() for p in pages]
        if cond(states):
            return states
        for p, st in zip(pages, states):
            if fail_on_error and st.get("state") in ("failed", "error", "ended"):
                raise Failure(f"{p.name}: call {st.get('state')} while waiting for {what}: "
                              f"{st.get('problemText') or st.get('lastError')}")
        if time.monotonic() >= deadline:
            raise Failure(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
