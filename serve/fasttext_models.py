"""Loading a fastText binary for serving: one place that turns a damaged or foreign file into a 503 that
names it (fastText raises ValueError/RuntimeError, or MemoryError for a garbage header)."""

from __future__ import annotations

from pathlib import Path

from container.errors import KindlingError


def load_fasttext(path: Path, hint: str):
    import fasttext

    try:
        return fasttext.load_model(str(path))
    except (ValueError, RuntimeError, MemoryError) as exc:
        raise KindlingError(f"{path} is not a fastText model ({exc}).", code="bad_bundle", status=503,
                            hint=hint) from exc


def is_classifier(model) -> bool:
    """fastText's get_labels() returns the words of a word-vector model, so ask for its training mode."""
    return model.f.getArgs().model.name == "supervised"
