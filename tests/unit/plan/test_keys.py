"""plan/keys: object names, their parsing, key joining and glob plans (pure)."""

from __future__ import annotations

import pytest

from sai3bench.plan.keys import (
    DELETABLE,
    PREPARED,
    GlobPlan,
    glob_regex,
    join_key,
    object_name,
    parse_object_name,
    plan_glob,
)

# -- object_name / parse_object_name ----------------------------------------------------------


@pytest.mark.parametrize(
    ("pool", "idx", "name"),
    [
        (PREPARED, 0, "prepared-00000000.dat"),
        (PREPARED, 42, "prepared-00000042.dat"),
        (DELETABLE, 7, "deletable-00000007.dat"),
        (PREPARED, 99_999_999, "prepared-99999999.dat"),
        (PREPARED, 100_000_000, "prepared-100000000.dat"),  # wider, never truncated
        (DELETABLE, 1_234_567_890, "deletable-1234567890.dat"),
    ],
)
def test_object_name_eight_digits_or_wider(pool: str, idx: int, name: str) -> None:
    assert object_name(pool, idx) == name


@pytest.mark.parametrize("idx", [0, 1, 9, 12_345_678, 99_999_999, 100_000_000, 2**40])
@pytest.mark.parametrize("pool", [PREPARED, DELETABLE])
def test_parse_inverts_object_name(pool: str, idx: int) -> None:
    assert parse_object_name(object_name(pool, idx)) == (pool, idx)


def test_parse_accepts_unpadded_upstream_style_index() -> None:
    assert parse_object_name("prepared-1.dat") == ("prepared", 1)
    assert parse_object_name("deletable-00000000.dat") == ("deletable", 0)


@pytest.mark.parametrize(
    "name",
    [
        "prepared-1.dat.tmp",
        "xprepared-1.dat",
        "prepared-.dat",
        "prepared-1a.dat",
        "prepared-a1.dat",
        "prepared--1.dat",
        "prepared-+1.dat",
        "prepared-1.DAT",
        "prepared_1.dat",
        "prepared-1dat",
        "prepared-1.dat\n",
        "Prepared-1.dat",
        "file_00000001.dat",
        "obj_123",
        "other.txt",
        "dir/prepared-1.dat",
        "",
    ],
)
def test_parse_rejects_other_names(name: str) -> None:
    assert parse_object_name(name) is None


def test_parse_rejects_non_ascii_digits() -> None:
    assert parse_object_name("prepared-\u0661.dat") is None  # ARABIC-INDIC DIGIT ONE


# -- join_key ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "name", "joined"),
    [
        ("a", "b", "a/b"),
        ("a/", "b", "a/b"),
        ("/data/bench", "prepared-00000000.dat", "/data/bench/prepared-00000000.dat"),
        ("file:///x/", "", "file:///x/"),
        ("file:///x", "", "file:///x/"),
        ("s3://bucket/p", "k", "s3://bucket/p/k"),
    ],
)
def test_join_key(base: str, name: str, joined: str) -> None:
    assert join_key(base, name) == joined


# -- plan_glob --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "file:///d/data/prepared-00000001.dat",
        "file:///d/data",  # no trailing slash: one exact object
        "s3://b/key",
        "file:///d/what?.dat",  # upstream: only * makes a glob; ? alone is literal
    ],
)
def test_exact_key_has_no_plan(path: str) -> None:
    assert plan_glob(path) is None


def test_directory_is_non_recursive_without_pattern() -> None:
    assert plan_glob("file:///d/dir/") == GlobPlan("file:///d/dir/", False, None)


def test_star_in_last_part_lists_that_directory_only() -> None:
    plan = plan_glob("file:///d/data/*")
    assert plan is not None
    assert plan.prefix == "file:///d/data/"
    assert plan.recursive is False
    assert plan.pattern is not None
    assert plan.pattern.match("file:///d/data/prepared-00000001.dat")
    assert plan.pattern.match("file:///d/other/x") is None


def test_star_with_name_prefix_keeps_prefix_directory() -> None:
    plan = plan_glob("file:///d/data/prepared-*")
    assert plan is not None
    assert (plan.prefix, plan.recursive) == ("file:///d/data/", False)
    assert plan.pattern is not None
    assert plan.pattern.match("file:///d/data/prepared-00000001.dat")
    assert plan.pattern.match("file:///d/data/deletable-00000001.dat") is None


def test_star_in_directory_part_is_recursive() -> None:
    plan = plan_glob("file:///d/data/*/x.dat")
    assert plan is not None
    assert (plan.prefix, plan.recursive) == ("file:///d/data/", True)
    pat = plan.pattern
    assert pat is not None
    assert pat.match("file:///d/data/a/x.dat")
    assert pat.match("file:///d/data/a/b/x.dat")  # * spans directories, like upstream's .*
    assert pat.match("file:///d/data/a/y.dat") is None
    assert pat.match("file:///d/data/a/x.dat.bak") is None


def test_star_inside_a_directory_name() -> None:
    plan = plan_glob("a/b*c/d")
    assert plan is not None
    assert (plan.prefix, plan.recursive) == ("a/", True)
    pat = plan.pattern
    assert pat is not None
    for ok in ("a/bc/d", "a/bXYc/d", "a/b/q/c/d"):
        assert pat.match(ok), ok
    for bad in ("a/bc/dd", "a/xc/d", "a/bc/e", "x/a/bc/d"):
        assert pat.match(bad) is None, bad


def test_star_without_slash_has_empty_prefix() -> None:
    plan = plan_glob("pre*")
    assert plan is not None
    assert (plan.prefix, plan.recursive) == ("", False)


def test_question_mark_matches_exactly_one_character_in_a_glob() -> None:
    plan = plan_glob("file:///d/data/prepared-0000000?.*")
    assert plan is not None
    pat = plan.pattern
    assert pat is not None
    assert pat.match("file:///d/data/prepared-00000007.dat")
    assert pat.match("file:///d/data/prepared-0000000.dat") is None  # ? needs one char
    assert pat.match("file:///d/data/prepared-000000071.dat") is None


# -- glob_regex -------------------------------------------------------------------------------


def test_glob_regex_is_anchored_at_both_ends() -> None:
    pat = glob_regex("data/*.dat")
    assert pat.match("data/x.dat")
    assert pat.match("data/x.dat2") is None
    assert pat.match("xdata/x.dat") is None
    assert pat.match("data/x.dat\n") is None  # \Z, not $


@pytest.mark.parametrize(
    ("glob", "ok", "bad"),
    [
        ("a+b*", "a+bz", "aab"),  # + is literal, not "one or more"
        ("a.dat*", "a.dat", "aXdat"),  # . is literal
        ("(x)*", "(x)1", "x1"),
        ("[ab]*", "[ab]c", "ac"),
        ("a$b*", "a$b", "a"),
        ("a^b|c*", "a^b|c", "c"),
        ("a{2}*", "a{2}", "aa"),
        ("back\\slash*", "back\\slash", "backslash"),
    ],
)
def test_glob_regex_escapes_metachars(glob: str, ok: str, bad: str) -> None:
    pat = glob_regex(glob)
    assert pat.match(ok), (glob, ok)
    assert pat.match(bad) is None, (glob, bad)


def test_glob_regex_star_matches_empty_run() -> None:
    assert glob_regex("a*b").match("ab")
    assert glob_regex("*").match("")
