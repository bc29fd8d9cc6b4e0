"""Loan product pages (issue 14 §2): the list, and create/edit with the credit policy by the role
that owns products, through the portal client: Chinese first, errors beside the fields."""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest
from postalops.models import AuditRecord
from postalops.testing import count_rows
from postalops_lending.models import Product
from sqlmodel import select

from .conftest import YINING

ILI = "cn.xinjiang.ili"


@pytest.fixture
def pm(ili, make_user, login):
    """The loan product manager of Ili (owns the products of Ili and its branches)."""
    return login(make_user("pm", ILI, "loan_product_manager"))


def form(client, **changes):
    data = {
        "csrf_token": client.csrf,
        "code": "xwed-tax-36",
        "name_zh": "小微E贷(税务模式·36期)",
        "name_en": "Micro E-loan, tax mode, 36 months",
        "tenant_code": YINING,
        "annual_rate": "4.35",
        "term_months": "36",
        "method": "equal_instalments",
        "day_count": "ACT/360",
        "allow_prepayment": "1",
        "cap": "800000",
        "factor": "4",
        "min_tax_paid": "10000",
        "min_line": "50000",
        "line_unit": "1000",
        "grade_A": "1.0",
        "grade_B": "0.8",
        "grade_M": "",
        "band1_months": "24",
        "band1_multiplier": "0.8",
        "band2_months": "36",
        "band2_multiplier": "1.0",
        "band3_months": "",
        "band3_multiplier": "",
    }
    data.update(changes)
    return data


def test_the_product_manager_creates_a_product_with_its_policy(po_app, pm, as_unit):
    empty = pm.get("/p/lending/products")
    assert empty.status_code == 200
    text = empty.get_data(as_text=True)
    assert "贷款产品" in text and "po-empty" in text  # the empty state, in Chinese
    new = pm.get("/p/lending/products/new")
    assert new.status_code == 200
    page = new.get_data(as_text=True)
    assert 'name="cap"' in page and 'name="band1_months"' in page and "授信政策" in page
    assert "等额本息" in page and "实际天数/360" in page

    r = pm.post("/p/lending/products/new", data=form(pm))
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    with as_unit(None) as s:
        p = s.exec(select(Product)).one()
    assert (p.code, p.tenant_code, p.annual_rate, p.term_months) == (
        "XWED-TAX-36",
        YINING,
        D("0.0435"),
        36,
    )
    assert p.method == "equal_instalments" and p.allow_prepayment and p.active
    assert p.policy["cap"] == "800000" and p.policy["factor"] == "4"
    assert p.policy["grade_multipliers"] == {"A": "1.0", "B": "0.8"}
    assert p.policy["tenure_bands"] == [[24, "0.8"], [36, "1.0"]]

    listed = pm.get("/p/lending/products").get_data(as_text=True)
    assert "XWED-TAX-36" in listed and "4.35%" in listed and "¥800,000.00" in listed
    assert "伊宁市支行" in listed and "等额本息" in listed and "在售" in listed
    visible = re.sub(r"<script.*?</script>|<[^>]+>", " ", listed, flags=re.S)
    for raw in ("equal_instalments", "ACT/360", YINING, "True", "true"):
        assert raw not in visible, raw  # no raw enum or unit code shown as text in zh

    pm.post("/lang", data={"lang": "en", "csrf_token": pm.csrf, "next": "/p/lending/products"})
    en = pm.get("/p/lending/products").get_data(as_text=True)
    assert "Loan products" in en and "Equal instalments" in en and "Yining branch" in en
    assert "Credit policy (tax mode)" in pm.get("/p/lending/products/new").get_data(as_text=True)


def test_a_bad_form_shows_each_error_beside_its_field_and_writes_nothing(po_app, pm):
    audits = count_rows(po_app, AuditRecord)
    r = pm.post(
        "/p/lending/products/new",
        data=form(
            pm,
            annual_rate="4,35%",
            cap="-5",
            band1_months="",
            band1_multiplier="",
            band2_months="",
            band2_multiplier="",
            name_zh="",
        ),
    )
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    for field in ("annual_rate", "cap", "band1_months", "name_zh"):
        assert f'id="f-{field}-error"' in page, field
        assert f'aria-describedby="f-{field}-error"' in page or f"f-{field}-error" in page
    assert 'value="4,35%"' in page  # what the user typed is kept
    assert "未保存" in page or "没有保存" in page
    assert count_rows(po_app, Product) == 0
    assert count_rows(po_app, AuditRecord) == audits

    # a code already used at the unit: the error is on the code field, nothing written
    assert pm.post("/p/lending/products/new", data=form(pm)).status_code == 302
    again = pm.post("/p/lending/products/new", data=form(pm))
    assert again.status_code == 422
    assert 'id="f-code-error"' in again.get_data(as_text=True)
    assert count_rows(po_app, Product) == 1


def test_the_product_manager_edits_terms_and_policy_audited(po_app, pm, as_unit):
    assert pm.post("/p/lending/products/new", data=form(pm)).status_code == 302
    with as_unit(None) as s:
        pid = s.exec(select(Product.id)).one()
    edit = pm.get(f"/p/lending/products/{pid}/edit")
    assert edit.status_code == 200
    page = edit.get_data(as_text=True)
    assert 'value="4.35"' in page and 'value="800000"' in page and "XWED-TAX-36" in page

    bad = pm.post(f"/p/lending/products/{pid}/edit", data=form(pm, grade_B="3"))
    assert bad.status_code == 422 and 'id="f-grade_B-error"' in bad.get_data(as_text=True)

    r = pm.post(
        f"/p/lending/products/{pid}/edit",
        data=form(pm, annual_rate="3.95", grade_B="0.7", cap="600000", active=""),
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    with as_unit(None) as s:
        p = s.get(Product, pid)
        rec = s.exec(
            select(AuditRecord).where(AuditRecord.action == "lending.product.update")
        ).one()
    assert p.annual_rate == D("0.0395") and not p.active
    assert p.policy["cap"] == "600000" and p.policy["grade_multipliers"]["B"] == "0.7"
    assert set(rec.after) == {"annual_rate", "policy", "active"}
    assert rec.before["annual_rate"] == "0.043500" or D(rec.before["annual_rate"]) == D("0.0435")
    assert "停售" in pm.get("/p/lending/products").get_data(as_text=True)


def test_other_roles_see_products_but_cannot_create_or_edit(
    po_app, ili, pm, make_user, login, as_unit
):
    assert pm.post("/p/lending/products/new", data=form(pm)).status_code == 302
    with as_unit(None) as s:
        pid = s.exec(select(Product.id)).one()
    officer = login(make_user("cm", YINING, "loan_officer"))
    listed = officer.get("/p/lending/products")
    assert listed.status_code == 200 and "XWED-TAX-36" in listed.get_data(as_text=True)
    assert "/p/lending/products/new" not in listed.get_data(as_text=True)
    assert officer.get("/p/lending/products/new").status_code == 403
    assert officer.get(f"/p/lending/products/{pid}/edit").status_code == 403
    r = officer.post("/p/lending/products/new", data=form(officer, code="OTHER"))
    assert r.status_code == 403
    r = officer.post(f"/p/lending/products/{pid}/edit", data=form(officer, annual_rate="1"))
    assert r.status_code == 403
    with as_unit(None) as s:
        assert s.get(Product, pid).annual_rate == D("0.0435")
    assert count_rows(po_app, Product) == 1


API = "/api/v1/lending/products"


def test_the_api_creates_and_edits_a_product_with_its_policy(po_app, ili, make_token, as_unit):
    owner = make_token(ILI, "lending.view", "lending.configure")
    body = {
        "code": "XWED-API",
        "name_zh": "小微E贷",
        "name_en": "Micro E-loan",
        "annual_rate": "0.0435",
        "term_months": 12,
        "tenant_code": YINING,
        "policy": {
            "cap": "800000.00",
            "factor": "4",
            "grade_multipliers": {"A": "1.0"},
            "tenure_bands": [[24, "0.8"]],
        },
    }
    r = owner.post(API, json={**body, "policy": {**body["policy"], "factor": 4}})
    assert r.status_code == 422 and _fields(r) == ["policy.factor"], r.get_json()
    r = owner.post(API, json={**body, "policy": {**body["policy"], "min_line": "900000"}})
    assert r.status_code == 422 and _fields(r) == ["policy.min_line"], r.get_json()
    r = owner.post(API, json={**body, "policy": {"grade_multipliers": {}}})
    assert r.status_code == 422 and _fields(r) == ["policy.grade_multipliers"], r.get_json()
    r = owner.post(API, json={**body, "policy": {"tenure_bands": [[36, "1"], [24, "0.8"]]}})
    assert r.status_code == 422 and _fields(r) == ["policy.tenure_bands"], r.get_json()
    assert count_rows(po_app, Product) == 0

    r = owner.post(API, json=body)
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert made["policy"]["cap"] == "800000.00" and made["policy"]["tenure_bands"] == [[24, "0.8"]]
    assert made["policy"]["grade_multipliers"] == {"A": "1.0"}

    url = f"{API}/{made['id']}"
    r = owner.patch(url, json={"policy": {"grade_multipliers": {"A": "1.0", "B": "3"}}})
    assert r.status_code == 422 and _fields(r) == ["policy.grade.B"], r.get_json()
    r = owner.patch(url, json={"annual_rate": "0.0395", "active": False})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["annual_rate"] == "0.0395" and r.get_json()["active"] is False
    assert r.get_json()["policy"]["cap"] == "800000.00"  # policy untouched when not given
    with as_unit(None) as s:
        rec = s.exec(
            select(AuditRecord).where(AuditRecord.action == "lending.product.update")
        ).one()
    assert set(rec.after) == {"annual_rate", "active"}

    viewer = make_token(ILI, "lending.view")
    assert viewer.patch(url, json={"annual_rate": "0.01"}).status_code == 403
    assert viewer.post(API, json={**body, "code": "X2"}).status_code == 403
    with as_unit(None) as s:
        assert s.get(Product, made["id"]).annual_rate == D("0.0395")


def _fields(resp) -> list[str]:
    return [d.get("field") for d in resp.get_json()["error"]["details"]]


def test_band_limits_and_a_used_code_read_in_chinese_beside_the_field(po_app, pm):
    r = pm.post(
        "/p/lending/products/new",
        data=form(pm, band1_months="601", band2_months="", band2_multiplier=""),
    )
    assert r.status_code == 422, r.status_code
    page = r.get_data(as_text=True)
    assert 'id="f-band1_months-error"' in page and "最多 600 个月" in page
    assert count_rows(po_app, Product) == 0
    assert pm.post("/p/lending/products/new", data=form(pm)).status_code == 302
    again = pm.post("/p/lending/products/new", data=form(pm)).get_data(as_text=True)
    assert "产品代码已被使用" in again and "already used" not in again


PROVISION_FIELDS = (
    "provision_general",
    "provision_special_mention",
    "provision_substandard",
    "provision_doubtful",
    "provision_loss",
)


def test_provision_rates_are_set_on_the_product_form_with_errors_beside_the_field(
    po_app, pm, as_unit
):
    page = pm.get("/p/lending/products/new").get_data(as_text=True)
    # the PBoC guideline shown by default, in percent: general 1, 关注 2, 次级 25, 可疑 50, 损失 100
    for name, value in zip(PROVISION_FIELDS, ("1", "2", "25", "50", "100"), strict=True):
        assert re.search(rf'name="{name}"[^>]*value="{value}"|value="{value}"[^>]*name="{name}"',
                         page), name  # fmt: skip
    assert "贷款损失准备" in page and "次级" in page and "损失" in page

    # a rate above 100 % and one that is not a number: 422, each beside its field, nothing saved
    bad = pm.post(
        "/p/lending/products/new",
        data=form(pm, provision_own="1", provision_substandard="120", provision_loss="全部"),
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'id="f-provision_substandard-error"' in html and 'id="f-provision_loss-error"' in html
    assert 'id="f-provision_general-error"' not in html
    assert 'value="120"' in html  # what was typed is kept
    assert count_rows(po_app, Product) == 0

    # the product's own rates: general 1.5 %, 次级 30 %, 损失 90 %, the others as shown
    r = pm.post(
        "/p/lending/products/new",
        data=form(
            pm,
            provision_own="1",
            provision_general="1.5",
            provision_special_mention="2",
            provision_substandard="30",
            provision_doubtful="50",
            provision_loss="90",
        ),
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    with as_unit(None) as s:
        p = s.exec(select(Product)).one()
        pid = p.id
        # 1.5 / 100 = 0.015; 30 / 100 = 0.3; 90 / 100 = 0.9
        assert p.accounting["provision"] == {
            "general": "0.015",
            "special": {
                "normal": "0",
                "special_mention": "0.02",
                "substandard": "0.3",
                "doubtful": "0.5",
                "loss": "0.9",
            },
        }
    edit = pm.get(f"/p/lending/products/{pid}/edit").get_data(as_text=True)
    assert re.search(r'name="provision_substandard"[^>]*value="30"', edit) or re.search(
        r'value="30"[^>]*name="provision_substandard"', edit
    )
    # unticked: the product follows the unit's settings again
    r = pm.post(f"/p/lending/products/{pid}/edit", data=form(pm, provision_own=""))
    assert r.status_code == 302
    with as_unit(None) as s:
        assert "provision" not in s.get(Product, pid).accounting
        rec = s.exec(
            select(AuditRecord)
            .where(AuditRecord.action == "lending.product.update")
            .order_by(AuditRecord.id.desc())
        ).first()
    assert rec is not None and rec.before["accounting"]["provision"]["general"] == "0.015"
