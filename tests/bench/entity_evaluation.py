"""The entity evaluation's cost at scale (issue 13): time and peak RSS of the evaluation phase alone, on a
repeated-sample dump (tests/bench/wikidump.py), vectors off.

    python -m tests.bench.entity_evaluation build DUMP WORK        # the KB build, kept in WORK
    python -m tests.bench.entity_evaluation evaluate DUMP WORK N   # a fresh process: the evaluation, N pages
    python -m tests.bench.entity_evaluation prepare DUMP WORK N    # only what precedes the folds (the part
                                                                   # that read the whole dump before)

`evaluate` prints one JSON line: seconds, the process's peak RSS (getrusage) and its RSS before the evaluation
(imports), pages parsed from the dump, the scores' protocol and D2W numbers. It runs the evaluation of the
code it imports: before the change (train.entities.DumpReader) or after (train.entity_evaluation).
"""

from __future__ import annotations

import itertools
import json
import resource
import sys
import time
from pathlib import Path

from container import wikipedia
from container.tokenizer import Tokenizer
from train import entities
from train.kb_build import build
from train.kb_build.scan import Settings
from train.kb_build.write import Thresholds

try:  # after the change
    from train import entity_evaluation
except ImportError:  # before it
    entity_evaluation = None


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build(dump: Path, work: Path) -> None:
    params = entities.EntityParams()
    tokenizer = Tokenizer(params.tokenizer, params.lowercase)
    settings = Settings(tokenizer, params.title_links, params.drop_missing_targets)
    thresholds = Thresholds(params.min_anchor_links, params.min_link_probability, params.max_candidates)
    started = time.monotonic()
    built = build([dump], settings, thresholds, work, work / "kb", processes=2)
    (work / "built.json").write_text(json.dumps({"pieces": [str(p) for p in built.pieces],
                                                 "resolved": str(built.resolved)}))
    print(json.dumps({"build_seconds": round(time.monotonic() - started, 1), "counts": built.counts}))


def _evaluate(dump: Path, work: Path, limit: int, folds: bool = True) -> None:
    params = entities.EntityParams(vectors=False, eval_max_pages=limit)
    tokenizer = Tokenizer(params.tokenizer, params.lowercase)
    built = json.loads((work / "built.json").read_text())
    parsed = [0]
    pages = wikipedia.pages

    def counted(*args, **kwargs):
        for page in pages(*args, **kwargs):
            parsed[0] += 1
            yield page

    wikipedia.pages = counted
    before = _rss_mb()
    started = time.monotonic()
    if hasattr(entities, "DumpReader"):  # before: the whole dump's registry in dicts
        reader = entities.DumpReader([dump], tokenizer, params)
        kept = list(itertools.islice(reader.articles(), params.eval_max_pages))
        scores = entities.evaluate_kb(reader, kept, params, None) if folds else None
    else:
        view, kept = entity_evaluation.prepare([dump], [Path(p) for p in built["pieces"]], Path(built["resolved"]),
                                               work / "kb", tokenizer, params.eval_max_pages)
        scores = entity_evaluation.evaluate_kb(view, kept, params, None) if folds else None
    print(json.dumps({"eval_max_pages": limit, "seconds": round(time.monotonic() - started, 1),
                      "peak_rss_mb": round(_rss_mb(), 1), "rss_before_mb": round(before, 1),
                      "pages_parsed": parsed[0], "kept": len(kept), **({"protocol": scores["protocol"], "d2w": {
                          k: scores["d2w"][k] for k in ("tagme_accuracy", "commonness_accuracy", "mentions")}}
                                                            if scores else {})}))


if __name__ == "__main__":
    command, dump, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    if command == "build":
        _build(dump, work)
    else:
        _evaluate(dump, work, int(sys.argv[4]), folds=command == "evaluate")
