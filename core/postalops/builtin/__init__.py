"""The core's own features, registered as plugins through the same manager as any other."""
