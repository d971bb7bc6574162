"""The one table of metric lines the training job prints (`#name: value`, container/logs.metric), per mode.

SageMaker MetricDefinitions and tuning objectives are generated from it (container/launch.py), so a
metric the job prints and a metric a tuning job optimizes cannot drift apart.
"""

from __future__ import annotations

NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"

METRICS = {
    "supervised": ("train_accuracy", "validation_accuracy", "validation_f1", "quantized_accuracy"),
    "word2vec": ("mean_rho", "simlex_rho", "analogy_accuracy", "train_words_per_second_per_thread"),
    "entities": ("d2w_accuracy", "d2w_commonness_accuracy", "a2w_f1"),
}
# what tuning maximizes by default (BlazingText: validation:accuracy and train:mean_rho)
OBJECTIVES = {"supervised": "validation_accuracy", "word2vec": "mean_rho", "entities": "d2w_accuracy"}
FAMILY = {"supervised": "supervised", "skipgram": "word2vec", "cbow": "word2vec", "batch_skipgram": "word2vec",
          "vectors": "word2vec", "entities": "entities"}


def family(mode: str) -> str:
    if mode not in FAMILY:
        raise ValueError(f"unknown mode {mode!r}")
    return FAMILY[mode]


def metric_definitions(mode: str) -> list[dict]:
    """SageMaker MetricDefinitions: Name <= 255 characters, Regex <= 500, the first group is the value."""
    return [{"Name": name, "Regex": f"#{name}: {NUMBER}"} for name in METRICS[family(mode)]]
