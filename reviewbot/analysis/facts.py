"""An index as seen after a patch: base facts with the touched files rescanned (pure)."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

from reviewbot.tree.index import FileFacts, TreeIndex
from reviewbot.tree.scan import ExportDef, ObjRef, SymbolDef


class PatchedIndex:
    """TreeIndex queries answered for a tree where some files were replaced or deleted."""

    def __init__(self, base: TreeIndex, touched: Mapping[str, FileFacts | None]) -> None:
        self.base = base
        self.touched = dict(touched)
        self._symbols: dict[str, list[SymbolDef]] = {}
        self._exports: dict[str, list[ExportDef]] = {}
        self._objects: dict[str, list[ObjRef]] = {}
        self._by_basename: dict[str, list[str]] | None = None
        for path, facts in self.touched.items():
            if facts is None:
                continue
            for symbol in facts.symbols:
                self._symbols.setdefault(symbol.name, []).append(symbol)
            for export in facts.exports:
                self._exports.setdefault(export.name, []).append(export)
            directory = posixpath.dirname(path)
            for ref in facts.objects:
                target = posixpath.normpath(posixpath.join(directory, ref.target))
                if ref.target.endswith("/"):
                    target += "/"
                self._objects.setdefault(target, []).append(ref)

    def objects_in(self, directory: str) -> list[str]:
        """Objects ('dir/x.o') some Makefile names in directory, after the patch."""
        found = {o for o in self.base.objects if posixpath.dirname(o) == directory}
        found |= {o for o in self._objects if posixpath.dirname(o) == directory}
        return sorted(o for o in found if o.endswith(".o") and self.builders_of(o))

    def symbol_defs(self, name: str) -> list[SymbolDef]:
        kept = [d for d in self.base.symbols.get(name, ()) if d.path not in self.touched]
        return kept + self._symbols.get(name, [])

    def is_defined(self, name: str) -> bool:
        return bool(self.symbol_defs(name))

    def types_of(self, name: str) -> set[str]:
        return {d.type for d in self.symbol_defs(name) if d.type}

    def export_defs(self, name: str) -> list[ExportDef]:
        kept = [d for d in self.base.exports.get(name, ()) if d.path not in self.touched]
        return kept + self._exports.get(name, [])

    def builders_of(self, obj_path: str) -> list[ObjRef]:
        kept = [r for r in self.base.objects.get(obj_path, ()) if r.makefile not in self.touched]
        return kept + self._objects.get(obj_path, [])

    def selectors_of(self, name: str) -> list[str]:
        """Symbols whose entries `select name` (any arch), in the patched tree."""
        found = {d.name for d in self.base.selectors.get(name, ()) if d.path not in self.touched}
        for defs in self._symbols.values():
            for d in defs:
                if any(target == name for target, _ in d.selects):
                    found.add(d.name)
        return sorted(found)

    def all_symbol_names(self) -> set[str]:
        return set(self.base.symbols) | set(self._symbols)

    def module_paths(self, basename: str) -> list[str]:
        """Object paths whose basename is `basename`.o and that can be modules."""
        out = []
        candidates = set(self.base.module_names().get(basename, ()))
        if self._by_basename is None:  # once: asking for each of many objects stays linear
            self._by_basename = {}
            for object_path in self._objects:
                self._by_basename.setdefault(posixpath.basename(object_path), []).append(
                    object_path
                )
        candidates |= set(self._by_basename.get(basename + ".o", ()))
        for path in sorted(candidates):
            if any(r.prefix == "obj" and r.suffix != "y" for r in self.builders_of(path)):
                out.append(path)
        return out
