"""Reason catalogues per unit with inheritance (issue 20 §1): reasons defined at a province or
city apply to every station below; a station adds its own; a station reason with the same code
overrides the inherited one for that station only. Through HTTP and the pages.

    cn.henan (province):       flood    汛期停机   breakdown
    cn.henan.zhengzhou (city): net      网络中断   breakdown
                               chute_full 格口满袋  small_stops
    jinshui (station):         chute_full 格口满袋（大件） setup        (overrides the city's)
                               label    面单破损   startup_rejects

    jinshui's catalogue: flood (inherited from 河南), net (inherited from 郑州), its own
    chute_full (setup, not the city's small_stops) and label
    gulou's (Kaifeng): flood only, nothing of Zhengzhou's
"""

import datetime as dt
import re
from decimal import Decimal

import sqlalchemy as sa
from postalops import migrate
from postalops.testing import page_text

JINSHUI = "cn.henan.zhengzhou.jinshui"
GULOU = "cn.henan.kaifeng.gulou"
ZZ = "cn.henan.zhengzhou"
SH = dt.timezone(dt.timedelta(hours=8))
DAY = (dt.datetime.now(SH) - dt.timedelta(days=2)).date()
Q = f"from={DAY.isoformat()}&to={DAY.isoformat()}"


def reason(code, zh, en, loss, active=True):
    return {"code": code, "name_zh": zh, "name_en": en, "loss": loss, "active": active}


def catalogue(client):
    body = client.get("/api/v1/sorter/reasons").get_json()
    return {
        r["code"]: (r["name_zh"], r["loss"], r["unit"], r["inherited"])
        for r in body["reasons"]
        if not r["builtin"]
    }


def fault_then_jam(tel):
    """running 08:00, fault 08:05-08:15, running, jammed 08:20-08:23, running, beat 08:30:
    a 10-minute fault and a 3-minute jam."""
    return [
        tel.state(0, tel.at(8, 0), "running"),
        tel.state(1, tel.at(8, 5), "fault"),
        tel.state(2, tel.at(8, 15), "running"),
        tel.state(3, tel.at(8, 20), "jammed"),
        tel.state(4, tel.at(8, 23), "running"),
        tel.beat(5, tel.at(8, 30)),
    ]


def setup_catalogues(token_for):
    prov = token_for("ops", "cn.henan").put(
        "/api/v1/sorter/reasons", json=[reason("flood", "汛期停机", "Flood stop", "breakdown")]
    )
    assert prov.status_code == 200, prov.get_json()
    city = token_for("ops", ZZ).put(
        "/api/v1/sorter/reasons",
        json=[
            reason("net", "网络中断", "Network down", "breakdown"),
            reason("chute_full", "格口满袋", "Chute full", "small_stops"),
        ],
    )
    assert city.status_code == 200, city.get_json()
    station = token_for("ops", JINSHUI).put(
        "/api/v1/sorter/reasons",
        json=[
            reason("chute_full", "格口满袋（大件）", "Chute full (bulky)", "setup"),
            reason("label", "面单破损", "Torn label", "startup_rejects"),
        ],
    )
    assert station.status_code == 200, station.get_json()


def test_reasons_are_inherited_down_the_tree_and_a_station_overrides_by_code(
    make_device, tel, token_for
):
    setup_catalogues(token_for)
    head = token_for("station_head", JINSHUI)
    assert catalogue(head) == {
        "flood": ("汛期停机", "breakdown", "cn.henan", True),
        "net": ("网络中断", "breakdown", ZZ, True),
        "chute_full": ("格口满袋（大件）", "setup", JINSHUI, False),
        "label": ("面单破损", "startup_rejects", JINSHUI, False),
    }
    # the city sees its own and the province's; Kaifeng's station only the province's
    assert catalogue(token_for("ops", ZZ)) == {
        "flood": ("汛期停机", "breakdown", "cn.henan", True),
        "net": ("网络中断", "breakdown", ZZ, False),
        "chute_full": ("格口满袋", "small_stops", ZZ, False),
    }
    assert catalogue(token_for("station_head", GULOU)) == {
        "flood": ("汛期停机", "breakdown", "cn.henan", True),
    }

    ds01, machine = make_device(JINSHUI, "DS01", rated=3600)
    kf01, kf_machine = make_device(GULOU, "KF01", rated=3600)
    tel.post(machine, ds01, fault_then_jam(tel))
    tel.post(kf_machine, kf01, fault_then_jam(tel))
    tel.rollup()
    stops = {s["state"]: s for s in head.get(f"/api/v1/sorter/stops?{Q}").get_json()["items"]}
    # the station head picks the city's reason and the station's override
    r = head.patch(f"/api/v1/sorter/stops/{stops['fault']['id']}", json={"reason_code": "net"})
    assert (r.status_code, r.get_json()["loss"]) == (200, "breakdown")
    r = head.patch(
        f"/api/v1/sorter/stops/{stops['jammed']['id']}", json={"reason_code": "chute_full"}
    )
    assert (r.status_code, r.get_json()["loss"]) == (200, "setup")  # the station's, not small
    # Kaifeng's head cannot use Zhengzhou's reason, but can use the province's
    kf_head = token_for("station_head", GULOU)
    kf_stops = {s["state"]: s for s in kf_head.get(f"/api/v1/sorter/stops?{Q}").get_json()["items"]}
    bad = kf_head.patch(
        f"/api/v1/sorter/stops/{kf_stops['fault']['id']}", json={"reason_code": "net"}
    )
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"][0]["field"] == "reason_code"
    ok = kf_head.patch(
        f"/api/v1/sorter/stops/{kf_stops['fault']['id']}", json={"reason_code": "flood"}
    )
    assert (ok.status_code, ok.get_json()["loss"]) == (200, "breakdown")

    # the province's Pareto: stop minutes by reason (running 30 - 13 = 17 min per machine, no
    # items: reduced speed 17 + 17 = 34 min)
    prov = token_for("ops", "cn.henan").get(f"/api/v1/sorter/pareto?tenant=cn.henan&{Q}")
    rows = [(r["key"], r["loss"], Decimal(str(r["minutes"]))) for r in prov.get_json()["rows"]]
    assert rows == [
        ("reduced_speed", "reduced_speed", Decimal("34.0")),
        ("flood", "breakdown", Decimal("10.0")),
        ("net", "breakdown", Decimal("10.0")),
        ("chute_full", "setup", Decimal("3.0")),
        ("jam", "small_stops", Decimal("3.0")),
    ]  # ties by key; nothing rejected, so no reject rows

    # a city reason switched off is gone for the station too (unless it overrides it)
    token_for("ops", ZZ).put(
        "/api/v1/sorter/reasons",
        json=[reason("net", "网络中断", "Network down", "breakdown", False)],
    )
    assert head.get("/api/v1/sorter/reasons").get_json()["reasons"]
    again = head.patch(f"/api/v1/sorter/stops/{stops['fault']['id']}", json={"reason_code": "net"})
    assert again.status_code == 422
    # a station cannot write its city's catalogue: its PUT makes its own rows only
    assert (
        token_for("station_head", JINSHUI)
        .put("/api/v1/sorter/reasons", json=[reason("x1", "测试", "Test", "setup")])
        .status_code
        == 403
    )


def test_the_catalogue_page_marks_inherited_reasons_read_only_at_the_station(
    make_user, login, make_device, tel, token_for
):
    setup_catalogues(token_for)
    ops = login(make_user("ops1", JINSHUI, "ops"))
    html = ops.get("/p/sorter/reasons").get_data(as_text=True)
    text = page_text(html)
    assert "继承自 郑州" in text and "继承自 河南" in text
    assert "网络中断" in text and "格口满袋（大件）" in text and "面单破损" in text
    # own reasons have an edit form, inherited ones none
    assert 'data-edit="label"' in html and 'data-edit="chute_full"' in html
    assert 'data-edit="net"' not in html and 'data-edit="flood"' not in html
    # add an own reason from the page
    resp = ops.post(
        "/p/sorter/reasons",
        data={
            "csrf_token": ops.csrf,
            "code": "belt_slip",
            "name_zh": "皮带打滑",
            "name_en": "Belt slipping",
            "loss": "small_stops",
            "active": "1",
        },
    )
    assert resp.status_code == 302
    assert "皮带打滑" in page_text(ops.get("/p/sorter/reasons").get_data(as_text=True))
    bad = ops.post(
        "/p/sorter/reasons",
        data={"csrf_token": ops.csrf, "code": "a b", "name_zh": "", "loss": "small_stops"},
    )
    assert bad.status_code == 422 and "is-invalid" in bad.get_data(as_text=True)

    # the station head's stop-reason picker offers the inherited reasons
    ds01, machine = make_device(JINSHUI, "DS01", rated=3600)
    tel.post(machine, ds01, fault_then_jam(tel))
    tel.rollup()
    head = login(make_user("head", JINSHUI, "station_head"))
    losses = head.get(f"/p/sorter/losses?{Q}").get_data(as_text=True)
    picker = re.search(r'<select[^>]*name="reason_code".*?</select>', losses, re.S)[0]
    assert "网络中断" in picker and "汛期停机" in picker and "格口满袋（大件）" in picker
    assert "格口满袋</option>" not in picker  # the city's chute_full is overridden here
    stop_id = re.search(r'data-stop="(\d+)"', losses)[1]
    head.post(
        f"/p/sorter/losses?{Q}",
        data={"csrf_token": head.csrf, "stop_id": stop_id, "reason_code": "net"},
    )
    after = page_text(head.get(f"/p/sorter/losses?{Q}").get_data(as_text=True))
    assert "网络中断" in after  # the Pareto and the stops name the inherited reason
    # the station head reads the catalogue but gets no form
    page = head.get("/p/sorter/reasons").get_data(as_text=True)
    assert "网络中断" in page_text(page) and 'data-edit="label"' not in page
    head.post("/lang", data={"csrf_token": head.csrf, "lang": "en"})
    en = page_text(head.get("/p/sorter/reasons").get_data(as_text=True))
    assert "Inherited from Zhengzhou" in en and "Network down" in en


def test_sorter_0005_moves_a_stations_reasons_to_its_unit(po_app, empty_db):
    from alembic import command

    registry = po_app.extensions["postalops.plugins"]
    # migrations only up to sorter_0004: the row-level-security step of `migrate.upgrade` is
    # built from today's models (unit_code), which that schema does not have yet
    with empty_db.engine.begin() as conn:
        command.upgrade(migrate.alembic_config(registry, conn), "sorter_0004")
    with empty_db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO sorter_reason (tenant_code, code, name_zh, name_en, loss, active) "
                "VALUES (:t, 'chute_full', '格口满袋', 'Chute full', 'small_stops', :a)"
            ),
            {"t": JINSHUI, "a": True},
        )
    migrate.upgrade(empty_db, registry)
    empty_db.engine.dispose()
    columns = {c["name"] for c in sa.inspect(empty_db.engine).get_columns("sorter_reason")}
    assert "unit_code" in columns and "tenant_code" not in columns
    with empty_db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT unit_code, code, loss FROM sorter_reason")).all()
    assert [tuple(r) for r in rows] == [(JINSHUI, "chute_full", "small_stops")]
    if empty_db.engine.dialect.name == "postgresql":  # inherited configuration's policies
        with empty_db.engine.connect() as conn:
            policies = conn.execute(
                sa.text("SELECT policyname FROM pg_policies WHERE tablename = 'sorter_reason'")
            ).scalars()
            assert sorted(policies) == ["unit_scope", "unit_scope_read"]
