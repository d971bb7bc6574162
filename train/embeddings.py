"""mode=skipgram | cbow | batch_skipgram: word vectors, BlazingText-compatible; mode=vectors: bring your own.

Hyperparameter names and defaults are BlazingText's word2vec ones (SageMaker developer guide,
blazingtext_hyperparameters), fastText's names accepted as aliases. batch_skipgram is BlazingText's
GPU/multi-node mode; here it trains skipgram on the CPU and says so. With prepare=true the raw text
of the `train` channel (plain text, JSON Lines, Wikipedia dumps) goes through train/corpus.py first,
so one job goes from raw text to vectors; otherwise the channel is read as it is, tokens separated
by whitespace, as BlazingText and fastText read it.

The bundle: vectors.bin (fastText binary; BlazingText's name) and model.bin (a hard link to the same
file, so fastText's usual name works too, at no extra space), vectors.txt, vectors.npy +
vocabulary.txt (what serving maps), spacy/ (a spaCy Vocab), eval.json, manifest.json.
mode=vectors takes a word2vec text file or a spaCy vocab directory in `train` and writes the same
bundle without the fastText binary (out-of-vocabulary words then get zeros).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from container import hyperparameters as hp
from container.bundle import describe_files, digest_in_background, write_manifest
from container.disk import writing
from container.errors import KindlingError
from container.logs import metric
from container.tokenizer import SCHEMES, Tokenizer
from train import vector_files
from train.channels import channel_files
from train.checkpoints import CheckpointStore, fingerprint
from train.corpus import prepare_corpus
from train.environment import TrainingEnvironment
from train.evaluation import evaluate
from train.isolated import run_isolated
from train.listing import readable, regular_files
from train.limits import MAX_BUCKETS, READING_OOM_HINT, InputMeter, Limits, check_input_matrix, longest_line_check, max_input_param, max_line_param, open_metered
from train.progress import line_progress
from train.saving import save_checked

log = logging.getLogger(__name__)
TASK = "embeddings"
MODES = ("skipgram", "cbow", "batch_skipgram")
ENGINES = ("fasttext", "gensim")
BINARY_FILE = "vectors.bin"
MODEL_FILE = "model.bin"
EVAL_FILE = "eval.json"
CORPUS_SUMMARY_FILE = "corpus.json"


@dataclass(frozen=True)
class WordVectorParams:
    epochs: int = hp.param(5, "passes over the corpus", aliases=("epoch",), minimum=1, maximum=1000)
    learning_rate: float = hp.param(0.05, "step size", aliases=("lr",), minimum=0, exclusive_minimum=True,
                                    maximum=10)
    vector_dim: int = hp.param(100, "size of the word vectors", aliases=("dim",), minimum=1, maximum=1000)
    window_size: int = hp.param(5, "context window", aliases=("ws",), minimum=1, maximum=100)
    min_count: int = hp.param(5, "words seen fewer times are dropped", aliases=("minCount",), minimum=1)
    negative_samples: int = hp.param(5, "negatives sampled per positive", aliases=("neg",), minimum=1, maximum=100)
    sampling_threshold: float = hp.param(0.0001, "sub-sampling threshold for frequent words", aliases=("t",),
                                         minimum=0, maximum=1)
    subwords: bool = hp.param(False, "learn character n-gram vectors too (vectors for unseen words)")
    min_char: int = hp.param(3, "shortest character n-gram when subwords=true", aliases=("minn",), minimum=1)
    max_char: int = hp.param(6, "longest character n-gram when subwords=true", aliases=("maxn",), minimum=1)
    buckets: int = hp.param(2000000, "hash buckets for character n-grams", aliases=("bucket",), minimum=1,
                            maximum=MAX_BUCKETS)
    batch_size: int = hp.param(11, "BlazingText batch_skipgram's GPU batch size; accepted, not used on CPU",
                               minimum=1)
    evaluation: bool = hp.param(True, "score the vectors on WS-353, SimLex-999 and the analogy set")
    threads: int = hp.param(0, "training threads (0 = one per CPU)", aliases=("thread",), minimum=0)
    lr_update_rate: int = hp.param(100, "tokens between learning-rate updates", aliases=("lrUpdateRate",),
                                   minimum=1)
    engine: str = hp.param("gensim", "the training implementation: gensim (gensim's FastText, the same algorithm, "
                           "measured 1.3x faster here; saved as a fastText binary) or fasttext (the fastText "
                           "library itself)", choices=ENGINES)
    prepare: bool = hp.param(False, "tokenize the raw train channel first (text, JSON Lines, Wikipedia dumps)")
    tokenizer: str = hp.param("regex", "tokenizer for prepare=true and for serving sentences", choices=SCHEMES)
    language: str = hp.param("en", "spaCy language code for tokenizer=spacy")
    lowercase: bool = hp.param(True, "lower-case when preparing and when looking words up")
    text_field: str = hp.param("text", "the JSON Lines field holding the text (prepare=true)")
    max_line_mb: float = max_line_param()
    max_input_gb: float = max_input_param()

    def validate(self) -> None:
        if self.subwords and self.min_char > self.max_char:
            raise KindlingError(f"min_char={self.min_char} is larger than max_char={self.max_char}.",
                                code="bad_hyperparameters", hint="Set min_char <= max_char.")

    def fasttext_args(self, model: str, threads: int) -> dict:
        return {"model": model, "epoch": self.epochs, "lr": self.learning_rate, "dim": self.vector_dim,
                "ws": self.window_size, "minCount": self.min_count, "neg": self.negative_samples,
                "t": self.sampling_threshold, "minn": self.min_char if self.subwords else 0,
                "maxn": self.max_char if self.subwords else 0, "bucket": self.buckets if self.subwords else 0,
                "thread": self.threads or threads, "lrUpdateRate": self.lr_update_rate}


@dataclass(frozen=True)
class ImportParams:
    evaluation: bool = hp.param(True, "score the vectors on WS-353, SimLex-999 and the analogy set")
    tokenizer: str = hp.param("regex", "tokenizer for serving sentences", choices=SCHEMES)
    language: str = hp.param("en", "spaCy language code for tokenizer=spacy")
    lowercase: bool = hp.param(False, "lower-case words before looking them up")
    max_line_mb: float = max_line_param()
    max_input_gb: float = max_input_param()


def _copy_checked(sources: list, out, limits: Limits, meter: InputMeter) -> None:
    """Copy the files (decompressed) into out, one after the other, checking line lengths on the way."""
    for path in sources:
        state = [0, 0]
        with open_metered(path, meter) as handle:
            while block := handle.read(1 << 20):
                longest_line_check(block, path, limits.max_line_bytes, state)
                if out is not None:
                    out.write(block)
        if out is not None:
            out.write(b"\n")


def _corpus(env: TrainingEnvironment, params: WordVectorParams, tokenizer: Tokenizer, scratch: Path) -> tuple[Path, dict | None]:
    """The file fastText reads: the prepared corpus (reused from /opt/ml/checkpoints when a restarted job
    has it), the channel's one plain file, or its files joined. Reading runs in a child process (not a
    daemon: preparation starts tokenizer processes), so a reader that runs out of memory is killed there
    and this process is alive to write the failure file."""
    channel = env.paths.channel("train")
    if not params.prepare or env.channels.get("train", None) and env.channels["train"].input_mode == "Pipe" \
            or not channel.is_dir():
        return _read_isolated(env, params, tokenizer, scratch)
    store = CheckpointStore(env.paths.checkpoints)
    key = fingerprint(regular_files(channel), {"tokenizer": tokenizer.to_manifest(), "text_field": params.text_field})
    reused = store.find("prepared-corpus", key)
    if reused is not None:
        return reused / "corpus.txt", json.loads((reused / "summary.json").read_text(encoding="utf-8"))
    corpus, summary = _read_isolated(env, params, tokenizer, scratch)
    store.save("prepared-corpus", key, corpus.parent)
    return corpus, summary


def _read_isolated(env: TrainingEnvironment, params: WordVectorParams, tokenizer: Tokenizer,
                   scratch: Path) -> tuple[Path, dict | None]:
    return run_isolated(_read_corpus, env, params, tokenizer, scratch, start_method="fork", daemon=False,
                        what="Reading the 'train' channel", oom_hint=READING_OOM_HINT)


def _read_corpus(env: TrainingEnvironment, params: WordVectorParams, tokenizer: Tokenizer,
                 scratch: Path) -> tuple[Path, dict | None]:
    """Every line is checked against max_line_mb on the way: gensim reads a line whole."""
    channel = env.paths.channel("train")
    limits = Limits.from_params(params)
    meter = InputMeter("the 'train' channel", limits)
    pipe = env.pipe_sources("train", limits=limits)
    if pipe is not None:  # Pipe mode: read the FIFO once, straight into preparation (or into fastText's file)
        if params.prepare:
            summary = prepare_corpus(pipe, scratch / "prepared", tokenizer, params.text_field, limits=limits)
            return scratch / "prepared" / "corpus.txt", summary
        joined = scratch / "corpus.txt"
        with writing(joined), open(joined, "wb") as out:
            _copy_checked(pipe, out, limits, meter)
        return joined, None
    if not channel.is_dir():
        raise KindlingError(f"The 'train' channel is missing: {channel} does not exist.", code="missing_channel",
                            hint="Give the job a 'train' channel of text (one sentence per line).")
    if params.prepare:
        summary = prepare_corpus([channel], scratch / "prepared", tokenizer, params.text_field, limits=limits)
        return scratch / "prepared" / "corpus.txt", summary
    files = channel_files("train", channel, "text files (one sentence per line), or raw text with prepare=true")
    if len(files) == 1 and files[0].suffix not in (".gz", ".bz2"):
        _copy_checked(files, None, limits, meter)  # read once to check, handed to the engine as it is
        return files[0], None
    joined = scratch / "corpus.txt"
    with writing(joined), open(joined, "wb") as out:
        _copy_checked(files, out, limits, meter)
    return joined, None


def fit_vectors(corpus: str, args: dict, stage: str) -> dict:
    """Runs in the child process: train, save the fastText binary, write the matrix and word list."""
    import fasttext

    started = time.monotonic()
    model = fasttext.train_unsupervised(input=corpus, verbose=2, **args)
    seconds = time.monotonic() - started
    words, counts = model.get_words(include_freq=True)
    save_checked(model.save_model, Path(stage) / BINARY_FILE)
    matrix = np.empty((len(words), model.get_dimension()), dtype=np.float32)
    for row, word in enumerate(words):
        matrix[row] = model.get_word_vector(word)
    with writing(Path(stage)):
        vector_files.write_matrix(Path(stage), list(words), matrix)
    tokens = int(np.asarray(counts, dtype=np.int64).sum())
    return {"words": len(words), "real_words": sum(1 for word in words if word != "</s>"), "tokens": tokens, "seconds": round(seconds, 3),
            "words_per_second_per_thread": round(tokens * args["epoch"] / seconds / args["thread"]) if seconds else None}


def fit_vectors_gensim(corpus: str, args: dict, stage: str) -> dict:
    """The same training with gensim's FastText (corpus_file mode: one thread per worker without the
    GIL), saved with save_facebook_model so every artifact stays a fastText one."""
    from container import logs

    logs.setup()  # gensim reports progress through logging, once a second
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    started = time.monotonic()
    subwords = args["maxn"] > 0
    model = FastText(corpus_file=corpus, sg=1 if args["model"] == "skipgram" else 0, cbow_mean=1,
                     vector_size=args["dim"], window=args["ws"], negative=args["neg"], sample=args["t"],
                     min_n=args["minn"] if subwords else 1, max_n=args["maxn"] if subwords else 0,
                     bucket=args["bucket"] if subwords else 0, min_count=args["minCount"], alpha=args["lr"],
                     min_alpha=0.0, workers=args["thread"], epochs=args["epoch"])
    seconds = time.monotonic() - started
    words = list(model.wv.index_to_key)
    if not words:
        raise ValueError("Empty vocabulary")
    with writing(Path(stage) / BINARY_FILE):
        save_facebook_model(model, str(Path(stage) / BINARY_FILE))
    matrix = np.ascontiguousarray(model.wv[words], dtype=np.float32)
    with writing(Path(stage)):
        vector_files.write_matrix(Path(stage), words, matrix)
    tokens = int(model.corpus_total_words)
    return {"words": len(words), "real_words": len(words), "tokens": tokens, "seconds": round(seconds, 3),
            "words_per_second_per_thread": round(tokens * args["epoch"] / seconds / args["thread"]) if seconds else None}


def fit_word_vectors(engine: str, corpus: str, args: dict, stage: str) -> dict:
    """Train in a child process. fastText's child is spawned (train/isolated.py: a fresh heap); gensim needs
    none, so its child is forked from this process, which imports gensim once instead of every child."""
    if engine == "gensim":
        importlib.import_module("gensim.models")  # inherited by the forked child

        return run_isolated(fit_vectors_gensim, corpus, args, stage, start_method="fork")
    return run_isolated(fit_vectors, corpus, args, stage)


def _too_small(params: WordVectorParams, corpus: Path) -> KindlingError:
    words: dict[bytes, int] = {}
    with open(corpus, "rb") as handle:
        for line in handle:
            for token in line.split():
                words[token] = words.get(token, 0) + 1
    most = max(words.values(), default=0)
    return KindlingError(
        f"No word occurs min_count={params.min_count} times in the corpus ({sum(words.values())} tokens, "
        f"{len(words)} distinct words, the most frequent seen {most} times).", code="corpus_too_small",
        hint="Give more text, or lower min_count.")


def _explain(exc: Exception, params: WordVectorParams, corpus: Path) -> KindlingError:
    text = str(exc)
    if "Empty vocabulary" in text or "vocabulary" in text.lower():
        return _too_small(params, corpus)
    if "NaN" in text:
        return KindlingError(f"Training diverged (fastText: {text}) with learning_rate={params.learning_rate}.",
                             code="diverged", hint="Lower learning_rate (e.g. by a factor of 10).")
    return KindlingError(f"fastText could not train: {text}.", code="fasttext_failed",
                         hint="Check the hyperparameters against the fastText documentation.")


def _finish(stage: Path, words: list[str], matrix: np.ndarray, tokenizer: Tokenizer, run_evaluation: bool,
            task_spec: dict, extra_files: list[str]) -> dict:
    """What every vector bundle gets: vectors.txt, spacy/, eval.json, manifest."""
    started = time.monotonic()
    digests = {}
    if BINARY_FILE in extra_files:  # the largest file: hashed once (model.bin is the same inode), meanwhile
        digests[BINARY_FILE] = digests[MODEL_FILE] = digest_in_background(stage / BINARY_FILE)
    vector_files.write_text(stage / vector_files.TEXT_FILE, words, matrix)
    spacy_files = vector_files.write_spacy(stage / vector_files.SPACY_DIR, words, matrix)
    log.info("wrote %s (%d words x %d) and the spaCy vocab in %.1f s", vector_files.TEXT_FILE, len(words),
             matrix.shape[1], time.monotonic() - started)
    metrics = dict(task_spec.get("metrics", {}))
    if run_evaluation:
        fold = str.lower if tokenizer.lowercase else str
        scores = evaluate(words, matrix, fold)
        if scores:
            (stage / EVAL_FILE).write_text(json.dumps(scores, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            metric("mean_rho", scores["mean_rho"])
            metric("simlex_rho", scores["SimLex-999"]["spearmans_rho"])
            metric("analogy_accuracy", scores["analogies"]["accuracy"])
            log.info("evaluation: WS-353 rho %.4f (%d of %d pairs not found), SimLex-999 rho %.4f (%d not found), "
                     "analogies %.4f (%d answered, %d not found)", scores["mean_rho"],
                     scores["EN-WS-353-ALL.txt"]["not_found"], scores["EN-WS-353-ALL.txt"]["total_pairs"],
                     scores["SimLex-999"]["spearmans_rho"], scores["SimLex-999"]["not_found"],
                     scores["analogies"]["accuracy"], scores["analogies"]["total"], scores["analogies"]["not_found"])
            metrics.update({"mean_rho": scores["mean_rho"], "simlex_rho": scores["SimLex-999"]["spearmans_rho"],
                            "analogy_accuracy": scores["analogies"]["accuracy"]})
    names = extra_files + [vector_files.TEXT_FILE, vector_files.MATRIX_FILE, vector_files.VOCABULARY_FILE] + \
        spacy_files + [name for name in (EVAL_FILE, CORPUS_SUMMARY_FILE) if (stage / name).exists()]
    files = describe_files(stage, names, digests)
    write_manifest(stage, {
        "tasks": {TASK: {**task_spec, "kind": TASK, "metrics": metrics, "tokenizer": tokenizer.to_manifest(),
                         "dimension": int(matrix.shape[1]), "words": len(words)}},
        "files": files,
    })
    return metrics


def train(env: TrainingEnvironment, stage: Path) -> dict:
    mode = env.mode
    params = hp.parse(WordVectorParams, env.hyperparameters, mode=mode)
    params.validate()
    if params.subwords:
        check_input_matrix(params.buckets, params.vector_dim)
    tokenizer = Tokenizer(params.tokenizer, params.lowercase, params.language)
    extra = sorted(set(env.channels) - {"train"})
    if extra:
        log.warning("ignoring channel(s) %s: mode=%s reads only 'train'", ", ".join(extra), mode)
    if mode == "batch_skipgram":
        log.info("mode=batch_skipgram is BlazingText's GPU/multi-node mode; training skipgram on %d CPU(s) "
                 "(batch_size=%d is not used)", env.num_cpus, params.batch_size)
    args = params.fasttext_args("cbow" if mode == "cbow" else "skipgram", env.num_cpus)
    with tempfile.TemporaryDirectory(prefix="kindling-") as scratch:
        corpus, summary = _corpus(env, params, tokenizer, Path(scratch))
        if summary is not None:
            (stage / CORPUS_SUMMARY_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n",
                                                     encoding="utf-8")
        log.info("%s %s on %s (%.1f MB)", "gensim FastText" if params.engine == "gensim" else
                 "fastText train_unsupervised", " ".join(f"{k}={v}" for k, v in sorted(args.items())),
                 corpus.name, corpus.stat().st_size / 1e6)
        with line_progress():
            try:
                fitted = fit_word_vectors(params.engine, str(corpus), args, str(stage))
            except (RuntimeError, ValueError) as exc:
                raise _explain(exc, params, corpus) from exc
        if not fitted["real_words"]:  # only fastText's end-of-line token "</s>" made it into the vocabulary
            raise _too_small(params, corpus)
    os.link(stage / BINARY_FILE, stage / MODEL_FILE)
    log.info("trained %d word vectors on %d tokens in %.1f s (%s words/s/thread)", fitted["words"], fitted["tokens"],
             fitted["seconds"], fitted["words_per_second_per_thread"])
    metric("train_words_per_second_per_thread", fitted["words_per_second_per_thread"] or 0)
    words = vector_files.read_vocabulary(stage / vector_files.VOCABULARY_FILE)
    matrix = np.load(stage / vector_files.MATRIX_FILE)
    spec = {"files": {"model": BINARY_FILE, "matrix": vector_files.MATRIX_FILE,
                      "vocabulary": vector_files.VOCABULARY_FILE},
            "subwords": params.subwords, "mode": mode, "hyperparameters": hp.as_dict(params),
            "metrics": {"training_seconds": fitted["seconds"], "tokens": fitted["tokens"],
                        "words_per_second_per_thread": fitted["words_per_second_per_thread"]}}
    return _finish(stage, words, matrix, tokenizer, params.evaluation, spec, [BINARY_FILE, MODEL_FILE])


def _import(source: Path, limits: Limits, stage: Path) -> tuple[int, int]:
    """In a child process: read the vectors and write vectors.npy + vocabulary.txt into stage."""
    words, matrix = vector_files.read_any(source, limits)
    with writing(stage):
        vector_files.write_matrix(stage, words, matrix)
    return len(words), int(matrix.shape[1])


def import_vectors(env: TrainingEnvironment, stage: Path) -> dict:
    """mode=vectors: re-export (and serve) vectors made elsewhere: word2vec text or a spaCy vocab."""
    params = hp.parse(ImportParams, env.hyperparameters, mode="vectors")
    tokenizer = Tokenizer(params.tokenizer, params.lowercase, params.language)
    channel = env.paths.channel("train")
    if not channel.is_dir():
        raise KindlingError(f"The 'train' channel is missing: {channel} does not exist.", code="missing_channel",
                            hint="Put a word2vec text file or a spaCy vocab directory in the 'train' channel.")
    real_channel = channel.resolve()
    entries = [p for p in sorted(channel.iterdir()) if not p.name.startswith(".") and readable(p, real_channel)]
    if (channel / "vectors").exists() or (channel / "vocab" / "vectors").exists():
        source = channel  # the channel is itself a spaCy vocab (or pipeline) directory
    elif len(entries) == 1:
        source = entries[0]
    else:
        raise KindlingError(f"The 'train' channel ({channel}) holds {len(entries)} entries; mode=vectors needs one "
                            "word2vec text file or one spaCy vocab directory.", code="bad_vectors",
                            hint="Put exactly one vectors file or directory in the channel.")
    count, dimension = run_isolated(_import, source, Limits.from_params(params), stage, start_method="fork",
                                    what=f"Reading {source}", oom_hint=READING_OOM_HINT)
    log.info("read %d vectors of dimension %d from %s", count, dimension, source)
    words = vector_files.read_vocabulary(stage / vector_files.VOCABULARY_FILE)
    matrix = np.load(stage / vector_files.MATRIX_FILE)
    spec = {"files": {"matrix": vector_files.MATRIX_FILE, "vocabulary": vector_files.VOCABULARY_FILE},
            "subwords": False, "mode": "vectors", "hyperparameters": hp.as_dict(params), "source": source.name}
    return _finish(stage, words, matrix, tokenizer, params.evaluation, spec, [])
