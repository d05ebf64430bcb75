"""Where kbuild objects come from: sources, composite lists, generated files (pure).

`object_verdict` answers "can this Makefile word be built?" for the words of obj-/lib-/
composite lists, and `named_by_kbuild` "does any Makefile build this source?"; both say
"unsure" whenever make could find a way we do not model (a pattern rule, a variable-named
composite, a file generated from a same-named input, a wildcard).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property, lru_cache

from reviewbot.analysis.view import TreeView
from reviewbot.rules.kbuild_make import (
    MakeLine,
    MakeRule,
    assignment,
    make_lines,
    parse_rules,
    split_words,
)

SOURCE_SUFFIXES = (".c", ".S", ".rs")
_VARIABLE_COMPOSITE = re.compile(r"\$[({][^)}]*[)}]-(?:y|m|objs|\$[({]CONFIG_\w+[)}])$")
_VARIABLE_WORD = re.compile(r"(?<![\w.$(){}-])(?:[\w.-]*\$[({][\w.-]+[)}])+[\w.-]*\.o\b")
_OBJ_PREFIXES = ("$(obj)/", "$(src)/", "$(objtree)/$(obj)/", "$(srctree)/$(src)/")


class Verdict(StrEnum):
    FOUND = "found"
    MISSING = "missing"
    UNSURE = "unsure"


@dataclass(frozen=True)
class KbuildDir:
    """The kbuild files of one directory, read once: their texts, rules and assignments."""

    directory: str
    texts: tuple[str, ...]
    rules: tuple[MakeRule, ...]
    assigned: frozenset[str]

    @classmethod
    def read(cls, view: TreeView, directory: str) -> KbuildDir:
        """The directory's Makefile, Kbuild and Makefile.* plus the fragments they include."""
        texts: list[str] = []
        for name in view.listdir(directory):
            if name in ("Makefile", "Kbuild") or name.startswith(("Makefile.", "Kbuild.")):
                text = view.read(posixpath.join(directory, name))
                if text is not None:
                    texts.append(text)
        for text in list(texts):
            for fragment in included(text):
                extra = view.read(posixpath.join(directory, fragment))
                if extra is not None:
                    texts.append(extra)
        rules: list[MakeRule] = []
        assigned: set[str] = set()
        for text in texts:
            lines = make_lines(text)
            rules.extend(parse_rules(lines))
            for line in lines:
                found = assignment(line)
                if found:
                    assigned.add(found[0])
        return cls(directory, tuple(texts), tuple(rules), frozenset(assigned))

    def composite(self, stem: str) -> bool | None:
        """True when `stem-y`/`stem-objs`/... is assigned here; None when a name is a variable."""
        if stem.startswith("../"):
            return None
        if stem in self._composites[0]:
            return True
        return None if self._composites[1] else False

    @cached_property
    def _composites(self) -> tuple[frozenset[str], bool]:
        """The stems assigned as composites here, and whether a name is a variable (one
        pass over the assignments, however many objects are asked about)."""
        stems: set[str] = set()
        for name in self.assigned:
            stem, dash, suffix = name.rpartition("-")
            if dash and suffix in ("y", "m", "objs"):
                stems.add(stem)
            for marker in ("-$(CONFIG_", "-${CONFIG_"):
                if marker in name:
                    stems.add(name[: name.index(marker)])
        variable = any(_VARIABLE_COMPOSITE.search(name) for name in self.assigned)
        return frozenset(stems), variable

    def makes(self, names: tuple[str, ...]) -> bool:
        """Whether a rule here can make one of names (relative to the directory)."""
        for current in self.rules:
            for target in current.targets:
                bare = _strip_obj(target)
                if "$" in bare:
                    if any(_word_in(name, bare) for name in names):
                        return True
                    continue
                if any(
                    bare == name
                    or ("%" in bare and fnmatch.fnmatchcase(name, bare.replace("%", "*")))
                    for name in names
                ):
                    return True
        return False

    def list_used(self, name: str) -> bool:
        """Whether a list variable is also read as $(name): a plain list, not kbuild's."""
        return any(f"$({name})" in text or f"${{{name}}}" in text for text in self.texts)

    def pattern_built(self) -> bool:
        """Whether a pattern rule here compiles sources under other names ($(obj)/%-32.o)."""
        return any(
            any("%" in t for t in rule.targets)
            and any("%" in p and p.endswith((".c", ".S")) for p in rule.prerequisites)
            for rule in self.rules
        )

    def may_expand_to(self, name: str) -> bool:
        """Whether a word like process_$(BITS).o or $(ev6-y)memchr.o could be `name`."""
        for text in self.texts:
            for match in _VARIABLE_WORD.finditer(text):
                pattern = "".join(
                    "[\\w.-]*" if part.startswith("$") else re.escape(part)
                    for part in re.split(r"(\$[({][\w.-]+[)}])", match.group(0))
                    if part
                )
                if re.fullmatch(pattern, name):
                    return True
        return False

    def mentions(self, names: tuple[str, ...]) -> bool:
        """Whether any kbuild text here names one of the files (targets +=, clean-files...)."""
        return any(_word_in(name, text) for name in names for text in self.texts)


_KBUILD_WORD = re.compile(r"[\w.-]+")


def _word_in(name: str, text: str) -> bool:
    if _KBUILD_WORD.fullmatch(name):
        return name in _kbuild_words(text)  # one pass per text, however many names
    return re.search(r"(?<![\w.-])" + re.escape(name) + r"(?![\w.-])", text) is not None


@lru_cache(maxsize=32)
def _kbuild_words(text: str) -> frozenset[str]:
    return frozenset(_KBUILD_WORD.findall(text))


_INCLUDE = re.compile(r"^[ \t]*-?include[ \t]+(.+)$", re.MULTILINE)


def included(text: str) -> list[str]:
    """Fragments a kbuild file includes from its own source directory: `include $(src)/x`."""
    out: list[str] = []
    for match in _INCLUDE.finditer(text):
        for word in match.group(1).split():
            for prefix in ("$(srctree)/$(src)/", "$(src)/"):
                if word.startswith(prefix) and "$" not in word[len(prefix) :]:
                    out.append(posixpath.normpath(word[len(prefix) :]))
    return out


def context_dir(view: TreeView, path: str) -> str:
    """The directory a kbuild file's words are relative to: its includer's, for a fragment."""
    directory = posixpath.dirname(path)
    if re.fullmatch(r"arch/[^/]+/Makefile[^/]*", path):
        return ""  # included by the top-level Makefile
    ancestor = directory
    for _ in range(4):
        if not ancestor:
            break
        ancestor = posixpath.dirname(ancestor)
        relative = posixpath.relpath(path, ancestor) if ancestor else path
        for name in ("Makefile", "Kbuild"):
            text = view.read(posixpath.join(ancestor, name))
            if text and relative in included(text):
                return ancestor
    return directory


def _strip_obj(target: str) -> str:
    for prefix in _OBJ_PREFIXES:
        if target.startswith(prefix):
            return target[len(prefix) :]
    return target


def directory_verdict(view: TreeView, directory: str) -> Verdict:
    """A `dir/` word needs dir/Makefile or dir/Kbuild."""
    if view.exists(posixpath.join(directory, "Makefile")) or view.exists(
        posixpath.join(directory, "Kbuild")
    ):
        return Verdict.FOUND
    return Verdict.MISSING


def object_verdict(view: TreeView, here: KbuildDir, word: str) -> Verdict:
    """Whether `word` (foo.o or sub/foo.o, relative to here) has a way to be built."""
    relative = word[:-2]
    directory = posixpath.normpath(posixpath.join(here.directory, posixpath.dirname(relative)))
    stem = posixpath.basename(relative)
    if directory.startswith("..") or _source_near(view, here.directory, relative):
        return Verdict.FOUND
    composite = here.composite(relative)
    if composite:
        return Verdict.FOUND
    names = (word, *(relative + s for s in SOURCE_SUFFIXES))
    if here.makes(names) or here.mentions(names[1:]):
        return Verdict.FOUND
    root = stem.split(".", 1)[0]
    for name in view.listdir(directory):
        if name.startswith((root + ".", root + "_shipped")) and not name.endswith(".h"):
            return Verdict.UNSURE  # generated from foo.asn1, foo.y, foo.c_shipped, ...
    if composite is None:
        return Verdict.UNSURE
    return Verdict.MISSING


_LIST_NAME = re.compile(
    r"^(?P<prefix>[A-Za-z0-9_./\-]+?)-(?P<suffix>y|m|objs|\$\(CONFIG_\w+\)|\$\{CONFIG_\w+\})$"
)


@dataclass(frozen=True)
class ObjWord:
    """One literal object or directory word of an obj-/lib-/composite list."""

    line: MakeLine
    prefix: str
    suffix: str
    word: str


def obj_words(lines: list[MakeLine]) -> list[ObjWord]:
    """Literal `foo.o` and `dir/` words of list assignments; $(...) groups are skipped whole."""
    out: list[ObjWord] = []
    for line in lines:
        found = assignment(line)
        if not found or found[1] not in ("=", ":=", "+=", "::="):
            continue
        match = _LIST_NAME.match(found[0])
        if not match or match.group("prefix").endswith("flags"):
            continue  # ccflags-y, subdir-asflags-$(CONFIG_X): flags, not objects
        for word in split_words(found[2]):
            if "$" in word or "%" in word or "*" in word or word.startswith("-"):
                continue
            if word.endswith((".o", "/")):
                out.append(ObjWord(line, match.group("prefix"), match.group("suffix"), word))
    return out


def _source_near(view: TreeView, directory: str, relative: str) -> bool:
    """A source for `relative` here or, for a file included by a parent Makefile, above."""
    while True:
        base = posixpath.normpath(posixpath.join(directory, relative))
        if not base.startswith("..") and any(view.exists(base + s) for s in SOURCE_SUFFIXES):
            return True
        if not directory:
            return False
        directory = posixpath.dirname(directory)


_WILDCARD = re.compile(
    r"\$\((?:wildcard|patsubst|subst|shell|notdir|basename)\b[^\n]*(?:\.[cSo]\b|%)"
    r"|\$\([\w-]+:[^)\n]*%"  # substitution references: $(VERSIONS:%=reg/foo-v%.o)
)


def source_tokens(path: str) -> tuple[str, ...]:
    """Words a kbuild file would use for a source file: foo.o, foo.c (rules), foo.lds."""
    name = posixpath.basename(path)
    stem = name.rsplit(".", 1)[0]
    return (stem + ".o", name, stem) if "." in stem else (stem + ".o", name)


def named_by_kbuild(view: TreeView, path: str, cache: dict[str, KbuildDir]) -> Verdict:
    """FOUND when a kbuild file here, above or just below names the source; UNSURE when one
    builds names with wildcards or pattern rules."""
    tokens = source_tokens(path)
    bare = posixpath.basename(path).rsplit(".", 1)[0]
    start = posixpath.dirname(path)
    unsure = False
    for depth, directory in enumerate(_upwards(start)):
        here = _kbuild_dir(view, directory, cache)
        if (
            here.mentions(tokens)
            or (depth == 0 and here.mentions((bare,)))
            or here.may_expand_to(tokens[0])
        ):
            return Verdict.FOUND
        if directory:
            unsure = unsure or any(_WILDCARD.search(text) for text in here.texts)
        if depth == 0:
            unsure = unsure or here.pattern_built()
    for name in view.listdir(start):
        child = posixpath.join(start, name)
        if "." not in name and _kbuild_dir(view, child, cache).mentions(tokens[:1]):
            return Verdict.FOUND  # obj-y += ../foo.o from a subdirectory
    return Verdict.UNSURE if unsure else Verdict.MISSING


def _upwards(directory: str) -> Iterator[str]:
    while True:
        yield directory
        if not directory:
            return
        directory = posixpath.dirname(directory)


def _kbuild_dir(view: TreeView, directory: str, cache: dict[str, KbuildDir]) -> KbuildDir:
    found = cache.get(directory)
    if found is None:
        found = cache[directory] = KbuildDir.read(view, directory)
    return found


_INCLUDE_LINE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*["<]([^">]+)[">]', re.MULTILINE)


def included_by_neighbour(view: TreeView, path: str) -> bool:
    """Whether a C/asm file in the source's directory or its parent #includes it."""
    name = posixpath.basename(path)
    directory = posixpath.dirname(path)
    for place in {directory, posixpath.dirname(directory)}:
        for other in view.listdir(place):
            if not other.endswith((".c", ".h", ".S")) or posixpath.join(place, other) == path:
                continue
            text = view.read(posixpath.join(place, other)) or ""
            if name in text and includes(text, name):
                return True
    return False


def includes(text: str, name: str) -> bool:
    """Whether text has `#include "...name"`."""
    return any(posixpath.basename(m.group(1)) == name for m in _INCLUDE_LINE.finditer(text))
