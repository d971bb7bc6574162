"""Word vectors on disk, in the formats people load them with.

Written into a bundle:
- vectors.txt: word2vec text format (`<count> <dim>` then `word v1 ... vdim`, most frequent first), what
  BlazingText writes and gensim's KeyedVectors.load_word2vec_format reads;
- vectors.npy + vocabulary.txt: the same float32 matrix and its words, one per line, which serving
  memory-maps (every gunicorn worker shares the page cache: no per-worker copy, no parsing at start);
- spacy/: a spaCy Vocab with these vectors (`spacy.vocab.Vocab().from_disk(...)`, or
  `nlp.vocab.from_disk(...)` on any pipeline).
Read back for re-export (mode=vectors): a word2vec text file (with or without the header line, .gz/.bz2
too) or a spaCy vectors directory — salvaging embeddings from either world.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from container.errors import KindlingError
from train.limits import InputMeter, Limits, bounded_lines, open_metered

log = logging.getLogger(__name__)

TEXT_FILE = "vectors.txt"
MATRIX_FILE = "vectors.npy"
VOCABULARY_FILE = "vocabulary.txt"
SPACY_DIR = "spacy"


def write_text(path: Path, words: list[str], matrix: np.ndarray) -> None:
    row_format = " ".join(["%.6g"] * matrix.shape[1])
    with open(path, "w", encoding="utf-8") as out:
        out.write(f"{len(words)} {matrix.shape[1]}\n")
        for start in range(0, len(words), 4096):
            out.write("".join(f"{word} {row_format % tuple(row)}\n"
                              for word, row in zip(words[start:start + 4096], matrix[start:start + 4096].tolist())))


def write_matrix(directory: Path, words: list[str], matrix: np.ndarray) -> None:
    np.save(directory / MATRIX_FILE, np.ascontiguousarray(matrix, dtype=np.float32))
    (directory / VOCABULARY_FILE).write_text("".join(word + "\n" for word in words), encoding="utf-8")


def write_spacy(directory: Path, words: list[str], matrix: np.ndarray) -> list[str]:
    """A spaCy Vocab holding the vectors; returns the files written (relative to directory's parent)."""
    from spacy.vectors import Vectors
    from spacy.vocab import Vocab

    vocab = Vocab()
    keys = [vocab.strings.add(word) for word in words]
    vocab.vectors = Vectors(data=np.ascontiguousarray(matrix, dtype=np.float32), keys=keys)
    vocab.to_disk(directory)
    return sorted(str(p.relative_to(directory.parent)) for p in directory.rglob("*") if p.is_file())


def read_vocabulary(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def read_word2vec_text(path: Path, limits: Limits = Limits()) -> tuple[list[str], np.ndarray]:
    """word2vec/GloVe text vectors: an optional `<count> <dim>` header, then `word v1 ... vdim` lines."""
    words, rows, dim = [], [], None
    with open_metered(path, InputMeter(str(path), limits)) as handle:
        for number, raw in bounded_lines(handle, path, limits.max_line_bytes):
            parts = raw.decode("utf-8", errors="replace").rstrip("\n").rstrip(" ").split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # the word2vec header
            if len(parts) < 2:
                continue
            if dim is None:
                dim = len(parts) - 1
            if len(parts) - 1 != dim:
                raise KindlingError(f"{path}, line {number}: {len(parts) - 1} values where earlier lines have {dim}.",
                                    code="bad_vectors", hint="Every line must be a word and the same number of values.")
            try:
                rows.append(np.array(parts[1:], dtype=np.float32))
            except ValueError:
                raise KindlingError(f"{path}, line {number}: the values after {parts[0]!r} are not all numbers.",
                                    code="bad_vectors", hint="Give word2vec text format vectors.") from None
            words.append(parts[0])
    if not words:
        raise KindlingError(f"{path} holds no vectors.", code="bad_vectors", hint="Give word2vec text format vectors.")
    return words, np.vstack(rows)


def read_spacy(directory: Path) -> tuple[list[str], np.ndarray]:
    """The words and vectors of a spaCy vocab directory (Vocab.to_disk) or a pipeline's vocab/ folder."""
    from spacy.vocab import Vocab

    source = directory / "vocab" if (directory / "vocab" / "vectors").exists() else directory
    try:
        vocab = Vocab().from_disk(source)
    except Exception as exc:  # spaCy raises a variety of errors for a directory that is not a vocab
        raise KindlingError(f"{directory} is not a spaCy vocab directory ({exc}).", code="bad_vectors",
                            hint="Give the folder written by Vocab.to_disk (strings.json, vectors, key2row).") from None
    table = vocab.vectors
    if table.shape[0] == 0:
        raise KindlingError(f"The spaCy vocab in {directory} has no vectors.", code="bad_vectors",
                            hint="Export a pipeline with vectors (e.g. en_core_web_md).")
    words, rows = [], []
    data = np.asarray(table.data)
    for key, row in table.key2row.items():
        if key in vocab.strings:
            words.append(vocab.strings[key])
            rows.append(row)
    return words, data[np.array(rows, dtype=np.int64)]


def read_any(path: Path, limits: Limits = Limits()) -> tuple[list[str], np.ndarray]:
    if path.is_dir():
        return read_spacy(path)
    return read_word2vec_text(path, limits)
