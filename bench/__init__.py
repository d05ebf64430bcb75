"""Benchmarks of reviewbot on real list data; each prints its figures (see README.md)."""
