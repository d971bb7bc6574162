"""One predictor per task behind one small interface: load once, predict a batch.

The bundle manifest says which tasks it holds and how each was trained (files, tokenizer); a
predictor is built from exactly that, so serving never guesses. Adding a task means adding a class
here and registering its manifest `kind` in PREDICTORS.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from container.bundle import MANIFEST, Bundle, read_bundle
from container.errors import KindlingError
from container.tokenizer import Tokenizer
from serve.deadline import check_deadline
from serve.embeddings import EmbeddingPredictor
from serve.entities import EntityPredictor

log = logging.getLogger(__name__)

# fastText's predict reports exp(log(p + 1e-5)) (std_log in fastText's loss.cc), i.e. every
# probability is inflated by 1e-5 and a full softmax sums to more than 1; we report p itself.
FASTTEXT_LOG_EPSILON = 1e-5


class Predictor(Protocol):
    task: str
    configuration_schema: dict  # JSON schema of the request's "configuration" for this task
    default_configuration: dict  # the configuration when a request gives none
    response_schema: dict  # JSON schema of one result

    def predict(self, instances: list[str], configuration: dict, deadline: float) -> list[dict]: ...


class ClassificationPredictor:
    """BlazingText supervised inference: top-k labels with probabilities, highest first."""

    CHUNK = 2048  # instances predicted between deadline checks
    configuration_schema = {
        "type": "object", "additionalProperties": False,
        "properties": {"k": {"type": "integer", "minimum": 1, "default": 1,
                             "description": "labels per instance; more than the model has returns them all"},
                       "threshold": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.0,
                                     "description": "leave out labels below this probability"}},
    }
    default_configuration = {"k": 1, "threshold": 0.0}
    response_schema = {
        "type": "object", "required": ["label", "prob"], "additionalProperties": False,
        "properties": {"label": {"type": "array", "items": {"type": "string"}},
                       "prob": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}}},
    }

    def __init__(self, task: str, model, tokenizer: Tokenizer, labels: list[str]):
        self.task = task
        self.model = model
        self.tokenizer = tokenizer
        self.labels = labels

    @classmethod
    def load(cls, bundle: Bundle, task: str) -> "ClassificationPredictor":
        import fasttext

        spec = bundle.tasks[task]
        path = bundle.path(spec["files"]["model"])
        try:
            model = fasttext.load_model(str(path))
        except (ValueError, RuntimeError, MemoryError) as exc:
            raise KindlingError(f"{path} is not a fastText model ({exc}).", code="bad_bundle", status=503,
                                hint="Train again or mount the model.tar.gz the training job produced.") from exc
        labels = list(model.get_labels())
        if not labels:
            raise KindlingError(f"{path} is a fastText word-vector model, not a classifier.", code="bad_bundle",
                                status=503, hint="Serve a model trained with mode=supervised.")
        return cls(task, model, Tokenizer.from_manifest(spec.get("tokenizer", {})), labels)

    def predict(self, instances: list[str], configuration: dict, deadline: float) -> list[dict]:
        # Users ask for k=1000000 to get every class (BlazingText docs): clamp, do not fail.
        k = min(configuration["k"], len(self.labels))
        results: list[dict] = []
        for start in range(0, len(instances), self.CHUNK):
            check_deadline(deadline, start, len(instances))
            texts = [self.tokenizer.normalize(text) for text in instances[start:start + self.CHUNK]]
            labels_per_text, probs_per_text = self.model.predict(texts, k=k, threshold=configuration["threshold"])
            results += [
                {"label": list(labels), "prob": [min(1.0, max(0.0, p - FASTTEXT_LOG_EPSILON)) for p in probs.tolist()]}
                for labels, probs in zip(labels_per_text, probs_per_text)
            ]
        return results


PREDICTORS = {"classification": ClassificationPredictor, "embeddings": EmbeddingPredictor,
              "entities": EntityPredictor}


def bare_fasttext_bundle(model_dir: Path) -> Bundle | None:
    """A bare fastText model.bin (BlazingText or fastText CLI output) is served as-is: whitespace tokens."""
    if (model_dir / MANIFEST).exists() or not (model_dir / "model.bin").is_file():
        return None
    log.info("no %s in %s: serving model.bin as a plain fastText classifier (text split on whitespace)",
             MANIFEST, model_dir)
    manifest = {"tasks": {"classification": {"kind": "classification", "files": {"model": "model.bin"},
                                             "tokenizer": {"scheme": "whitespace", "lowercase": False}}}}
    return Bundle(directory=model_dir, manifest=manifest)


def load_predictors(model_dir: Path) -> dict[str, Predictor]:
    bundle = bare_fasttext_bundle(Path(model_dir)) or read_bundle(Path(model_dir))
    predictors: dict[str, Predictor] = {}
    for task, spec in bundle.tasks.items():
        kind = spec.get("kind") if isinstance(spec, dict) else None
        if kind not in PREDICTORS:
            raise KindlingError(f"The bundle's task {task!r} has kind {kind!r}, which this image cannot serve.",
                                code="bad_bundle", status=503,
                                hint=f"This image serves: {', '.join(PREDICTORS)}. Use the image that trained it.")
        predictors[task] = PREDICTORS[kind].load(bundle, task)
    return predictors
