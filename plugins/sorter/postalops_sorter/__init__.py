"""PostalOps sorter plugin (圆盘分拣机): telemetry, throughput, OEE and alerts for station sorters.

The pure rule modules (``events``, ``timeline``, ``oee``, ``waves``, ``alerts``, ``retention``,
``simulation``) import neither Flask nor the database session; the web, job and storage layers
feed and store them.
"""

__version__ = "0.1.0"
