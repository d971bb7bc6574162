"""Corpus preparation: raw text in, a text8-style training corpus out (one paragraph per line,
tokens joined by single spaces, through the shared tokenizer).

Inputs (any number of files under the input directories, .gz/.bz2 decompressed on the fly):
- MediaWiki XML dumps (*.xml, *.xml.bz2, or any file starting with <mediawiki): article text of the
  main namespace with markup stripped; redirects and other namespaces skipped;
- JSON Lines (*.jsonl, *.jsonlines, *.ndjson, *.json): the string under `text_field`;
- anything else: plain text, one paragraph per line.

Tokenization runs in `processes` worker processes on batches of about a megabyte; batches are written
in input order through a bounded window of pending results, so the output is the same byte for byte
for 1 or N processes and memory stays constant. Invalid UTF-8 is replaced (U+FFFD) and counted; files
that look binary are skipped and named. Progress goes to the log on plain lines; counts go to a JSON
summary beside the corpus.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import os
import shutil
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from container import wikipedia
from container.compressed import stem_suffixes
from container.disk import writing
from container.errors import KindlingError
from container.tokenizer import Tokenizer
from train.isolated import forked_pool
from train.listing import regular_files
from train.limits import DEFAULT_MAX_LINE_MB, GB, MB, InputMeter, Limits, line_blocks, line_too_long, open_metered

log = logging.getLogger(__name__)

CORPUS_FILE = "corpus.txt"
SUMMARY_FILE = "summary.json"
BATCH_CHARS = 1 << 20
JSON_SUFFIXES = (".jsonl", ".jsonlines", ".ndjson", ".json")
XML_SUFFIXES = (".xml",)
PROGRESS_SECONDS = 5.0


@dataclass
class Counts:
    files: int = 0
    documents: int = 0
    sentences: int = 0
    tokens: int = 0
    characters: int = 0
    invalid_utf8_lines: int = 0
    skipped_records: int = 0
    skipped_files: list = field(default_factory=list)
    formats: Counter = field(default_factory=Counter)


def corpus_files(inputs: Iterable[Path]) -> list[Path]:
    """Every regular, non-hidden file under the inputs (files or directories), in name order."""
    found: list[Path] = []
    for root in inputs:
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            found += regular_files(root)
        else:
            raise KindlingError(f"The corpus input {root} does not exist.", code="missing_input",
                                hint="Name a directory or file of raw text, JSON Lines or a Wikipedia XML dump.")
    return found


# Byte-order marks: Windows tools write UTF-16 text (gensim's Bulgarian sample dump is UTF-16 LE);
# read as UTF-8 it would be mojibake, so the mark decides the encoding.
BYTE_ORDER_MARKS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
                    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def encoding_of(head: bytes) -> str:
    for mark, encoding in BYTE_ORDER_MARKS:
        if head.startswith(mark):
            return encoding
    return "utf-8"


def _kind(path: Path, head: bytes) -> str:
    suffixes = stem_suffixes(path)
    text_head = head.decode(encoding_of(head), errors="ignore").encode("utf-8")
    if wikipedia.is_dump(text_head) or (suffixes and suffixes[-1] in XML_SUFFIXES):
        return "wikipedia"
    if suffixes and suffixes[-1] in JSON_SUFFIXES:
        return "jsonlines"
    return "text"


def _decoded_lines(handle, encoding: str, counts: Counts, path: Path, limit: int) -> Iterator[str]:
    """Lines of a binary stream as text; invalid UTF-8 replaced and counted, never fatal; a line longer
    than `limit` is an error naming it (read in bounded pieces, never whole)."""
    if encoding != "utf-8":  # a byte-order mark named the encoding
        text = io.TextIOWrapper(handle, encoding=encoding, errors="replace", newline=None)
        number = 0
        while line := text.readline(limit + 1):
            number += 1
            if len(line) > limit and not line.endswith("\n"):
                raise line_too_long(path, number, limit)
            counts.invalid_utf8_lines += "\ufffd" in line
            yield line.rstrip("\n")
        return
    for _, chunk in line_blocks(handle, path, limit, BATCH_CHARS):
        try:
            yield from b"".join(chunk).decode("utf-8").splitlines()
        except UnicodeDecodeError:
            for raw in chunk:
                try:
                    yield raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError:
                    counts.invalid_utf8_lines += 1
                    yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


class WikiText(str):
    """An article's raw wikitext: the worker strips the markup (the costlier half of reading a dump),
    so parsing in the main process and stripping in the workers overlap."""


def _documents(handle, path: Path, kind: str, encoding: str, text_field: str, counts: Counts,
               limit: int) -> Iterator[str]:
    """The documents of one open file as text (paragraphs separated by newlines), or WikiText."""
    if kind == "wikipedia":
        for page in filter(wikipedia.is_article, wikipedia.pages(handle, str(path), limit)):
            yield WikiText(page.text)
        return
    for number, line in enumerate(_decoded_lines(handle, encoding, counts, path, limit), start=1):
        if kind == "text":
            yield line
            continue
        if not line.strip():
            continue
        try:
            value = json.loads(line).get(text_field)
        except (ValueError, AttributeError):
            value = None
        if not isinstance(value, str):
            if counts.skipped_records == 0:
                log.warning("%s, line %d: no string %r field (JSON Lines records without one are skipped "
                            "and counted)", path, number, text_field)
            counts.skipped_records += 1
            continue
        yield value


def _looks_binary(head: bytes) -> bool:
    return encoding_of(head) == "utf-8" and b"\x00" in head


def paragraphs(files: list[Path], text_field: str, counts: Counts, limits: Limits = Limits(),
               meter: InputMeter | None = None) -> Iterator[str]:
    """Every non-empty paragraph of every file, in order; documents counted on the way. Each file is
    opened once (a Pipe-mode FIFO can only be read once): its kind is sniffed from the buffered head."""
    for path in files:
        try:
            handle = open_metered(path, meter)
            head = handle.peek(8192)[:8192]
        except (OSError, EOFError) as exc:
            raise KindlingError(f"Cannot read {path}: {exc}.", code="unreadable_input",
                                hint="Check the file's permissions and that it is not truncated.") from exc
        with handle:
            if _looks_binary(head):
                log.warning("skipping %s: it looks binary (NUL bytes in its first 8 KB), not text", path)
                counts.skipped_files.append(str(path))
                continue
            kind = _kind(path, head)
            counts.files += 1
            counts.formats[kind] += 1
            for document in _documents(handle, path, kind, encoding_of(head), text_field, counts,
                                       limits.max_line_bytes):
                if not document.strip():
                    continue
                counts.documents += 1
                if isinstance(document, WikiText):
                    yield document
                    continue
                for paragraph in document.split("\n"):
                    if paragraph.strip():
                        yield paragraph


def _batches(lines: Iterator[str]) -> Iterator[list[str]]:
    batch, size = [], 0
    for line in lines:
        batch.append(line)
        size += len(line)
        if size >= BATCH_CHARS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def tokenize_batch(tokenizer: Tokenizer, batch: list[str]) -> tuple[str, int, int, Counter, int]:
    """(output text, lines, tokens, word counts, characters in) for one batch: the unit of parallel work."""
    out, words, tokens, characters = [], Counter(), 0, 0
    for item in batch:
        paragraphs = wikipedia.plain_text(item).split("\n") if isinstance(item, WikiText) else [item]
        for paragraph in paragraphs:
            characters += len(paragraph)
            line_tokens = tokenizer.tokenize(paragraph)
            if line_tokens:
                out.append(" ".join(line_tokens))
                words.update(line_tokens)
                tokens += len(line_tokens)
    return ("\n".join(out) + "\n" if out else ""), len(out), tokens, words, characters


def tokenizing_pool(processes: int):
    """The corpus tokenizers: forked workers whose death is prepare_crashed."""
    return forked_pool(processes, KindlingError(
        "A tokenizer process died while preparing the corpus.", code="prepare_crashed", status=500,
        hint="If the machine ran out of memory, use fewer processes or a larger instance; "
             "the job log has the details."))


def default_processes() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def prepare_corpus(inputs: list[Path], out_dir: Path, tokenizer: Tokenizer, text_field: str = "text",
                   processes: int = 0, vocabulary_out: Counter | None = None, limits: Limits = Limits()) -> dict:
    """Write out_dir/corpus.txt and out_dir/summary.json; return the summary (and fill vocabulary_out
    with the word counts when given)."""
    files = corpus_files(inputs)
    if not files:
        raise KindlingError(f"No files in {', '.join(map(str, inputs))}.", code="empty_corpus",
                            hint="Put raw text, JSON Lines or a Wikipedia dump into the input directory.")
    processes = processes or default_processes()
    out_dir.mkdir(parents=True, exist_ok=True)
    counts, vocabulary = Counts(), (Counter() if vocabulary_out is None else vocabulary_out)
    started = last_report = time.monotonic()
    log.info("prepare: %d file(s), tokenizer=%s language=%s lowercase=%s, %d process(es)", len(files),
             tokenizer.scheme, tokenizer.language, tokenizer.lowercase, processes)

    def consume(result) -> None:
        nonlocal last_report
        text, lines, tokens, words, characters = result
        out.write(text)
        counts.sentences += lines
        counts.tokens += tokens
        counts.characters += characters
        vocabulary.update(words)
        now = time.monotonic()
        if now - last_report >= PROGRESS_SECONDS:
            last_report = now
            megabytes = counts.characters / 1e6
            log.info("prepare: %.1f MB read (%.1f MB/s), %d lines, %d tokens", megabytes,
                     megabytes / (now - started), counts.sentences, counts.tokens)

    batches = _batches(paragraphs(files, text_field, counts, limits, InputMeter("the corpus input", limits)))
    with writing(out_dir / CORPUS_FILE), open(out_dir / CORPUS_FILE, "w", encoding="utf-8") as out:
        if processes == 1:
            for batch in batches:
                consume(tokenize_batch(tokenizer, batch))
        else:
            with tokenizing_pool(processes) as pool:
                pending: deque = deque()
                for batch in batches:  # a bounded window keeps memory flat and the order fixed
                    pending.append(pool.submit(tokenize_batch, tokenizer, batch))
                    if len(pending) >= 2 * processes:
                        consume(pending.popleft().result())
                while pending:
                    consume(pending.popleft().result())
    seconds = time.monotonic() - started
    summary = {"files": counts.files, "formats": dict(counts.formats), "documents": counts.documents,
               "sentences": counts.sentences, "tokens": counts.tokens, "vocabulary": len(vocabulary),
               "characters": counts.characters, "invalid_utf8_lines": counts.invalid_utf8_lines,
               "skipped_records": counts.skipped_records, "skipped_files": counts.skipped_files,
               "tokenizer": tokenizer.to_manifest(), "processes": processes, "seconds": round(seconds, 3),
               "mb_per_second": round(counts.characters / 1e6 / seconds, 2) if seconds else None}
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if counts.invalid_utf8_lines:
        log.warning("prepare: %d line(s) were not valid UTF-8; the bad bytes became U+FFFD", counts.invalid_utf8_lines)
    log.info("prepare: %d documents, %d lines, %d tokens, %d distinct words from %d file(s) in %.1f s (%.1f MB/s)",
             counts.documents, counts.sentences, counts.tokens, len(vocabulary), counts.files, seconds,
             summary["mb_per_second"] or 0)
    if counts.tokens == 0:
        skipped = f"; skipped as binary: {', '.join(counts.skipped_files)}" if counts.skipped_files else ""
        raise KindlingError(f"The corpus is empty: {len(files)} file(s) gave no text{skipped}.", code="empty_corpus",
                            hint="Give UTF-8 text, JSON Lines with the text_field named, or a Wikipedia dump.")
    return summary


# --- sharding: N instances each prepare a share of the files, one merge puts them together ---------------

PARTS_DIR = "parts"
VOCABULARY_FILE = "vocabulary.tsv"
ADDITIVE = ("files", "documents", "sentences", "tokens", "characters", "invalid_utf8_lines", "skipped_records")


def prepare_parts(root: Path, out_dir: Path, tokenizer: Tokenizer, text_field: str = "text",
                  processes: int = 0, limits: Limits = Limits()) -> dict:
    """One output per input file, out_dir/parts/<its path under root>.txt, plus vocabulary.tsv and
    summary.json: what one shard (a SageMaker Processing instance with ShardedByS3Key, or one ECS task)
    writes. merge_parts() then concatenates every shard's parts in path order: the same bytes as one
    prepare over all the files."""
    files = corpus_files([root])
    if not files:
        raise KindlingError(f"No files in {root}.", code="empty_corpus", hint="Give the shard its input files.")
    vocabulary, totals = Counter(), Counter()
    formats, skipped = Counter(), []
    with tempfile.TemporaryDirectory(prefix="kindling-part-") as scratch:
        for path in files:
            relative = path.relative_to(root)
            try:
                summary = prepare_corpus([path], Path(scratch), tokenizer, text_field, processes, vocabulary, limits)
            except KindlingError as exc:
                if exc.code != "empty_corpus":
                    raise
                summary = json.loads((Path(scratch) / SUMMARY_FILE).read_text()) \
                    if (Path(scratch) / SUMMARY_FILE).exists() else {"skipped_files": [str(path)]}
            target = out_dir / PARTS_DIR / f"{relative}.txt"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(Path(scratch) / CORPUS_FILE), target) if (Path(scratch) / CORPUS_FILE).exists() \
                else target.write_text("")
            totals.update({key: summary.get(key, 0) for key in ADDITIVE})
            formats.update(summary.get("formats", {}))
            skipped += summary.get("skipped_files", [])
    with open(out_dir / VOCABULARY_FILE, "w", encoding="utf-8") as out:
        out.writelines(f"{word}\t{count}\n" for word, count in sorted(vocabulary.items()))
    summary = {**totals, "formats": dict(formats), "skipped_files": skipped, "vocabulary": len(vocabulary),
               "tokenizer": tokenizer.to_manifest()}
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    log.info("prepare (shard): %d file(s), %d tokens into %s", len(files), totals["tokens"], out_dir / PARTS_DIR)
    return summary


def merge_parts(shards: list[Path], out_dir: Path) -> dict:
    """Concatenate the shards' parts in path order into out_dir/corpus.txt; add up their summaries."""
    unfinished = [str(shard) for shard in shards if not (shard / SUMMARY_FILE).is_file()]
    if unfinished:  # prepare_parts writes summary.json last
        raise KindlingError(f"{', '.join(unfinished)}: no finished `prepare --parts` output there.",
                            code="missing_shard", hint="Run `prepare --parts` for every shard first, then merge.")
    parts: dict[str, Path] = {}
    for shard in shards:
        for part in sorted((shard / PARTS_DIR).rglob("*.txt")):
            name = str(part.relative_to(shard / PARTS_DIR))
            if name in parts:
                raise KindlingError(f"{name} was prepared by two shards ({parts[name].parent} and {part.parent}).",
                                    code="overlapping_shards", hint="Give every input file to exactly one shard.")
            parts[name] = part
    if not parts:
        raise KindlingError(f"No prepared parts in {', '.join(map(str, shards))}.", code="empty_corpus",
                            hint="Run `prepare --parts` on every shard first.")
    tokenizers = {shard: json.loads((shard / SUMMARY_FILE).read_text(encoding="utf-8")).get("tokenizer")
                  for shard in shards}
    differing = [shard for shard in shards if tokenizers[shard] != tokenizers[shards[0]]]
    if differing:  # checked before corpus.txt is written: a refused merge leaves no output
        raise KindlingError(f"The shards were prepared with different tokenizers ({shards[0]}: {tokenizers[shards[0]]}, "
                            f"{differing[0]}: {tokenizers[differing[0]]}).", code="shard_mismatch",
                            hint="Prepare every shard with the same --tokenizer/--language/--keep-case.")
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / CORPUS_FILE, "wb") as out:
        for name in sorted(parts, key=lambda n: Path(n).parts):  # corpus_files' order: path components
            with open(parts[name], "rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 20)
    vocabulary, totals, formats, skipped = Counter(), Counter(), Counter(), []
    for shard in shards:
        summary = json.loads((shard / SUMMARY_FILE).read_text(encoding="utf-8"))
        totals.update({key: summary.get(key, 0) for key in ADDITIVE})
        formats.update(summary.get("formats", {}))
        skipped += summary.get("skipped_files", [])
        with open(shard / VOCABULARY_FILE, encoding="utf-8") as handle:
            for line in handle:
                word, _, count = line.rstrip("\n").rpartition("\t")
                vocabulary[word] += int(count)
    summary = {**totals, "formats": dict(formats), "skipped_files": skipped, "vocabulary": len(vocabulary),
               "tokenizer": tokenizers[shards[0]], "shards": len(shards)}
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    log.info("prepare (merge): %d parts from %d shard(s), %d tokens, %d distinct words", len(parts), len(shards),
             totals["tokens"], len(vocabulary))
    return summary


def main(argv: list[str]) -> int:
    """`python -m container prepare [INPUT ...] OUTPUT [options]` — also a SageMaker Processing / ECS job."""
    import argparse

    from container import logs
    from container.shard import fraction, shard_of
    from container.tokenizer import SCHEMES

    parser = argparse.ArgumentParser(prog="python -m container prepare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path,
                        help="input files or directories, then the output directory "
                             "(default: /opt/ml/processing/input /opt/ml/processing/output)")
    parser.add_argument("--tokenizer", choices=SCHEMES, default="regex")
    parser.add_argument("--language", default="en", help="spaCy language code for --tokenizer spacy")
    parser.add_argument("--keep-case", action="store_true", help="do not lower-case")
    parser.add_argument("--text-field", default="text", help="the JSON Lines field holding the text")
    parser.add_argument("--processes", type=int, default=0, help="worker processes (default: one per CPU)")
    parser.add_argument("--parts", action="store_true", help="one output per input file (a shard of a sharded run)")
    parser.add_argument("--merge", action="store_true", help="the inputs are shard outputs: concatenate their parts")
    parser.add_argument("--shard", type=fraction, help="with --parts: write into OUTPUT/shard-I-of-N; I/N, or auto: "
                                                       "from the SageMaker job's resource config (one prefix, N hosts)")
    parser.add_argument("--max-line-mb", type=float, default=DEFAULT_MAX_LINE_MB,
                        help="a longer line is an error naming its file and number (default: %(default)g)")
    parser.add_argument("--max-input-gb", type=float, default=0,
                        help="stop after this much input, counted after decompression (default: 0, no cap)")
    args = parser.parse_args(argv)
    logs.setup()
    paths = args.paths or [Path("/opt/ml/processing/input"), Path("/opt/ml/processing/output")]
    if len(paths) < 2:
        parser.error("give at least one input and the output directory")
    if args.shard and not args.parts:
        parser.error("--shard goes with --parts")
    try:
        if args.merge:
            merge_parts(paths[:-1], paths[-1])
            return 0
        tokenizer = Tokenizer(args.tokenizer, not args.keep_case, args.language)
        limits = Limits(int(args.max_line_mb * MB), int(args.max_input_gb * GB))
        if args.parts:
            if len(paths) != 2 or not paths[0].is_dir():
                parser.error("--parts takes one input directory and the output directory")
            out = paths[1] / shard_of(args.shard).name() if args.shard else paths[1]
            prepare_parts(paths[0], out, tokenizer, args.text_field, args.processes, limits)
        else:
            prepare_corpus(paths[:-1], paths[-1], tokenizer, args.text_field, args.processes, limits=limits)
    except KindlingError as exc:
        log.error("prepare failed: %s", exc)
        return 1
    return 0
