import pytest

from container.paths import Paths
from tests.sagemaker_tree import make_tree


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
