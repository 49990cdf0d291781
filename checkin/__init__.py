"""Volunteer check-in for large public events."""

__version__ = "0.1.0"
