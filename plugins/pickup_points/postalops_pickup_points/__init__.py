"""PostalOps plugin ``pickup_points``: the pickup-point network (自提点, 三覆盖、两确保).

Pure domain rules live in modules named by what they hold (coverage, site_suggestion,
service_quality, direct_delivery, counter_handover, agent_fee, opening_hours, points,
area_import); the framework layers only feed and store them.
"""

__version__ = "0.1.0"
