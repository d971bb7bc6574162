"""Word vectors end to end on the host: training job -> bundle -> every loader -> the Flask app."""

import json
import os

import fasttext
import numpy as np
import pytest

from container.paths import Paths
from container.settings import ServeSettings
from serve.app import create_app
from serve.predictors import load_predictors
from tests.conftest import EMBEDDING_HYPERPARAMETERS
from tests.sagemaker_tree import TOPICS, make_tree, topical_sentences
from train.job import run

pytestmark = pytest.mark.contract
SPORTS, SPACE = set(TOPICS["sports"]), set(TOPICS["space"])


@pytest.fixture(scope="module")
def client(embeddings_bundle):
    return create_app(load_predictors(embeddings_bundle), ServeSettings.from_env({})).test_client()


def invoke(client, body, content_type="application/json", **headers):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/invocations", data=data, headers={"Content-Type": content_type, **headers})


def test_bundle_has_every_artifact_and_the_loaders_agree(embeddings_bundle):
    from gensim.models import KeyedVectors
    from gensim.models.fasttext import load_facebook_model
    from spacy.vocab import Vocab

    model_dir = embeddings_bundle
    names = {p.name for p in model_dir.iterdir()}
    assert {"vectors.bin", "model.bin", "vectors.txt", "vectors.npy", "vocabulary.txt", "spacy", "eval.json",
            "manifest.json"} <= names
    assert os.path.samefile(model_dir / "vectors.bin", model_dir / "model.bin")
    manifest = json.loads((model_dir / "manifest.json").read_text())
    task = manifest["tasks"]["embeddings"]
    assert task["kind"] == "embeddings" and task["subwords"] is True and task["dimension"] == 20
    assert "spacy/vectors" in manifest["files"]

    word = "rocket"
    from_fasttext = fasttext.load_model(str(model_dir / "model.bin")).get_word_vector(word)
    from_text = KeyedVectors.load_word2vec_format(str(model_dir / "vectors.txt"))[word]
    from_gensim_bin = load_facebook_model(str(model_dir / "vectors.bin")).wv[word]
    from_spacy = Vocab().from_disk(model_dir / "spacy").get_vector(word)
    for other in (from_text, from_gensim_bin, from_spacy):
        np.testing.assert_allclose(other, from_fasttext, rtol=1e-4, atol=1e-5)
    oov = "rocketship"  # subwords: gensim and fastText build the same vector for an unseen word
    np.testing.assert_allclose(load_facebook_model(str(model_dir / "vectors.bin")).wv[oov],
                               fasttext.load_model(str(model_dir / "model.bin")).get_word_vector(oov), rtol=1e-4,
                               atol=1e-5)


def test_eval_json_and_metric_lines(tmp_path, capfd):
    root = make_tree(tmp_path / "ml", {**EMBEDDING_HYPERPARAMETERS, "epochs": "1"},
                     {"train": {"c.txt": "\n".join(topical_sentences(300, 2)) + "\n"}})
    assert run(Paths(base=root, input=root / "input")) == 0
    out = capfd.readouterr().out
    assert "#mean_rho: " in out and "#analogy_accuracy: " in out
    scores = json.loads((root / "model" / "eval.json").read_text())
    ws = scores["EN-WS-353-ALL.txt"]
    assert ws["total_pairs"] == 353 and ws["not_found"] >= 350  # a 40-word corpus knows almost none of them
    assert scores["SimLex-999"]["total_pairs"] == 999 and scores["analogies"]["not_found"] > 19000


def test_blazingtext_word_vectors_with_subword_fallback(client, embeddings_bundle):
    response = invoke(client, {"instances": ["rocket", "rocketship"]})
    assert response.status_code == 200
    first, second = response.json
    assert first["word"] == "rocket" and len(first["vector"]) == 20
    expected = fasttext.load_model(str(embeddings_bundle / "model.bin")).get_word_vector("rocket")
    np.testing.assert_allclose(first["vector"], expected, rtol=1e-5, atol=1e-6)
    assert second["word"] == "rocketship" and any(abs(x) > 0 for x in second["vector"])


def test_neighbours_share_the_topic(client):
    response = invoke(client, {"instances": ["rocket", "striker"], "configuration": {"output": "neighbours", "k": 5}})
    rocket, striker = response.json
    assert [n["word"] for n in rocket["neighbours"]] and "rocket" not in [n["word"] for n in rocket["neighbours"]]
    assert sum(n["word"] in SPACE for n in rocket["neighbours"]) >= 4
    assert sum(n["word"] in SPORTS for n in striker["neighbours"]) >= 4
    similarities = [n["similarity"] for n in rocket["neighbours"]]
    assert similarities == sorted(similarities, reverse=True)


def test_similarity_and_sentence_vectors(client):
    response = invoke(client, {"instances": ["planet", "referee", "the rocket reached orbit"],
                               "configuration": {"output": "similarity", "with": "galaxy"}})
    planet, referee, sentence = (r["similarity"] for r in response.json)
    assert planet > referee and sentence > referee
    vectors = invoke(client, {"instances": ["the rocket reached orbit"], "configuration": {"output": "sentence_vector"}})
    assert vectors.json[0]["text"] == "the rocket reached orbit" and len(vectors.json[0]["vector"]) == 20


def test_jsonlines_lines_carry_their_own_comparison(client):
    body = '{"source": "orbit", "with": "comet", "output": "similarity"}\n{"source": "orbit"}\n'
    response = invoke(client, body, "application/jsonlines", Accept="application/jsonlines")
    first, second = (json.loads(line) for line in response.data.decode().splitlines())
    assert first["with"] == "comet" and "similarity" in first and second["word"] == "orbit"


def test_model_without_subwords_gives_zeros_for_unseen_words(tmp_path):
    root = make_tree(tmp_path / "ml", {**EMBEDDING_HYPERPARAMETERS, "subwords": "false", "mode": "cbow",
                                       "evaluation": "false"},
                     {"train": {"c.txt": "\n".join(topical_sentences(600, 3)) + "\n"}})
    assert run(Paths(base=root, input=root / "input")) == 0
    assert not (root / "model" / "eval.json").exists()
    client = create_app(load_predictors(root / "model"), ServeSettings.from_env({})).test_client()
    seen, unseen = invoke(client, {"instances": ["orbit", "rocketship"]}).json
    assert any(seen["vector"]) and unseen["vector"] == [0.0] * 20


def test_raw_text_is_prepared_in_the_same_job(tmp_path):
    lines = [json.dumps({"body": s.upper() + "!"}) for s in topical_sentences(600, 4)]
    root = make_tree(tmp_path / "ml", {**EMBEDDING_HYPERPARAMETERS, "prepare": "true", "text_field": "body",
                                       "mode": "batch_skipgram", "evaluation": "false"},
                     {"train": {"raw.jsonl": "\n".join(lines) + "\n"}})
    assert run(Paths(base=root, input=root / "input")) == 0
    summary = json.loads((root / "model" / "corpus.json").read_text())
    assert summary["documents"] == 600 and summary["formats"] == {"jsonlines": 1}
    words = (root / "model" / "vocabulary.txt").read_text().split()
    assert "orbit" in words and "ORBIT" not in words and "!" in words


def test_vectors_from_word2vec_text_or_spacy_are_re_exported_and_served(tmp_path, embeddings_bundle):
    for source in ("vectors.txt", "spacy"):
        channel = {"train": {}}
        root = make_tree(tmp_path / source / "ml", {"mode": "vectors", "evaluation": "false"}, channel)
        target = root / "input" / "data" / "train" / source
        if source == "spacy":
            import shutil

            shutil.copytree(embeddings_bundle / "spacy", target)
        else:
            target.write_bytes((embeddings_bundle / "vectors.txt").read_bytes())
        assert run(Paths(base=root, input=root / "input")) == 0, (root / "output" / "failure").read_text()
        assert {"vectors.txt", "vectors.npy", "spacy", "manifest.json"} <= {p.name for p in (root / "model").iterdir()}
        client = create_app(load_predictors(root / "model"), ServeSettings.from_env({})).test_client()
        rocket, unseen = invoke(client, {"instances": ["rocket", "rocketship"]}).json
        expected = fasttext.load_model(str(embeddings_bundle / "model.bin")).get_word_vector("rocket")
        np.testing.assert_allclose(rocket["vector"], expected, rtol=1e-4, atol=1e-5)
        assert unseen["vector"] == [0.0] * 20


@pytest.mark.parametrize("engine", ["gensim", "fasttext"])
def test_both_engines_write_the_same_fasttext_artifacts(tmp_path, engine):
    """engine=gensim (gensim's FastText, saved as a fastText binary) and engine=fasttext: fastText, gensim
    and the server agree on in-vocabulary and unseen words, and neighbours are topical."""
    from gensim.models.fasttext import load_facebook_model

    root = make_tree(tmp_path / "ml", {**EMBEDDING_HYPERPARAMETERS, "engine": engine, "evaluation": "false"},
                     {"train": {"c.txt": "\n".join(topical_sentences(3000, 5)) + "\n"}})
    assert run(Paths(base=root, input=root / "input")) == 0, (root / "output" / "failure").read_text()
    model_dir = root / "model"
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["tasks"]["embeddings"]["hyperparameters"]["engine"] == engine
    from_fasttext = fasttext.load_model(str(model_dir / "model.bin"))
    from_gensim = load_facebook_model(str(model_dir / "vectors.bin")).wv
    words = (model_dir / "vocabulary.txt").read_text().split("\n")[:-1]
    matrix = np.load(model_dir / "vectors.npy")
    for word in ("orbit", "striker", "rocketship"):
        np.testing.assert_allclose(from_gensim[word], from_fasttext.get_word_vector(word), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(matrix[words.index("orbit")], from_fasttext.get_word_vector("orbit"), rtol=1e-5,
                               atol=1e-6)
    client = create_app(load_predictors(model_dir), ServeSettings.from_env({})).test_client()
    rocket = invoke(client, {"instances": ["rocket"], "configuration": {"output": "neighbours", "k": 5}}).json[0]
    assert sum(n["word"] in SPACE for n in rocket["neighbours"]) >= 4


def test_a_restarted_job_reuses_the_prepared_corpus_from_checkpoints(tmp_path, caplog):
    caplog.set_level("INFO")
    lines = [json.dumps({"text": s}) for s in topical_sentences(600, 6)]
    root = make_tree(tmp_path / "ml", {**EMBEDDING_HYPERPARAMETERS, "prepare": "true", "evaluation": "false"},
                     {"train": {"raw.jsonl": "\n".join(lines) + "\n"}})
    paths = Paths(base=root, input=root / "input")
    assert run(paths) == 0
    entries = list((root / "checkpoints" / "kindling").iterdir())
    assert len(entries) == 1 and (entries[0] / "complete").is_file() and (entries[0] / "corpus.txt").is_file()
    first = (root / "model" / "corpus.json").read_text()
    caplog.clear()
    assert run(paths) == 0  # the spot restart: same inputs, same settings
    assert "checkpoint: reusing the prepared-corpus" in caplog.text
    assert json.loads((root / "model" / "corpus.json").read_text()) == json.loads(first)
    (root / "input" / "data" / "train" / "raw.jsonl").write_text(lines[0] + "\n" + "\n".join(lines) + "\n")
    caplog.clear()
    assert run(paths) == 0  # changed input: prepared again
    assert "checkpoint: reusing" not in caplog.text


def test_a_bare_blazingtext_word2vec_model_is_served_as_word_vectors(tmp_path):
    """BlazingText's word2vec model.tar.gz holds vectors.bin and vectors.txt, no manifest: served as it is."""
    import shutil

    from tests.sagemaker_tree import gensim_test_data

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    shutil.copy(gensim_test_data() / "lee_fasttext_new.bin", model_dir / "vectors.bin")  # fastText skipgram, subwords
    predictors = load_predictors(model_dir)
    assert list(predictors) == ["embeddings"]
    client = create_app(predictors, ServeSettings.from_env({})).test_client()
    reference = fasttext.load_model(str(model_dir / "vectors.bin"))
    word = reference.get_words()[10]
    known, unseen = invoke(client, {"instances": [word, "zzqxunseen"]}).json
    np.testing.assert_allclose(known["vector"], reference.get_word_vector(word), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(unseen["vector"], reference.get_word_vector("zzqxunseen"), rtol=1e-5, atol=1e-6)
    neighbours = invoke(client, {"instances": [word], "configuration": {"output": "neighbours", "k": 3}}).json[0]
    assert len(neighbours["neighbours"]) == 3


@pytest.mark.parametrize("configuration", [{"output": "vector"}, {"output": "sentence_vector"},
                                           {"output": "neighbours", "k": 50},
                                           {"output": "similarity", "with": "football"}])
def test_the_answer_size_estimate_is_on_the_large_side_but_close(embeddings_bundle, configuration):
    predictor = load_predictors(embeddings_bundle)["embeddings"]
    instances = ["football", "rocket launch", "zzqx unseen", "orbit"] * 25
    full = {**predictor.default_configuration, **configuration}
    actual = len(json.dumps(predictor.predict(instances, full, float("inf")), separators=(",", ":")))
    estimate = predictor.response_bytes(instances, full)
    assert actual <= estimate <= 3 * actual, (actual, estimate)


def test_an_answer_over_the_response_limit_is_refused_before_it_is_computed(embeddings_bundle):
    predictors = load_predictors(embeddings_bundle)
    computed = []
    predictors["embeddings"].neighbours = lambda *args: computed.append(1) or []
    client = create_app(predictors, ServeSettings.from_env({"KINDLING_MAX_RESPONSE_MB": "1"})).test_client()
    response = invoke(client, {"instances": ["football"] * 2000, "configuration": {"output": "neighbours", "k": 1000}})
    assert response.status_code == 413 and response.json["error"]["code"] == "response_too_large"
    assert "KINDLING_MAX_RESPONSE_MB" in response.json["error"]["message"] and computed == []
    lines = "\n".join(["football"] * 50000).encode()
    assert invoke(client, lines, "text/plain").status_code == 413  # batch lines: every line's answer counts
