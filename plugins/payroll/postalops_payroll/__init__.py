"""PostalOps payroll plugin (计件工资): piece-rate pay for collect-and-deliver couriers.

The pure rule modules (``money``, ``dimensions``, ``period``, ``rate_card``, ``payslip``,
``outsourcing``, ``work_events``, ``kpi``) import neither Flask nor SQLAlchemy; the database,
HTTP and job layers only feed and store them.
"""

__version__ = "0.1.0"
