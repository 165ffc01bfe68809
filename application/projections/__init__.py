"""Projections: what each event does to each read-model row, as plain functions.

:mod:`.cases` and :mod:`.site_history` hold the functions; :mod:`.read_models`
wraps each set in an ``eventsourcing.projection.Projection`` that hands the
resulting changes, with the event's position in the log, to its view — a port
the infrastructure implements for SQLite and PostgreSQL.
"""
