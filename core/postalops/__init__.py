"""PostalOps: the kernel of an operations platform for a provincial postal network.

Public modules for plugin authors (the stable surface, see docs/plugins.md):
``postalops.hookspecs`` / ``postalops.hookimpl``, ``postalops.models`` (``TenantScoped``),
``postalops.db``, ``postalops.api``, ``postalops.auth``, ``postalops.audit``, ``postalops.jobs``,
``postalops.imports``, ``postalops.metrics``, ``postalops.errors``, ``postalops.testing``.
Everything else is private.
"""

import pluggy

__all__ = [
    "hookimpl",
]


__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("postalops")
"""Decorator marking a plugin's hook implementation: ``@hookimpl def postalops_plugin_info(): ...``"""
