"""What a training job is given: hyperparameters, channels and resources, read once.

The sagemaker-training toolkit supplies the platform view (hosts, current host, job name, the split
of `sagemaker_*` hyperparameters). It is imported here and only here, lazily, because importing it has
side effects (it creates <base>/code and reads SAGEMAKER_BASE_DIR once). The raw config files are read
through kindling's own path table first, so a missing or malformed file gets a sentence a person can
act on instead of a toolkit traceback, and so `train --sample` can read its config from elsewhere.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from container.errors import KindlingError
from container.paths import BASE_DIR_ENV, Paths
from container.settings import cpu_count

log = logging.getLogger(__name__)
SUPPORTED_INPUT_MODES = {"File", "FastFile", "Pipe"}
# SageMaker's own CreateTrainingJob limits (HyperParameters: key at most 256, value at most 2500
# characters; kindling keeps keys to 100, far beyond any name it knows), checked before anything else reads a value:
# a 50 MB label_prefix used to reach fastText and be copied per line until the job was OOM-killed.
MAX_KEY_CHARACTERS = 100
MAX_VALUE_CHARACTERS = 2500


@dataclass(frozen=True)
class Channel:
    name: str
    path: Path
    input_mode: str
    content_type: str | None
    record_wrapper: str | None = None


@dataclass(frozen=True)
class TrainingEnvironment:
    paths: Paths
    hyperparameters: dict
    channels: dict[str, Channel]
    current_host: str
    hosts: list[str]
    num_cpus: int
    job_name: str | None

    @property
    def mode(self) -> str:
        return str(self.hyperparameters["mode"])

    def pipe_sources(self, channel: str, attributes: tuple[str, ...] | None = None, limits=None) -> list | None:
        """[the channel's epoch-0 FIFO] when the channel is in Pipe mode (train/pipe.py), else None.
        `attributes`: an augmented manifest's AttributeNames, for RecordIO-wrapped channels."""
        config = self.channels.get(channel)
        if config is None or config.input_mode != "Pipe":
            return None
        from train.limits import Limits
        from train.pipe import pipe_source

        return [pipe_source(self.paths.data_dir, channel, config.record_wrapper, attributes, limits or Limits())]


def _read_json_file(path: Path, what: str, *, required: bool) -> dict | None:
    if not path.is_file():
        if required:
            raise KindlingError(
                f"The training configuration {path} does not exist.", code="no_training_config",
                hint="Mount a SageMaker-shaped tree at /opt/ml with input/config/hyperparameters.json "
                     "(e.g. {\"mode\": \"supervised\"}) and input/data/train/, or run `train --sample`.",
            )
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:  # json's C scanner recurses once per nesting level
        raise KindlingError(f"{path} ({what}) is nested too deeply to read.", code="bad_training_config",
                            hint='Write a flat JSON object of strings, e.g. {"mode": "supervised", "epochs": "10"}.'
                            ) from None
    except UnicodeDecodeError as exc:
        raise KindlingError(f"{path} ({what}) is not UTF-8 text.", code="bad_training_config",
                            hint="Save it as UTF-8 JSON.") from exc
    except json.JSONDecodeError as exc:
        raise KindlingError(
            f"{path} ({what}) is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            code="bad_training_config", hint='Write a JSON object of strings, e.g. {"mode": "supervised", "epochs": "10"}.',
        ) from exc
    if not isinstance(data, dict):
        raise KindlingError(f"{path} ({what}) holds a JSON {type(data).__name__}, not an object.",
                            code="bad_training_config", hint='Write a JSON object, e.g. {"mode": "supervised"}.')
    return data


def check_sizes(hyperparameters: dict, path: Path) -> None:
    """Refuse keys over 100 and values over 2,500 characters (SageMaker's limits), naming each one."""
    problems = []
    for key, value in hyperparameters.items():
        if len(key) > MAX_KEY_CHARACTERS:
            problems.append(f"a key of {len(key):,} characters ({key[:20]!r}...)")
            continue
        size = len(value) if isinstance(value, str) else len(json.dumps(value))
        if size > MAX_VALUE_CHARACTERS:
            problems.append(f"{key}: a value of {size:,} characters")
    if problems:
        raise KindlingError(
            f"{path} has hyperparameters over SageMaker's limits ({MAX_KEY_CHARACTERS} characters a key, "
            f"{MAX_VALUE_CHARACTERS:,} a value): " + "; ".join(problems[:5]) + ".", code="bad_hyperparameters",
            hint="Hyperparameters are short settings; pass data in a channel.")


def _default_input_data_config(paths: Paths) -> dict:
    """Without inputdataconfig.json (plain `docker run`), every directory under input/data is a File channel."""
    if not paths.data_dir.is_dir():
        return {}
    return {p.name: {"TrainingInputMode": "File"} for p in sorted(paths.data_dir.iterdir()) if p.is_dir()}


def _toolkit_environment(paths: Paths, resource_config: dict, input_data_config: dict, hyperparameters: dict):
    # The toolkit reads SAGEMAKER_BASE_DIR once, at import; without it and without /opt/ml it would
    # invent a tree under ~/sagemaker_local. Point it at our base for that moment only.
    previous = os.environ.get(BASE_DIR_ENV)
    os.environ[BASE_DIR_ENV] = str(paths.base)
    try:
        from sagemaker_training import environment as toolkit
    except OSError as exc:  # it creates <base>/code on import
        raise KindlingError(
            f"The sagemaker-training toolkit could not prepare {paths.base}: {exc}.", code="base_dir_not_writable",
            status=500, hint="Mount the SageMaker tree writable, or set SAGEMAKER_BASE_DIR to a writable directory.",
        ) from exc
    finally:
        if previous is None:
            os.environ.pop(BASE_DIR_ENV, None)
        else:
            os.environ[BASE_DIR_ENV] = previous
    return toolkit.Environment(resource_config=resource_config, input_data_config=input_data_config,
                               hyperparameters=hyperparameters)


def load(paths: Paths) -> TrainingEnvironment:
    hyperparameters = _read_json_file(paths.hyperparameters, "hyperparameters", required=True)
    check_sizes(hyperparameters, paths.hyperparameters)
    if "mode" not in hyperparameters:
        raise KindlingError(f"{paths.hyperparameters} has no 'mode'.", code="bad_hyperparameters",
                            hint='Add "mode": "supervised" (the only mode this image trains so far).')
    input_data_config = _read_json_file(paths.input_data_config, "input data config", required=False)
    if input_data_config is None:
        input_data_config = _default_input_data_config(paths)
    resource_config = _read_json_file(paths.resource_config, "resource config", required=False) or {
        "current_host": socket.gethostname(), "hosts": [socket.gethostname()]}

    channels: dict[str, Channel] = {}
    for name, config in sorted(input_data_config.items()):
        config = config if isinstance(config, dict) else {}
        mode = str(config.get("TrainingInputMode", "File"))
        if mode not in SUPPORTED_INPUT_MODES:
            raise KindlingError(
                f"Channel {name!r} uses TrainingInputMode={mode}, which kindling does not read.",
                code="unsupported_input_mode", hint="Use File, FastFile or Pipe input mode for this channel.",
            )
        channels[name] = Channel(name, paths.channel(name), mode, config.get("ContentType"),
                                 config.get("RecordWrapperType"))

    toolkit_env = _toolkit_environment(paths, resource_config, input_data_config, hyperparameters)
    env = TrainingEnvironment(
        paths=paths,
        hyperparameters=dict(hyperparameters),
        channels=channels,
        current_host=toolkit_env.current_host,
        hosts=list(toolkit_env.hosts),
        num_cpus=cpu_count(),
        job_name=toolkit_env.job_name,
    )
    log.info("training environment: host %s of %s, %d CPUs, channels %s, job %s", env.current_host,
             ",".join(env.hosts), env.num_cpus, ",".join(channels) or "(none)", env.job_name or "(local)")
    return env
