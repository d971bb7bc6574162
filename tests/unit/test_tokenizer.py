import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from container.errors import KindlingError
from container.tokenizer import Tokenizer


def test_regex_splits_punctuation_and_lowercases():
    assert Tokenizer().tokenize("It's a well-made, GREAT film!") == ["it's", "a", "well-made", ",", "great",
                                                                      "film", "!"]


def test_normalize_is_idempotent_on_its_own_output():
    tok = Tokenizer()
    once = tok.normalize("Simplistic, silly and tedious.  [Garbus] discards\tit…")
    assert tok.normalize(once) == once
    assert "\n" not in tok.normalize("two\nlines")


def test_non_ascii_words_stay_whole():
    assert Tokenizer().tokenize("Ça coûte 10€ — naïve Ünïcode") == ["ça", "coûte", "10", "€", "—", "naïve", "ünïcode"]


def test_whitespace_scheme_keeps_text_as_fasttext_reads_it():
    assert Tokenizer(scheme="whitespace", lowercase=False).tokenize("Hello,  World!") == ["Hello,", "World!"]


def test_manifest_round_trip_and_unknown_scheme():
    tok = Tokenizer(scheme="whitespace", lowercase=False)
    assert Tokenizer.from_manifest(tok.to_manifest()) == tok
    with pytest.raises(KindlingError):
        Tokenizer(scheme="bpe")
    with pytest.raises(KindlingError, match="unknown keys"):
        Tokenizer.from_manifest({"scheme": "regex", "stemmer": "porter"})


# The per-token spans() before the one-lowering fast path: the reference the fast path must equal.
def _reference_spans(tok: Tokenizer, text: str) -> list[tuple[str, int, int]]:
    import re

    fold = str.lower if tok.lowercase else str
    pattern = re.compile(r"\S+") if tok.scheme == "whitespace" else re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")
    return [(fold(m.group()), m.start(), m.end()) for m in pattern.finditer(text)]


# Characters that trip a lowered-whole-text shortcut: İ lowers to two characters, Σ by its context
# (final sigma), ẞ/K sign/Ω sign lower to other letters; plus word, joiner and space characters.
_TRICKY = st.sampled_from(list("aZ9_ İIıΣσςΑΩẞKΩǅ'’-., \t\n€!") + ["\u0307", "\u00a0"])
_TEXTS = st.lists(st.one_of(_TRICKY, st.characters()), max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@example(text="ΑΣ.Α", scheme="regex", lowercase=True)  # whole-text lowering: σ (a cased letter follows); per token: ς
@example(text="İsmet", scheme="regex", lowercase=True)
@given(text=_TEXTS, scheme=st.sampled_from(["regex", "whitespace"]), lowercase=st.booleans())
def test_spans_equal_the_per_token_reference(text, scheme, lowercase):
    tok = Tokenizer(scheme=scheme, lowercase=lowercase)
    assert tok.spans(text) == _reference_spans(tok, text)


def test_spans_fall_back_where_lowering_changes_length_or_depends_on_context():
    tok = Tokenizer()
    assert tok.spans("İsmet İnönü") == [("i̇smet", 0, 5), ("i̇nönü", 6, 11)]
    assert tok.spans("ΑΣ.Α") == [("ας", 0, 2), (".", 2, 3), ("α", 3, 4)]


@st.composite
def _text_and_ranges(draw):
    text = draw(_TEXTS)
    points = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8)))
    ranges = [(min(a, b), max(a, b)) for a, b in zip(points[::2], points[1::2])]
    if draw(st.booleans()):  # overlapping and touching ranges, still in order of their start
        ranges += [(a, min(b + 2, len(text))) for a, b in ranges]
        ranges.sort()
    return text, ranges


@settings(max_examples=600, deadline=None)
@example(case=("[Paris]'s well-made AB", [(0, 5), (9, 13), (20, 21), (21, 22)]), scheme="regex", lowercase=True)
@example(case=("ΑΣ.Α x", [(0, 2), (3, 6)]), scheme="regex", lowercase=True)
@given(case=_text_and_ranges(), scheme=st.sampled_from(["regex", "whitespace"]), lowercase=st.booleans())
def test_tokens_and_ranges_equal_spans_with_bisection(case, scheme, lowercase):
    """The scan's fast path (counting runs of tokens in C) against spans() and a bisection per range."""
    text, ranges = case
    tok = Tokenizer(scheme=scheme, lowercase=lowercase)
    assert tok.tokens_and_ranges(text, ranges) == tok._tokens_and_ranges_by_spans(text, ranges)
