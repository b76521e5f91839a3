"""Fixtures for redis_server (filled in by its owner)."""
