"""Entity ranking end to end on the host: alias tables and a Wikipedia dump -> KB bundle -> Flask app."""

import json
import shutil

import pytest

from container.entity_kb import CompactKB
from container.paths import Paths
from container.settings import ServeSettings
from serve.app import create_app
from serve.predictors import load_predictors
from tests.sagemaker_tree import ENWIKI_SAMPLE, gensim_test_data, make_tree
from train.job import run

pytestmark = pytest.mark.contract

ALIASES = "\n".join([
    "alias\tid\ttitle\tcount",
    "New York\tQ60\tNew York City\t10",
    "New York Times\tQ9684\tThe New York Times\t8",
    "Times\tQ9684\tThe New York Times\t1",
    "Times\tQ11259\tTimes Square\t3",
    "Big Apple\tQ60\tNew York City\t4",
    "big apple\tQ60\tNew York City\t2",  # the same alias again (case-folded): counts summed
    "Zürich\tQ72\tZürich\t5",
    "Ünïcode Café\tQ1\tThe Café\t1",
]) + "\n"


@pytest.fixture(scope="module")
def alias_bundle(tmp_path_factory):
    root = make_tree(tmp_path_factory.mktemp("aliases") / "ml", {"mode": "entities", "rho_threshold": "0"},
                     {"train": {"aliases.tsv": ALIASES}})
    paths = Paths(base=root, input=root / "input")
    assert run(paths) == 0, (root / "output" / "failure").read_text()
    return paths.model


@pytest.fixture(scope="module")
def client(alias_bundle):
    return create_app(load_predictors(alias_bundle), ServeSettings.from_env({})).test_client()


def invoke(client, body):
    return client.post("/invocations", data=json.dumps(body), headers={"Content-Type": "application/json"})


def test_offsets_index_the_original_text_for_multi_word_overlapping_and_unicode_mentions(client):
    text = "Ünïcode Café: I read The New York Times in the Big Apple, then flew to Zürich."
    response = invoke(client, {"instances": [text]})
    assert response.status_code == 200
    annotations = response.json[0]["annotations"]
    found = [(a["spot"], a["title"], a["id"]) for a in annotations]
    assert found == [("Ünïcode Café", "The Café", "Q1"), ("New York Times", "The New York Times", "Q9684"),
                     ("Big Apple", "New York City", "Q60"), ("Zürich", "Zürich", "Q72")]
    for annotation in annotations:  # the longer "New York Times" wins over "New York" and "Times"
        assert text[annotation["start"]:annotation["end"]] == annotation["spot"]
    entities = response.json[0]["entities"]
    assert {e["title"] for e in entities} == {"The Café", "The New York Times", "New York City", "Zürich"}
    assert [e["score"] for e in entities] == sorted((e["score"] for e in entities), reverse=True)


def test_candidates_commonness_and_summed_duplicates(client, alias_bundle):
    response = invoke(client, {"instances": ["Times", "big apple"], "configuration": {"candidates": True}})
    times, apple = (r["annotations"][0] for r in response.json)
    assert times["title"] == "Times Square" and times["commonness"] == pytest.approx(0.75)
    assert [c["title"] for c in times["candidates"]] == ["Times Square", "The New York Times"]
    kb = CompactKB(alias_bundle / "kb")
    assert kb.anchor("big apple").links == 6 and apple["title"] == "New York City"


def test_empty_texts_get_empty_annotations_and_bad_parameters_are_named(client):
    response = invoke(client, {"instances": ["", "   "]})
    assert response.json == [{"annotations": [], "entities": []}] * 2
    bad = invoke(client, {"instances": ["Times"], "configuration": {"tau": 2}})
    assert bad.status_code == 400 and "Configuration.tau must be at most 1" in bad.json["error"]["message"]
    bad = invoke(client, {"instances": ["Times"], "configuration": {"relatedness": "embedding"}})
    assert bad.status_code == 400 and "needs entity vectors" in bad.json["error"]["message"]
    huge = invoke(client, {"instances": ["Times " * 20000]})
    assert huge.status_code == 400 and "at most 100000 are annotated" in huge.json["error"]["message"]


def test_wikipedia_sample_builds_a_kb_and_serves_it(tmp_path, caplog):
    caplog.set_level("INFO")
    root = make_tree(tmp_path / "ml", {"mode": "entities", "vectors": "false", "evaluation": "false"}, {"train": {}})
    shutil.copy(gensim_test_data() / ENWIKI_SAMPLE, root / "input" / "data" / "train" / ENWIKI_SAMPLE)
    assert run(Paths(base=root, input=root / "input")) == 0, (root / "output" / "failure").read_text()
    out = caplog.text
    assert "pages=98" in out and "redirects=99" in out and "links=" in out
    manifest = json.loads((root / "model" / "manifest.json").read_text())
    task = manifest["tasks"]["entities"]
    assert task["kb"]["anchors"] > 10000 and task["ranking"]["relatedness"] == "milne_witten"
    kb = CompactKB(root / "model" / "kb")
    anarchism = kb.anchor("anarchism")
    assert anarchism is not None and kb.title(anarchism.candidates[0][0]) == "Anarchism"
    assert 0 < anarchism.link_probability <= 1 and len(kb.inlinks(anarchism.candidates[0][0])) > 0
    client = create_app(load_predictors(root / "model"), ServeSettings.from_env({})).test_client()
    text = "Anarchism is a political philosophy; Aristotle wrote about it in Athens."
    titles = [a["title"] for a in invoke(client, {"instances": [text]}).json[0]["annotations"]]
    assert {"Anarchism", "Aristotle"} <= set(titles)


@pytest.mark.parametrize("table, words", [
    ("", "have no rows"), ("alias\tid\n", "have no rows"), ("only-one-column\n", "not an alias row"),
    ("x\tQ1\tTitle\tmany\n", "not an alias row")])
def test_bad_alias_tables(tmp_path, table, words):
    root = make_tree(tmp_path / "ml", {"mode": "entities"}, {"train": {"a.tsv": table}})
    assert run(Paths(base=root, input=root / "input")) == 1
    assert words in (root / "output" / "failure").read_text()


def test_a_restarted_job_reuses_the_finished_kb_from_checkpoints(tmp_path, caplog):
    caplog.set_level("INFO")
    root = make_tree(tmp_path / "ml", {"mode": "entities"}, {"train": {"aliases.tsv": ALIASES}})
    paths = Paths(base=root, input=root / "input")
    assert run(paths) == 0
    first = json.loads((paths.model / "manifest.json").read_text())["tasks"]["entities"]["kb"]
    assert run(paths) == 0
    assert "checkpoint: reusing the entity-kb" in caplog.text
    assert json.loads((paths.model / "manifest.json").read_text())["tasks"]["entities"]["kb"] == first


def test_spotting_parameters_can_be_set_per_request(client):
    text = "The New York Times"
    short = invoke(client, {"instances": [text], "configuration": {"max_spot_tokens": 2}}).json[0]["annotations"]
    assert [(a["spot"], a["title"]) for a in short] == [("New York", "New York City"), ("Times", "Times Square")]
    bad = invoke(client, {"instances": [text], "configuration": {"lp_factor": 0.5}})
    assert bad.status_code == 400 and "lp_factor" in bad.json["error"]["message"]


def _page(title: str, page_id: int, text: str, redirect: str | None = None) -> str:
    redirect_tag = f'<redirect title="{redirect}" />' if redirect else ""
    return (f"<page><title>{title}</title><ns>0</ns><id>{page_id}</id>{redirect_tag}"
            f"<revision><id>{page_id + 100}</id><text>{text}</text></revision></page>")


HANDMADE_DUMP = '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">' + "".join([
    _page("Jaguar", 1, "The [[Jaguar]] is a cat of the [[Amazon rainforest|jungle]]; see [[Jaguar Cars]]. "
                       "{{cite web|url=broken [[Mercury (planet)|Mercury]] never closes"),
    _page("Amazon rainforest", 2, "A [[rainforest]] where the [[Jaguar|jaguar]] lives, far from [[Nowhere page|"
                                  "nowhere]]. [[Unclosed link and ]] {| a table that never closes\n| [[Jaguar]]"),
    _page("Panthera onca", 3, "#REDIRECT [[Jaguar]]", redirect="Jaguar"),
    _page("Mercury", 4, "'''Mercury''' may refer to:\n* [[Mercury (planet)]]\n{{disambiguation}}"),
    _page("Jaguar Cars", 5, "Cars named after [[Panthera onca|the big cat]], not the [[Mercury]] cars."),
]) + "</mediawiki>"


@pytest.mark.parametrize("drop_missing", [False, True])
def test_a_dump_with_broken_markup_self_links_redirects_and_missing_pages(tmp_path, caplog, drop_missing):
    caplog.set_level("INFO")
    hyperparameters = {"mode": "entities", "vectors": "false", "evaluation": "false",
                       "drop_missing_targets": str(drop_missing).lower()}
    root = make_tree(tmp_path / "ml", hyperparameters, {"train": {"wiki.xml": HANDMADE_DUMP}})
    assert run(Paths(base=root, input=root / "input")) == 0, (root / "output" / "failure").read_text()
    counts = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("dump: "))
    for field in ("pages=3", "redirects=1", "disambiguation_pages=1", "self_links=1", "links_to_disambiguation=1"):
        assert field in counts, counts
    assert ("links_to_missing_pages=" in counts) == drop_missing, counts
    kb = CompactKB(root / "model" / "kb")
    big_cat = kb.anchor("the big cat")  # through the redirect, to the page it names
    assert big_cat is not None and kb.title(big_cat.candidates[0][0]) == "Jaguar"
    assert kb.anchor("mercury") is None or all(kb.title(e) != "Mercury" for e, _ in kb.anchor("mercury").candidates)
    nowhere = kb.anchor("nowhere")
    if drop_missing:
        assert nowhere is None
    else:  # a partial dump: the target is kept as an entity without a page id
        assert kb.title(nowhere.candidates[0][0]) == "Nowhere page" and kb.entity_id(nowhere.candidates[0][0]) is None
    client = create_app(load_predictors(root / "model"), ServeSettings.from_env({})).test_client()
    annotations = invoke(client, {"instances": ["A jaguar in the jungle"],
                                  "configuration": {"rho_threshold": 0}}).json[0]["annotations"]
    assert [(a["spot"], a["title"]) for a in annotations] == [("jaguar", "Jaguar"), ("jungle", "Amazon rainforest")]
