"""The one tokenizer shared by corpus preparation, training and serving.

A model only sees text the way training saw it, so the settings that produced a model are stored in
its bundle manifest and serving rebuilds exactly this tokenizer from them. Schemes:
- "regex" (default, fast: ~7 M tokens/s): lower-case, words (keeping inner ' and -) and every other
  symbol as its own token, for any script (Unicode \\w) — the preprocessing fastText's tutorial uses;
- "spacy": spaCy's rule-based tokenizer for `language` (`spacy.blank(language)`: no model download,
  every language spaCy ships), ~0.3-0.5 M tokens/s;
- "whitespace": text split on whitespace as plain fastText reads it, for already-tokenized data.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import asdict, dataclass

from container.errors import KindlingError

SCHEMES = ("regex", "spacy", "whitespace")

# A word is a run of letters/digits/underscore, keeping inner apostrophes and hyphens
# ("it's", "well-made"); every other non-space character is a token of its own.
_WORD_OR_SYMBOL = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]", re.UNICODE)
_NON_SPACE = re.compile(r"\S+")


@functools.lru_cache(maxsize=8)
def spacy_tokenizer(language: str):
    """spaCy's tokenizer for a language code, built once per process (no model download needed)."""
    try:
        import spacy
        from spacy.util import get_lang_class

        get_lang_class(language)
    except ImportError as exc:
        raise KindlingError(
            f"spaCy has no tokenizer for language {language!r} ({str(exc).splitlines()[0]}).",
            code="unknown_language",
            hint="Use an ISO 639-1 code spaCy supports (en, de, fr, bg, ru, zh, xx for multi-language ...), "
                 "or tokenizer=regex, which handles every script.") from None
    return spacy.blank(language).tokenizer


@dataclass(frozen=True)
class Tokenizer:
    scheme: str = "regex"
    lowercase: bool = True
    language: str = "en"

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise KindlingError(
                f"Unknown tokenizer scheme {self.scheme!r}.", code="bad_tokenizer",
                hint=f"Use one of: {', '.join(SCHEMES)}.",
            )
        if self.scheme == "spacy":
            spacy_tokenizer(self.language)  # fail now, with the language named, not at the first text

    def tokenize(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        if self.scheme == "whitespace":
            return text.split()
        if self.scheme == "spacy":
            return [token.text for token in spacy_tokenizer(self.language)(text) if not token.is_space]
        return _WORD_OR_SYMBOL.findall(text)

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        """(token, start, end) with character offsets into the original text: entity mentions are
        reported where they are in what the user sent. Case is folded per token, after matching.

        The scan of a Wikipedia dump spends a third of its time here, so the text is lowered once and
        sliced when that keeps every offset (no character lowers to two, no Σ whose lower form depends on
        its neighbours); the result equals per-token folding (property test in tests/unit/test_tokenizer.py)."""
        fold = str.lower if self.lowercase else str
        if self.scheme == "spacy":
            return [(fold(t.text), t.idx, t.idx + len(t.text)) for t in spacy_tokenizer(self.language)(text)
                    if not t.is_space]
        pattern = _NON_SPACE if self.scheme == "whitespace" else _WORD_OR_SYMBOL
        spans = [m.span() for m in pattern.finditer(text)]
        if self.lowercase:
            lowered = text.lower()
            if len(lowered) != len(text) or "\u03a3" in text:
                # 'İ' lowers to two characters (offsets shift) and Σ lowers by its context (final sigma):
                # only then fold token by token, as the reference does.
                return [(text[s:e].lower(), s, e) for s, e in spans]
            text = lowered
        return [(text[s:e], s, e) for s, e in spans]

    def tokens_and_ranges(self, text: str, ranges: list[tuple[int, int]]) -> tuple[list[str], list[tuple[int, int]]]:
        """The text's tokens, and for each character range (start, end) the token range [first, last) it
        covers: the tokens starting inside it, less any trailing ones that run past its end.

        Equal to spans() plus a bisection per range (tests/unit/test_tokenizer.py checks it), without a Python
        object per token: the entity KB's scan calls it for every article of the dump, and spans() cost it a
        third of its time. Between ranges whole runs of tokens are found by findall (in C), up to the last
        space or newline before the next range: no token holds a space, so a match found in the text cut
        there is a match of the whole text. Only the tokens at and inside a range are looked at one by one.
        Ranges must come in order and not overlap (an article's links do); otherwise, and for spaCy, it takes
        the general path."""
        in_order = all(start >= end for (_, end), (start, _) in zip(ranges, ranges[1:]))
        if self.scheme == "spacy" or not in_order:
            return self._tokens_and_ranges_by_spans(text, ranges)
        pattern = _NON_SPACE if self.scheme == "whitespace" else _WORD_OR_SYMBOL
        found: list[str] = []
        out, position = [], 0
        for start, end in ranges:
            cut = max(text.rfind(" ", position, start), text.rfind("\n", position, start))
            if cut > position:
                found += pattern.findall(text, position, cut)
                position = cut
            first = None
            ends = []
            for match in pattern.finditer(text, position):
                if match.start() >= end:
                    break
                if match.start() >= start and first is None:
                    first = len(found)
                if first is not None:
                    ends.append(match.end())
                found.append(match.group())
                position = match.end()
            if first is None:
                first = len(found)
            last = first + len(ends)
            while last > first and ends[last - first - 1] > end:
                last -= 1
            out.append((first, last))
        found += pattern.findall(text, position)
        return self._folded(found), out

    def _folded(self, tokens: list[str]) -> list[str]:
        """Tokens lower-cased as spans() folds them: all at once where that is the same as one by one."""
        if not self.lowercase or not tokens:
            return tokens
        joined = " ".join(tokens)
        lowered = joined.lower()
        if len(lowered) == len(joined) and "\u03a3" not in joined:  # the same rule as spans()
            return lowered.split(" ")
        return [token.lower() for token in tokens]

    def _tokens_and_ranges_by_spans(self, text: str, ranges: list[tuple[int, int]]):
        spans = self.spans(text)
        starts = [start for _, start, _ in spans]
        out = []
        for start, end in ranges:
            first, last = bisect.bisect_left(starts, start), bisect.bisect_left(starts, end)
            while last > first and spans[last - 1][2] > end:
                last -= 1
            out.append((first, last))
        return [token for token, _, _ in spans], out

    def normalize(self, text: str) -> str:
        """Tokens joined by single spaces: the form fastText trains and predicts on."""
        return " ".join(self.tokenize(text))

    def to_manifest(self) -> dict:
        return asdict(self)

    @classmethod
    def from_manifest(cls, data: dict) -> "Tokenizer":
        unknown = set(data) - {"scheme", "lowercase", "language"}
        if unknown:
            raise KindlingError(
                f"The bundle's tokenizer settings have unknown keys {sorted(unknown)}.", code="bad_bundle", status=500,
                hint="The bundle was written by a newer kindling; serve it with the image that trained it.",
            )
        return cls(scheme=str(data.get("scheme", "regex")), lowercase=bool(data.get("lowercase", True)),
                   language=str(data.get("language", "en")))
