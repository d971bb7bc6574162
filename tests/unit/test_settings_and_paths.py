import pytest

from container.errors import KindlingError
from container.paths import Paths, sample_input_dir
from container.settings import REALTIME_MAX_PAYLOAD_BYTES, ServeSettings


def test_paths_follow_the_base_dir_override(tmp_path):
    paths = Paths.from_env({"SAGEMAKER_BASE_DIR": str(tmp_path)})
    assert paths.hyperparameters == tmp_path / "input/config/hyperparameters.json"
    assert paths.channel("train") == tmp_path / "input/data/train"
    assert paths.model == tmp_path / "model" and paths.failure == tmp_path / "output/failure"
    assert Paths.from_env({}).model.as_posix() == "/opt/ml/model"


def test_sample_input_can_replace_the_input_tree_only(tmp_path):
    paths = Paths.from_env({"SAGEMAKER_BASE_DIR": str(tmp_path)}).with_input(sample_input_dir({}))
    assert paths.hyperparameters.as_posix() == "/opt/kindling/sample/input/config/hyperparameters.json"
    assert paths.model == tmp_path / "model"


def test_serve_settings_defaults_and_overrides():
    settings = ServeSettings.from_env({})
    assert settings.port == 8080 and settings.timeout == 60 and settings.workers >= 1
    assert settings.max_payload_bytes == REALTIME_MAX_PAYLOAD_BYTES and not settings.batch
    custom = ServeSettings.from_env({"SAGEMAKER_BIND_TO_PORT": "9000", "SAGEMAKER_MODEL_SERVER_WORKERS": "3",
                                     "SAGEMAKER_BATCH": "True", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20"})
    assert (custom.port, custom.workers, custom.batch, custom.max_payload_bytes) == (9000, 3, True, 20 * 1024 * 1024)
    assert custom.max_concurrent_transforms == 3


@pytest.mark.parametrize("env", [{"SAGEMAKER_BIND_TO_PORT": "http"}, {"SAGEMAKER_MODEL_SERVER_WORKERS": "0"},
                                 {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "101"}, {"KINDLING_LOG_LEVEL": "LOUD"}])
def test_bad_settings_name_the_variable(env):
    with pytest.raises(KindlingError) as info:
        ServeSettings.from_env(env)
    assert next(iter(env)) in info.value.message
