"""quantize=true: fastText's product quantization into model.ftz, measured before and after.

Runs in its own child process (train/isolated.py) on the saved model.bin, so the full-size model is
kept, and the quantized one is what the bundle serves.
"""

from __future__ import annotations

import os
from pathlib import Path

from train.saving import save_checked


def quantize_and_score(model_path: str, train_path: str, validation_path: str | None, cutoff: int, retrain: bool,
                       ftz_path: str) -> dict:
    import fasttext

    model = fasttext.load_model(model_path)
    score_path = validation_path or train_path
    before = model.test(score_path, k=1)[1]
    model.quantize(input=train_path, qnorm=True, retrain=retrain, cutoff=cutoff, dsub=2)
    after = model.test(score_path, k=1)[1]
    save_checked(model.save_model, Path(ftz_path))
    return {"scored_on": "validation" if validation_path else "train", "accuracy_before": float(before),
            "accuracy_after": float(after), "bytes_before": os.path.getsize(model_path),
            "bytes_after": os.path.getsize(ftz_path)}
