"""The KB a dump gives does not depend on how it is built: the sha256 of every kb/ file (and the dump counts) of
the sample and of a hand-made dump, recorded from the dict-based builder that came before the streaming one
(data/entity_kb_sample.json), must come out of today's builder unchanged. Regenerate the record only for an
intended change of the KB's contents: `python -m tests.contract.test_entity_kb_equivalence`."""

from __future__ import annotations

import bz2
import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest

from container.paths import Paths
from tests.contract.test_entities_contract import HANDMADE_DUMP
from tests.sagemaker_tree import ENWIKI_SAMPLE, gensim_test_data, make_tree
from train.job import run

pytestmark = pytest.mark.contract

RECORD = Path(__file__).parent / "data" / "entity_kb_sample.json"
QUIET = {"mode": "entities", "vectors": "false", "evaluation": "false"}
CASES = {
    "sample": ("sample", {}),
    "sample_drop_missing": ("sample", {"drop_missing_targets": "true"}),
    "sample_thresholds": ("sample", {"min_anchor_links": "2", "min_link_probability": "0.05", "max_candidates": "2",
                                     "title_links": "3"}),
    "sample_evaluation": ("sample", {"evaluation": "true", "relatedness": "milne_witten", "folds": "3"}),
    "handmade": ("handmade", {}),
    "handmade_drop_missing": ("handmade", {"drop_missing_targets": "true"}),
    "handmade_no_title_links": ("handmade", {"title_links": "0"}),
}


def build(directory: Path, dump: str, extra: dict, more: dict | None = None) -> dict:
    """sha256 of every kb/ file (and eval.json) plus the dump counts of one training run."""
    channel = {"wiki.xml": HANDMADE_DUMP} if dump == "handmade" else {}
    root = make_tree(directory / "ml", {**QUIET, **extra, **(more or {})}, {"train": channel})
    if dump == "sample":
        shutil.copy(gensim_test_data() / ENWIKI_SAMPLE, root / "input" / "data" / "train" / ENWIKI_SAMPLE)
    elif dump == "sample.xml":  # plain XML: cut into pieces, read by several processes
        (root / "input" / "data" / "train" / "sample.xml").write_bytes(
            bz2.decompress((gensim_test_data() / ENWIKI_SAMPLE).read_bytes()))
    assert run(Paths(base=root, input=root / "input")) == 0, (root / "output" / "failure").read_text()
    model = root / "model"
    files = sorted((model / "kb").iterdir()) + ([model / "eval.json"] if (model / "eval.json").exists() else [])
    manifest = json.loads((model / "manifest.json").read_text())
    return {"files": {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files},
            "counts": manifest["tasks"]["entities"]["metrics"]["counts"]}


@pytest.fixture(scope="module")
def record():
    return json.loads(RECORD.read_text())


@pytest.mark.parametrize("case", [pytest.param(case, marks=pytest.mark.slow) if case == "sample_evaluation" else case
                                  for case in sorted(CASES)])  # the evaluation case cross-validates: ~30 s
def test_the_kb_matches_the_dict_builders_byte_for_byte(tmp_path, record, case):
    dump, extra = CASES[case]
    assert build(tmp_path, dump, extra) == record[case]


@pytest.mark.parametrize("how", [{"processes": "1"}, {"processes": "2"}, {"processes": "2", "working_budget_mb": "1"}])
def test_processes_pieces_and_budget_change_no_byte_of_the_kb(tmp_path, caplog, record, how):
    caplog.set_level("INFO")
    assert build(tmp_path, "sample.xml", {}, how) == record["sample"]
    pieces = 4 * int(how["processes"])
    assert f"entity KB: {pieces} piece(s) scanned by {how['processes']} process(es)" in caplog.text


if __name__ == "__main__":  # pragma: no cover - regenerates the record
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        recorded = {name: build(Path(scratch) / name, *CASES[name]) for name in sorted(CASES)}
    RECORD.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    print(f"wrote {RECORD}", file=sys.stderr)
