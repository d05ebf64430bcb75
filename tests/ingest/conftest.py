"""Fixtures of the ingest tests: the patchwork fake (and, in tests/lore.py, a real public-inbox)."""

from tests.fakes.patchwork import patchwork_server

__all__ = ["patchwork_server"]
