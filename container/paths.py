"""The one table of SageMaker container paths.

Built from a base directory (`SAGEMAKER_BASE_DIR`, the same variable the sagemaker-training toolkit
honours, default /opt/ml) so tests run the whole contract in a temp dir. The input tree can be pointed
elsewhere on its own (`train --sample` reads the sample baked into the image) while the model and
output still go to the real /opt/ml.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

BASE_DIR_ENV = "SAGEMAKER_BASE_DIR"
DEFAULT_BASE = Path("/opt/ml")
SAMPLE_ENV = "KINDLING_SAMPLE_DIR"
DEFAULT_SAMPLE = Path("/opt/kindling/sample")


@dataclass(frozen=True)
class Paths:
    base: Path
    input: Path

    @classmethod
    def from_env(cls, environ: os._Environ | dict | None = None) -> "Paths":
        env = os.environ if environ is None else environ
        base = Path(env.get(BASE_DIR_ENV) or DEFAULT_BASE)
        return cls(base=base, input=base / "input")

    def with_input(self, input_dir: Path) -> "Paths":
        return replace(self, input=Path(input_dir))

    # --- input -------------------------------------------------------------------------------
    @property
    def config_dir(self) -> Path:
        return self.input / "config"

    @property
    def hyperparameters(self) -> Path:
        return self.config_dir / "hyperparameters.json"

    @property
    def input_data_config(self) -> Path:
        return self.config_dir / "inputdataconfig.json"

    @property
    def resource_config(self) -> Path:
        return self.config_dir / "resourceconfig.json"

    @property
    def processing_resource_config(self) -> Path:
        """A Processing job's resource config: under <base>/config, not input/config as in training."""
        return self.base / "config" / "resourceconfig.json"

    @property
    def data_dir(self) -> Path:
        return self.input / "data"

    def channel(self, name: str) -> Path:
        return self.data_dir / name

    # --- outputs -----------------------------------------------------------------------------
    @property
    def model(self) -> Path:
        return self.base / "model"

    @property
    def output(self) -> Path:
        return self.base / "output"

    @property
    def output_data(self) -> Path:
        return self.output / "data"

    @property
    def failure(self) -> Path:
        return self.output / "failure"

    @property
    def checkpoints(self) -> Path:
        return self.base / "checkpoints"


SAMPLES = {"classification": "input", "embeddings": "embeddings/input", "entities": "entities/input"}  # `train --sample [NAME]`


def sample_input_dir(environ: os._Environ | dict | None = None, name: str = "classification") -> Path:
    """Where the image keeps a SageMaker-shaped sample input tree (config + channels)."""
    env = os.environ if environ is None else environ
    return Path(env.get(SAMPLE_ENV) or DEFAULT_SAMPLE) / SAMPLES[name]
