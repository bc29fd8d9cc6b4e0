"""The dashboard host: one Dash app on the PostalOps Flask server under ``/dashboards/``.

It reads plugins only through hooks (the metrics contract and ``postalops_dashboard_pages``) and
imports only the core. Plugin pages use :class:`ViewContext`, :func:`chart` and
:func:`metric_cards` from here, and :mod:`.figures` for value formatting, unit names and the
empty state; every figure is drawn in the portal's plotly template (:mod:`.theme`).
"""

from . import figures, theme
from .host import ViewContext, chart, csv_link, metric_cards

__all__ = ["ViewContext", "chart", "csv_link", "figures", "metric_cards", "theme"]
