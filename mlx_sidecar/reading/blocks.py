"""What a reader sees of a document: blocks (headings, paragraphs, items, code) and a title."""

from __future__ import annotations

import re
from dataclasses import dataclass

TITLE_MAX_CHARS = 80  # a longer first line of plain text is a sentence, not a title
SPHINX_MARK = "¶"  # Sphinx's permalink after every heading and signature


@dataclass
class Block:
    """One thing a reader sees: a heading, a paragraph, a list item or a code block."""

    kind: str  # "heading", "text", "item", "code"
    text: str
    level: int = 0  # heading depth, 1 for the title
    links_only: bool = False  # all its words are link text ("Documentation | PyPI")
    linked: bool = False  # has a link (or a bare URL)
    plain: str = ""  # its words outside links
    alt: str = ""  # its first image's alt text ("attrs" on a README's logo): no words


class InlineText:
    """Text of one block, pieces inside links kept apart from the rest."""

    def __init__(self) -> None:
        self.pieces: list[tuple[str, bool]] = []
        self.urls = 0  # bare URLs left out

    def add(self, text: str, in_link: bool = False) -> None:
        if text:
            self.pieces.append((text, in_link))

    def add_url(self) -> None:
        """A bare URL: no words for the model, but the block is a link."""
        self.urls += 1

    def block(self, kind: str, level: int = 0) -> Block:
        text = " ".join("".join(p for p, _ in self.pieces).replace(SPHINX_MARK, "").split())
        plain = " ".join("".join(p for p, link in self.pieces if not link).split())
        linked = self.urls > 0 or any(link and has_words(p) for p, link in self.pieces)
        links_only = linked and not has_words(plain)
        return Block(kind, text, level, links_only=links_only, linked=linked, plain=plain)


def has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def blocks_text(blocks: list[Block]) -> str:
    lines = [("- " if b.kind == "item" else "") + b.text for b in blocks if b.text.strip()]
    return "\n\n".join(lines).strip()


def opening_title(blocks: list[Block]) -> str:
    """The heading a document opens with, or else the alt text of the image it opens
    with (the logo of the attrs and pytest READMEs); none when text comes first, as in a
    README whose first heading is "Features"."""
    logo = ""  # the first alt text with words, before any block with words
    for block in blocks:
        if has_words(block.text):
            return block.text if block.kind == "heading" else logo
        logo = logo or (block.alt if has_words(block.alt) else "")
    return logo


def plain_title(content: str) -> str:
    """A plain text's first line when it stands alone as a title: short, a blank line
    after it, no sentence end ("PRIDE AND PREJUDICE"; not a docstring's "Heap queue algorithm."),
    words (not a rule of "#####"). A manual page's header gives its first field ("JQ(1)")."""
    lines = content.strip().split("\n", 2)
    first = re.split(r"\s{3,}", lines[0].strip())[0]
    alone = len(lines) == 1 or not lines[1].strip()
    ends_sentence = re.search(r"[.!?;:,。！？]$", first)
    titled = alone and len(first) <= TITLE_MAX_CHARS and not ends_sentence
    return first if titled and re.search(r"[^\W\d_]", first) else ""
