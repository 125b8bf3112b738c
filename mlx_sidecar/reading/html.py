"""HTML: the page's main text, from trafilatura or, where it keeps only a fragment, from lxml.

Most pages come from a handful of generators (Sphinx, MkDocs, Docusaurus, Javadoc, Doxygen,
asciidoc, Hugo, rustdoc), and most of them mark their main text with HTML5's <main> or
ARIA's role="main". trafilatura finds the main text of any page, but its boilerplate rules,
made for news sites, drop what they take for menus, footers and share buttons by words
inside class and id attributes, and on documentation that is often the text itself:
Python's IDLE page loses its "Menus" section (id="menus"), ctypes its "Finding shared
libraries" (id="finding-shared-libraries"), setuptools its "Authoring Tickets"; Javadoc's
descriptions, Docusaurus's highlighted code and the prose between a hand-written article's
<pre> listings go too. So the element the page marks is also read here, block by block, with
lxml (element_blocks); when trafilatura keeps less than KEEP_SHARE of that reading's words,
that reading is the answer instead of a fragment, and instead of one block that runs the
page's headings and paragraphs together (``flattened``).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

from .blocks import SPHINX_MARK, Block, InlineText
from .furniture import what_is_read

XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
GENERIC_HEADINGS = frozenset(
    "introduction abstract synopsis overview contents description name index home".split()
)
# trafilatura's reading is kept when it holds at least this share of the words of the
# lxml reading of the same page, both without furniture. Of 1,294 pages (21 Debian
# documentation packages, the corpus's pages, a Docusaurus and a Hugo site built here), 80%
# score 0.9 or more: trafilatura read them whole, leaving out a "Note", an "Expand
# description", tab labels. Below, it had dropped sections or flattened lists and code; lxml's
# reading is the answer on 259 of them (15 of 425 Python library pages, 65 of 67 Javadoc
# pages, 94 of 97 rustdoc pages).
KEEP_SHARE = 0.9
# ...unless it ran the text together: one block longer than any paragraph (FLAT_CHARS),
# where lxml's reading has more than FLAT_BLOCKS times as many blocks.
FLAT_CHARS = 5_000
FLAT_BLOCKS = 4
# The element a page marks as its main text: HTML5 <main>, ARIA's role="main" (Sphinx,
# MkDocs, Javadoc 9+, rustdoc, mdBook, RDoc, Docusaurus, Hugo themes; the outermost when
# they nest). A page that marks none is read from its only top-level <article>, else its body.
MAIN_XPATH = "(//main | //*[@role='main'])[1]"
ARTICLE_XPATH = "//article[not(ancestor::article)]"
# Never text: scripts, styles, forms and their controls, media, embedded documents.
UNSEEN_TAGS = frozenset(
    "script style noscript template head title meta link form button select input textarea"
    " option label iframe object embed svg canvas img picture video audio map dialog".split()
)
# Page furniture by its element or role: navigation and footers anywhere (breadcrumbs,
# pagination and "Edit this page" live inside <main> too); headers and asides only outside
# the main text (inside it they hold an article's title, footnotes, a sidebar's text).
FURNITURE_TAGS = frozenset(("nav", "footer"))
OUTSIDE_FURNITURE_TAGS = frozenset(("header", "aside"))
FURNITURE_ROLES = frozenset(
    "navigation search banner contentinfo menu menubar toolbar tablist".split()
)
# ...and by a class or id that is exactly one of these words, on an element with no heading
# (Doxygen's <address class="footer">, asciidoc's <div id="footer">, old Javadoc's
# "topNav"); a whole word, not a part as in trafilatura's rules, so a section whose id is
# "menus" or "navigation-keys" stays.
FURNITURE_NAME = re.compile(
    r"^(?:(?:top|sub|bottom)?nav(?:bar|igation|path)?|footer|breadcrumbs?)$", re.IGNORECASE
)
# Doxygen writes code listings as div.fragment of div.line, with no <pre>.
CODE_CLASSES = frozenset(("fragment",))
HEADINGS = {f"h{n}": n for n in range(1, 7)}
# A table's own rows, not those of the tables nested in its cells (old pages lay out their
# whole text in nested tables: libxslt's, libxml2's).
OWN_ROWS = "./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr"
# A cell that holds a table or a heading lays out the page; a data cell holds a value, a
# paragraph or a list (gtk-doc's parameter tables: "timer | a GTimer.").
LAYOUT_CELL = ".//table | .//h1 | .//h2 | .//h3 | .//h4 | .//h5 | .//h6"
LIST_ITEMS = frozenset(("li", "dt", "dd"))
SECTIONS = frozenset(("section", "article"))  # a new part of the text, even inside an item
BLOCK_TAGS = frozenset(
    "address article aside blockquote body caption center dd details dir div dl dt fieldset"
    " figcaption figure footer h1 h2 h3 h4 h5 h6 header hgroup hr html legend li main menu"
    " nav ol p pre section summary table tbody td tfoot th thead tr ul".split()
)
ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")  # Docusaurus's heading anchors


def html_blocks(content: str) -> list[Block]:
    """The main text of a web page, without head, scripts, navigation and footers.

    The element the page marks as its main text is read twice: by trafilatura, whose XML
    (head, p, list, code, table, ref) becomes our blocks, and by lxml, block by block
    (element_blocks). trafilatura's reading is the answer unless it keeps less than
    KEEP_SHARE of the words of lxml's; then lxml's is, rather than a fragment.
    """
    root = parse_page(content)
    if root is None:
        return extracted_blocks(content) or html_fragment_blocks(content)
    main = main_element(root)
    ours = element_blocks(main)
    theirs = extracted_blocks(content)
    their_reading, our_reading = what_is_read(theirs), what_is_read(ours)
    whole = theirs and keeps_enough(their_reading, our_reading)
    return theirs if whole and not flattened(their_reading, our_reading) else ours


def parse_page(content: str) -> Any:
    """The page as an lxml tree, comments dropped; None for what lxml cannot make a tree of."""
    import lxml.html

    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True)
    try:  # lxml refuses a str that still declares its encoding (<?xml ... encoding=...?>)
        return lxml.html.document_fromstring(XML_DECLARATION.sub("", content, count=1), parser)
    except Exception:  # lxml raises ParserError on markup it cannot make a tree of
        return None


def main_element(root: Any) -> Any:
    """The element the page marks as its main text, else its only article, else its body."""
    marked = root.xpath(MAIN_XPATH)
    if marked:
        return marked[0]
    articles = root.xpath(ARTICLE_XPATH)
    if len(articles) == 1:
        return articles[0]
    body = root.find("body")
    return root if body is None else body


def keeps_enough(theirs: list[Block], ours: list[Block]) -> bool:
    """Whether trafilatura's blocks are no fragment of lxml's reading (both without their
    furniture): they hold KEEP_SHARE of its words, or more words than it has (a chapter's
    contents page, whose link list the furniture rules drop from lxml's reading)."""
    words, their_words = block_words(ours), block_words(theirs)
    total = sum(words.values())
    kept = sum((their_words & words).values())
    return kept >= KEEP_SHARE * total or sum(their_words.values()) >= total


def flattened(theirs: list[Block], ours: list[Block]) -> bool:
    """Whether trafilatura ran a page's headings, paragraphs and lists together into one
    block of more than FLAT_CHARS, where lxml's reading keeps them apart (a page laid out
    in nested tables: libxslt's manual became one 17,882-character paragraph)."""
    longest = max((len(b.text) for b in theirs), default=0)
    return longest > FLAT_CHARS and len(ours) > FLAT_BLOCKS * len(theirs)


def block_words(blocks: list[Block]) -> Counter:
    return Counter(w for b in blocks for w in re.findall(r"\w+", b.text.casefold()))


def extracted_blocks(content: str) -> list[Block]:
    """trafilatura's reading of a page: its main content as XML, made our blocks."""
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
        return []
    blocks: list[Block] = []
    for element in etree.fromstring(xml.encode("utf-8")).iterfind("main/*"):
        xml_blocks(element, blocks)
    return blocks


# --- lxml's reading -------------------------------------------------------------------------


def element_blocks(element: Any) -> list[Block]:
    """The blocks of an element as a reader sees them: headings, paragraphs, list and
    definition items, code (<pre>, kept line by line) and table rows; without what is never
    text (UNSEEN_TAGS), hidden elements and page furniture (is_shown)."""
    blocks: list[Block] = []
    in_text = element.tag in ("main", "article") or element.get("role") == "main"
    read_blocks(element, blocks, "text", in_text)
    return blocks


def read_blocks(element: Any, blocks: list[Block], kind: str, in_text: bool) -> None:
    tag = element.tag
    if tag in HEADINGS:
        add_block(blocks, inline_text(element).block("heading", HEADINGS[tag]))
    elif tag == "pre" or CODE_CLASSES & set(element.get("class", "").split()):
        code = code_text(element).strip("\n")
        if code.strip():
            blocks.append(Block("code", code))
    elif tag == "table":
        for row in element.xpath(OWN_ROWS):
            cells = [c for c in row if isinstance(c.tag, str) and is_shown(c, in_text)]
            if not any(cell.xpath(LAYOUT_CELL) for cell in cells):
                add_block(blocks, row_text(row).block("text"))
                continue
            for cell in cells:  # a layout table: its cells hold the page's own blocks
                read_blocks(cell, blocks, kind, in_text)
    else:
        kind = "item" if tag in LIST_ITEMS else "text" if tag in SECTIONS else kind
        in_text = in_text or tag == "article"
        text = InlineText()
        add_text(text, element.text)
        for child in element:
            if isinstance(child.tag, str) and is_shown(child, in_text):
                if child.tag in BLOCK_TAGS or has_blocks(child):
                    add_block(blocks, text.block(kind))
                    text = InlineText()
                    read_blocks(child, blocks, kind, in_text)
                else:
                    inline_text(child, text)
            add_text(text, child.tail)
        add_block(blocks, text.block(kind))


def add_block(blocks: list[Block], block: Block) -> None:
    if block.text or block.linked:
        blocks.append(block)


def add_text(text: InlineText, piece: str | None, in_link: bool = False) -> None:
    if piece:
        text.add(ZERO_WIDTH.sub("", piece), in_link)


def inline_text(element: Any, text: InlineText | None = None, in_link: bool = False) -> InlineText:
    """The text of an element read inline: links kept apart, a bare URL as no words."""
    text = text or InlineText()
    if element.tag == "br":
        text.add("\n", in_link)
        return text
    link = in_link or element.tag == "a"
    words = element.text_content().strip() if element.tag == "a" else ""
    if words and words == element.get("href", "").removeprefix("mailto:"):
        text.add_url()
        return text
    add_text(text, element.text, link)
    for child in element:
        if isinstance(child.tag, str) and is_shown(child, True):
            inline_text(child, text, link)
        add_text(text, child.tail, link)
    return text


def row_text(row: Any) -> InlineText:
    """A table row as one line, "cell | cell", its links kept apart (a row of links is
    a link list: Doxygen's "Classes | Namespace" header)."""
    text = InlineText()
    for cell in row:
        if isinstance(cell.tag, str) and is_shown(cell):
            inline = inline_text(cell)
            if inline.block("text").text:
                text.pieces += [(" | ", False)] if text.pieces else []
                text.pieces += inline.pieces
            text.urls += inline.urls
    return text


def code_text(element: Any) -> str:
    """A listing's text with its line breaks: <br> and block children (Doxygen's div.line,
    Docusaurus's token lines end in <br>) break lines as the browser shows them."""
    pieces: list[str] = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and is_shown(child, True):
            if child.tag == "br":
                pieces.append("\n")
            else:
                inner = code_text(child)
                block = child.tag in BLOCK_TAGS and not inner.endswith("\n")
                pieces.append(inner + ("\n" if block else ""))
        pieces.append(child.tail or "")
    return "".join(pieces)


def has_blocks(element: Any) -> bool:
    """An inline element around blocks (a link around a whole card) is read as a block."""
    return any(isinstance(d.tag, str) and d.tag in BLOCK_TAGS for d in element.iterdescendants())


def is_shown(element: Any, in_text: bool = True) -> bool:
    """Whether an element is text a reader sees, not hidden, never text, or furniture."""
    tag = element.tag
    if (
        tag in UNSEEN_TAGS
        or tag in FURNITURE_TAGS
        or (not in_text and tag in OUTSIDE_FURNITURE_TAGS)
    ):
        return False
    if element.get("hidden") is not None or element.get("aria-hidden") == "true":
        return False
    style = element.get("style", "").replace(" ", "").lower()
    if "display:none" in style or "visibility:hidden" in style:
        return False
    if element.get("role") in FURNITURE_ROLES:
        return False
    names = [*element.get("class", "").split(), element.get("id", "")]
    return not (
        any(FURNITURE_NAME.match(name) for name in names)
        and not any(d.tag in HEADINGS for d in element.iterdescendants())
    )


def xml_blocks(element: Any, blocks: list[Block], kind: str = "text") -> None:
    """Blocks of one element of trafilatura's XML."""
    tag = element.tag
    if tag == "head" and element.get("rend"):
        rend = element.get("rend")
        level = int(rend[1]) if rend[1:].isdigit() else 2
        blocks.append(inline_xml(element).block("heading", level))
    elif tag == "head":  # a <summary> ("Changelog" above a "New in version 3.0" note): a label
        blocks.append(inline_xml(element).block(kind))
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
    root = parse_page(content)
    if root is None:
        return ""
    for element in (root.find(".//h1"), root.find(".//title")):
        text = "" if element is None else element.text_content().replace(SPHINX_MARK, "")
        text = " ".join(text.split())
        if text and text.casefold() not in GENERIC_HEADINGS:
            return text
    return ""
