"""The plugin surface: the core modules a plugin may import, and their public names.

Each module listed in :data:`PUBLIC_MODULES` declares its public names in ``__all__``; anything
else is private and may change without notice (CKAN's toolkit, Datasette's hookspecs).
docs/plugins.md ("Reference") lists every one of them with its signature and an example;
``tests/test_plugin_docs.py`` fails when a name is missing, extra or documented with another
signature. ``python -m postalops.surface`` prints the entries as the docs must start them.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

PUBLIC_MODULES = (
    "postalops",
    "postalops.plugins",
    "postalops.models",
    "postalops.db",
    "postalops.tenancy",
    "postalops.clock",
    "postalops.context",
    "postalops.auth",
    "postalops.audit",
    "postalops.api",
    "postalops.imports",
    "postalops.bulk",
    "postalops.jobs",
    "postalops.metrics",
    "postalops.i18n",
    "postalops.formatting",
    "postalops.ui",
    "postalops.listing",
    "postalops.webhooks",
    "postalops.plugin_settings",
    "postalops.simulate",
    "postalops.errors",
    "postalops.fields",
    "postalops.money",
    "postalops.journal",
    "postalops.demo",
    "postalops.testing",
    "postalops.webhook_receiver",
    "postalops_dashboards",
)
"""The modules a plugin may import (docs/plugins.md, "The public surface")."""


def public_names(module: str) -> list[str]:
    """``__all__`` of a public module (a module without one exports nothing)."""
    return list(getattr(importlib.import_module(module), "__all__", ()))


def _default(value: Any) -> str:
    text = repr(value)
    return "..." if text.startswith("<") or len(text) > 40 else text


def signature(obj: Any, name: str) -> str:
    """``name(params)`` without annotations (defaults shown, ``...`` for a factory), or ``name``
    alone for a constant, a module or a pytest fixture."""
    if is_fixture(obj) or not (inspect.isfunction(obj) or inspect.isclass(obj)):
        return name  # a constant, a module, a marker instance (hookimpl), a pytest fixture
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return name
    parts: list[str] = []
    seen_kw_only = False
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
            seen_kw_only = True
            continue
        if p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
            continue
        if p.kind is p.KEYWORD_ONLY and not seen_kw_only:
            parts.append("*")
            seen_kw_only = True
        parts.append(p.name if p.default is p.empty else f"{p.name}={_default(p.default)}")
    return f"{name}({', '.join(parts)})"


def is_fixture(obj: Any) -> bool:
    return (
        hasattr(obj, "_pytestfixturefunction") or type(obj).__name__ == "FixtureFunctionDefinition"
    )


def reference() -> dict[str, dict[str, str]]:
    """``{module: {name: signature}}`` of the whole surface."""
    out: dict[str, dict[str, str]] = {}
    for module in PUBLIC_MODULES:
        mod = importlib.import_module(module)
        out[module] = {n: signature(getattr(mod, n), n) for n in public_names(module)}
    return out


if __name__ == "__main__":
    for module, names in reference().items():
        print(f"\n### `{module}`\n")
        for sig in names.values():
            print(f"- `{sig}`: ")
