"""docs/ui.md's complete example page keeps working: the plugin is built from the guide's code
blocks and driven over HTTP (list, form errors in place, KPI cards, confirmation, export).

It runs in a subprocess on its own SQLite database, so the example's table never joins this
session's models (the migration tests compare those with the migrations)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DRIVER = textwrap.dedent(
    '''
    import csv, io, re, sys
    from pathlib import Path

    from sqlmodel import SQLModel

    from postalops.app import create_app
    from postalops.auth import create_user
    from postalops.testing import PortalClient, _cheap_password_hashing, build_tree, make_settings
    import postalops_claims.plugin as plugin
    from postalops_claims.models import Claim

    _cheap_password_hashing()
    tmp = Path(sys.argv[1])
    app = create_app(make_settings(tmp), extra_plugins=(plugin,), entry_points=False)
    db = app.extensions["postalops.db"]
    SQLModel.metadata.create_all(db.engine)
    build_tree(app)  # enables every business plugin at the root, claims included
    with db.transaction(None) as s:
        create_user(s, app.extensions["postalops.plugins"], username="zz", password="pw-123456789",
                    unit_code="cn.henan.zhengzhou", roles=("ops",))
        create_user(s, app.extensions["postalops.plugins"], username="root", password="pw-123456789",
                    unit_code="cn", roles=("admin",))
    c = PortalClient(app.test_client())
    assert c.login("zz", "pw-123456789").status_code == 302

    html = c.get("/p/claims/").get_data(as_text=True)
    assert 'data-nav="claims"' in html and "No claim has been registered yet." in html

    bad = c.post("/p/claims/", data={"waybill": "", "amount": "12.345", "csrf_token": c.csrf})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'aria-describedby="f-waybill-error"' in html and 'id="f-amount-error"' in html
    assert 'value="12.345"' in html  # what was typed is kept

    for waybill, amount in (("EA001", "120.50"), ("EA002", "80")):
        resp = c.post("/p/claims/", data={"waybill": waybill, "amount": amount, "csrf_token": c.csrf})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    html = c.get("/p/claims/").get_data(as_text=True)
    assert "2 件" in html and "¥200.50" in html  # KPI cards through kpi_value
    assert "待审核" in html and "郑州" in html  # status and unit by name
    assert html.count("data-confirm=") == 2

    claim_id = re.search(r'action="/p/claims/(\\d+)/reject"', html).group(1)
    page = c.post(f"/p/claims/{claim_id}/reject", data={"csrf_token": c.csrf})
    assert page.status_code == 200 and "will be rejected" in page.get_data(as_text=True)
    done = c.post(f"/p/claims/{claim_id}/reject", data={"confirmed": "1", "csrf_token": c.csrf})
    assert done.status_code == 302
    html = c.get("/p/claims/?status=rejected").get_data(as_text=True)
    assert "已拒绝" in html and "共 1 条" in html

    rows = list(csv.reader(io.StringIO(
        c.get("/p/claims/?sort=amount&export=csv").data.decode("utf-8-sig"))))
    assert rows[0] == ["登记时间", "运单号", "单位", "单位代码", "赔付金额", "状态"], rows[0]
    assert [r[4] for r in rows[1:]] == ["80.00", "120.50"], rows

    admin = PortalClient(app.test_client())
    assert admin.login("root", "pw-123456789").status_code == 302
    assert "拒绝理赔" in admin.get("/admin/audit").get_data(as_text=True)
    app.extensions["postalops.jobs"].stop_workers()
    print("example ok")
    '''
)


def example_files() -> dict[str, str]:
    """The guide's example: python blocks headed ``# postalops_claims/<file>`` and the jinja
    block headed ``{# postalops_claims/templates/... #}``."""
    text = (ROOT / "docs" / "ui.md").read_text(encoding="utf-8")
    files = {}
    for _lang, body in re.findall(r"```(python|jinja)\n(.*?)```", text, re.S):
        first = body.splitlines()[0]
        m = re.match(r"(?:# |\{# )(postalops_claims/\S+)", first)
        if m:
            files[m.group(1)] = body
    return files


def test_the_guides_example_page_works(tmp_path):
    files = example_files()
    assert set(files) == {
        "postalops_claims/models.py",
        "postalops_claims/views.py",
        "postalops_claims/plugin.py",
        "postalops_claims/templates/claims/index.html",
    }
    for name, body in files.items():
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    (tmp_path / "src" / "postalops_claims" / "__init__.py").write_text("")
    (tmp_path / "driver.py").write_text(DRIVER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTALOPS_")}
    env["PYTHONPATH"] = str(tmp_path / "src")
    env["POSTALOPS_INSTANCE_PATH"] = str(tmp_path / "instance")
    out = subprocess.run(
        [sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "instance")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert "example ok" in out.stdout
