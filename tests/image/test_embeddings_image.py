"""Word vectors through the real image: Wikipedia dump -> prepare -> skipgram with subwords -> serve."""

import json
import os
import shutil

import fasttext
import numpy as np
import requests

from tests.image.docker import run_image, serving, wait_for_ping, writable
from tests.sagemaker_tree import BGWIKI_SAMPLE, ENWIKI_SAMPLE, gensim_test_data

GEOGRAPHY = {"lake", "lakes", "valley", "valleys", "mountain", "mountains", "island", "islands", "coast", "sea",
             "rivers", "inland", "mount", "delta", "tributary", "basin", "bay", "ocean", "plain", "plains"}
CINEMA = {"films", "award", "awards", "academy", "director", "directors", "picture", "actor", "actress", "oscar",
          "movie", "movies", "screenplay", "cinema", "documentary", "oscars", "directed", "hollywood"}


def test_wikipedia_dump_to_every_artifact(wiki_bundle):
    from gensim.models import KeyedVectors
    from spacy.vocab import Vocab

    model, result = wiki_bundle
    names = {p.name for p in model.iterdir()}
    assert {"vectors.bin", "model.bin", "vectors.txt", "vectors.npy", "vocabulary.txt", "spacy", "eval.json",
            "corpus.json", "manifest.json"} <= names
    assert os.path.samefile(model / "vectors.bin", model / "model.bin")
    corpus = json.loads((model / "corpus.json").read_text())
    assert corpus["formats"] == {"wikipedia": 1} and corpus["documents"] == 106 and corpus["tokens"] > 500000
    for word in ("anarchism", "river"):
        expected = fasttext.load_model(str(model / "model.bin")).get_word_vector(word)
        np.testing.assert_allclose(KeyedVectors.load_word2vec_format(str(model / "vectors.txt"))[word], expected,
                                   rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(Vocab().from_disk(model / "spacy").get_vector(word), expected, rtol=1e-6)
    assert "\r" not in result.stdout and "#train_words_per_second_per_thread: " in result.stdout
    assert "PROGRESS: at" in result.stdout  # the engine (gensim by default) reports progress on plain lines


def test_evaluation_in_eval_json_and_the_log(wiki_bundle):
    model, result = wiki_bundle
    scores = json.loads((model / "eval.json").read_text())
    ws = scores["EN-WS-353-ALL.txt"]
    assert ws["total_pairs"] == 353 and 0 < ws["not_found"] < 353 and -1 <= ws["spearmans_rho"] <= 1
    assert scores["mean_rho"] == ws["spearmans_rho"] and scores["mean_rho"] > 0.1
    assert scores["SimLex-999"]["total_pairs"] == 999 and "not_found" in scores["SimLex-999"]
    analogies = scores["analogies"]
    assert analogies["total"] > 1000 and analogies["not_found"] > 0 and analogies["restricted_to"] <= 30000
    assert f"#mean_rho: {scores['mean_rho']}" in result.stdout


def test_served_vectors_neighbours_and_similarity(wiki_bundle):
    model, _ = wiki_bundle
    with serving(model) as (url, container):
        wait_for_ping(url, 30, container)
        post = lambda body: requests.post(f"{url}/invocations", json=body, timeout=10)  # noqa: E731
        response = post({"instances": ["river", "riverbanks"]})
        assert response.status_code == 200
        river, unseen = response.json()
        expected = fasttext.load_model(str(model / "model.bin")).get_word_vector("river")
        assert river["word"] == "river" and np.allclose(river["vector"], expected, rtol=1e-5, atol=1e-6)
        assert unseen["word"] == "riverbanks" and any(unseen["vector"])  # out of vocabulary: subword vector
        neighbours = post({"instances": ["river", "film"], "configuration": {"output": "neighbours", "k": 10}}).json()
        near_river = {n["word"] for n in neighbours[0]["neighbours"]}
        near_film = {n["word"] for n in neighbours[1]["neighbours"]}
        assert len(near_river & GEOGRAPHY) >= 2, near_river
        assert len(near_film & CINEMA) >= 2, near_film
        bad = post({"instances": [3]})
        assert bad.status_code == 400 and "must be a string" in bad.json()["error"]["message"]


def test_prepare_command_is_deterministic_and_reads_the_bulgarian_dump(tmp_path):
    source = writable(tmp_path / "in")
    shutil.copy(gensim_test_data() / ENWIKI_SAMPLE, source / ENWIKI_SAMPLE)
    outputs = []
    for processes in (1, 2):
        out = writable(tmp_path / f"out{processes}")
        result = run_image("prepare", "/in", "/out", "--processes", str(processes),
                           volumes={source: "/in", out: "/out"})
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.append((out / "corpus.txt").read_bytes())
    assert outputs[0] == outputs[1] and len(outputs[0]) > 2_000_000

    bulgarian = writable(tmp_path / "bg")
    shutil.copy(gensim_test_data() / BGWIKI_SAMPLE, bulgarian / BGWIKI_SAMPLE)
    out = writable(tmp_path / "bg-out")
    result = run_image("prepare", "/in", "/out", "--tokenizer", "spacy", "--language", "bg",
                       volumes={bulgarian: "/in", out: "/out"})
    assert result.returncode == 0, result.stdout + result.stderr
    text = (out / "corpus.txt").read_text(encoding="utf-8")
    assert "григорианският календар" in text and "\ufffd" not in text and "Ð" not in text
    assert json.loads((out / "summary.json").read_text())["tokenizer"]["language"] == "bg"
