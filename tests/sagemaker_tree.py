"""Build SageMaker-shaped /opt/ml trees and deterministic labelled data for tests."""

from __future__ import annotations

import json
import random
from pathlib import Path

# Three topics with disjoint vocabularies plus shared filler words: a classifier that learns anything
# separates them, one that learns nothing scores about 1/3.
TOPICS = {
    "sports": "goal match striker referee league stadium coach score penalty season keeper tackle".split(),
    "cooking": "oven recipe flour garlic simmer butter saucepan bake onion pepper dough roast".split(),
    "space": "orbit rocket planet astronaut telescope galaxy launch comet lunar satellite nebula crater".split(),
}
FILLER = "the a of and to in it was with for on this that very really".split()
FAST_HYPERPARAMETERS = {"mode": "supervised", "epochs": "10", "learning_rate": "0.1", "min_count": "1",
                        "vector_dim": "10", "buckets": "10000", "word_ngrams": "2", "threads": "1", "seed": "1"}


def labelled_lines(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for index in range(count):
        topic = sorted(TOPICS)[index % len(TOPICS)]
        words = rng.choices(TOPICS[topic], k=5) + rng.choices(FILLER, k=4)
        rng.shuffle(words)
        text = " ".join(words)
        lines.append(f"__label__{topic} {text.capitalize()}.")
    return lines


def make_tree(root: Path, hyperparameters: dict | str | None = None, channels: dict | None = None, *,
              input_data_config: dict | None | bool = True, resource_config: bool = True) -> Path:
    """Write config files and channel files under root (the /opt/ml equivalent); return root.

    channels: {channel: {filename: str | bytes}}; default: train (300 lines) + validation (60 lines).
    """
    root = Path(root)
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    if hyperparameters is None:
        hyperparameters = dict(FAST_HYPERPARAMETERS)
    text = hyperparameters if isinstance(hyperparameters, str) else json.dumps(hyperparameters)
    (config / "hyperparameters.json").write_text(text, encoding="utf-8")
    if channels is None:
        channels = {"train": {"train.txt": "\n".join(labelled_lines(300, 1)) + "\n"},
                    "validation": {"validation.txt": "\n".join(labelled_lines(60, 2)) + "\n"}}
    for channel, files in channels.items():
        directory = root / "input" / "data" / channel
        directory.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
    if input_data_config is True:
        input_data_config = {name: {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated",
                                    "RecordWrapperType": "None"} for name in channels}
    if isinstance(input_data_config, dict):
        (config / "inputdataconfig.json").write_text(json.dumps(input_data_config), encoding="utf-8")
    if resource_config:
        (config / "resourceconfig.json").write_text(json.dumps(
            {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}), encoding="utf-8")
    for directory in ("model", "output"):
        (root / directory).mkdir(exist_ok=True)
    return root


def open_permissions(root: Path) -> None:
    """Let any container user (root, kindling, --user UID) write the tree, as SageMaker's mounts allow."""
    for path in [Path(root), *Path(root).rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)


def topical_sentences(count: int, seed: int) -> list[str]:
    """Unlabelled sentences, each about one topic: word vectors trained on them put a topic's words
    close together (the neighbour tests' ground truth)."""
    rng = random.Random(seed)
    out = []
    for index in range(count):
        topic = sorted(TOPICS)[index % len(TOPICS)]
        words = rng.choices(TOPICS[topic], k=6) + rng.choices(FILLER, k=3)
        rng.shuffle(words)
        out.append(" ".join(words))
    return out


def gensim_test_data() -> Path:
    """gensim's test_data folder (the wheel is a test requirement): Wikipedia samples, WS-353, SimLex-999,
    the analogy questions, real fastText .bin files."""
    import importlib.util

    spec = importlib.util.find_spec("gensim")
    assert spec is not None and spec.submodule_search_locations, "gensim is a test requirement (tests/requirements.txt)"
    return Path(list(spec.submodule_search_locations)[0]) / "test" / "test_data"


ENWIKI_SAMPLE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
BGWIKI_SAMPLE = "bgwiki-latest-pages-articles-shortened.xml.bz2"
