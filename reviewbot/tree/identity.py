"""Say which tree a review ran against: package, version, kernel release (reads two small files)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from reviewbot.tree.fetch import VERSION_FILE

_MAKEFILE_VAR = re.compile(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)\s*=[ \t]*(\S*)", re.M)


@dataclass(frozen=True)
class TreeInfo:
    """The tree of a report: where, its cache key, and the package version it came from."""

    path: str
    key: str
    package: str = ""  # the Debian package it was unpacked from ('' for other trees)
    version: str = ""  # that package's version (6.12.118-1~deb12u1)
    release: str = ""  # the kernel release its Makefile says (6.12.118)

    @property
    def label(self) -> str:
        """One line for people: 'linux-source-6.12 6.12.118-1~deb12u1 (Linux 6.12.118)'."""
        release = f"Linux {self.release}" if self.release else ""
        if self.package:
            return f"{self.package} {self.version}" + (f" ({release})" if release else "")
        return f"{release} at {self.path}" if release else self.path

    def to_json(self) -> dict[str, str]:
        return {
            "label": self.label,
            "package": self.package,
            "version": self.version,
            "release": self.release,
            "path": self.path,
            "key": self.key,
        }


def kernel_release(root: Path) -> str:
    """VERSION.PATCHLEVEL.SUBLEVEL[EXTRAVERSION] from a kernel tree's Makefile ('' if none)."""
    try:
        with (root / "Makefile").open(encoding="utf-8", errors="replace") as handle:
            head = handle.read(4096)
    except OSError:
        return ""
    found: dict[str, str] = dict(_MAKEFILE_VAR.findall(head))
    if not found.get("VERSION") or not found.get("PATCHLEVEL"):
        return ""
    release = f"{found['VERSION']}.{found['PATCHLEVEL']}"
    if found.get("SUBLEVEL"):
        release += f".{found['SUBLEVEL']}"
    return release + found.get("EXTRAVERSION", "")


def describe_tree(root: Path, key: str) -> TreeInfo:
    """What a tree is: a package's unpacked tree names its version; any kernel its release."""
    package = version = ""
    try:
        recorded = (root / VERSION_FILE).read_text(encoding="utf-8").split()
    except OSError:
        recorded = []
    if len(recorded) == 2:
        package, version = recorded
    return TreeInfo(str(root.resolve()), key, package, version, kernel_release(root))
