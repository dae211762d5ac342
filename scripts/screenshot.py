#!/usr/bin/env python3
"""Open a page (an HTML file or a URL) in the system Chromium and save a full-page screenshot.

    .venv/bin/python scripts/screenshot.py patron-out/report.html test-artifacts/report.png
    .venv/bin/python scripts/screenshot.py http://127.0.0.1:8000/dashboard/ dashboard.png --header X-API-Key=KEY

Uses Playwright with Debian's /usr/bin/chromium (never downloads a browser; `bash scripts/system-deps.sh`
installs it). Prints console errors and exits 1 if there were any, or if a chart did not draw.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", help="an HTML file or an http(s) URL")
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--header", action="append", default=[], help="NAME=VALUE sent with every request")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    url = args.target if "://" in args.target else Path(args.target).resolve().as_uri()
    headers = dict(h.split("=", 1) for h in args.header)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(
            viewport={"width": args.width, "height": 900}, extra_http_headers=headers
        )
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url, wait_until="load")
        charts = page.locator("div.plotly-graph-div")
        n_charts = charts.count()
        missing = [i for i in range(n_charts) if charts.nth(i).locator("svg.main-svg").count() == 0]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=True)
        browser.close()
    print(f"{args.out}: {n_charts} charts, {len(missing)} not drawn, {len(errors)} console errors")
    for e in errors:
        print("  console:", e)
    return 1 if errors or missing else 0


if __name__ == "__main__":
    sys.exit(main())
