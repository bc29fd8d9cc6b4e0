"""The dashboard host: one Dash app on the PostalOps Flask server under ``/dashboards/``.

It reads plugins only through hooks (the metrics contract and ``postalops_dashboards_pages``) and
imports only the core. Plugin pages use :class:`ViewContext`, :func:`chart` and
:func:`metric_cards` from here.
"""

from .host import ViewContext, chart, csv_link, metric_cards

__all__ = ["ViewContext", "chart", "csv_link", "metric_cards"]
