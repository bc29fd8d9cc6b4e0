"""The plugin contract: hookspecs documented, entry-point discovery with no core change."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from postalops import hookspecs

ROOT = Path(__file__).resolve().parents[1]


def spec_signatures() -> dict[str, str]:
    out = {}
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("postalops_"):
            out[name] = f"{name}({', '.join(inspect.signature(fn).parameters)})"
    return out


def documented_signatures() -> dict[str, str]:
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    return {
        m.group(1): m.group(0)[4:].strip()
        for m in re.finditer(r"^### (postalops_\w+)\(([^)]*)\)\s*$", text, re.M)
    }


def test_every_hookspec_is_documented_with_its_signature():
    specs, docs = spec_signatures(), documented_signatures()
    assert specs, "no hookspecs found"
    missing = sorted(set(specs) - set(docs))
    assert not missing, f"hooks missing from docs/plugins.md: {missing}"
    wrong = {k: (specs[k], docs[k]) for k in specs if docs[k] != specs[k]}
    assert not wrong, f"documented with another signature: {wrong}"
    stale = sorted(set(docs) - set(specs))
    assert not stale, f"documented hooks that do not exist: {stale}"


def test_every_hookspec_has_a_docstring_with_when_and_what():
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("postalops_"):
            doc = inspect.getdoc(fn) or ""
            assert "Called" in doc or "Cross-plugin" in doc, name
            assert "return" in doc.lower(), name


def test_builtin_features_use_the_same_manager(po_app):
    reg = po_app.extensions["postalops.plugins"]
    assert reg.plugins["core"].status == "loaded" and reg.is_builtin("core")
    assert reg.plugins["dashboards"].status == "loaded" and reg.is_builtin("dashboards")
    assert "core.probe" in po_app.extensions["postalops.jobs"].specs


def test_pip_installed_plugin_is_discovered_without_core_change(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(ROOT / "tests" / "fixtures" / "postalops-hello"),
        ],
        check=True,
    )
    env = dict(os.environ, PYTHONPATH=str(target), POSTALOPS_INSTANCE_PATH=str(tmp_path / "i"))
    env.pop("POSTALOPS_DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-m", "postalops.cli", "plugins", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    plugins = {p["key"]: p for p in json.loads(out.stdout)}
    assert plugins["hello"]["version"] == "0.3.0"
    assert plugins["hello"]["status"] == "loaded"
    assert plugins["hello"]["distribution"] == "postalops-hello"
    text = subprocess.run(
        [sys.executable, "-m", "postalops.cli", "plugins"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(r"^hello\s+0\.3\.0\s+loaded", text, re.M)
