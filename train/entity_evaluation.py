"""The entity KB's evaluation (evaluation=true, dumps only): page-level k-fold cross-validation over the first
eval_max_pages articles of the dump, statistics from the training folds only (see evaluate_kb).

At Wikipedia scale nothing here holds the dump: the kept articles are read from the dump's start and the
read stops there (train/entity_articles.py), their links carry the entities the streaming build resolved,
titles and page ids are the written KB's (memory-mapped), and the title pseudo-links are made once, only
for the anchors that occur in the kept articles (train/entity_title_links.py). Every fold's work is then
proportional to the kept articles, not to the dump; the scores are those of the dict view that read the
whole dump before (tests/contract/data/entity_evaluation_sample.json).
"""

from __future__ import annotations

import logging
import math
import random
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from container.entity_kb import CompactKB, MemoryKB, Statistics
from container.tagme import RELATEDNESS, Mention, RankingParams, annotate, candidates_of, disambiguate
from container.tokenizer import Tokenizer
from train.entity_articles import Article, kept_articles
from train.entity_title_links import title_links
from train.entity_vectors import WordVectors, some_entity_vectors

log = logging.getLogger(__name__)


class _Column:
    """A per-entity value read from the written KB on demand (Statistics.titles/ids without a list of all)."""

    def __init__(self, read):
        self.read = read

    def __getitem__(self, entity: int):
        return self.read(entity)


@dataclass(frozen=True)
class EvaluationView:
    """What the folds share: the KB's titles and page ids by entity index, the title pseudo-links of the
    kept articles' anchors, the tokenizer."""
    titles: Sequence[str]
    ids: Sequence
    title_links: list[tuple[str, int]]
    tokenizer: Tokenizer


def prepare(files: list[Path], piece_dirs: list[Path], resolved: Path, kb_dir: Path, tokenizer: Tokenizer,
            limit: int) -> tuple[EvaluationView, list[Article]]:
    """The kept articles and the view of the build the folds need; reads the dump up to the last kept article."""
    started = time.monotonic()
    articles = kept_articles(files, piece_dirs, resolved, tokenizer, limit)
    links = title_links(piece_dirs, resolved, articles)
    kb = CompactKB(kb_dir)
    log.info("entities evaluation: %d articles kept, %d title pseudo-links of their anchors, in %.1f s",
             len(articles), len(links), time.monotonic() - started)
    return EvaluationView(_Column(kb.title), _Column(kb.entity_id), links, tokenizer), articles


def add_links(stats: Statistics, article: Article) -> None:
    for _, _, entity, anchor, _, _ in article.links:
        stats.add_link(anchor, entity)
        stats.inlinks.setdefault(entity, set()).add(article.entity)
    stats.pages += 1


def anchor_prefixes(stats: Statistics) -> set[str]:
    return {" ".join(words[:k]) for words in (a.split(" ") for a in stats.links) for k in range(1, len(words))}


def anchors_in(tokens: list[str], anchors, prefixes: set[str], longest: int) -> set[str]:
    """The anchors a token sequence contains. An n-gram grows only while it is the start of some anchor,
    so most positions stop after a token or two."""
    seen = set()
    for i in range(len(tokens)):
        gram = ""
        for length in range(1, min(longest, len(tokens) - i) + 1):
            gram = tokens[i] if length == 1 else f"{gram} {tokens[i + length - 1]}"
            if gram in anchors:
                seen.add(gram)
            if gram not in prefixes:
                break
    return seen


def count_documents(stats: Statistics, articles) -> None:
    """documents_with[anchor]: the articles whose text contains the anchor (token n-gram)."""
    prefixes, longest = anchor_prefixes(stats), stats.max_anchor_tokens()
    for article in articles:
        stats.documents_with.update(anchors_in(article.tokens, stats.links, prefixes, longest))


def fold_statistics(view: EvaluationView, training: list[Article], params) -> Statistics:
    """Statistics from the training articles only, plus the title pseudo-links (the same in every fold; only
    those of anchors in the kept articles, the only ones a fold looks up); entity indices are the KB's."""
    stats = Statistics(titles=view.titles, ids=view.ids)
    for article in training:
        add_links(stats, article)
    if params.title_links > 0:
        for anchor, entity in view.title_links:
            stats.add_link(anchor, entity, params.title_links)
    count_documents(stats, training)
    return stats


def _fold(article: Article, folds: int, salt: str = "") -> int:
    return zlib.crc32(f"{salt}{article.entity}".encode()) % folds


def _kb(view: EvaluationView, training: list[Article], params, vectors: WordVectors | None) -> MemoryKB:
    stats = fold_statistics(view, training, params)
    entity_matrix = None
    if vectors is not None:  # only the entities the fold's anchors can propose: relatedness compares candidates
        candidates = sorted({entity for counts in stats.links.values() for entity in counts})
        entity_matrix = some_entity_vectors(training, candidates, vectors.titles, vectors.words, vectors.unit,
                                            params.context_window)
    return MemoryKB(stats, params.max_candidates, entity_matrix)


def d2w(kb, article: Article, ranking: RankingParams) -> list[tuple[bool, bool, bool, bool]]:
    """Per gold link of the page: (in KB, ambiguous, TAGME right, commonness right); gold mentions given."""
    mentions, golds = [], []
    for _, _, entity, anchor, start, end in article.links:
        info = kb.anchor(anchor)
        candidates = candidates_of(info, ranking) if info else []
        if candidates:
            mentions.append(Mention(start, end, anchor, info.link_probability, candidates))
            golds.append(entity)
    disambiguate(kb, mentions, ranking)
    return [(gold in dict(m.candidates), len(m.candidates) > 1, m.chosen == gold, m.candidates[0][0] == gold)
            for m, gold in zip(mentions, golds)]


def _accuracy(rows) -> tuple[float, float, int]:
    scored = [r for r in rows if r[0]]
    if not scored:
        return 0.0, 0.0, 0
    return sum(r[2] for r in scored) / len(scored), sum(r[3] for r in scored) / len(scored), len(scored)


def _choose(view, training, params, vectors, choices, inner_folds: int = 3) -> RankingParams:
    """Parameters picked on the training folds only: an inner cross-validation over the training pages,
    D2W accuracy pooled over its folds (ties: the earlier choice, i.e. the smaller epsilon)."""
    rows: dict[int, list] = {i: [] for i in range(len(choices))}
    for inner in range(inner_folds):
        inner_train = [a for a in training if _fold(a, inner_folds, "inner") != inner]
        inner_test = [a for a in training if _fold(a, inner_folds, "inner") == inner]
        if not inner_train or not inner_test:
            continue
        kb = _kb(view, inner_train, params, vectors)
        for i, ranking in enumerate(choices):
            rows[i] += [row for article in inner_test for row in d2w(kb, article, ranking)]
    best = max(range(len(choices)), key=lambda i: (_accuracy(rows[i])[0], -i))
    return choices[best]


def _paired(rows) -> dict:
    """The mentions TAGME got right and commonness wrong ("fixed") and the reverse ("broken"), with McNemar's
    exact two-sided p-value on them (Dietterich 1998): the paired view of the same mentions. It treats mentions
    as independent; the bootstrap over pages does not."""
    fixed = sum(1 for r in rows if r[0] and r[2] and not r[3])
    broken = sum(1 for r in rows if r[0] and r[3] and not r[2])
    changed = fixed + broken
    tail = sum(math.comb(changed, k) for k in range(min(fixed, broken) + 1)) / 2 ** changed if changed else 1.0
    return {"fixed": fixed, "broken": broken, "mcnemar_p": round(min(1.0, 2 * tail), 4)}


def _bootstrap(pages: list[list], rng: random.Random, draws: int = 1000) -> dict:
    """95 % intervals over test pages for TAGME, commonness and their difference (D2W accuracy)."""
    values = {"tagme": [], "commonness": [], "difference": []}
    for _ in range(draws):
        sample = [row for _ in pages for row in pages[rng.randrange(len(pages))]]
        tagme, common, count = _accuracy(sample)
        if count:
            values["tagme"].append(tagme)
            values["commonness"].append(common)
            values["difference"].append(tagme - common)
    return {name: [round(float(np.percentile(v, 2.5)), 4), round(float(np.percentile(v, 97.5)), 4)]
            for name, v in values.items() if v}


def evaluate_kb(view: EvaluationView, articles: list[Article], params, vectors: WordVectors | None) -> dict:
    relatedness = [params.relatedness] if params.relatedness != "auto" else \
        (list(RELATEDNESS) if vectors is not None else ["milne_witten"])
    choices = [RankingParams(tau=params.tau, epsilon=e, rho_threshold=params.rho_threshold, relatedness=r)
               for r in relatedness for e in (0.1, 0.2, 0.3, 0.5)]
    per_page, a2w, top1, coverage, chosen = [], Counter(), [], Counter(), []
    for fold in range(params.folds):
        training = [a for a in articles if _fold(a, params.folds) != fold]
        testing = [a for a in articles if _fold(a, params.folds) == fold]
        if not testing or not training:
            continue
        ranking = _choose(view, training, params, vectors, choices)
        chosen.append({"fold": fold, "epsilon": ranking.epsilon, "relatedness": ranking.relatedness})
        kb = _kb(view, training, params, vectors)
        for article in testing:
            rows = d2w(kb, article, ranking)
            per_page.append(rows)
            coverage["links"] += len(article.links)
            coverage["in_kb"] += sum(r[0] for r in rows)
            result = annotate(kb, view.tokenizer, article.text, ranking)
            predicted = {(a["start"], a["end"], a["title"]) for a in result["annotations"]}
            gold = {(start, end, view.titles[entity]) for _, _, entity, _, start, end in article.links}
            a2w["true_positive"] += len(predicted & gold)
            a2w["predicted"] += len(predicted)
            a2w["gold"] += len(gold)
            gold_entities = {view.titles[entity] for _, _, entity, *_ in article.links}
            if result["entities"]:
                top1.append(result["entities"][0]["title"] in gold_entities)
        log.info("entities evaluation: fold %d of %d done (%d test pages; epsilon=%s relatedness=%s)", fold + 1,
                 params.folds, len(testing), ranking.epsilon, ranking.relatedness)
    rows = [row for page in per_page for row in page]
    ambiguous = [r for r in rows if r[1]]
    tagme, common, scored = _accuracy(rows)
    tagme_amb, common_amb, scored_amb = _accuracy(ambiguous)
    precision = a2w["true_positive"] / a2w["predicted"] if a2w["predicted"] else 0.0
    recall = a2w["true_positive"] / a2w["gold"] if a2w["gold"] else 0.0
    rng = random.Random(7)
    return {
        "protocol": f"{params.folds}-fold cross-validation over {len(articles)} pages; statistics from training "
                    "folds only; epsilon and relatedness chosen by a 3-fold cross-validation inside the training folds",
        "d2w": {"tagme_accuracy": round(tagme, 4), "commonness_accuracy": round(common, 4), "mentions": scored,
                "ambiguous": {"tagme_accuracy": round(tagme_amb, 4), "commonness_accuracy": round(common_amb, 4),
                              "mentions": scored_amb},
                "bootstrap_95": _bootstrap(per_page, rng),
                "bootstrap_95_ambiguous": _bootstrap([[r for r in page if r[1]] for page in per_page], rng),
                "paired": _paired(rows)},
        "a2w_strong": {"precision": round(precision, 4), "recall": round(recall, 4),
                       "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0},
        "precision_at_1": round(sum(top1) / len(top1), 4) if top1 else 0.0,
        "kb_coverage": round(coverage["in_kb"] / coverage["links"], 4) if coverage["links"] else 0.0,
        "chosen_per_fold": chosen,
        **({"served": _served(view, articles, params, vectors, choices)} if params.relatedness == "auto" else {}),
    }


def _served(view, articles, params, vectors, choices) -> dict:
    """relatedness=auto: the served defaults are chosen like each fold's, by a 3-fold cross-validation, here over
    every evaluated page (the folds above estimate how well this procedure does; this runs it for the KB)."""
    ranking = _choose(view, articles, params, vectors, choices)
    log.info("entities: serving relatedness=%s epsilon=%s (chosen by cross-validation over all %d pages)",
             ranking.relatedness, ranking.epsilon, len(articles))
    return {"epsilon": ranking.epsilon, "relatedness": ranking.relatedness}


def log_table(scores: dict) -> None:
    d2w_scores, amb = scores["d2w"], scores["d2w"]["ambiguous"]
    lines = [
        "entities evaluation (" + scores["protocol"] + "):",
        f"  D2W accuracy, all in-KB mentions ({d2w_scores['mentions']}): TAGME {d2w_scores['tagme_accuracy']:.4f}  "
        f"commonness {d2w_scores['commonness_accuracy']:.4f}  95% CI of the difference "
        f"{d2w_scores['bootstrap_95'].get('difference')}",
        f"  D2W accuracy, ambiguous anchors ({amb['mentions']}): TAGME {amb['tagme_accuracy']:.4f}  "
        f"commonness {amb['commonness_accuracy']:.4f}  95% CI of the difference "
        f"{d2w_scores['bootstrap_95_ambiguous'].get('difference')}",
        f"  TAGME against commonness, same mentions: {d2w_scores['paired']['fixed']} fixed, "
        f"{d2w_scores['paired']['broken']} broken (McNemar exact p {d2w_scores['paired']['mcnemar_p']})",
        f"  A2W strong match: precision {scores['a2w_strong']['precision']:.4f}  recall "
        f"{scores['a2w_strong']['recall']:.4f}  F1 {scores['a2w_strong']['f1']:.4f}",
        f"  precision@1 of ranked entities {scores['precision_at_1']:.4f}; KB coverage of test links "
        f"{scores['kb_coverage']:.4f}",
    ]
    for line in lines:
        log.info("%s", line)
