"""`python -m container <command>`: the image's one entry point.

SageMaker runs `docker run IMAGE train` / `docker run IMAGE serve`; SDK v3 local containers pass no
argument at all, so with no command we train when a training configuration exists and serve otherwise.
"""

from __future__ import annotations

import sys

from container import __version__
from container.paths import Paths
from container.settings import SETTINGS

USAGE = f"""kindling {__version__}: train and serve fastText models with the SageMaker container contract.

usage: python -m container [COMMAND] [OPTIONS]

commands:
  train            train from the SageMaker tree under $SAGEMAKER_BASE_DIR (default /opt/ml):
                   input/config/hyperparameters.json + input/data/<channel>/ -> model/ (bundle)
  train --sample [classification|embeddings|entities]
                   the same, reading config and channels from a sample baked into the image
                   (classification: Pang & Lee sentences; embeddings and entities: a Wikipedia dump)
  prepare [IN ...] OUT [--tokenizer regex|spacy|whitespace] [--language en] [--keep-case]
                   [--text-field text] [--processes N]
                   raw text / JSON Lines / Wikipedia XML dumps -> OUT/corpus.txt + OUT/summary.json
                   (defaults: /opt/ml/processing/input -> /opt/ml/processing/output)
  kb scan|resolve|count|write ...
                   the entity KB from a dump built by shards (`kb --help`): scan each shard's dump files,
                   resolve, count document frequencies in parts, write the bundle
  launch COMMAND   run this image on SageMaker / ECS (boto3): push, train, tune, deploy, transform,
                   ecs-task, ecs-run, process; --dry-run prints the API requests (`launch --help`)
  serve            serve the bundle in model/ on port $SAGEMAKER_BIND_TO_PORT (default 8080):
                   GET /ping, POST /invocations, GET /execution-parameters
  help             this text
  (none)           train if input/config/hyperparameters.json exists, otherwise serve
"""


def help_text() -> str:
    width = max(len(s.name) for s in SETTINGS)
    lines = [USAGE, "environment settings:"]
    lines += [f"  {s.name:<{width}}  {s.help} (default: {s.default})" for s in SETTINGS]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args else None
    if command is None:
        command = "train" if Paths.from_env().hyperparameters.is_file() else "serve"
    if command in {"help", "--help", "-h"}:
        sys.stdout.write(help_text())
        return 0
    if command == "train":
        from container.paths import SAMPLES

        if args[:1] not in ([], ["--sample"]) or len(args) > 2 or (len(args) == 2 and args[1] not in SAMPLES):
            return _usage_error(f"train takes no arguments other than --sample [{'|'.join(SAMPLES)}] "
                                f"(got {' '.join(args)})")
        from train.job import main as train_main

        return train_main(sample=(args[1] if len(args) == 2 else "classification") if args else None)
    if command == "launch":
        from container.launch import main as launch_main

        return launch_main(args)
    if command == "prepare":
        from train.corpus import main as prepare_main

        return prepare_main(args)
    if command == "kb":
        from train.kb_build.shards import main as kb_main

        return kb_main(args)
    if command == "serve":
        if args:
            return _usage_error(f"serve takes no arguments (got {' '.join(args)}); configure it with environment settings")
        from serve.server import main as serve_main

        return serve_main()
    return _usage_error(f"unknown command {command!r}")


def _usage_error(message: str) -> int:
    sys.stderr.write(f"error: {message}\n\n{help_text()}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
