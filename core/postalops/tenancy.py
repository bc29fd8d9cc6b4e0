"""Tenant scope: which part of the org-unit tree a caller may see.

Org units are addressed by stable code paths (``cn.henan.zhengzhou``). A scope is one code; the
caller sees that unit and its subtree, never above or beside it. ``Scope.system()`` is for the
CLI, migrations and the demo builder only; HTTP callers always get a unit scope.

Work done for one plugin (its jobs, its ``/p/<key>`` pages and ``/api/v1/<key>`` calls) runs in
that unit scope *narrowed for the plugin* (:meth:`Scope.for_plugin`): the subtrees below the unit
where the plugin is switched off (``off``), minus the subtrees inside those where it is switched
on again (``on``), are cut out. A province-wide job of a plugin that is off in one city never
sees or touches that city's rows. The core applies it (``postalops.db``: the ORM criteria, the
write checks and, on PostgreSQL, the row-level-security policy), not the plugin.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Scope",
    "ancestors",
    "in_subtree",
    "valid_code",
]
# Also the core's own (not part of the plugin surface): ``plugin_exclusions``, ``excluded_groups``.


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
    """The part of the tree a session may touch. ``code=None`` with ``system=True`` sees all.

    ``plugin``/``off``/``on``: see :meth:`for_plugin`; a plain unit scope has none."""

    code: str | None
    system: bool = False
    plugin: str | None = None
    off: tuple[str, ...] = ()
    on: tuple[str, ...] = ()

    @classmethod
    def system_scope(cls) -> Scope:
        return cls(code=None, system=True)

    @classmethod
    def unit(cls, code: str) -> Scope:
        if not valid_code(code):
            raise ValueError(f"invalid unit code {code!r}")
        return cls(code=code)

    def for_plugin(self, plugin: str, off: tuple[str, ...] = (), on: tuple[str, ...] = ()) -> Scope:
        """This unit scope narrowed for ``plugin``: without the subtrees of ``off`` (units below
        ``code`` where the plugin is switched off), except the subtrees of ``on`` inside them
        (switched on again); the nearest of them above a row decides, as for enablement
        itself. :func:`plugin_exclusions` computes both from the enablement rows. A system
        scope stays unrestricted."""
        if self.system or self.code is None:
            return self
        return Scope(self.code, plugin=plugin, off=tuple(off), on=tuple(on))

    def allows(self, tenant_code: str | None) -> bool:
        if self.system:
            return True
        return (
            bool(tenant_code)
            and self.code is not None
            and in_subtree(tenant_code, self.code)
            and not (self.off and self.excludes(tenant_code))
        )

    def excludes(self, tenant_code: str) -> bool:
        """True when ``tenant_code`` lies in a cut-out subtree (see :meth:`for_plugin`)."""
        nearest, cut = -1, False
        for codes, is_off in ((self.off, True), (self.on, False)):
            for code in codes:
                if in_subtree(tenant_code, code) and len(code) > nearest:
                    nearest, cut = len(code), is_off
        return cut

    @property
    def pg_setting(self) -> str:
        """Value for ``postalops.scope`` in PostgreSQL; ``*`` means unrestricted."""
        return "*" if self.system else (self.code or "")

    @property
    def pg_off_like(self) -> str:
        """Value for ``postalops.off_like``: the ``LIKE`` patterns of the cut-out roots as an
        array literal (``{a.b,a.b.%}``), or ``''``. The policy tries the regular expression of
        :attr:`pg_off` only on rows these match, so rows outside every cut-out subtree cost a
        ``LIKE`` or two, not a regular expression (unit codes hold no ``%``, ``_`` or commas)."""
        if self.system or not self.off:
            return ""
        return "{" + ",".join(f"{root},{root}.%" for root in sorted(self.off)) + "}"

    @property
    def pg_off(self) -> str:
        """Value for ``postalops.off`` in PostgreSQL: a regular expression matching the codes
        of the cut-out subtrees, or ``''`` (nothing cut out). For ``off=("a.b",)`` and
        ``on=("a.b.c",)``: ``^(?:a\\.b(?!\\.c(?:\\.|$))(?:\\.|$))``."""
        if self.system or not self.off:
            return ""
        arms = []
        for root, holes in excluded_groups(self.off, self.on):
            arm = re.escape(root)
            if holes:
                rel = "|".join(re.escape(h[len(root) + 1 :]) for h in holes)
                arm += rf"(?!\.(?:{rel})(?:\.|$))"
            arms.append(arm + r"(?:\.|$)")
        return "^(?:" + "|".join(arms) + ")"


def excluded_groups(off: tuple[str, ...], on: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """Each cut-out root with the re-included roots directly inside it (no other ``off`` root
    between them): a code is cut out when it lies in a root and in none of its holes. An
    ``off`` root inside a hole is a group of its own."""
    groups = []
    for root in sorted(off):
        holes = []
        for hole in sorted(on):
            if not hole.startswith(root + "."):
                continue
            between = [o for o in off if hole.startswith(o + ".") and o.startswith(root + ".")]
            if not between:
                holes.append(hole)
        groups.append((root, tuple(holes)))
    return groups


def plugin_exclusions(
    rows: Iterable[tuple[str, bool]], unit: str, on_at_unit: bool = True
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(off, on)`` for :meth:`Scope.for_plugin` at ``unit``, where the plugin is on, from one
    plugin's explicit enablement rows ``(unit_code, enabled)`` (others are ignored): the units
    below ``unit`` where the plugin's effective state flips (nearest explicit row up the tree
    wins), off and back on. Redundant rows (off below off) give nothing.

    With ``on_at_unit=False`` (a caller above the units where the plugin is on: a group
    admin's metrics of a province) ``unit`` itself is cut out and the units below where the
    plugin is on are the holes: a code is then cut exactly where the plugin is off."""
    below = {code: on for code, on in rows if code.startswith(unit + ".")}
    off: list[str] = [] if on_at_unit else [unit]
    on: list[str] = []
    for code in sorted(below, key=lambda c: (c.count("."), c)):
        parent_state = on_at_unit  # the plugin's state at ``unit``
        for anc in ancestors(code)[1:]:
            if anc in below:
                parent_state = below[anc]
                break
            if anc == unit:
                break
        if below[code] != parent_state:
            (on if below[code] else off).append(code)
    return tuple(off), tuple(on)
