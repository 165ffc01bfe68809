"""The HTTP API (FastAPI): resource-oriented paths over the rectification-case application."""
