"""Markdown: markdown-it-py's CommonMark tokens, as blocks."""

from __future__ import annotations

from .blocks import Block, InlineText
from .html import html_fragment_blocks


def markdown_blocks(content: str) -> list[Block]:
    """Headings, paragraphs, list items, code and table rows of a CommonMark document.

    Images (badges) give no words; links give their text; HTML blocks give their text.
    """
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(content)
    blocks: list[Block] = []
    items = 0  # depth of list items around the current token
    cells: list[str] = []
    for i, token in enumerate(tokens):
        if token.type == "list_item_open":
            items += 1
        elif token.type == "list_item_close":
            items -= 1
        elif token.type == "inline" and i and tokens[i - 1].type == "heading_open":
            level = int(tokens[i - 1].tag[1])
            blocks.append(inline_markdown(token.children or []).block("heading", level))
        elif token.type == "inline" and i and tokens[i - 1].type == "paragraph_open":
            block = inline_markdown(token.children or []).block("item" if items else "text")
            block.alt = next((c.content for c in token.children or [] if c.type == "image"), "")
            blocks.append(block)
        elif token.type == "inline":  # a table cell
            cells.append(inline_markdown(token.children or []).block("text").text)
        elif token.type == "tr_close":
            blocks.append(Block("text", " | ".join(c for c in cells if c)))
            cells = []
        elif token.type in ("fence", "code_block"):
            blocks.append(Block("code", token.content.rstrip("\n")))
        elif token.type == "html_block":
            blocks.extend(html_fragment_blocks(token.content))
    return blocks


def inline_markdown(children: list) -> InlineText:
    text, link, href = InlineText(), 0, ""
    for child in children:
        if child.type == "link_open":
            link, href = link + 1, child.attrs.get("href", "")
        elif child.type == "link_close":
            link = max(0, link - 1)
        elif child.type in ("text", "code_inline"):
            if link and child.content.strip() in (href, href.removeprefix("mailto:")):
                text.add_url()
            else:
                text.add(child.content, bool(link))
        elif child.type in ("softbreak", "hardbreak"):
            text.add(" ", bool(link))
        elif child.type == "html_inline" and not child.content.startswith("</"):
            text.add(" ", bool(link))  # <br>, <img ...>: a space, no words
    return text
