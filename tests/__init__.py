"""Test suites; `tests.backends` holds the database helpers shared by fixtures."""
