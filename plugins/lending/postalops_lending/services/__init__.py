"""Workflows over the database: they load rows, call the pure rules, store results and audit.

No Flask here either: every function takes the (scoped) session and the acting
:class:`postalops.context.Principal`, so jobs, the CLI, the demo and the API share them.
"""
