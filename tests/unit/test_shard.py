"""Which shard a machine is (container/shard.py): `--shard I/N` as given, or its place among a SageMaker
job's hosts; and the two commands that take it (`kb scan|count`, `prepare --parts`)."""

import argparse
import json

import pytest

from container.errors import KindlingError
from container.paths import Paths
from container.shard import AUTO, Shard, fraction, shard_of, this_host


def tree(tmp_path, config, where="config") -> Paths:
    """A SageMaker tree whose resource config is `config` (a dict, or raw text), in a Processing job's
    place (config/) or a training job's (input/config/)."""
    folder = tmp_path / where
    folder.mkdir(parents=True)
    (folder / "resourceconfig.json").write_text(config if isinstance(config, str) else json.dumps(config))
    return Paths.from_env({"SAGEMAKER_BASE_DIR": str(tmp_path)})


@pytest.mark.parametrize("current, expected", [("algo-1", Shard(0, 3)), ("algo-2", Shard(1, 3)),
                                               ("algo-10", Shard(2, 3))])
def test_the_place_among_the_hosts_in_natural_order_is_the_shard(tmp_path, current, expected):
    paths = tree(tmp_path, {"current_host": current, "hosts": ["algo-10", "algo-2", "algo-1"]})
    assert this_host(paths) == expected == shard_of(AUTO, paths)


def test_one_host_is_shard_0_of_1_and_a_training_jobs_config_counts_too(tmp_path):
    assert this_host(tree(tmp_path, {"current_host": "algo-1", "hosts": ["algo-1"]}, "input/config")) == Shard(0, 1)


def test_a_given_shard_wins_over_the_resource_config(tmp_path):
    paths = tree(tmp_path, {"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]})
    assert shard_of(fraction("3/4"), paths) == Shard(3, 4)


def test_no_shard_and_no_resource_config_is_an_error_that_says_what_to_pass(tmp_path):
    with pytest.raises(KindlingError) as caught:
        this_host(Paths.from_env({"SAGEMAKER_BASE_DIR": str(tmp_path)}))
    assert caught.value.code == "unknown_shard"
    assert str(tmp_path / "config" / "resourceconfig.json") in caught.value.message
    assert "--shard 0/1 on a single machine" in caught.value.hint


@pytest.mark.parametrize("config, words", [
    ("{not json", "cannot be read as JSON"),
    ({"current_host": "algo-1"}, "has no list of distinct host names"),
    ({"current_host": "algo-1", "hosts": []}, "has no list of distinct host names"),
    ({"current_host": "algo-1", "hosts": ["algo-1", "algo-1"]}, "has no list of distinct host names"),
    ({"current_host": "algo-3", "hosts": ["algo-1", "algo-2"]}, "names current_host 'algo-3', which is not among"),
    ([1, 2], "has no list of distinct host names"),
])
def test_a_bad_resource_config_is_named(tmp_path, config, words):
    with pytest.raises(KindlingError) as caught:
        this_host(tree(tmp_path, config))
    assert caught.value.code == "unknown_shard" and words in caught.value.message
    assert "resourceconfig.json" in caught.value.message


@pytest.mark.parametrize("text", ["4/4", "1", "a/b", "-1/2", "1/0"])
def test_fractions_are_i_of_n(text):
    assert fraction("2/4") == Shard(2, 4) and fraction("auto") == AUTO and Shard(2, 4).name() == "shard-0002-of-0004"
    with pytest.raises(argparse.ArgumentTypeError):
        fraction(text)


@pytest.fixture
def recorded(monkeypatch):
    from train.kb_build import shards

    calls = []
    monkeypatch.setattr(shards, "scan_shard", lambda inputs, out, params, index, count, processes:
                        calls.append(("scan", index, count)))
    monkeypatch.setattr(shards, "count_part", lambda out, index, count, processes:
                        calls.append(("count", index, count)))
    return calls


def test_kb_scan_and_count_take_their_shard_from_the_job_when_none_is_given(tmp_path, monkeypatch, recorded):
    from train.kb_build.shards import main

    tree(tmp_path, {"current_host": "algo-3", "hosts": ["algo-1", "algo-2", "algo-3"]})
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))
    assert main(["scan", str(tmp_path / "in"), str(tmp_path / "out")]) == 0
    assert main(["count", str(tmp_path / "out")]) == 0
    assert main(["scan", str(tmp_path / "in"), str(tmp_path / "out"), "--shard", "0/5"]) == 0
    assert recorded == [("scan", 2, 3), ("count", 2, 3), ("scan", 0, 5)]


def test_kb_scan_outside_a_job_without_a_shard_fails_before_scanning(tmp_path, monkeypatch, recorded, capsys):
    from train.kb_build.shards import main

    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))
    assert main(["scan", str(tmp_path / "in"), str(tmp_path / "out")]) == 1
    assert main(["count", str(tmp_path / "out")]) == 1
    assert recorded == [] and capsys.readouterr().out.count("this machine's shard is unknown") == 2


def test_prepare_parts_writes_into_the_hosts_shard_folder(tmp_path, monkeypatch):
    from train.corpus import main

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("One line of text.\n")
    tree(tmp_path / "ml", {"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]})
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path / "ml"))
    assert main(["--parts", str(tmp_path / "in"), str(tmp_path / "out"), "--shard", "auto", "--processes", "1"]) == 0
    assert main(["--parts", str(tmp_path / "in"), str(tmp_path / "out"), "--shard", "0/2", "--processes", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["shard-0000-of-0002", "shard-0001-of-0002"]
    assert (tmp_path / "out" / "shard-0001-of-0002" / "parts" / "a.txt.txt").read_text() == "one line of text .\n"
    with pytest.raises(SystemExit):
        main([str(tmp_path / "in"), str(tmp_path / "plain"), "--shard", "0/2"])  # only with --parts


def test_prepare_merge_names_a_shard_that_did_not_finish(tmp_path):
    from train import corpus

    with pytest.raises(KindlingError) as caught:
        corpus.merge_parts([tmp_path / "shard-0000-of-0002"], tmp_path / "corpus")
    assert caught.value.code == "missing_shard" and "shard-0000-of-0002" in caught.value.message
