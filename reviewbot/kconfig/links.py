"""Which CONFIG builds a file, and which exported functions a patch's new code calls (pure).

Feeds the link rules: code built by CONFIG_Y that calls a function exported from an object
built by CONFIG_X needs X whenever Y is on (=y needs X=y: built-in code cannot call a
module). The Kconfig worker then looks for a configuration where that does not hold.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.analysis.facts import PatchedIndex

_CALL = re.compile(r"\b([a-z_][a-z0-9_]*)\s*\(")
NOT_CALLS = {
    "if",
    "for",
    "while",
    "switch",
    "return",
    "sizeof",
    "typeof",
    "__typeof__",
    "defined",
    "alignof",
    "_Alignof",
    "__alignof__",
    "offsetof",
    "container_of",
    "likely",
    "unlikely",
    "case",
    "do",
    "else",
    "asm",
    "__asm__",
    "volatile",
    "__attribute__",
    "_Static_assert",
}
MAX_CALLS = 24
# Makefile lists that are not composite objects (obj-y, lib-y, the top Makefile's core-y...)
KBUILD_LISTS = ("obj", "lib", "core", "drivers", "net", "libs")


@dataclass(frozen=True)
class Call:
    """A new call from code built by consumer to a function built by provider."""

    path: str
    line: int
    function: str  # as written
    export: str  # the exported symbol it resolves to (f or __f)
    consumer: str
    provider: str
    provider_object: str


def controlling_config(index: PatchedIndex, obj: str, depth: int = 0) -> str | None:
    """The CONFIG symbol that decides whether obj ('dir/x.o' or 'dir/') is built."""
    if depth > 8:
        return None
    refs = index.builders_of(obj)
    directory = posixpath.dirname(obj.rstrip("/"))
    for ref in refs:
        if ref.config:
            return ref.config
    for ref in refs:
        if ref.prefix == "obj" and ref.suffix in ("y", "m"):
            if ref.suffix == "m":
                return None
            return controlling_config(index, directory + "/", depth + 1) if directory else None
        if ref.prefix not in KBUILD_LISTS:
            return controlling_config(index, f"{directory}/{ref.prefix}.o", depth + 1)
    return None


def consumer_of(index: PatchedIndex, obj: str) -> str | None:
    """The Kconfig condition under which obj's code is built, as the link questions ask it.

    Usually one symbol (controlling_config). A part of a composite module gated by its
    own symbol (`cifs-$(CONFIG_CIFS_SMB_DIRECT) += smbdirect.o` inside `obj-$(CONFIG_CIFS)
    += cifs.o`) is built only when both are on, and is built in only when the module's
    symbol is y: the answer is then 'CIFS_SMB_DIRECT&CIFS' (every part must hold)."""
    directory = posixpath.dirname(obj)
    for ref in index.builders_of(obj):
        if ref.config and ref.prefix not in KBUILD_LISTS and directory:
            owner = controlling_config(index, f"{directory}/{ref.prefix}.o")
            if owner and owner != ref.config:
                return f"{ref.config}&{owner}"
    return controlling_config(index, obj)


def condition_parts(subject: str) -> list[str]:
    """The symbols of a consumer condition ('A&B' -> ['A', 'B'])."""
    return [part for part in subject.split("&") if part]


def condition_value(values: Mapping[str, str], subject: str) -> str:
    """A consumer condition's value in a .config: its weakest part (n < m < y)."""
    got = [values.get(name, "n") for name in condition_parts(subject)]
    return min(got, key="nmy".index, default="n")


def condition_state(values: Mapping[str, str], subject: str) -> str:
    """'A=y B=m': each part of a consumer condition with its value."""
    return " ".join(f"{name}={values.get(name, 'n')}" for name in condition_parts(subject))


def describe_consumer(subject: str) -> str:
    """A consumer condition for a finding's text: 'A (part of B's module)'."""
    parts = condition_parts(subject)
    if len(parts) < 2:
        return subject
    return f"{parts[0]} (part of {'/'.join(parts[1:])}'s module)"


def _object_of(path: str) -> str | None:
    if not path.endswith((".c", ".S")):
        return None
    return path[:-2] + ".o"


def _strip_comment(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text)
    text = re.sub(r"//.*$", "", text)
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)


def new_calls(changes: Iterable[FileChange], index: PatchedIndex) -> list[Call]:
    """Calls on added lines of .c files to functions exported by objects of another CONFIG."""
    out: list[Call] = []
    seen: set[tuple[str, str, str]] = set()
    for change in changes:
        obj = _object_of(change.path)
        if obj is None or change.kind is ChangeKind.DELETED or change.binary:
            continue
        consumer = consumer_of(index, obj)
        if consumer is None:
            continue
        for line in change.added:
            text = _strip_comment(line.text)
            if text.lstrip().startswith("#"):
                continue
            for match in _CALL.finditer(text):
                function = match.group(1)
                if function in NOT_CALLS:
                    continue
                call = _resolve(index, change.path, line.number, function, consumer)
                if call is None or (call.consumer, call.provider, call.export) in seen:
                    continue
                seen.add((call.consumer, call.provider, call.export))
                out.append(call)
                if len(out) >= MAX_CALLS:
                    return out
    return out


def _resolve(
    index: PatchedIndex, path: str, line: int, function: str, consumer: str
) -> Call | None:
    for export in (function, "__" + function):
        defs = index.export_defs(export)
        if not defs or any(d.path == path for d in defs):
            continue
        providers = {}
        for definition in defs:
            obj = _object_of(definition.path)
            config = controlling_config(index, obj) if obj else None
            if config is None:
                return None  # exported by always-built code somewhere: links
            providers[config] = obj
        if set(condition_parts(consumer)) & set(providers) or len(providers) != 1:
            return None
        ((provider, provider_object),) = providers.items()
        return Call(path, line, function, export, consumer, provider, provider_object or "")
    return None


def resolve_call(index: PatchedIndex, path: str, function: str, consumer: str) -> Call | None:
    """The exported function a call in path (built by consumer) resolves to, if another
    single CONFIG provides it."""
    return _resolve(index, path, 0, function, consumer)
