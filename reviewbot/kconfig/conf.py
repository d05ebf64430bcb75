"""Run the kernel's own `scripts/kconfig/conf` on a base or patched tree, sandboxed.

conf is the ground truth where kconfiglib is more lenient or models older semantics:
whether a patched Kconfig parses at all, whether a witness configuration really makes
conf print `WARNING: unmet direct dependencies detected for X`, and recursive
dependencies.

API (results are frozen dataclasses; messages are parsed by reviewbot.kconfig.conf_output):

- `ensure_conf(tree, cache_dir) -> Path`: tree's conf binary, built once from the tree's
  own scripts/kconfig sources (flex, bison, gcc) into `<cache_dir>/conf/<key>/`;
  raises `ConfBuildError` (an InfrastructureError) when a tool is missing or fails.
- `conf_parse(tree, overlay, arch, cache_dir) -> ConfParse`: parse the tree with the
  overlay applied (`conf --olddefconfig` from an empty config). `ok` is False when conf
  fails (parse error, recursive dependency, `$(error-if)`, killed by a limit);
  `errors` / `warnings` are conf's messages as text, `diagnostics` the located ones
  (path relative to the tree, line, text), plus `unmet` and `recursions`.
- `conf_olddefconfig(tree, overlay, arch, assignments, cache_dir) -> ConfRun`: write a
  .config from assignments (`{"KVM": "y", "VFIO": "n"}`), run `conf --olddefconfig`,
  and return the messages (`.parse`), the resulting values (`.values`, as .config spells
  them, 'n' for `is not set`; absent symbols are unset), `.unmet`, and `.overridden`:
  the requested values conf did not keep.
- `conf_diff_warnings(base, patched) -> ConfDiff`: what the patched run reports that the
  base run does not, matched by file, symbol and text, never by counts.
- `shadow_tree(base, overlay, dest) -> Path`: the patched tree conf reads.

overlay maps tree-relative paths to new contents (None = deleted by the patch). conf
cannot read files from memory, so a patched tree is a "shadow tree": a directory of
symlinks to the base tree's top-level entries, where only the directories on the way to
a patched file are real directories (of symlinks) and the patched files are real files.
It costs a few milliseconds and serves Kconfig files, scripts/ and anything a
`$(shell,...)` probe reads. The base tree is never written.

conf always runs in reviewbot.sandbox: no network, the base tree, the shadow tree and the
conf binary read-only, one private writable output directory (the cwd, holding
KCONFIG_CONFIG), /tmp a private tmpfs, and CPU, memory and wall-clock limits. The
workspace (shadow tree and output directory) lives under `<cache_dir>/tmp` and is removed
after the run; KCONFIG_AUTOCONFIG points at /dev/null, so conf skips writing the
include/config/* tree (as on a build tree already configured once). A run that
hits the wall-clock limit is reported as `ok=False, timed_out=True` with a clear error,
so a hanging `$(shell,...)` in a patch becomes a result, not a hang. Patches to conf's
own sources (scripts/kconfig/*.c) are not applied: conf is built from the base tree.
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from reviewbot import sandbox
from reviewbot.errors import BadDiffError
from reviewbot.kconfig.conf_build import ConfBuildError, ensure_conf
from reviewbot.kconfig.conf_output import (
    ConfDiagnostic,
    ConfDiff,
    ConfMessages,
    ConfSeverity,
    RecursiveDependency,
    UnmetDependency,
    config_text,
    config_value,
    diff_messages,
    parse_config,
    parse_messages,
    symbol_name,
)
from reviewbot.kconfig.env import kconfig_env

__all__ = [
    "DEFAULT_LIMITS",
    "ConfBuildError",
    "ConfDiagnostic",
    "ConfDiff",
    "ConfParse",
    "ConfRun",
    "ConfSeverity",
    "Override",
    "RecursiveDependency",
    "UnmetDependency",
    "conf_diff_warnings",
    "conf_olddefconfig",
    "conf_parse",
    "ensure_conf",
    "shadow_tree",
]

log = logging.getLogger(__name__)

DEFAULT_LIMITS = sandbox.Limits(
    cpu_seconds=120, memory_bytes=2 << 30, processes=256, wall_seconds=120.0
)
_MAX_CONFIG_BYTES = 16 << 20


@dataclass(frozen=True)
class ConfParse:
    """conf's verdict on one tree and arch: did it parse, and what did it print."""

    ok: bool
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    diagnostics: tuple[ConfDiagnostic, ...] = ()
    unmet: tuple[UnmetDependency, ...] = ()
    recursions: tuple[RecursiveDependency, ...] = ()
    returncode: int = 0
    timed_out: bool = False
    stdout: str = ""
    stderr: str = ""

    @property
    def messages(self) -> ConfMessages:
        return ConfMessages(self.diagnostics, self.unmet, self.recursions)


@dataclass(frozen=True)
class Override:
    """A requested value conf did not keep (final None: not in the written .config)."""

    symbol: str
    requested: str
    final: str | None


@dataclass(frozen=True)
class ConfRun:
    """The result of `conf --olddefconfig` on a given .config."""

    parse: ConfParse
    values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    overridden: tuple[Override, ...] = ()

    @property
    def ok(self) -> bool:
        return self.parse.ok

    @property
    def unmet(self) -> tuple[UnmetDependency, ...]:
        return self.parse.unmet

    def value(self, name: str) -> str | None:
        """name's value as the .config spells it; None if conf did not write it."""
        return self.values.get(name.removeprefix("CONFIG_"))


def _rel_path(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or not rel.parts or any(p in ("..", ".", "") for p in rel.parts):
        raise BadDiffError(f"refusing to place {path!r} in a shadow tree")
    return rel


def shadow_tree(base: Path, overlay: Mapping[str, str | None], dest: Path) -> Path:
    """Build the patched view of base under dest (an empty or missing directory)."""
    base = base.resolve()
    files = {_rel_path(path): text for path, text in overlay.items()}
    split = {parent for rel in files for parent in rel.parents}
    clash = sorted(str(rel) for rel, text in files.items() if text is not None and rel in split)
    if clash:
        # drivers/misc/Kconfig kept as a file and drivers/misc/Kconfig/Kconfig added
        raise BadDiffError(f"{clash[0]} would be both a file and a directory")
    dest.mkdir(parents=True, exist_ok=True)
    for directory in sorted(split, key=lambda p: len(p.parts)):
        here = dest / directory
        here.mkdir(exist_ok=True)
        source = base / directory
        if source.is_symlink() or not source.is_dir():
            continue
        for entry in os.scandir(source):
            rel = directory / entry.name
            if rel in split or rel in files:
                continue
            os.symlink(base / rel, here / entry.name)
    for rel, text in files.items():
        if text is not None:
            (dest / rel).write_text(text, encoding="utf-8")
            _keep_mode(base / rel, dest / rel)
    return dest


def _keep_mode(source: Path, target: Path) -> None:
    """A patched file keeps the base file's permission bits: kbuild runs scripts such as
    scripts/ld-version.sh and scripts/cc-can-link.sh directly, and a patched copy
    without the execute bit fails on both toolchains for no fault of the patch."""
    try:
        if source.is_file():
            os.chmod(target, stat.S_IMODE(source.stat().st_mode) | stat.S_IRUSR | stat.S_IWUSR)
    except OSError:
        pass


def _failure(result: sandbox.Result, limits: sandbox.Limits) -> str | None:
    if result.timed_out:
        return (
            f"conf was killed after {limits.wall_seconds:g} s (wall-clock limit); "
            "a Kconfig $(shell,...) may hang"
        )
    if result.returncode < 0:
        try:
            name = signal.Signals(-result.returncode).name
        except ValueError:
            name = str(-result.returncode)
        return f"conf was killed by {name} (CPU, memory or process limit?)"
    return None


def _verdict(result: sandbox.Result, limits: sandbox.Limits, roots: tuple[str, ...]) -> ConfParse:
    failed = result.returncode != 0 or result.timed_out
    found = parse_messages(result.stderr, failed, roots)
    errors = [str(d) for d in found.diagnostics if d.severity is ConfSeverity.ERROR]
    errors += [str(r) for r in found.recursions]
    warnings = [str(d) for d in found.diagnostics if d.severity is ConfSeverity.WARNING]
    warnings += [str(u) for u in found.unmet]
    killed = _failure(result, limits)
    if killed:
        errors.append(killed)
    elif failed and not errors:
        errors.append(f"conf exited with status {result.returncode}")
    return ConfParse(
        ok=not failed,
        errors=tuple(errors),
        warnings=tuple(warnings),
        diagnostics=found.diagnostics,
        unmet=found.unmet,
        recursions=found.recursions,
        returncode=result.returncode,
        timed_out=result.timed_out,
        stdout=result.stdout,
        stderr=result.stderr,
    )


def _run(
    tree: Path,
    overlay: Mapping[str, str | None],
    arch: str,
    config: str | None,
    cache_dir: Path,
    limits: sandbox.Limits,
) -> tuple[ConfParse, str]:
    """Run `conf --olddefconfig` in the sandbox; the verdict and the written .config."""
    tree = tree.resolve()
    binary = ensure_conf(tree, cache_dir).resolve()
    (cache_dir / "tmp").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="conf-", dir=cache_dir / "tmp") as tmp:
        work = Path(tmp).resolve()
        out = work / "out"
        out.mkdir()
        srctree = shadow_tree(tree, overlay, work / "src") if overlay else tree
        if config is not None:
            (out / ".config").write_text(config, encoding="utf-8")
        env = kconfig_env(str(srctree), arch)
        env["KCONFIG_CONFIG"] = str(out / ".config")
        env["KCONFIG_AUTOCONFIG"] = "/dev/null"  # exists: conf skips include/config/*
        box = sandbox.Sandbox(
            readonly=(binary.parent, tree, srctree),
            writable=out,
            env=env,
            limits=limits,
            cwd=out,
        )
        result = sandbox.run(box, [str(binary), "--olddefconfig", "Kconfig"])
        if result.returncode != 0 and result.stderr.startswith("bwrap: "):
            raise sandbox.SandboxError(f"the sandbox could not start conf: {result.stderr[:500]}")
        verdict = _verdict(result, limits, (str(srctree), str(tree)))
        written = sandbox.read_limited(out / ".config", _MAX_CONFIG_BYTES) if verdict.ok else ""
    log.debug("conf %s on %s: returncode %d", arch, tree, result.returncode)
    return verdict, written


def conf_parse(
    tree: Path,
    overlay: Mapping[str, str | None],
    arch: str,
    cache_dir: Path,
    limits: sandbox.Limits = DEFAULT_LIMITS,
) -> ConfParse:
    """Does tree (with overlay applied) parse for arch, and what does conf print?"""
    verdict, _ = _run(tree, overlay, arch, None, cache_dir, limits)
    return verdict


def conf_olddefconfig(
    tree: Path,
    overlay: Mapping[str, str | None],
    arch: str,
    assignments: Mapping[str, str],
    cache_dir: Path,
    limits: sandbox.Limits = DEFAULT_LIMITS,
) -> ConfRun:
    """Run `conf --olddefconfig` from a .config holding exactly assignments."""
    config = config_text(assignments)  # ValueError for a name that is not a symbol
    verdict, written = _run(tree, overlay, arch, config, cache_dir, limits)
    values = parse_config(written)
    overridden = []
    if verdict.ok:
        for name, value in assignments.items():
            bare, requested = symbol_name(name), config_value(value)
            final = values.get(bare)
            if final != requested and not (requested == "n" and final is None):
                overridden.append(Override(bare, requested, final))
    return ConfRun(verdict, MappingProxyType(values), tuple(overridden))


def conf_diff_warnings(base: ConfParse, patched: ConfParse) -> ConfDiff:
    """What conf reports on the patched tree that it does not report on the base."""
    return diff_messages(base.messages, patched.messages)
