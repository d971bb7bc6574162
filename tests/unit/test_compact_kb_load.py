"""Serving at scale (issue 13, Deliver 5): loading a KB faults in only what every request needs at once
(the anchor hashes and the offset arrays). Texts, candidates, in-links and vectors stay mapped and lazy,
so start-up time and memory do not grow with a Wikipedia-sized KB's bytes."""

from __future__ import annotations

import numpy as np

from container import entity_kb
from container.entity_kb import FILES, TOUCHED, CompactKB, Statistics, write_compact


def small_kb(directory):
    stats = Statistics()
    cat, car = stats.entity("Jaguar", 1), stats.entity("Jaguar Cars", 2)
    stats.add_link("jaguar", cat, 6)
    stats.add_link("jaguar", car, 4)
    stats.inlinks[cat] = {car}
    stats.pages = 2
    write_compact(directory, stats)
    return directory


def test_load_touches_only_the_hash_and_offset_arrays(tmp_path, monkeypatch):
    kb_dir = small_kb(tmp_path)
    touched = []
    monkeypatch.setattr(entity_kb, "touch", lambda arrays: touched.extend(arrays))
    kb = CompactKB(kb_dir)
    names = {name for name, array in kb.arrays.items() for seen in touched if seen is array}
    assert names == {"anchor_hash", "anchor_text_offsets", "candidate_offsets", "inlink_offsets"}
    assert len(touched) == len(TOUCHED)
    lazy = set(FILES) - names
    assert {"anchor_text", "candidate_entity", "candidate_commonness", "inlink_source", "entity_title"} <= lazy
    assert all(isinstance(kb.arrays[name], np.memmap) for name in FILES)  # mapped, not read in


def test_the_lazy_arrays_still_answer(tmp_path):
    kb = CompactKB(small_kb(tmp_path))
    anchor = kb.anchor("jaguar")
    assert anchor is not None and [entity for entity, _ in anchor.candidates] == [0, 1]
    assert kb.title(1) == "Jaguar Cars" and kb.inlinks(0).tolist() == [1]
