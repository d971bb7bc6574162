import os

import pytest

from container.paths import Paths
from tests.image.docker import engine_problem, run_image
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
