"""Tests of the event-sourced core: the domain rules through the application."""
