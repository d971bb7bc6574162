"""The entity evaluation at Wikipedia scale (issue 13): it reads the dump only up to its last kept article, its
per-fold work follows the kept articles (no tokenization per title of the dump), and its scores are the ones the
dict view that read the whole dump gave (recorded from main at 4147490 in data/entity_evaluation_sample.json,
vectors off: deterministic). Regenerate the record only for an intended change of the evaluation:
`python -m tests.contract.test_entity_evaluation`."""

from __future__ import annotations

import bz2
import json
import shutil
import sys
from pathlib import Path

import pytest

from container import wikipedia
from container.paths import Paths
from container.tokenizer import Tokenizer
from tests.contract.test_entities_contract import HANDMADE_DUMP
from tests.sagemaker_tree import ENWIKI_SAMPLE, gensim_test_data, make_tree
from train.job import run

pytestmark = pytest.mark.contract

RECORD = Path(__file__).parent / "data" / "entity_evaluation_sample.json"
CASES = {
    "sample": ("sample", {}),  # the defaults: 5 folds over every article (98), relatedness chosen
    "sample_50_pages": ("sample", {"eval_max_pages": "50", "folds": "3", "title_links": "3"}),
    "sample_drop_missing": ("sample", {"eval_max_pages": "40", "folds": "2", "drop_missing_targets": "true"}),
    "handmade": ("handmade", {"eval_max_pages": "10", "folds": "2"}),
}
SLOW = {"sample", "sample_50_pages"}  # cross-validations of the sample: ~30 s and ~10 s (make test and CI run them)


def evaluate(directory: Path, dump: str, extra: dict) -> dict:
    """eval.json of one training run (vectors off)."""
    channel = {"wiki.xml": HANDMADE_DUMP} if dump == "handmade" else {}
    root = make_tree(directory / "ml", {"mode": "entities", "vectors": "false", **extra}, {"train": channel})
    if dump == "sample":
        shutil.copy(gensim_test_data() / ENWIKI_SAMPLE, root / "input" / "data" / "train" / ENWIKI_SAMPLE)
    assert run(Paths(base=root, input=root / "input")) == 0, (root / "output" / "failure").read_text()
    return json.loads((root / "model" / "eval.json").read_text())


@pytest.mark.parametrize("case", [pytest.param(case, marks=pytest.mark.slow) if case in SLOW else case
                                  for case in sorted(CASES)])
def test_the_scores_are_the_ones_the_whole_dump_view_gave(tmp_path, case):
    assert evaluate(tmp_path, *CASES[case]) == json.loads(RECORD.read_text())[case]


def pages_before(limit: int) -> int:
    """How many pages of the sample come up to and including its limit-th article."""
    with bz2.open(gensim_test_data() / ENWIKI_SAMPLE) as handle:
        articles = 0
        for number, page in enumerate(wikipedia.pages(handle, ENWIKI_SAMPLE), 1):
            articles += wikipedia.is_article(page) and not wikipedia.is_disambiguation(page)
            if articles == limit:
                return number
    raise AssertionError(f"the sample has fewer than {limit} articles")


def test_the_evaluation_reads_the_dump_up_to_its_last_kept_article_and_tokenizes_per_article(tmp_path,
                                                                                               monkeypatch):
    """The scan and count run in forked workers: what this process parses and tokenizes is the evaluation's
    (and the resolve and write phases', which parse and tokenize nothing)."""
    limit, folds = 10, 2
    bound = pages_before(limit)
    parsed, tokenized = [0], [0]
    pages = wikipedia.pages

    def counted_pages(*args, **kwargs):
        for page in pages(*args, **kwargs):
            parsed[0] += 1
            yield page

    def counted(method):
        def call(self, text):
            tokenized[0] += 1
            return method(self, text)
        return call

    monkeypatch.setattr(wikipedia, "pages", counted_pages)
    monkeypatch.setattr(Tokenizer, "tokenize", counted(Tokenizer.tokenize))
    monkeypatch.setattr(Tokenizer, "spans", counted(Tokenizer.spans))
    scores = evaluate(tmp_path, "sample", {"eval_max_pages": str(limit), "folds": str(folds)})
    assert scores["protocol"].startswith(f"{folds}-fold cross-validation over {limit} pages")
    assert 0 < parsed[0] <= bound  # the whole-dump view parsed all 206 pages, then 72 again (278)
    # reading each kept article, annotating each once as a test page; the whole-dump view tokenized every
    # title and redirect of the dump for every fold, inner fold and the served choice (908 calls here)
    assert tokenized[0] <= 2 * limit


if __name__ == "__main__":  # pragma: no cover - regenerates the record
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        recorded = {name: evaluate(Path(scratch) / name, *CASES[name]) for name in sorted(CASES)}
    RECORD.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    print(f"wrote {RECORD}", file=sys.stderr)
