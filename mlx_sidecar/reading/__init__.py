"""Reading documents: the text a person reads in what the app sends, and its title.

Each format is read by its own parser into the blocks a reader sees (``blocks.Block``):
trafilatura for HTML, markdown-it-py for Markdown, docutils for reStructuredText. Then the
furniture (badges, link lists, install commands, sponsor and license boilerplate,
changelog sections) is dropped, and the rest is what the model reads. E-mails, chat
transcripts and subtitles have readers of their own that give text directly (email.py,
chat.py, subtitles.py). Plain text stays as it is. To add a format: a module here with a
``<format>_blocks(content)`` function (or a text reader), its name in FORMATS and
BLOCK_READERS (or read_as), and its marks in ``detect``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from ..errors import InvalidParams, SidecarError, one_line
from .blocks import blocks_text, has_words, opening_title, plain_title
from .chat import read_chat
from .detect import detect_format
from .email import read_email
from .furniture import what_is_read, without_opening_notice
from .html import html_blocks, page_title
from .markdown import markdown_blocks
from .rst import rst_blocks
from .subtitles import read_subtitles

log = logging.getLogger(__name__)

# A manual page's header or footer line: its name and section at an end, wide gaps.
MAN_PAGE_LINE = re.compile(r"^(?:\S+\(\d\w*\)\s{3,}.*|.*\S\s{3,}\S+\(\d\w*\))[ \t]*$\n?", re.M)
# A word groff hyphenated at a line's end: its U+2010 HYPHEN, the line break and the next
# line's indent ("fil‐\n       rättighetsbitarna" is "filrättighetsbitarna").
TYPESET_HYPHEN = re.compile(r"(?<=\w)\u2010\n[ \t]*(?=\w)")
FORMATS = ("auto", "text", "markdown", "rst", "html", "email", "chat", "subtitles")
BLOCK_READERS = {"html": html_blocks, "markdown": markdown_blocks, "rst": rst_blocks}


@dataclass
class Reading:
    """What was read: the format (detected, or as the request said), the text, its title."""

    format: str
    text: str
    title: str = ""  # the title the document opens with, if it has one

    def fields(self) -> dict:
        """What the response says was read."""
        return {"format": self.format, "read_chars": len(self.text)}


def require_format(value: object) -> str:
    """A request's `format` (its value; absent or null is "auto")."""
    fmt = value or "auto"
    if fmt not in FORMATS:
        raise InvalidParams(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}.")
    return fmt


def read_document(content: str, fmt: str = "auto") -> Reading:
    """The text a reader sees in ``content``, read as ``fmt`` (detected when "auto")."""
    content = content.replace("\r\n", "\n")
    fmt = detect_format(content) if fmt == "auto" else fmt
    if fmt == "text":
        return plain(content)
    try:
        text, title = read_as(fmt, content)
    except ImportError as error:  # a broken install, not a document problem: say so
        raise SidecarError(
            f"Reading {fmt} needs {error.name or 'a parser'}, which is not installed; "
            "run scripts/setup.sh (or pip install -r requirements.txt).",
            "internal",
        ) from None
    except Exception as error:  # a parser bug must not cost the user an answer
        log.warning("reading as %s failed (%s); reading as text", fmt, one_line(error))
        text, title = "", ""
    if not has_words(text):
        return plain(content, fmt)
    return Reading(fmt, text, title)


def read_as(fmt: str, content: str) -> tuple[str, str]:
    """The text and title of ``content`` read as ``fmt``."""
    if fmt == "email":
        return read_email(content)
    if fmt == "chat":
        return read_chat(content), ""
    if fmt == "subtitles":
        return read_subtitles(content), ""
    blocks = BLOCK_READERS[fmt](content)
    text = blocks_text(what_is_read(blocks))
    title = (page_title(content) if fmt == "html" else "") or opening_title(blocks)
    return text, title


def plain(content: str, fmt: str = "text") -> Reading:
    """The content as it is, titled by its first line when that stands alone; a manual
    page's running header and footer ("JQ(1)  General Commands Manual  JQ(1)") give no
    words (its name titles it), its words hyphenated at line ends are whole again, and
    the licence notice it opens with is furniture (furniture.without_opening_notice)."""
    content = without_opening_notice(content)
    text = TYPESET_HYPHEN.sub("", MAN_PAGE_LINE.sub("", content))
    return Reading(fmt, text.strip(), plain_title(content))
