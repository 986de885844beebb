"""Benchmarks: they print figures; they are not part of the test run's pass/fail."""
