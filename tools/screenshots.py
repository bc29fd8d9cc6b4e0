"""The README's screenshots, taken from the demo: the workbench (工作台, ``/``) and the overview
dashboard (``/dashboards/``), at 1440×900 in Chinese, into docs/img/.

    .venv/bin/python tools/screenshots.py [--instance DIR] [--out docs/img] [--user admin]

It uses the demo network in DIR (default: ``$POSTALOPS_INSTANCE_PATH`` or ``./instance``, the
one ``make run`` builds), building it first when that database has no org unit yet; serves it
with werkzeug on a free local port; logs in as a demo user in Debian's headless chromium
(``$POSTALOPS_CHROMIUM``, default /usr/bin/chromium) and saves ``workbench.png`` and
``overview.png``. tests/test_browser_pages.py runs :func:`take` on the test demo.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("POSTALOPS_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "postalops-demo"
VIEWPORT = {"width": 1440, "height": 900}
# the overview is drawn by Dash callbacks, then plotly: wait for both
DASH_READY_JS = """() => {
  const p = document.querySelector('#po-page');
  return !!p && p.children.length > 0 && !document.querySelector('[data-dash-is-loading="true"]');
}"""


def demo_app(instance: Path) -> Any:
    """The app on the SQLite demo in ``instance``, migrated, with the demo built if empty."""
    import sqlalchemy as sa

    os.environ["POSTALOPS_INSTANCE_PATH"] = str(instance)
    os.environ.pop("POSTALOPS_DATABASE_URL", None)
    os.environ.pop("POSTALOPS_REDIS_URL", None)
    from postalops import migrate
    from postalops.app import create_app
    from postalops.demo import build
    from postalops.models import OrgUnit

    instance.mkdir(parents=True, exist_ok=True)
    app = create_app()
    db = app.extensions["postalops.db"]
    migrate.upgrade(db, app.extensions["postalops.plugins"])
    with db.session(None) as s:
        empty = not s.exec(sa.select(sa.func.count()).select_from(OrgUnit)).one()[0]
    if empty:
        print(f"building the demo in {instance} (a minute or two) ...", file=sys.stderr)
        build(app)
    return app


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def take(base: str, out: Path, user: str = "admin", browser: Any = None) -> dict[str, Path]:
    """Log in as ``user`` at ``base`` and save workbench.png and overview.png in ``out``
    (with ``browser``, a Playwright browser already running, or a chromium of its own)."""
    out.mkdir(parents=True, exist_ok=True)
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            own = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                return take(base, out, user, own)
            finally:
                own.close()
    shots = {"workbench": out / "workbench.png", "overview": out / "overview.png"}
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(base + "/login")
        page.fill("#username", user)
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(base + "/")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots["workbench"]))
        page.goto(base + "/dashboards/", wait_until="networkidle")
        page.wait_for_function(DASH_READY_JS)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)  # plotly's transitions
        page.screenshot(path=str(shots["overview"]))
    finally:
        context.close()
    return shots


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--instance",
        type=Path,
        default=Path(os.environ.get("POSTALOPS_INSTANCE_PATH") or ROOT / "instance"),
    )
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    ap.add_argument("--user", default="admin", help="demo login (password postalops-demo)")
    args = ap.parse_args()
    app = demo_app(args.instance.resolve())
    with serve(app) as base:
        for name, path in take(base, args.out, args.user).items():
            print(f"{name}: {path}")


if __name__ == "__main__":
    main()
