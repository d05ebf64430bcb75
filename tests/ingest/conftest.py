"""Fixtures of the ingest tests: the patchwork fake and a real public-inbox."""

from tests.fakes.patchwork import patchwork_server
from tests.lore import lore_server

__all__ = ["lore_server", "patchwork_server"]
