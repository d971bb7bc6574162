import os

import pytest

from container.paths import Paths
from tests.sagemaker_tree import gensim_test_data, make_tree

# The evaluation sets the image bakes into /opt/kindling/eval come from the same gensim wheel.
os.environ.setdefault("KINDLING_EVAL_DIR", str(gensim_test_data()))


@pytest.fixture
def tree(tmp_path):
    """A fresh SageMaker tree with default config and synthetic channels; returns its Paths."""
    root = make_tree(tmp_path / "ml")
    return Paths(base=root, input=root / "input")


@pytest.fixture(scope="session")
def trained_bundle(tmp_path_factory):
    """One real bundle trained on the synthetic data, shared by the serving tests (read-only)."""
    from train.job import run

    root = make_tree(tmp_path_factory.mktemp("bundle") / "ml")
    paths = Paths(base=root, input=root / "input")
    assert run(paths) == 0, (paths.failure.read_text() if paths.failure.exists() else "no failure file")
    return paths.model


EMBEDDING_HYPERPARAMETERS = {"mode": "skipgram", "epochs": "10", "vector_dim": "20", "min_count": "2",
                             "subwords": "true", "buckets": "20000", "window_size": "5", "learning_rate": "0.05"}


@pytest.fixture(scope="session")
def embeddings_bundle(tmp_path_factory):
    """One real word-vector bundle (skipgram with subwords, topical synthetic sentences), read-only."""
    from tests.sagemaker_tree import topical_sentences
    from train.job import run

    root = make_tree(tmp_path_factory.mktemp("embeddings") / "ml", EMBEDDING_HYPERPARAMETERS,
                     {"train": {"corpus.txt": "\n".join(topical_sentences(3000, 1)) + "\n"}})
    paths = Paths(base=root, input=root / "input")
    assert run(paths) == 0, (paths.failure.read_text() if paths.failure.exists() else "no failure file")
    return paths.model


@pytest.fixture(scope="session")
def moto_endpoint():
    """One moto server on 127.0.0.1 (the tests' stand-in for S3, SageMaker, ECS, ECR) per test session."""
    from tests.moto_server import moto_server

    with moto_server() as url:
        yield url


@pytest.fixture
def fake_aws(moto_endpoint, monkeypatch):
    """Fake credentials, no instance metadata, and the moto endpoint for every AWS client; returns it."""
    from tests.moto_server import FAKE_AWS

    for key, value in {**FAKE_AWS, "AWS_ENDPOINT_URL": moto_endpoint}.items():
        monkeypatch.setenv(key, value)
    return moto_endpoint
