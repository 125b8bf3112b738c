"""Furniture: what a reader skips to get to the subject (badges, link lists, install
commands, sponsor and license boilerplate, changelog sections)."""

from __future__ import annotations

import re

from .blocks import Block, blocks_text

# Titles of sections that are not what a document is about (case-folded, letters only).
# READMEs and manuals put them around the description: Installation, License, Sponsors,
# Changelog; a title that is a version number ("1.2.0 (2024-01-23)") is a release entry.
FURNITURE_HEADINGS = frozenset(
    (
        "changelog",
        "change log",
        "changes",
        "release notes",
        "release history",
        "whats new",
        "recent changes",
        "version history",
        "sponsors",
        "sponsor",
        "sponsorship",
        "sponsored by",
        "funding",
        "backers",
        "donate",
        "donations",
        "license",
        "licence",
        "licensing",
        "copyright",
        "license and copyright",
        "copyright and license",
        "installation",
        "install",
        "installing",
        "contributors",
        "contributing",
        "credits",
        "authors",
        "acknowledgements",
        "acknowledgments",
        "badges",
        "links",
        "project links",
        "table of contents",
        "contents",
        "security",
        "code of conduct",
        "supporting the project",
    )
)
# ...and titles that end in one of these words: "Sorted Containers License", "pytest Changelog".
FURNITURE_LAST_WORDS = frozenset(("license", "licence", "changelog", "sponsors", "installation"))
# "Support pytest", "Sponsor us", "attrs for Enterprise": a project asking for money.
SPONSOR_TITLE = re.compile(r"^(?:support|sponsor|fund)\s+\S+$|\bfor enterprise$", re.IGNORECASE)
# "1.0.1 (2024-01-23)", "[1.0.1] - 2024-01-23", "v2.13.0b3", "Version 0.8"; not "9.10. Backup".
VERSION_TITLE = re.compile(
    r"^\[?v?(?:version\s+)?\d+(?:\.\d+)+(?:[a-z]+\d*)?\]?(?:\s*(?:[-–—:(]|\d{4}).*)?$",
    re.IGNORECASE,
)
# Install commands as READMEs show them, alone in a code block ("$ pip install httpx").
INSTALL_COMMAND = re.compile(
    r"^\s*(?:[$>%]\s*)?(?:sudo\s+)?(?:python3?\s+-m\s+)?"
    r"(?:pip3?|pipx|uv(?:\s+pip)?|conda|mamba|poetry|npm|yarn|pnpm|brew|apt(?:-get)?|gem"
    r"|cargo|go)\s+(?:install|add|get)\b",
    re.IGNORECASE,
)
# Short paragraphs with a link that ask for money or state the license: boilerplate.
SPONSOR_WORDS = re.compile(
    r"\b(?:sponsor(?:s|ed|ship)?|donat(?:e|ions?)|tidelift|open ?collective|patreon"
    r"|github sponsors|buy me a coffee|funding)\b",
    re.IGNORECASE,
)
LICENSE_WORDS = re.compile(
    r"^\s*(?:copyright\b|©|\(c\)\s)|\b(?:licen[sc]ed under|released under the"
    r"|distributed under the terms)\b",
    re.IGNORECASE,
)
LINK_LABEL_MAX_WORDS = 6  # "Discord (Scientific Python) invite link:" is a label, not prose
BOILERPLATE_MAX_CHARS = 400  # Tidelift's and MIT's blurbs are ~250; prose about them is longer


def about_the_subject(blocks: list[Block]) -> list[Block]:
    """The blocks without furniture: what a reader skips to get to the subject.

    Dropped: sections under a furniture title (Installation, License, Sponsors,
    Changelog, a version number) down to the next title of the same or a higher level;
    blocks whose every word is link text (badge rows, "Documentation | PyPI | GitHub",
    link lists); code blocks that only install the package; short linked paragraphs that
    ask for sponsorship, and short license notices.
    """
    kept: list[Block] = []
    skipping_below: int | None = None  # inside a furniture section of this level
    in_link_list = link_list_items(blocks)
    for i, block in enumerate(blocks):
        if block.kind == "heading":
            if skipping_below is not None and block.level > skipping_below:
                continue
            skipping_below = block.level if is_furniture_title(block.text) else None
            if skipping_below is None:
                kept.append(block)
        elif skipping_below is None and not in_link_list[i] and not is_furniture(block):
            kept.append(block)
    return without_empty_sections(kept)


def without_empty_sections(blocks: list[Block]) -> list[Block]:
    """Drop titles left with nothing under them ("Resources" above a dropped link list)."""
    return [b for i, b in enumerate(blocks) if b.kind != "heading" or has_content(blocks, i)]


def has_content(blocks: list[Block], heading: int) -> bool:
    """Whether anything but titles follows a title before the next one of its level."""
    level = blocks[heading].level
    for block in blocks[heading + 1 :]:
        if block.kind != "heading":
            return True
        if block.level <= level:
            return False
    return False


def is_labelled_link(block: Block) -> bool:
    """A label and a link on a line of their own: "Source code: Lib/heapq.py"."""
    label = block.plain.strip()
    return block.linked and label.endswith(":") and len(label.split()) <= LINK_LABEL_MAX_WORDS


def link_list_items(blocks: list[Block]) -> list[bool]:
    """Which blocks are items of a link list: two or more items in a row that are each
    a link with at most a label ("Source: https://...", "Documentation")."""
    link_like = [
        b.kind == "item" and b.linked and len(b.plain.split()) <= LINK_LABEL_MAX_WORDS
        for b in blocks
    ]
    return [
        here and ((i > 0 and link_like[i - 1]) or (i + 1 < len(blocks) and link_like[i + 1]))
        for i, here in enumerate(link_like)
    ]


def is_furniture_title(title: str) -> bool:
    words = " ".join(re.findall(r"[^\W\d_]+", title.casefold().replace("'", "")))
    return (
        words in FURNITURE_HEADINGS
        or words.rpartition(" ")[2] in FURNITURE_LAST_WORDS  # "Sorted Containers License"
        or bool(SPONSOR_TITLE.search(words))
        or bool(VERSION_TITLE.match(title.strip()))
    )


def is_furniture(block: Block) -> bool:
    if block.links_only or is_labelled_link(block):
        return True
    if block.kind == "code":
        lines = [
            ln for ln in block.text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
        ]
        return bool(lines) and all(INSTALL_COMMAND.match(ln) for ln in lines)
    if len(block.text) > BOILERPLATE_MAX_CHARS:
        return False
    return bool(
        INSTALL_COMMAND.match(block.text)
        or (block.linked and SPONSOR_WORDS.search(block.text))
        or LICENSE_WORDS.search(block.text)
    )


def what_is_read(blocks: list[Block]) -> list[Block]:
    """The blocks a reader reads: without furniture, or all when all is furniture."""
    subject = about_the_subject(blocks)
    return subject if blocks_text(subject) else blocks


# --- A plain text's opening licence notice -----------------------------------------------

# What every licence notice speaks of: copying, distribution, the licence, a warranty.
NOTICE_TERMS = re.compile(
    r"\b(?:copy(?:ing|right)?|licen[cs]e[ds]?|warrant(?:y|ies)|(?:re)?distribut\w*"
    r"|permi(?:t|ts|tted|ssion))\b",
    re.IGNORECASE,
)
COPYRIGHT_LINE = re.compile(r"^\s*(?:copyright\b|©|\(c\)\s)", re.IGNORECASE)
LICENCE_TITLE = re.compile(r"\blicen[cs]e\b", re.IGNORECASE)
NOTICE_START_LINES = 6  # a notice's copyright line is among the text's first lines
NOTICE_PARAGRAPHS = 6  # the most paragraphs a notice runs on for after that line
NOTICE_PARAGRAPH_CHARS = 500  # a notice's paragraphs are short; a licence's terms are not
NOTICE_ASIDE_WORDS = 12  # "This file is part of the GNU MPFR Library." between two


def without_opening_notice(text: str) -> str:
    """A plain text without the licence notice it opens with, from its copyright line to
    the last paragraph after it that speaks of copying, distribution, the licence or a
    warranty (NOTICE_TERMS; a short line between two such paragraphs is the notice's
    too). groff's and MPFR's NEWS open with the Free Software Foundation's copyright and
    the terms of copying; they were summarized and tagged as the document ("Copyright",
    "GNU Lesser General", "1992-2018 Free Software"). A text whose first line names a
    licence is one, and is left whole."""
    lines = text.split("\n")
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not filled or LICENCE_TITLE.search(lines[filled[0]]):
        return text
    start = next((i for i in filled[:NOTICE_START_LINES] if COPYRIGHT_LINE.match(lines[i])), None)
    if start is None:
        return text
    end = paragraph_end(lines, start)
    for _ in range(NOTICE_PARAGRAPHS):
        following = notice_paragraph_end(lines, end)
        if following is None:
            break
        end = following
    rest = "\n".join(lines[:start] + lines[end:]).strip()
    return rest if re.search(r"\w", rest) else text


def notice_paragraph_end(lines: list[str], after: int) -> int | None:
    """Where the notice paragraph after line ``after`` ends (None: the next one is none),
    past a short aside line when a notice paragraph follows it."""
    start = next((i for i in range(after, len(lines)) if lines[i].strip()), None)
    if start is None:
        return None
    end = paragraph_end(lines, start)
    paragraph = "\n".join(lines[start:end])
    if len(paragraph) <= NOTICE_PARAGRAPH_CHARS and NOTICE_TERMS.search(paragraph):
        return end
    if end - start == 1 and len(paragraph.split()) <= NOTICE_ASIDE_WORDS:
        beyond = next((i for i in range(end, len(lines)) if lines[i].strip()), None)
        if beyond is not None:
            last = paragraph_end(lines, beyond)
            following = "\n".join(lines[beyond:last])
            if len(following) <= NOTICE_PARAGRAPH_CHARS and NOTICE_TERMS.search(following):
                return last
    return None


def paragraph_end(lines: list[str], start: int) -> int:
    """The index of the first blank line from ``start`` on (or the end)."""
    return next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
