"""Which shard this machine is: `--shard I/N` as given, or its place among the job's hosts.

A SageMaker Processing job with N instances runs the same arguments on every instance. What tells
them apart is /opt/ml/config/resourceconfig.json, `{"current_host": "algo-2", "hosts": ["algo-1",
"algo-2", ...]}` (developer guide, "Build your own processing container"; a training job has the
same keys in /opt/ml/input/config/resourceconfig.json). This host's place in the hosts, ordered
naturally (algo-2 before algo-10), is its shard: I of N = len(hosts).

Outside a job there is no such file, and then a shard must be given: taking 0/1 silently would let N
ECS tasks all write shard 0 of 1 over each other.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import NamedTuple

from container.errors import KindlingError
from container.paths import Paths

AUTO = "auto"


class Shard(NamedTuple):
    index: int
    count: int

    def name(self, kind: str = "shard") -> str:
        """The shard's folder: shard-0001-of-0004 (the name `kb scan` gives its output too)."""
        return f"{kind}-{self.index:04d}-of-{self.count:04d}"


def fraction(text: str) -> Shard | str:
    """argparse type for --shard/--part: I/N with 0 <= I < N, or `auto` (from the resource config)."""
    if text == AUTO:
        return AUTO
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N with 0 <= I < N (or '{AUTO}')")
    return Shard(int(index), int(count))


def shard_of(value: Shard | str, paths: Paths | None = None) -> Shard:
    """The shard given, or (for `auto`) this host's place in the job's resource config."""
    return this_host(paths) if value == AUTO else Shard(*value)


def _natural(host: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", host)]


def this_host(paths: Paths | None = None) -> Shard:
    paths = paths or Paths.from_env()
    candidates = [paths.processing_resource_config, paths.resource_config]
    found = next((path for path in candidates if path.is_file()), None)
    if found is None:
        raise KindlingError(f"No shard was given, and neither {candidates[0]} nor {candidates[1]} exists (this is not "
                            "a SageMaker job), so this machine's shard is unknown.", code="unknown_shard",
                            hint="Pass --shard I/N (--part I/N for kb count); --shard 0/1 on a single machine.")
    return _place(found)


def _unknown(path: Path, why: str) -> KindlingError:
    return KindlingError(f"{path} {why}, so this machine's shard is unknown.", code="unknown_shard",
                         hint='SageMaker writes {"current_host": "algo-1", "hosts": ["algo-1", ...]} there; '
                              "or pass --shard I/N.")


def _place(path: Path) -> Shard:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _unknown(path, f"cannot be read as JSON ({exc})") from None
    config = config if isinstance(config, dict) else {}
    hosts, current = config.get("hosts"), config.get("current_host")
    if not (isinstance(hosts, list) and hosts and all(isinstance(h, str) for h in hosts)
            and len(set(hosts)) == len(hosts)):
        raise _unknown(path, f"has no list of distinct host names (hosts: {hosts!r})")
    if current not in hosts:
        raise _unknown(path, f"names current_host {current!r}, which is not among its hosts {hosts}")
    return Shard(sorted(hosts, key=_natural).index(current), len(hosts))
