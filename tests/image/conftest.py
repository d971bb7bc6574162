import os

import pytest

from container.paths import Paths
from tests.image.docker import engine_problem, run_image, writable
from tests.sagemaker_tree import make_tree, open_permissions


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/image/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.image)


@pytest.fixture(scope="session", autouse=True)
def docker_engine():
    """Image tests need the engine and the built image: skip without them, or fail when REQUIRE_DOCKER=1."""
    problem = engine_problem()
    if problem:
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail(f"REQUIRE_DOCKER=1 but {problem}", pytrace=False)
        pytest.skip(problem)


@pytest.fixture(scope="session")
def image_bundle(tmp_path_factory):
    """A model trained by the image from a SageMaker-shaped tree (shared, read-only for serving tests)."""
    root = make_tree(tmp_path_factory.mktemp("image-bundle") / "ml")
    open_permissions(root)
    result = run_image("train", volumes={root: "/opt/ml"})
    assert result.returncode == 0, result.stdout + result.stderr
    return Paths(base=root, input=root / "input"), result


@pytest.fixture(scope="session")
def wiki_bundle(tmp_path_factory):
    """`train --sample embeddings`: the English Wikipedia sample dump baked into the image, prepared and
    trained (skipgram, subwords) in one job (shared by the word-vector and the hostile-client tests)."""
    model = writable(tmp_path_factory.mktemp("wiki") / "model")
    result = run_image("train", "--sample", "embeddings", volumes={model: "/opt/ml/model"}, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return model, result


@pytest.fixture(scope="session")
def entity_kb_fast(tmp_path_factory):
    """The entity KB of the Wikipedia sample baked into the image, without the cross-validation (about 20 s)."""
    root = tmp_path_factory.mktemp("kb-fast") / "ml"
    train = writable(root / "input" / "data" / "train")
    writable(root / "input" / "config")
    (root / "input" / "config" / "hyperparameters.json").write_text('{"mode": "entities", "evaluation": "false"}')
    copied = run_image("/opt/kindling/sample/entities/input/data/train/enwiki-sample.xml.bz2", "/train/",
                       volumes={train: "/train"}, extra=["--entrypoint", "cp"])
    assert copied.returncode == 0, copied.stderr
    writable(root / "model")
    open_permissions(root)
    result = run_image("train", volumes={root: "/opt/ml"}, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root / "model"
