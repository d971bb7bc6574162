"""The evaluation's view of a dump, from the streaming build's outputs, against the dict view that read the
whole dump (tests/dict_reader.py), on random dumps made to hit every rule (redirect chains and cycles,
disambiguation pages, missing targets, self-links, blank labels): the same kept articles (entities, tokens,
links) and, for every anchor that occurs in them, the same title pseudo-links."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from pathlib import Path

import pytest

from container.entity_kb import Statistics
from container.tokenizer import Tokenizer
from tests.dict_reader import DumpReader, add_title_anchors
from tests.unit.test_kb_build import random_dump
from train.entities import EntityParams
from train.entity_articles import kept_articles
from train.entity_evaluation import anchor_prefixes, anchors_in
from train.entity_title_links import title_links
from train.kb_build import build
from train.kb_build import count as counting
from train.kb_build.scan import Settings
from train.kb_build.write import Thresholds


def built(tmp_path: Path, files: list[Path], params: EntityParams, tokenizer: Tokenizer, **options):
    settings = Settings(tokenizer, params.title_links, params.drop_missing_targets)
    (tmp_path / "work").mkdir()
    return build(files, settings, Thresholds(), tmp_path / "work", tmp_path / "kb", **options)


def dict_title_links(reader: DumpReader, articles) -> Counter:
    """(anchor, entity) -> pseudo-links of the dict view, for the anchors that occur in the articles."""
    stats = Statistics(titles=reader.stats.titles, ids=reader.stats.ids, index=reader.stats.index)
    add_title_anchors(stats, reader, 1)
    prefixes, longest = anchor_prefixes(stats), stats.max_anchor_tokens()
    present = set().union(*(anchors_in(a.tokens, stats.links, prefixes, longest) for a in articles))
    return Counter({(anchor, entity): count for anchor in present for entity, count in stats.links[anchor].items()})


@pytest.mark.parametrize("seed", range(6))
def test_kept_articles_and_title_links_are_the_dict_views(tmp_path, monkeypatch, seed):
    if seed % 2:  # the kept articles matched against the anchors a few lines at a time
        monkeypatch.setattr(counting, "BATCH_CHARS", 50)
    path = tmp_path / "wiki.xml"
    path.write_text(random_dump(seed), encoding="utf-8")
    rng = random.Random(seed)
    params = EntityParams(drop_missing_targets=seed % 2 == 1, title_links=rng.choice([1, 2]), lowercase=seed % 3 != 2)
    tokenizer = Tokenizer("regex", params.lowercase)
    result = built(tmp_path, [path], params, tokenizer, processes=2, budget=4096, min_piece_bytes=1)
    assert len(result.pieces) > 1
    limit = rng.choice([10, 20, 1000])
    reader = DumpReader([path], tokenizer, params)
    expected = list(itertools.islice(reader.articles(), limit))
    kept = kept_articles([path], result.pieces, result.resolved, tokenizer, limit)
    assert kept == expected and len(kept) >= 10
    assert Counter(title_links(result.pieces, result.resolved, kept)) == dict_title_links(reader, expected)


def test_a_redirect_chain_and_a_cycle_resolve_like_the_dict_views(tmp_path):
    pages = [("Alpha", None, "[[Beta]]"), ("Beta", "Gamma", ""), ("Gamma", "Epsilon", ""), ("Epsilon", "Delta", ""),
             ("Delta", None, "x"),
             ("Loop one", "Loop two", ""), ("Loop two", "Loop one", ""),
             ("Reader", None, "alpha beta gamma epsilon delta loop one loop two, [[Gamma]] and [[Loop one]]")]
    path = tmp_path / "wiki.xml"
    path.write_text('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">\n' + "".join(
        f"<page><title>{t}</title><ns>0</ns><id>{i}</id>" + (f'<redirect title="{r}" />' if r else "")
        + f"<revision><id>{i + 50}</id><text>{'#REDIRECT [[' + r + ']]' if r else x}</text></revision></page>\n"
        for i, (t, r, x) in enumerate(pages, 1)) + "</mediawiki>\n", encoding="utf-8")
    params, tokenizer = EntityParams(), Tokenizer()
    result = built(tmp_path, [path], params, tokenizer)
    reader = DumpReader([path], tokenizer, params)
    kept = kept_articles([path], result.pieces, result.resolved, tokenizer, 10)
    assert kept == list(reader.articles())
    links = Counter(title_links(result.pieces, result.resolved, kept))
    assert links == dict_title_links(reader, kept)
    assert links[("beta", 1)] == links[("gamma", 1)] == 1  # Beta -> Gamma -> Epsilon -> Delta (entity 1)
