"""Entity ranking: spot anchors in a text, pick an entity for each by commonness and TAGME voting.

Ferragina & Scaiella (CIKM 2010) and the TAGME code, with Hasibi et al.'s reproduction (ECIR 2016):
- spotting: token n-grams (up to the KB's longest anchor) that are anchors with link probability
  >= min_link_probability; of overlapping spots the longer wins unless the shorter one's link
  probability is lp_factor times higher;
- candidates: the anchor's entities with commonness Pr(e|a) >= tau (at most max_candidates);
- voting: every other anchor b votes for candidate e of spot a with
  sum over b's candidates e' of rel(e', e) * Pr(e'|b) / |candidates of b|; spots vote within `window`
  neighbours on either side;
- the epsilon rule: among candidates whose vote is within epsilon (relative) of the best (inclusive: epsilon=0
  leaves the best vote alone), the one with the highest commonness wins (ties: the one with more in-links);
  with no votes at all, the most common one;
- pruning: rho = (link probability + coherence) / 2, coherence being the mean relatedness of the chosen
  entity to the other chosen ones; annotations with rho < rho_threshold are dropped.
Relatedness is Milne-Witten on in-link sets (0 below min_common_inlinks shared in-links, as in TAGME's
code), or the cosine of entity vectors clipped at 0, or their mean.
Shared by training (evaluation) and serving, over either KB implementation (container/entity_kb.py).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from container.tokenizer import Tokenizer

RELATEDNESS = ("milne_witten", "embedding", "average")
Tick = Callable[[], None]  # called between units of work; a server's raises once the request's deadline passed


def _never() -> None:
    return None


@dataclass(frozen=True)
class RankingParams:
    tau: float = 0.02
    epsilon: float = 0.3
    rho_threshold: float = 0.1
    min_link_probability: float = 0.02
    lp_factor: float = 5.0
    max_candidates: int = 10
    relatedness: str = "milne_witten"
    window: int = 10
    max_spot_tokens: int = 8
    min_common_inlinks: int = 2  # TAGME's code: a single shared in-link says little (often "same source page")


@dataclass
class Mention:
    start: int
    end: int
    anchor: str
    link_probability: float
    candidates: list[tuple[int, float]]  # (entity, commonness) with commonness >= tau
    scores: dict[int, float] = field(default_factory=dict)
    chosen: int | None = None
    rho: float = 0.0


def milne_witten(a: np.ndarray, b: np.ndarray, pages: int, min_common: int = 1) -> float:
    if len(a) < min_common or len(b) < min_common or len(a) == 0 or len(b) == 0:
        return 0.0
    common = len(np.intersect1d(a, b, assume_unique=True))
    if common == 0 or common < min_common:
        return 0.0
    small, large = min(len(a), len(b)), max(len(a), len(b))
    denominator = math.log(pages) - math.log(small)
    if denominator <= 0:
        return 1.0 if common == large else 0.0
    return min(1.0, max(0.0, 1.0 - (math.log(large) - math.log(common)) / denominator))


class Relatedness:
    """rel(e, f), cached for one text or one evaluation page."""

    def __init__(self, kb, kind: str, min_common_inlinks: int = 1):
        self.kb, self.kind, self.min_common, self.cache = kb, kind, min_common_inlinks, {}

    def __call__(self, e: int, f: int) -> float:
        if e == f:
            return 1.0
        key = (e, f) if e < f else (f, e)
        value = self.cache.get(key)
        if value is None:
            value = self.cache[key] = self._compute(e, f)
        return value

    def _compute(self, e: int, f: int) -> float:
        mw = milne_witten(self.kb.inlinks(e), self.kb.inlinks(f), self.kb.entity_count, self.min_common) \
            if self.kind != "embedding" else 0.0
        if self.kind == "milne_witten":
            return mw
        u, v = self.kb.vector(e), self.kb.vector(f)
        cosine = max(0.0, float(np.dot(u, v))) if u is not None and v is not None else 0.0
        return cosine if self.kind == "embedding" else (mw + cosine) / 2


def candidates_of(anchor, params: RankingParams) -> list[tuple[int, float]]:
    return [(e, c) for e, c in anchor.candidates if c >= params.tau][:params.max_candidates]


def spot(kb, tokenizer: Tokenizer, text: str, params: RankingParams, tick: Tick = _never) -> list[Mention]:
    spans = tokenizer.spans(text)
    tokens = [token for token, _, _ in spans]
    longest = min(params.max_spot_tokens, kb.max_anchor_tokens)
    found = []
    for i in range(len(tokens)):
        if i % 256 == 0:
            tick()
        for length in range(min(longest, len(tokens) - i), 0, -1):
            anchor = kb.anchor(" ".join(tokens[i:i + length]))
            if anchor is None or anchor.link_probability < params.min_link_probability:
                continue
            candidates = candidates_of(anchor, params)
            if candidates:
                found.append(Mention(spans[i][1], spans[i + length - 1][2], " ".join(tokens[i:i + length]),
                                     anchor.link_probability, candidates))
    return _resolve_overlaps(found, params, tick)


def _resolve_overlaps(found: list[Mention], params: RankingParams, tick: Tick) -> list[Mention]:
    """Longest spots first; a spot that overlaps kept ones replaces them only with lp_factor times their link
    probability. The kept spots never overlap, so ordered by start their ends are ordered too, and the ones a
    new spot overlaps are one run found by bisection (a scan of every kept spot made long texts quadratic:
    minutes for 100,000 characters of anchors)."""
    starts: list[int] = []
    ends: list[int] = []
    kept: list[Mention] = []
    for count, mention in enumerate(sorted(found, key=lambda m: (-(m.end - m.start), -m.link_probability, m.start))):
        if count % 256 == 0:
            tick()
        first = bisect_right(ends, mention.start)  # the first kept spot ending after this one starts
        last = bisect_left(starts, mention.end)  # past the last kept spot starting before this one ends
        overlapping = kept[first:last]
        if overlapping and not all(mention.link_probability >= params.lp_factor * k.link_probability
                                   for k in overlapping):
            continue
        starts[first:last], ends[first:last], kept[first:last] = [mention.start], [mention.end], [mention]
    return kept


def disambiguate(kb, mentions: list[Mention], params: RankingParams, tick: Tick = _never) -> list[Mention]:
    """Choose an entity for every mention (in place) by voting and the epsilon rule; set rho."""
    related = Relatedness(kb, params.relatedness, params.min_common_inlinks)
    for index, mention in enumerate(mentions):
        tick()
        # other anchors vote (TAGME's b != a): a repeated mention of the same anchor text would only vote for
        # its own candidates in proportion to their commonness
        voters = [m for m in mentions[max(0, index - params.window):index] + mentions[index + 1:index + 1 + params.window]
                  if m.anchor != mention.anchor]
        for entity, _ in mention.candidates:
            score = 0.0
            for voter in voters:
                score += sum(related(other, entity) * commonness for other, commonness in voter.candidates) / \
                    len(voter.candidates)
            mention.scores[entity] = score
        best = max(mention.scores.values(), default=0.0)
        if best <= 0:
            mention.chosen = mention.candidates[0][0]
        else:
            # the candidates are in commonness order (ties: more in-links first), so the first close one is
            # the most common of them, ties broken exactly as the commonness baseline breaks them
            mention.chosen = next(e for e, _ in mention.candidates if (best - mention.scores[e]) / best <= params.epsilon)
    for index, mention in enumerate(mentions):
        tick()
        others = [m.chosen for m in mentions[max(0, index - params.window):index] +
                  mentions[index + 1:index + 1 + params.window] if m.anchor != mention.anchor]
        coherence = sum(related(mention.chosen, other) for other in others) / len(others) if others else 0.0
        mention.rho = (mention.link_probability + coherence) / 2
    return mentions


def annotate(kb, tokenizer: Tokenizer, text: str, params: RankingParams, with_candidates: bool = False,
             tick: Tick = _never) -> dict:
    """TagMe-shaped annotations (character offsets into `text`) and the text's entities ranked by rho."""
    mentions = [m for m in disambiguate(kb, spot(kb, tokenizer, text, params, tick), params, tick)
                if m.rho >= params.rho_threshold]
    annotations, best = [], {}
    for mention in mentions:
        commonness = dict(mention.candidates)[mention.chosen]
        annotation = {"spot": text[mention.start:mention.end], "start": mention.start, "end": mention.end,
                      "id": kb.entity_id(mention.chosen), "title": kb.title(mention.chosen),
                      "link_probability": round(mention.link_probability, 6), "commonness": round(commonness, 6),
                      "rho": round(mention.rho, 6)}
        if with_candidates:
            annotation["candidates"] = [{"id": kb.entity_id(e), "title": kb.title(e), "commonness": round(c, 6),
                                         "score": round(mention.scores.get(e, 0.0), 6)} for e, c in mention.candidates]
        annotations.append(annotation)
        if mention.chosen not in best or mention.rho > best[mention.chosen][0]:
            best[mention.chosen] = (mention.rho, commonness)
    entities = [{"id": kb.entity_id(e), "title": kb.title(e), "score": round(rho, 6)}
                for e, (rho, _) in sorted(best.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))]
    return {"annotations": annotations, "entities": entities}

