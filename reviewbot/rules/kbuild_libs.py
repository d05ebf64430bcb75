"""MK008: objects put in lib-y of a directory whose lib.a nothing links (pure).

kbuild archives a directory's `lib-y` objects into `<dir>/lib.a`, and vmlinux links only
the lib.a of the directories listed in `libs-y` (the top Makefile's `lib/`, each arch's
`arch/<arch>/lib/`, a few platform libraries). Anywhere else lib.a is built and never
linked: the objects' functions are undefined for their callers (the blake2s series of
December 2021: `lib-y += blake2s-generic.o` in lib/crypto/ left blake2s.o calling an
undefined blake2s_compress). A lib.a that a Makefile links by name (boot wrappers, the
EFI stub) counts as linked.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator

from reviewbot.analysis.diff import FileChange
from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule, rule

_LIB_LINE = re.compile(r"^\s*lib-(y|\$\(CONFIG_[A-Za-z0-9_]+\))\s*[:+]?=\s*\S")
_LIBS_WORDS = re.compile(r"^\s*libs-[^\s:+?=]*\s*[:+?]?=(.*)$", re.MULTILINE)
_ARCH_VAR = re.compile(r"\$\((?:SRCARCH|ARCH|HEADER_ARCH)\)")
MAX_KBUILD_FILES = 6000


def _directory(path: str) -> str | None:
    """The kbuild directory of a Makefile/Kbuild file (None: not a per-directory one)."""
    name = posixpath.basename(path)
    if name not in ("Makefile", "Kbuild"):
        return None
    directory = posixpath.dirname(path)
    # the top Makefile and the arch Makefiles list libs-y; they have no lib-y of their own
    if not directory or re.fullmatch(r"arch/[^/]+", directory):
        return None
    return directory


def _linked_words(path: str, text: str) -> Iterator[str]:
    """Directories and lib.a files a kbuild file puts in libs-* (arch variables expanded)."""
    arch = path.split("/")[1] if path.startswith("arch/") and path.count("/") >= 2 else ""
    for match in _LIBS_WORDS.finditer(text):
        words = match.group(1)
        if arch:
            words = _ARCH_VAR.sub(arch, words)
        for word in words.split():
            yield word.removeprefix("$(objtree)/").removeprefix("$(srctree)/")


def _platform_files(directories: Iterable[str]) -> set[str]:
    """Per-platform include files of arch trees (arch/mips/dec/Platform) above directories."""
    out: set[str] = set()
    for directory in directories:
        parts = directory.split("/")
        out.update("/".join(parts[:end]) + "/Platform" for end in range(2, len(parts) + 1))
    return out


_ARCHIVE = re.compile(r"([\w.$()/-]+)/lib\.a\b")


def linked_directories(ctx: PatchContext, directories: Iterable[str]) -> set[str]:
    """Directories whose lib.a the patched tree links: libs-y names them, or a kbuild file
    names their archive (read once for all the patch's directories)."""
    wanted = set(directories)
    files = sorted(ctx.index.kbuild_files | {c.path for c in ctx.files("kbuild")})
    found: set[str] = set()
    for path in [*files[:MAX_KBUILD_FILES], *sorted(_platform_files(wanted))]:
        text = ctx.after.read(path)
        if not text or "lib" not in text:
            continue
        words = {w.rstrip("/") for w in _linked_words(path, text)}
        named = {m.group(1).removeprefix("$(objtree)/") for m in _ARCHIVE.finditer(text)}
        found |= wanted & (words | named)
        if found == wanted:
            break
    return found


def _first_lib_line(change: FileChange) -> int | None:
    return next((line.number for line in change.added if _LIB_LINE.match(line.text)), None)


@rule(
    "MK008",
    "kbuild-lib-y-never-linked",
    Severity.WARNING,
    "lib-y objects in a directory whose lib.a vmlinux never links.",
)
def lib_never_linked(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    candidates: list[tuple[FileChange, str, int]] = []
    for change in ctx.files("kbuild"):
        directory = _directory(change.path)
        line = _first_lib_line(change) if directory else None
        if directory is None or line is None:
            continue
        if "lib.a" not in (ctx.after.read(change.path) or ""):  # else it links its own
            candidates.append((change, directory, line))
    if not candidates:
        return
    linked = linked_directories(ctx, [d for _, d, _ in candidates])
    for change, directory, line in candidates:
        if directory in linked:
            continue
        yield rule.finding(
            change.path,
            line,
            f"lib-y objects of {directory}/ go into {directory}/lib.a, which nothing links: "
            "vmlinux links lib.a only from the directories in libs-y (lib/, "
            "arch/<arch>/lib/), so callers of these objects' functions get undefined "
            "references",
            hint="use obj-y (the object is then always linked; export what modules use)",
            evidence=[
                f"no libs-y entry and no kbuild file names {directory}/lib.a in the patched tree"
            ],
        )


RULES: tuple[Rule, ...] = (lib_never_linked,)
