"""Which objects can be modules, what they are built from, and their MODULE_* tags (pure).

Answers from a tree view and an index (base or patched): whether `obj-m`/`obj-$(CONFIG_X)`
with a tristate X can make an object a module, which sources a module is linked from
(`foo-y := a.o b.o` or foo.c), and whether those sources, or the quoted `.c`/`.h` files
they `#include`, carry MODULE_LICENSE() or MODULE_DESCRIPTION().
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from reviewbot.analysis.facts import PatchedIndex
from reviewbot.analysis.view import TreeView
from reviewbot.tree.index import TreeIndex
from reviewbot.tree.scan import ObjRef, logical_lines, scan_makefile

TAGS = {
    "license": re.compile(r"\bMODULE_LICENSE\s*\("),
    "description": re.compile(r"\bMODULE_DESCRIPTION\s*\("),
}
_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"([^"]+\.[ch])"', re.MULTILINE)
_NOT_MODULE_PREFIXES = {"obj", "lib", "always", "extra", "hostprogs", "targets", "subdir"}
_INCLUDE_DEPTH = 2


@dataclass(frozen=True)
class Sources:
    """What a module object is linked from: C/assembly sources, or Rust (tagged itself).

    `unresolved` is set when the list cannot be read fully from the Makefile (parts named
    through variables or an included Makefile); such modules are not judged.
    """

    files: tuple[str, ...]
    rust: bool = False
    unresolved: bool = False


def obj_path(makefile: str, target: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(makefile), target))


def types_for(index: PatchedIndex, symbol: str, obj: str) -> set[str]:
    """A symbol's types as seen by an object: arch/A/ objects ignore other arches' defs."""
    defs = index.symbol_defs(symbol)
    if obj.startswith("arch/"):
        own = "/".join(obj.split("/")[:2]) + "/"
        defs = [d for d in defs if not d.path.startswith("arch/") or d.path.startswith(own)]
    return {d.type for d in defs if d.type}


def modular(index: PatchedIndex, obj: str) -> str | None:
    """Why obj can be built as a module ('obj-m' or the tristate symbol), or None."""
    for ref in index.builders_of(obj):
        if ref.prefix != "obj":
            continue
        if ref.suffix == "m":
            return "obj-m"
        if ref.config and "tristate" in types_for(index, ref.config, obj):
            return ref.config
    return None


def module_sources(view: TreeView, index: PatchedIndex, obj: str) -> Sources | None:
    """The files obj is linked from, or None when no source can be found (generated)."""
    name = posixpath.basename(obj)[:-2]
    parts: list[str] = []
    unresolved = False
    for makefile in sorted({r.makefile for r in index.builders_of(obj) if r.prefix == "obj"}):
        text = view.read(makefile)
        if text is None:
            continue
        for ref in scan_makefile(text, makefile):
            if ref.prefix == name and ref.target.endswith(".o"):
                parts.append(obj_path(makefile, ref.target))
        unresolved = unresolved or _hidden_parts(text, name)
    files: list[str] = []
    for part in parts or [obj]:
        stem = part[:-2]
        if view.exists(stem + ".rs"):
            return Sources((), rust=True)
        for suffix in (".c", ".S"):
            if view.exists(stem + suffix):
                files.append(stem + suffix)
                break
    if not files:
        return None
    return Sources(tuple(files), unresolved=unresolved or (bool(parts) and len(files) < len(parts)))


def _hidden_parts(makefile_text: str, name: str) -> bool:
    """Whether the composite's parts are named through variables or an include."""
    assign = re.compile(rf"^\s*{re.escape(name)}-(?:y|m|objs|\$\(CONFIG_\w+\))\s*[:+?]?=(.*)$")
    for _number, line in logical_lines(makefile_text):
        if re.match(r"^\s*-?include\b", line):
            return True
        match = assign.match(line)
        if match and "$" in match.group(1):
            return True
    return False


def has_tag(view: TreeView, files: Iterable[str], tag: str) -> bool:
    """Whether any file, or a quoted .c/.h file it includes, has MODULE_<tag>()."""
    pattern = TAGS[tag]
    return any(pattern.search(text) for _path, text in _with_includes(view, files))


def _with_includes(view: TreeView, files: Iterable[str]) -> Iterator[tuple[str, str]]:
    seen: set[str] = set()
    todo = [(path, 0) for path in files]
    while todo:
        path, depth = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        text = view.read(path)
        if text is None:
            continue
        yield path, text
        if depth >= _INCLUDE_DEPTH or "#include" not in text:
            continue
        directory = posixpath.dirname(path)
        for match in _INCLUDE.finditer(text):
            todo.append((posixpath.normpath(posixpath.join(directory, match.group(1))), depth + 1))


def modules_of_source(index: PatchedIndex, path: str) -> list[str]:
    """Module objects a .c/.S file is linked into: itself, or composites listing it."""
    if not path.endswith((".c", ".S")):
        return []
    obj = path[:-2] + ".o"
    out: list[str] = []
    for ref in index.builders_of(obj):
        if ref.prefix == "obj":
            out.append(obj)
        elif ref.prefix not in _NOT_MODULE_PREFIXES and not ref.prefix.endswith("-objs"):
            out.append(obj_path(ref.makefile, ref.prefix + ".o"))
    return sorted(set(out))


_BY_CONFIG: dict[int, tuple[TreeIndex, dict[str, set[str]]]] = {}


def objects_built_by(index: PatchedIndex, symbol: str) -> list[str]:
    """Objects listed as `obj-$(CONFIG_symbol)` in the patched tree."""
    found = _BY_CONFIG.get(id(index.base))
    if found is None or found[0] is not index.base:
        table: dict[str, set[str]] = {}
        for path, refs in index.base.objects.items():
            for ref in refs:
                if ref.prefix == "obj" and ref.config and path.endswith(".o"):
                    table.setdefault(ref.config, set()).add(path)
        _BY_CONFIG.clear()
        found = _BY_CONFIG[id(index.base)] = (index.base, table)
    candidates = set(found[1].get(symbol, ()))
    for makefile, facts in index.touched.items():
        if facts is None:
            continue
        for ref in facts.objects:
            if ref.config == symbol:
                candidates.add(obj_path(makefile, ref.target))
    return sorted(
        obj
        for obj in candidates
        if obj.endswith(".o") and any(_built_by(r, symbol) for r in index.builders_of(obj))
    )


def _built_by(ref: ObjRef, symbol: str) -> bool:
    return ref.prefix == "obj" and ref.config == symbol
