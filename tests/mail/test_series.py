from __future__ import annotations

from pathlib import Path

from reviewbot.mail.mbox import read_input
from reviewbot.mail.parse import parse_mail
from reviewbot.mail.series import assemble
from reviewbot.model import Series

DATA = Path(__file__).resolve().parent.parent / "data" / "series"


def series_of(name: str) -> list[Series]:
    path = DATA / name
    messages = [parse_mail(raw) for raw in read_input(path.read_bytes(), name)]
    return assemble(messages)[0]


def shape(series: list[Series]) -> list[tuple[int, int, list[int | None], tuple[int, ...], bool]]:
    return [
        (s.version, s.total, [p.tags.number for p in s.patches], s.missing, s.cover is not None)
        for s in series
    ]


def test_cover_letter() -> None:
    assert shape(series_of("base-cover-letter.mbox")) == [(1, 2, [1, 2], (), True)]


def test_out_of_order_arrival() -> None:
    assert shape(series_of("base-out-of-order.mbox")) == [(1, 2, [1, 2], (), True)]


def test_unversioned_patches_under_versioned_cover() -> None:
    assert shape(series_of("base-different-versions.mbox")) == [(3, 4, [1, 2, 3, 4], (), True)]


def test_revisions_are_separate_series() -> None:
    assert shape(series_of("revision-basic.mbox")) == [
        (1, 2, [1, 2], (), True),
        (2, 2, [1, 2], (), True),
    ]


def test_incomplete_series_lists_gaps() -> None:
    (series,) = series_of("base-incomplete.mbox")
    assert series.missing == (2,) and not series.complete


def test_mixed_versions_do_not_merge() -> None:
    assert [s.version for s in series_of("bugs-mixed-versions.mbox")] == [1, 2]


def test_mercurial_n_of_m() -> None:
    assert shape(series_of("mercurial-cover-letter.mbox")) == [(1, 2, [1, 2], (), True)]


def test_no_references_grouped_by_sender_and_size() -> None:
    assert shape(series_of("base-no-references.mbox")) == [(2, 2, [1, 2], (), False)]


def test_duplicate_message_ids_are_dropped() -> None:
    path = DATA / "base-cover-letter.mbox"
    messages = [parse_mail(raw) for raw in read_input(path.read_bytes(), "x")]
    series, _ = assemble(messages + messages)
    assert shape(series) == [(1, 2, [1, 2], (), True)]
