"""mode=entities: an entity knowledge base from Wikipedia dumps or alias tables, evaluated, for /invocations.

From MediaWiki dumps (the `train` channel; .xml / .bz2 / .gz), by the streaming builder in train/kb_build
(scan, resolve, count, write: bounded memory, `processes` in parallel, the same bytes for any split):
titles, page ids, redirects (resolved) and disambiguation pages; every article's links (markup stripped
by container/wikipedia.py, link text through the shared tokenizer): anchor -> entity counts, in-links;
links to disambiguation pages and self-links dropped; targets without a page kept (a sample dump is
partial) unless drop_missing_targets=true; titles and redirect titles (without a trailing "(...)") added
as anchors of their page with `title_links` pseudo-links (TAGME's boost); the number of articles whose
text contains each anchor (link probability's denominator). With vectors=true, entity vectors: the mean
unit word vector of the words around the entity's links plus the mean word vector of its title (word
vectors trained on the scan's token lines in the same job, gensim engine).
From alias tables (.tsv: alias, entity id[, title[, count]]; .jsonl: {"alias", "id", "title", "count"}),
duplicate aliases summed, link probability 1.

Evaluation (evaluation=true, dumps only): page-level k-fold cross-validation over the first eval_max_pages
articles, read again from the dump with the dict view below (DumpReader, Statistics), statistics from the
training folds only (see evaluate_kb below).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import random
import shutil
import tempfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from container import hyperparameters as hp
from container import wikipedia
from container.bundle import describe_files, write_manifest
from container.compressed import open_binary
from container.entity_kb import KB_DIR, META, VECTORS, MemoryKB, Statistics, entity_titles, write_compact
from container.errors import KindlingError
from container.logs import metric
from container.tagme import RELATEDNESS, Mention, RankingParams, annotate, candidates_of, disambiguate
from container.tokenizer import SCHEMES, Tokenizer
from container.unit_vectors import unit_rows
from train.channels import channel_files
from train.checkpoints import CheckpointStore, fingerprint
from train.corpus import default_processes
from train.kb_build import Built
from train.kb_build import build as build_kb
from train.kb_build.contexts import linked_articles
from train.kb_build.scan import Settings, title_anchor
from train.kb_build.write import Thresholds
from train.environment import TrainingEnvironment
from train.limits import MB, Limits, bounded_lines, max_line_param

log = logging.getLogger(__name__)
TASK = "entities"
EVAL_FILE = "eval.json"
OUTPUT_NEUTRAL = ("processes", "working_budget_mb")  # change how the KB is built, not what it holds


@dataclass(frozen=True)
class EntityParams:
    min_anchor_links: int = hp.param(1, "anchors linked fewer times are dropped", minimum=1)
    min_link_probability: float = hp.param(0.001, "anchors with a lower link probability are dropped", minimum=0,
                                           maximum=1)
    max_candidates: int = hp.param(20, "entities kept per anchor (most common first)", minimum=1, maximum=1000)
    title_links: int = hp.param(2, "pseudo-links added for a page's title and redirect titles", minimum=0)
    drop_missing_targets: bool = hp.param(False, "drop links to titles with no page in the dump (for complete dumps)")
    tokenizer: str = hp.param("regex", "tokenizer for anchors and texts (shared with serving)", choices=SCHEMES)
    language: str = hp.param("en", "spaCy language code for tokenizer=spacy")
    lowercase: bool = hp.param(True, "case-fold anchors and texts")
    vectors: bool = hp.param(True, "train word vectors on the dump and give entities vectors (embedding relatedness)")
    vector_dim: int = hp.param(100, "word/entity vector size", minimum=1, maximum=1000)
    vector_epochs: int = hp.param(5, "word-vector training epochs", minimum=1)
    context_window: int = hp.param(10, "words on each side of a link that describe its entity", minimum=1)
    evaluation: bool = hp.param(True, "cross-validate on the dump (k folds of pages)")
    folds: int = hp.param(5, "cross-validation folds", minimum=2, maximum=20)
    eval_max_pages: int = hp.param(5000, "articles kept in memory for the cross-validation", minimum=10)
    max_line_mb: float = max_line_param()
    processes: int = hp.param(0, "processes that read the dump (0: one per CPU); the KB is the same for any number",
                              minimum=0, maximum=1024)
    working_budget_mb: int = hp.param(256, "memory for link statistics before they spill to sorted runs on disk "
                                      "(shared by the processes); the KB is the same for any budget", minimum=1)
    tau: float = hp.param(0.02, "default minimum commonness of a candidate", minimum=0, maximum=1)
    epsilon: float = hp.param(0.3, "default TAGME epsilon", minimum=0, maximum=1)
    rho_threshold: float = hp.param(0.1, "default minimum rho of an annotation", minimum=0, maximum=1)
    relatedness: str = hp.param("auto", "default relatedness: milne_witten, embedding, average, or auto (chosen "
                                "by cross-validation on training folds)", choices=("auto",) + RELATEDNESS)


@dataclass
class Article:
    entity: int
    text: str
    tokens: list[str]
    links: list[tuple[int, int, int, str, int, int]]  # (first token, end token, entity, anchor, start, end chars)


# --- reading -------------------------------------------------------------------------------------

def _is_dump(path: Path) -> bool:
    with open_binary(path) as handle:
        return wikipedia.is_dump(handle.read(4096))


_title_anchor = title_anchor


class DumpReader:
    """The dump's page registry and its articles with resolved links, as dictionaries: the evaluation's view
    (its folds rebuild statistics from subsets of articles); the KB itself comes from train/kb_build."""

    def __init__(self, files: list[Path], tokenizer: Tokenizer, params: EntityParams):
        self.files, self.tokenizer, self.params = files, tokenizer, params
        self.stats = Statistics()
        self.redirects: dict[str, str] = {}
        self.disambiguation: set[str] = set()
        self.counts = Counter()
        for path in files:
            with open_binary(path) as handle:
                for page in wikipedia.pages(handle, str(path)):
                    if page.namespace != 0:
                        continue
                    title = wikipedia.normalize_title(page.title)
                    if page.redirect is not None:
                        self.redirects[title] = wikipedia.normalize_title(page.redirect)
                        self.counts["redirects"] += 1
                    elif wikipedia.is_disambiguation(page):
                        self.disambiguation.add(title)
                        self.counts["disambiguation_pages"] += 1
                    else:
                        self.stats.entity(title, page.page_id)
                        self.counts["pages"] += 1

    def resolve(self, title: str) -> str:
        for _ in range(10):  # redirect chains are short; a loop must not hang the job
            if title not in self.redirects:
                break
            title = self.redirects[title]
        return title

    def articles(self) -> Iterator[Article]:
        for path in self.files:
            for page in wikipedia.articles(path):
                title = wikipedia.normalize_title(page.title)
                source = self.stats.index.get(title)
                if source is None:
                    continue  # a disambiguation page
                yield self._article(source, page.text)

    def _article(self, source: int, wikitext: str) -> Article:
        text, links = wikipedia.parse_article(wikitext)
        spans = self.tokenizer.spans(text)
        starts = [start for _, start, _ in spans]
        tokens = [token for token, _, _ in spans]
        resolved = []
        for start, end, target in links:
            target = self.resolve(target)
            if target in self.disambiguation:
                self.counts["links_to_disambiguation"] += 1
                continue
            entity = self.stats.index.get(target)
            if entity is None:
                if self.params.drop_missing_targets:
                    self.counts["links_to_missing_pages"] += 1
                    continue
                entity = self.stats.entity(target)
            if entity == source:
                self.counts["self_links"] += 1
                continue
            first = _bisect(starts, start)
            last = _bisect(starts, end)
            while last > first and spans[last - 1][2] > end:
                last -= 1
            if last > first:
                resolved.append((first, last, entity, " ".join(tokens[first:last]), spans[first][1], spans[last - 1][2]))
        return Article(source, text, tokens, resolved)


def _bisect(starts: list[int], position: int) -> int:
    import bisect

    return bisect.bisect_left(starts, position)


def add_links(stats: Statistics, article: Article) -> None:
    for _, _, entity, anchor, _, _ in article.links:
        stats.add_link(anchor, entity)
        stats.inlinks.setdefault(entity, set()).add(article.entity)
    stats.pages += 1


def add_title_anchors(stats: Statistics, reader: DumpReader, pseudo_links: int) -> None:
    if pseudo_links <= 0:
        return
    for title, entity in list(stats.index.items()):
        if stats.ids[entity] is not None:
            stats.add_link(_title_anchor(title, reader.tokenizer), entity, pseudo_links)
    for title, target in reader.redirects.items():
        entity = stats.index.get(reader.resolve(target))
        if entity is not None and stats.ids[entity] is not None:
            stats.add_link(_title_anchor(title, reader.tokenizer), entity, pseudo_links)


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


def fold_statistics(reader: DumpReader, training: list[Article], params: EntityParams) -> Statistics:
    """Statistics from the training articles only (the entity registry is shared: indices stay put)."""
    stats = Statistics(titles=reader.stats.titles, ids=reader.stats.ids, index=reader.stats.index)
    for article in training:
        add_links(stats, article)
    add_title_anchors(stats, reader, params.title_links)
    count_documents(stats, training)
    return stats


# --- entity vectors ------------------------------------------------------------------------------

def add_contexts(sums: np.ndarray, article: Article, words: dict[str, int], unit: np.ndarray, window: int) -> None:
    """Add the mean unit word vector around each of the article's links to its entity's row."""
    rows = np.array([words.get(token, -1) for token in article.tokens], dtype=np.int64)
    for first, last, entity, *_ in article.links:
        context = np.concatenate([rows[max(0, first - window):first], rows[last:last + window]])
        context = context[context >= 0]
        if len(context):
            sums[entity] += unit[context].mean(axis=0)


def title_vectors(titles: list[str], tokenizer: Tokenizer, words: dict[str, int], unit: np.ndarray) -> np.ndarray:
    """Each entity: the normalized mean of its title's word vectors ("Paris (mythology)" -> paris, mythology).
    The title is the one description every candidate has, also those linked once or never (title pseudo-links)."""
    rows = np.zeros((len(titles), unit.shape[1]), dtype=np.float32)
    for entity, title in enumerate(titles):
        known = [words[token] for token in tokenizer.tokenize(title) if token in words]
        if known:
            rows[entity] = unit[known].mean(axis=0)
    return unit_rows(rows)


def combined(context_sums: np.ndarray, titles: np.ndarray) -> np.ndarray:
    """Link contexts and title, equally weighted: a name alone cannot separate "Hebrew language" from
    "Hebrew alphabet" in a page about scripts, and a few link contexts alone are noisy.
    (Chosen on training pages only: over the inner cross-validations of the 5 outer folds of the Wikipedia sample,
    TAGME gained 16 mentions over commonness with it and 11 with contexts alone; better in 3 folds, worse in 1.)"""
    return unit_rows(unit_rows(context_sums) + titles[:len(context_sums)])


def entity_vectors(articles, titles: np.ndarray, words: dict[str, int], unit: np.ndarray, window: int) -> np.ndarray:
    """Each entity: its title vector plus the normalized mean of the unit word vectors around its links."""
    sums = np.zeros((len(titles), unit.shape[1]), dtype=np.float32)
    for article in articles:
        add_contexts(sums, article, words, unit, window)
    return combined(sums, titles)


@dataclass(frozen=True)
class WordVectors:
    """The dump's word vectors (unit length, row per word) and every entity's title vector, made once per job."""
    words: dict[str, int]
    unit: np.ndarray
    titles: np.ndarray


def train_word_vectors(corpus: Path, params: EntityParams, scratch: Path, titles: list[str],
                       tokenizer: Tokenizer) -> WordVectors:
    """Word vectors on the dump's tokens (one article per line in `corpus`), unit length."""
    from train.embeddings import fit_word_vectors
    from train.vector_files import read_vocabulary

    args = {"model": "skipgram", "epoch": params.vector_epochs, "lr": 0.05, "dim": params.vector_dim, "ws": 5,
            "minCount": 2, "neg": 5, "t": 1e-4, "minn": 0, "maxn": 0, "bucket": 0, "thread": 2, "lrUpdateRate": 100}
    out_dir = scratch / "vectors"
    out_dir.mkdir()
    fitted = fit_word_vectors("gensim", str(corpus), args, str(out_dir))
    words = read_vocabulary(out_dir / "vocabulary.txt")
    matrix = np.load(out_dir / "vectors.npy")
    log.info("word vectors for entity relatedness: %d words x %d from %d tokens in %.1f s", len(words),
             matrix.shape[1], fitted["tokens"], fitted["seconds"])
    index = {w: i for i, w in enumerate(words)}
    unit = unit_rows(matrix)
    return WordVectors(index, unit, title_vectors(titles, tokenizer, index, unit))


# --- alias tables --------------------------------------------------------------------------------

def alias_statistics(files: list[Path], tokenizer: Tokenizer, max_line_bytes: int = Limits().max_line_bytes
                     ) -> Statistics:
    """TSV (alias, id[, title[, count]]; a header row is skipped) or JSON Lines ({"alias", "id", "title",
    "count"}); the same alias and entity twice: counts summed. Link probability is 1 (every occurrence of
    an alias is taken as a mention)."""
    stats = Statistics()
    rows = 0
    for path in files:
        with open_binary(path) as handle:
            for number, raw in bounded_lines(handle, path, max_line_bytes):
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if not line.strip():
                    continue
                try:
                    if path.name.endswith((".jsonl", ".json", ".jsonl.gz", ".jsonl.bz2")):
                        record = json.loads(line)
                        alias, key, title, count = record["alias"], record["id"], record.get("title"), \
                            record.get("count", 1)
                    else:
                        fields = line.split("\t")
                        if number == 1 and fields[0].strip().lower() == "alias":
                            continue
                        alias, key = fields[0], fields[1]
                        title = fields[2] if len(fields) > 2 and fields[2] else None
                        count = fields[3] if len(fields) > 3 and fields[3] else 1
                    count = int(count)
                    if count < 1 or not str(alias).strip() or not str(key).strip():
                        raise ValueError("empty alias or id, or a count below 1")
                except (KeyError, IndexError, ValueError, TypeError, AttributeError) as exc:
                    raise KindlingError(f"{path}, line {number}: not an alias row ({exc}).", code="bad_alias_table",
                                        hint="TSV: alias<TAB>id[<TAB>title[<TAB>count]]; JSON Lines: "
                                             '{"alias": "NYC", "id": "Q60", "title": "New York City", "count": 3}.')
                anchor = " ".join(tokenizer.tokenize(str(alias)))
                if not anchor:
                    continue
                entity = stats.entity(str(key), key, title)
                stats.add_link(anchor, entity, count)
                stats.documents_with[anchor] = 0
                rows += 1
    if rows == 0:
        raise KindlingError(f"The alias table(s) {', '.join(map(str, files))} have no rows.", code="empty_alias_table",
                            hint="Give one alias and entity id per line.")
    stats.pages = len(stats.titles)
    return stats


# --- evaluation ----------------------------------------------------------------------------------

def _fold(article: Article, folds: int, salt: str = "") -> int:
    return zlib.crc32(f"{salt}{article.entity}".encode()) % folds


def _kb(reader: DumpReader, training: list[Article], params: EntityParams, vectors: WordVectors | None) -> MemoryKB:
    stats = fold_statistics(reader, training, params)
    entity_matrix = entity_vectors(training, vectors.titles, vectors.words, vectors.unit, params.context_window) \
        if vectors is not None else None
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


def _choose(reader, training, params, vectors, choices, inner_folds: int = 3) -> RankingParams:
    """Parameters picked on the training folds only: an inner cross-validation over the training pages,
    D2W accuracy pooled over its folds (ties: the earlier choice, i.e. the smaller epsilon)."""
    rows: dict[int, list] = {i: [] for i in range(len(choices))}
    for inner in range(inner_folds):
        inner_train = [a for a in training if _fold(a, inner_folds, "inner") != inner]
        inner_test = [a for a in training if _fold(a, inner_folds, "inner") == inner]
        if not inner_train or not inner_test:
            continue
        kb = _kb(reader, inner_train, params, vectors)
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


def evaluate_kb(reader: DumpReader, articles: list[Article], params: EntityParams, vectors: WordVectors | None) -> dict:
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
        ranking = _choose(reader, training, params, vectors, choices)
        chosen.append({"fold": fold, "epsilon": ranking.epsilon, "relatedness": ranking.relatedness})
        kb = _kb(reader, training, params, vectors)
        for article in testing:
            rows = d2w(kb, article, ranking)
            per_page.append(rows)
            coverage["links"] += len(article.links)
            coverage["in_kb"] += sum(r[0] for r in rows)
            result = annotate(kb, reader.tokenizer, article.text, ranking)
            predicted = {(a["start"], a["end"], a["title"]) for a in result["annotations"]}
            gold = {(start, end, reader.stats.titles[entity]) for _, _, entity, _, start, end in article.links}
            a2w["true_positive"] += len(predicted & gold)
            a2w["predicted"] += len(predicted)
            a2w["gold"] += len(gold)
            gold_entities = {reader.stats.titles[entity] for _, _, entity, *_ in article.links}
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
        **({"served": _served(reader, articles, params, vectors, choices)} if params.relatedness == "auto" else {}),
    }


def _served(reader, articles, params, vectors, choices) -> dict:
    """relatedness=auto: the served defaults are chosen like each fold's, by a 3-fold cross-validation, here over
    every evaluated page (the folds above estimate how well this procedure does; this runs it for the KB)."""
    ranking = _choose(reader, articles, params, vectors, choices)
    log.info("entities: serving relatedness=%s epsilon=%s (chosen by cross-validation over all %d pages)",
             ranking.relatedness, ranking.epsilon, len(articles))
    return {"epsilon": ranking.epsilon, "relatedness": ranking.relatedness}


# --- the job -------------------------------------------------------------------------------------

def train(env: TrainingEnvironment, stage: Path) -> dict:
    params = hp.parse(EntityParams, env.hyperparameters, mode="entities")
    tokenizer = Tokenizer(params.tokenizer, params.lowercase, params.language)
    files = channel_files("train", env.paths.channel("train"),
                          "a Wikipedia dump (.xml.bz2) or an alias table (.tsv/.jsonl)")
    # a finished KB (and its evaluation) is kept in /opt/ml/checkpoints: a restarted spot job reuses it
    store = CheckpointStore(env.paths.checkpoints)
    key = fingerprint(files, {k: v for k, v in hp.as_dict(params).items() if k not in OUTPUT_NEUTRAL})
    reused = store.find("entity-kb", key)
    if reused is not None:
        shutil.copytree(reused / KB_DIR, stage / KB_DIR)
        if (reused / EVAL_FILE).exists():
            shutil.copy(reused / EVAL_FILE, stage / EVAL_FILE)
        metrics = json.loads((reused / "metrics.json").read_text(encoding="utf-8"))
        kb_meta = json.loads((stage / KB_DIR / "kb.json").read_text(encoding="utf-8"))
    else:
        metrics, kb_meta = _build(env, params, tokenizer, files, stage)
        with tempfile.TemporaryDirectory(prefix="kindling-") as scratch:
            shutil.copytree(stage / KB_DIR, Path(scratch) / KB_DIR)
            if (stage / EVAL_FILE).exists():
                shutil.copy(stage / EVAL_FILE, Path(scratch) / EVAL_FILE)
            (Path(scratch) / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
            store.save("entity-kb", key, Path(scratch))
    return _manifest(stage, params, tokenizer, metrics, kb_meta)


def _build(env: TrainingEnvironment, params: EntityParams, tokenizer: Tokenizer, files: list[Path], stage: Path):
    """Statistics, vectors, evaluation and the written KB arrays; returns (metrics, KB counts)."""
    dumps = [path for path in files if _is_dump(path)]
    tables = [path for path in files if path not in dumps]
    if dumps and tables:
        raise KindlingError("The 'train' channel mixes Wikipedia dumps and alias tables.", code="bad_hyperparameters",
                            hint="Build one KB from dumps or one from alias tables.")
    if dumps:
        metrics, kb_meta = _build_from_dumps(params, tokenizer, dumps, stage)
    else:
        stats = alias_statistics(tables, tokenizer, int(params.max_line_mb * MB))
        log.info("alias table KB: %d aliases, %d entities", len(stats.links), len(stats.titles))
        metrics, kb_meta = {}, write_compact(stage / KB_DIR, stats, min_anchor_links=params.min_anchor_links,
                                             min_link_probability=params.min_link_probability,
                                             max_candidates=params.max_candidates)
    log.info("KB written: %d anchors, %d entities, %d candidates, %d in-links%s", kb_meta["anchors"],
             kb_meta["entities"], kb_meta["candidates"], kb_meta["inlinks"], ", entity vectors" if kb_meta["vectors"]
             else "")
    return metrics, kb_meta


def _build_from_dumps(params: EntityParams, tokenizer: Tokenizer, dumps: list[Path], stage: Path):
    """The streaming builder (train/kb_build) writes the KB; word and entity vectors come from its token lines;
    the evaluation reads its eval_max_pages articles from the dump again (only when it runs)."""
    settings = Settings(tokenizer, params.title_links, params.drop_missing_targets)
    thresholds = Thresholds(params.min_anchor_links, params.min_link_probability, params.max_candidates)
    vectors = None
    with tempfile.TemporaryDirectory(prefix="kindling-kb-") as scratch:
        built = build_kb(dumps, settings, thresholds, Path(scratch), stage / KB_DIR,
                         params.processes or default_processes(), params.working_budget_mb << 20)
        log.info("dump: %s", ", ".join(f"{k}={v}" for k, v in sorted(built.counts.items())))
        metrics: dict = {"counts": built.counts}
        kb_meta = built.meta
        if params.vectors:
            vectors, kb_meta = _add_entity_vectors(built, params, tokenizer, Path(scratch), stage / KB_DIR)
    if params.evaluation:
        reader = DumpReader(dumps, tokenizer, params)
        kept = list(itertools.islice(reader.articles(), params.eval_max_pages))
        scores = evaluate_kb(reader, kept, params, vectors)
        (stage / EVAL_FILE).write_text(json.dumps(scores, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _log_table(scores)
        metric("d2w_accuracy", scores["d2w"]["tagme_accuracy"])
        metric("d2w_commonness_accuracy", scores["d2w"]["commonness_accuracy"])
        metric("a2w_f1", scores["a2w_strong"]["f1"])
        metrics["evaluation"] = {k: scores[k] for k in ("d2w", "a2w_strong", "precision_at_1", "kb_coverage")}
        if "served" in scores:
            metrics["served_ranking"] = scores["served"]
    return metrics, kb_meta


def _add_entity_vectors(built: Built, params: EntityParams, tokenizer: Tokenizer, scratch: Path,
                        kb_dir: Path) -> tuple[WordVectors, dict]:
    """Word vectors on the scan's token lines (the same corpus the dict builder wrote), then every entity's
    vector from the words around its links and its title; stored beside the KB arrays."""
    corpus = scratch / "entity-corpus.txt"
    with open(corpus, "wb") as out:
        for directory in built.pieces:
            with open(directory / "tokens.txt", "rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 20)
    titles = entity_titles(kb_dir)
    vectors = train_word_vectors(corpus, params, scratch, titles, tokenizer)
    sums = np.zeros((len(titles), vectors.unit.shape[1]), dtype=np.float32)
    for tokens, links in linked_articles(built.pieces, built.resolved):
        links = [(first, last, entity, "", 0, 0) for first, last, entity in links]
        add_contexts(sums, Article(-1, "", tokens, links), vectors.words, vectors.unit, params.context_window)
    np.save(kb_dir / f"{VECTORS}.npy", np.ascontiguousarray(combined(sums, vectors.titles), dtype=np.float32))
    meta = {**built.meta, "vectors": True}
    (kb_dir / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return vectors, meta


def _manifest(stage: Path, params: EntityParams, tokenizer: Tokenizer, metrics: dict, kb_meta: dict) -> dict:
    ranking = {"tau": params.tau, "epsilon": params.epsilon, "rho_threshold": params.rho_threshold,
               "relatedness": params.relatedness}
    if params.relatedness == "auto":  # what the cross-validation chose, else the mean when there are vectors
        ranking.update(metrics.get("served_ranking") or
                       {"relatedness": "average" if kb_meta.get("vectors") else "milne_witten"})
    names = sorted(f"{KB_DIR}/{p.name}" for p in (stage / KB_DIR).iterdir()) + \
        ([EVAL_FILE] if (stage / EVAL_FILE).exists() else [])
    write_manifest(stage, {
        "tasks": {TASK: {"kind": TASK, "files": {"kb": KB_DIR}, "tokenizer": tokenizer.to_manifest(),
                         "ranking": ranking, "kb": kb_meta, "hyperparameters": hp.as_dict(params),
                         "metrics": metrics}},
        "files": describe_files(stage, names),
    })
    return metrics


def _log_table(scores: dict) -> None:
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
