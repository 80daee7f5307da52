# SPDX-License-Identifier: BSD-3-Clause
"""Every screen of the web client, checked and photographed where a test
passes through it (tests/browser/flows_test.py, group_test.py).

Auditor.screen(page, name) does, at 1280x900 and at 390x844 (a phone,
emulated through DevTools so the page's own media queries apply):

  - axe-core (tests/browser/node_modules/axe-core, pinned in package.json,
    installed by `npm ci --prefix tests/browser`) run on the page with the
    WCAG 2.0/2.1/2.2 A and AA rules and the best practices: any violation
    of impact "serious" or "critical" fails the test;
  - non-text contrast (WCAG 1.4.11), which axe does not check: every
    visible button and text input is told from what is around it at 3:1
    or more, by its border or by its own background;
  - on the phone, every visible button at least 44 px tall and wide;
  - no IP address anywhere in the page's text, hidden and collapsed parts
    included (it shows no address of anyone, the caller's own local one
    included);
  - a screenshot of the viewport, <outdir>/<name>-<w>x<h>.png, listed in
    <outdir>/screens.json for tests/browser/contact_sheet.py.

Without axe-core installed the axe part is skipped with a note, unless
SOTTO_REQUIRE_AXE=1 (CI), where that fails.
"""

import json
import os
import re
import time

from sotto_browser import Failure, log

HERE = os.path.dirname(os.path.abspath(__file__))
AXE = os.path.join(HERE, "node_modules", "axe-core", "axe.min.js")
SIZES = ((1280, 900), (390, 844))
IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
IPV6 = re.compile(r"\b[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{0,4}){2,7}\b")

AXE_RUN_JS = r"""
const done = arguments[arguments.length - 1];
axe.run(document, {
  runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                  'wcag22aa', 'best-practice']},
  resultTypes: ['violations'],
}).then((r) => done(r.violations.map((v) => ({
  id: v.id, impact: v.impact, help: v.help,
  nodes: v.nodes.slice(0, 4).map((n) => n.target.join(' ') + ': ' + (n.failureSummary || '').slice(0, 200)),
})))).catch((e) => done({error: String(e)}));
"""

# Non-text contrast and target sizes, from computed styles.
CONTROLS_JS = r"""
const phone = arguments[0];
function rgb(s) {
  const m = s.match(/rgba?\(([^)]+)\)/);
  if (!m) return null;
  const p = m[1].split(',').map((x) => parseFloat(x));
  return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
}
function lum(c) {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
}
function ratio(a, b) {
  const x = lum(a), y = lum(b);
  return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
}
function bgOf(el) {
  for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0.5) return c;
  }
  return {r: 255, g: 255, b: 255, a: 1};
}
const out = [];
for (const el of document.querySelectorAll('button, input[type=text]')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
  const st = getComputedStyle(el);
  const around = bgOf(el.parentElement);
  const own = rgb(st.backgroundColor);
  const border = rgb(st.borderTopColor);
  const bw = parseFloat(st.borderTopWidth);
  const byBorder = border && bw > 0 && border.a > 0.5 ? ratio(border, around) : 0;
  const byFill = own && own.a > 0.5 ? ratio(own, around) : 0;
  const name = el.id || el.textContent.trim().slice(0, 30) || el.tagName;
  if (Math.max(byBorder, byFill) < 3)
    out.push(`${name}: boundary contrast ${Math.max(byBorder, byFill).toFixed(2)}:1 (< 3:1)`);
  if (phone && el.tagName === 'BUTTON' && (r.height < 44 || r.width < 44))
    out.push(`${name}: ${Math.round(r.width)}x${Math.round(r.height)} px on a phone (< 44 px)`);
}
return out;
"""


class Auditor:
    """Checks and screenshots; one per test run, shared by its pages."""

    def __init__(self, outdir):
        self.outdir = outdir
        os.makedirs(outdir, exist_ok=True)
        self.index_path = os.path.join(outdir, "screens.json")
        try:
            with open(self.index_path) as f:
                self.index = json.load(f)
        except (OSError, ValueError):
            self.index = []
        self.axe = None
        if os.path.exists(AXE):
            with open(AXE) as f:
                self.axe = f.read()
        elif os.environ.get("SOTTO_REQUIRE_AXE") == "1":
            raise Failure(f"{AXE} is missing: npm ci --prefix tests/browser (scripts/deps.sh)")
        else:
            log(f"NOTE: {AXE} not installed (npm ci --prefix tests/browser): "
                "axe-core checks skipped, the others run")
        self.checked = 0
        self.axe_runs = 0

    def screen(self, page, name, caption=""):
        """Checks the page as it is now and photographs it at both sizes.
        Restores the page's own window size afterwards."""
        d = page.driver
        problems = []
        # All of the page's text, collapsed details and hidden panels
        # included (innerText would leave those out).
        text = d.execute_script("return document.body.textContent")
        for m in IPV4.findall(text) + [x for x in IPV6.findall(text) if "::" in x or x.count(":") >= 4]:
            problems.append(f"an address is shown: {m}")
        shots = []
        try:
            for w, h in SIZES:
                phone = w < 500
                d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                    "width": w, "height": h, "deviceScaleFactor": 1, "mobile": phone})
                time.sleep(0.15)
                if self.axe is not None:
                    if not d.execute_script("return typeof axe !== 'undefined'"):
                        d.execute_script(self.axe)
                    d.set_script_timeout(30)
                    res = d.execute_async_script(AXE_RUN_JS)
                    self.axe_runs += 1
                    if isinstance(res, dict):
                        problems.append(f"axe at {w}x{h}: {res.get('error')}")
                    else:
                        for v in res:
                            if v.get("impact") in ("serious", "critical"):
                                problems.append(f"axe {v['impact']} at {w}x{h}: {v['id']} ({v['help']}): "
                                                + " | ".join(v["nodes"]))
                            else:
                                log(f"{page.name}: {name}: axe {v.get('impact')} {v['id']} ({v['help']})")
                for p in d.execute_script(CONTROLS_JS, phone):
                    problems.append(f"at {w}x{h}: {p}")
                fn = f"{name}-{w}x{h}.png"
                d.save_screenshot(os.path.join(self.outdir, fn))
                shots.append(fn)
        finally:
            d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        self.index = [e for e in self.index if e["name"] != name]
        self.index.append({"name": name, "caption": caption, "page": page.name, "files": shots})
        with open(self.index_path, "w") as f:
            json.dump(self.index, f, indent=1)
        self.checked += 1
        if problems:
            raise Failure(f"{page.name}: screen {name!r}: " + "; ".join(problems))
        log(f"{page.name}: screen {name!r} checked ({'axe, ' if self.axe else ''}contrast, "
            f"targets, no address) and photographed")
