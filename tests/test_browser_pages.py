"""Every nav page of eight demo roles in headless Chromium, at 1440×900 and 390×844, in zh, on the
full demo network (issue 14 §7):

- no console error (nor an uncaught page error, nor an HTTP error for the page itself);
- nothing wider than the window at 390 px: ``scrollWidth <= innerWidth`` and no element sticking
  out past the right edge outside a box that scrolls or clips it (the body's ``overflow-x:
  hidden`` would otherwise hide such content without a scroll bar);
- no snake_case token or raw unit code (``cn.henan.zhengzhou``) in the page's visible text;
- an axe-core scan (axe-playwright-python) with no serious or critical violation, on one or
  more pages of each plugin, at both widths (``AXE`` below says which role scans what);
- a screenshot of every page under test-artifacts/browser/pages/ (kept by CI).

Nav pages: the home page (工作台), every link of the main nav (the administration menu included)
and every page of the dashboards' own nav.

Allowlist of text that may legitimately look like a token (kept small on purpose):
- ``code, pre, kbd, samp`` elements and the Swagger UI (``#swagger-ui``: the API reference
  documents field names such as ``job_id`` for developers);
- the login names of the portal's users (``payroll_hr_city`` in the account menu, the users
  list, the audit log): a login name is a proper name, shown as the user typed it.

The API docs page is the same document for every role: it is visited by ``admin_province`` only.

The demo is built once per run in the background (tests/fixtures/demo_site.py); on PostgreSQL the
suite is skipped (the pages do not depend on the database).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.demo_site import DemoSite, demo_site  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-artifacts" / "browser" / "pages"
CHROMIUM = os.environ.get("POSTALOPS_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "postalops-demo"

pytestmark = pytest.mark.browser

VIEWPORTS = {"1440": (1440, 900), "390": (390, 844)}

# role -> nav keys whose pages this role scans with axe (each plugin once, by the role owning it)
AXE: dict[str, tuple[str, ...]] = {
    "admin_province": ("home", "core", "dashboards"),
    "outcall_agent_guangzhou": ("outcall",),
    "payroll_hr_city": ("payroll",),
    "loan_officer_city": ("lending",),
    "station_head_city": ("sorter",),
    "pickup_planner_city": ("pickup_points",),
    "marketing_shijiazhuang": ("ecommerce",),
    "courier_city": (),
}
# the one role that visits the API docs (the same page for everyone)
API_DOCS_ROLE = "admin_province"
# Swagger UI is a third-party page with its own browser test (test_openapi_docs_browser.py)
AXE_SKIP = ("/api/v1/docs",)
# the dashboards plugin is scanned on its overview only (one page per plugin is enough)
AXE_DASHBOARDS = ("/dashboards/",)

SNAKE = re.compile(r"(?<![\w./-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w])")
UNIT_CODE = re.compile(r"(?<![\w.])cn(?:\.[a-z][a-z0-9_]*)+(?![\w])")

# the page's visible text without the allowlisted elements
VISIBLE_TEXT_JS = """() => {
  let text = document.body.innerText;
  for (const el of document.querySelectorAll('code, pre, kbd, samp, #swagger-ui')) {
    const s = el.innerText;
    if (s && s.trim()) text = text.split(s).join(' ');
  }
  return text;
}"""

# elements past the right edge that no ancestor scrolls or clips (the body excepted)
OVERFLOW_JS = """() => {
  const W = window.innerWidth, out = [];
  const boxed = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const ox = getComputedStyle(p).overflowX;
      if (ox !== 'visible') return true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right <= W + 1) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || cs.position === 'fixed') continue;
    if (boxed(el)) continue;
    const id = el.id ? '#' + el.id : '';
    const cls = typeof el.className === 'string' && el.className.trim()
      ? '.' + el.className.trim().split(/\\s+/).slice(0, 3).join('.') : '';
    out.push(`${el.tagName.toLowerCase()}${id}${cls} right=${Math.round(r.right)}`);
    if (out.length >= 5) break;
  }
  return [document.documentElement.scrollWidth, W, out];
}"""

DASH_READY_JS = """() => {
  const p = document.querySelector('#po-page');
  return !!p && p.children.length > 0 && !document.querySelector('[data-dash-is-loading="true"]');
}"""


@pytest.fixture(scope="module")
def browser() -> Any:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Debian's chromium is required for the browser tests (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@pytest.fixture(scope="module")
def axe() -> Any:
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def log_in(browser: Any, base: str, username: str, viewport: tuple[int, int]) -> Any:
    context = browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": viewport[0], "height": viewport[1]},
        is_mobile=viewport[0] < 768,
        has_touch=viewport[0] < 768,
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(base + "/")
    return page


def nav_pages(page: Any, base: str) -> list[tuple[str, str]]:
    """(nav key, path) of the home page, the main nav (admin menu too) and the dashboards' nav."""
    links = page.eval_on_selector_all(
        "#mainnav a[href][data-nav]", "els => els.map(e => [e.dataset.nav, e.getAttribute('href')])"
    )
    pages = [("home", "/")] + [(k, h) for k, h in links if h.startswith("/")]
    if any(h.startswith("/dashboards") for _, h in pages):
        page.goto(base + "/dashboards/")
        page.wait_for_function(DASH_READY_JS)
        for href in page.eval_on_selector_all(
            ".po-dash-nav a[href]", "els => els.map(e => e.getAttribute('href'))"
        ):
            if ("dashboards", href) not in pages:
                pages.append(("dashboards", href))
    return pages


def visit(page: Any, base: str, path: str) -> int:
    dash = path.startswith("/dashboards")
    resp = page.goto(base + path, wait_until="networkidle" if dash else "load")
    if dash:  # Dash renders the page in callbacks, then plotly draws the charts
        page.wait_for_function(DASH_READY_JS)
        page.wait_for_load_state("networkidle")
    elif path.startswith("/api/v1/docs"):
        page.wait_for_selector(".opblock-summary")
    return resp.status if resp is not None else 0


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


def _snippet(text: str, token: str) -> str:
    i = text.find(token)
    return " ".join(text[max(0, i - 30) : i + len(token) + 30].split())


@pytest.fixture(scope="module")
def login_names(demo_site: DemoSite) -> set[str]:  # noqa: F811
    import sqlalchemy as sa

    with demo_site.app.extensions["postalops.db"].engine.connect() as conn:
        return set(conn.execute(sa.text("SELECT username FROM core_user")).scalars())


def check_page(page: Any, width: int, errors: list[str], login_names: set[str]) -> list[str]:
    problems = [f"console error: {e}" for e in errors]
    text = page.evaluate(VISIBLE_TEXT_JS)
    for token in sorted(set(UNIT_CODE.findall(text)))[:5]:
        problems.append(f"raw unit code {token!r} in “{_snippet(text, token)}”")
    for token in sorted(set(SNAKE.findall(text)) - login_names)[:8]:
        problems.append(f"snake_case {token!r} in “{_snippet(text, token)}”")
    if width < 768:
        scroll_width, inner, sticking_out = page.evaluate(OVERFLOW_JS)
        if scroll_width > inner:
            problems.append(f"horizontal overflow: scrollWidth {scroll_width} > {inner}")
        for el in sticking_out:
            problems.append(f"sticks out past {inner} px: {el}")
    return problems


def axe_problems(axe: Any, page: Any) -> list[str]:
    results = axe.run(page)
    out = []
    for v in results.response["violations"]:
        if v.get("impact") in ("serious", "critical"):
            targets = [", ".join(n["target"]) for n in v["nodes"][:3]]
            out.append(f"axe {v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])}×: {targets})")
    return out


@pytest.mark.parametrize("width", list(VIEWPORTS))
@pytest.mark.parametrize("role", list(AXE))
def test_nav_pages(
    demo_site: DemoSite,  # noqa: F811
    browser: Any,
    axe: Any,
    login_names: set[str],
    role: str,
    width: str,
) -> None:
    base, viewport = demo_site.url, VIEWPORTS[width]
    page = log_in(browser, base, role, viewport)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    pages = nav_pages(page, base)
    assert len(pages) >= 3, pages  # home, dashboards and the role's own plugin at least
    shots = SHOTS / width / role
    shots.mkdir(parents=True, exist_ok=True)
    report: list[str] = []
    if role != API_DOCS_ROLE:
        pages = [(k, p) for k, p in pages if not p.startswith("/api/v1/docs")]
    for key, path in pages:
        errors.clear()
        status = visit(page, base, path)
        problems = [f"HTTP {status}"] if status >= 400 else []
        problems += check_page(page, viewport[0], list(errors), login_names)
        if (
            key in AXE[role]
            and path not in AXE_SKIP
            and (key != "dashboards" or path in AXE_DASHBOARDS)
        ):
            problems += axe_problems(axe, page)
        page.screenshot(path=str(shots / f"{slug(path)}.png"), full_page=True)
        report += [f"{role} @{width} {path}: {p}" for p in problems]
    page.context.close()
    (shots / "problems.txt").write_text("\n".join(report) + "\n", encoding="utf-8")
    assert not report, "\n" + "\n".join(report)


def test_the_checks_catch_what_they_look_for(browser: Any) -> None:
    """The page checks on a made-up page: each finds its fault, the allowlist lets through only
    what it names."""
    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.set_content(
        """<html><body style="overflow-x:hidden; margin:0">
        <p>状态 interest_only_bullet，单位 cn.henan.zhengzhou.erqi</p>
        <p>账号 payroll_hr_city</p>
        <code>job_id cn.henan.kaifeng</code>
        <div style="overflow-x:auto"><div style="width:900px">在自己的框里滚动</div></div>
        <div id="wide" style="width:600px">太宽</div>
        <script>console.error("boom")</script></body></html>"""
    )
    problems = check_page(page, 390, list(errors), {"payroll_hr_city"})
    text = "\n".join(problems)
    assert "console error: boom" in text
    assert "snake_case 'interest_only_bullet'" in text
    assert "raw unit code 'cn.henan.zhengzhou.erqi'" in text
    assert "horizontal overflow: scrollWidth 600 > 390" in text
    assert "sticks out past 390 px: div#wide" in text
    for allowed in ("payroll_hr_city", "job_id", "cn.henan.kaifeng"):
        assert f"{allowed!r} in" not in text
    assert len(problems) == 5, problems  # the scrolling box is not one
    page.set_content('<html><body><p style="width:380px">刚好</p></body></html>')
    assert check_page(page, 390, [], set()) == []
    page.close()


def test_readme_screenshots_script(demo_site: DemoSite, browser: Any) -> None:  # noqa: F811
    """tools/screenshots.py takes the README's two pictures from the demo (here into the CI
    artifacts, not docs/img), and the README shows the ones it saves."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "tools" / "screenshots.py")
    assert spec and spec.loader
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    shots = tool.take(demo_site.url, SHOTS.parent / "readme", browser=browser)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, path in shots.items():
        png = path.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(png[16:20], "big") == 1440  # IHDR width
        assert f"docs/img/{path.name}" in readme
        assert (ROOT / "docs" / "img" / path.name).exists(), name
