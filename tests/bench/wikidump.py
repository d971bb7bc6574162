"""Repeated-sample dumps for the entity-KB scaling bench (issue 13): gensim's enwiki sample, `factor` times,
as plain .xml. Copy 0 is the sample as it is. In copy c >= 1 every ns-0 title, every redirect target and
every prose link target T becomes "T c{c}" (inserted before a trailing " (...)", so disambiguation and
title anchors keep their shape), and page/revision ids are shifted by c * 10**10. A link keeps its visible
text: [[T]]s becomes [[T c3|T]]s, and [[T|{{template}}]] (read as T) [[T c3|{{template}}T]]. So each copy is its own link graph of the same shape (a Wikipedia with
`factor` times the pages), and the article texts repeat; only the title anchors grow per copy (the
alternative, renaming the visible text too, was not chosen). Links nested in another link's text (e.g. in
a File caption) are renamed like any other; a file or category link is left alone.

    python -m tests.bench.wikidump 8 /tmp/enwiki-8x.xml
    python -m tests.bench.wikidump 32 /tmp/enwiki-32x-multistream.xml.bz2 --multistream   # + its -index.txt.bz2

`--multistream` writes it the way Wikimedia publishes `...-pages-articles-multistream.xml.bz2`: the header,
each 100 pages and the footer as bz2 streams of their own, with the index next to it (tests/multistream.py).
"""

from __future__ import annotations

import bz2
import html
import re
import sys
from pathlib import Path

from container.wikipedia import _COMMENT, _DROPPED_ELEMENTS, _LINK, _NON_PROSE, _TEMPLATE, _innermost, normalize_title
from tests.sagemaker_tree import ENWIKI_SAMPLE, gensim_test_data

_PAGE = re.compile(r"  <page>.*?</page>\n", re.DOTALL)
_TITLE = re.compile(r"<title>([^<]*)</title>")
_REDIRECT = re.compile(r'<redirect title="([^"]*)" />')
_ID = re.compile(r"<id>(\d+)</id>")
_TEXT = re.compile(r"(<text[^>]*>)(.*?)(</text>)", re.DOTALL)
_TAIL = re.compile(r"^(.*?)( \([^()]*\))$")


def renamed(title: str, copy: int) -> str:
    """The copy's name of a normalized title: "Paris (city)" -> "Paris c3 (city)"."""
    if copy == 0 or not title:
        return title
    match = _TAIL.match(title)
    return f"{match.group(1)} c{copy}{match.group(2)}" if match else f"{title} c{copy}"


def _escaped(title: str, copy: int) -> str:
    """An XML-escaped title, renamed (kept as is if its normalized form is empty)."""
    normal = normalize_title(html.unescape(title))
    return html.escape(renamed(normal, copy), quote=True) if normal else title


def _link(copy: int):
    def replace(match: re.Match) -> str:
        inner, trail = match.group(1), match.group(2)
        target, bar, label = inner.partition("|")
        if _NON_PROSE.match(html.unescape(target)) or not normalize_title(html.unescape(target)):
            return match.group(0)
        # The link regex only sees innermost links; the renamed link is bracketed with placeholders so a
        # second round (for links that contained links) does not rename it again.
        if not bar:
            label = target
        elif not _innermost(_TEMPLATE, "", _DROPPED_ELEMENTS.sub("", _COMMENT.sub("", label))):
            label += target  # [[T|{{nowrap|..}}]] reads as T (the label is only markup): keep reading T
        return f"\x0e\x0e{_escaped(target, copy)}|{label}\x0f\x0f{trail}"
    return replace


def copy_page(page: str, copy: int) -> str:
    """One <page> block of the sample as copy `copy` of it."""
    if copy == 0:
        return page
    ns0 = "<ns>0</ns>" in page
    if ns0:
        page = _TITLE.sub(lambda m: f"<title>{_escaped(m.group(1), copy)}</title>", page, count=1)
    page = _REDIRECT.sub(lambda m: f'<redirect title="{_escaped(m.group(1), copy)}" />', page)
    page = _ID.sub(lambda m: f"<id>{int(m.group(1)) + copy * 10 ** 10}</id>", page)

    def text(m: re.Match) -> str:
        body = m.group(2)
        for _ in range(20):
            body, count = _LINK.subn(_link(copy), body)
            if not count:
                break
        return m.group(1) + body.replace("\x0e\x0e", "[[").replace("\x0f\x0f", "]]") + m.group(3)
    return _TEXT.sub(text, page, count=1)


def repeat_sample(factor: int, out: Path) -> Path:
    """Write the sample `factor` times (copies 0..factor-1) to `out` (.xml); returns `out`."""
    xml = bz2.decompress((gensim_test_data() / ENWIKI_SAMPLE).read_bytes()).decode("utf-8")
    pages = list(_PAGE.finditer(xml))
    header, footer = xml[:pages[0].start()], xml[pages[-1].end():]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as handle:
        handle.write(header)
        for copy in range(factor):
            for page in pages:
                handle.write(copy_page(page.group(0), copy))
        handle.write(footer)
    return out


def multistream_sample(factor: int, out: Path) -> Path:
    """repeat_sample as a multistream .xml.bz2 with its index; returns `out`."""
    from container.dump_pieces import index_of
    from tests.multistream import write_multistream

    out = Path(out)
    plain = repeat_sample(factor, out.with_name(out.name + ".tmp.xml"))
    try:
        write_multistream(plain.read_bytes(), out, 100, index_of(out))
    finally:
        plain.unlink()
    return out


if __name__ == "__main__":
    make = multistream_sample if "--multistream" in sys.argv[3:] else repeat_sample
    print(make(int(sys.argv[1]), Path(sys.argv[2])))
