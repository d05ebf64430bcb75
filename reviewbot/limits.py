"""The bounds every input is held to, in one place (pure).

One frozen `ReviewLimits` says how large a mail, an input file, a series may be, how long
each review stage may run per patch, and how much disk and memory a sandboxed command
may use. `reviewbot check` reads it from the config's `[limits]` table
(reviewbot.config); the service applies the same object per message through
reviewbot.mail.bounded.read_message. docs/limits.md explains each value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from reviewbot.errors import ConfigError

if TYPE_CHECKING:
    from reviewbot.sandbox import Limits

MB = 1 << 20


@dataclass(frozen=True)
class ReviewLimits:
    """Sizes in bytes, times in seconds (wall clock), per mail / per patch."""

    # Input. lore's largest patch mails are a few MB (tree-wide renames, firmware
    # tables); 16 MB is several times that and keeps parsing under ~0.5 GB RSS.
    mail_bytes: int = 16 * MB
    # One input file (an mbox, after gzip decompression).
    input_bytes: int = 64 * MB
    # The largest `n` of [PATCH m/n] taken as a series; real series stay in the hundreds.
    series_total: int = 1000
    # Per-stage time budgets, per patch.
    parse_seconds: float = 30.0  # one mail: MIME, diff scan, unidiff
    apply_seconds: float = 60.0  # applying one patch in memory
    rules_seconds: float = 120.0  # all static and evaluated rules of one patch
    kconfig_seconds: float = 180.0  # one kconfiglib evaluation (per arch)
    conf_seconds: float = 120.0  # one run of scripts/kconfig/conf
    build_seconds: float = 600.0  # one make step of a quick build
    # Every sandboxed command: the disk its writable area may grow by, the largest file
    # it may write, the size of its private /tmp (a tmpfs, counted as memory), memory.
    disk_bytes: int = 4096 * MB
    file_bytes: int = 1024 * MB
    tmp_bytes: int = 256 * MB
    memory_bytes: int = 4096 * MB

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"limits.{item.name}: expected a positive number, got {value!r}")


DEFAULT_LIMITS = ReviewLimits()
_INTS = {f.name for f in fields(ReviewLimits) if f.type in ("int", int)}


def limits_from_table(table: Mapping[str, Any], where: str = "limits") -> ReviewLimits:
    """ReviewLimits from a TOML table; unknown keys and non-positive values are ConfigError."""
    known = {f.name for f in fields(ReviewLimits)}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
        if key in _INTS and not float(value).is_integer():
            raise ConfigError(f"{where}.{key}: expected a whole number of bytes, got {value!r}")
        values[key] = int(value) if key in _INTS else float(value)
    return replace(DEFAULT_LIMITS, **values)


def sandbox_limits(limits: ReviewLimits, base: Limits, seconds: float) -> Limits:
    """base (a stage's CPU, process and memory shape) with the configured disk, file,
    /tmp and memory bounds and the stage's wall-clock budget."""
    return replace(
        base,
        wall_seconds=seconds,
        disk_bytes=limits.disk_bytes,
        file_bytes=limits.file_bytes,
        tmp_bytes=limits.tmp_bytes,
        memory_bytes=min(base.memory_bytes, limits.memory_bytes),
    )


def conf_limits(limits: ReviewLimits) -> Limits:
    """The sandbox limits of one scripts/kconfig/conf run."""
    from reviewbot.kconfig.conf import DEFAULT_LIMITS as CONF

    return sandbox_limits(limits, CONF, limits.conf_seconds)
