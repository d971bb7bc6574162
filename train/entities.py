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

Evaluation (evaluation=true, dumps only; train/entity_evaluation.py): page-level k-fold cross-validation over
the first eval_max_pages articles (up to eval_max_pages kept in memory: the dump is read again only up to
the last of them), their links resolved by the build, statistics from the training folds only; titles,
redirects and title pseudo-links come from the build's outputs on disk, never from a registry of the dump.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from container import hyperparameters as hp
from container import wikipedia
from container.bundle import describe_files, write_manifest
from container.compressed import open_binary
from container.dump_pieces import indexes
from container.entity_kb import KB_DIR, META, VECTORS, Statistics, entity_titles, write_compact
from container.errors import KindlingError
from container.logs import metric
from container.tagme import RELATEDNESS
from container.tokenizer import SCHEMES, Tokenizer
from train import entity_evaluation
from train.channels import channel_files
from train.checkpoints import CheckpointStore, fingerprint
from train.corpus import default_processes
from train.entity_articles import Article
from train.entity_vectors import WordVectors, add_contexts, combined, train_word_vectors
from train.kb_build import Built
from train.kb_build import build as build_kb
from train.kb_build.contexts import linked_articles
from train.kb_build.scan import Settings
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


# --- reading -------------------------------------------------------------------------------------

def _is_dump(path: Path) -> bool:
    with open_binary(path) as handle:
        return wikipedia.is_dump(handle.read(4096))


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
    tables = [path for path in files if path not in dumps and path not in indexes(files)]  # a dump's -index.txt.bz2
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
    the evaluation reads its eval_max_pages articles from the dump again, and the rest from the build's
    outputs (only when it runs)."""
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
            metrics.update(_evaluate(params, tokenizer, dumps, built, stage, vectors))
    return metrics, kb_meta


def _evaluate(params: EntityParams, tokenizer: Tokenizer, dumps: list[Path], built: Built, stage: Path,
              vectors: WordVectors | None) -> dict:
    """eval.json and the evaluation's metrics; the scores of the first eval_max_pages articles."""
    view, kept = entity_evaluation.prepare(dumps, built.pieces, built.resolved, stage / KB_DIR, tokenizer,
                                           params.eval_max_pages)
    scores = entity_evaluation.evaluate_kb(view, kept, params, vectors)
    (stage / EVAL_FILE).write_text(json.dumps(scores, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    entity_evaluation.log_table(scores)
    metric("d2w_accuracy", scores["d2w"]["tagme_accuracy"])
    metric("d2w_commonness_accuracy", scores["d2w"]["commonness_accuracy"])
    metric("a2w_f1", scores["a2w_strong"]["f1"])
    metrics = {"evaluation": {k: scores[k] for k in ("d2w", "a2w_strong", "precision_at_1", "kb_coverage")}}
    if "served" in scores:
        metrics["served_ranking"] = scores["served"]
    return metrics


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
