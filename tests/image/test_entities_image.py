"""Entity ranking through the real image: the Wikipedia sample -> KB + cross-validation -> served annotations."""

import json

import pytest
import requests

from tests.image.docker import run_image, serving, wait_for_ping


@pytest.fixture(scope="module")
def wiki_kb(tmp_path_factory):
    model = tmp_path_factory.mktemp("kb") / "model"
    model.mkdir()
    model.chmod(0o777)
    result = run_image("train", "--sample", "entities", volumes={model: "/opt/ml/model"}, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return model, result


def test_the_log_has_the_counts_and_the_evaluation_table(wiki_kb):
    model, result = wiki_kb
    counts = next(line for line in result.stdout.splitlines() if "train.entities: dump:" in line)
    for field in ("pages=98", "redirects=99", "anchors=", "links=", "entities="):
        assert field in counts
    assert "entities evaluation (5-fold cross-validation" in result.stdout
    assert "D2W accuracy, all in-KB mentions" in result.stdout and "A2W strong match" in result.stdout
    assert "#d2w_accuracy: " in result.stdout and "#d2w_commonness_accuracy: " in result.stdout
    scores = json.loads((model / "eval.json").read_text())
    d2w = scores["d2w"]
    assert d2w["mentions"] > 1000 and 0 < d2w["commonness_accuracy"] <= 1 and 0 < d2w["tagme_accuracy"] <= 1
    assert d2w["ambiguous"]["mentions"] > 100 and len(d2w["bootstrap_95"]["difference"]) == 2
    changed = round((d2w["tagme_accuracy"] - d2w["commonness_accuracy"]) * d2w["mentions"])
    assert d2w["paired"]["fixed"] - d2w["paired"]["broken"] == changed and "McNemar exact p" in result.stdout
    assert 0 < scores["kb_coverage"] < 1 and len(scores["chosen_per_fold"]) == 5
    served = json.loads((model / "manifest.json").read_text())["tasks"]["entities"]["ranking"]
    assert {k: served[k] for k in ("epsilon", "relatedness")} == scores["served"]  # relatedness=auto: chosen by CV
    assert "entities: serving relatedness=" in result.stdout


def test_served_annotations(wiki_kb):
    model, _ = wiki_kb
    text = "Aristotle was a student of Plato; anarchism is a political philosophy."
    with serving(model) as (url, container):
        wait_for_ping(url, 30, container)
        response = requests.post(f"{url}/invocations", json={"instances": [text, " "]}, timeout=10)
        assert response.status_code == 200
        first, empty = response.json()
        titles = {a["title"] for a in first["annotations"]}
        assert {"Aristotle", "Plato", "Anarchism"} <= titles
        for annotation in first["annotations"]:
            assert text[annotation["start"]:annotation["end"]] == annotation["spot"]
        assert empty == {"annotations": [], "entities": []}
        lines = requests.post(f"{url}/invocations", data='{"source": "Plato"}\n{"source": "Athens"}\n',
                              headers={"Content-Type": "application/jsonlines", "Accept": "application/jsonlines"},
                              timeout=10)
        assert [json.loads(line)["annotations"][0]["title"] for line in lines.text.splitlines()] == ["Plato", "Athens"]


def test_alias_table_kb_serves_offsets_into_the_text_as_sent(tmp_path):
    from tests.sagemaker_tree import make_tree, open_permissions

    table = "New York\tQ60\tNew York City\t10\nNew York Times\tQ9684\tThe New York Times\t8\nZürich\tQ72\tZürich\t5\n"
    root = make_tree(tmp_path / "ml", {"mode": "entities", "rho_threshold": "0"}, {"train": {"aliases.tsv": table}})
    open_permissions(root)
    result = run_image("train", volumes={root: "/opt/ml"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    text = "Grüße: The New York Times, then Zürich."
    with serving(root / "model") as (url, container):
        wait_for_ping(url, 30, container)
        annotations = requests.post(f"{url}/invocations", json={"instances": [text]}, timeout=10).json()[0]["annotations"]
    assert [(a["spot"], a["id"]) for a in annotations] == [("New York Times", "Q9684"), ("Zürich", "Q72")]
    assert all(text[a["start"]:a["end"]] == a["spot"] for a in annotations)
