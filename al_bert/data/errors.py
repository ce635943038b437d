"""Errors of the data layer: each message says what to change."""

from __future__ import annotations


class DataError(ValueError):
    """Data that cannot be obtained or used as configured."""
