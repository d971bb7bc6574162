"""The streaming builder against the dict builder it replaced, on random dumps made to hit every rule:
redirect chains and cycles, disambiguation pages, missing targets, self-links, blank labels, empty pages,
other namespaces, titles with a "(...)" and case-folding traps. Every kb/ file must be the same bytes,
for 1 or 2 processes, one or many pieces, and a budget small enough to spill everything."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from container.entity_kb import FILES, META, write_compact
from container.tokenizer import Tokenizer
from tests.dict_reader import DumpReader, add_title_anchors
from train.entities import EntityParams
from train.entity_evaluation import add_links, count_documents
from train.kb_build import build
from train.kb_build.scan import Settings
from train.kb_build.write import Thresholds

WORDS = "the cat river music band rock paris city king old new red blue of in and a on".split()


def title(rng: random.Random, number: int) -> str:
    stem = rng.choice(["Rock band", "Paris", "İsmet İnönü", "iPhone", "Red river", "King", "Σίσυφος", "New city"])
    return f"{stem} {number}" + rng.choice(["", "", " (band)", " (city)", " (disambiguation)"])


def article(rng: random.Random, titles: list[str], own: str) -> str:
    out = []
    for _ in range(rng.randrange(0, 40)):
        roll = rng.random()
        target = rng.choice(titles + [own, "Missing page 1", "Missing page 2", "missing_page 3"])
        if roll < 0.25:
            label = rng.choice(["", " ", " ".join(rng.choices(WORDS, k=rng.randrange(1, 4))), target.lower(),
                                "Rock band 1"])
            out.append(f"[[{target}|{label}]]" if label != "" else f"[[{target}]]")
        elif roll < 0.3:
            out.append(rng.choice([f"[[{target}#History|x]]", "[[File:X.jpg|thumb|cap]]", "[[Category:Things]]",
                                   f"[[{target}|red old-]]New"]))  # the last token runs past the link
        elif roll < 0.35:
            out.append("\n")
        else:
            out.append(rng.choice(WORDS + ["rock band 1", "paris 2", "İsmet"]))
    return " ".join(out).replace("&", "&amp;").replace("<", "&lt;")


def random_dump(seed: int) -> str:
    rng = random.Random(seed)
    titles = sorted({title(rng, rng.randrange(30)) for _ in range(45)})
    pages = []
    for number, name in enumerate(titles):
        roll = rng.random()
        if roll < 0.2:  # a redirect, sometimes to another redirect or back (a cycle)
            body, redirect = f"#REDIRECT [[{rng.choice(titles)}]]", rng.choice(titles)
            pages.append((name, number, body, redirect))
            continue
        text = "{{disambiguation}} " if roll < 0.28 else ""
        text += "" if roll > 0.95 else article(rng, titles, name)
        pages.append((name, number, text, None))
    pages.append(("Category:Things", 999, "[[Paris 1|paris]]", None))
    return ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/"><siteinfo><sitename>W</sitename></siteinfo>\n'
            + "".join(f"<page><title>{t}</title><ns>{14 if t.startswith('Category:') else 0}</ns><id>{i}</id>"
                      + (f'<redirect title="{r}" />' if r else "")
                      + f"<revision><id>{i + 5000}</id><text>{x}</text></revision></page>\n" for t, i, x, r in pages)
            + "</mediawiki>\n")


def dict_builder(files: list[Path], params: EntityParams, tokenizer: Tokenizer, directory: Path) -> dict:
    """What mode=entities did before the streaming builder (train/entities.py at 189f889, vectors and
    evaluation off)."""
    reader = DumpReader(files, tokenizer, params)
    articles = list(reader.articles())
    for one in articles:
        add_links(reader.stats, one)
    add_title_anchors(reader.stats, reader, params.title_links)
    count_documents(reader.stats, articles)
    write_compact(directory, reader.stats, min_anchor_links=params.min_anchor_links,
                  min_link_probability=params.min_link_probability, max_candidates=params.max_candidates)
    return {**reader.counts, "articles": reader.stats.pages, "entities": len(reader.stats.titles),
            "anchors": len(reader.stats.links), "links": sum(sum(c.values()) for c in reader.stats.links.values())}


def kb_files(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in [f"{n}.npy" for n in FILES] + [META]}


def streaming(tmp_path: Path, files: list[Path], params: EntityParams, tokenizer: Tokenizer, name: str, **options):
    settings = Settings(tokenizer, params.title_links, params.drop_missing_targets)
    thresholds = Thresholds(params.min_anchor_links, params.min_link_probability, params.max_candidates)
    (tmp_path / name).mkdir()
    built = build(files, settings, thresholds, tmp_path / name, tmp_path / name / "kb", **options)
    return built.counts, kb_files(tmp_path / name / "kb")


@pytest.mark.parametrize("seed", range(6))
def test_the_streaming_builder_gives_the_dict_builders_kb(tmp_path, seed):
    path = tmp_path / "wiki.xml"
    path.write_text(random_dump(seed), encoding="utf-8")
    rng = random.Random(seed)
    params = EntityParams(drop_missing_targets=seed % 2 == 1, title_links=rng.choice([0, 2]),
                          min_anchor_links=rng.choice([1, 2]), min_link_probability=rng.choice([0.0, 0.3]),
                          max_candidates=rng.choice([1, 3, 20]), lowercase=seed % 3 != 2)
    tokenizer = Tokenizer("regex", params.lowercase)
    counts = dict_builder([path], params, tokenizer, tmp_path / "old")
    assert counts["entities"] > 10 and counts.get("redirects") and counts.get("self_links")
    expected = kb_files(tmp_path / "old")
    assert streaming(tmp_path, [path], params, tokenizer, "one") == (counts, expected)
    assert streaming(tmp_path, [path], params, tokenizer, "spilled", processes=2, budget=4096,
                     min_piece_bytes=1) == (counts, expected)


def test_pieces_processes_and_budget_change_nothing_in_a_folder_of_parts(tmp_path):
    files = []
    for part in range(3):
        files.append(tmp_path / f"part{part}.xml")
        dump = random_dump(10 + part).replace("<title>", f"<title>P{part} ")
        files[-1].write_text(dump.replace("[[", f"[[P{part} ").replace("#REDIRECT [[", "#REDIRECT [["),
                             encoding="utf-8")
    params, tokenizer = EntityParams(), Tokenizer()
    counts = dict_builder(files, params, tokenizer, tmp_path / "old")
    expected = (counts, kb_files(tmp_path / "old"))
    assert streaming(tmp_path, files, params, tokenizer, "a") == expected
    assert streaming(tmp_path, files, params, tokenizer, "b", processes=2, budget=1000, min_piece_bytes=1) == expected


def test_document_counts_are_the_dict_builders_n_gram_counts_even_when_hashes_collide(monkeypatch):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from train.entity_evaluation import anchor_prefixes, anchors_in
    from train.kb_build import count as counting

    monkeypatch.setattr(counting, "MULTIPLIERS", (1 << 32, *counting.MULTIPLIERS))  # 3-grams lose their first id
    token = st.sampled_from(["a", "b", "c", "d", "é", "x"])
    anchor_texts = st.lists(st.lists(token, min_size=1, max_size=4).map(" ".join), min_size=1, max_size=12, unique=True)
    lines = st.lists(st.lists(token, max_size=30).map(" ".join), max_size=8)

    @settings(max_examples=300, deadline=None)
    @given(anchor_texts, lines)
    def check(texts, articles):
        prefixes = anchor_prefixes(type("S", (), {"links": dict.fromkeys(texts)})())
        longest = max(t.count(" ") + 1 for t in texts)
        expected = [sum(t in anchors_in(line.split(" ") if line else [], set(texts), prefixes, longest)
                        for line in articles) for t in texts]
        assert counting.AnchorSet(texts).documents(articles).tolist() == expected

    check()


@pytest.mark.parametrize("seed", [0, 1])
def test_entity_vectors_see_the_dict_builders_articles_and_corpus(tmp_path, seed):
    """Entity vectors are not reproducible (gensim threads), so their inputs are compared: the word-vector
    corpus and, per article, the tokens and (first, last, entity) of every counted link."""
    from train.kb_build.contexts import linked_articles

    path = tmp_path / "wiki.xml"
    path.write_text(random_dump(seed), encoding="utf-8")
    params, tokenizer = EntityParams(drop_missing_targets=seed == 1), Tokenizer()
    reader = DumpReader([path], tokenizer, params)
    expected = [(a.tokens, [(f, e, entity) for f, e, entity, *_ in a.links]) for a in reader.articles()]
    settings = Settings(tokenizer, params.title_links, params.drop_missing_targets)
    built = build([path], settings, Thresholds(), tmp_path / "new", tmp_path / "kb", processes=2, budget=4096,
                  min_piece_bytes=1)
    assert len(built.pieces) > 1 and list(linked_articles(built.pieces, built.resolved)) == expected
    corpus = "".join((d / "tokens.txt").read_text(encoding="utf-8") for d in built.pieces)
    assert corpus == "".join(" ".join(tokens) + "\n" for tokens, _ in expected)


def _die(*_args):
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)  # what the out-of-memory killer does


def test_a_reader_killed_even_with_one_process_is_a_named_error_not_the_jobs_death():
    from container.errors import KindlingError
    from train.kb_build import _map

    with pytest.raises(KindlingError) as caught:
        _map(_die, [(1,)], 1, "scan")
    assert caught.value.code == "kb_build_crashed" and "scan" in caught.value.message
