import pytest

from container import hyperparameters as hp
from container.errors import KindlingError
from train.classifier import SupervisedParams


def parse(raw):
    return hp.parse(SupervisedParams, raw, mode="supervised")


def test_defaults_are_blazingtext_defaults():
    params = parse({"mode": "supervised"})
    assert (params.epochs, params.learning_rate, params.min_count, params.vector_dim) == (5, 0.05, 5, 100)
    assert (params.word_ngrams, params.buckets) == (2, 2000000)


@pytest.mark.parametrize("raw, expected", [
    ({"epochs": "10"}, 10), ({"epochs": 10}, 10), ({"epochs": "10.0"}, 10), ({"epoch": "7"}, 7),
    ({"epochs": '"12"'}, 12),  # framework estimators JSON-encode strings
])
def test_integers_from_every_spelling(raw, expected):
    assert parse(raw).epochs == expected


@pytest.mark.parametrize("text, expected", [("True", True), ("true", True), ("1", True), ("FALSE", False),
                                            ("0", False), (False, False)])
def test_booleans_in_any_case(text, expected):
    assert parse({"lowercase": text}).lowercase is expected


def test_fasttext_aliases_map_to_blazingtext_names():
    params = parse({"lr": "0.1", "wordNgrams": "3", "dim": "50", "minCount": "2", "bucket": "1000"})
    assert (params.learning_rate, params.word_ngrams, params.vector_dim, params.min_count, params.buckets) == \
        (0.1, 3, 50, 2, 1000)


def test_platform_keys_are_ignored():
    params = parse({"sagemaker_job_name": '"job"', "sagemaker_region": "us-east-1",
                    "_tuning_objective_metric": "validation:accuracy", "mode": "supervised"})
    assert params.epochs == 5


def test_every_bad_key_is_named_in_one_message():
    with pytest.raises(KindlingError) as info:
        parse({"epochs": "ten", "learnin_rate": "0.1", "vector_dim": "0", "loss": "hinge"})
    message = info.value.message
    assert "4 hyperparameters are invalid" in message
    assert "epochs='ten' is not a whole number" in message
    assert "'learnin_rate' is not a hyperparameter of mode=supervised (did you mean 'learning_rate'?)" in message
    assert "vector_dim='0' must be at least 1" in message
    assert "loss='hinge' is not one of softmax, ns, hs, ova" in message
    assert info.value.code == "bad_hyperparameters" and info.value.status == 400
    assert "learning_rate (lr)" in info.value.hint


def test_alias_and_name_together_is_an_error():
    with pytest.raises(KindlingError, match="both set epochs"):
        parse({"epochs": "5", "epoch": "6"})


@pytest.mark.parametrize("raw", [{"learning_rate": "0"}, {"learning_rate": "nan"}, {"epochs": "2.5"},
                                 {"epochs": True}, {"lowercase": "maybe"}, {"label_prefix": ["x"]}])
def test_ill_typed_or_out_of_range_values_fail(raw):
    with pytest.raises(KindlingError):
        parse(raw)


def test_min_char_above_max_char_is_rejected():
    with pytest.raises(KindlingError, match="min_char=5 is larger than max_char=3"):
        parse({"minn": "5", "maxn": "3"}).validate()


def test_fasttext_arguments_use_all_cpus_when_threads_is_zero():
    args = parse({"threads": "0"}).fasttext_args(threads=8)
    assert args["thread"] == 8 and args["epoch"] == 5 and args["wordNgrams"] == 2
