"""Core tests use the fixtures of postalops.testing (registered as a pytest plugin)."""
