"""Get the embedded default tree: Debian's linux-source-6.12, unpacked into the cache."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from reviewbot.errors import TreeError

log = logging.getLogger(__name__)

PACKAGE = "linux-source-6.12"
TARBALL = Path("/usr/src/linux-source-6.12.tar.xz")
TREE_NAME = "linux-source-6.12"

Progress = Callable[[str, int, int], None]


def default_tree_dir(cache_dir: Path) -> Path:
    return cache_dir / "trees" / TREE_NAME


def _download_tarball(cache_dir: Path, progress: Progress | None) -> Path:
    """Fetch the .deb with `apt-get download` (no root needed) and take the tarball out."""
    downloads = cache_dir / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    target = downloads / f"{PACKAGE}.tar.xz"
    if target.exists():
        return target
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise TreeError(
            f"no {TARBALL} and no apt-get/dpkg-deb to fetch {PACKAGE}; "
            "pass --tree PATH to a kernel tree"
        )
    if progress:
        progress("download", 0, 1)
    result = subprocess.run(
        ["apt-get", "download", PACKAGE],
        cwd=downloads,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    debs = sorted(downloads.glob(f"{PACKAGE}_*.deb"))
    if result.returncode != 0 or not debs:
        raise TreeError(
            f"apt-get download {PACKAGE} failed: {result.stderr.strip()[-300:]} "
            "(run 'apt-get update' first, or pass --tree PATH)"
        )
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), tmp], check=True, timeout=1800)
        found = list(Path(tmp).rglob(f"{PACKAGE}.tar.xz"))
        if not found:
            raise TreeError(f"{debs[-1]} holds no {PACKAGE}.tar.xz")
        shutil.move(str(found[0]), target)
    for deb in debs:
        deb.unlink()
    if progress:
        progress("download", 1, 1)
    return target


def _unpack(tarball: Path, dest: Path, progress: Progress | None) -> None:
    """Untar into dest, reporting progress by compressed bytes read."""
    dest.mkdir(parents=True, exist_ok=True)
    total = tarball.stat().st_size
    digest = hashlib.sha256()
    with (
        subprocess.Popen(
            [
                "tar",
                "-xJf",
                "-",
                "--no-same-owner",
                "--no-same-permissions",
                "--strip-components=1",
                "-C",
                str(dest),
            ],
            stdin=subprocess.PIPE,
        ) as tar,
        tarball.open("rb") as source,
    ):
        assert tar.stdin is not None
        done = 0
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            tar.stdin.write(chunk)
            done += len(chunk)
            if progress:
                progress("unpack", done, total)
        tar.stdin.close()
        if tar.wait() != 0:
            raise TreeError(f"unpacking {tarball} failed (tar exit {tar.returncode})")
    (dest / ".reviewbot-source").write_text(f"{PACKAGE}:sha256:{digest.hexdigest()}\n")


def ensure_default_tree(cache_dir: Path, progress: Progress | None = None) -> Path:
    """Return the unpacked default tree, fetching and unpacking it the first time."""
    dest = default_tree_dir(cache_dir)
    if (dest / ".reviewbot-source").exists():
        return dest
    tarball = TARBALL if TARBALL.exists() else _download_tarball(cache_dir, progress)
    partial = dest.with_name(dest.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    log.info("unpacking %s into %s", tarball, dest)
    _unpack(tarball, partial, progress)
    if dest.exists():
        shutil.rmtree(dest)
    partial.rename(dest)
    return dest
