"""PostalOps e-commerce festival plugin (电商节): campaigns, catalogue, group-buy, attainment."""

__version__ = "0.1.0"
