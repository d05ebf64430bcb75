"""The default tree is unpacked per package version, and every report says which it was."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest

from reviewbot.tree.fetch import (
    STAMP,
    TARBALL,
    PackageSource,
    current_source,
    default_tree_dir,
    ensure_default_tree,
    versioned_dir,
)
from reviewbot.tree.identity import describe_tree, kernel_release


def _tarball(path: Path, sublevel: int) -> Path:
    """A tiny linux-source tarball: a Makefile saying 6.12.<sublevel> and a Kconfig."""
    files = {
        "Makefile": f"VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = {sublevel}\nEXTRAVERSION =\n",
        "Kconfig": 'mainmenu "Linux"\n',
    }
    with tarfile.open(path, "w:xz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"linux-source-6.12/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_new_version_is_unpacked_beside_and_replaces_the_old(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    old = ensure_default_tree(
        cache, source=PackageSource("6.12.117-1", _tarball(tmp_path / "117.tar.xz", 117))
    )
    assert old == versioned_dir(cache, "6.12.117-1")
    assert default_tree_dir(cache).resolve() == old
    assert describe_tree(default_tree_dir(cache), "k").label == (
        "linux-source-6.12 6.12.117-1 (Linux 6.12.117)"
    )
    # Same version again: nothing unpacked, same tree.
    (old / "marker").write_text("kept")
    again = ensure_default_tree(
        cache, source=PackageSource("6.12.117-1", _tarball(tmp_path / "117.tar.xz", 117))
    )
    assert again == old and (old / "marker").exists()

    new = ensure_default_tree(
        cache, source=PackageSource("6.12.118-1~deb12u1", _tarball(tmp_path / "118.tar.xz", 118))
    )
    assert new.name == "linux-source-6.12_6.12.118-1~deb12u1"
    assert kernel_release(new) == "6.12.118"
    assert default_tree_dir(cache).resolve() == new
    assert (default_tree_dir(cache) / STAMP).exists()
    assert not old.exists(), "the tree of the old version is removed"
    info = describe_tree(new, "key")
    assert (info.package, info.version, info.release) == (
        "linux-source-6.12",
        "6.12.118-1~deb12u1",
        "6.12.118",
    )


def test_legacy_unversioned_tree_is_adopted_when_it_is_the_same_tarball(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    tarball = _tarball(tmp_path / "118.tar.xz", 118)
    # What earlier releases left: trees/linux-source-6.12 as a directory, no version.
    legacy_cache = tmp_path / "legacy"
    legacy = ensure_default_tree(legacy_cache, source=PackageSource("x", tarball))
    (cache / "trees").mkdir(parents=True)
    legacy.rename(cache / "trees" / "linux-source-6.12")
    (cache / "trees" / "linux-source-6.12" / ".reviewbot-package").unlink()
    (cache / "trees" / "linux-source-6.12" / "marker").write_text("not unpacked again")

    tree = ensure_default_tree(cache, source=PackageSource("6.12.118-1", tarball))
    assert (tree / "marker").exists()
    assert describe_tree(tree, "k").version == "6.12.118-1"
    assert default_tree_dir(cache).is_symlink()


def test_legacy_tree_of_another_version_is_replaced(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    legacy = ensure_default_tree(
        tmp_path / "legacy", source=PackageSource("x", _tarball(tmp_path / "117.tar.xz", 117))
    )
    (cache / "trees").mkdir(parents=True)
    legacy.rename(cache / "trees" / "linux-source-6.12")
    tree = ensure_default_tree(
        cache, source=PackageSource("6.12.118-1", _tarball(tmp_path / "118.tar.xz", 118))
    )
    assert kernel_release(default_tree_dir(cache)) == "6.12.118"
    assert [p.name for p in (cache / "trees").iterdir() if not p.name.startswith(".")] == sorted(
        ["linux-source-6.12", tree.name]
    )


def test_other_trees_describe_their_release(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text(
        "VERSION = 6\nPATCHLEVEL = 13\nSUBLEVEL = 0\nEXTRAVERSION = -rc2\n"
    )
    info = describe_tree(tmp_path, "path:x")
    assert info.label == f"Linux 6.13.0-rc2 at {tmp_path.resolve()}"
    assert describe_tree(tmp_path / "missing", "k").release == ""


@pytest.mark.skipif(not TARBALL.exists(), reason="linux-source-6.12 is not installed")
def test_installed_package_version_comes_from_dpkg() -> None:
    source = current_source()
    assert source is not None and source.tarball == TARBALL
    assert re.fullmatch(r"6\.12\.\d+-\S+", source.version), source.version
