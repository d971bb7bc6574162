import json
import sys
import types

import pytest

import container.__main__ as dispatcher


@pytest.fixture
def recorded(monkeypatch):
    """Replace the train and serve entry points with recorders, so dispatch is tested without side effects."""
    calls = []
    monkeypatch.setitem(sys.modules, "train.job", types.SimpleNamespace(main=lambda sample=None: calls.append(
        ("train", sample)) or 0))
    monkeypatch.setitem(sys.modules, "serve.server", types.SimpleNamespace(main=lambda: calls.append(("serve",)) or 0))
    return calls


def test_help_lists_commands_and_settings(capsys):
    assert dispatcher.main(["help"]) == 0
    out = capsys.readouterr().out
    for word in ("train", "serve", "help", "SAGEMAKER_BIND_TO_PORT", "SAGEMAKER_MODEL_SERVER_WORKERS"):
        assert word in out


def test_unknown_command_prints_usage_on_stderr_and_exits_2(capsys, recorded):
    assert dispatcher.main(["fit"]) == 2
    captured = capsys.readouterr()
    assert "unknown command 'fit'" in captured.err and "usage:" in captured.err and captured.out == ""
    assert dispatcher.main(["train", "--fast"]) == 2
    assert recorded == []


def test_no_command_trains_when_config_exists(tmp_path, monkeypatch, recorded):
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))
    assert dispatcher.main([]) == 0
    (tmp_path / "input/config").mkdir(parents=True)
    (tmp_path / "input/config/hyperparameters.json").write_text(json.dumps({"mode": "supervised"}))
    assert dispatcher.main([]) == 0
    assert recorded == [("serve",), ("train", None)]


def test_explicit_commands(recorded):
    assert dispatcher.main(["train", "--sample"]) == 0 and dispatcher.main(["serve"]) == 0
    assert dispatcher.main(["train", "--sample", "embeddings"]) == 0
    assert dispatcher.main(["train", "--sample", "nonsense"]) == 2
    assert recorded == [("train", "classification"), ("serve",), ("train", "embeddings")]
