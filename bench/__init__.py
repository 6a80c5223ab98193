"""Benchmarks: data generator, import benchmark, search benchmark (see BENCHMARKS.md)."""
