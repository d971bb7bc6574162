"""The ranker on a hand-made KB: spotting rules, voting, the epsilon rule and rho."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from container.entity_kb import MemoryKB, Statistics
from container.tagme import Mention, RankingParams, _resolve_overlaps, annotate, milne_witten, spot
from container.tokenizer import Tokenizer


def _kb() -> MemoryKB:
    stats = Statistics()
    jaguar_car, jaguar_cat, engine, jungle = (stats.entity(t, i) for i, t in
                                              enumerate(["Jaguar Cars", "Jaguar", "Engine", "Jungle"], start=1))
    stats.add_link("jaguar", jaguar_cat, 6)  # the animal is the more common meaning...
    stats.add_link("jaguar", jaguar_car, 4)
    stats.add_link("engine", engine, 5)
    stats.add_link("jungle", jungle, 5)
    stats.add_link("new york", stats.entity("New York", 9), 5)
    stats.add_link("york", stats.entity("York", 10), 1)
    for anchor, documents in {"jaguar": 10, "engine": 50, "jungle": 10, "new york": 5, "york": 40}.items():
        stats.documents_with[anchor] = documents
    # ...but the car and the engine share in-links, as do the cat and the jungle
    stats.inlinks = {jaguar_car: {100, 101, 102}, engine: {100, 101, 102, 103}, jaguar_cat: {200, 201},
                     jungle: {200, 201, 202}}
    stats.pages = 1000
    return MemoryKB(stats)


def test_milne_witten_and_the_shared_inlink_minimum():
    a, b = np.array([1, 2, 3, 4]), np.array([3, 4, 5])
    expected = 1 - (np.log(4) - np.log(2)) / (np.log(100) - np.log(3))
    assert milne_witten(a, b, 100) == pytest.approx(expected)
    assert milne_witten(np.array([1]), np.array([1, 2]), 100, min_common=2) == 0.0
    assert milne_witten(a, np.array([9]), 100) == 0.0


def test_context_votes_decide_and_commonness_decides_without_context():
    kb, tokenizer, params = _kb(), Tokenizer(), RankingParams(rho_threshold=0.0)
    car = annotate(kb, tokenizer, "The Jaguar had a new engine", params)["annotations"]
    assert [(a["spot"], a["title"]) for a in car] == [("Jaguar", "Jaguar Cars"), ("engine", "Engine")]
    cat = annotate(kb, tokenizer, "A jaguar in the jungle", params)["annotations"]
    assert [a["title"] for a in cat] == ["Jaguar", "Jungle"]
    alone = annotate(kb, tokenizer, "jaguar", params)["annotations"]
    assert alone[0]["title"] == "Jaguar" and alone[0]["commonness"] == pytest.approx(0.6)
    assert alone[0]["rho"] == pytest.approx(alone[0]["link_probability"] / 2)  # no coherence without others


def test_longer_spot_wins_unless_the_shorter_is_far_more_likely_a_link():
    kb, tokenizer = _kb(), Tokenizer()
    spots = spot(kb, tokenizer, "I love New York", RankingParams())
    assert [(m.anchor, m.start, m.end) for m in spots] == [("new york", 7, 15)]
    kb.stats.documents_with["new york"] = 500  # now "new york" is rarely a link: lp 0.01 vs york's 0.025
    spots = spot(kb, tokenizer, "I love New York", RankingParams(min_link_probability=0.0, lp_factor=2))
    assert [m.anchor for m in spots] == ["york"]


def test_rho_threshold_and_tau_prune():
    kb, tokenizer = _kb(), Tokenizer()
    assert annotate(kb, tokenizer, "jaguar", RankingParams(rho_threshold=0.9))["annotations"] == []
    only = annotate(kb, tokenizer, "jaguar", RankingParams(rho_threshold=0.0, tau=0.5, max_candidates=5))
    assert only["annotations"][0]["title"] == "Jaguar"


@pytest.mark.parametrize("epsilon", [0.0, 1.0])
def test_epsilon_bounds_pick_the_best_vote_or_the_most_common(epsilon):
    """epsilon=0: the best-voted candidate alone; epsilon=1: every voted candidate competes on commonness."""
    params = RankingParams(rho_threshold=0.0, epsilon=epsilon)
    car = annotate(_kb(), Tokenizer(), "The Jaguar had a new engine", params)["annotations"]
    assert car[0]["title"] == ("Jaguar Cars" if epsilon == 0 else "Jaguar")


def _overlaps_by_scan(found, params):
    """The rule as first written: every kept spot checked against every new one (quadratic)."""
    kept = []
    for mention in sorted(found, key=lambda m: (-(m.end - m.start), -m.link_probability, m.start)):
        overlapping = [k for k in kept if k.start < mention.end and mention.start < k.end]
        if not overlapping:
            kept.append(mention)
        elif all(mention.link_probability >= params.lp_factor * k.link_probability for k in overlapping):
            kept = [k for k in kept if k not in overlapping] + [mention]
    return sorted(kept, key=lambda m: m.start)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 12), st.sampled_from([0.01, 0.05, 0.2, 0.5, 1.0])),
                max_size=40), st.sampled_from([1.0, 2.0, 5.0]))
def test_overlap_resolution_by_bisection_keeps_what_the_scan_kept(spans, lp_factor):
    found = [Mention(start, start + length, f"a{start}-{length}", lp, [(1, 1.0)]) for start, length, lp in spans]
    params = RankingParams(lp_factor=lp_factor)
    assert _resolve_overlaps(list(found), params, lambda: None) == _overlaps_by_scan(list(found), params)


def test_a_tick_that_raises_stops_annotation_inside_a_long_text():
    calls = []

    def tick():
        calls.append(1)
        if len(calls) > 3:
            raise TimeoutError("deadline")

    with pytest.raises(TimeoutError):
        annotate(_kb(), Tokenizer(), "jaguar engine jungle new york " * 200, RankingParams(), tick=tick)
    assert len(calls) == 4
