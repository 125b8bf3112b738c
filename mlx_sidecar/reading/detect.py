"""Which format a document is in, from the marks each format leaves on its first pages."""

from __future__ import annotations

import re

from .chat import looks_like_chat
from .email import looks_like_email
from .subtitles import looks_like_subtitles

# A format's marks show on its first pages; scanning a 30 MB line for them takes seconds.
DETECT_CHARS = 100_000
EMAIL_HEAD_CHARS = 40_000  # headers of a message relayed many times run long

HTML_DOCUMENT = re.compile(
    r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
HTML_ELEMENT = re.compile(
    r"</?(?:p|div|span|a|h[1-6]|ul|ol|li|table|tr|td|br|section|article)\b[^>]*>", re.I
)
RST_MARKS = (
    re.compile(r"^\.\. [\w:-]+::", re.M),  # directives
    re.compile(r"^\.\. _[^:]+:", re.M),  # link targets
    re.compile(r":[\w:]+:`[^`]+`"),  # roles
    re.compile(r"``[^`\n]+``"),  # inline literals
    re.compile(r"`[^`<\n]+ <[^>\n]+>`__?"),  # inline links
    re.compile(r"^(?P<t>\S.*)\n(?P<u>[=\-~^\"'`#*+]{3,})\s*$", re.M),  # underlined titles
)
MARKDOWN_MARKS = (
    re.compile(r"^#{1,6} \S", re.M),  # ATX headings
    re.compile(r"^(?:```|~~~)", re.M),  # fenced code
    re.compile(r"!?\[[^\]\n]+\]\([^)\s]+\)"),  # links and images
    re.compile(r"^\[[^\]]+\]: \S+", re.M),  # link definitions
    re.compile(r"\*\*[^*\n]+\*\*"),  # strong emphasis
)


def detect_format(content: str) -> str:
    """html, rst, markdown or text, from the marks each format leaves.

    A Markdown README may hold some HTML (a centred logo), and setext titles underlined
    with ``===`` are both Markdown and rST: each side counts only its own marks.
    """
    head, content = content[:4000], content[:DETECT_CHARS]
    if HTML_DOCUMENT.match(head) or (
        head.lstrip().startswith("<")
        and len(HTML_ELEMENT.findall(head)) >= 5
        and not any(p.search(head) for p in MARKDOWN_MARKS[:2])
    ):
        return "html"
    if looks_like_email(content[:EMAIL_HEAD_CHARS]):
        return "email"
    if looks_like_subtitles(head):
        return "subtitles"
    if looks_like_chat(content[:20_000]):
        return "chat"
    if looks_like_source_code(content):
        return "text"  # "# comment" lines are not Markdown headings
    rst = sum(len(p.findall(content)) for p in RST_MARKS[:5])
    markdown = sum(len(p.findall(content)) for p in MARKDOWN_MARKS)
    if rst > markdown:
        return "rst"
    if markdown >= 2 and markdown > rst:
        return "markdown"
    return "text"


CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import |return\b|elif\b|else:|try:|except\b"
    r"|#include\b|function\b|var |let |const |[{}]\s*$)"
)
# heapq.py: 12% of its lines; the tuning half's READMEs and rST howtos: at most 8%; the
# held-out half's texts that reach this check (not HTML, e-mail, chat or subtitles): at
# most 5.3% (a Markdown README), so none is taken for a program.
CODE_SHARE = 0.1


def looks_like_source_code(content: str) -> bool:
    """A program, not a document about one: many code lines outside fenced blocks."""
    if MARKDOWN_MARKS[1].search(content):
        return False
    lines = [ln for ln in content.splitlines() if ln.strip()]
    return sum(bool(CODE_LINE.match(ln)) for ln in lines) >= CODE_SHARE * max(1, len(lines))
