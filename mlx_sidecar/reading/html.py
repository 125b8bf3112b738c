"""HTML: trafilatura keeps a page's main content; lxml reads a fragment too small for it."""

from __future__ import annotations

import logging
import re
from typing import Any

from .blocks import SPHINX_MARK, Block, InlineText

XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
GENERIC_HEADINGS = frozenset(
    "introduction abstract synopsis overview contents description name index home".split()
)


def html_blocks(content: str) -> list[Block]:
    """The main content of a web page, without head, scripts, navigation and footers.

    trafilatura finds the main content and gives it as XML (head, p, list, code, table,
    ref); its blocks become ours. A fragment too small for it is read by lxml.
    """
    import trafilatura
    from lxml import etree

    logging.getLogger("trafilatura").setLevel(logging.ERROR)  # its fallbacks' notices
    xml = trafilatura.extract(
        content,
        output_format="xml",
        include_formatting=True,  # keeps heading levels
        include_tables=True,
        include_links=True,  # tells link lists from prose
        include_images=False,
        include_comments=False,
        favor_recall=True,  # API pages are mostly definition lists; precision mode drops them
        deduplicate=False,
    )
    if not xml:
        return html_fragment_blocks(content)
    blocks: list[Block] = []
    for element in etree.fromstring(xml.encode("utf-8")).iterfind("main/*"):
        xml_blocks(element, blocks)
    return blocks


def xml_blocks(element: Any, blocks: list[Block], kind: str = "text") -> None:
    """Blocks of one element of trafilatura's XML."""
    tag = element.tag
    if tag == "head":
        rend = element.get("rend") or "h2"
        level = int(rend[1]) if rend[1:].isdigit() else 2
        blocks.append(inline_xml(element).block("heading", level))
    elif tag == "list":
        for item in element:
            xml_blocks(item, blocks, "item")
    elif tag in ("item", "quote", "div") and any(
        child.tag in ("p", "list", "code", "table", "quote") for child in element
    ):
        for child in element:
            xml_blocks(child, blocks, kind)
    elif tag == "code":
        blocks.append(Block("code", "".join(element.itertext()).strip("\n")))
    elif tag == "table":
        for row in element.iter("row"):
            cells = [inline_xml(cell).block("text").text for cell in row]
            blocks.append(Block("text", " | ".join(c for c in cells if c)))
    else:
        blocks.append(inline_xml(element).block(kind))


def inline_xml(element: Any, text: InlineText | None = None, in_link: bool = False) -> InlineText:
    text = text or InlineText()
    link = in_link or element.tag == "ref"
    if element.tag == "ref" and (element.text or "").strip() == element.get("target", ""):
        text.add_url()
    else:
        text.add(element.text or "", link)
    for child in element:
        if child.tag == "lb":
            text.add("\n", link)
        else:
            inline_xml(child, text, link)
        text.add(child.tail or "", link)
    return text


def html_fragment_blocks(content: str) -> list[Block]:
    """A piece of HTML (a README's centred logo, a short snippet): its visible text."""
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(content, create_parent="div")
    except Exception:  # lxml raises ParserError on markup it cannot make a tree of
        return []
    alt = next((img.get("alt") or "" for img in root.iter("img")), "")
    for bad in root.xpath(
        "//script|//style|//head|//nav|//header|//footer|//aside|//noscript|//template"
        "|//img|//svg|//*[@role='navigation']"
    ):
        bad.drop_tree()
    text = InlineText()
    inline_html(root, text)
    block = text.block("text")
    block.alt = alt
    return [block]


def inline_html(element: Any, text: InlineText, in_link: bool = False) -> None:
    link = in_link or element.tag == "a"
    text.add(element.text or "", link)
    for child in element:
        if isinstance(child.tag, str):
            inline_html(child, text, link)
        text.add(child.tail or "", link)


def page_title(content: str) -> str:
    """The page's own title: its first <h1>, else its <title>. Pages from generators other
    than Sphinx open their main text with a section that names nothing (asciidoc's
    "SYNOPSIS"); Doxygen's <h1> is "Introduction", so a heading of GENERIC_HEADINGS gives
    way to the <title> ("JsonCpp: Main Page")."""
    import lxml.html

    try:  # lxml refuses a str that still declares its encoding (<?xml ... encoding=...?>)
        root = lxml.html.document_fromstring(XML_DECLARATION.sub("", content, count=1))
    except Exception:  # lxml raises ParserError on markup it cannot make a tree of
        return ""
    for element in (root.find(".//h1"), root.find(".//title")):
        text = "" if element is None else element.text_content().replace(SPHINX_MARK, "")
        text = " ".join(text.split())
        if text and text.casefold() not in GENERIC_HEADINGS:
            return text
    return ""
