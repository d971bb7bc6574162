"""The dict view of a dump that mode=entities read before the streaming builder (train/entities.py at
4147490): every title, redirect and disambiguation page in dictionaries, and every article with its links
resolved. The reference the streaming builder (tests/unit/test_kb_build.py) and the evaluation's kept
articles and title pseudo-links (tests/unit/test_entity_evaluation.py) are checked against."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

from container import wikipedia
from container.compressed import open_binary
from container.entity_kb import Statistics
from container.tokenizer import Tokenizer
from train.entities import EntityParams
from train.entity_articles import Article
from train.kb_build.scan import title_anchor


class DumpReader:
    """The dump's page registry and its articles with resolved links, as dictionaries."""

    def __init__(self, files: list[Path], tokenizer: Tokenizer, params: EntityParams):
        self.files, self.tokenizer, self.params = files, tokenizer, params
        self.stats = Statistics()
        self.redirects: dict[str, str] = {}
        self.disambiguation: set[str] = set()
        self.counts = Counter()
        for path in files:
            with open_binary(path) as handle:
                for page in wikipedia.pages(handle, str(path)):
                    if page.namespace != 0:
                        continue
                    title = wikipedia.normalize_title(page.title)
                    if page.redirect is not None:
                        self.redirects[title] = wikipedia.normalize_title(page.redirect)
                        self.counts["redirects"] += 1
                    elif wikipedia.is_disambiguation(page):
                        self.disambiguation.add(title)
                        self.counts["disambiguation_pages"] += 1
                    else:
                        self.stats.entity(title, page.page_id)
                        self.counts["pages"] += 1

    def resolve(self, title: str) -> str:
        for _ in range(10):  # redirect chains are short; a loop must not hang the job
            if title not in self.redirects:
                break
            title = self.redirects[title]
        return title

    def articles(self) -> Iterator[Article]:
        for path in self.files:
            for page in wikipedia.articles(path):
                title = wikipedia.normalize_title(page.title)
                source = self.stats.index.get(title)
                if source is None:
                    continue  # a disambiguation page
                yield self._article(source, page.text)

    def _article(self, source: int, wikitext: str) -> Article:
        text, links = wikipedia.parse_article(wikitext)
        spans = self.tokenizer.spans(text)
        starts = [start for _, start, _ in spans]
        tokens = [token for token, _, _ in spans]
        resolved = []
        for start, end, target in links:
            target = self.resolve(target)
            if target in self.disambiguation:
                self.counts["links_to_disambiguation"] += 1
                continue
            entity = self.stats.index.get(target)
            if entity is None:
                if self.params.drop_missing_targets:
                    self.counts["links_to_missing_pages"] += 1
                    continue
                entity = self.stats.entity(target)
            if entity == source:
                self.counts["self_links"] += 1
                continue
            first = _bisect(starts, start)
            last = _bisect(starts, end)
            while last > first and spans[last - 1][2] > end:
                last -= 1
            if last > first:
                resolved.append((first, last, entity, " ".join(tokens[first:last]), spans[first][1], spans[last - 1][2]))
        return Article(source, text, tokens, resolved)


def _bisect(starts: list[int], position: int) -> int:
    import bisect

    return bisect.bisect_left(starts, position)


def add_title_anchors(stats: Statistics, reader: DumpReader, pseudo_links: int) -> None:
    if pseudo_links <= 0:
        return
    for title, entity in list(stats.index.items()):
        if stats.ids[entity] is not None:
            stats.add_link(title_anchor(title, reader.tokenizer), entity, pseudo_links)
    for title, target in reader.redirects.items():
        entity = stats.index.get(reader.resolve(target))
        if entity is not None and stats.ids[entity] is not None:
            stats.add_link(title_anchor(title, reader.tokenizer), entity, pseudo_links)
