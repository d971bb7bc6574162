"""The bench's repeated-sample dump (tests/bench/wikidump.py): each copy must be its own link graph of the
sample's shape, or the scaling bench would measure a different Wikipedia (merged entities, fewer anchors)."""

from __future__ import annotations

from container.wikipedia import normalize_title, pages, parse_article
from tests.bench.wikidump import renamed, repeat_sample


def test_renaming_keeps_a_trailing_parenthesis():
    assert renamed("Paris (city)", 3) == "Paris c3 (city)"
    assert renamed("Mercury (disambiguation)", 1) == "Mercury c1 (disambiguation)"
    assert renamed("Paris", 0) == "Paris" and renamed("Paris", 2) == "Paris c2"


def test_a_2x_dump_is_two_disjoint_copies_of_the_same_link_graph(tmp_path):
    path = repeat_sample(2, tmp_path / "2x.xml")
    with open(path, "rb") as handle:
        everything = list(pages(handle, str(path)))
    half = len(everything) // 2
    assert len(everything) == 2 * half and half > 100
    first, second = everything[:half], everything[half:]
    titles = [[normalize_title(p.title) for p in copy if p.namespace == 0] for copy in (first, second)]
    assert len(set(titles[0]) | set(titles[1])) == len(titles[0]) + len(titles[1])  # distinct across copies
    assert len({p.page_id for p in everything}) == len(everything)
    links = 0
    for original, copy in zip(first, second):
        assert copy.namespace == original.namespace
        if original.namespace != 0:
            continue
        assert normalize_title(copy.title) == renamed(normalize_title(original.title), 1)
        assert copy.redirect == (None if original.redirect is None else renamed(original.redirect, 1))
        text, targets = parse_article(original.text)
        copy_text, copy_targets = parse_article(copy.text)
        assert copy_text == text  # the visible text, and so every anchor, is the same
        assert [(s, e) for s, e, _ in copy_targets] == [(s, e) for s, e, _ in targets]
        assert [t for _, _, t in copy_targets] == [renamed(t, 1) for _, _, t in targets]
        links += len(targets)
    assert links > 20_000
