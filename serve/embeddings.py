"""Word-vector inference: BlazingText's word2vec response, plus sentence vectors, neighbours and similarity.

configuration.output chooses what each instance gets:
- "vector" (default, BlazingText): `{"word": w, "vector": [...]}` — an out-of-vocabulary word gets its
  subword vector when the model has subwords, zeros otherwise (BlazingText's behaviour);
- "sentence_vector": `{"text": t, "vector": [...]}` — the text through the bundle's tokenizer, the
  average of its words' unit vectors (fastText's get_sentence_vector for unsupervised models);
- "neighbours": `{"word": w, "neighbours": [{"word", "similarity"}, ...]}` — the k nearest words by
  cosine (for a multi-word instance, of its sentence vector);
- "similarity": `{"text": t, "with": u, "similarity": s}` — cosine between the instance and
  configuration.with (one word each: word vectors; otherwise sentence vectors). In JSON Lines batch
  requests every line can carry its own "with": `{"source": "cat", "with": "dog"}`.
The matrix is memory-mapped from vectors.npy, so every gunicorn worker shares the page cache.
"""

from __future__ import annotations

import numpy as np

from container.bundle import Bundle
from container.errors import KindlingError
from container.tokenizer import Tokenizer
from container.unit_vectors import unit_rows
from serve.deadline import check_deadline
from serve.fasttext_models import load_fasttext
from serve.response_size import JSON_NUMBER_BYTES, RECORD_BYTES

OUTPUTS = ("vector", "sentence_vector", "neighbours", "similarity")
MAX_NEIGHBOURS = 1000
END_OF_SENTENCE = "</s>"  # fastText's own vocabulary entry: never a neighbour


def _vector_schema(key: str) -> dict:
    return {"type": "object", "required": [key, "vector"], "additionalProperties": False,
            "properties": {key: {"type": "string"}, "vector": {"type": "array", "items": {"type": "number"}}}}


class EmbeddingPredictor:
    configuration_schema = {
        "type": "object", "additionalProperties": False,
        "properties": {
            "output": {"type": "string", "enum": list(OUTPUTS), "default": "vector",
                       "description": "vector (BlazingText), sentence_vector, neighbours or similarity"},
            "k": {"type": "integer", "minimum": 1, "maximum": MAX_NEIGHBOURS, "default": 10,
                  "description": "neighbours per instance (output=neighbours)"},
            "with": {"type": "string", "description": "the word or text to compare with (output=similarity)"},
        },
    }
    default_configuration = {"output": "vector", "k": 10}
    response_schema = {"anyOf": [
        _vector_schema("word"),
        _vector_schema("text"),
        {"type": "object", "required": ["word", "neighbours"], "additionalProperties": False, "properties": {
            "word": {"type": "string"},
            "neighbours": {"type": "array", "items": {
                "type": "object", "required": ["word", "similarity"], "additionalProperties": False,
                "properties": {"word": {"type": "string"}, "similarity": {"type": "number"}}}}}},
        {"type": "object", "required": ["text", "with", "similarity"], "additionalProperties": False, "properties": {
            "text": {"type": "string"}, "with": {"type": "string"}, "similarity": {"type": "number"}}},
    ]}

    def __init__(self, task: str, words: list[str], matrix: np.ndarray, tokenizer: Tokenizer, model=None):
        self.task = task
        self.words = words
        self.index = {word: row for row, word in enumerate(words)}
        self.matrix = matrix
        self.unit = unit_rows(matrix)
        self.unit[[self.index[END_OF_SENTENCE]] if END_OF_SENTENCE in self.index else []] = 0
        self.tokenizer = tokenizer
        self.fold = str.lower if tokenizer.lowercase else str
        self.model = model  # a fastText model with subwords, for out-of-vocabulary words; None otherwise
        self.zeros = np.zeros(matrix.shape[1], dtype=np.float32)
        self.word_bytes = max((len(word.encode("utf-8")) for word in words), default=0) + 3

    @classmethod
    def load(cls, bundle: Bundle, task: str) -> "EmbeddingPredictor":
        spec = bundle.tasks[task]
        files = spec.get("files", {})
        try:
            matrix = np.load(bundle.path(files["matrix"]), mmap_mode="r")
            words = bundle.path(files["vocabulary"]).read_text(encoding="utf-8").split("\n")[:-1]
        except (KeyError, OSError, ValueError) as exc:
            raise KindlingError(f"The bundle's embeddings task cannot be read ({exc}).", code="bad_bundle",
                                status=503, hint="Train again or mount the whole model.tar.gz.") from exc
        if matrix.ndim != 2 or matrix.shape[0] != len(words):
            raise KindlingError(f"vectors.npy has shape {matrix.shape} for {len(words)} words.", code="bad_bundle",
                                status=503, hint="The bundle is damaged; train again.")
        model = None
        if spec.get("subwords") and files.get("model"):
            model = load_fasttext(bundle.path(files["model"]), "Train again or mount the whole model.tar.gz.")
        return cls(task, words, matrix, Tokenizer.from_manifest(spec.get("tokenizer", {})), model)

    @classmethod
    def from_fasttext(cls, task: str, model, tokenizer: Tokenizer) -> "EmbeddingPredictor":
        """A bare fastText / BlazingText word-vector model (vectors.bin or an unsupervised model.bin):
        the word matrix is built once at load, in the gunicorn master, and shared by the workers."""
        words = list(model.get_words())
        matrix = np.empty((len(words), model.get_dimension()), dtype=np.float32)
        for row, word in enumerate(words):
            matrix[row] = model.get_word_vector(word)
        subwords = model.f.getArgs().maxn > 0
        return cls(task, words, matrix, tokenizer, model if subwords else None)

    # --- vectors ---------------------------------------------------------------------------------
    def word_vector(self, word: str) -> np.ndarray:
        row = self.index.get(self.fold(word))
        if row is not None:
            return np.asarray(self.matrix[row])
        if self.model is not None:
            return self.model.get_word_vector(self.fold(word))
        return self.zeros

    def text_vector(self, text: str) -> np.ndarray:
        """A single token's word vector, else the mean of the tokens' unit vectors."""
        tokens = self.tokenizer.tokenize(text)
        if len(tokens) == 1:
            return self.word_vector(tokens[0])
        total, count = np.zeros_like(self.zeros), 0
        for token in tokens:
            vector = self.word_vector(token)
            norm = float(np.linalg.norm(vector))
            if norm > 0:
                total += vector / norm
            count += 1
        return total / count if count else total

    @staticmethod
    def _cosine(a: np.ndarray, b: np.ndarray) -> float:
        denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
        return float(a @ b / denominator) if denominator else 0.0

    def neighbours(self, vector: np.ndarray, k: int, exclude: str | None) -> list[dict]:
        norm = float(np.linalg.norm(vector))
        if norm == 0:
            return []
        scores = self.unit @ (vector / norm).astype(np.float32)
        want = min(k + 1, len(scores))
        top = np.argpartition(-scores, want - 1)[:want]
        top = top[np.argsort(-scores[top])]
        found = [{"word": self.words[i], "similarity": round(float(scores[i]), 6)} for i in top
                 if self.words[i] != exclude and self.words[i] != END_OF_SENTENCE]
        return found[:k]

    # --- requests --------------------------------------------------------------------------------
    def response_bytes(self, instances: list[str], configuration: dict) -> int:
        output = configuration.get("output", "vector")
        echoed = sum(len(text) for text in instances) * 2 + RECORD_BYTES * len(instances)  # \u escapes: x2
        if output in ("vector", "sentence_vector"):
            return echoed + len(instances) * self.zeros.shape[0] * JSON_NUMBER_BYTES
        if output == "neighbours":
            k = min(configuration.get("k", 10), len(self.words))
            return echoed + len(instances) * k * (self.word_bytes + RECORD_BYTES + JSON_NUMBER_BYTES)
        return echoed + len(instances) * (len(configuration.get("with", "")) * 2 + JSON_NUMBER_BYTES)

    def predict(self, instances: list[str], configuration: dict, deadline: float,
                max_response_bytes: int | None = None) -> list[dict]:
        output = configuration.get("output", "vector")
        if output == "similarity" and "with" not in configuration:
            raise KindlingError('output=similarity needs configuration.with, the word or text to compare with.',
                                code="bad_configuration",
                                hint='Send e.g. {"instances": ["cat"], "configuration": {"output": "similarity", '
                                     '"with": "dog"}}.')
        other = self.text_vector(configuration["with"]) if output == "similarity" else None
        results = []
        for start, instance in enumerate(instances):
            check_deadline(deadline, start, len(instances))  # every instance: a neighbour search can take 0.1 s
            if output == "vector":
                results.append({"word": instance, "vector": self.word_vector(instance).tolist()})
            elif output == "sentence_vector":
                results.append({"text": instance, "vector": self.text_vector(instance).tolist()})
            elif output == "neighbours":
                results.append({"word": instance, "neighbours": self.neighbours(
                    self.text_vector(instance), configuration.get("k", 10), self.fold(instance))})
            else:
                results.append({"text": instance, "with": configuration["with"],
                                "similarity": round(self._cosine(self.text_vector(instance), other), 6)})
        return results
