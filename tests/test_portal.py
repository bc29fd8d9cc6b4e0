"""The portal shell: Chinese first, English switch, nav from enabled plugins, admin pages,
local assets only, and complete translation catalogues."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
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


def catalogue_dirs() -> list[tuple[Path, Path]]:
    """(source root, translations folder) for the core and every plugin shipping catalogues."""
    out = [(ROOT / "core" / "postalops", ROOT / "core" / "postalops" / "translations")]
    for t in sorted((ROOT / "plugins").glob("*/postalops_*/translations")):
        out.append((t.parent, t))
    return out


@pytest.mark.parametrize(
    ("source", "translations"),
    catalogue_dirs(),
    ids=lambda p: p.parent.name if p.name == "translations" else p.name,
)
def test_catalogues_are_complete_and_compiled(source, translations):
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    ids = {
        msg[2] if isinstance(msg[2], str) else msg[2][0]
        for msg in extract_from_dir(
            str(source), method_map, keywords={"_": None, "gettext": None, "lazy_gettext": None}
        )
    }
    ids.discard("")
    for lang in ("zh_CN", "en"):
        folder = translations / lang / "LC_MESSAGES"
        if not folder.exists() and lang == "zh_CN":
            folder = translations / "zh" / "LC_MESSAGES"
        po = read_po((folder / "messages.po").open("rb"))
        strings = {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in po if m.id}
        missing = sorted(i for i in ids if not strings.get(i))
        assert not missing, f"{translations} {lang} lacks: {missing[:10]}"
        mo = read_mo((folder / "messages.mo").open("rb"))
        stale = [m.id for m in po if m.id and m.string and mo.get(m.id) is None]
        assert not stale, f"{folder}/messages.mo is older than messages.po: {stale[:5]}"
