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
from serve.fasttext_models import is_classifier, load_fasttext
from serve.response_size import JSON_NUMBER_BYTES, RECORD_BYTES

log = logging.getLogger(__name__)

# fastText's predict reports exp(log(p + 1e-5)) (std_log in fastText's loss.cc), i.e. every
# probability is inflated by 1e-5 and a full softmax sums to more than 1; we report p itself.
FASTTEXT_LOG_EPSILON = 1e-5


class Predictor(Protocol):
    task: str
    configuration_schema: dict  # JSON schema of the request's "configuration" for this task
    default_configuration: dict  # the configuration when a request gives none
    response_schema: dict  # JSON schema of one result

    def response_bytes(self, instances: list[str], configuration: dict) -> int:
        """An estimate (on the large side) of the answer's size, made before any computing; 0 when the
        predictor bounds its answer as it goes (max_response_bytes below)."""

    def predict(self, instances: list[str], configuration: dict, deadline: float,
                max_response_bytes: int | None = None) -> list[dict]: ...


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
        self.label_bytes = max((len(label.encode("utf-8")) for label in labels), default=0) + 3  # quotes, comma

    @classmethod
    def load(cls, bundle: Bundle, task: str) -> "ClassificationPredictor":
        spec = bundle.tasks[task]
        path = bundle.path(spec["files"]["model"])
        model = load_fasttext(path, "Train again or mount the model.tar.gz the training job produced.")
        if not is_classifier(model):
            raise KindlingError(f"{path} is a fastText word-vector model, not a classifier.", code="bad_bundle",
                                status=503, hint="Serve a model trained with mode=supervised.")
        labels = list(model.get_labels())
        return cls(task, model, Tokenizer.from_manifest(spec.get("tokenizer", {})), labels)

    def response_bytes(self, instances: list[str], configuration: dict) -> int:
        k = min(configuration["k"], len(self.labels))
        return len(instances) * (RECORD_BYTES + k * (self.label_bytes + JSON_NUMBER_BYTES))

    def predict(self, instances: list[str], configuration: dict, deadline: float,
                max_response_bytes: int | None = None) -> list[dict]:
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


BARE_FILES = ("model.bin", "vectors.bin")  # fastText CLI / BlazingText supervised, BlazingText word2vec


def bare_fasttext_predictors(model_dir: Path) -> dict | None:
    """A model directory without a manifest but with a fastText binary (BlazingText's or fastText's own
    output) is served as it is, text split on whitespace as fastText does: a classifier when the model has
    labels, word vectors (BlazingText's word2vec format) when it has none."""
    if (model_dir / MANIFEST).exists():
        return None
    path = next((model_dir / name for name in BARE_FILES if (model_dir / name).is_file()), None)
    if path is None:
        return None
    model = load_fasttext(path, "Mount the model.tar.gz a BlazingText or kindling training job produced.")
    tokenizer = Tokenizer(scheme="whitespace", lowercase=False)
    if is_classifier(model):
        log.info("no %s in %s: serving %s as a plain fastText classifier (text split on whitespace)", MANIFEST,
                 model_dir, path.name)
        return {"classification": ClassificationPredictor("classification", model, tokenizer, list(model.get_labels()))}
    log.info("no %s in %s: serving %s as fastText word vectors (%d words)", MANIFEST, model_dir, path.name,
             len(model.get_words()))
    return {"embeddings": EmbeddingPredictor.from_fasttext("embeddings", model, tokenizer)}


def load_predictors(model_dir: Path) -> dict[str, Predictor]:
    bare = bare_fasttext_predictors(Path(model_dir))
    if bare is not None:
        return bare
    bundle = read_bundle(Path(model_dir))
    predictors: dict[str, Predictor] = {}
    for task, spec in bundle.tasks.items():
        kind = spec.get("kind") if isinstance(spec, dict) else None
        if kind not in PREDICTORS:
            raise KindlingError(f"The bundle's task {task!r} has kind {kind!r}, which this image cannot serve.",
                                code="bad_bundle", status=503,
                                hint=f"This image serves: {', '.join(PREDICTORS)}. Use the image that trained it.")
        predictors[task] = PREDICTORS[kind].load(bundle, task)
    return predictors
