"""Keep a package's message catalogues complete: ``python tools/catalogs.py <package dir>...``.

For each package (``core/postalops``, ``plugins/payroll/postalops_payroll`` ...) it extracts the
strings from ``*.py`` and ``templates/**.html``, updates ``translations/zh_CN`` (keeping existing
translations; new strings are listed as missing) and ``translations/en`` (English msgids are the
English text), then compiles both. Exit status 1 when a Chinese translation is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}


def extract(package: Path) -> Catalog:
    template = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(
        str(package), METHODS, keywords=KEYWORDS
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def existing(folder: Path, lang: str) -> Catalog | None:
    for name in (lang, lang.split("_")[0]):
        po = folder / name / "LC_MESSAGES" / "messages.po"
        if po.exists():
            return read_po(po.open("rb"), locale=lang)
    return None


def update(package: Path) -> list[str]:
    folder = package / "translations"
    template = extract(package)
    missing: list[str] = []
    for lang in ("zh_CN", "en"):
        old = existing(folder, lang)
        cat = Catalog(locale=lang, project=package.name)
        for msg in template:
            if not msg.id:
                continue
            key = msg.id if isinstance(msg.id, str) else msg.id[0]
            if lang == "en":
                string = msg.id
            else:
                prev = old.get(msg.id) if old is not None else None
                string = prev.string if prev is not None else ""
                if not string:
                    missing.append(key)
            cat.add(msg.id, string, msg.locations, auto_comments=msg.auto_comments)
        out = folder / lang / "LC_MESSAGES"
        out.mkdir(parents=True, exist_ok=True)
        with (out / "messages.po").open("wb") as f:
            write_po(f, cat, width=100, sort_output=True)
        with (out / "messages.mo").open("wb") as f:
            write_mo(f, cat)
    legacy = folder / "zh"
    if legacy.is_dir():  # a workaround copy from before the core found zh_CN catalogues
        import shutil

        shutil.rmtree(legacy)
        print(f"{package}: removed translations/zh (zh_CN is the catalogue now)")
    return missing


def main(argv: list[str]) -> int:
    status = 0
    for arg in argv:
        missing = update(Path(arg))
        if missing:
            status = 1
            print(f"{arg}: {len(missing)} string(s) lack a Chinese translation:")
            for m in missing:
                print(f"  {m}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
