"""Build rules for changes to kbuild itself: host tools, toolchain probes, links (pure).

BLD004: a host program (conf, fixdep, modpost, kallsyms, ...) gets a new error or warning
when rebuilt with HOSTCFLAGS=-Werror, or a host-tool step that passed on the base fails.
BLD005: `make defconfig` / `make prepare` run afresh fails after the patch, or the
toolchain probes answer differently (symbols the base's defconfig sets are lost), with
any of the toolchains tried (the arch's gcc, clang with LLVM=1); the message names the
toolchain and its version, and the evidence the toolchains that could not be tried.
BLD006: an incremental make of a warm full build (vmlinux, modules, modpost) fails or
gets new link or modpost errors after the patch. Each message carries the exact
command and the first relevant lines of its output; findings point at the patch line
when the failing file and line are in the patch, at the changed line naming a symbol the
link misses, else at the first hunk of the file the step exercised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from reviewbot.build.anchor import anchor, naming_line, output_lines
from reviewbot.build.diagnostics import new_diagnostics, step_failure
from reviewbot.build.model import BuildOutcome, DiagKind, Diagnostic, StepKind, StepResult
from reviewbot.model import Finding, Severity
from reviewbot.rules.base import PatchContext, Rule, rule
from reviewbot.rules.build import describe, reproduce, step_pairs

MAX_SYMBOLS = 8
_WERROR = re.compile(r"\s*\[-Werror=[\w-]+\]$")


def _evidence(step: StepResult, diags: Iterable[Diagnostic]) -> tuple[str, ...]:
    lines = [str(d) for d in diags][:3]
    lines += [ln for ln in output_lines(step.excerpt) if ln not in lines]
    return tuple(lines[:8])


def _new(base: StepResult, patched: StepResult, ctx: PatchContext) -> list[Diagnostic]:
    found = new_diagnostics(base.diagnostics, patched.diagnostics, ctx.changes)
    failure = step_failure(base, patched)
    if failure is not None and not any(d.kind is DiagKind.ERROR for d in found):
        found.append(failure)
    return found


@rule(
    "BLD004",
    "build-host-tool",
    Severity.ERROR,
    "A host tool (conf, fixdep, modpost, ...) no longer builds, or newly warns, after the patch.",
)
def build_host_tool(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    seen: set[tuple[str, int | None, str]] = set()
    for outcome, base, patched in step_pairs(ctx, StepKind.HOSTTOOLS):
        for diag in _new(base, patched, ctx):
            path, line = anchor(diag, ctx.changes, patched.step.cause)
            if (path, line, diag.text) in seen:
                continue
            seen.add((path, line, diag.text))
            warning = diag.kind is DiagKind.WARNING or bool(_WERROR.search(diag.text))
            what = "newly warns" if warning else "no longer builds"
            yield rule.finding(
                path,
                line,
                f"host tool {what} ({describe(outcome)}, host gcc with -Werror): "
                f"{diag}. {reproduce(outcome, patched)}",
                hint="build the host tools with `make HOSTCFLAGS=-Werror` (or W=e) before "
                "sending; kbuild compiles them on every user's machine first",
                severity=Severity.WARNING if warning else Severity.ERROR,
                evidence=_evidence(patched, [diag]),
            )


def _lost(base: StepResult, patched: StepResult) -> list[tuple[str, str, str]]:
    """(symbol, base value, patched value) for symbols the patched defconfig lost or changed."""
    after = dict(patched.config)
    return [(s, v, after.get(s, "n")) for s, v in base.config if after.get(s, "n") != v]


def _toolchain(outcome: BuildOutcome, base: StepResult) -> str:
    """The toolchain a probe step ran with, as its .config names it ("Debian clang
    version 14.0.6 (LLVM=1)"), else the arch's compiler."""
    text = dict(base.config).get("CC_VERSION_TEXT", "").strip('"') or outcome.job.arch.compiler
    return f"{text} (LLVM=1)" if outcome.job.arch.llvm else text


def _config_line(symbol: str, value: str) -> str:
    return f"# CONFIG_{symbol} is not set" if value == "n" else f"CONFIG_{symbol}={value}"


def _untried(ctx: PatchContext) -> tuple[str, ...]:
    """The toolchains that could not try the probes (not installed, too old), and why."""
    return tuple(
        f"not tried with {outcome.error}"
        for outcome in ctx.builds
        if outcome.error and any(s.kind is StepKind.TOOLCHAIN for s in outcome.job.steps)
    )


@rule(
    "BLD005",
    "build-toolchain-probe",
    Severity.ERROR,
    "defconfig or prepare fails, or toolchain probes answer differently, after the patch.",
)
def build_toolchain_probe(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    text = "\n".join(t for c in ctx.changes for h in c.hunks for _, t in h.lines)
    untried = _untried(ctx)
    for outcome, base, patched in step_pairs(ctx, StepKind.TOOLCHAIN):
        cause = patched.step.cause
        tool = _toolchain(outcome, base)
        failed = step_failure(base, patched)
        if failed is not None:
            found = [d for d in _new(base, patched, ctx) if d.kind is DiagKind.ERROR]
            diag = found[0] if found else failed
            path, line = anchor(diag, ctx.changes, cause)
            yield rule.finding(
                path,
                line,
                f"configuring or preparing the tree fails after this patch with {tool} "
                f"({describe(outcome)}) and works before it: {diag}. "
                f"{reproduce(outcome, patched)}",
                hint="a toolchain probe must accept every supported compiler, assembler "
                "and linker (Documentation/process/changes.rst)",
                evidence=(*_evidence(patched, found[:1]), *untried)[:10],
            )
            continue
        lost = _lost(base, patched)
        if not base.ok or not lost:
            continue
        path, line = anchor(Diagnostic(DiagKind.ERROR, "", None, ""), ctx.changes, cause)
        shown = ", ".join(f"{s}={b} -> {a}" for s, b, a in lost[:MAX_SYMBOLS])
        more = f" (and {len(lost) - MAX_SYMBOLS} more)" if len(lost) > MAX_SYMBOLS else ""
        named = all(re.search(rf"\b(CONFIG_)?{re.escape(s)}\b", text) for s, _, _ in lost)
        # The probes' answers as the two .config files record them, then what the
        # patched defconfig printed.
        answers = [
            f"base: {_config_line(s, b)}; patched: {_config_line(s, a)}"
            for s, b, a in lost[:MAX_SYMBOLS]
        ]
        # (not conf's note on the job's own fragment: "override: reassigning to symbol")
        said = [
            f"make {outcome.job.config.defconfig}: {ln}"
            for ln in output_lines(patched.excerpt)
            if "override: reassigning" not in ln
        ]
        yield rule.finding(
            path,
            line,
            f"the toolchain probes answer differently after this patch with {tool} "
            f"({describe(outcome)}): `make {outcome.job.config.defconfig}` now gives "
            f"{shown}{more}. {reproduce(outcome, patched)}",
            hint="check the probe against the compilers and linkers the kernel supports; "
            "a feature test that fails on a supported tool silently turns features off",
            # Symbols the patch itself names are probably meant to change.
            severity=Severity.INFO if named else Severity.WARNING,
            evidence=(*answers, *said[:2], *untried)[:12],
        )


_IN_FUNCTION = re.compile(r"in function `[^']*':$|^\S+\.o: in function")
_UNDEFINED = re.compile(r"undefined reference to `([^']+)'")
# modpost: `"foo" [x.ko] undefined!`, and both ends of a section mismatch
# (`... reference: foo+0x1c (section: .text) -> bar (section: .init.text)`).
_MODPOST_UNDEFINED = re.compile(r'^"([\w.$]+)" \[')
_MISMATCH = re.compile(r"reference: ([\w.$]+)(?:\+0x[0-9a-f]+)? \(section: [^)]*\) -> ([\w.$]+)")


def _modpost_symbols(text: str) -> tuple[str, ...]:
    undefined = _MODPOST_UNDEFINED.search(text)
    if undefined:
        return (undefined.group(1),)
    mismatch = _MISMATCH.search(text)
    return (mismatch.group(2), mismatch.group(1)) if mismatch else ()


def _link_diags(base: StepResult, patched: StepResult, ctx: PatchContext) -> list[Diagnostic]:
    """New linker and modpost messages; a failed make only when no compiler error explains
    it (a file that no longer compiles is BLD001's finding, not a link one)."""
    new = new_diagnostics(base.diagnostics, patched.diagnostics, ctx.changes)
    found = [
        d
        for d in new
        if d.tool in ("ld", "modpost") and not _IN_FUNCTION.search(d.text)  # ld's context
    ]
    failure = step_failure(base, patched)
    compiled = any(d.tool == "cc" and d.kind is DiagKind.ERROR for d in new)
    if failure is not None and not found and not compiled:
        found.append(failure)
    return found


def _grouped(found: list[Diagnostic]) -> list[tuple[Diagnostic, str, tuple[str, ...]]]:
    """Undefined references folded into one message (with their symbols); other messages
    one by one (with the symbols modpost names, if any)."""
    symbols: dict[str, list[str]] = {}
    first: Diagnostic | None = None
    out: list[tuple[Diagnostic, str, tuple[str, ...]]] = []
    for diag in found:
        match = _UNDEFINED.search(diag.text)
        if match and diag.tool == "ld":
            first = first or diag
            symbols.setdefault(match.group(1), []).append(diag.path)
        else:
            named = _modpost_symbols(diag.text) if diag.tool == "modpost" else ()
            out.append((diag, str(diag), named))
    if first is not None:
        users = sorted({p for paths in symbols.values() for p in paths if p})
        text = "undefined reference to " + ", ".join(f"`{s}'" for s in symbols)
        if users:
            text += " (from " + ", ".join(users[:6]) + (", ..." if len(users) > 6 else "") + ")"
        out.insert(0, (first, text, tuple(symbols)))
    return out


@rule(
    "BLD006",
    "build-link",
    Severity.ERROR,
    "vmlinux or modules no longer link, or modpost newly complains, after the patch.",
)
def build_link(rule: Rule, ctx: PatchContext) -> Iterable[Finding]:
    for outcome, base, patched in step_pairs(ctx, StepKind.LINK):
        for diag, text, symbols in _grouped(_link_diags(base, patched, ctx))[:3]:
            # The changed line that names a missing symbol, else the usual anchor.
            named = naming_line(ctx.changes, symbols)
            path, line = named or anchor(diag, ctx.changes, patched.step.cause)
            severity = Severity.ERROR if diag.kind is DiagKind.ERROR else Severity.WARNING
            yield rule.finding(
                path,
                line,
                f"the kernel no longer links cleanly ({describe(outcome)}, incremental "
                f"build of a full tree): {text}. {reproduce(outcome, patched)}",
                hint="a symbol used from vmlinux or a module must stay reachable: keep it "
                "in obj-y (not lib-y) when something links against it, export it for "
                "modules, and keep its section and visibility",
                severity=severity,
                evidence=_evidence(patched, [diag]),
            )


RULES: tuple[Rule, ...] = (build_host_tool, build_toolchain_probe, build_link)
