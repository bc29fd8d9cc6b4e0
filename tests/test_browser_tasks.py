"""The five daily tasks of issue 16 §5, each done as its demo user in headless Chromium, in
Chinese at 1440 px, through the UI only: the login form, links, buttons and forms (no API call
or database write inside a task's steps). docs/user-guide.md (五项日常任务) describes the same
steps with the screenshots these tests take.

1. ``payroll_hr_city`` runs last month's payroll for Zhengzhou, ``payroll_hr_province`` approves
   it (maker-checker), the first downloads the payslips as XLSX with numeric cells.
2. ``outcall_agent_guangzhou`` claims the next case and records "accepted" with an address: the
   waybill and label appear and the notification job is queued.
3. ``pickup_planner_province`` opens Henan's coverage gaps and this month's direct-delivery
   candidates without typing a date and switches one candidate to direct delivery.
4. ``loan_officer_city`` applies for a Zhengzhou borrower, ``credit_approver_city`` approves, the
   officer contracts and disburses; the schedule is shown, and the application waits on both
   users' workbench (工作台) while it is theirs to move.
5. ``admin_city`` switches e-commerce off for Zhengzhou after a confirmation: its menu entry,
   pages, API and dashboard cards are gone there, and a sibling city (Kaifeng) keeps them.

They need the full demo with its rolling present (tests/fixtures/demo_site.py builds it once,
in the background). They change data, so they run on ``demo_copy``: a copy of that build served
by an app of their own; the page suite's instance is never written. The tasks touch disjoint
records (Zhengzhou's payroll, Guangzhou's queue, Henan's pickup points, a new loan, Zhengzhou's
e-commerce switch), so each passes whatever order they run in.

Screenshots (viewport only, 1440×900) go to test-artifacts/browser/tasks/, or to the folder
``POSTALOPS_GUIDE_SHOTS`` names: ``POSTALOPS_GUIDE_SHOTS=docs/img/guide .venv/bin/pytest
tests/test_browser_tasks.py`` retakes the user guide's pictures.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
from postalops import clock

from tests.fixtures.demo_site import DemoSite, demo_copy, demo_site  # noqa: F401 (fixtures)
from tests.test_browser_pages import PASSWORD, browser  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ.get("POSTALOPS_GUIDE_SHOTS") or ROOT / "test-artifacts/browser/tasks")
GUIDE = ROOT / "docs" / "user-guide.md"
VIEWPORT = {"width": 1440, "height": 900}

pytestmark = pytest.mark.browser


# --- the user's hands ----------------------------------------------------------------------


class User:
    """One demo user in a browser context of their own, logged in through the login form."""

    def __init__(self, browser: Any, site: DemoSite, name: str) -> None:  # noqa: F811
        self.base, self.name = site.url, name
        self.context = browser.new_context(
            locale="zh-CN", timezone_id="Asia/Shanghai", viewport=VIEWPORT, accept_downloads=True
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.goto(self.base + "/login")
        self.page.fill("#username", name)
        self.page.fill("#password", PASSWORD)
        self.page.click("#login-submit")
        self.page.wait_for_url(self.base + "/")

    def nav(self, label: str) -> None:
        """Click the main menu's entry ``label`` (the administration entries are in its menu)."""
        menu = self.page.locator("#mainnav")
        link = menu.get_by_role("link", name=label, exact=True)
        if not link.is_visible():
            menu.get_by_role("button", name="系统管理").click()
        link.click()
        self.page.wait_for_load_state()

    def click(self, text: str, scope: str = "main") -> None:
        """Click the link or button whose visible text is ``text``."""
        self.page.locator(scope).get_by_role("link", name=text).or_(
            self.page.locator(scope).get_by_role("button", name=text)
        ).first.click()
        self.page.wait_for_load_state()

    def dialog(self) -> str:
        """The confirmation dialog's question, once it has finished opening."""
        self.page.wait_for_function(
            """() => { const m = document.querySelector('#po-confirm.show .modal-dialog');
                       return !!m && getComputedStyle(m).transform === 'none'; }"""
        )
        return self.text("#po-confirm-text")

    def confirm(self) -> None:
        """Answer the portal's confirmation dialog (the UI kit's modal) with its OK button."""
        ok = self.page.locator("#po-confirm-ok")
        ok.wait_for(state="visible")
        ok.click()
        self.page.wait_for_load_state()

    def home(self) -> None:
        """Back to the workbench: the portal's brand link (from a dashboard, 返回门户)."""
        brand = self.page.locator("a.navbar-brand")
        if brand.count():
            brand.first.click()
        else:
            self.page.get_by_role("link", name="返回门户").first.click()
        self.page.wait_for_url(self.base + "/")

    def text(self, selector: str = "main") -> str:
        return self.page.locator(selector).first.inner_text()

    def show(self, selector: str) -> None:
        """Scroll so that ``selector`` sits in the middle of the window (for a screenshot)."""
        self.page.locator(selector).first.evaluate("e => e.scrollIntoView({block: 'center'})")

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def close(self) -> None:
        assert not self.errors, self.errors
        self.context.close()


@pytest.fixture
def as_user(browser: Any, demo_copy: DemoSite) -> Any:  # noqa: F811
    users: list[User] = []

    def log_in(name: str) -> User:
        users.append(User(browser, demo_copy, name))
        return users[-1]

    yield log_in
    for u in users:
        u.close()


def last_month() -> dt.date:
    return clock.today().replace(day=1) - dt.timedelta(days=1)


# --- 1. payroll: run last month, approve (maker-checker), payslips as XLSX -------------------


def test_payroll_hr_runs_last_months_payroll_a_second_user_approves_it(as_user: Any) -> None:
    from openpyxl import load_workbook

    month = last_month()
    month_zh = f"{month.year}年{month.month}月"
    maker = as_user("payroll_hr_city")
    maker.nav("计件工资")
    maker.page.fill("#f-month", f"{month:%Y-%m}")  # the month picker
    assert maker.page.locator("#f-unit option:checked").inner_text() == "郑州市分公司"
    maker.shot("payroll-1-run")
    maker.click("核算当月工资")
    assert "/p/payroll/jobs/" in maker.page.url
    assert f"郑州市分公司 {month_zh}" in maker.text("h1")
    maker.page.locator("a[data-refresh]").wait_for()  # the job's badge turns 已完成 live
    maker.click("刷新查看结果")
    job = maker.text("#jobs-table")
    assert "已完成" in job and not re.search(r"[A-Za-z]{3,}", job), job  # no English stage text
    maker.click("查看核算结果")
    assert f"工资核算 · 郑州市分公司 {month_zh}" in maker.text("h1")
    assert "草稿" in maker.text("#run-status")
    assert maker.page.locator("#approve").count() == 0  # the maker may not approve it ...
    assert "另一位" in maker.text("#maker-checker")  # ... and is told so
    run_url = maker.page.url

    # ... another payroll HR above Zhengzhou does: the draft waits on their workbench, as one
    # item or (Henan has a draft a city this month) in the summary of runs to approve
    checker = as_user("payroll_hr_province")
    task = checker.page.locator("#inbox li.po-task", has_text="审批").first
    assert month_zh in task.inner_text(), checker.text("#inbox")
    task.locator("a.po-task-title").click()
    checker.page.wait_for_load_state()
    if checker.page.url != run_url:  # the summary: the runs that wait, newest month first
        row = checker.page.locator("#runs tbody tr", has_text="郑州市分公司").filter(
            has_text=month_zh
        )
        assert "草稿" in row.inner_text()
        row.get_by_role("link", name=month_zh).click()
        checker.page.wait_for_load_state()
    assert checker.page.url == run_url
    checker.click("审批并锁定本月")
    assert "锁定" in checker.dialog()
    checker.shot("payroll-2-confirm")
    checker.confirm()
    assert "已审批" in checker.text("#run-status")

    maker.page.reload()
    assert "已审批" in maker.text("#run-status")
    with maker.page.expect_download() as download:
        maker.click("导出工资条（XLSX）")
    assert download.value.suggested_filename.endswith(".xlsx")
    book = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    sheet = book.worksheets[0]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) >= 4, rows  # Zhengzhou's couriers
    numeric = [
        i for i, v in enumerate(rows[0]) if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    assert numeric, (header, rows[0])
    for i in numeric:  # a numeric column is numeric in every row (no number stored as text)
        assert all(isinstance(r[i], int | float) for r in rows if r[i] is not None), header[i]
    assert not any(
        isinstance(v, str) and re.fullmatch(r"-?[\d,]+\.?\d*", v) for r in rows for v in r
    ), "a number stored as text"


# --- 2. outcall: claim the next case, accepted with an address: waybill, label, notification --


class Platform:
    """The government-service platform, which is outside PostalOps: a local HTTP server that
    records what the portal's webhook posts to it."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, HTTPServer

        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append(json.loads(body or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def platform() -> Any:
    p = Platform()
    yield p
    p.close()


def test_outcall_agent_claims_the_next_case_and_converts_it_to_mail(
    as_user: Any, platform: Platform
) -> None:
    # what the people in charge set up once, in the portal: the platform's address (the group
    # administrator) and calling hours that hold whenever this test runs (the supervisor; the
    # default is 09:00-20:00 Beijing time)
    admin = as_user("admin")
    admin.nav("事件推送")
    form = admin.page.locator("#new-endpoint")
    form.locator("#f-unit").select_option(value="cn.guangdong.guangzhou")
    form.locator("#f-url").fill(platform.url)
    form.locator("#f-event_types").fill("outcall.*")
    form.get_by_role("button", name="添加推送地址").click()
    admin.page.wait_for_load_state()
    assert platform.url in admin.text("main")
    supervisor = as_user("outcall_supervisor_guangzhou")
    supervisor.nav("出件外呼")
    supervisor.click("队列设置", "#outcall-tabs")
    supervisor.page.locator("#f-calling_start").fill("00:00")
    supervisor.page.locator("#f-calling_end").fill("23:59")
    supervisor.page.locator("#plugin-settings").get_by_role("button", name="保存").click()
    supervisor.page.wait_for_load_state()
    assert "已保存" in supervisor.text(".po-flashes")

    agent = as_user("outcall_agent_guangzhou")
    agent.nav("出件外呼")
    kpis = agent.text("#outcall-kpis")
    assert not re.search(r"[A-Za-z]{3,}", kpis), kpis  # units and rates read in Chinese
    agent.click("外呼工作台", "#outcall-tabs")
    agent.click("领取下一件")
    call = agent.page.locator("#active-call")
    case_no = call.locator("tr", has_text="办件编号").locator("td").first.inner_text().strip()
    assert case_no, agent.text("main")
    agent.page.locator("#outcome").select_option(label="同意邮寄")
    agent.page.locator("input[name=district]").fill("天河区")
    agent.page.locator("input[name=detail]").fill("天河路385号 1201室")
    agent.shot("outcall-1-call")
    agent.click("保存结果")

    waybill = agent.text("#waybill").strip()  # the label, ready to print
    assert re.fullmatch(r"[A-Z]{2}\d{9}[A-Z]{2}|[A-Z0-9]{10,16}", waybill), waybill
    assert "天河区" in agent.text("#label")
    assert f"运单号 {waybill}" in agent.text("body")  # the outcome, said on the label page
    agent.shot("outcall-2-label")
    agent.click("返回外呼工作台", "body")
    agent.click("邮寄订单", "#outcall-tabs")
    assert waybill in agent.text("#orders-table, main table")
    agent.click("平台通知", "#outcall-tabs")
    row = agent.page.locator("#notifications-table tbody tr").first
    assert case_no in row.inner_text(), agent.text("#notifications-table")
    assert re.search("待推送|推送中|已送达|重试", row.inner_text()), row.inner_text()
    deadline = dt.datetime.now() + dt.timedelta(seconds=20)  # the job sends it in the background
    while not platform.received and dt.datetime.now() < deadline:
        agent.page.wait_for_timeout(250)
    assert any(case_no in str(body) for body in platform.received), platform.received


# --- 3. pickup points: Henan's coverage gaps, this month's candidates, one switched -----------


def test_pickup_planner_opens_gaps_and_candidates_and_switches_one(as_user: Any) -> None:
    planner = as_user("pickup_planner_province")
    planner.nav("自提点")
    planner.click("覆盖率", "#pickup-tabs")
    assert "河南省分公司" in planner.text("h1")
    assert planner.page.locator("#f-day").input_value() == clock.today().isoformat()
    gaps = planner.page.locator("#uncovered tbody tr")
    assert gaps.count() >= 1, "no coverage gap in Henan"
    planner.show("#uncovered")
    planner.shot("pickup-1-gaps")

    planner.click("串点直投", "#pickup-tabs")
    heading = planner.text("main h2:has-text('建议直投')")
    assert f"– {clock.today().isoformat()}" in heading, heading  # the window ends today
    candidates = planner.page.locator("#proposals tbody tr")
    assert candidates.count() >= 1, "no direct-delivery candidate this month"
    first = candidates.first
    point = first.locator("td").first.inner_text().strip()
    on_direct = int(planner.text("#switched small").replace(",", ""))
    first.locator('input[type="date"]').fill(clock.today().isoformat())
    planner.shot("pickup-2-candidates")
    first.get_by_role("button", name="改为直投").click()
    assert point.split(" ", 1)[1] in planner.dialog()
    planner.confirm()
    assert "已记录" in planner.text(".po-flashes")
    assert int(planner.text("#switched small").replace(",", "")) == on_direct + 1
    assert (
        planner.page.locator("#proposals tr", has_text=point).count() == 0
    )  # no longer a candidate


# --- 4. lending: apply, review, approve (checker), contract, disburse ------------------------


def ready_borrower(site: DemoSite) -> str:
    """A Zhengzhou borrower the officer may apply for today: operating, no loan being repaid,
    no application under way, and none the pre-check ever declined (enough tax). Read from the
    copy only to name the customer the officer picks in the form (the task writes nothing)."""
    import sqlalchemy as sa

    with site.app.extensions["postalops.db"].engine.connect() as conn:
        name = conn.execute(
            sa.text(
                """SELECT b.name FROM lending_borrower b
                   WHERE b.tenant_code LIKE 'cn.henan.zhengzhou%' AND b.operating
                   AND NOT EXISTS (SELECT 1 FROM lending_loan l
                                   WHERE l.borrower_id = b.id AND l.status = 'active')
                   AND NOT EXISTS (SELECT 1 FROM lending_application a
                                   WHERE a.borrower_id = b.id
                                   AND a.status NOT IN ('disbursed', 'rejected'))
                   ORDER BY b.name LIMIT 1"""
            )
        ).scalar()
    assert name, "the demo has no Zhengzhou borrower ready for a new loan"
    return name


def inbox_item(user: User, title: str) -> Any:
    """The workbench item ``title`` (the home page is the workbench: 工作台)."""
    user.home()
    return user.page.locator("#inbox li.po-task", has=user.page.locator(f"text={title}"))


def test_loan_officer_applies_approver_approves_officer_contracts_and_disburses(
    as_user: Any,
    demo_copy: DemoSite,  # noqa: F811
) -> None:
    borrower = ready_borrower(demo_copy)
    officer = as_user("loan_officer_city")
    officer.nav("小微E贷")
    products = officer.page.locator("main table").first.inner_text()
    assert "郑州市分公司" in products and "在售" in products  # offered in Zhengzhou
    officer.click("贷款申请", "main .nav, main nav")
    form = officer.page.locator("#application-form")
    # each choice carries today's pre-check in words ("name · 可申请，额度 …" or the rules that fail)
    labels = form.locator("#f-borrower_id option").all_inner_texts()
    label = next(t for t in labels if t.startswith(f"{borrower} · "))
    assert "可申请" in label or "不可申请" in label, label
    form.locator("#f-borrower_id").select_option(label=label)
    form.locator("#f-product_id").select_option(label="小微E贷(税务模式·等额本息)")
    form.locator("#f-requested_amount").fill("200000")
    officer.show("#new-application")
    officer.shot("lending-1-apply")
    form.locator("button[type=submit]").click()
    officer.page.wait_for_load_state()
    assert "预审通过" in officer.text(".po-flashes"), officer.text("main")
    app_url = officer.page.url
    app_title = officer.text("h1")  # 贷款申请 #N

    # while it waits for review, it is on the officer's workbench
    item = inbox_item(officer, "待审查的贷款申请")
    assert item.count() == 1, officer.text("#inbox")
    item.locator("a.po-task-title").click()
    officer.page.wait_for_load_state()
    if officer.page.url != app_url:  # more than one waits: the list, newest first
        officer.page.locator("#applications a", has_text=app_title.split("#")[-1]).first.click()
    assert officer.page.url == app_url
    officer.click("审查通过，提交审批")
    assert "已审查" in officer.text("#app-status")
    assert officer.page.get_by_role("button", name="审批通过").count() == 0  # maker-checker

    # ... then on the credit approver's
    approver = as_user("credit_approver_city")
    item = inbox_item(approver, "待审批的贷款申请")
    assert item.count() == 1, approver.text("#inbox")
    approver.shot("lending-2-workbench")
    item.locator("a.po-task-title").click()
    approver.page.wait_for_load_state()
    if approver.page.url != app_url:
        approver.page.locator("#applications a", has_text=app_title.split("#")[-1]).first.click()
    assert approver.page.url == app_url
    approver.page.locator("#f-note").fill("纳税记录良好，同意。")
    approver.click("审批通过")
    assert "已审批" in approver.text("#app-status"), approver.text("#app-status")

    # ... and back on the officer's, to sign
    item = inbox_item(officer, "待签订合同的贷款")
    assert item.count() == 1, officer.text("#inbox")
    officer.page.goto(app_url)
    officer.click("签订合同", "#step-form")
    assert borrower in officer.dialog()
    officer.confirm()
    officer.click("发放贷款", "#step-form")
    officer.confirm()
    assert "贷款已发放" in officer.text(".po-flashes")
    officer.click("查看贷款")
    schedule = officer.page.locator("table.schedule").first
    assert schedule.locator("tbody tr").count() == 24  # 24 monthly instalments
    officer.show("table.schedule")
    officer.shot("lending-3-schedule")


# --- 5. administration: e-commerce off for Zhengzhou, after a confirmation -------------------

DASH_READY_JS = """() => {
  const p = document.querySelector('#po-page');
  return !!p && p.children.length > 0 && !document.querySelector('[data-dash-is-loading="true"]');
}"""


def ecommerce_seen(user: User) -> dict[str, Any]:
    """Where e-commerce shows for ``user``'s unit: the menu, its page, its API, the overview
    dashboard's cards (and the dashboards' own menu)."""
    user.home()
    menu = user.page.locator('#mainnav a[data-nav="ecommerce"]').count() > 0
    page = user.page.goto(user.base + "/p/ecommerce/")
    status = page.status if page is not None else 0
    api = user.page.request.get(user.base + "/api/v1/ecommerce/campaigns").status
    user.page.goto(user.base + "/dashboards/", wait_until="networkidle")
    user.page.wait_for_function(DASH_READY_JS)
    dashboard = user.text("#po-page")
    return {
        "menu": menu,
        "page": status,
        "api": api,
        "cards": "零售额完成率" in dashboard and "团购交易额" in dashboard,
    }


def test_admin_city_turns_ecommerce_off_for_zhengzhou_only(as_user: Any) -> None:
    admin = as_user("admin_city")
    assert ecommerce_seen(admin) == {"menu": True, "page": 200, "api": 200, "cards": True}
    admin.home()
    admin.nav("插件启用")
    assert admin.page.locator("#plugins-unit-select option:checked").inner_text() == "郑州市分公司"
    row = admin.page.locator('tr[data-plugin="ecommerce"]')
    row.get_by_role("button", name="停用电商节").click()
    question = admin.dialog()
    assert "电商节" in question and "郑州市分公司" in question, question
    admin.shot("admin-1-confirm")
    admin.confirm()
    assert "已保存" in admin.text(".po-flashes")
    assert "否" in row.locator("td.state").inner_text()
    admin.shot("admin-2-disabled")
    assert ecommerce_seen(admin) == {"menu": False, "page": 404, "api": 404, "cards": False}

    sibling = as_user("admin_city2")  # Kaifeng, Zhengzhou's sibling city, keeps everything
    assert ecommerce_seen(sibling) == {"menu": True, "page": 200, "api": 200, "cards": True}


def test_the_user_guide_shows_the_pictures_these_tests_take() -> None:
    """docs/user-guide.md (五项日常任务) shows each screenshot the tasks take, and each is in
    docs/img/guide at 1440 px."""
    taken = set(re.findall(r'\.shot\("([\w-]+)"\)', Path(__file__).read_text(encoding="utf-8")))
    guide = GUIDE.read_text(encoding="utf-8")
    assert "## 五项日常任务 · The five daily tasks" in guide
    shown = set(re.findall(r"\(img/guide/([\w-]+)\.png\)", guide))
    assert shown == taken, shown ^ taken
    for name in shown:
        png = (ROOT / "docs" / "img" / "guide" / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 1440, name
