"""Files that may be compressed: .gz and .bz2 are decompressed on the fly, everything else read as is."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path
from typing import IO


def open_binary(path: Path) -> IO[bytes]:
    """A binary stream with peek(); objects with their own open_stream() (a Pipe-mode channel) open themselves."""
    opener = getattr(path, "open_stream", None)
    if opener is not None:
        return opener()
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    if path.suffix == ".bz2":
        return bz2.open(path, "rb")
    return open(path, "rb")


def stem_suffixes(path: Path) -> list[str]:
    """The name's suffixes without the compression one, lower-cased: a.xml.bz2 -> ['.xml']."""
    return [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".bz2")]
