"""reStructuredText: docutils' document tree, as blocks; Sphinx's directives are known."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from .blocks import Block, InlineText, has_words

# docutils must never read a file or URL a document names, nor write anything itself.
RST_SETTINGS = {
    "file_insertion_enabled": False,  # include, csv-table :file:/:url:, raw :file:
    "raw_enabled": False,
    "report_level": 5,  # quiet: nothing reported
    "halt_level": 5,  # never stop on an error
    "warning_stream": False,  # no warnings on stderr
    "_disable_config": True,  # no docutils.conf from the working directory or the user
    "syntax_highlight": "none",  # code stays text (no Pygments)
    "doctitle_xform": False,  # the title stays a section title like the others
    "input_encoding": "unicode",
    "output_encoding": "unicode",
}
# Nodes that give no words: images and figures, raw and comments, link targets, field
# lists (directive options, :Author: fields), substitution definitions (badges),
# messages about unknown markup, footnotes, a generated table of contents.
RST_SILENT = frozenset(
    (
        "image",
        "figure",
        "raw",
        "comment",
        "target",
        "field_list",
        "docinfo",
        "substitution_definition",
        "system_message",
        "pending",
        "footnote",
        "citation",
        "meta",
        "decoration",
    )
)
# Sphinx's directives (unknown to docutils) by what they contribute: "none" (toctree,
# index...), their content only (versionadded 3.2's note, seealso), or the signature as
# code and the content (function, class...). Other unknown directives give no words.
SPHINX_DIRECTIVES = {
    "none": "toctree index highlight literalinclude sectionauthor moduleauthor codeauthor "
    "tabularcolumns only testsetup testcleanup autosummary automodule autoclass "
    "autofunction automethod autodata autoexception currentmodule productionlist "
    "audit-event",
    "content": "seealso versionadded versionchanged deprecated deprecated-removed "
    "centered hlist glossary impl-detail availability tab tabs card grid grid-item-card",
    "code": "code-block sourcecode doctest testcode testoutput",
    "signature": "function method class attribute data exception decorator decoratormethod "
    "classmethod staticmethod abstractmethod coroutinefunction coroutinemethod "
    "awaitablefunction awaitablemethod module describe object opcode cmdoption option "
    "envvar program py:function py:method py:class py:attribute py:data py:exception "
    "py:module c:function c:macro c:type c:member c:var",
}


def rst_blocks(content: str) -> list[Block]:
    """Headings, paragraphs, list items and code of a reStructuredText document."""
    from docutils.core import publish_doctree

    register_sphinx_directives()
    document = publish_doctree(content, settings_overrides=RST_SETTINGS)
    blocks: list[Block] = []
    rst_node_blocks(document, blocks, level=0, kind="text")
    return blocks


def rst_node_blocks(node: Any, blocks: list[Block], level: int, kind: str) -> None:
    from docutils import nodes

    for child in node.children:
        name = child.tagname
        if name == "image" and not any(has_words(b.text) for b in blocks):
            blocks.append(Block(kind, "", alt=child.get("alt", "")))  # a logo may name the page
        if name in RST_SILENT or (name == "topic" and "contents" in child.get("classes", [])):
            continue
        if name == "section":
            rst_node_blocks(child, blocks, level + 1, kind)
        elif name in ("title", "rubric") and isinstance(node, (nodes.section, nodes.document)):
            blocks.append(inline_rst(child).block("heading", max(1, level)))
        elif name in ("title", "subtitle", "label", "attribution", "caption"):
            continue  # an admonition's "Note", a block quote's attribution
        elif name in ("paragraph", "term", "line", "field_name"):
            blocks.append(inline_rst(child).block(kind))
        elif name in ("literal_block", "doctest_block"):
            blocks.append(Block("code", child.astext()))
        elif name == "list_item":
            rst_node_blocks(child, blocks, level, "item")
        elif name == "row":
            cells = [inline_rst(entry).block("text").text for entry in child.children]
            blocks.append(Block("text", " | ".join(c for c in cells if c)))
        elif isinstance(child, nodes.TextElement):
            blocks.append(inline_rst(child).block(kind))
            image = child.next_node(nodes.image)  # a linked logo: reference > image
            blocks[-1].alt = image.get("alt", "") if image is not None else ""
        elif isinstance(child, nodes.Element):
            rst_node_blocks(child, blocks, level, kind)


def inline_rst(node: Any, text: InlineText | None = None, in_link: bool = False) -> InlineText:
    from docutils import nodes

    text = text or InlineText()
    for child in node.children:
        if isinstance(child, nodes.Text):
            text.add(str(child), in_link)
        elif child.tagname in RST_SILENT or child.tagname in (
            "footnote_reference",
            "citation_reference",
            "substitution_reference",
        ):
            continue
        elif child.tagname == "problematic":  # an unknown role: :mod:`json` reads "json"
            text.add(role_text(child.astext()), in_link)
        elif child.tagname == "reference":
            if child.astext() in (child.get("refuri"), "mailto:" + child.astext()):
                text.add_url()
            else:
                inline_rst(child, text, True)
        else:
            inline_rst(child, text, in_link)
    return text


ROLE = re.compile(r"^:[\w:.+-]+:`(?P<text>.*)`$", re.DOTALL)
ROLE_TITLE = re.compile(r"^(?P<title>.+?)\s*<[^<>]+>$", re.DOTALL)


def role_text(raw: str) -> str:
    """What a reader sees of an interpreted text role: ":ref:`Title <label>`" is "Title"."""
    m = ROLE.match(raw.strip())
    if not m:
        return raw.strip("`")
    inner = m["text"]
    titled = ROLE_TITLE.match(inner)
    if titled:
        return titled["title"]
    inner = inner.lstrip("!")
    return inner[1:].rsplit(".", 1)[-1] if inner.startswith("~") else inner


@functools.cache
def register_sphinx_directives() -> None:
    """Teach docutils Sphinx's directive names (once), so their content is read."""
    from docutils import nodes
    from docutils.parsers.rst import Directive, directives

    class AnyOption(dict):
        """Accepts every directive option (the values give no words)."""

        def __bool__(self) -> bool:
            return True  # docutils reads options only when a directive has some

        def __contains__(self, key: object) -> bool:
            return True

        def __getitem__(self, key: str) -> Callable:
            return directives.unchanged

    class SphinxDirective(Directive):
        optional_arguments = 1
        final_argument_whitespace = True
        has_content = True
        option_spec = AnyOption()
        contributes = "none"

        def run(self) -> list:
            if self.contributes == "none":
                return []
            if self.contributes == "code":
                text = "\n".join(self.content)
                return [nodes.literal_block(text, text)]
            box = nodes.container()
            if self.contributes == "signature" and self.arguments:
                box += nodes.literal_block(self.arguments[0], self.arguments[0])
            self.state.nested_parse(self.content, self.content_offset, box)
            return [box]

    for contributes, names in SPHINX_DIRECTIVES.items():
        cls = type(f"Sphinx_{contributes}", (SphinxDirective,), {"contributes": contributes})
        for name in names.split():
            directives.register_directive(name, cls)
