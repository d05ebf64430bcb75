"""The per-tree index: Kconfig symbols (all arches), exports and kbuild objects.

Built once per tree and cached on disk. Each file's facts are stored with the file's
size and mtime, so re-indexing a tree checked out at another commit re-reads only the
files that changed (seconds, not a rebuild).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import posixpath
import subprocess
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from reviewbot.errors import TreeError
from reviewbot.tree.scan import (
    ExportDef,
    ObjRef,
    SymbolDef,
    scan_exports,
    scan_kconfig,
    scan_makefile,
)

log = logging.getLogger(__name__)

INDEX_FORMAT = 3
_SKIP_TOP = {".git", "tools", "Documentation", "LICENSES", ".pc", "debian"}
_SOURCE_SUFFIXES = (".c", ".h", ".S")

Progress = Callable[[str, int, int], None]


@dataclass
class FileFacts:
    symbols: tuple[SymbolDef, ...] = ()
    exports: tuple[ExportDef, ...] = ()
    objects: tuple[ObjRef, ...] = ()


@dataclass
class TreeIndex:
    """What rules ask about the base tree, merged over every file and arch."""

    root: str
    key: str
    symbols: dict[str, list[SymbolDef]] = field(default_factory=dict)
    exports: dict[str, list[ExportDef]] = field(default_factory=dict)
    objects: dict[str, list[ObjRef]] = field(default_factory=dict)
    kconfig_files: frozenset[str] = frozenset()
    kbuild_files: frozenset[str] = frozenset()
    kconfig_digest: str = ""

    def is_defined(self, name: str) -> bool:
        return name in self.symbols

    def types_of(self, name: str) -> set[str]:
        return {d.type for d in self.symbols.get(name, ()) if d.type}

    def builders_of(self, obj_path: str) -> list[ObjRef]:
        """Makefile words that build obj_path ('dir/file.o' or 'dir/sub/')."""
        return self.objects.get(obj_path, [])

    @cached_property
    def objects_by_config(self) -> dict[str, list[str]]:
        """CONFIG symbol -> object/dir paths listed under obj-$(CONFIG_X) or <mod>-$(CONFIG_X)."""
        out: dict[str, list[str]] = {}
        for path, refs in self.objects.items():
            for ref in refs:
                if ref.config:
                    out.setdefault(ref.config, []).append(path)
        return out

    @cached_property
    def selectors(self) -> dict[str, list[SymbolDef]]:
        """Target symbol -> the entries that select it."""
        out: dict[str, list[SymbolDef]] = {}
        for defs in self.symbols.values():
            for definition in defs:
                for target, _ in definition.selects:
                    out.setdefault(target, []).append(definition)
        return out

    @cached_property
    def _module_names(self) -> dict[str, list[str]]:
        """Basename -> object paths of everything listed as obj-m or obj-$(CONFIG_X)."""
        out: dict[str, list[str]] = {}
        for path, refs in self.objects.items():
            if path.endswith(".o") and any(r.prefix == "obj" and r.suffix != "y" for r in refs):
                out.setdefault(posixpath.basename(path)[:-2], []).append(path)
        return out

    def module_names(self) -> dict[str, list[str]]:
        """Basename -> object paths of everything listed as obj-m or obj-$(CONFIG_X)."""
        return self._module_names


def classify(path: str) -> str | None:
    """Which scanner a tree file needs: 'kconfig', 'kbuild', 'source' or None."""
    name = posixpath.basename(path)
    if name.startswith("Kconfig"):
        return "kconfig"
    if name in ("Makefile", "Kbuild") or name.startswith(("Makefile.", "Kbuild.")):
        return "kbuild"
    if name.endswith(_SOURCE_SUFFIXES):
        return "source"
    return None


def facts_for(path: str, text: str) -> FileFacts:
    """Scan one file's text (pure)."""
    kind = classify(path)
    if kind == "kconfig":
        return FileFacts(symbols=tuple(scan_kconfig(text, path)))
    if kind == "kbuild":
        return FileFacts(objects=tuple(scan_makefile(text, path)))
    if kind == "source":
        return FileFacts(exports=tuple(scan_exports(text, path)))
    return FileFacts()


def _scan_files(args: tuple[str, list[str]]) -> list[tuple[str, FileFacts]]:
    root, paths = args
    out = []
    for path in paths:
        try:
            data = Path(root, path).read_bytes()
        except OSError:
            continue
        if classify(path) == "source" and b"EXPORT_" not in data:
            out.append((path, FileFacts()))
            continue
        out.append((path, facts_for(path, data.decode("utf-8", errors="replace"))))
    return out


def list_tree(root: Path) -> dict[str, str]:
    """Relative path -> 'size:mtime_ns' fingerprint of every file the index reads."""
    out: dict[str, str] = {}
    base = str(root)
    for directory, dirs, files in os.walk(base):
        rel = os.path.relpath(directory, base)
        rel = "" if rel == "." else rel.replace(os.sep, "/")
        if not rel:
            dirs[:] = [d for d in dirs if d not in _SKIP_TOP]
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            path = f"{rel}/{name}" if rel else name
            if classify(path) is None:
                continue
            try:
                stat = os.stat(os.path.join(directory, name))
            except OSError:
                continue
            out[path] = f"{stat.st_size}:{stat.st_mtime_ns}"
    return out


def tree_key(root: Path) -> str:
    """The tree's identity: its git commit when it is a checkout, else its path."""
    head = None
    if (root / ".git").exists():
        try:
            head = subprocess.run(
                ["git", "-C", str(root), "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            head = None
    stamp = root / ".reviewbot-source"
    if head is None and stamp.exists():
        head = stamp.read_text().strip()
    return head or "path:" + str(root.resolve())


def cache_file(cache_dir: Path, root: Path) -> Path:
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return cache_dir / "index" / f"{digest}.v{INDEX_FORMAT}.pickle"


def _chunks(items: list[str], count: int) -> Iterable[list[str]]:
    size = max(1, len(items) // count + 1)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def build_index(
    root: Path, cache_dir: Path, progress: Progress | None = None, workers: int | None = None
) -> TreeIndex:
    """Index a tree, reusing cached facts of files whose fingerprint did not change."""
    root = root.resolve()
    if not (root / "Kconfig").is_file() and not any(root.glob("*/Kconfig")):
        raise TreeError(f"{root}: not a Kconfig tree (no Kconfig file at its top)")
    started = time.monotonic()
    cached: dict[str, tuple[str, FileFacts]] = {}
    store = cache_file(cache_dir, root)
    if store.exists():
        try:
            with store.open("rb") as handle:
                cached = pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
            log.warning("index cache %s unreadable (%s); rebuilding", store, exc)
            cached = {}
    listing = list_tree(root)
    stale = [p for p, fp in listing.items() if cached.get(p, ("", None))[0] != fp]
    facts: dict[str, tuple[str, FileFacts]] = {
        p: cached[p] for p in listing if p in cached and p not in set(stale)
    }
    if stale:
        total = len(stale)
        done = 0
        jobs = list(_chunks(sorted(stale), 64 if total > 2000 else 1))
        workers = workers or min(os.cpu_count() or 1, 4)
        if total > 2000 and workers > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for batch in pool.map(_scan_files, [(str(root), job) for job in jobs]):
                    for path, found in batch:
                        facts[path] = (listing[path], found)
                    done += len(batch)
                    if progress:
                        progress("index", done, total)
        else:
            for job in jobs:
                for path, found in _scan_files((str(root), job)):
                    facts[path] = (listing[path], found)
                done += len(job)
                if progress:
                    progress("index", done, total)
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            pickle.dump(facts, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(store)
    index = merge(root, tree_key(root), {p: f for p, (_, f) in facts.items()})
    index.kconfig_digest = kconfig_digest(root, listing)
    log.info(
        "indexed %s: %d files re-read of %d, %d symbols, %d exports in %.1fs",
        root,
        len(stale),
        len(listing),
        len(index.symbols),
        len(index.exports),
        time.monotonic() - started,
    )
    return index


def kconfig_digest(root: Path, listing: dict[str, str]) -> str:
    """Identity of everything a Kconfig parse reads: the Kconfig files and kconfig scripts.

    Two checkouts whose Kconfig files are the same get the same digest, so a cached
    parse is reused when a base commit differs only outside Kconfig.
    """
    digest = hashlib.sha256(str(root).encode())
    for path in sorted(listing):
        if classify(path) == "kconfig":
            digest.update(f"{path}\0{listing[path]}\n".encode())
    return digest.hexdigest()[:20]


def merge(root: Path | str, key: str, facts: dict[str, FileFacts]) -> TreeIndex:
    """Combine per-file facts into one index (pure)."""
    index = TreeIndex(root=str(root), key=key)
    kconfig: set[str] = set()
    kbuild: set[str] = set()
    for path in sorted(facts):
        found = facts[path]
        kind = classify(path)
        if kind == "kconfig":
            kconfig.add(path)
        elif kind == "kbuild":
            kbuild.add(path)
        for symbol in found.symbols:
            index.symbols.setdefault(symbol.name, []).append(symbol)
        for export in found.exports:
            index.exports.setdefault(export.name, []).append(export)
        directory = posixpath.dirname(path)
        for ref in found.objects:
            target = posixpath.normpath(posixpath.join(directory, ref.target))
            if ref.target.endswith("/"):
                target += "/"
            index.objects.setdefault(target, []).append(ref)
    index.kconfig_files = frozenset(kconfig)
    index.kbuild_files = frozenset(kbuild)
    return index
