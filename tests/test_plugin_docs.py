"""docs/plugins.md cannot drift from the code (issue 18 §8): every public name of the plugin
surface with its signature and an example, the public modules, the fixtures, the roles, the core
permissions, the KPI unit vocabulary and the roll-up rule."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from postalops import formatting, surface

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
ZZ = "cn.henan.zhengzhou"


def section(title: str) -> str:
    start = DOC.index(f"\n## {title}")
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end != -1 else None]


def documented() -> dict[str, dict[str, str]]:
    """``{module: {name: the entry's first code span}}`` of the Reference section."""
    out: dict[str, dict[str, str]] = {}
    module = None
    for line in section("Reference: every public name").splitlines():
        head = re.match(r"^### `([\w.]+)`\s*$", line)
        if head:
            module = head.group(1)
            out[module] = {}
            continue
        entry = re.match(r"^- `([^`]+)`", line)
        if entry and module:
            sig = entry.group(1)
            name = re.match(r"[A-Za-z_]\w*", sig).group(0)
            assert name not in out[module], f"{module}.{name} documented twice"
            out[module][name] = sig
            spans = re.findall(r"`[^`]+`", line)
            assert "Example: `" in line and len(spans) >= 2, f"{module}.{name}: no example"
    return out


def table(title: str, first_header: str) -> list[list[str]]:
    """Rows of the markdown table under ``title`` whose header starts with ``first_header``."""
    text = section(title)
    start = text.index(f"| {first_header} |")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def test_every_public_module_declares_its_names():
    for module in surface.PUBLIC_MODULES:
        mod = importlib.import_module(module)
        assert isinstance(getattr(mod, "__all__", None), list | tuple), f"{module}: no __all__"
        missing = [n for n in mod.__all__ if not hasattr(mod, n)]
        assert not missing, f"{module}.__all__ names what it does not define: {missing}"


def test_the_surface_table_lists_exactly_the_public_modules():
    rows = table("The public surface", "module")
    listed = [re.sub(r"`", "", r[0]) for r in rows]
    assert sorted(listed) == sorted(surface.PUBLIC_MODULES)


def test_every_public_name_is_documented_with_its_signature():
    code, docs = surface.reference(), documented()
    assert set(docs) == set(code), (
        f"modules missing from the reference: {sorted(set(code) - set(docs))}; "
        f"not public: {sorted(set(docs) - set(code))}"
    )
    problems = []
    for module, names in code.items():
        for name, sig in names.items():
            if name not in docs[module]:
                problems.append(f"missing: {module}: - `{sig}`")
            elif docs[module][name] != sig:
                problems.append(f"{module}.{name}: documented `{docs[module][name]}`, code `{sig}`")
        problems += [f"not public: {module}.{n}" for n in docs[module] if n not in names]
    assert not problems, "\n".join(problems) + "\n(python -m postalops.surface prints the code's)"


def test_the_fixtures_table_lists_every_fixture():
    import postalops.testing as testing

    fixtures = {n for n in testing.__all__ if surface.is_fixture(getattr(testing, n))}
    rows = table("Testing", "fixture")
    listed = {re.match(r"`(\w+)", r[0]).group(1) for r in rows}
    assert listed == fixtures, (sorted(fixtures - listed), sorted(listed - fixtures))


def test_the_kpi_unit_table_is_the_vocabulary():
    rows = {r[0].strip("`"): r for r in table("Metrics", "unit")}
    assert set(rows) == set(formatting.UNITS)
    for key, u in formatting.UNITS.items():
        assert rows[key][1] == u.kind and rows[key][2] == (u.zh or "—"), key
        for word in u.en:
            assert word in rows[key][3], key


def test_the_roles_and_core_permissions_tables_match_the_installed_plugins(po_app):
    reg = po_app.extensions["postalops.plugins"]
    roles = {
        (r.name, key) for key, found in reg.call_each("postalops_roles", boot=True) for r in found
    }
    rows = table("Roles and core permissions", "role")
    assert {(r[0].strip("`"), r[1]) for r in rows} == roles
    by_key = {
        (r.name, key): r
        for key, found in reg.call_each("postalops_roles", boot=True)
        for r in found
    }
    for row in rows:
        role = by_key[(row[0].strip("`"), row[1])]
        grants = ", ".join(f"`{g}`" for g in role.grants) or "—"
        assert row[2:] == [role.label_zh, role.label_en, grants], row
    perms = {p.name: p for p in reg.permissions() if p.name.startswith("core.")}
    text = section("Roles and core permissions")
    start = text.index("| permission |")
    listed = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        listed[cells[0].strip("`")] = cells
    assert set(listed) == set(perms)
    for name, p in perms.items():
        held = ", ".join(f"`{r}`" for r in p.roles) or "admin only"
        assert listed[name][1:] == [p.label_zh, p.label_en, held], name


def test_a_parent_shows_no_kpis_of_a_plugin_enabled_only_on_a_child(enable_plugin, token_for):
    """The roll-up rule, as the Metrics section states it."""
    enable_plugin("payroll", "cn", on=False)
    enable_plugin("payroll", ZZ)
    api = token_for("viewer", "cn")
    henan = api.get("/api/v1/metrics?tenant=cn.henan&from=2022-09-01&to=2022-09-30").get_json()
    city = api.get(f"/api/v1/metrics?tenant={ZZ}&from=2022-09-01&to=2022-09-30").get_json()
    assert "payroll" not in henan["metrics"]
    assert "payroll" in city["metrics"]
    assert "parent unit therefore shows no KPIs of a\nplugin enabled only on a child" in DOC
