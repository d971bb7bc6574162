"""The one tokenizer shared by training and serving.

A model only sees text the way training saw it, so the settings that produced a model are stored in
its bundle manifest and serving rebuilds exactly this tokenizer from them. The default "regex" scheme
is the preprocessing the fastText tutorial recommends (lower-case, punctuation split from words);
"whitespace" leaves text as plain fastText would read it, for data that is already tokenized.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from container.errors import KindlingError

SCHEMES = ("regex", "whitespace")

# A word is a run of letters/digits/underscore, keeping inner apostrophes and hyphens
# ("it's", "well-made"); every other non-space character is a token of its own.
_WORD_OR_SYMBOL = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class Tokenizer:
    scheme: str = "regex"
    lowercase: bool = True

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise KindlingError(
                f"Unknown tokenizer scheme {self.scheme!r}.", code="bad_tokenizer",
                hint=f"Use one of: {', '.join(SCHEMES)}.",
            )

    def tokenize(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        if self.scheme == "whitespace":
            return text.split()
        return _WORD_OR_SYMBOL.findall(text)

    def normalize(self, text: str) -> str:
        """Tokens joined by single spaces: the form fastText trains and predicts on."""
        return " ".join(self.tokenize(text))

    def to_manifest(self) -> dict:
        return asdict(self)

    @classmethod
    def from_manifest(cls, data: dict) -> "Tokenizer":
        unknown = set(data) - {"scheme", "lowercase"}
        if unknown:
            raise KindlingError(
                f"The bundle's tokenizer settings have unknown keys {sorted(unknown)}.", code="bad_bundle", status=500,
                hint="The bundle was written by a newer kindling; serve it with the image that trained it.",
            )
        return cls(scheme=str(data.get("scheme", "regex")), lowercase=bool(data.get("lowercase", True)))
