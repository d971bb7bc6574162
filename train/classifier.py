"""mode=supervised: a fastText text classifier, BlazingText-compatible.

Hyperparameter names and defaults are BlazingText's (SageMaker developer guide,
blazingtext_hyperparameters), with fastText's own names accepted as aliases.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from container import hyperparameters as hp
from container import tracking
from container.bundle import describe_files, digest_in_background, write_manifest
from container.errors import KindlingError
from container.logs import metric
from container.tokenizer import SCHEMES, Tokenizer
from train.channels import prepare_labelled
from train.formats import FORMATS, Reading
from train.environment import TrainingEnvironment
from train import pretrained
from train.autotune_deadline import SEARCH_OVER, AutotuneDeadline
from train.isolated import run_isolated
from train.limits import MAX_BUCKETS, READING_OOM_HINT, Limits, check_input_matrix, max_input_param, max_line_param
from train.quantize import quantize_and_score
from train.reports import write_reports
from train.saving import save_checked
from train.progress import line_progress

log = logging.getLogger(__name__)
TASK = "classification"
MODEL_FILE = "model.bin"
EVAL_FILE = "eval.json"
QUANTIZED_FILE = "model.ftz"
TUNED = ("epoch", "lr", "dim", "wordNgrams", "minCount", "minn", "maxn", "bucket", "dsub")  # what autotune sets
AUTOTUNED = {"epoch": "epochs", "lr": "learning_rate", "dim": "vector_dim", "wordNgrams": "word_ngrams",
             "minCount": "min_count", "minn": "min_char", "maxn": "max_char", "bucket": "buckets"}


@dataclass(frozen=True)
class SupervisedParams:
    epochs: int = hp.param(5, "passes over the training data", aliases=("epoch",), minimum=1)
    learning_rate: float = hp.param(0.05, "step size", aliases=("lr",), minimum=0, exclusive_minimum=True)
    min_count: int = hp.param(5, "words seen fewer times are dropped", aliases=("minCount",), minimum=1)
    min_count_label: int = hp.param(1, "labels seen fewer times are dropped", aliases=("minCountLabel",), minimum=1)
    vector_dim: int = hp.param(100, "size of word vectors", aliases=("dim",), minimum=1, maximum=10000)
    word_ngrams: int = hp.param(2, "length of word n-grams used as features", aliases=("wordNgrams",),
                                minimum=1, maximum=10)
    buckets: int = hp.param(2000000, "hash buckets for n-grams", aliases=("bucket",), minimum=1, maximum=MAX_BUCKETS)
    min_char: int = hp.param(0, "shortest character n-gram (0 = off)", aliases=("minn",), minimum=0)
    max_char: int = hp.param(0, "longest character n-gram (0 = off)", aliases=("maxn",), minimum=0)
    window_size: int = hp.param(5, "context window (fastText ws)", aliases=("ws",), minimum=1)
    negative_samples: int = hp.param(5, "negatives sampled (loss=ns)", aliases=("neg",), minimum=1)
    loss: str = hp.param("softmax", "loss function", choices=("softmax", "ns", "hs", "ova"))
    lr_update_rate: int = hp.param(100, "tokens between learning-rate updates", aliases=("lrUpdateRate",),
                                   minimum=1)
    sampling_threshold: float = hp.param(0.0001, "sub-sampling threshold", aliases=("t",), minimum=0)
    label_prefix: str = hp.param("__label__", "prefix that marks labels", aliases=("label",))
    threads: int = hp.param(0, "training threads (0 = one per CPU)", aliases=("thread",), minimum=0)
    seed: int = hp.param(0, "random seed (fastText's; results vary across thread counts)", minimum=0)
    early_stopping: bool = hp.param(False, "stop adding epochs once validation accuracy stops improving "
                                    "(needs a validation channel)")
    patience: int = hp.param(4, "epochs without improvement before early stopping stops", minimum=1)
    min_epochs: int = hp.param(5, "epochs always trained before early stopping may stop", minimum=1)
    autotune: bool = hp.param(False, "let fastText search the hyperparameters on the validation channel")
    autotune_duration: int = hp.param(300, "seconds the search may take", minimum=1)
    autotune_metric: str = hp.param("f1", "what the search maximizes: f1, f1:__label__x (one label's F1), "
                                    "precisionAtRecall:30, recallAtPrecision:30, ...")
    quantize: bool = hp.param(False, "also write model.ftz (product-quantized, much smaller) and serve it")
    quantize_cutoff: int = hp.param(0, "keep only this many words and n-grams when quantizing (0 = all)", minimum=0)
    quantize_retrain: bool = hp.param(True, "fine-tune the kept embeddings after a cutoff")
    input_format: str = hp.param("auto", "fasttext, jsonlines (incl. augmented manifests) or csv; auto: by "
                                 "ContentType, then file extension", choices=FORMATS)
    text_field: str = hp.param("source", "JSON Lines attribute / CSV column holding the text")
    label_field: str = hp.param("label", "JSON Lines attribute / CSV column holding the label(s)")
    tokenizer: str = hp.param("regex", "text normalization shared with serving", choices=SCHEMES)
    lowercase: bool = hp.param(True, "lower-case text before training and serving")
    language: str = hp.param("en", "spaCy language code for tokenizer=spacy")
    max_line_mb: float = max_line_param()
    max_input_gb: float = max_input_param()

    def validate(self) -> None:
        if self.autotune and self.early_stopping:
            raise KindlingError("autotune and early_stopping cannot both be on.", code="bad_hyperparameters",
                                hint="Autotune already chooses the number of epochs; turn early_stopping off.")
        if self.early_stopping and self.min_epochs > self.epochs:
            raise KindlingError(f"min_epochs={self.min_epochs} is larger than epochs={self.epochs}.",
                                code="bad_hyperparameters", hint="Set min_epochs <= epochs.")
        if self.max_char and self.min_char > self.max_char:
            raise KindlingError(
                f"min_char={self.min_char} is larger than max_char={self.max_char}.", code="bad_hyperparameters",
                hint="Set min_char <= max_char, or max_char=0 to turn character n-grams off.")

    def fasttext_args(self, threads: int) -> dict:
        return {
            "epoch": self.epochs, "lr": self.learning_rate, "minCount": self.min_count,
            "minCountLabel": self.min_count_label, "dim": self.vector_dim, "wordNgrams": self.word_ngrams,
            "bucket": self.buckets, "minn": self.min_char, "maxn": self.max_char, "ws": self.window_size,
            "neg": self.negative_samples, "loss": self.loss, "lrUpdateRate": self.lr_update_rate,
            "t": self.sampling_threshold, "label": self.label_prefix, "thread": self.threads or threads,
            "seed": self.seed,
        }


def train(env: TrainingEnvironment, stage: Path) -> dict:
    """Train on the `train` channel, score on `validation` if given, write model.bin + manifest into stage."""
    params = hp.parse(SupervisedParams, env.hyperparameters, mode="supervised")
    params.validate()
    check_input_matrix(params.buckets, params.vector_dim)
    tokenizer = Tokenizer(scheme=params.tokenizer, lowercase=params.lowercase, language=params.language)
    extra = sorted(set(env.channels) - {"train", "validation", pretrained.CHANNEL})
    if extra:
        log.warning("ignoring channel(s) %s: mode=supervised reads 'train', 'validation' and 'pretrained'",
                    ", ".join(extra))
    vectors = pretrained.find_vectors(env.paths.channel(pretrained.CHANNEL))

    with tempfile.TemporaryDirectory(prefix="kindling-") as scratch:
        reading = Reading(params.input_format, params.text_field, params.label_field, params.label_prefix)
        limits = Limits.from_params(params)

        def prepare(channel: str):
            content_type = env.channels[channel].content_type if channel in env.channels else None
            sources = env.pipe_sources(channel, (params.text_field, params.label_field), limits)
            # in a child: a reader that runs out of memory is killed there, and this process says so
            return run_isolated(prepare_labelled, channel, env.paths.channel(channel), Path(scratch) / f"{channel}.txt",
                                tokenizer, reading, content_type, sources, limits, start_method="fork",
                                what=f"Preparing the {channel!r} channel", oom_hint=READING_OOM_HINT)

        train_data = prepare("train")
        if len(train_data.labels) < 2:
            raise KindlingError(
                f"The 'train' channel has only one label ({next(iter(train_data.labels))}); a classifier needs two "
                "or more.", code="single_class", hint="Add examples of the other classes, or check label_field.")
        validation = None
        if "validation" in env.channels or env.paths.channel("validation").is_dir():
            validation = prepare("validation")
        print(f"Number of train examples: {train_data.examples}", flush=True)
        args = params.fasttext_args(env.num_cpus)
        if vectors is not None:
            count = pretrained.check_dimension(vectors, params.vector_dim)
            log.info("starting from %d pretrained %d-dimensional word vectors in %s", count, params.vector_dim,
                     vectors)
            args["pretrainedVectors"] = str(vectors)
        log.info("fastText train_supervised %s", " ".join(f"{k}={v}" for k, v in sorted(args.items())))
        if params.autotune:
            args = _autotune_arguments(params, env.hyperparameters, args, validation.path if validation else None)
        if params.early_stopping and validation is None:
            raise KindlingError("early_stopping=true needs a 'validation' channel to watch.", code="no_validation",
                                hint="Add a validation channel, or set early_stopping=false.")
        with line_progress(markers=(SEARCH_OVER,)) as output:
            try:
                if params.early_stopping:
                    fitted = _train_with_early_stopping(params, args, train_data.path, validation.path,
                                                        stage / MODEL_FILE)
                else:
                    deadline = (AutotuneDeadline(params.autotune_duration, lambda: SEARCH_OVER in output.seen)
                                if params.autotune else None)
                    fitted = run_isolated(fit_and_score, str(train_data.path),
                                          str(validation.path) if validation else None, args, str(stage / MODEL_FILE),
                                          watchdog=deadline)
            except (RuntimeError, ValueError) as exc:
                raise _explain_fasttext_failure(exc, params) from exc
        labels = fitted["labels"]
        if not labels:
            raise KindlingError(
                f"No label was seen at least min_count_label={params.min_count_label} times.",
                code="no_labels", hint="Lower min_count_label or add more labelled lines.")
        digests = {MODEL_FILE: digest_in_background(stage / MODEL_FILE)}
        metrics = {"train_accuracy": fitted["train_accuracy"], "train_examples": train_data.examples,
                   "training_seconds": fitted["seconds"], "labels": len(labels)}
        metric("train_accuracy", metrics["train_accuracy"])
        if validation is not None:
            unseen = sorted(set(validation.labels) - set(labels))
            if unseen:
                log.warning("%d validation label(s) never seen in training: %s", len(unseen), ", ".join(unseen[:10]))
            scores = {**fitted["validation"], "unseen_labels": unseen}
            metrics.update({"validation_accuracy": scores["accuracy"], "validation_f1": scores["macro_f1"],
                            "validation_examples": validation.examples})
            metric("validation_accuracy", scores["accuracy"])
            metric("validation_f1", scores["macro_f1"])
            (stage / EVAL_FILE).write_text(json.dumps({"validation": scores, "epochs": fitted["epochs"]}, indent=2,
                                                      sort_keys=True) + "\n", encoding="utf-8")
            try:
                write_reports(env.paths.output_data, scores, scores["confusion"], params.label_prefix)
            except Exception:  # a chart must never cost the model: say so and carry on
                log.exception("could not draw the validation reports; the model is not affected")
        metrics["epochs"] = fitted["epochs"]
        if params.autotune:
            metrics["autotune"] = {"chosen": fitted["chosen"], "seconds": fitted["seconds"]}
            log.info("autotune chose %s (%.0f s)", " ".join(f"{k}={v}" for k, v in sorted(fitted["chosen"].items())),
                     fitted["seconds"])
        served = MODEL_FILE
        if params.quantize:
            served = QUANTIZED_FILE
            metrics["quantization"] = _quantize(params, stage, train_data.path, validation.path if validation else None)

    write_manifest(stage, {
        "tasks": {TASK: {
            "kind": TASK, "files": {"model": served}, "tokenizer": tokenizer.to_manifest(),
            "labels": labels, "label_prefix": params.label_prefix, "hyperparameters": hp.as_dict(params),
            "metrics": metrics,
        }},
        "files": describe_files(stage, [name for name in (MODEL_FILE, QUANTIZED_FILE, EVAL_FILE)
                                        if (stage / name).exists()], digests),
    })
    return metrics


def _autotune_arguments(params: SupervisedParams, raw: dict, args: dict, validation_path: Path | None) -> dict:
    """fastText's autotune leaves every argument set by hand alone, so only the hyperparameters the user
    really set are passed on; the rest are the search's to choose."""
    if validation_path is None:
        raise KindlingError("autotune=true needs a 'validation' channel to score candidates on.",
                            code="no_validation", hint="Add a validation channel, or set autotune=false.")
    given = {hp.field_names(SupervisedParams).get(key) for key in raw}
    if "buckets" in given:  # measured: fastText 0.9.3 / fasttext-numpy2 0.10.4 die with SIGFPE then
        raise KindlingError("autotune=true cannot be combined with a fixed buckets value.",
                            code="bad_hyperparameters",
                            hint="Leave buckets out: fastText's autotune crashes when buckets is fixed.")
    searched = {name: value for name, value in args.items() if AUTOTUNED.get(name, "") in given
                or name not in AUTOTUNED}
    log.info("autotune: searching for up to %d s, maximizing %s", params.autotune_duration, params.autotune_metric)
    return {**searched, "autotuneValidationFile": str(validation_path),
            "autotuneDuration": params.autotune_duration, "autotuneMetric": params.autotune_metric}


def _quantize(params: SupervisedParams, stage: Path, train_path: Path, validation_path: Path | None) -> dict:
    report = run_isolated(quantize_and_score, str(stage / MODEL_FILE), str(train_path),
                          str(validation_path) if validation_path else None, params.quantize_cutoff,
                          params.quantize_retrain, str(stage / QUANTIZED_FILE))
    log.info("quantized: %.2f MB -> %.2f MB (%.1fx smaller); %s accuracy %.4f -> %.4f",
             report["bytes_before"] / 1e6, report["bytes_after"] / 1e6, report["bytes_before"] / report["bytes_after"],
             report["scored_on"], report["accuracy_before"], report["accuracy_after"])
    metric("quantized_accuracy", report["accuracy_after"])
    return report


def _explain_fasttext_failure(exc: Exception, params: SupervisedParams) -> KindlingError:
    if "NaN" in str(exc):
        return KindlingError(
            f"Training diverged (fastText: {exc}) with learning_rate={params.learning_rate}.", code="diverged",
            hint="Lower learning_rate (e.g. by a factor of 10) and train again.")
    return KindlingError(f"fastText could not train: {exc}.", code="fasttext_failed",
                         hint="Check the hyperparameters against the fastText documentation.")


def fit_and_score(train_path: str, validation_path: str | None, args: dict, model_path: str) -> dict:
    """Runs in the child process: train, score, save. Returns plain data only."""
    import fasttext

    started = time.monotonic()
    model = fasttext.train_supervised(input=train_path, verbose=2, **args)
    seconds = round(time.monotonic() - started, 3)
    labels = list(model.get_labels())
    chosen = model.f.getArgs()
    result = {"labels": labels, "seconds": seconds, "epochs": chosen.epoch, "train_accuracy": _accuracy(model, train_path),
              "chosen": {name: getattr(chosen, name) for name in TUNED}}
    if validation_path:
        result["validation"] = _scores(model, validation_path, len(labels))
    if labels:
        save_checked(model.save_model, Path(model_path))
    return result


def _scores(model, path: str, label_count: int) -> dict:
    """Accuracy (precision@1), precision/recall at 1 and 5, and per-label precision/recall/F1."""
    examples, precision_1, recall_1 = model.test(path, k=1)
    _, precision_5, recall_5 = model.test(path, k=min(5, label_count))
    per_label = {label: {"precision": round(float(v["precision"]), 6), "recall": round(float(v["recall"]), 6),
                         "f1": round(float(v["f1score"]), 6)} for label, v in model.test_label(path, k=1).items()}
    f1s = [v["f1"] for v in per_label.values()]
    return {"confusion": _confusion(model, path), "examples": examples, "accuracy": float(precision_1), "precision_at_1": float(precision_1),
            "recall_at_1": float(recall_1), "precision_at_5": float(precision_5), "recall_at_5": float(recall_5),
            "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0, "per_label": per_label}


def _confusion(model, path: str) -> dict[str, dict[str, int]]:
    """{true label: {predicted label: count}}, the true label being a line's first label."""
    prefix = model.f.getArgs().label
    golds, texts = [], []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            tokens = line.split()
            labels = [t for t in tokens if t.startswith(prefix)]
            if labels:
                golds.append(labels[0])
                texts.append(" ".join(t for t in tokens if not t.startswith(prefix)))
    confusion: dict[str, dict[str, int]] = {}
    predicted, _ = model.predict(texts, k=1) if texts else ([], [])
    for gold, top in zip(golds, predicted):
        row = confusion.setdefault(gold, {})
        guess = top[0] if top else "(none)"
        row[guess] = row.get(guess, 0) + 1
    return confusion


def _train_with_early_stopping(params: SupervisedParams, args: dict, train_path: Path, validation_path: Path,
                               model_path: Path) -> dict:
    """BlazingText's early stopping (early_stopping, patience, min_epochs), honestly with fastText.

    fastText has no per-epoch hook and cannot resume training, so each candidate epoch count n is a
    complete run with epoch=n (its learning rate anneals to zero at n, as a final model's should):
    min_epochs first, then one more epoch at a time, until validation accuracy has not improved for
    `patience` candidates or `epochs` is reached. The best candidate is kept. The cost is the sum of the
    candidates' epochs, which the log reports.
    """
    best, best_path, since_best, spent = None, None, 0, 0
    for epochs in range(params.min_epochs, params.epochs + 1):
        # candidates live beside the final file (the staging directory: same filesystem, so the best one
        # is renamed into place, and a failure removes them with the staging directory)
        candidate = model_path.parent / f".candidate-{epochs}-epochs.bin"
        fitted = run_isolated(fit_and_score, str(train_path), str(validation_path), {**args, "epoch": epochs},
                              str(candidate))
        spent += epochs
        accuracy = fitted["validation"]["accuracy"]
        log.info("early stopping: %d epochs -> validation accuracy %.4f", epochs, accuracy)
        tracking.record("candidate_validation_accuracy", accuracy, step=epochs)
        if best is None or accuracy > best["validation"]["accuracy"]:
            if best_path is not None:
                best_path.unlink(missing_ok=True)
            best, best_path, since_best = fitted, candidate, 0
        else:
            candidate.unlink(missing_ok=True)
            since_best += 1
            if since_best >= params.patience:
                log.info("early stopping after %d epochs: validation accuracy has not improved for %d epoch(s) "
                         "since %d epochs (%.4f); keeping the %d-epoch model (%d epochs trained in all)",
                         epochs, since_best, best["epochs"], best["validation"]["accuracy"], best["epochs"], spent)
                break
    else:
        log.info("early stopping did not stop: validation accuracy still improved within %d epoch(s) of epochs=%d; "
                 "keeping the %d-epoch model (%d epochs trained in all)", params.patience, params.epochs,
                 best["epochs"], spent)
    os.replace(best_path, model_path)
    return best


def _accuracy(model, path: str) -> float:
    """fastText's precision@1: the share of examples whose top label is one of their labels."""
    examples, precision, _ = model.test(path, k=1)
    return float(precision) if examples else 0.0
