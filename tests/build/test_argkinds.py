"""The kinds of arguments a user file passes to a changed macro, and how users are chosen."""

from __future__ import annotations

import pytest

from reviewbot.build.argkinds import (
    AGGREGATE,
    CALL,
    CONSTANT,
    FLOATING,
    NEGATIVE,
    OTHER,
    POINTER,
    SIGNED,
    UNSIGNED,
    arg_kind,
    call_sites,
    declared_kind,
    preferred_kinds,
    site_kinds,
)
from reviewbot.build.users import (
    Changed,
    HeaderChange,
    Kind,
    choose_users,
    searchable,
    touches,
    use_pattern,
)

# Trimmed from lib/lzo/lzo1x_compress.c (6.12): min() of two pointers, the user kernel
# test robot's W=1 build warned in when __is_nonneg() lost its cast.
LZO = """\
static size_t
lzo1x_1_do_compress(const unsigned char *in, size_t in_len,
		unsigned char *out, size_t *out_len)
{
	const unsigned char *ip;
	const unsigned char * const ip_end = in + in_len - 20;
	const unsigned char *ii;

	ip = in;
	ii = ip;
	for (;;) {
		/* int *ip_end; is only a comment */
		const unsigned char *limit = min(ip_end, ip + MAX_ZERO_RUN_LENGTH + 1);
	}
}
"""

INTEGERS = """\
struct rate { u64 max; };
static int g(u64 *lo) { return 0; }

static u32 pick(struct rate *r, int budget, size_t len)
{
	u64 want, lo = 0, hi;
	double scale;
	struct rate copy;

	want = clamp(want, lo, hi);
	budget = max(budget, -1);
	len = min(len, sizeof(copy));
	return min(foo(len), (u32)r->max) + max(want, 10UL) + (n * len);
}
"""


def _numbers(text: str, word: str) -> list[int]:
    return [n for n, line in enumerate(text.split("\n"), 1) if word in line]


def _lookup(text: str, at: int = 0):  # type: ignore[no-untyped-def]
    return lambda name: declared_kind(name, text, at or None)


def test_pointer_arguments_of_min_are_found_in_the_lzo_user() -> None:
    numbers = _numbers(LZO, "min(")
    assert call_sites(LZO.split("\n"), numbers, ["min"]) == [
        (13, ["ip_end", "ip + MAX_ZERO_RUN_LENGTH + 1"])
    ]
    assert site_kinds(LZO, numbers, ["min", "max"]) == {POINTER}


def test_integer_users_pass_no_pointer() -> None:
    numbers = [n for w in ("clamp(", "max(", "min(") for n in _numbers(INTEGERS, w)]
    kinds = site_kinds(INTEGERS, numbers, ["min", "max", "clamp"])
    assert POINTER not in kinds
    assert {UNSIGNED, SIGNED, NEGATIVE, CALL} <= kinds


@pytest.mark.parametrize(
    ("arg", "kind"),
    [
        ('"name"', POINTER),
        ("&copy", POINTER),
        ("(void *)0", POINTER),
        ("ip_end", POINTER),
        ("ip + 4", POINTER),
        ("ip - ii", SIGNED),  # the distance between two pointers
        ("-1", NEGATIVE),
        ("-budget", SIGNED),
        ("10UL", UNSIGNED),
        ("sizeof(copy)", UNSIGNED),
        ("(u32)r->max", UNSIGNED),
        ("1.5", FLOATING),
        ("scale", FLOATING),
        ("copy", AGGREGATE),
        ("(struct rate){ 0 }", AGGREGATE),
        ("foo(len)", CALL),
        ("MAX_ZERO_RUN_LENGTH", CONSTANT),
        ("BIT(3)", CONSTANT),
        ("42", CONSTANT),
        ("((len))", UNSIGNED),
        ("buf[3]", OTHER),
        ("a > b", OTHER),
    ],
)
def test_argument_kinds(arg: str, kind: str) -> None:
    text = LZO + INTEGERS + "static char buf[8];\nint budget;\ndouble scale;\n"
    assert arg_kind(arg, _lookup(text)) == kind


def test_declarations_are_read_at_the_nearest_scope_and_not_from_products() -> None:
    at = INTEGERS.index("want = clamp")
    # `u64 *lo` is g()'s parameter; pick() declares `lo` in a list: the nearest wins.
    assert declared_kind("lo", INTEGERS, at) == UNSIGNED
    assert declared_kind("hi", INTEGERS, at) == UNSIGNED
    assert declared_kind("lo", INTEGERS) == POINTER  # without a place: the first
    # `n * len` is a product, not a declaration of a pointer `len`
    assert declared_kind("len", INTEGERS, len(INTEGERS)) == UNSIGNED
    # a declaration inside a comment does not count
    assert declared_kind("ip_end", LZO, LZO.index("min(")) == POINTER


def test_a_nearer_declaration_of_an_unknown_type_hides_a_pointer_elsewhere() -> None:
    text = """\
static void g(CLST *vcn, unsigned long *vm_start) { }
static void f(struct vm_area_struct *vma)
{
	CLST vcn, end;

	x = min(vcn, end);
	y = max(vma->vm_start, 1);
}
"""
    numbers = _numbers(text, "min(") + _numbers(text, "max(")
    # `CLST vcn` is the nearest declaration: not g()'s pointer; a member is not looked
    # up by a variable of the same name
    assert site_kinds(text, numbers, ["min", "max"]) == {OTHER, CONSTANT}


def test_calls_spanning_lines_and_member_calls() -> None:
    text = "x = min(a,\n\tb);\ny = s->min(c, d);\nz = __min(e, f);\n"
    assert call_sites(text.split("\n"), [1, 3, 4], ["min"]) == [(1, ["a", "b"])]


def test_changed_casts_and_comparisons_put_non_integer_kinds_first() -> None:
    assert touches(["#define __is_nonneg(ux) statically_true((long long)(ux) >= 0)"]) == {
        "cast",
        "compare",
    }
    # comments and the macro's own parameter list are not code that casts
    assert touches([" * A cast is needed to avoid any warnings", "#define f(x) g(x)"]) == set()
    assert preferred_kinds({"cast"})[:3] == (POINTER, FLOATING, NEGATIVE)
    assert preferred_kinds({"arith"})[0] == NEGATIVE
    assert preferred_kinds(set())[-3:] == (CALL, CONSTANT, OTHER)


def test_short_macros_are_searched_by_their_calls() -> None:
    minimum = Changed("min", Kind.MACRO, via="__careful_cmp")
    assert searchable(minimum)
    assert use_pattern(minimum) == r"\bmin[[:space:]]*\("
    assert not searchable(Changed("ab", Kind.MACRO))
    assert not searchable(Changed("x", Kind.CONSTANT))


CHANGE = HeaderChange(
    "include/linux/minmax.h",
    (Changed("__is_nonneg", Kind.MACRO), Changed("min", Kind.MACRO, via="__careful_cmp")),
    frozenset({"cast", "compare"}),
)


def test_one_user_per_kind_first_the_kinds_the_change_affects() -> None:
    uses = {f"drivers/{d}/x.c": ["min"] for d in ("a", "b", "c", "d", "e", "f", "g")} | {
        "drivers/z/lzo.c": ["min"],
        "fs/only/mentions.c": ["min"],
    }
    kinds = {
        "drivers/a/x.c": frozenset({UNSIGNED}),
        "drivers/b/x.c": frozenset({UNSIGNED, CONSTANT}),
        "drivers/c/x.c": frozenset({SIGNED, NEGATIVE}),
        "drivers/d/x.c": frozenset({UNSIGNED}),
        "drivers/e/x.c": frozenset({CALL}),
        "drivers/f/x.c": frozenset({UNSIGNED}),
        "drivers/z/lzo.c": frozenset({POINTER}),
        "fs/only/mentions.c": frozenset(),  # the name, but no call of it
    }
    chosen = choose_users(uses, CHANGE, lambda s: True, 4, kinds)
    # pointer first, then negative (and signed with it), unsigned, call
    assert chosen == [
        "drivers/z/lzo.c",
        "drivers/c/x.c",
        "drivers/a/x.c",
        "drivers/e/x.c",
    ]
    # Without kinds: the spread over directories alone (the pointer user is not reached).
    assert "drivers/z/lzo.c" not in choose_users(uses, CHANGE, lambda s: True, 4)
    # Users not classified come after those that call a changed name, users that only
    # mention it last.
    everything = choose_users(uses, CHANGE, lambda s: True, 20, kinds)
    assert everything[-2:] == ["drivers/g/x.c", "fs/only/mentions.c"]
