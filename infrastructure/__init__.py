"""Adapters to the outside world: persistence settings, clock, read-model storage."""
