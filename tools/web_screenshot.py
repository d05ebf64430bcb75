"""Screenshot the series page of the seed defect with headless chromium (docs/series-page.png).

PYTHONPATH=$PWD python3 tools/web_screenshot.py [OUT.png]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from aiohttp import web

from reviewbot.config import Config
from reviewbot.store.store import Store
from reviewbot.web import create_app
from reviewbot.web.indexer import index_all
from reviewbot.web.settings import WebSettings
from tests.web.browser import chromium, screenshot
from tests.web.storefill import add_seed_review


async def main(out: Path) -> int:
    binary = chromium()
    if binary is None:
        print("chromium is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "service.sqlite")
        revision = await add_seed_review(store)
        await index_all(store)
        config = Config(cache_dir=Path(tmp), web=WebSettings())
        runner = web.AppRunner(create_app(config, store))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}/series/{revision}"
        try:
            await screenshot(binary, Path(tmp) / "profile", url, out.resolve(), "1100,1500")
        finally:
            await runner.cleanup()
            await store.close()
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/series-page.png"))))
