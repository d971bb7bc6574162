"""Entity ranking inference: TagMe-shaped annotations and ranked entities for each text.

Each instance is a text; each result is `{"annotations": [...], "entities": [...]}` — annotations with
TAGME's fields (`spot`, `start`, `end` as character offsets into the text as sent, `id`, `title`,
`link_probability`, `commonness`, `rho`) and, with configuration.candidates=true, every candidate with
its commonness and vote; entities ranked by their best rho. Every ranking parameter has the bundle's
default (TAGME's, or what the training job chose) and can be set per request. The KB arrays are
memory-mapped (container/entity_kb.py): all workers share one copy.
"""

from __future__ import annotations

from dataclasses import replace

from container.bundle import Bundle
from container.entity_kb import CompactKB
from container.errors import KindlingError
from container.tagme import RELATEDNESS, RankingParams, annotate
from container.tokenizer import Tokenizer
from serve.deadline import check_deadline
from serve.response_size import JSON_NUMBER_BYTES, RECORD_BYTES, too_large

MAX_TEXT_CHARACTERS = 100_000

_ID = {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]}
_ANNOTATION = {
    "type": "object", "required": ["spot", "start", "end", "id", "title", "link_probability", "commonness", "rho"],
    "properties": {
        "spot": {"type": "string"}, "start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 0},
        "id": _ID, "title": {"type": "string"}, "link_probability": {"type": "number"},
        "commonness": {"type": "number"}, "rho": {"type": "number"},
        "candidates": {"type": "array", "items": {
            "type": "object", "required": ["id", "title", "commonness", "score"],
            "properties": {"id": _ID, "title": {"type": "string"}, "commonness": {"type": "number"},
                           "score": {"type": "number"}}}}}}


def _unit(description: str) -> dict:
    return {"type": "number", "minimum": 0, "maximum": 1, "description": description}


class EntityPredictor:
    configuration_schema = {
        "type": "object", "additionalProperties": False,
        "properties": {
            "tau": _unit("minimum commonness of a candidate"),
            "epsilon": _unit("TAGME's epsilon: candidates within it (relative) of the best vote compete on "
                             "commonness"),
            "rho_threshold": _unit("drop annotations with a lower rho"),
            "min_link_probability": _unit("spots need at least this link probability"),
            "relatedness": {"type": "string", "enum": list(RELATEDNESS),
                            "description": "milne_witten (in-links), embedding (entity vectors) or average"},
            "window": {"type": "integer", "minimum": 0, "maximum": 100, "description": "neighbouring spots that vote"},
            "max_candidates": {"type": "integer", "minimum": 1, "maximum": 100},
            "min_common_inlinks": {"type": "integer", "minimum": 1, "maximum": 1000,
                                   "description": "Milne-Witten relatedness is 0 with fewer shared in-links"},
            "lp_factor": {"type": "number", "minimum": 1, "maximum": 1000,
                          "description": "of two overlapping spots the shorter wins only if its link probability "
                                         "is this many times higher"},
            "max_spot_tokens": {"type": "integer", "minimum": 1, "maximum": 32,
                                "description": "longest spot in tokens (the KB's longest anchor caps it too)"},
            "candidates": {"type": "boolean", "description": "list every candidate with its scores"},
        },
    }
    default_configuration: dict = {}
    response_schema = {
        "type": "object", "required": ["annotations", "entities"], "additionalProperties": False,
        "properties": {
            "annotations": {"type": "array", "items": _ANNOTATION},
            "entities": {"type": "array", "items": {"type": "object", "required": ["id", "title", "score"],
                                                    "properties": {"id": _ID, "title": {"type": "string"},
                                                                   "score": {"type": "number"}}}},
        },
    }

    def __init__(self, task: str, kb: CompactKB, tokenizer: Tokenizer, defaults: RankingParams):
        self.task, self.kb, self.tokenizer, self.defaults = task, kb, tokenizer, defaults
        self._cache: dict[str, RankingParams] = {}

    @classmethod
    def load(cls, bundle: Bundle, task: str) -> "EntityPredictor":
        spec = bundle.tasks[task]
        kb = CompactKB(bundle.path(spec["files"]["kb"]))
        ranking = spec.get("ranking", {})
        if ranking.get("relatedness") in ("embedding", "average") and kb.vectors is None:
            ranking = {**ranking, "relatedness": "milne_witten"}
        defaults = RankingParams(**{k: v for k, v in ranking.items() if k in RankingParams.__dataclass_fields__})
        return cls(task, kb, Tokenizer.from_manifest(spec.get("tokenizer", {})), defaults)

    def _params(self, configuration: dict) -> RankingParams:
        overrides = {k: v for k, v in configuration.items() if k != "candidates"}
        if overrides.get("relatedness") in ("embedding", "average") and self.kb.vectors is None:
            raise KindlingError(f"relatedness={overrides['relatedness']!r} needs entity vectors, which this KB has "
                                "none of.", code="bad_configuration",
                                hint="Use relatedness=milne_witten, or train the KB with vectors=true.")
        return replace(self.defaults, **overrides)

    def response_bytes(self, instances: list[str], configuration: dict) -> int:
        return 0  # what a text holds is known only once it is annotated: predict() adds it up as it goes

    def predict(self, instances: list[str], configuration: dict, deadline: float,
                max_response_bytes: int | None = None) -> list[dict]:
        params = self._params(configuration)
        with_candidates = bool(configuration.get("candidates", False))
        results, size = [], 0
        for index, text in enumerate(instances):
            def tick(done: int = index) -> None:  # within a text too: one long text can take seconds
                check_deadline(deadline, done, len(instances))
            tick()
            if len(text) > MAX_TEXT_CHARACTERS:
                raise KindlingError(f"instances[{index}] has {len(text)} characters; at most {MAX_TEXT_CHARACTERS} "
                                    "are annotated per text.", code="text_too_long",
                                    hint="Split long documents into paragraphs, one instance each.")
            result = annotate(self.kb, self.tokenizer, text, params, with_candidates, tick) if text.strip() \
                else {"annotations": [], "entities": []}
            size += _result_bytes(result)
            if max_response_bytes is not None and size > max_response_bytes:
                raise too_large(size, max_response_bytes, f"after {index + 1} of {len(instances)} instances is")
            results.append(result)
        return results


def _result_bytes(result: dict) -> int:
    """On the large side: every annotation's strings and numbers (titles and spots as sent, ids as text)."""
    size = RECORD_BYTES
    for annotation in result["annotations"]:
        size += RECORD_BYTES * 3 + len(annotation["spot"]) + len(annotation["title"]) + len(str(annotation["id"])) \
            + 5 * JSON_NUMBER_BYTES
        for candidate in annotation.get("candidates", ()):
            size += RECORD_BYTES * 2 + len(candidate["title"]) + len(str(candidate["id"])) + 2 * JSON_NUMBER_BYTES
    for entity in result["entities"]:
        size += RECORD_BYTES + len(entity["title"]) + len(str(entity["id"])) + JSON_NUMBER_BYTES
    return size
