"""Kernel trees: fetching, reading from disk, and the per-tree index."""
