"""Build rules: what the patched quick builds print that the base builds do not (pure).

BLD001: new compiler/objtool/linker diagnostics at W=1 in touched objects. BLD002:
`make M=<tiny module>` (an out-of-tree module) fails after the patch but not before.
BLD003: sparc64/alpha MODULES=y MODVERSIONS=y lose symbol CRCs (new 'version generation
failed' / 'has no CRC' / missing SYMBOL_CRC). Rules read ctx.builds (filled by the build
provider); without builds (disabled, compiler missing) they are silent. Every message
ends with the commands that reproduce it in a kernel checkout.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from reviewbot.analysis.diff import ChangeKind, FileChange
from reviewbot.build.anchor import anchor, output_lines
from reviewbot.build.diagnostics import new_diagnostics, step_failure
from reviewbot.build.model import BuildOutcome, DiagKind, Diagnostic, StepKind, StepResult
from reviewbot.build.planner import EXPORT_TRIGGERS, EXTMOD_TRIGGERS
from reviewbot.build.prepare import config_commands
from reviewbot.build.runner import TINY_MODULE
from reviewbot.kconfig.links import controlling_config
from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule, rule

_CRC_WORDS = ("version generation failed", "has no CRC", "__crc_", "SYMBOL_CRC")


def step_pairs(
    ctx: PatchContext, kind: StepKind
) -> Iterator[tuple[BuildOutcome, StepResult, StepResult]]:
    for outcome in ctx.builds:
        if outcome.error:
            continue
        for base, patched in zip(outcome.base, outcome.patched, strict=False):
            if base.step.kind is kind:
                yield outcome, base, patched


def describe(outcome: BuildOutcome) -> str:
    job = outcome.job
    missing = set(outcome.config_missing)
    on = [
        f"{s}={v}" for s, v in job.config.enable if s not in missing and (v != "n" or s != "WERROR")
    ]
    config = job.config.defconfig + (" + " + " ".join(on) if on else "")
    if missing:
        config += f" ({', '.join(sorted(missing))} could not be enabled)"
    return f"{job.arch.name}, {job.arch.compiler}, {config}"


def reproduce(outcome: BuildOutcome, step: StepResult) -> str:
    """The commands, as typed in a kernel checkout with the patch applied."""
    commands = list(config_commands(outcome.job.arch, outcome.job.config))
    if step.step.kind in (StepKind.EXTMOD, StepKind.MODVERSIONS):
        commands.append(
            f"mkdir ../tiny-module (with {TINY_MODULE}.c exporting a function, "
            f"{TINY_MODULE}_user.c calling it, and "
            f"'obj-m += {TINY_MODULE}.o {TINY_MODULE}_user.o' in Kbuild)"
        )
    commands += step.commands
    return "Reproduce: " + " && ".join(commands)


def _new(base: StepResult, patched: StepResult, changes: Iterable[FileChange]) -> list[Diagnostic]:
    found = new_diagnostics(base.diagnostics, patched.diagnostics, changes)
    failure = step_failure(base, patched)
    if failure is not None and not any(d.kind is DiagKind.ERROR for d in found):
        found.append(failure)
    return found


def _anchor(ctx: PatchContext, pattern: re.Pattern[str]) -> tuple[str, int | None]:
    """The first changed line (post-image) of the first file matching pattern."""
    for change in ctx.files():
        if not pattern.match(change.path) or change.kind is ChangeKind.DELETED:
            continue
        for hunk in change.hunks:
            line = hunk.target_start
            for op, _text in hunk.lines:
                if op in "+-":
                    return change.path, max(line, 1)
                line += 1
        return change.path, None
    return "", None


def _unsure(
    ctx: PatchContext, outcome: BuildOutcome, diag: Diagnostic, targets: tuple[str, ...] = ()
) -> str:
    """Why diag may come from code the config leaves out ('' when it cannot)."""
    missing = set(outcome.config_missing)
    if not missing:
        return ""
    if diag.path.endswith((".c", ".S")):
        config = controlling_config(ctx.index_after, diag.path[:-2] + ".o")
        if config not in missing:
            return ""  # the object that printed it was really configured in
    elif targets and not {controlling_config(ctx.index_after, t) for t in targets} <= missing:
        # A header diagnostic: the step compiled objects that were really configured in
        # (every one of them includes the changed header).
        return ""
    names = ", ".join(sorted(missing))
    return (
        f"{names} could not be enabled on {outcome.job.arch.name} (unmet dependencies), "
        "and the warning may come from an object it controls: the compiler may have seen "
        "code this config leaves out"
    )


@rule(
    "BLD001",
    "build-new-warning",
    Severity.WARNING,
    "A touched object gets a new compiler, objtool or linker diagnostic at W=1.",
)
def build_new_warning(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    merged: dict[tuple[str, int | None, str], _Seen] = {}
    for outcome, base, patched in step_pairs(ctx, StepKind.OBJECTS):
        for diag in _new(base, patched, ctx.changes):
            key = (diag.path, diag.line, diag.text)
            if key not in merged:
                merged[key] = _Seen(diag, [], reproduce(outcome, patched), [], patched)
            merged[key].where.append(describe(outcome))
            targets = patched.step.targets if patched.step.cause else ()
            merged[key].doubts.append(_unsure(ctx, outcome, diag, targets))
    for seen in merged.values():
        diag = seen.diag
        severity = Severity.ERROR if diag.kind is DiagKind.ERROR else Severity.WARNING
        evidence = [ln for ln in output_lines(seen.step.excerpt) if ln]
        if all(seen.doubts):
            # The compiling object's symbol may have stayed off: possibly dead code.
            severity = Severity.INFO
            evidence = list(dict.fromkeys(seen.doubts)) + evidence
        path, line = anchor(diag, ctx.changes, seen.step.step.cause)
        # A user of a changed header, outside the patch: say where, and why it was built.
        outside = f" in {diag}" if (path, line) != (diag.path, diag.line) else ""
        outside += f", compiling {diag.unit}" if diag.unit else ""
        why = f" ({seen.step.step.reason})" if seen.step.step.cause else ""
        yield rule.finding(
            path,
            line,
            f"new W=1 {diag.kind.value} ({'; '.join(seen.where)}){why}: {diag.text}{outside}. "
            f"{seen.how}",
            hint="fix it, or say in the changelog why the warning is expected",
            severity=severity,
            evidence=evidence,
        )


@dataclass
class _Seen:
    diag: Diagnostic
    where: list[str]
    how: str
    doubts: list[str]
    step: StepResult


@rule(
    "BLD002",
    "build-extmod-broken",
    Severity.ERROR,
    "After the patch an out-of-tree module (make M=...) no longer builds.",
)
def build_extmod_broken(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for outcome, base, patched in step_pairs(ctx, StepKind.EXTMOD):
        if patched.ok or not base.ok:
            continue
        errors = [d for d in _new(base, patched, ()) if d.kind is DiagKind.ERROR]
        text = "; ".join(d.text for d in errors[:3]) or patched.tail
        path, line = _anchor(ctx, EXTMOD_TRIGGERS)
        yield rule.finding(
            path,
            line,
            f"external modules no longer build ({describe(outcome)}): a hello-world "
            f"module built with 'make M=' against a modules_prepare'd tree fails after this "
            f"patch and builds before it: {text}. {reproduce(outcome, patched)}",
            hint="guard in-tree-only prerequisites (vmlinux, modules.order) with "
            "$(KBUILD_BUILTIN) or ifndef KBUILD_EXTMOD",
            # The module's own lines name no file of the tree, so the excerpt (limited to
            # those) can be empty: then the parsed errors, else the output's last lines.
            evidence=output_lines(patched.excerpt)
            or tuple(str(d) for d in errors[:3])
            or output_lines(patched.tail),
        )


@rule(
    "BLD003",
    "build-modversions-crc",
    Severity.ERROR,
    "With MODVERSIONS (sparc64/alpha), exported symbols lose their CRCs after the patch.",
)
def build_modversions_crc(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    # A failure the external-module step shows too is BLD002's finding, not a CRC one.
    extmod = {d.text for _, b, p in step_pairs(ctx, StepKind.EXTMOD) for d in _new(b, p, ())}
    for outcome, base, patched in step_pairs(ctx, StepKind.MODVERSIONS):
        found = [
            d
            for d in _new(base, patched, ())
            if d.text not in extmod
            and (
                d.tool in ("crc", "sandbox")
                or any(w in d.text for w in _CRC_WORDS)
                or (d.kind is DiagKind.ERROR and d.tool in ("make", "modpost"))
            )
        ]
        if not found:
            continue
        path, line = _anchor(ctx, EXPORT_TRIGGERS)
        text = "; ".join(d.text for d in found[:3])
        more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
        crc = any(d.tool == "crc" or any(w in d.text for w in _CRC_WORDS) for d in found)
        what = (
            "symbol CRCs go missing"
            if crc
            else "the CRC check's external module (with an export) no longer builds"
        )
        yield rule.finding(
            path,
            line,
            f"module versioning breaks ({describe(outcome)}): {what}: {text}{more}; modules "
            "would fail to load ('disagrees about version of symbol'). "
            f"{reproduce(outcome, patched)}",
            hint="every exported symbol needs its CRC: keep genksyms running for C and asm "
            "exports and let modpost write SYMBOL_CRC() for each",
            evidence=output_lines(patched.excerpt),
        )


RULES: tuple[Rule, ...] = (build_new_warning, build_extmod_broken, build_modversions_crc)
