import bz2
import gzip
import json
import shutil

import pytest

import train.corpus as corpus
from container.errors import KindlingError
from container.tokenizer import Tokenizer
from tests.sagemaker_tree import BGWIKI_SAMPLE, ENWIKI_SAMPLE, gensim_test_data, topical_sentences


def _inputs(directory):
    directory.mkdir()
    (directory / "a.txt").write_text("\n".join(s.capitalize() + "!" for s in topical_sentences(400, 1)) + "\n")
    (directory / "b.jsonl").write_text("\n".join(json.dumps({"text": s, "id": i})
                                                  for i, s in enumerate(topical_sentences(300, 2))) + "\n")
    (directory / "c.txt.gz").write_bytes(gzip.compress("\n\n".join(topical_sentences(200, 3)).encode()))
    (directory / "d.txt.bz2").write_bytes(bz2.compress("Ünïcode — ça va?\n".encode()))
    return directory


def test_one_or_two_processes_write_the_same_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "BATCH_CHARS", 2000)  # many batches, so the order really is at stake
    inputs = _inputs(tmp_path / "in")
    summaries = [corpus.prepare_corpus([inputs], tmp_path / f"out{n}", Tokenizer(), processes=n) for n in (1, 2)]
    one, two = ((tmp_path / f"out{n}" / "corpus.txt").read_bytes() for n in (1, 2))
    assert one == two and one.count(b"\n") == 901
    assert {k: v for k, v in summaries[0].items() if k not in ("seconds", "mb_per_second", "processes")} == \
        {k: v for k, v in summaries[1].items() if k not in ("seconds", "mb_per_second", "processes")}
    assert summaries[0]["documents"] == 901 and summaries[0]["sentences"] == 901
    assert summaries[0]["formats"] == {"text": 3, "jsonlines": 1}
    lines = one.decode().splitlines()
    assert lines[0].endswith(" !") and lines[0] == lines[0].lower() and "ünïcode — ça va ?" in lines


def test_wikipedia_sample_becomes_clean_text(tmp_path):
    shutil.copy(gensim_test_data() / ENWIKI_SAMPLE, tmp_path / ENWIKI_SAMPLE)
    summary = corpus.prepare_corpus([tmp_path / ENWIKI_SAMPLE], tmp_path / "out", Tokenizer())
    text = (tmp_path / "out" / "corpus.txt").read_text()
    assert summary["documents"] == 106 and summary["tokens"] > 500000 and summary["vocabulary"] > 30000
    assert summary["formats"] == {"wikipedia": 1}
    for markup in ("[[", "]]", "{{", "}}", "<ref", "&amp;", "'''"):
        assert markup not in text
    assert "anarchism is a political philosophy" in text


def test_bulgarian_sample_keeps_its_cyrillic(tmp_path):
    """The Bulgarian sample dump is UTF-16 (byte-order mark): read as UTF-8 it would be mojibake."""
    shutil.copy(gensim_test_data() / BGWIKI_SAMPLE, tmp_path / BGWIKI_SAMPLE)
    summary = corpus.prepare_corpus([tmp_path], tmp_path / "out", Tokenizer("spacy", True, "bg"))
    text = (tmp_path / "out" / "corpus.txt").read_text(encoding="utf-8")
    assert summary["documents"] == 1 and summary["tokens"] > 1000
    assert "григорианският календар" in text and "\ufffd" not in text and "Ð" not in text
    assert summary["tokenizer"] == {"scheme": "spacy", "lowercase": True, "language": "bg"}


def test_invalid_utf8_is_replaced_and_counted_and_binary_files_skipped(tmp_path, caplog):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "latin1.txt").write_bytes("caf\xe9 au lait\nplain line\n".encode("latin-1"))
    (tmp_path / "in" / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100))
    summary = corpus.prepare_corpus([tmp_path / "in"], tmp_path / "out", Tokenizer())
    assert summary["invalid_utf8_lines"] == 1 and summary["sentences"] == 2
    assert summary["skipped_files"] == [str(tmp_path / "in" / "image.png")]
    assert (tmp_path / "out" / "corpus.txt").read_text().splitlines()[0] == "caf \ufffd au lait"
    assert "looks binary" in caplog.text


@pytest.mark.parametrize("files, code, words", [
    ({}, "empty_corpus", "No files"),
    ({"blank.txt": b"\n  \n"}, "empty_corpus", "gave no text"),
    ({"only.bin": b"\x00\x01\x02"}, "empty_corpus", "skipped as binary"),
    ({"page.xml": b"<html><body>not a dump</body></html>"}, "not_a_dump", "not a MediaWiki dump"),
])
def test_bad_corpora_fail_with_a_sentence(tmp_path, files, code, words):
    (tmp_path / "in").mkdir()
    for name, content in files.items():
        (tmp_path / "in" / name).write_bytes(content)
    with pytest.raises(KindlingError) as caught:
        corpus.prepare_corpus([tmp_path / "in"], tmp_path / "out", Tokenizer(), processes=1)
    assert caught.value.code == code and words in caught.value.message


def test_unknown_language_is_named():
    with pytest.raises(KindlingError) as caught:
        Tokenizer("spacy", True, "zz")
    assert caught.value.code == "unknown_language" and "'zz'" in caught.value.message


def test_command_line_writes_corpus_and_summary(tmp_path):
    inputs = _inputs(tmp_path / "in")
    assert corpus.main([str(inputs), str(tmp_path / "out"), "--processes", "1", "--keep-case"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["tokenizer"]["lowercase"] is False and summary["sentences"] == 901
    assert corpus.main([str(tmp_path / "missing"), str(tmp_path / "out2")]) == 1


def test_four_shards_merged_equal_one_run_over_all_files(tmp_path, monkeypatch):
    """The sharded path (each instance `prepare --parts` on its share of the files, then `prepare
    --merge`), simulated with 4 processes, writes the same bytes as one prepare over everything."""
    import multiprocessing

    monkeypatch.setattr(corpus, "BATCH_CHARS", 3000)
    inputs = _inputs(tmp_path / "in")
    (inputs / "sub").mkdir()
    for index in range(6):
        (inputs / "sub" / f"extra-{index}.txt").write_text("\n".join(topical_sentences(50, 10 + index)) + "\n")
    files = corpus.corpus_files([inputs])
    shards = []
    for number in range(4):  # round-robin, as ShardedByS3Key hands out keys in no useful order
        shard_in = tmp_path / f"shard-{number}-in"
        for path in files[number::4]:
            target = shard_in / path.relative_to(inputs)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
        shards.append((shard_in, tmp_path / f"shard-{number}-out"))
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.starmap(_prepare_shard, [(str(a), str(b)) for a, b in shards])
    merged = corpus.merge_parts([out for _, out in shards], tmp_path / "merged")
    single = corpus.prepare_corpus([inputs], tmp_path / "single", Tokenizer(), processes=1)
    assert (tmp_path / "merged" / "corpus.txt").read_bytes() == (tmp_path / "single" / "corpus.txt").read_bytes()
    for key in ("documents", "sentences", "tokens", "vocabulary", "files"):
        assert merged[key] == single[key], key
    with pytest.raises(KindlingError) as caught:
        corpus.merge_parts([shards[0][1], shards[0][1]], tmp_path / "twice")
    assert caught.value.code == "overlapping_shards"


def test_shards_prepared_with_other_tokenizers_are_a_shard_mismatch_and_nothing_is_merged(tmp_path):
    inputs = _inputs(tmp_path / "in")
    for name in ("a.txt", "b.jsonl"):
        (tmp_path / name).mkdir()
        shutil.copy(inputs / name, tmp_path / name / name)
    corpus.prepare_parts(tmp_path / "a.txt", tmp_path / "lower", Tokenizer(), processes=1)
    corpus.prepare_parts(tmp_path / "b.jsonl", tmp_path / "keep-case", Tokenizer(lowercase=False), processes=1)
    with pytest.raises(KindlingError) as caught:
        corpus.merge_parts([tmp_path / "lower", tmp_path / "keep-case"], tmp_path / "merged")
    assert caught.value.code == "shard_mismatch" and "'lowercase': False" in caught.value.message
    assert not (tmp_path / "merged").exists()


def _prepare_shard(source: str, target: str) -> None:
    from pathlib import Path

    corpus.prepare_parts(Path(source), Path(target), Tokenizer(), processes=1)
