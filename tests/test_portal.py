"""The portal shell: Chinese first, English switch, nav from enabled plugins, admin pages,
local assets only, and complete translation catalogues."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
ZZ = "cn.henan.zhengzhou"


def test_login_page_is_chinese_by_default(po_app, tenants):
    html = po_app.test_client().get("/login").get_data(as_text=True)
    assert "登录邮政运营平台" in html and 'lang="zh-CN"' in html


def test_english_switch_changes_the_shell(po_app, make_user, login):
    c = login(make_user("zz", ZZ, "admin"))
    assert "退出登录" in c.get("/").get_data(as_text=True)
    c.post("/lang", data={"lang": "en", "csrf_token": c.csrf, "next": "/"})
    html = c.get("/").get_data(as_text=True)
    assert "Log out" in html and "退出登录" not in html
    c.post("/lang", data={"lang": "zh_CN", "csrf_token": c.csrf, "next": "/"})
    assert "退出登录" in c.get("/").get_data(as_text=True)


def test_admin_pages_render_for_admin_and_are_forbidden_to_ops(po_app, make_user, login):
    admin = login(make_user("root", "cn", "admin"))
    for url in ("/admin/plugins", "/admin/users", "/admin/tokens", "/admin/audit", "/jobs"):
        assert admin.get(url).status_code == 200, url
    ops = login(make_user("ops1", ZZ, "ops"))
    for url in ("/admin/plugins", "/admin/users", "/admin/tokens", "/admin/audit"):
        assert ops.get(url).status_code == 403, url
    assert ops.get("/jobs").status_code == 200


def test_token_secret_is_shown_once_on_the_page(po_app, make_user, login):
    admin = login(make_user("root", "cn", "admin"))
    html = admin.post(
        "/admin/tokens",
        data={
            "name": "e-shop",
            "unit": "cn.hebei",
            "days": "30",
            "permissions": ["core.jobs.view"],
            "csrf_token": admin.csrf,
        },
    ).get_data(as_text=True)
    secret = re.search(r'id="token-secret".*?<code>(po_[^<]+)</code>', html, re.S).group(1)
    assert secret not in admin.get("/admin/tokens").get_data(as_text=True)


def test_unit_switcher_lists_only_the_subtree(po_app, make_user, login):
    c = login(make_user("hn", "cn.henan", "ops"))
    html = c.get("/").get_data(as_text=True)
    options = re.findall(r'<option value="([a-z.]+)"', html)
    assert options and all(o.startswith("cn.henan") for o in options)
    assert "cn.hebei" not in options


def test_anonymous_is_sent_to_login(po_app, tenants):
    resp = po_app.test_client().get("/jobs")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_pages_reference_no_external_assets(po_app, make_user, login):
    c = login(make_user("root", "cn", "admin"))
    for url in ("/", "/jobs", "/admin/plugins", "/api/v1/docs", "/dashboards/"):
        html = c.get(url).get_data(as_text=True)
        external = re.findall(r'(?:src|href)="(https?://[^"]+)"', html)
        assert external == [], (url, external)


def test_swagger_ui_assets_are_served_locally(po_app, make_user, login):
    c = login(make_user("root", "cn", "admin"))
    assert c.get("/api/v1/docs/assets/swagger-ui-bundle.js").status_code == 200
    spec = c.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/jobs/{job_id}" in spec["paths"]
    assert (
        spec["paths"]["/api/v1/users"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]["$ref"]
        == "#/components/schemas/CoreUserIn"
    )


def test_healthz_is_liveness_and_readyz_reports_database_and_broker(po_app):
    assert po_app.test_client().get("/healthz").json["status"] == "ok"
    body = po_app.test_client().get("/readyz").json
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"]["status"] == "ok"


def _domains() -> list:
    from postalops.catalogs import installed_domains

    return installed_domains()


@pytest.mark.parametrize("domain", _domains(), ids=lambda d: d.key)
def test_catalogues_are_complete_and_compiled(domain):
    """Every installed plugin's domain (and the core's): each msgid of its code, with its
    context, translated (not fuzzy) in zh_CN and en, and the .mo compiled from the .po."""
    from postalops.catalogs import extract

    ids = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in extract(domain) if m.id}
    if not ids and not domain.translations.exists():
        return  # nothing to translate
    for lang in ("zh_CN", "en"):
        folder = domain.translations / lang / "LC_MESSAGES"
        po = read_po((folder / "messages.po").open("rb"), locale=lang)
        done = {
            (m.id if isinstance(m.id, str) else m.id[0], m.context)
            for m in po
            if m.id and not m.fuzzy and all(m.string if isinstance(m.string, tuple) else [m.string])
        }
        missing = sorted(str(i) for i in ids - done)
        assert not missing, f"{domain.translations} {lang} lacks: {missing[:10]}"
        mo = read_mo((folder / "messages.mo").open("rb"))
        stale = [
            m.id
            for m in po
            if m.id and m.string and not m.fuzzy and mo.get(m.id, m.context) is None
        ]
        assert not stale, f"{folder}/messages.mo is older than messages.po: {stale[:5]}"
