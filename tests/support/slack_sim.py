"""Fixtures for slack_sim (filled in by its owner)."""
