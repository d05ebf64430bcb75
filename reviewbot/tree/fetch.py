"""Get the embedded default tree: Debian's linux-source-6.12, unpacked per package version."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reviewbot.errors import TreeError

log = logging.getLogger(__name__)

PACKAGE = "linux-source-6.12"
TARBALL = Path("/usr/src/linux-source-6.12.tar.xz")
TREE_NAME = "linux-source-6.12"

Progress = Callable[[str, int, int], None]


STAMP = ".reviewbot-source"  # written last by an unpack: the tree is complete
VERSION_FILE = ".reviewbot-package"  # "<package> <version>" of the tree


@dataclass(frozen=True)
class PackageSource:
    """A version of the package, and its tarball when it is on disk (else apt fetches it)."""

    version: str
    tarball: Path | None


def default_tree_dir(cache_dir: Path) -> Path:
    """The link to the current version's tree."""
    return cache_dir / "trees" / TREE_NAME


def _download_tarball(cache_dir: Path, version: str, progress: Progress | None) -> Path:
    """Fetch the .deb with `apt-get download` (no root needed) and take the tarball out."""
    downloads = cache_dir / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    target = downloads / f"{TREE_NAME}_{_safe(version)}.tar.xz"
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
        ["apt-get", "download", f"{PACKAGE}={version}"],
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
    (dest / STAMP).write_text(f"{PACKAGE}:sha256:{digest.hexdigest()}\n")


def ensure_default_tree(
    cache_dir: Path, progress: Progress | None = None, source: PackageSource | None = None
) -> Path:
    """Return the unpacked default tree of the package's current version.

    The tree lives in trees/<package>_<version>, and trees/<package> links to it. A new
    package version is unpacked beside the old one, the link moves, then older trees are
    removed. A tree unpacked before versions were recorded is kept when its tarball digest
    is the current one's.
    """
    trees = cache_dir / "trees"
    if source is None:
        source = current_source()
    if source is None:
        return _offline_tree(trees)
    dest = versioned_dir(cache_dir, source.version)
    link = trees / TREE_NAME
    if (dest / STAMP).exists() and link.is_symlink() and link.resolve() == dest.resolve():
        return dest
    trees.mkdir(parents=True, exist_ok=True)
    # One unpack at a time: others wait, then find the tree done.
    with (trees / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (dest / STAMP).exists():
            tarball = source.tarball or _download_tarball(cache_dir, source.version, progress)
            if not _adopt_legacy(trees, dest, tarball):
                partial = dest.with_name(dest.name + ".partial")
                if partial.exists():
                    shutil.rmtree(partial)
                log.info("unpacking %s %s from %s into %s", PACKAGE, source.version, tarball, dest)
                _unpack(tarball, partial, progress)
                if dest.exists():
                    shutil.rmtree(dest)
                partial.rename(dest)
        if not (dest / VERSION_FILE).exists():
            (dest / VERSION_FILE).write_text(f"{PACKAGE} {source.version}\n")
        _link(trees, dest)
        _prune(cache_dir, dest)
    return dest


def versioned_dir(cache_dir: Path, version: str) -> Path:
    return cache_dir / "trees" / f"{TREE_NAME}_{_safe(version)}"


def _safe(version: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+~-]", "_", version)[:100] or "unknown"


def current_source() -> PackageSource | None:
    """The installed package (its tarball and version), else the archive's candidate."""
    if TARBALL.exists():
        version = query_tool(["dpkg-query", "-W", "-f=${Version}", PACKAGE])
        if not version:
            # A tarball dpkg does not know: name it by its digest.
            version = "sha256-" + _sha256(TARBALL)[:16]
        return PackageSource(version, TARBALL)
    shown = query_tool(["apt-cache", "show", "--no-all-versions", PACKAGE])
    for row in shown.splitlines():
        if row.startswith("Version:"):
            return PackageSource(row.split(":", 1)[1].strip(), None)
    return None


def query_tool(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return ""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("%s failed: %s", command[0], exc)
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _offline_tree(trees: Path) -> Path:
    """No package and no archive to ask: the tree unpacked last, if any."""
    link = trees / TREE_NAME
    if (link / STAMP).exists():
        log.warning("cannot tell %s's version (no dpkg or apt); using %s", PACKAGE, link.resolve())
        return link.resolve()
    raise TreeError(
        f"no {TARBALL} and no apt-get/dpkg-deb to fetch {PACKAGE}; "
        "pass --tree PATH to a kernel tree"
    )


def _adopt_legacy(trees: Path, dest: Path, tarball: Path) -> bool:
    """Move an unversioned tree (trees/<package> as a directory) out of the link's way;
    keep it as dest when it was unpacked from this very tarball."""
    legacy = trees / TREE_NAME
    if legacy.is_symlink() or not legacy.is_dir():
        return False
    stamp = legacy / STAMP
    digest = stamp.read_text().strip().rsplit(":", 1)[-1] if stamp.exists() else ""
    if digest and digest == _sha256(tarball):
        legacy.rename(dest)
        return True
    aside = trees / f"{TREE_NAME}_unversioned"
    if aside.exists():
        shutil.rmtree(aside)
    legacy.rename(aside)
    return False


def _link(trees: Path, dest: Path) -> None:
    """Point trees/<package> at dest (atomically)."""
    link = trees / TREE_NAME
    if link.is_symlink() and os.readlink(link) == dest.name:
        return
    tmp = trees / f".{TREE_NAME}.link"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(dest.name)
    os.replace(tmp, link)


def _prune(cache_dir: Path, keep: Path) -> None:
    """Remove trees and downloads of other versions (each tree is about 1.7 GB)."""
    trees = cache_dir / "trees"
    for old in trees.glob(f"{TREE_NAME}_*"):
        if old != keep and old.is_dir() and not old.is_symlink():
            log.info("removing %s (not the current %s)", old, PACKAGE)
            shutil.rmtree(old, ignore_errors=True)
    wanted = f"{keep.name}.tar.xz"
    for old in (cache_dir / "downloads").glob(f"{TREE_NAME}_*.tar.xz"):
        if old.name != wanted:
            old.unlink(missing_ok=True)
