"""Pretrained word vectors for a classifier: the `pretrained` channel (or none).

fastText starts the classifier's word vectors from a word2vec text file (`<count> <dim>` header, then
one word and its numbers per line) — kindling's vectors.txt, a .vec file, or any word2vec text export.
The dimension must equal vector_dim; saying so before training beats fastText's own failure.
"""

from __future__ import annotations

from pathlib import Path

from container.errors import KindlingError
from train.listing import regular_files

CHANNEL = "pretrained"


def find_vectors(directory: Path) -> Path | None:
    """The one word2vec text file in the pretrained channel, or None when there is no such channel."""
    if not directory.is_dir():
        return None
    files = regular_files(directory)
    if len(files) != 1:
        raise KindlingError(
            f"The 'pretrained' channel ({directory}) holds {len(files)} files; it must hold exactly one "
            "word2vec text file.", code="bad_pretrained", hint="Put a single vectors.txt or .vec file in it.")
    return files[0]


def check_dimension(path: Path, vector_dim: int) -> int:
    """The file's vector count; raises when its header is not `<count> <dim>` or dim != vector_dim."""
    with open(path, "rb") as handle:
        header = handle.readline(256).split()  # a header is two numbers; never read a huge first line whole
    if len(header) != 2 or not all(part.isdigit() for part in header):
        raise KindlingError(f"{path} does not start with a word2vec header line `<count> <dimension>`.",
                            code="bad_pretrained", hint="Export the vectors in word2vec text format (.vec).")
    count, dim = int(header[0]), int(header[1])
    if dim != vector_dim:
        raise KindlingError(
            f"{path} has {dim}-dimensional vectors but vector_dim={vector_dim}.", code="pretrained_dimension",
            hint=f"Set vector_dim={dim} to use these vectors.")
    return count
