"""The payroll checker's workbench inbox (issue 14 §3), through the portal: a draft run to
approve links to its run page; whoever ran the draft is not asked to approve it (maker-checker);
an approved run and a courier leave the inbox empty."""

from __future__ import annotations

import re

from postalops_payroll.models import PayrollRun
from postalops_payroll.payroll_run import approve, run_payroll
from postalops_payroll.period import Month

ZZ = "cn.henan.zhengzhou"
SEP = Month(2022, 9)


def tasks(html: str) -> dict[str, str]:
    out = {}
    for key, body in re.findall(r'data-task="payroll:([a-z_]+)">(.*?)</li>', html, re.S):
        out[key] = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()
    return out


def test_a_checker_sees_the_draft_run_to_approve_and_its_maker_does_not(
    september_events, make_user, login, as_unit
):
    maker = make_user("hr_maker", ZZ, "payroll_hr")
    checker = make_user("hr_checker", ZZ, "payroll_hr")
    with as_unit(ZZ) as s:
        run = run_payroll(s, ZZ, SEP, f"user:{maker.username}")
        s.commit()
        run_id, total = run.id, run.payroll_total
    html = login(checker).get("/").get_data(as_text=True)
    got = tasks(html)
    assert list(got) == ["approve_run"]
    assert f'href="/p/payroll/runs/{run_id}"' in html
    assert got["approve_run"].startswith("审批郑州2022年9月工资 草稿：3 人，合计 ¥")
    assert f"{total:,.2f}" in got["approve_run"]
    # maker-checker is on by default: the maker is not asked to approve their own draft
    assert tasks(login(maker).get("/").get_data(as_text=True)) == {}
    # a courier holds no approval right
    courier = make_user("c1", ZZ, "courier")
    assert tasks(login(courier).get("/").get_data(as_text=True)) == {}

    with as_unit(ZZ) as s:
        approve(s, ZZ, SEP, f"user:{checker.username}")
        s.commit()
        assert s.get(PayrollRun, run_id).status == "approved"
    assert tasks(login(checker).get("/").get_data(as_text=True)) == {}
