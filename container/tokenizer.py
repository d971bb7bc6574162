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
