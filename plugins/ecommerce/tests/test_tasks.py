"""Festival staff's workbench inbox (issue 14 §3), through the portal: the targets of a running
campaign behind the plan's even pace (days elapsed / campaign days), linking to the campaign's
figures; nothing before the campaign's second day, nor where no target is set, nor for viewers.

Campaign 919 of the ``world`` fixture: 1 Aug - 19 Sep 2022 (50 days); Hebei plans retail
1,000.00, group-buy 500.00 and 2 valid sessions (a session is valid from 3 paid orders)."""

from __future__ import annotations

import re

from .test_figures import push


def tasks(html: str) -> dict[str, str]:
    out = {}
    for key, body in re.findall(r'data-task="ecommerce:([a-z_]+)">(.*?)</li>', html, re.S):
        out[key] = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()
    return out


def test_marketing_sees_the_targets_behind_the_plans_pace(
    po_app, world, ecom, make_token, make_user, login, frozen_today
):
    # one valid session (3 orders of 300.00): retail 900.00 and group-buy 900.00 are ahead
    push(make_token("cn.hebei", "ecommerce.ingest"),
         [ecom.order(f"A{i}", price="300.00") for i in range(3)])  # fmt: skip
    ecom.refresh("cn.hebei")
    marketing = login(make_user("mk", "cn.hebei", "marketing"))

    frozen_today.set("2022-09-10")  # 40 of 50 days done: 80.0% of each target is due
    html = marketing.get("/").get_data(as_text=True)
    got = tasks(html)
    assert list(got) == ["targets_behind_plan"]
    assert got["targets_behind_plan"].startswith("919 电商节：指标落后于计划进度 1 项")
    assert "有效团购场次完成 50.0%（按进度应达 80.0%）" in got["targets_behind_plan"]
    assert "零售额" not in got["targets_behind_plan"]
    assert f'href="/p/ecommerce/?campaign={world["hebei"]}"' in html

    frozen_today.set("2022-08-01")  # the first day: nothing is due yet
    assert tasks(marketing.get("/").get_data(as_text=True)) == {}
    frozen_today.set("2022-09-20")  # the campaign is over
    assert tasks(marketing.get("/").get_data(as_text=True)) == {}

    frozen_today.set("2022-09-10")
    henan = login(make_user("mk_hn", "cn.henan", "marketing"))  # 818 has no targets
    assert tasks(henan.get("/").get_data(as_text=True)) == {}
    viewer = login(make_user("vw", "cn.hebei", "viewer"))
    assert tasks(viewer.get("/").get_data(as_text=True)) == {}
