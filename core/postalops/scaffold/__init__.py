"""``postalops plugins new KEY``: write a complete, installable plugin package.

The templates under ``template/`` (package data of the core, so the installed ``postalops`` has
them) are copied with ``@@key@@``, ``@@dist@@``, ``@@name_zh@@``, ``@@name_en@@`` and ``@@date@@``
replaced, in file names too; ``.tmpl`` is dropped. The catalogues are compiled, so the new
package's tests pass right after ``pip install -e``. The anatomy it writes is the one every
plugin follows (docs/plugins.md, "Anatomy").
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from ..errors import Conflict, ValidationError

TEMPLATE = Path(__file__).parent / "template"
KEY = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
RESERVED = {"core", "dashboards", "api", "admin", "static"}


def check_key(key: str) -> None:
    """A plugin key: lower-case letters, digits and ``_``, 2-31 characters, not a core name."""
    if not KEY.match(key) or key in RESERVED:
        raise ValidationError(
            f"invalid plugin key {key!r}",
            details=[
                {
                    "field": "key",
                    "message": "2-31 lower-case letters, digits or _, starting with a letter"
                    + (f"; {key!r} is reserved" if key in RESERVED else ""),
                }
            ],
        )


def values(key: str, name_zh: str | None = None, name_en: str | None = None) -> dict[str, str]:
    en = name_en or key.replace("_", " ").capitalize()
    return {
        "@@key@@": key,
        "@@dist@@": "postalops-" + key.replace("_", "-"),
        "@@name_zh@@": name_zh or en,
        "@@name_en@@": en,
        "@@date@@": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
    }


def _fill(text: str, subs: dict[str, str]) -> str:
    for placeholder, value in subs.items():
        text = text.replace(placeholder, value)
    return text


def render(
    key: str, target: str | Path, *, name_zh: str | None = None, name_en: str | None = None
) -> list[Path]:
    """Write the package for plugin ``key`` into ``target`` (created; must be empty or new).
    Returns the files written, compiled catalogues included."""
    check_key(key)
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise Conflict(
            f"{target} already exists and is not empty",
            details=[{"field": "dir", "message": "choose a new or empty folder"}],
        )
    subs = values(key, name_zh, name_en)
    written: list[Path] = []
    for src in sorted(TEMPLATE.rglob("*.tmpl")):
        rel = _fill(str(src.relative_to(TEMPLATE)), subs)[: -len(".tmpl")]
        out = target / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(_fill(src.read_text(encoding="utf-8"), subs), encoding="utf-8")
        written.append(out)
    written += compile_catalogues(target / f"postalops_{key}")
    return written


def compile_catalogues(package: Path) -> list[Path]:
    """Bring the new package's catalogues in line with its code, as ``postalops catalogs update``
    and ``compile --plugin <key>`` would (the templates carry the Chinese), and compile them."""
    from .. import catalogs

    domain = catalogs.Domain(package.name.removeprefix("postalops_"), package.name, package)
    lacking, _dropped = catalogs.update(domain)
    lacking += catalogs.compile_(domain)
    if lacking:  # a template's string without its Chinese: a bug of the scaffold itself
        raise RuntimeError(f"scaffold catalogue lacks Chinese for {sorted(set(lacking))}")
    return [domain.po(lang).with_suffix(".mo") for lang in catalogs.LANGS]
