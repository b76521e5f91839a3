"""Fixtures for opentrain_sim (filled in by its owner)."""
