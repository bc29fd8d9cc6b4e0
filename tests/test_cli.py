"""The postalops CLI: metrics contract, users, tokens, units and bad input (exit 2, JSON)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from postalops.cli import main
from postalops.models import OrgUnit, User
from postalops.testing import count_rows


@pytest.fixture
def run(po_app, tenants, monkeypatch):
    settings = po_app.extensions["postalops.settings"]
    monkeypatch.setenv("POSTALOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("POSTALOPS_INSTANCE_PATH", str(settings.instance_path))

    def invoke(*args, input=None):
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


def test_metrics_json_follows_the_contract(run):
    result = run(
        "metrics", "--tenant", "cn.henan", "--from", "2022-08-17", "--to", "2022-08-31", "--json"
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert (body["tenant"], body["from"], body["to"]) == ("cn.henan", "2022-08-17", "2022-08-31")
    assert isinstance(body["metrics"], dict)
    for kpis in body["metrics"].values():
        for entry in kpis.values():
            assert {"value", "unit", "label_zh", "label_en"} <= set(entry)


def test_metrics_bad_input_exits_2_with_json_error(run):
    result = run(
        "metrics", "--tenant", "cn.nowhere", "--from", "2022-08-17", "--to", "2022-08-31", "--json"
    )
    assert result.exit_code == 2
    err = json.loads(result.stderr or result.output.splitlines()[-1])
    assert err["error"]["details"][0]["field"] == "tenant"
    bad_date = run("metrics", "--tenant", "cn", "--from", "17/08/2022", "--to", "2022-08-31")
    assert bad_date.exit_code == 2 and "from" in bad_date.output


def test_users_create_and_refusals(run, po_app):
    ok = run(
        "users",
        "create",
        "ops9",
        "--unit",
        "cn.henan",
        "--role",
        "ops",
        "--password",
        "long-enough-9",
    )
    assert ok.exit_code == 0, ok.output
    before = count_rows(po_app, User)
    bad = run(
        "users",
        "create",
        "ops10",
        "--unit",
        "cn.nowhere",
        "--role",
        "wizard",
        "--password",
        "long-enough-9",
    )
    assert bad.exit_code == 2
    fields = {d["field"] for d in json.loads(bad.output.splitlines()[-1])["error"]["details"]}
    assert fields == {"unit", "roles"}
    assert count_rows(po_app, User) == before


def test_tokens_create_prints_a_working_secret(run, po_app):
    result = run(
        "tokens",
        "create",
        "--name",
        "sorter-1",
        "--unit",
        "cn.henan.zhengzhou",
        "--permission",
        "core.jobs.view",
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    resp = po_app.test_client().get("/api/v1/jobs", headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 200


def test_units_import_validates_every_row_first(run, po_app, tmp_path):
    good = tmp_path / "units.csv"
    good.write_text(
        "code,parent,name_zh,name_en,level\n"
        "cn.henan.luoyang,cn.henan,洛阳市分公司,Luoyang,city\n"
        "cn.henan.luoyang.laocheng,cn.henan.luoyang,老城揽投部,Laocheng,station\n",
        encoding="utf-8",
    )
    result = run("units", "import", str(good))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"added": 2, "updated": 0}
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "code,parent,name_zh,name_en,level\n"
        "cn.henan.anyang,cn.henan,安阳,Anyang,city\n"
        "cn.nowhere.x,cn.nowhere,某地,X,city\n"
        "cn.henan.hebi,cn.henan,鹤壁,Hebi,planet\n",
        encoding="utf-8",
    )
    before = count_rows(po_app, OrgUnit)
    result = run("units", "import", str(bad))
    assert result.exit_code == 2
    details = json.loads(result.output.splitlines()[-1])["error"]["details"]
    assert sorted(d["row"] for d in details) == [3, 4]
    assert count_rows(po_app, OrgUnit) == before


def test_plugins_lists_core_and_where_enabled(run):
    result = run("plugins", "--json")
    assert result.exit_code == 0
    rows = {r["key"]: r for r in json.loads(result.output)}
    assert rows["core"]["enabled_at"] == "always"
    for key, row in rows.items():
        if not row["builtin"] and row["status"] == "loaded":
            assert row["enabled_at"] == ["cn"], key
