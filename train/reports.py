"""Reports people look at, written to /opt/ml/output/data (SageMaker uploads it as output.tar.gz):
a confusion matrix and a per-label precision/recall/F1 chart as PNG, and a short metrics summary.

matplotlib draws them (Agg backend, no display); with many labels only the most frequent ones are
drawn, so the pictures stay readable, and the summary says so.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)
MOST_LABELS_DRAWN = 25


def _pyplot():
    os.environ.setdefault("MPLBACKEND", "Agg")
    if not os.access(os.path.expanduser("~"), os.W_OK):  # a read-only home: keep matplotlib's cache in /tmp
        os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="matplotlib-"))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _short(label: str, prefix: str) -> str:
    name = label[len(prefix):] if label.startswith(prefix) else label
    return name if len(name) <= 18 else name[:17] + "…"


def write_reports(directory: Path, scores: dict, confusion: dict[str, dict[str, int]], prefix: str) -> list[str]:
    """Write confusion_matrix.png, per_label.png and metrics.md/metrics.json; return the file names."""
    directory.mkdir(parents=True, exist_ok=True)
    support = {label: sum(row.values()) for label, row in confusion.items()}
    drawn = sorted(support, key=lambda label: (-support[label], label))[:MOST_LABELS_DRAWN]
    plt = _pyplot()

    size = max(4.0, 0.45 * len(drawn) + 2)
    figure, axes = plt.subplots(figsize=(size, size), dpi=100)
    matrix = [[confusion.get(gold, {}).get(predicted, 0) for predicted in drawn] for gold in drawn]
    image = axes.imshow(matrix, cmap="Blues")
    names = [_short(label, prefix) for label in drawn]
    axes.set_xticks(range(len(drawn)), names, rotation=60, ha="right")
    axes.set_yticks(range(len(drawn)), names)
    axes.set_xlabel("predicted label")
    axes.set_ylabel("true label")
    axes.set_title("Validation confusion matrix")
    if len(drawn) <= 12:
        for row, values in enumerate(matrix):
            for column, value in enumerate(values):
                axes.text(column, row, str(value), ha="center", va="center", fontsize=8,
                          color="white" if value > max(map(max, matrix)) / 2 else "black")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    figure.tight_layout()
    figure.savefig(directory / "confusion_matrix.png")
    plt.close(figure)

    per_label = scores["per_label"]
    figure, axes = plt.subplots(figsize=(max(5.0, 0.5 * len(drawn) + 2), 4), dpi=100)
    width = 0.27
    for offset, metric in ((-width, "precision"), (0.0, "recall"), (width, "f1")):
        axes.bar([i + offset for i in range(len(drawn))], [per_label.get(label, {}).get(metric, 0.0) for label in drawn],
                 width, label=metric)
    axes.set_xticks(range(len(drawn)), names, rotation=60, ha="right")
    axes.set_ylim(0, 1.15)  # room above the bars for the legend
    axes.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    axes.set_ylabel("score")
    axes.set_title("Validation precision, recall and F1 per label")
    axes.legend(loc="upper center", ncol=3, fontsize=8, frameon=False)
    figure.tight_layout()
    figure.savefig(directory / "per_label.png")
    plt.close(figure)

    summary = {key: scores[key] for key in ("examples", "accuracy", "macro_f1", "precision_at_1", "recall_at_1",
                                            "precision_at_5", "recall_at_5")}
    (directory / "metrics.json").write_text(json.dumps({**summary, "per_label": per_label}, indent=2) + "\n")
    lines = ["# Validation metrics", "", *(f"- {key}: {value:.4f}" if isinstance(value, float) else f"- {key}: {value}"
                                          for key, value in summary.items()), ""]
    if len(support) > len(drawn):
        lines.append(f"The charts show the {len(drawn)} most frequent of {len(support)} labels.")
    (directory / "metrics.md").write_text("\n".join(lines) + "\n")
    log.info("reports written to %s: confusion_matrix.png, per_label.png, metrics.md, metrics.json", directory)
    return ["confusion_matrix.png", "per_label.png", "metrics.md", "metrics.json"]
