"""PostalOps plugin ``outcall`` (出件外呼).

Calls applicants whose approved government documents wait at the service-centre window and,
when they agree, converts the pickup into a government-mail delivery order.

The pure rule modules (``eligibility``, ``identity``, ``masking``, ``waybill``, ``call_policy``,
``address``, ``intake``, ``kpis``) import neither Flask nor SQLAlchemy.
"""

__version__ = "0.1.0"
