"""A real browser loads the series page of the seed defect: findings, hunk and witness show."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from reviewbot.config import Config
from reviewbot.store.store import Store
from reviewbot.web import create_app
from reviewbot.web.indexer import index_all
from reviewbot.web.settings import WebSettings
from tests.web.browser import chromium, dump_dom, screenshot
from tests.web.storefill import add_seed_review

pytestmark = pytest.mark.slow


def text_of(dom: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", dom))


async def test_seed_defect_series_page_in_chromium(
    store: Store, aiohttp_server: Any, tmp_path: Path
) -> None:
    binary = chromium()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/setup installs it")
        pytest.skip("chromium is not installed (.ci/setup installs it)")
    revision = await add_seed_review(store)
    await index_all(store)
    config = Config(cache_dir=tmp_path / "cache", tree=tmp_path / "none", web=WebSettings())
    server: TestServer = await aiohttp_server(create_app(config, store), host="127.0.0.1")
    url = str(server.make_url(f"/series/{revision}"))

    dom = await dump_dom(binary, tmp_path / "profile", url)
    text = text_of(dom)
    # the three findings the real reviewer gave, with their rule links
    for rule in ("EX006", "KC014", "KC015"):
        assert re.search(rf'<a href="/rules/{rule}">{rule} ', dom), rule
    assert "missing MODULE_LICENSE() in drivers/iommu/iommufd/iova_bitmap.o" in text
    # the hunk, with the finding's line (post-image 11) marked
    marked = re.findall(r'<span class="l add mark"><span class="ln">11</span>([^<]*)</span>', dom)
    assert marked and marked[0].strip() == "+\ttristate".strip()
    assert "@@ -8,7 +8,7 @@ drivers/iommu/Kconfig" in text
    # the witness the solver found, as a configuration to paste
    assert "CONFIG_IOMMUFD_DRIVER=m" in text and "CONFIG_MLX5_VFIO_PCI=m" in text
    assert "KCONFIG_ALLCONFIG=witness.config allnoconfig" in text
    # and no script ran or was needed: the page has none
    assert "<script" not in dom

    shot = tmp_path / "series.png"
    await screenshot(binary, tmp_path / "profile", url, shot, "1200,900")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
