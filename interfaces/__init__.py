"""Entry points: HTTP API, command line and web console."""
