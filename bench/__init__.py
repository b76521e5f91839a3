"""Benchmarks of issue 8 (not part of the test suite): see bench/README.md."""
