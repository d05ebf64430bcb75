"""Headless chromium (Debian's package) loading a page of a running app: DOM or screenshot."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT = 90.0


def chromium() -> str | None:
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


async def run_chromium(binary: str, profile: Path, *args: str) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        binary,
        "--headless",
        "--no-sandbox",  # root in a container: chromium's own sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited {proc.returncode}: {err.decode()[-2000:]}")
    return out


async def dump_dom(binary: str, profile: Path, url: str) -> str:
    """The DOM after chromium has loaded and laid out the page (as a user's browser sees it)."""
    return (await run_chromium(binary, profile, "--dump-dom", url)).decode()


async def screenshot(binary: str, profile: Path, url: str, out: Path, size: str) -> None:
    await run_chromium(
        binary,
        profile,
        f"--screenshot={out}",
        f"--window-size={size}",
        "--hide-scrollbars",
        url,
    )
