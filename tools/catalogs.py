"""Kept for old habits: ``python tools/catalogs.py <package dir>...`` runs
``postalops catalogs update`` then ``compile`` for those packages (all when none is given).

The tool ships in the installed package now (``postalops/catalogs.py``): use
``postalops catalogs extract|update|compile [--plugin KEY]`` (docs/plugins.md, Translations).
"""

from __future__ import annotations

import sys
from pathlib import Path

from postalops.catalogs import Domain, compile_, installed_domains, update


def main(argv: list[str]) -> int:
    domains = installed_domains()
    if argv:
        wanted = {Path(a).resolve() for a in argv}
        chosen = [d for d in domains if d.root.resolve() in wanted]
        unknown = wanted - {d.root.resolve() for d in chosen}
        chosen += [Domain(p.name, p.name, p) for p in sorted(unknown)]
    else:
        chosen = domains
    status = 0
    for domain in chosen:
        lacking, _ = update(domain)
        lacking = compile_(domain) if domain.translations.is_dir() else lacking
        if lacking:
            status = 1
            print(f"{domain.key}: {len(lacking)} string(s) lack a Chinese translation:")
            for m in lacking:
                print(f"  {m}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
