"""PostalOps lending plugin (小微E贷): micro-business loans for Postal Savings Bank branches.

Pure domain modules (no Flask, no session): ``identity``, ``money``, ``credit_line``,
``schedule``, ``servicing``, ``classification``, ``application_flow``, ``relief``,
``outreach``, ``portfolio``.
"""

__version__ = "0.1.0"
