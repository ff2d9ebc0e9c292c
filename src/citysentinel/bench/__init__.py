"""Benchmarks behind `citysentinel bench`: they print figures, never assert timings."""
