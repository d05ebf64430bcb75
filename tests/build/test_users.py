"""What a header hunk changed, the CONFIG branch it sits in, and which users are chosen."""

from __future__ import annotations

from reviewbot.analysis.diff import parse_diff
from reviewbot.build.users import Kind, choose_users, conditions_at, header_change, use_pattern
from tests.helpers import diff_of

HEADER = """\
#ifndef _LINUX_FOO_H
#define _LINUX_FOO_H

struct foo_info {
	int count;
#ifdef CONFIG_FOO_STATS
	unsigned long hits;
#endif
};

enum foo_mode {
	FOO_OFF,
	FOO_ON,
};

#define __foo_check(x) ((x) >= 0)
#define foo_ok(x) (__foo_check(x) && \\
	(x) < 10)
#define foo_wrap(x) foo_ok(x)

#ifdef CONFIG_FOO
int foo_start(struct foo_info *info);
static inline bool foo_busy(struct foo_info *info)
{
	return info->count > 0;
}
#else
static inline int foo_start(struct foo_info *info)
{
	return 0;
}
#endif

static inline bool foo_idle(struct foo_info *info)
{
	return !foo_busy(info);
}
#endif
"""


def _change(old: str, new: str):  # type: ignore[no-untyped-def]
    after = HEADER.replace(old, new, 1)
    (change,) = parse_diff(diff_of("include/linux/foo.h", HEADER, after))
    return header_change(change, HEADER, after)


def test_stub_in_else_branch_needs_the_option_off() -> None:
    found = _change("\treturn 0;\n}\n#endif", "\treturn info->count;\n}\n#endif")
    assert found.direct() == ("foo_start",)
    assert found.changed[0].kind == Kind.FUNCTION
    assert found.conditions == (("FOO", "n"),)


def test_inline_in_ifdef_branch_and_its_wrapper_outside() -> None:
    found = _change("return info->count > 0;", "return info->count >= 0;")
    assert found.direct() == ("foo_busy",)
    assert found.conditions == (("FOO", "y"),)
    wrapper = [c for c in found.changed if c.via]
    assert [(c.name, c.via, c.conditions) for c in wrapper] == [("foo_idle", "foo_busy", ())]


def test_macro_continuation_line_names_the_macro_and_its_users_in_the_header() -> None:
    found = _change("(x) < 10)", "(x) < 20)")
    assert found.direct() == ("foo_ok",)
    assert ("foo_wrap", "foo_ok") in [(c.name, c.via) for c in found.changed]


def test_removed_macro_and_the_macro_using_it() -> None:
    found = _change("#define __foo_check(x) ((x) >= 0)\n", "")
    assert "__foo_check" in found.direct()
    assert "foo_ok" in [c.name for c in found.changed]


def test_struct_member_under_option() -> None:
    found = _change("\tunsigned long hits;\n", "\tunsigned long misses;\n")
    names = {(c.name, c.kind, c.conditions) for c in found.changed}
    assert ("misses", Kind.MEMBER, (("FOO_STATS", "y"),)) in names
    assert ("hits", Kind.MEMBER, (("FOO_STATS", "y"),)) in names
    member = next(c for c in found.changed if c.name == "hits")
    assert use_pattern(member) == r"(->|\.)[[:space:]]*hits\b"


def test_enum_constant() -> None:
    found = _change("\tFOO_ON,\n", "\tFOO_ON,\n\tFOO_AUTO,\n")
    assert ("FOO_AUTO", Kind.CONSTANT) in [(c.name, c.kind) for c in found.changed]


def test_conditions_forms() -> None:
    lines = [
        "#if IS_ENABLED(CONFIG_A)",
        "#ifndef CONFIG_B",
        "#if defined(CONFIG_C) && defined(CONFIG_D)",
        "x",
    ]
    assert conditions_at(lines, 4) == (("A", "y"), ("B", "n"))
    assert conditions_at(["#if !IS_REACHABLE(CONFIG_E)", "#else", "x"], 3) == (("E", "y"),)


def test_choose_users_direct_first_and_spread() -> None:
    found = _change("return info->count > 0;", "return info->count >= 0;")
    uses = {
        "drivers/a/one.c": ["foo_idle"],
        "drivers/net/x/two.c": ["foo_busy"],
        "drivers/net/x/three.c": ["foo_busy"],
        "drivers/gpu/four.c": ["foo_busy"],
        "fs/five.c": ["foo_busy"],
        "tools/six.c": ["foo_busy"],
    }
    chosen = choose_users(uses, found, lambda s: not s.startswith("tools/"), 4)
    assert chosen == [
        "drivers/gpu/four.c",
        "fs/five.c",
        "drivers/net/x/three.c",
        "drivers/net/x/two.c",
    ]
    assert choose_users(uses, found, lambda s: True, 10)[-1] == "drivers/a/one.c"


def test_function_with_a_signature_over_two_lines() -> None:
    header = "static inline int foo_two(int a,\n\t\t\t  int b)\n{\n\treturn a + b;\n}\n"
    after = header.replace("a + b", "a - b")
    (change,) = parse_diff(diff_of("include/linux/two.h", header, after))
    assert header_change(change, header, after).direct() == ("foo_two",)
