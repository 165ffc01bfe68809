"""The rectification-case domain (隐患整改): aggregates, value objects and rules.

Imports only the standard library and ``eventsourcing.domain``.
"""
