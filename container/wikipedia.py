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


def pages(handle: IO[bytes], where: str) -> Iterator[Page]:
    """Every <page> of a MediaWiki export read from a binary stream, in file order."""
    title = redirect = None
    namespace, page_id, text = 0, 0, ""
    in_revision = False
    root = None
    try:
        for event, element in ElementTree.iterparse(handle, events=("start", "end")):
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


def _link_text(match: re.Match) -> str:
    inner, trail = match.group(1), match.group(2)
    target, _, label = inner.partition("|")
    if _NON_PROSE.match(target):
        return ""
    return (label.rsplit("|", 1)[-1] if label else target) + trail


def plain_text(wikitext: str) -> str:
    """Readable article text: one paragraph, heading or list item per line."""
    text = _COMMENT.sub("", wikitext)
    text = _DROPPED_ELEMENTS.sub("", text)
    text = _innermost(_TEMPLATE, "", text)
    text = _innermost(_TABLE, "", text)
    text = _innermost(_LINK, _link_text, text)
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
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def articles(path: Path) -> Iterator[Page]:
    """Every article (main namespace, not a redirect, not empty) of a dump file."""
    with open_binary(path) as handle:
        for page in pages(handle, str(path)):
            if page.namespace == 0 and page.redirect is None and page.text:
                yield page
