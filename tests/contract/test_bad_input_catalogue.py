"""The catalogue of bad inputs: each one, what it gets (exit code or HTTP status) and the sentence.

Every entry is also a row of README.md's Troubleshooting table (checked below), so a user who meets
one of these messages finds it there.
"""

import json
from pathlib import Path

import pytest

from container.errors import KindlingError
from container.paths import Paths
from container.settings import ServeSettings
from serve.app import create_app
from serve.predictors import load_predictors
from tests.sagemaker_tree import FAST_HYPERPARAMETERS, make_tree
from train.job import run

pytestmark = pytest.mark.contract
ROOT = Path(__file__).resolve().parents[2]
HP = FAST_HYPERPARAMETERS
W2V = {"mode": "skipgram", "min_count": "1", "epochs": "1", "vector_dim": "10", "evaluation": "false"}

# (id, tree arguments for make_tree, words in /opt/ml/output/failure); every one exits 1
TRAINING = [
    ("config-not-json", dict(hyperparameters="{mode: supervised"), "is not valid JSON"),
    ("config-not-object", dict(hyperparameters="[1, 2]"), "not an object"),
    ("no-mode", dict(hyperparameters={"epochs": "5"}), "has no 'mode'"),
    ("unknown-mode", dict(hyperparameters={"mode": "regression"}), "is not a mode this image trains"),
    ("ill-typed", dict(hyperparameters={**HP, "epochs": "ten"}), "is not a whole number"),
    ("unknown-key", dict(hyperparameters={**HP, "colour": "blue"}), "is not a hyperparameter of mode=supervised"),
    ("out-of-range", dict(hyperparameters={**HP, "vector_dim": "0"}), "must be at least 1"),
    ("alias-twice", dict(hyperparameters={**HP, "epoch": "3"}), "both set epochs"),
    ("char-ngrams", dict(hyperparameters={**HP, "min_char": "5", "max_char": "3"}), "is larger than max_char"),
    ("no-train-channel", dict(channels={"validation": {"v.txt": "__label__a x\n"}}), "'train' channel is missing"),
    ("empty-channel", dict(channels={"train": {}}), "contains no files"),
    ("empty-file", dict(channels={"train": {"empty.txt": ""}}), "has no labelled lines"),
    ("no-labels", dict(channels={"train": {"t.txt": "just text\n"}}), "records without a label"),
    ("not-utf8", dict(channels={"train": {"t.txt": b"__label__a caf\xe9\n"}}), "is not valid UTF-8"),
    ("pipe-without-fifo", dict(input_data_config={"train": {"TrainingInputMode": "Pipe"}}),
     "Channel 'train' is in Pipe mode but"),
    ("unknown-input-mode", dict(input_data_config={"train": {"TrainingInputMode": "Stream"}}),
     "TrainingInputMode=Stream, which kindling does not read"),
    ("diverged", dict(hyperparameters={**HP, "learning_rate": "1e30"}), "Training diverged"),
    ("single-class", dict(channels={"train": {"t.txt": "__label__a one\n__label__a two\n"}}),
     "has only one label (__label__a)"),
    ("manifest-attribute", dict(channels={"train": {"m.manifest": '{"text": "x", "label": 1}\n'}}),
     "line 1: no text under 'source'"),
    ("csv-columns", dict(channels={"train": {"t.csv": "review,y\ngood,1\n"}}), "'source', 'label' missing"),
    ("rare-labels", dict(hyperparameters={**HP, "min_count_label": "100000"}), "No label was seen"),
    # word vectors (mode=skipgram / cbow / vectors)
    ("w2v-empty-corpus", dict(hyperparameters=W2V, channels={"train": {"blank.txt": "\n \n"}}),
     "No word occurs min_count=1 times in the corpus (0 tokens"),
    ("w2v-min-count", dict(hyperparameters={**W2V, "min_count": "1000"}, channels={"train": {"c.txt": "a b a\n"}}),
     "No word occurs min_count=1000 times in the corpus (3 tokens, 2 distinct words, the most frequent seen 2 times)"),
    ("w2v-prepared-empty", dict(hyperparameters={**W2V, "prepare": "true"}, channels={"train": {"b.txt": "  \n"}}),
     "The corpus is empty"),
    ("w2v-binary", dict(hyperparameters={**W2V, "prepare": "true"}, channels={"train": {"x.bin": b"\x00\x01"}}),
     "skipped as binary"),
    ("w2v-not-a-dump", dict(hyperparameters={**W2V, "prepare": "true"},
                            channels={"train": {"page.xml": "<html><body>hello</body></html>"}}),
     "is XML but not a MediaWiki dump"),
    ("w2v-language", dict(hyperparameters={**W2V, "tokenizer": "spacy", "language": "zz"}),
     "spaCy has no tokenizer for language 'zz'"),
    ("w2v-dimension", dict(hyperparameters={**W2V, "vector_dim": "5000"}), "must be at most 1000"),
    ("w2v-char-ngrams", dict(hyperparameters={**W2V, "subwords": "true", "min_char": "6", "max_char": "3"}),
     "min_char=6 is larger than max_char=3"),
    # hostile or pathological inputs (issue 18)
    ("config-deep", dict(hyperparameters='{"mode": ' + "[" * 100_000 + "]" * 100_000 + "}"), "is nested too deeply to read"),
    ("buckets-3e9", dict(hyperparameters={**HP, "buckets": "3e9"}), "buckets='3e9' must be at most 2117483647"),
    ("buckets-2e9", dict(hyperparameters={**HP, "buckets": "2e9"}), "GB n-gram matrix, more than the"),
    ("w2v-buckets-2e9", dict(hyperparameters={**W2V, "subwords": "true", "buckets": "2e9", "vector_dim": "100"}),
     "GB n-gram matrix, more than the"),
    ("value-too-long", dict(hyperparameters={**HP, "label_prefix": "x" * 2501}),
     "label_prefix: a value of 2,501 characters"),
    ("key-too-long", dict(hyperparameters={**HP, "k" * 101: "1"}), "a key of 101 characters"),
    ("line-too-long", dict(hyperparameters={**HP, "max_line_mb": "0.001"},
                           channels={"train": {"t.txt": "__label__a ok\n__label__b " + "x " * 1000 + "\n"}}),
     "line 2: the line is longer than"),
    ("w2v-line-too-long", dict(hyperparameters={**W2V, "max_line_mb": "0.001"},
                               channels={"train": {"c.txt": "a b\n" + "c " * 1000}}),
     "line 2: the line is longer than"),
    ("input-too-large", dict(hyperparameters={**HP, "max_input_gb": "0.000001"}),
     "GB of input after decompression"),
    ("vectors-ragged", dict(hyperparameters={"mode": "vectors"}, channels={"train": {"v.txt": "a 0.1 0.2\nb 0.3\n"}}),
     "1 values where earlier lines have 2"),
]

BODY = {"instances": ["rocket"]}
# (id, method, path, body, headers, settings env, status, words in error.message)
SERVING = [
    ("content-type", "POST", "/invocations", BODY, {"Content-Type": "application/xml"}, {}, 415, "cannot read application/xml"),
    ("accept", "POST", "/invocations", BODY, {"Accept": "text/html"}, {}, 406, "cannot answer with any type"),
    ("empty-body", "POST", "/invocations", b"", {}, {}, 400, "The request body is empty"),
    ("bad-json", "POST", "/invocations", b"{oops", {}, {}, 400, "is not valid JSON"),
    ("nan", "POST", "/invocations", b'{"instances": ["x"], "configuration": {"k": NaN}}', {}, {}, 400,
     "NaN is not valid JSON"),
    ("deep", "POST", "/invocations", b"[" * 50000 + b"]" * 50000, {}, {}, 400, "nested too deeply"),
    ("double-encoded", "POST", "/invocations", json.dumps(json.dumps(BODY)), {}, {}, 400, "JSON-encoded twice"),
    ("no-instances", "POST", "/invocations", {"instances": []}, {}, {}, 400, "must have at least 1 item"),
    ("not-strings", "POST", "/invocations", {"instances": [1]}, {}, {}, 400, "must be a string"),
    ("k-zero", "POST", "/invocations", {**BODY, "configuration": {"k": 0}}, {}, {}, 400, "must be at least 1"),
    ("k-text", "POST", "/invocations", {**BODY, "configuration": {"k": "2"}}, {}, {}, 400, "must be a whole number"),
    ("unknown-key", "POST", "/invocations", {**BODY, "instance": 1}, {}, {}, 400, "has an unknown key"),
    ("unknown-task", "POST", "/invocations", {**BODY, "task": "entities"}, {}, {}, 400, "must be one of"),
    ("too-many", "POST", "/invocations", {"instances": ["x"] * 11}, {}, {"KINDLING_MAX_INSTANCES": "10"}, 400,
     "at most 10 are allowed"),
    ("too-large", "POST", "/invocations", {"instances": ["x" * 2_000_000]}, {}, {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "1"},
     413, "413 Request Entity Too Large"),
    ("surrogate", "POST", "/invocations", b'{"instances": ["\\ud800"]}', {}, {}, 400, "unpaired surrogate"),
    ("wrong-method", "GET", "/invocations", None, {}, {}, 405, "405 Method Not Allowed"),
    ("wrong-path", "GET", "/predict", None, {}, {}, 404, "404 Not Found"),
]


# (id, body, status, words in error.message) against a word-vector bundle
EMBEDDING_SERVING = [
    ("similarity-without-with", {"instances": ["orbit"], "configuration": {"output": "similarity"}}, 400,
     "output=similarity needs configuration.with"),
    ("neighbours-k", {"instances": ["orbit"], "configuration": {"output": "neighbours", "k": 5000}}, 400,
     "must be at most 1000"),
    ("unknown-output", {"instances": ["orbit"], "configuration": {"output": "vectors"}}, 400, "must be one of"),
    ("word-not-string", {"instances": [["orbit"]]}, 400, "must be a string"),
]


@pytest.mark.parametrize("name, body, status, words", EMBEDDING_SERVING, ids=[case[0] for case in EMBEDDING_SERVING])
def test_embedding_serving_catalogue(embeddings_bundle, name, body, status, words):
    client = create_app(load_predictors(embeddings_bundle), ServeSettings.from_env({})).test_client()
    response = client.post("/invocations", data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == status and words in response.json["error"]["message"]


@pytest.mark.parametrize("name, tree, words", TRAINING, ids=[case[0] for case in TRAINING])
def test_training_catalogue(tmp_path, name, tree, words):
    root = make_tree(tmp_path / "ml", **tree)
    (root / "model" / "model.bin").write_bytes(b"previous")
    assert run(Paths(base=root, input=root / "input")) == 1
    failure = (root / "output" / "failure").read_text()
    assert words in failure and "Traceback" not in failure
    assert [p.name for p in (root / "model").iterdir()] == ["model.bin"]


@pytest.fixture(scope="module")
def predictors(trained_bundle):
    return load_predictors(trained_bundle)


@pytest.mark.parametrize("name, method, path, body, headers, env, status, words", SERVING,
                         ids=[case[0] for case in SERVING])
def test_serving_catalogue(predictors, name, method, path, body, headers, env, status, words):
    client = create_app(predictors, ServeSettings.from_env(env)).test_client()
    data = json.dumps(body) if isinstance(body, dict) else body
    response = client.open(path, method=method, data=data, headers={"Content-Type": "application/json", **headers})
    assert response.status_code == status and response.mimetype == "application/json"
    assert words in response.json["error"]["message"]


def test_missing_bundle_is_503_with_the_reason(tmp_path):
    with pytest.raises(KindlingError) as info:
        load_predictors(tmp_path)
    client = create_app(None, ServeSettings.from_env({}), load_error=info.value).test_client()
    assert client.get("/ping").status_code == 503
    assert "manifest.json is missing" in client.get("/ping").json["error"]["message"]


def test_the_catalogue_has_at_least_25_entries_and_each_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Troubleshooting", 1)[1]
    fragments = [case[-1] for case in TRAINING + SERVING + EMBEDDING_SERVING] + ["manifest.json is missing"]
    assert len(fragments) >= 25
    assert [f for f in fragments if f not in section] == []
