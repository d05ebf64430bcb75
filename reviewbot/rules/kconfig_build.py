"""What a real build of a Kconfig witness showed, for the link rules' findings (pure).

KC015, KC017 and KC021 report a configuration (a witness conf confirmed) in which a
link fails. With builds on, the build provider also builds that configuration
(reviewbot.build.witness); this reads the outcome into one sentence for the message
and evidence lines with the exact commands. Without builds it adds nothing.
"""

from __future__ import annotations

from reviewbot.build.witness import uses, verdict
from reviewbot.kconfig.facts import Witness
from reviewbot.rules.base import PatchContext


def built(ctx: PatchContext, arch: str, witness: Witness) -> tuple[str, list[str]]:
    """(sentence for the message, evidence lines); ('', []) when it was not built."""
    if ctx.kconfig_plan is None or not ctx.builds:
        return "", []
    used = uses(ctx.kconfig_plan, witness.subject, witness.other)
    found = verdict(ctx.builds, arch, witness, used.symbols)
    if found is None:
        return "", []
    if found.confirmed:
        return f" (confirmed by a real build: {found.where})", [
            found.text,
            f"build: {found.command}",
        ]
    return "", [f"not confirmed by a build: {found.text}", f"build: {found.command}"]
