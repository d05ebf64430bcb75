"""Kconfig witnesses as build jobs, their outcomes read as the link would, and the quick
builds' budget helpers (patched side first; dead users left out of a CONFIG=n variant;
users whose symbol stayed off on the arch left out)."""

from __future__ import annotations

from reviewbot.build.matrix import load_matrix
from reviewbot.build.model import (
    BuildConfig,
    BuildJob,
    BuildOutcome,
    BuildStep,
    DiagKind,
    Diagnostic,
    StepKind,
    StepResult,
)
from reviewbot.build.runner import NO_USER_LEFT, _run_step, clean_patched, without_switched_off
from reviewbot.build.witness import uses, verdict, witness_jobs, witness_reason
from reviewbot.kconfig.facts import KconfigDelta, KconfigFacts, Witness
from reviewbot.kconfig.links import Call
from reviewbot.kconfig.plan import KconfigPlan

MATRIX = load_matrix()
CALL = Call(
    "drivers/iio/light/bh1750.c",
    257,
    "devm_regmap_init_i2c",
    "__devm_regmap_init_i2c",
    "BH1750",
    "REGMAP_I2C",
    "drivers/base/regmap/regmap-i2c.o",
)
WITNESS = Witness(
    "enabled-without", "BH1750", "REGMAP_I2C", True, (("BH1750", "y"), ("I2C", "y")), "", True
)


def _plan() -> KconfigPlan:
    return KconfigPlan(("x86_64",), ("BH1750",), (), {}, {}, (), calls=(CALL,))


def _delta(patched: tuple[Witness, ...], base: tuple[Witness, ...] = ()) -> KconfigDelta:
    return KconfigDelta(
        "x86_64", KconfigFacts("x86_64", witnesses=base), KconfigFacts("x86_64", witnesses=patched)
    )


def test_a_confirmed_new_link_witness_becomes_a_job_on_its_arch() -> None:
    jobs = witness_jobs(_plan(), {"x86_64": _delta((WITNESS,))}, MATRIX)
    assert len(jobs) == 1
    job = jobs[0]
    assert job.arch.name == "x86_64"
    step = job.steps[0]
    assert step.kind is StepKind.WITNESS
    assert step.targets == ("drivers/iio/light/bh1750.o",)
    assert step.config == (("BH1750", "y"), ("I2C", "y"))
    assert step.cause == ("drivers/iio/light/bh1750.c",)
    assert step.reason == witness_reason(WITNESS)
    assert uses(_plan(), "BH1750", "REGMAP_I2C").symbols == (
        "devm_regmap_init_i2c",
        "__devm_regmap_init_i2c",
    )


def test_only_plain_symbols_and_tristate_values_reach_the_config() -> None:
    from reviewbot.build.planner import witness_job

    job = witness_job(
        MATRIX["x86_64"],
        {"FOO": "y", "BAR\nCONFIG_MODULES": "y", "BAZ": "y\nCONFIG_X=y", "QUX": "n"},
        ["drivers/foo.o"],
        "r",
    )
    assert job.steps[0].config == (("FOO", "y"), ("QUX", "n"))
    assert job.config.enable == (("FOO", "y"), ("WERROR", "n"))


def test_witnesses_conf_refused_or_did_not_check_are_not_built() -> None:
    refused = Witness(**{**WITNESS.__dict__, "confirmed": False})
    unasked = Witness(**{**WITNESS.__dict__, "confirmed": None})
    assert witness_jobs(_plan(), {"x86_64": _delta((refused,))}, MATRIX) == []
    assert witness_jobs(_plan(), {"x86_64": _delta((unasked,))}, MATRIX) == []
    # a witness the base has too is built: the base code does not make the new call
    assert len(witness_jobs(_plan(), {"x86_64": _delta((WITNESS,), (WITNESS,))}, MATRIX)) == 1
    # KC011's kind has no consumer objects to link: not a link job
    unmet = Witness(**{**WITNESS.__dict__, "kind": "unmet-select"})
    assert witness_jobs(_plan(), {"x86_64": _delta((unmet,))}, MATRIX) == []


def _side(config: dict[str, str], undefined: tuple[str, ...], ok: bool = True) -> StepResult:
    job = witness_jobs(_plan(), {"x86_64": _delta((WITNESS,))}, MATRIX)[0]
    return StepResult(
        job.steps[0],
        ok,
        config=tuple(sorted(config.items())),
        undefined=undefined,
        commands=("make O=build ARCH=x86_64 -j2 W=1 -k drivers/iio/light/bh1750.o",),
    )


def _outcome(base: StepResult, patched: StepResult) -> BuildOutcome:
    job = witness_jobs(_plan(), {"x86_64": _delta((WITNESS,))}, MATRIX)[0]
    return BuildOutcome(job, (base,), (patched,))


SYMBOLS = uses(_plan(), "BH1750", "REGMAP_I2C").symbols


def test_a_build_confirms_the_witness_when_the_patched_objects_need_what_is_off() -> None:
    base = _side({"BH1750": "y", "REGMAP_I2C": "y"}, ("__devm_regmap_init_i2c",))
    patched = _side({"BH1750": "y"}, ("__devm_regmap_init_i2c", "printk"))
    found = verdict([_outcome(base, patched)], "x86_64", WITNESS, SYMBOLS)
    assert found is not None and found.confirmed
    assert "REGMAP_I2C=n" in found.text and "__devm_regmap_init_i2c" in found.text
    assert "scripts/config --file build/.config -e BH1750 -e I2C" in found.command
    assert found.command.endswith("-k drivers/iio/light/bh1750.o")


def test_a_build_that_does_not_reproduce_it_says_why() -> None:
    base = _side({"BH1750": "y", "REGMAP_I2C": "y"}, ())
    # the call compiled away (a stub, IS_ENABLED): nothing needs the provider
    patched = _side({"BH1750": "y"}, ("printk",))
    found = verdict([_outcome(base, patched)], "x86_64", WITNESS, SYMBOLS)
    assert found is not None and not found.confirmed
    assert "did not reproduce" in found.text and "reference none" in found.text
    # the provider stayed on in the patched .config
    patched = _side({"BH1750": "y", "REGMAP_I2C": "y"}, ("__devm_regmap_init_i2c",))
    found = verdict([_outcome(base, patched)], "x86_64", WITNESS, SYMBOLS)
    assert found is not None and not found.confirmed and "REGMAP_I2C=y" in found.text
    # the base build already shows it: not the patch's doing
    same = _side({"BH1750": "y"}, ("__devm_regmap_init_i2c",))
    found = verdict([_outcome(same, same)], "x86_64", WITNESS, SYMBOLS)
    assert found is not None and not found.confirmed and "base build shows the same" in found.text
    # objects that do not compile never reach the link
    broken = _side({"BH1750": "y"}, (), ok=False)
    found = verdict([_outcome(base, broken)], "x86_64", WITNESS, SYMBOLS)
    assert found is not None and not found.confirmed and "did not compile" in found.text
    # another arch's build, or no build, says nothing
    assert verdict([_outcome(base, patched)], "arm64", WITNESS, SYMBOLS) is None
    assert verdict([], "x86_64", WITNESS, SYMBOLS) is None


def test_a_module_consumer_with_a_modular_provider_is_no_builtin_module_break() -> None:
    modular = Witness(**{**WITNESS.__dict__, "kind": "builtin-module"})
    plan = _plan()
    job = witness_jobs(plan, {"x86_64": _delta((modular,))}, MATRIX)[0]
    step = job.steps[0]

    def side(consumer: str) -> StepResult:
        config = (("BH1750", consumer), ("REGMAP_I2C", "m"))
        return StepResult(step, True, config=config, undefined=("__devm_regmap_init_i2c",))

    base = StepResult(step, True, config=(("BH1750", "y"), ("REGMAP_I2C", "y")))
    good = verdict([BuildOutcome(job, (base,), (side("m"),))], "x86_64", modular, SYMBOLS)
    bad = verdict([BuildOutcome(job, (base,), (side("y"),))], "x86_64", modular, SYMBOLS)
    assert good is not None and not good.confirmed
    assert bad is not None and bad.confirmed


def test_the_base_build_is_left_out_only_when_patched_objects_print_nothing() -> None:
    step = BuildStep(StepKind.OBJECTS, ("lib/cmdline.o",))
    clean = StepResult(step, True)
    warned = StepResult(step, True, (Diagnostic(DiagKind.WARNING, "lib/cmdline.c", 3, "x"),))
    failed = StepResult(step, False)
    assert clean_patched((clean,))
    assert not clean_patched((warned,))
    assert not clean_patched((failed,))
    assert not clean_patched((clean, StepResult(BuildStep(StepKind.EXTMOD), True)))
    assert not clean_patched(())


def _users_job(*governed: tuple[str, str]) -> BuildJob:
    targets = tuple(t for t, _ in governed)
    step = BuildStep(
        StepKind.OBJECTS, targets, "users of f", ("include/linux/f.h",), governed=governed
    )
    return BuildJob(MATRIX["arm64"], BuildConfig("defconfig", ()), (step,))


def test_users_whose_symbol_stayed_off_are_left_out_and_the_reason_says_so() -> None:
    job = _users_job(
        ("drivers/cpufreq/acpi-cpufreq.o", "X86_ACPI_CPUFREQ"), ("kernel/smp.o", "SMP")
    )
    kept = without_switched_off(job, ("X86_ACPI_CPUFREQ",))
    (step,) = kept.steps
    assert step.targets == ("kernel/smp.o",)
    assert step.reason.startswith("users of f; left out: drivers/cpufreq/acpi-cpufreq.o")
    assert "X86_ACPI_CPUFREQ stays off on arm64" in step.reason
    assert kept.config == job.config and kept.arch == job.arch
    # Nothing off, or an off symbol no user is built by: the job is unchanged.
    assert without_switched_off(job, ()) == job
    assert without_switched_off(job, ("PM_SLEEP",)) == job


def test_a_step_whose_users_were_all_left_out_builds_nothing() -> None:
    job = without_switched_off(
        _users_job(("drivers/cpufreq/acpi-cpufreq.o", "X86_ACPI_CPUFREQ")), ("X86_ACPI_CPUFREQ",)
    )
    (step,) = job.steps
    assert step.targets == ()
    # No make runs (a bare make would build the whole kernel): the tree is never touched.
    result = _run_step(None, job.arch, step, None)  # type: ignore[arg-type]
    assert result.ok and result.tail == NO_USER_LEFT and not result.commands
    assert clean_patched((result,))  # and the base side is left out too
