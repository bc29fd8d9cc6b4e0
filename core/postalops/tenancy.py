"""Tenant scope: which part of the org-unit tree a caller may see.

Org units are addressed by stable code paths (``cn.henan.zhengzhou``). A scope is one code; the
caller sees that unit and its subtree, never above or beside it. ``Scope.system()`` is for the
CLI, migrations and the demo builder only; HTTP callers always get a unit scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Scope",
    "ancestors",
    "in_subtree",
    "valid_code",
]


CODE_RE = re.compile(r"^[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)*$")


def valid_code(code: str) -> bool:
    """A unit code is dot-separated lowercase segments: ``cn.henan.zhengzhou``."""
    return bool(CODE_RE.match(code or ""))


def parent_code(code: str) -> str | None:
    return code.rsplit(".", 1)[0] if "." in code else None


def ancestors(code: str) -> list[str]:
    """The unit and its ancestors, nearest first: ``a.b.c`` -> ``[a.b.c, a.b, a]``."""
    parts = code.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def in_subtree(code: str, root: str) -> bool:
    """True when ``code`` is ``root`` or lies below it."""
    return code == root or code.startswith(root + ".")


@dataclass(frozen=True)
class Scope:
    """The part of the tree a session may touch. ``code=None`` with ``system=True`` sees all."""

    code: str | None
    system: bool = False

    @classmethod
    def system_scope(cls) -> Scope:
        return cls(code=None, system=True)

    @classmethod
    def unit(cls, code: str) -> Scope:
        if not valid_code(code):
            raise ValueError(f"invalid unit code {code!r}")
        return cls(code=code)

    def allows(self, tenant_code: str | None) -> bool:
        if self.system:
            return True
        return bool(tenant_code) and self.code is not None and in_subtree(tenant_code, self.code)

    @property
    def pg_setting(self) -> str:
        """Value for ``postalops.scope`` in PostgreSQL; ``*`` means unrestricted."""
        return "*" if self.system else (self.code or "")
