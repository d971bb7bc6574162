"""Rows scaled to length 1: cosine similarity becomes a dot product. Shared by the embedding evaluation,
the entity vectors and the embedding server, so all three measure similarity the same way."""

from __future__ import annotations


def unit_rows(matrix):
    """float32 rows of length 1; an all-zero row (no vector) stays zero."""
    import numpy as np  # container/ imports nothing heavy at module level (tests/unit/test_architecture.py)

    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)
