import gzip

import numpy as np
import pytest

from container.errors import KindlingError
from train import vector_files


def _vectors():
    rng = np.random.default_rng(1)
    return ["</s>", "cat", "dog", "ünïcode", "it's"], rng.normal(size=(5, 7)).astype(np.float32)


def test_text_format_loads_in_gensim_and_reads_back(tmp_path):
    from gensim.models import KeyedVectors

    words, matrix = _vectors()
    vector_files.write_text(tmp_path / "vectors.txt", words, matrix)
    loaded = KeyedVectors.load_word2vec_format(str(tmp_path / "vectors.txt"))
    assert loaded.index_to_key == words
    np.testing.assert_allclose(loaded.vectors, matrix, rtol=1e-5, atol=1e-6)
    again_words, again = vector_files.read_word2vec_text(tmp_path / "vectors.txt")
    assert again_words == words and np.allclose(again, matrix, rtol=1e-5, atol=1e-6)


def test_headerless_compressed_text_vectors_are_read(tmp_path):
    (tmp_path / "glove.txt.gz").write_bytes(gzip.compress(b"the 0.1 0.2\nof 0.3 0.4\n"))
    words, matrix = vector_files.read_word2vec_text(tmp_path / "glove.txt.gz")
    assert words == ["the", "of"] and matrix.tolist() == [[pytest.approx(0.1), pytest.approx(0.2)],
                                                          [pytest.approx(0.3), pytest.approx(0.4)]]


def test_spacy_vocab_round_trip(tmp_path):
    from spacy.vocab import Vocab

    words, matrix = _vectors()
    files = vector_files.write_spacy(tmp_path / "spacy", words, matrix)
    assert "spacy/vectors" in files and "spacy/strings.json" in files
    vocab = Vocab().from_disk(tmp_path / "spacy")
    np.testing.assert_array_equal(vocab.get_vector("dog"), matrix[2])
    read_words, read_matrix = vector_files.read_spacy(tmp_path / "spacy")
    assert sorted(read_words) == sorted(words)
    np.testing.assert_array_equal(read_matrix[read_words.index("ünïcode")], matrix[3])


@pytest.mark.parametrize("content, words", [(b"3 2\na 0.1 0.2\nb 0.3\n", "1 values where earlier lines have 2"),
                                            (b"a 0.1 x\n", "not all numbers"), (b"\n", "holds no vectors")])
def test_bad_vector_files_are_named(tmp_path, content, words):
    (tmp_path / "v.txt").write_bytes(content)
    with pytest.raises(KindlingError) as caught:
        vector_files.read_word2vec_text(tmp_path / "v.txt")
    assert caught.value.code == "bad_vectors" and words in caught.value.message
