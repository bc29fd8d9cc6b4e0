"""Where a unit sits in the tree, read from its code path (``cn.hebei.shijiazhuang.xx``)."""

from __future__ import annotations


def province_of(code: str) -> str:
    """``cn.hebei.shijiazhuang`` -> ``cn.hebei``; the group itself has no province."""
    parts = code.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else ""


def city_of(code: str) -> str:
    """``cn.hebei.shijiazhuang.xx`` -> ``cn.hebei.shijiazhuang``; '' above city level."""
    parts = code.split(".")
    return ".".join(parts[:3]) if len(parts) >= 3 else ""


def children_from_codes(root: str, codes: list[str]) -> dict[str, list[str]]:
    """Parent -> children links implied by ``codes`` below ``root`` (intermediate units included)."""
    children: dict[str, set[str]] = {}
    for code in codes:
        while code != root and code.startswith(root + "."):
            parent = code.rsplit(".", 1)[0]
            children.setdefault(parent, set()).add(code)
            code = parent
    return {k: sorted(v) for k, v in children.items()}
