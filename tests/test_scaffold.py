"""``postalops plugins new``: the whole path of a new plugin author (issue 18 §1).

Scaffold into a temporary folder, pip install it (editable) into an isolated environment that
sees this checkout's packages but not the other way round (so no other test ever sees the extra
plugin), ``postalops db upgrade`` there, run the plugin's own tests with that environment's
pytest, enable it for one city through the CLI, and see its API answer there and 404 in the
sibling city. Everything runs on a SQLite file of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from postalops.cli import main
from postalops.scaffold import TEMPLATE, render

ROOT = Path(__file__).resolve().parents[1]
KEY = "tickets_desk"
ZZ, KF = "cn.henan.zhengzhou", "cn.henan.kaifeng"

PROBE = textwrap.dedent(
    """
    import json
    from postalops.app import create_app
    from postalops.auth import create_token
    from postalops.tenancy import Scope

    app = create_app()
    reg, client, out = app.extensions["postalops.plugins"], app.test_client(), {}
    for unit in ("cn.henan.zhengzhou", "cn.henan.kaifeng"):
        with app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
            _, secret = create_token(s, reg, name="probe", unit_code=unit, created_by="test",
                                     permissions=("tickets_desk.view", "tickets_desk.manage"))
        hdr = {"Authorization": f"Bearer {secret}"}
        post = client.post("/api/v1/tickets_desk/items", headers=hdr,
                           json={"ref": "T-1", "title": "first", "amount": "9.90"})
        got = client.get("/api/v1/tickets_desk/items", headers=hdr)
        out[unit] = [post.status_code, got.status_code, (got.get_json() or {}).get("total")]
    doc = client.get("/api/v1/openapi.json").get_json()
    out["openapi"] = sorted(doc["paths"].get("/api/v1/tickets_desk/items", {}))
    app.extensions["postalops.jobs"].stop_workers()
    print(json.dumps(out))
    """
)


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTALOPS_")}
    env["POSTALOPS_INSTANCE_PATH"] = str(tmp / "instance")
    return env


def _isolated_python(venv: Path) -> Path:
    """A venv whose interpreter also sees this checkout's environment (a .pth that adds its
    site-packages, editable installs included); what is installed there stays there."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    shared = sysconfig.get_paths()["purelib"]
    Path(purelib, "postalops_shared.pth").write_text(
        f"import site; site.addsitedir({shared!r})\n", encoding="utf-8"
    )
    return python


def _run(args: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    t0 = time.monotonic()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    print(f"{time.monotonic() - t0:5.1f} s  {' '.join(str(a) for a in args[1:5])}")
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_a_new_plugin_goes_from_scaffold_to_answering_in_one_city(tmp_path):
    started = time.monotonic()
    pkg = tmp_path / "postalops-tickets-desk"
    result = CliRunner().invoke(
        main,
        ["plugins", "new", KEY, "--dir", str(pkg), "--name-zh", "投诉工单", "--name-en", "Tickets"],
    )
    assert result.exit_code == 0, result.output
    assert f"pip install -e {pkg}" in result.output
    assert (pkg / "postalops_tickets_desk" / "translations/zh_CN/LC_MESSAGES/messages.mo").exists()
    pyproject = (pkg / "pyproject.toml").read_text(encoding="utf-8")
    assert 'name = "postalops-tickets-desk"' in pyproject
    assert 'tickets_desk = "postalops_tickets_desk.plugin"' in pyproject

    # the generated code is lint-clean by its own configuration
    _run(
        [str(Path(sys.executable).parent / "ruff"), "check", "--config", "pyproject.toml", "."],
        os.environ.copy(),
        cwd=pkg,
    )

    env = _env(tmp_path)
    python = _isolated_python(tmp_path / "venv")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-e",
            str(pkg),
        ],
        env,
    )
    # installed there, and only there: this environment never sees the extra plugin
    entry_points = (
        "import importlib.metadata as m; "
        "print(sorted(e.name for e in m.entry_points(group='postalops.plugins')))"
    )
    assert "tickets_desk" in _run([str(python), "-c", entry_points], env)
    assert "tickets_desk" not in _run([sys.executable, "-c", entry_points], env)

    # its catalogues are complete as the core's catalogs command sees them, from there
    _run([str(python), "-m", "postalops.cli", "catalogs", "compile", "--plugin", KEY], env)
    _run([str(python), "-m", "postalops.cli", "db", "upgrade"], env)

    # the plugin's own tests pass at once, with that environment's pytest
    out = _run(
        [str(python), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests"], env, cwd=pkg
    )
    assert " passed" in out and "failed" not in out

    units = tmp_path / "units.csv"
    units.write_text(
        "code,parent,name_zh,name_en,level\n"
        "cn,,集团,Group,group\n"
        "cn.henan,cn,河南,Henan,province\n"
        f"{ZZ},cn.henan,郑州,Zhengzhou,city\n"
        f"{KF},cn.henan,开封,Kaifeng,city\n",
        encoding="utf-8",
    )
    _run([str(python), "-m", "postalops.cli", "units", "import", str(units)], env)
    _run([str(python), "-m", "postalops.cli", "plugins", "enable", KEY, "--unit", ZZ], env)
    import json

    answers = json.loads(_run([str(python), "-c", PROBE], env).splitlines()[-1])
    assert answers[ZZ] == [201, 200, 1]
    assert answers[KF] == [404, 404, None]
    assert answers["openapi"] == ["get", "post"]
    print(f"scaffold path: {time.monotonic() - started:.1f} s")


def test_the_scaffold_refuses_a_bad_key_and_a_folder_in_use(tmp_path):
    bad = CliRunner().invoke(main, ["plugins", "new", "Bad-Key", "--dir", str(tmp_path / "x")])
    assert bad.exit_code == 2 and '"field": "key"' in bad.output
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    again = CliRunner().invoke(main, ["plugins", "new", "fine", "--dir", str(used)])
    assert again.exit_code == 2 and "not empty" in again.output
    assert [p.name for p in used.iterdir()] == ["keep.txt"]


def test_every_template_is_package_data_of_the_core():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"scaffold/template/**/*"' in text
    names = {p.name for p in TEMPLATE.rglob("*.tmpl")}
    assert {"pyproject.toml.tmpl", "plugin.py.tmpl", "README.md.tmpl", "messages.po.tmpl"} <= names


def test_the_generated_catalogues_cover_every_string_of_the_package(tmp_path):
    from postalops import catalogs

    render("ledger", tmp_path / "p", name_zh="台账", name_en="Ledger")
    package = tmp_path / "p" / "postalops_ledger"
    domain = catalogs.Domain("ledger", "postalops_ledger", package)
    found = {m.id for m in catalogs.extract(domain) if m.id}
    assert "Register the item" in found and "Item registered." in found
    assert catalogs.missing(domain) == [] and catalogs.missing(domain, "en") == []
    with domain.po("zh_CN").open("rb") as f:
        from babel.messages.pofile import read_po

        assert read_po(f).get("Ledger").string == "台账"
