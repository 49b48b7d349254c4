"""Takes the README's screenshots from a running local host (./scripts/dev):
  python scripts/screenshots.py [--port 8787] [--out docs/screenshots]
Each view is the demo LMS's course page with the tool in its iframe, as a person sees it,
at desktop and phone width."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser import DESKTOP, PHONE, chromium  # noqa: E402

VIEWS = {
    "front-door": ("http://127.0.0.1:{port}/", "#index-title", None),
    "learner-home": ("http://localhost:{port}/__lms/course?as=learner", "#landing", "#tool"),
    "instructor-home": ("http://localhost:{port}/__lms/course?as=instructor", "#landing", "#tool"),
    "add-activity": ("http://localhost:{port}/__lms/course?as=designer", "#dl-title", "#tool"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8787, help="the local host's port")
    parser.add_argument("--out", default="docs/screenshots", help="directory for the PNG files")
    parser.add_argument("--only", help="comma-separated view names")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    views = {k: v for k, v in VIEWS.items() if not args.only or k in args.only.split(",")}
    with chromium() as browser:
        for name, (url, marker, frame) in views.items():
            for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
                page = browser.new_page(viewport=viewport)
                page.goto(url.format(port=args.port))
                target = page.frame_locator(frame).locator(marker) if frame else page.locator(marker)
                target.wait_for(timeout=20_000)
                page.wait_for_timeout(300)
                path = out / f"{name}-{label}.png"
                page.screenshot(path=str(path))  # full-page shots drop cross-site iframes
                print(path)
                page.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
