"""The reply renderer (pure): build findings carry their make commands; quoting; wrapping."""

from __future__ import annotations

from reviewbot.model import Severity
from reviewbot.respond.compose import Site, render_reply, shell, witness, wrap
from reviewbot.respond.model import PatchInfo, ReplyFinding, ReplyInput
from reviewbot.respond.quote import quote_hunk

DIFF = (
    "diff --git a/drivers/misc/foo.c b/drivers/misc/foo.c\n"
    "--- a/drivers/misc/foo.c\n"
    "+++ b/drivers/misc/foo.c\n"
    "@@ -10,5 +10,6 @@ static int foo_probe(struct device *dev)\n"
    " {\n"
    " \tint ret;\n"
    "+\tint unused;\n"
    " \n"
    " \tret = foo_init(dev);\n"
    " \tif (ret)\n"
)

BUILD = ReplyFinding(
    rule="BLD001",
    name="build-new-warning",
    severity=Severity.WARNING,
    patch_message_id="p@x",
    path="drivers/misc/foo.c",
    line=12,
    message=(
        "new W=1 warning (arm64 defconfig+FOO): drivers/misc/foo.c:12:6: warning: unused "
        "variable 'unused' [-Wunused-variable]. Reproduce: make O=build ARCH=arm64 "
        "CROSS_COMPILE=aarch64-linux-gnu- defconfig && scripts/config --file build/.config "
        "-e FOO && make O=build ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- olddefconfig && "
        "make O=build ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- W=1 drivers/misc/foo.o"
    ),
    hint="fix it, or say in the changelog why the warning is expected",
)


def _info(findings: tuple[ReplyFinding, ...], **kw: object) -> ReplyInput:
    base: dict[str, object] = {
        "revision_id": 7,
        "version": 3,
        "subject": "[PATCH v3 2/2] misc: foo: probe",
        "list_id": "",
        "author": '"Ann Author" <ann@example.org>',
        "parent_message_id": "p@x",
        "parent_references": ("c@x",),
        "patches": (PatchInfo("p@x", 2, "[PATCH v3 2/2] misc: foo: probe", DIFF),),
        "findings": findings,
        "base_commit": "0123456789abcdef0123456789abcdef01234567",
        "base_ref": "refs/heads/char-misc-next",
        "base_kind": "branch",
        "arches": ("arm64",),
        "compilers": ("arm64 (aarch64-linux-gnu-gcc)",),
    }
    base.update(kw)
    return ReplyInput(**base)  # type: ignore[arg-type]


SITE = Site("reviewbot <bot@x.org>", "https://rb.example/series/7")


def test_build_finding_reply() -> None:
    mail = render_reply(_info((BUILD,)), SITE, "<rb7.0.aa@x.org>", Severity.WARNING)
    body = mail.body
    assert mail.references == ("c@x", "p@x") and mail.in_reply_to == "p@x"
    assert mail.subject == "Re: [PATCH v3 2/2] misc: foo: probe"
    assert body.startswith("Hi Ann,\n")
    assert "> +\tint unused;" in body
    assert "    Reproduce (in your tree, with the patch applied):" in body
    joined = body.replace(" \\\n          ", " ")
    assert (
        "$ make O=build ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- W=1 drivers/misc/foo.o"
        in joined
    )
    assert "$ scripts/config --file build/.config -e FOO" in joined
    # a build: the reviewbot command builds too, on the author's base
    flat = body.replace(" \\\n      ", " ")
    assert "$ git -C linux checkout 0123456789abcdef0123456789abcdef01234567" in flat
    assert "$ reviewbot check --arch arm64 --build --tree linux series.mbox" in flat
    assert "base: 0123456789abcdef0123456789abcdef01234567 (branch:" in body
    assert "arches: arm64 (aarch64-linux-gnu-gcc)" in body
    for line in body.splitlines():
        assert len(line) <= 72 or line.startswith(("> ", "Closes: ")), line


def test_below_min_severity_and_partial() -> None:
    info = _info((BUILD,), partial=True, total=4)
    body = render_reply(info, SITE, "<m@x>", Severity.ERROR).body
    assert "found no problems. 1 less severe note is on the series page." in " ".join(body.split())
    assert "Only 1 of 4 parts had arrived." in " ".join(body.split())
    assert "Reported-by" not in body  # nothing to credit


def test_quote_and_witness_edges() -> None:
    assert quote_hunk(DIFF, "drivers/misc/foo.c", 12) == (
        "> --- a/drivers/misc/foo.c",
        "> @@ -10,5 +10,6 @@",
        ">  {",
        ">  \tint ret;",
        "> +\tint unused;",
        ">  ",
        ">  \tret = foo_init(dev);",
    )
    assert quote_hunk(DIFF, "drivers/misc/foo.c", 400) == ()
    assert quote_hunk(DIFF, "other.c", 12) == ()
    assert quote_hunk("not a diff at all", "x", 1) == ()
    assert witness("A=y only one") is None
    found = witness("bad (A=y B=m, riscv64) and (C=y)")
    assert found is not None and found.arch == "riscv64"
    assert found.configs == ("CONFIG_A=y", "CONFIG_B=m")
    assert wrap("x " * 100)[0].startswith("x x") and all(len(w) <= 72 for w in wrap("x " * 100))
    assert all(len(line) <= 72 for line in shell(["cmd", *(["--flag"] * 30)]))


def test_non_ascii_author_and_subject_survive_mime() -> None:
    import email
    import email.policy
    from datetime import UTC, datetime

    from reviewbot.respond.compose import to_mime

    info = _info((BUILD,), author="Jérôme Pouiller <jerome@example.org>", subject="[PATCH] wfx: é")
    mail = render_reply(info, SITE, "<m@x>", Severity.WARNING)
    raw = to_mime(mail, datetime(2026, 1, 1, tzinfo=UTC)).as_bytes()
    back = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(back["To"]) == "Jérôme Pouiller <jerome@example.org>"
    assert str(back["Subject"]) == "Re: [PATCH] wfx: é"
    assert back.get_content().startswith("Hi Jérôme,")
