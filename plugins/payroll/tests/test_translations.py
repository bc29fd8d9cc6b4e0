"""Every user-facing string of the portal has its Chinese translation (Chinese is the default)."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

PACKAGE = Path(__file__).parents[1] / "postalops_payroll"
MESSAGES = PACKAGE / "translations" / "zh_CN" / "LC_MESSAGES"
CALL = re.compile(r"""_\(\s*"([^"]+)"\s*[,)]""")


def _msgids() -> set[str]:
    found: set[str] = set()
    for path in [*PACKAGE.glob("templates/**/*.html"), PACKAGE / "views.py"]:
        found |= set(CALL.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_portal_string_is_translated_to_chinese():
    with (MESSAGES / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id for m in catalog if m.id and m.string}
    missing = _msgids() - translated
    assert len(_msgids()) > 50
    assert not missing, sorted(missing)


def test_the_compiled_catalog_matches_the_source():
    with (MESSAGES / "messages.po").open("rb") as po, (MESSAGES / "messages.mo").open("rb") as mo:
        source = {m.id: m.string for m in read_po(po) if m.id}
        compiled = {m.id: m.string for m in read_mo(mo) if m.id}
    assert compiled == source
