"""Benchmarks that drive the real app (see bench/streaming.py and bench/RESULTS.md)."""
