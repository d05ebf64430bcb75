"""Fixtures of the service's end-to-end tests: a real public-inbox served over HTTP."""

from tests.lore import lore_server

__all__ = ["lore_server"]
