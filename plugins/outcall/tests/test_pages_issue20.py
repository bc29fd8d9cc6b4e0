"""Issue 20 §2's pages on the UI kit, with data, in Chinese and English: the live view, the
handle-time statistics, the do-not-call list, the dispositions and the switchboard read as
words (no raw enum, unit code or unformatted number), with breadcrumbs and outcall's tabs."""

import datetime as dt

import pytest
from postalops.testing import assert_readable, page_text, table_rows
from postalops_outcall.testing import ADDRESS, GZ

PAGES = (
    "/p/outcall/live",
    "/p/outcall/stats",
    "/p/outcall/dnc",
    "/p/outcall/dispositions",
    "/p/outcall/cti",
)


@pytest.fixture
def busy_centre(live, hall, make_token):
    """Two calls with times, a call-back in 20 minutes, a paused agent, a listed number."""
    platform = make_token(GZ, "outcall.intake")
    boss = make_token(GZ, "outcall.manage", "outcall.view")
    rows = [live(n, phone=f"1380000000{n}") for n in range(1, 4)]
    platform.post("/api/v1/outcall/cases", json=rows)
    boss.put(
        "/api/v1/outcall/dispositions",
        json=[{"code": "delegated", "label": "已委托他人领取", "outcome": "declined"}],
    )
    boss.post("/api/v1/outcall/dnc", json={"phone": "13900009999", "reason": "opt_out"})
    agent = make_token(GZ, "outcall.call")
    now = dt.datetime.now(dt.UTC)
    for body in (
        {"outcome": "accepted", "address": ADDRESS},
        {"disposition": "delegated"},
        {"outcome": "callback", "callback_at": (now + dt.timedelta(minutes=20)).isoformat()},
    ):
        case = agent.post("/api/v1/outcall/queue/claim").get_json()["case"]
        agent.post(f"/api/v1/outcall/cases/{case['id']}/call/start")
        agent.post(f"/api/v1/outcall/cases/{case['id']}/call/end")
        assert (
            agent.post(f"/api/v1/outcall/cases/{case['id']}/outcome", json=body).status_code == 200
        )
    agent.put("/api/v1/outcall/agents/me/state", json={"state": "paused", "pause_code": "break"})


def test_the_new_pages_read_in_chinese_on_the_kit(busy_centre, login_as):
    boss = login_as("outcall_supervisor", GZ)
    for url in PAGES:
        resp = boss.get(url)
        assert resp.status_code == 200, url
        html = resp.get_data(as_text=True)
        assert 'class="breadcrumb' in html and 'id="outcall-tabs"' in html, url
        assert_readable(html)
    live_html = boss.get("/p/outcall/live").get_data(as_text=True)
    text = page_text(live_html)
    assert "暂停" in text and "小休" in text and "一小时内到期的预约回拨" in text
    assert table_rows(live_html, "callbacks-table") == 1
    stats = page_text(boss.get("/p/outcall/stats").get_data(as_text=True))
    assert "每单转化外呼次数" in stats and "各时段转化率" in stats
    dnc = boss.get("/p/outcall/dnc").get_data(as_text=True)
    assert table_rows(dnc, "dnc-table") == 1 and "139****9999" in dnc


def test_the_new_pages_read_in_english(busy_centre, login_as):
    boss = login_as("outcall_supervisor", GZ)
    boss.post("/lang", data={"lang": "en", "csrf_token": boss.csrf, "next": "/"})
    text = page_text(boss.get("/p/outcall/live").get_data(as_text=True))
    assert "Agents and queue, live" in text and "Paused" in text and "Break" in text
    text = page_text(boss.get("/p/outcall/dnc").get_data(as_text=True))
    assert "Do-not-call list" in text and "Opted out" in text


def test_viewers_see_the_lists_but_cannot_edit_them(busy_centre, login_as):
    viewer = login_as("viewer", GZ)
    assert viewer.get("/p/outcall/live").status_code == 403
    html = viewer.get("/p/outcall/dnc").get_data(as_text=True)
    assert 'id="add-dnc"' not in html
    assert (
        viewer.post("/p/outcall/dnc", data={"phone": "13800000001", "reason": "other"}).status_code
        == 403
    )
    assert viewer.get("/p/outcall/cti").status_code == 403
