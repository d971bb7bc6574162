"""MediaWiki XML dumps: pages streamed from .xml / .xml.bz2 / .xml.gz, and wikitext turned into plain text.

Shared by corpus preparation (article text for word vectors) and the entity knowledge base (titles,
redirects, links). Streaming with ElementTree.iterparse keeps memory constant however large the dump;
each finished <page> element is cleared. Markup is stripped with a small set of rules in the spirit
of gensim's `corpora.wikicorpus.filter_wiki` and WikiExtractor: innermost templates/tables/links first,
so nested markup unwinds correctly; what cannot be read as prose (templates, tables, references,
files, categories) is dropped, and link text is kept.
"""

from __future__ import annotations

import html
import io
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from container.compressed import open_binary
from container.errors import KindlingError


@dataclass(frozen=True)
class Page:
    title: str
    page_id: int
    namespace: int
    redirect: str | None  # the target title when the page is a redirect
    text: str  # raw wikitext


def is_dump(head: bytes) -> bool:
    """True when the first bytes of a file look like a MediaWiki export."""
    return b"<mediawiki" in head[:4096]


# No article of any Wikipedia comes near this (the longest English ones are a few MB of wikitext); the
# corpus preparation passes its max_line_mb instead.
DEFAULT_MAX_PAGE_BYTES = 100 << 20


class _PageBound(io.RawIOBase):
    """The dump as the XML parser reads it, refusing to go on once one page passes `limit` bytes.

    ElementTree collects an element's text until its end tag, so one page of 200 MB without a newline was
    read, decoded and held whole; the bound is kept where the bytes come in, before any of that."""

    def __init__(self, inner: IO[bytes], where: str, limit: int):
        self.inner, self.where, self.limit = inner, where, limit
        self.offset = self.page_start = 0
        self.last_title = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(len(buffer))
        buffer[:len(data)] = data
        self.offset += len(data)
        if self.limit and self.offset - self.page_start > self.limit + (1 << 20):
            after = f"after the page {self.last_title!r}" if self.last_title is not None else "at the start"
            raise KindlingError(
                f"{self.where}: the page {after} (from byte {self.page_start:,} of the decompressed XML) is longer "
                f"than {self.limit / (1 << 20):g} MB, which kindling will not read whole.", code="page_too_large",
                hint="Check that the file is a MediaWiki dump; raise max_line_mb (the longest line or page) if "
                     "pages really are that long, and give the job the memory to hold one.")
        return len(data)

    def page_ended(self, title: str) -> None:
        self.page_start, self.last_title = self.offset, title


def pages(handle: IO[bytes], where: str, max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES) -> Iterator[Page]:
    """Every <page> of a MediaWiki export read from a binary stream, in file order; a page longer than
    max_page_bytes (0: no bound) is an error naming the file and where."""
    title = redirect = None
    namespace, page_id, text = 0, 0, ""
    in_revision = False
    root = None
    bounded = _PageBound(handle, where, max_page_bytes)
    try:
        for event, element in ElementTree.iterparse(io.BufferedReader(bounded, 1 << 16), events=("start", "end")):
            tag = element.tag.rsplit("}", 1)[-1]
            if root is None:
                root = element
                if tag != "mediawiki":
                    raise KindlingError(
                        f"{where} is XML but not a MediaWiki dump (its root element is <{tag}>, not <mediawiki>).",
                        code="not_a_dump",
                        hint="Give a pages-articles dump (…-pages-articles.xml.bz2) from dumps.wikimedia.org, "
                             "or plain text files.")
                continue
            if event == "start":
                if tag == "revision":
                    in_revision = True
                continue
            if tag == "title":
                title = element.text or ""
            elif tag == "ns":
                namespace = int(element.text or 0)
            elif tag == "id" and not in_revision and page_id == 0:
                page_id = int(element.text or 0)
            elif tag == "redirect":
                redirect = element.get("title") or ""
            elif tag == "text":
                text = element.text or ""
            elif tag == "revision":
                in_revision = False
            elif tag == "page":
                bounded.page_ended(title or "")
                yield Page(title or "", page_id, namespace, redirect, text)
                title = redirect = None
                namespace, page_id, text = 0, 0, ""
                root.clear()  # constant memory: drop the finished pages
    except ElementTree.ParseError as exc:
        raise KindlingError(f"{where} is not well-formed XML ({exc}).", code="bad_xml",
                            hint="Check that the dump downloaded completely (bzip2 -t FILE).") from None


# --- wikitext -> plain text -------------------------------------------------------------------------

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_DROPPED_ELEMENTS = re.compile(
    r"<(ref|math|gallery|timeline|score|syntaxhighlight|source|pre|code|chem|graph|imagemap|templatedata)\b[^>]*?"
    r"(?:/>|>.*?</\1\s*>)", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_TABLE = re.compile(r"\{\|(?:(?!\{\|)[\s\S])*?\|\}")
_LINK = re.compile(r"\[\[([^\[\]]*)\]\]([a-z]*)")
_EXTERNAL = re.compile(r"\[(?:https?:|ftp:)?//[^\s\]]+(?:\s([^\]]*))?\]")
_URL = re.compile(r"https?://\S+")
_EMPHASIS = re.compile(r"'{2,}")
_HEADING = re.compile(r"^(=+)\s*(.*?)\s*\1\s*$", re.MULTILINE)
_MAGIC = re.compile(r"__[A-Z]+__")
_LIST_MARKER = re.compile(r"^[*#:;]+\s*", re.MULTILINE)
_TABLE_ROW = re.compile(r"^\s*[|!].*$", re.MULTILINE)
# namespaces whose links are not prose: files, categories, and interlanguage/interwiki prefixes
_NON_PROSE = re.compile(r"^\s*:?\s*(file|image|category|media|[a-z]{2,3}(?:-[a-z]+)?|wikt|wiktionary|commons)\s*:",
                        re.IGNORECASE)


def _innermost(pattern: re.Pattern, replace, text: str, rounds: int = 20) -> str:
    """Apply a substitution until nothing matches (nested markup unwinds from the inside)."""
    for _ in range(rounds):
        text, count = pattern.subn(replace, text)
        if not count:
            break
    return text


# A kept link travels through the later rules as LINK_OPEN label LINK_TARGET n LINK_CLOSE (n indexes the
# targets), so its place in the final text is known however much markup around it is removed.
LINK_OPEN, LINK_TARGET, LINK_CLOSE = "\x02", "\x1f", "\x03"
_MARKED_LINK = re.compile("\x02([^\x02\x03\x1f]*)\x1f(\\d+)\x03")
_DISAMBIGUATION = re.compile(r"\{\{\s*(?:disambig\w*|dab|disamb|hndis|geodis|[^{}|]*disambiguation)\s*(?:\||\}\})",
                             re.IGNORECASE)


def normalize_title(title: str) -> str:
    """MediaWiki's form of a title: underscores as spaces, single spaces, first letter upper-case,
    no section (#...)."""
    title = " ".join(title.replace("_", " ").split("#", 1)[0].split())
    return title[:1].upper() + title[1:]


def is_disambiguation(page: Page) -> bool:
    return page.title.endswith("(disambiguation)") or bool(_DISAMBIGUATION.search(page.text))


def _link_marker(targets: list[str]):
    def replace(match: re.Match) -> str:
        inner, trail = match.group(1), match.group(2)
        target, _, label = inner.partition("|")
        if _NON_PROSE.match(target):
            return ""
        text = (label.rsplit("|", 1)[-1] if label else target) + trail
        title = normalize_title(target)
        if not title:
            return text
        targets.append(title)
        return f"{LINK_OPEN}{text}{LINK_TARGET}{len(targets) - 1}{LINK_CLOSE}"
    return replace


def parse_article(wikitext: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Readable article text (one paragraph, heading or list item per line) and its links as
    (start, end, target title) character spans of that text."""
    targets: list[str] = []
    text = _COMMENT.sub("", wikitext)
    text = _DROPPED_ELEMENTS.sub("", text)
    text = _innermost(_TEMPLATE, "", text)
    text = _innermost(_TABLE, "", text)
    text = _innermost(_LINK, _link_marker(targets), text)
    text = _EXTERNAL.sub(lambda m: m.group(1) or "", text)
    text = _URL.sub("", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    text = _TAG.sub("", text)  # escaped tags (&lt;ref&gt;) appear only after unescaping
    text = _EMPHASIS.sub("", text)
    text = _HEADING.sub(r"\2", text)
    text = _MAGIC.sub("", text)
    text = _TABLE_ROW.sub("", text)
    text = _LIST_MARKER.sub("", text)
    text = text.replace("{{", "").replace("}}", "").replace("[[", "").replace("]]", "")  # unbalanced leftovers
    text = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    out, links, position, length = [], [], 0, 0
    for match in _MARKED_LINK.finditer(text):
        before, label = _unmarked(text[position:match.start()]), _unmarked(match.group(1))
        out += [before, label]
        length += len(before)
        if label.strip():
            links.append((length, length + len(label), targets[int(match.group(2))]))
        length += len(label)
        position = match.end()
    out.append(_unmarked(text[position:]))
    return "".join(out), links


def _unmarked(text: str) -> str:
    """Without the markers of a link that other markup broke apart."""
    return text.replace(LINK_OPEN, "").replace(LINK_TARGET, "").replace(LINK_CLOSE, "")


def plain_text(wikitext: str) -> str:
    """Readable article text: one paragraph, heading or list item per line."""
    return parse_article(wikitext)[0]


def is_article(page: Page) -> bool:
    """Main namespace, not a redirect, not empty: what corpus preparation and the entity KB read."""
    return page.namespace == 0 and page.redirect is None and bool(page.text)


def articles(path: Path) -> Iterator[Page]:
    """Every article of a dump file."""
    with open_binary(path) as handle:
        yield from filter(is_article, pages(handle, str(path)))
