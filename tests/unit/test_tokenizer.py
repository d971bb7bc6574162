import pytest

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
