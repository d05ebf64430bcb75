"""Load and validate the architecture matrix: one TOML file per arch (pure but for reading).

`load_matrix()` reads reviewbot/build/arches/*.toml (or another directory) into Arch
records keyed by name; a file with a missing or unknown key, a bad type or a name that
does not match its file name is a ConfigError naming the file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from reviewbot.build.model import Arch
from reviewbot.errors import ConfigError

ARCHES_DIR = Path(__file__).resolve().parent / "arches"
_REQUIRED = ("name", "arch", "srcarch", "cross_compile", "package", "compiler")
_OPTIONAL = {"defconfig": str, "llvm": bool, "modversions": bool}
_WORD = re.compile(r"^[A-Za-z0-9_.+-]*$")


def parse_arch(data: Mapping[str, Any], where: str) -> Arch:
    """One arch table, validated."""
    unknown = set(data) - set(_REQUIRED) - set(_OPTIONAL) - {"crc_objects"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key in _REQUIRED:
        value = data.get(key)
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key!r} must be a string")
        values[key] = value
    objects = data.get("crc_objects", [])
    if not isinstance(objects, list) or not all(
        isinstance(o, str) and o.endswith(".o") and _WORD.match(o.replace("/", "")) for o in objects
    ):
        raise ConfigError(f"{where}: 'crc_objects' must be a list of object paths")
    values["crc_objects"] = tuple(objects)
    for key, kind in _OPTIONAL.items():
        if key in data:
            if not isinstance(data[key], kind):
                raise ConfigError(f"{where}: {key!r} must be a {kind.__name__}")
            values[key] = data[key]
    for key in ("name", "arch", "srcarch", "cross_compile", "compiler", "defconfig"):
        if key in values and not _WORD.match(values[key]):
            raise ConfigError(f"{where}: {key!r} has characters make would misread")
    if not values["name"] or not values["arch"] or not values["compiler"]:
        raise ConfigError(f"{where}: name, arch and compiler must not be empty")
    if not all(_WORD.match(p) for p in values["package"].split()) or not values["package"]:
        raise ConfigError(f"{where}: 'package' must name Debian packages")
    return Arch(**values)


def load_matrix(directory: Path = ARCHES_DIR) -> Mapping[str, Arch]:
    """Every arch file in directory, by name."""
    out: dict[str, Arch] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        arch = parse_arch(data, str(path))
        if arch.name != path.stem:
            raise ConfigError(f"{path}: name {arch.name!r} does not match the file name")
        out[arch.name] = arch
    if not out:
        raise ConfigError(f"{directory}: no arch files")
    return MappingProxyType(out)


def by_srcarch(matrix: Mapping[str, Arch], srcarch: str) -> Arch | None:
    """The gcc arch building arch/<srcarch>/ (x86 -> x86_64, sparc -> sparc64)."""
    found = [a for a in matrix.values() if a.srcarch == srcarch and not a.llvm]
    preferred = [a for a in found if a.name in ("x86_64", "sparc64", "riscv64", "powerpc64le")]
    chosen = preferred or found
    return chosen[0] if chosen else None


def probe_toolchains(matrix: Mapping[str, Arch], name: str) -> tuple[Arch, ...]:
    """The other toolchains of arch `name`'s ARCH in the matrix (pure): the LLVM rows
    beside a gcc row (x86_64 -> x86_64-clang), sorted by name."""
    arch = matrix.get(name)
    if arch is None:
        return ()
    return tuple(
        other
        for key, other in sorted(matrix.items())
        if key != name
        and other.arch == arch.arch
        and other.srcarch == arch.srcarch
        and other.llvm != arch.llvm
    )


def packages(matrix: Mapping[str, Arch]) -> tuple[str, ...]:
    """Every Debian package the matrix needs, sorted (for CI set-up)."""
    return tuple(sorted({p for a in matrix.values() for p in a.package.split()}))
