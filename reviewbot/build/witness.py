"""Kconfig witnesses as builds, and what those builds say about them (pure).

The Kconfig stage finds configurations (witnesses, confirmed by conf) in which code is
built while the provider of a function it calls is off (KC017, KC021), or built in while
the provider is a module (KC015, KC021). `witness_jobs` turns each new confirmed witness
of those kinds into one build job per arch: the consumer's objects that call into the
provider, compiled under the witness on the base and on the patched tree
(planner.witness_job). `verdict` reads the outcome the way the link would: the patched
objects reference one of the provider's symbols (`nm -u`) while the patched .config has
the provider off (or at m under a built-in consumer), and the base build does not show
the same. Either way it says what the build showed, with the commands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reviewbot.build.matrix import by_srcarch
from reviewbot.build.model import Arch, BuildConfig, BuildJob, BuildOutcome, StepKind, StepResult
from reviewbot.build.planner import witness_job
from reviewbot.build.prepare import config_commands
from reviewbot.kconfig.facts import KconfigDelta, Witness
from reviewbot.kconfig.links import condition_state, condition_value
from reviewbot.kconfig.plan import SRCARCH_TO_ARCH, KconfigPlan

LINK_KINDS = ("enabled-without", "builtin-module")
MAX_WITNESS_JOBS = 2  # per patch: each may need a prepared tree of its own


def witness_reason(witness: Witness) -> str:
    """The step's reason: names the witness, so a rule finds its outcome."""
    return f"Kconfig witness {witness.kind} {witness.subject} {witness.other}"


@dataclass(frozen=True)
class Uses:
    """What the consumer's code takes from the provider: objects and symbols."""

    objects: tuple[str, ...]
    symbols: tuple[str, ...]
    cause: tuple[str, ...]


def uses(plan: KconfigPlan, consumer: str, provider: str) -> Uses:
    """The consumer's objects that call into provider, and the symbols they call."""
    objects: dict[str, None] = {}
    symbols: dict[str, None] = {}
    cause: dict[str, None] = {}
    for call in plan.calls:
        if (call.consumer, call.provider) == (consumer, provider) and call.path.endswith(".c"):
            objects[call.path[:-2] + ".o"] = None
            symbols[call.function] = None
            symbols[call.export] = None
            cause[call.path] = None
    for item in plan.dropped:
        if (item.subject, item.provider) == (consumer, provider) and item.consumer_file.endswith(
            ".c"
        ):
            objects[item.consumer_file[:-2] + ".o"] = None
            symbols.update(dict.fromkeys(item.functions))
            cause[item.path] = None
    return Uses(tuple(objects), tuple(symbols), tuple(cause))


def matrix_arch(matrix: Mapping[str, Arch], kconfig_arch: str) -> Arch | None:
    """The build matrix's arch for a Kconfig stage arch name (x86_64, powerpc, ...)."""
    if kconfig_arch in matrix:
        return matrix[kconfig_arch]
    srcarch = next((s for s, a in SRCARCH_TO_ARCH.items() if a == kconfig_arch), kconfig_arch)
    return by_srcarch(matrix, srcarch)


def witness_jobs(
    plan: KconfigPlan | None, deltas: Mapping[str, KconfigDelta], matrix: Mapping[str, Arch]
) -> list[BuildJob]:
    """A job per conf-confirmed link witness of a new call or a dropped dependency (the
    plan's calls and dropped items name the consumer's objects; a witness the base also
    has is still built: for a new call the base code simply does not make it)."""
    if plan is None:
        return []
    jobs: list[BuildJob] = []
    seen: set[tuple[str, str, str]] = set()
    for name, delta in deltas.items():
        arch = matrix_arch(matrix, name)
        if arch is None:
            continue
        for witness in delta.patched.witnesses:
            key = (witness.kind, witness.subject, witness.other)
            if (
                witness.kind not in LINK_KINDS
                or not witness.found
                or witness.confirmed is not True
                or key in seen
            ):
                continue
            used = uses(plan, witness.subject, witness.other)
            if not used.objects:
                continue
            seen.add(key)
            assignment = dict(witness.assignments)
            jobs.append(
                witness_job(arch, assignment, used.objects, witness_reason(witness), used.cause)
            )
    return jobs[:MAX_WITNESS_JOBS]


@dataclass(frozen=True)
class Verdict:
    """What a real build showed about a witness: confirmed, or not reproduced, and why."""

    confirmed: bool
    text: str
    command: str
    where: str = ""  # arch and objects built


def _pair(outcome: BuildOutcome) -> tuple[StepResult, StepResult] | None:
    for base, patched in zip(outcome.base, outcome.patched, strict=False):
        if patched.step.kind is StepKind.WITNESS:
            return base, patched
    return None


def _command(outcome: BuildOutcome, step: StepResult) -> str:
    """The commands a user types to see the patched side's build."""
    values = {**dict(outcome.job.config.enable), **dict(step.step.config)}
    config = BuildConfig(outcome.job.config.defconfig, tuple(sorted(values.items())))
    return " && ".join([*config_commands(outcome.job.arch, config), *step.commands[-1:]])


def _broken(step: StepResult, witness: Witness, symbols: Sequence[str]) -> tuple[bool, str]:
    """Whether this side links as the witness says it cannot, and what it shows."""
    values = dict(step.config)
    consumer = condition_value(values, witness.subject)
    provider = values.get(witness.other, "n")
    used = [s for s in symbols if s in step.undefined]
    state = f"{condition_state(values, witness.subject)}, {witness.other}={provider}"
    if witness.kind == "enabled-without":
        bad_config = consumer in ("y", "m") and provider == "n"
    else:
        bad_config = consumer == "y" and provider == "m"
    if not used:
        return False, f"{state}; the objects reference none of {', '.join(symbols[:4])}"
    return bad_config, f"{state}; the objects reference {', '.join(used[:4])}"


def verdict(
    outcomes: Sequence[BuildOutcome],
    arch: str,
    witness: Witness,
    symbols: Sequence[str],
) -> Verdict | None:
    """The build of this witness on this arch, read as the link would (None: not built).

    symbols: what the consumer's code takes from the provider (uses().symbols)."""
    reason = witness_reason(witness)
    for outcome in outcomes:
        pair = _pair(outcome)
        if pair is None or pair[1].step.reason != reason:
            continue
        job_arch = outcome.job.arch
        if arch not in (job_arch.name, SRCARCH_TO_ARCH.get(job_arch.srcarch)):
            continue
        base, patched = pair
        command = _command(outcome, patched)
        if outcome.error:
            return Verdict(False, f"the build could not run: {outcome.error}", command)
        if not patched.ok:
            return Verdict(
                False,
                "the objects did not compile under the witness, so the link was not reached",
                command,
            )
        now, shown = _broken(patched, witness, symbols)
        then, before = _broken(base, witness, symbols)
        where = f"{outcome.job.arch.name}, {', '.join(patched.step.targets[:3])}"
        if now and not then:
            provides = (
                "which no object of that config provides"
                if witness.kind == "enabled-without"
                else "which only a module provides: vmlinux cannot link to it"
            )
            return Verdict(
                True,
                f"confirmed by a real build ({where}): after the patch {shown}, {provides}; "
                f"before it {before}",
                command,
                where,
            )
        if now:
            return Verdict(False, f"the base build shows the same ({before})", command)
        return Verdict(False, f"a real build did not reproduce it ({where}): {shown}", command)
    return None
