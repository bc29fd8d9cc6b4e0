"""The README stays true: every setting the code reads is in its configuration table."""

from __future__ import annotations

import re
from pathlib import Path

from postalops.config import SETTINGS

ROOT = Path(__file__).resolve().parents[1]


def test_readme_names_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text


def test_every_setting_read_by_the_code_is_documented():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    read = set()
    for path in list((ROOT / "core").rglob("*.py")) + list((ROOT / "dashboards").rglob("*.py")):
        read.update(re.findall(r"\"(POSTALOPS_[A-Z0-9_]+)\"", path.read_text(encoding="utf-8")))
    assert read <= set(SETTINGS), sorted(read - set(SETTINGS))
    for name in SETTINGS:
        assert f"`{name}`" in text, name


def test_demo_users_are_listed(po_app):
    from postalops.demo import demo_users

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    users = demo_users(po_app.extensions["postalops.plugins"])
    assert len({u for u, _, _ in users}) == len(users), "two demo users share a login"
    for username, _, _ in users:
        assert f"`{username}`" in text, username
