"""`python -m container kb scan|resolve|count|write`: the entity KB built by many machines, the way
`prepare --parts/--merge` builds a corpus. Each phase is one command over one output prefix OUT:

  kb scan INPUT OUT --shard I/N     this shard's dump files -> OUT/scan/shard-I-of-N/ (shard.json last)
  kb resolve OUT                    every shard's scan -> OUT/resolved/ (one machine)
  kb count OUT --part I/N           document frequencies of every Nth piece -> OUT/counts/part-I-of-N/
  kb write OUT MODEL                OUT/resolved + OUT/counts -> MODEL/ (a bundle: kb/ + manifest.json)

Shards hold whole files; the merge orders pieces by (file path under the shard's input, byte offset), so the
KB is the same bytes as one `train` over all the files. A phase refuses what would silently give another
KB: a missing, failed or unfinished shard or count part, shards scanned with other settings, the same file
in two shards, a page in two shards (duplicate_page: refused, never counted once). A shard with no files
(N above the number of files) or with no pages is fine: it contributes nothing. A phase that fails leaves
no partial output, only its reason in failed.txt, which the next phase repeats; a full disk is write_failed
naming the folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np

from container import hyperparameters as hp
from container.dump_pieces import pieces
from container.bundle import staged_bundle
from container.errors import KindlingError
from container.shard import AUTO, fraction, shard_of
from container.tokenizer import Tokenizer
from train.kb_build import PIECES_PER_PROCESS, counters, document_frequencies, scan_pieces
from train.kb_build.resolve import resolve
from train.kb_build.scan import Settings
from train.kb_build.write import Thresholds, write
from train.sorted_runs import save_array, spilling

log = logging.getLogger(__name__)
SHARD_DONE, PART_DONE, PIECES, FAILED = "shard.json", "part.json", "pieces.json", "failed.txt"


def _name(kind: str, index: int, count: int) -> str:
    return f"{kind}-{index:04d}-of-{count:04d}"


def _params(hyperparameters: dict):
    from train.entities import EntityParams

    return hp.parse(EntityParams, {k: str(v) for k, v in hyperparameters.items()}, mode="entities")


def settings_of(params) -> Settings:
    return Settings(Tokenizer(params.tokenizer, params.lowercase, params.language), params.title_links,
                    params.drop_missing_targets)


@contextlib.contextmanager
def _phase(out: Path, directory: Path) -> Iterator[None]:
    """The phase writes `directory` under OUT. A full disk is write_failed naming OUT; any failure removes what the
    phase wrote (nothing partial stays in OUT) and leaves its reason in failed.txt, for the next phase to name."""
    shutil.rmtree(directory, ignore_errors=True)  # a rerun of a failed phase starts clean
    try:
        with spilling(out, "give OUT more room (a larger volume; SageMaker Processing: VolumeSizeInGB) or put OUT on "
                           "a larger file system, then run this command again"):
            yield
    except Exception as exc:
        shutil.rmtree(directory, ignore_errors=True)
        reason = str(exc) if isinstance(exc, KindlingError) else f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(OSError):  # the disk may still be full: the reason is a courtesy
            directory.mkdir(parents=True, exist_ok=True)
            (directory / FAILED).write_text(reason + "\n", encoding="utf-8")
        raise


def _failure(directory: Path) -> str:
    """Why the phase that wrote `directory` failed, from its failed.txt ('' when it has none)."""
    try:
        reason = (directory / FAILED).read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return f": {reason.rstrip('.') or 'no reason was recorded'}"


def scan_shard(inputs: Path, out: Path, params, index: int, count: int, processes: int) -> dict:
    from train.corpus import corpus_files

    directory = out / "scan" / _name("shard", index, count)
    # a shard with no files is fine (N instances for fewer files; ShardedByS3Key may give one an empty folder or
    # none): it contributes nothing, and its marker says the shard was run
    files = corpus_files([inputs]) if inputs.exists() else []
    if not files:
        log.warning("kb scan: shard %d/%d has no dump files (%s %s); it contributes nothing to the KB", index, count,
                    inputs, "is empty" if inputs.exists() else "does not exist")
    base = inputs.parent if inputs.is_file() else inputs  # a single file as INPUT is named by its file name
    with _phase(out, directory):
        cut = pieces(files, processes * PIECES_PER_PROCESS)
        piece_dirs = [directory / "pieces" / f"{i:05d}" for i in range(len(cut))]
        names = [piece.path.relative_to(base).as_posix() for piece in cut]
        settings = settings_of(params)
        scanned = scan_pieces(cut, names, settings, piece_dirs, processes, (params.working_budget_mb << 20))
        marker = {"shard": index, "count": count, "files": sorted({p.relative_to(base).as_posix() for p in files}),
                  "settings": settings.to_json(), "pieces": len(cut),
                  "counts": {key: sum(piece[key] for piece in scanned) for key in (scanned[0] if scanned else {})}}
        directory.mkdir(parents=True, exist_ok=True)
        (directory / SHARD_DONE).write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return marker


def _differences(first: dict, other: dict) -> str:
    return "; ".join(f"{key}: {first.get(key)!r} against {other.get(key)!r}"
                     for key in sorted(set(first) | set(other)) if first.get(key) != other.get(key))


def shard_markers(out: Path) -> list[tuple[Path, dict]]:
    """Every shard's marker, checked: all there, all finished, same settings, no file twice."""
    found = []
    for directory in sorted((out / "scan").glob("shard-*")):
        if not (directory / SHARD_DONE).exists():
            failed = _failure(directory)
            raise KindlingError(f"Shard {directory.name} ({directory}) "
                                f"{'failed its scan' + failed if failed else 'did not finish its scan'}.",
                                code="unfinished_shard", hint="Run that shard's `kb scan` again, then resolve.")
        found.append((directory, json.loads((directory / SHARD_DONE).read_text(encoding="utf-8"))))
    if not found:
        raise KindlingError(f"No scanned shards in {out / 'scan'}.", code="missing_shard",
                            hint="Run `kb scan` for every shard first.")
    counts = {marker["count"] for _, marker in found}
    expected = max(counts)
    missing = sorted(set(range(expected)) - {marker["shard"] for _, marker in found})
    if missing or len(counts) > 1:
        raise KindlingError(f"Shard(s) {', '.join(_name('shard', i, expected) for i in missing) or '?'} of {expected} "
                            f"did not scan (scans for {sorted(counts)} shards found in {out / 'scan'}).",
                            code="missing_shard", hint="Run `kb scan --shard I/N` for every I below N, same N.")
    first_dir, first = found[0]
    owner: dict[str, str] = {}
    for directory, marker in found:
        if marker["settings"] != first["settings"]:
            raise KindlingError(f"{directory.name} and {first_dir.name} were scanned with different settings "
                                f"({_differences(first['settings'], marker['settings'])}).", code="shard_mismatch",
                                hint="Scan every shard with the same hyperparameters.")
        for name in marker["files"]:
            if name in owner:
                raise KindlingError(f"{name} was scanned by two shards ({owner[name]} and {directory.name}).",
                                    code="overlapping_shards", hint="Give every dump file to exactly one shard.")
            owner[name] = directory.name
    empty = [directory.name for directory, marker in found if "counts" in marker and not any(marker["counts"].values())]
    if empty:
        log.warning("kb resolve: %s hold(s) no pages; it contributes nothing to the KB", ", ".join(empty))
    return found


def _settings(data: dict) -> Settings:
    return Settings(Tokenizer(**data["tokenizer"]), data["title_links"], data["drop_missing_targets"])


def resolve_shards(out: Path, budget: int) -> dict:
    found = shard_markers(out)
    piece_dirs = [piece for directory, _ in found for piece in sorted((directory / "pieces").glob("*"))]
    keys = {}
    for piece in piece_dirs:
        if not (piece / "piece.json").exists():
            raise KindlingError(f"The scan of {piece} did not finish.", code="unfinished_shard",
                                hint="Run that shard's `kb scan` again, then resolve.")
        marker = json.loads((piece / "piece.json").read_text(encoding="utf-8"))
        keys[piece] = (Path(marker["file"]).parts, marker["start"])
    piece_dirs.sort(key=keys.__getitem__)
    if not sum(json.loads((p / "piece.json").read_text())["counts"]["pages"] for p in piece_dirs):
        raise KindlingError(f"The shards in {out / 'scan'} hold no articles.", code="empty_dump",
                            hint="Give a pages-articles dump.")
    with _phase(out, out / "resolved"):
        summary = resolve(piece_dirs, _settings(found[0][1]["settings"]), out / "resolved", budget)
        (out / "resolved" / PIECES).write_text(json.dumps([p.relative_to(out).as_posix() for p in piece_dirs]) + "\n")
    return summary


def _pieces(out: Path) -> list[str]:
    if not (out / "resolved" / PIECES).exists():
        failed = _failure(out / "resolved")
        raise KindlingError(f"{out / 'resolved'} has no finished resolve{' (it failed' + failed + ')' if failed else ''}.",
                            code="unfinished_shard", hint="Run `kb resolve OUT` first.")
    return json.loads((out / "resolved" / PIECES).read_text())


def count_part(out: Path, index: int, count: int, processes: int) -> None:
    mine = [name for number, name in enumerate(_pieces(out)) if number % count == index]
    directory = out / "counts" / _name("part", index, count)
    with _phase(out, directory):
        documents = document_frequencies(out / "resolved", [out / name for name in mine], processes)
        directory.mkdir(parents=True)
        save_array(directory / "df.npy", documents)
        (directory / PART_DONE).write_text(json.dumps({"pieces": mine}) + "\n", encoding="utf-8")


def _documents(out: Path, names: list[str]) -> np.ndarray:
    """The count parts' sums, each resolved piece counted exactly once."""
    total, seen, parts = None, {}, set()
    for directory in sorted((out / "counts").glob("part-*")):
        if not (directory / PART_DONE).exists():
            failed = _failure(directory)
            raise KindlingError(f"Count part {directory.name} ({directory}) "
                                f"{'failed' + failed if failed else 'did not finish'}.", code="unfinished_shard",
                                hint="Run that `kb count --part` again, then write.")
        parts.add(directory.name)
        for name in json.loads((directory / PART_DONE).read_text())["pieces"]:
            if name in seen:
                raise KindlingError(f"{name} was counted by {seen[name]} and {directory.name}.",
                                    code="overlapping_shards", hint="Run `kb count --part I/N` with one N.")
            seen[name] = directory.name
        part = np.load(directory / "df.npy")
        total = part if total is None else total + part
    missing = [name for name in names if name not in seen]
    if missing:
        counts = {int(part.rsplit("-", 1)[1]) for part in parts}
        absent = [_name("part", i, n) for n in counts for i in range(n) if _name("part", i, n) not in parts]
        raise KindlingError(f"{len(missing)} resolved piece(s) were never counted ({missing[0]} first): count part(s) "
                            f"{', '.join(absent) or 'with this N'} did not run in {out / 'counts'}.",
                            code="missing_shard", hint="Run `kb count --part I/N` for every I below N, same N.")
    return total if total is not None else np.zeros(0, dtype=np.int64)


def write_model(out: Path, model: Path, params) -> dict:
    from train.entities import _manifest

    names = _pieces(out)  # first: a missing resolve is named, not a missing file
    summary = json.loads((out / "resolved" / "resolve.json").read_text(encoding="utf-8"))
    settings = settings_of(params)
    if summary["settings"] != settings.to_json():
        raise KindlingError(f"The hyperparameters of `kb write` differ from the scan's "
                            f"({_differences(summary['settings'], settings.to_json())}).", code="shard_mismatch",
                            hint="Give `kb write` the hyperparameters the shards were scanned with.")
    documents = _documents(out, names)
    # staged inside MODEL, as a training job stages /opt/ml/model: MODEL may be another file system (a
    # Docker volume, a Processing output) than OUT, where a rename across would fail (EXDEV)
    with staged_bundle(model) as staging:
        meta = write(out / "resolved", documents, [out / name for name in names], staging / "kb",
                     Thresholds(params.min_anchor_links, params.min_link_probability, params.max_candidates),
                     params.working_budget_mb << 20)
        _manifest(staging, params, settings.tokenizer, {"counts": counters(summary)}, meta)
    return meta


def main(argv: list[str]) -> int:
    from container import logs
    from train.corpus import default_processes

    parser = argparse.ArgumentParser(prog="python -m container kb", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--hyperparameters", default="{}", help="mode=entities hyperparameters as JSON")
    common.add_argument("--processes", type=int, default=0, help="worker processes (default: one per CPU)")
    phases = parser.add_subparsers(dest="phase", required=True)
    scan_parser = phases.add_parser("scan", parents=[common])
    scan_parser.add_argument("input", type=Path)
    scan_parser.add_argument("out", type=Path)
    scan_parser.add_argument("--shard", type=fraction, default=AUTO,
                             help="I/N: this is shard I of N (default: from the SageMaker job's resource config)")
    phases.add_parser("resolve", parents=[common]).add_argument("out", type=Path)
    count_parser = phases.add_parser("count", parents=[common])
    count_parser.add_argument("out", type=Path)
    count_parser.add_argument("--part", type=fraction, default=AUTO,
                              help="I/N: count every Nth piece from I (default: from the job's resource config)")
    write_parser = phases.add_parser("write", parents=[common])
    write_parser.add_argument("out", type=Path)
    write_parser.add_argument("model", type=Path)
    args = parser.parse_args(argv)
    logs.setup()
    processes = args.processes or default_processes()
    try:
        try:
            hyperparameters = json.loads(args.hyperparameters)
        except json.JSONDecodeError as exc:
            raise KindlingError(f"--hyperparameters is not JSON ({exc}).", code="bad_hyperparameters",
                                hint='Give an object: --hyperparameters \'{"title_links": "2"}\'.') from None
        params = _params(hyperparameters)
        if args.phase == "scan":
            scan_shard(args.input, args.out, params, *shard_of(args.shard), processes)
        elif args.phase == "resolve":
            resolve_shards(args.out, params.working_budget_mb << 20)
        elif args.phase == "count":
            count_part(args.out, *shard_of(args.part), processes)
        else:
            write_model(args.out, args.model, params)
    except KindlingError as exc:
        log.error("kb %s failed: %s", args.phase, exc)
        return 1
    return 0
