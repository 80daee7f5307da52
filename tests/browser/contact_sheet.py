#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Contact sheets of the web client's screens: one picture per viewport
with a thumbnail of every screen a browser test photographed
(tests/browser/a11y.py writes them and their screens.json), captioned.

    contact_sheet.py SHOTS_DIR OUT_DIR

writes OUT_DIR/contact-sheet-desktop.png (1280x900 screens) and
OUT_DIR/contact-sheet-phone.png (390x844 screens), drawn by the same
headless Chromium the tests use (no image library needed). The docs'
copy (docs/web-client/) is made this way from a run of browser_flows.sh
and browser_group.sh with SOTTO_SCREENSHOTS set to one folder.
"""

import base64
import html
import json
import os
import sys
import tempfile

from sotto_browser import Page, log

# The order a person meets them in; screens not listed come last.
ORDER = ["start", "start-group", "waiting", "prejoin", "connected", "details", "codes-matched",
         "link-used", "peer-left", "you-left", "locked", "code-changed", "rejoin",
         "code-changed-rejoin", "codes-differ", "muted", "link-expired", "link-damaged",
         "link-ended", "server-lost", "server-lost-final", "group-waiting", "group-prejoin",
         "group-call", "group-call-member", "removed"]

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; padding: 16px; background: #e9ebef; font: 13px system-ui, sans-serif; color: #1a1d21; }}
h1 {{ font-size: 18px; margin: 0 0 12px; }}
.grid {{ display: grid; grid-template-columns: repeat({cols}, {w}px); gap: 14px; }}
figure {{ margin: 0; }}
img {{ width: {w}px; height: {h}px; display: block; border: 1px solid #8a929c; background: #fff; }}
figcaption {{ margin-top: 4px; line-height: 1.3; }}
b {{ font-family: ui-monospace, monospace; font-weight: 600; }}
</style></head><body><h1>{title}</h1><div class="grid">{figs}</div></body></html>"""


def sheet(page, shots, index, size, cols, scale, title, out):
    w, h = size
    figs = []
    for e in index:
        fn = f"{e['name']}-{w}x{h}.png"
        path = os.path.join(shots, fn)
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            data = base64.b64encode(f.read()).decode()
        figs.append(f'<figure><img src="data:image/png;base64,{data}" alt="">'
                    f'<figcaption><b>{html.escape(e["name"])}</b> {html.escape(e.get("caption", ""))}'
                    f'</figcaption></figure>')
    tw, th = int(w * scale), int(h * scale)
    doc = PAGE.format(cols=cols, w=tw, h=th, title=html.escape(title), figs="".join(figs))
    with tempfile.NamedTemporaryFile("w", suffix=".html", delete=False) as f:
        f.write(doc)
        tmp = f.name
    try:
        page.driver.get("file://" + tmp)
        width = 32 + cols * tw + (cols - 1) * 14
        height = page.driver.execute_script("return document.documentElement.scrollHeight")
        page.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        height = page.driver.execute_script("return document.documentElement.scrollHeight")
        shot = page.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
        with open(out, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        log(f"{out}: {len(figs)} screens, {width}x{height}")
    finally:
        os.unlink(tmp)


def main():
    shots, out = sys.argv[1], sys.argv[2]
    with open(os.path.join(shots, "screens.json")) as f:
        index = json.load(f)
    rank = {n: i for i, n in enumerate(ORDER)}
    index.sort(key=lambda e: rank.get(e["name"], len(ORDER)))
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmpdir:
        page = Page("sheet", tmpdir)
        try:
            sheet(page, shots, index, (1280, 900), 4, 0.25, "sotto web client: every screen at 1280x900",
                  os.path.join(out, "contact-sheet-desktop.png"))
            sheet(page, shots, index, (390, 844), 7, 0.5, "sotto web client: every screen at 390x844",
                  os.path.join(out, "contact-sheet-phone.png"))
        finally:
            page.quit()


if __name__ == "__main__":
    sys.exit(main())
