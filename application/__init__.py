"""Use cases of the rectification-case service, on one eventsourcing Application."""
