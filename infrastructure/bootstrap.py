"""Kept for the scripts that build the application from here: the composition
root is :mod:`infrastructure.composition`."""

from __future__ import annotations

from infrastructure.composition import build_app

__all__ = ["build_app"]
