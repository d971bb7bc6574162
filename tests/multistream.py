"""Multistream .xml.bz2 dumps the way Wikimedia writes them (`...-pages-articles-multistream.xml.bz2`): the
header (everything before the first page) as one bz2 stream, then one stream per `pages_per_stream` pages,
then `</mediawiki>` as the last stream; and the index next to it, one `offset:page_id:title` line per page,
offset being where the page's stream starts."""

from __future__ import annotations

import bz2
import itertools
import re
from pathlib import Path

_PAGE = re.compile(rb"^[ \t]*<page[\s>]", re.MULTILINE)
_ID = re.compile(rb"<id>(\d+)</id>")
_TITLE = re.compile(rb"<title>([^<]*)</title>")


def streams(xml: bytes, pages_per_stream: int = 100) -> list[bytes]:
    """The dump's text cut where its streams go: header, groups of pages (from their line's start), footer."""
    starts = [match.start() for match in _PAGE.finditer(xml)]
    if not starts:
        return [xml]
    end = xml.rindex(b"</page>") + len(b"</page>\n")
    cuts = [0] + starts[::pages_per_stream] + [end, len(xml)]
    return [xml[a:b] for a, b in itertools.pairwise(cuts) if b > a]


def write_multistream(xml: bytes, out: Path, pages_per_stream: int = 100, index: Path | None = None,
                      level: int = 9) -> list[int]:
    """Write the dump to `out` (and the index to `index`, if given); returns the offset of every stream."""
    offsets, lines = [], []
    with open(out, "wb") as handle:
        for text in streams(xml, pages_per_stream):
            offsets.append(handle.tell())
            handle.write(bz2.compress(text, level))
            for page in _PAGE.finditer(text):
                body = text[page.start():]
                lines.append(b"%d:%s:%s\n" % (offsets[-1], _ID.search(body).group(1), _TITLE.search(body).group(1)))
    if index is not None:
        index.write_bytes(bz2.compress(b"".join(lines)))
    return offsets
