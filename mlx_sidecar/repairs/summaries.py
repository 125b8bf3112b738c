"""Repairs of a summary: every rule that mends a model's answer, in the order applied.

Each rule names the case it repairs; none changes an answer a strong model gives
(tests/test_answers.py holds both tables: good answers that pass unchanged, and bad
answers of the kinds SmolLM2 gives, with what a person would accept instead). The one
entry point is ``summary_sentences``. To add a rule: a function here whose docstring
quotes the case, its place in SUMMARY_TEXT_RULES (text in, text out) or
SUMMARY_SENTENCE_RULES (a sentence in, whether it goes), and a row in each table.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from ..text import (
    CJK,
    ENDS_SENTENCE,
    LETTERS,
    content_words,
    full_stop,
    identify_language,
    is_sentence,
    same_language,
    sentence_key,
    split_sentences,
    stopwords,
)
from .answer import LIST_ITEM, Answer, drop_leaks, drop_markup
from .loops import has_loop
from .support import (
    REPORTING_WORDS,
    Support,
    check_support,
    claim_stems,
    copies_the_document,
    document_places,
    facts_of,
    unsupported_facts,
)

__all__ = ["facts_of", "judged_sentences", "summary_sentences", "unsupported_facts"]

PREAMBLE = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|okay|ok)[,!.]?\s*)?"
    r"(?:(?:here\s+is|here's|below\s+is|this\s+is)\s+(?:a|an|the|my)?\s*"
    r"(?:brief|short|concise|quick|one-sentence|two-sentence|\w+-sentence)?\s*summary\b[^:\n]*[:.]?"
    r"|(?:in\s+)?summary\s*[:,]|summary\s+of\s+the\s+(?:document|text)\s*:|tl;?dr\s*:)\s*",
    re.IGNORECASE,
)


# Words about documents and summaries, not about what a document says (metadiscourse, by
# kind, not by what one model said): what a summary calls a text and says a text does
# (support.REPORTING_WORDS), the parts a text is made of, how it is organized, and how
# good it is (PRAISE_WORDS). A sentence or a lead-in made only of these (and stopwords)
# talks about itself.
TEXT_PARTS = frozenset(
    "documents doc docs texts articles pages passage excerpt paragraph paragraphs sentence "
    "sentences content contents information topic topics point points aspect aspects idea "
    "ideas detail details example examples descriptions description".split()
)
TEXT_ACTS = frozenset(
    "contain contains contained summarized summarizing summarise summarised rephrase "
    "rephrased paraphrase covering providing discussing explaining describing organized "
    "organised structured divided written help helps read reader readers understand "
    "understanding navigate".split()
)
PRAISE_WORDS = (
    r"comprehensive|detailed|concise|clear|brief|thorough|in-depth|informative|excellent"
    r"|great|useful|helpful|well-written|well-structured|insightful|succinct|complete"
)
META_WORDS = REPORTING_WORDS | TEXT_PARTS | TEXT_ACTS | frozenset(PRAISE_WORDS.split("|"))
META_MIN_WORDS = 2  # a meta sentence has at least this many content words, all meta
SELF_NOUNS = frozenset("document documents text article page summary summaries doc".split())
PRAISE = re.compile(
    rf"\b(?P<article>[Aa]n?)\s+(?:(?:{PRAISE_WORDS})(?:,\s*|\s+and\s+|\s+))+"
    r"(?P<noun>overview|guide|introduction|summary|explanation|description|exploration"
    r"|look|account|resource|reference|tutorial|discussion|analysis|treatment)\b"
)
HEADING_PREFIX = re.compile(r"(?:^|(?<=[.!?]\s))(?:[A-Z][\w'-]*\s){1,3}[A-Z][\w'-]*:\s+(?=[A-Z])")
NEAR_DUPLICATE = 0.8  # a sentence 80% of whose content words an earlier one said...
NEAR_DUPLICATE_WORDS = 4  # ...judged only on a sentence with this many


def is_meta(text: str) -> bool:
    """Whether ``text`` speaks of documents and summaries, not of what a document says:
    every content word is one of META_WORDS, or all but one when it names the text itself
    ("This document contains a lot of information that can be easily summarized")."""
    words = content_words(text)
    content = [w for w in words if w not in META_WORDS]
    names_itself = any(w in SELF_NOUNS for w in words)
    meta = len(words) - len(content)
    return meta >= META_MIN_WORDS and (not content or (names_itself and len(content) <= 1))


def drop_preamble(text: str, answer: Answer) -> str:
    """'Here is a summary of the document:' and 'Sure!' before the summary."""
    return PREAMBLE.sub("", text.strip(), count=1)


def drop_title_line(text: str, answer: Answer) -> str:
    """A title the model put above its summary ("**Debian's Unique Role**" on a line of
    its own): short, no sentence punctuation, more text after it. A first bullet is an
    item, not a title."""
    first, newline, rest = text.strip().partition("\n")
    plain = first.strip().strip("*_#").strip()
    if not newline or not plain or not rest.strip() or rest.strip()[0].islower():
        return text  # nothing follows, or the line break is inside a sentence
    if LIST_ITEM.match(first) and not first.lstrip().startswith("#"):
        return text
    if ENDS_SENTENCE.search(plain) or plain.endswith((":", ";")) or len(plain.split()) > 12:
        return text
    return rest


def join_lines(text: str, answer: Answer) -> str:
    """Bullets, numbers, headings and quote marks off the line starts; a list item
    without end punctuation gets a full stop, so items do not run together; but not an
    item that goes on on the next line ("- it can be difficult to re-create" then "the
    topic branch ..."), which would leave a lowercase fragment after the period."""
    raw = text.splitlines()
    lines = []
    for i, line in enumerate(raw):
        item = LIST_ITEM.match(line) is not None
        line = LIST_ITEM.sub("", line).strip()
        following = next((x.strip() for x in raw[i + 1 :] if x.strip()), "")
        goes_on = bool(following) and not LIST_ITEM.match(following) and following[0].islower()
        if item and line and line[-1].isalnum() and not goes_on:
            line += full_stop(line)
        lines.append(line)
    return " ".join(" ".join(lines).split())


def drop_meta_clause(text: str, answer: Answer) -> str:
    """A lead-in that talks about the summary or the document instead of saying what it
    says, before a colon: "The above is a summary of the document, so I'll just rephrase
    it for you: The document contains ...", "This document contains a lot of information
    that can be easily summarized in one sentence: ...". What follows the colon stays."""
    head, colon, rest = text.partition(":")
    if colon and rest.strip() and "\n" not in head and is_meta(head):
        return rest.strip()
    return text


def drop_heading_prefix(text: str, answer: Answer) -> str:
    """A section heading run into the answer: "Sorting Basics: A simple ascending sort is
    very easy" starts with its sentence. Only short Title Case words before the colon."""
    return HEADING_PREFIX.sub("", text)


def drop_praise(text: str, answer: Answer) -> str:
    """Praise of the document instead of its content: "a comprehensive overview of the
    ipaddress module" says "an overview of the ipaddress module"; "a clear and concise
    summary" says "a summary"."""
    return PRAISE.sub(_without_praise, text)


def _without_praise(match: re.Match) -> str:
    article = "an" if match["noun"][0].lower() in "aeiou" else "a"
    if match["article"][0].isupper():
        article = article.capitalize()
    return f"{article} {match['noun']}"


SUMMARY_TEXT_RULES: tuple[Callable[[str, Answer], str], ...] = (
    drop_leaks,
    drop_preamble,
    drop_markup,  # before join_lines: a stray '*' bullet is not emphasis
    drop_title_line,
    join_lines,
    drop_meta_clause,  # after join_lines: a lead-in may end a line
    drop_heading_prefix,
    drop_praise,
)


def not_a_sentence(sentence: str, answer: Answer) -> bool:
    """A list number ("1."), stray punctuation, or a word or two: what is left when
    max_tokens cut the answer short ("The."); a label before a list ("Changes:", the
    whole one-sentence summary SmolLM2 gave librsvg's NEWS), or a title."""
    return not is_sentence(sentence) or is_label(sentence) or in_title_case(sentence)


LABEL_MAX_WORDS = 4  # "Changes:", "Bug fixes:": a label; "This report relates to ...:" opens a list
TITLE_WORDS = 3  # longer words capitalized, and no others (stopwords aside): a title


def in_title_case(sentence: str, but: int = 0) -> bool:
    """Its longer words capitalized, TITLE_WORDS or more, all ``but`` a few (stopwords
    aside): a heading or a reference's title ("Mozilla Public License.", the whole
    one-sentence summary SmolLM2 gave that license; "Keyword Extraction from Single
    Documents using Multiple Local Features." with ``but`` 1), no sentence."""
    words = [w for w in re.findall(r"[^\W\d_]{4,}", sentence) if w not in stopwords()]
    capitals = sum(w[0].isupper() for w in words)
    return capitals >= TITLE_WORDS and len(words) - capitals <= but


def is_label(text: str) -> bool:
    """A few words and a colon: what heads a list, no sentence."""
    return text.rstrip().endswith(":") and len(text.split()) <= LABEL_MAX_WORDS


# A row's first column and the gap after it: "search TERM" and the spaces before "- Bileşen
# veri tabanında arama yapın.", the line's one gap of three spaces or more (a justified
# manual page spreads gaps of two or three over its lines; two spaces end a sentence).
ROW_HEAD = re.compile(r"^((?:\S+ ){0,3}\S*[^\s.!?:;,])(?: {3,}|\t)(?=\S)(?!.*\S {2,}\S)")


def copies_a_row(sentence: str, answer: Answer) -> bool:
    """A row of an option or command table given as a sentence: "search TERM - Bileşen
    veri tabanında arama yapın." of appstreamcli's "  search TERM    - Bileşen veri
    tabanında ...", all but the spaces between its columns (SmolLM2's whole summary of
    that help text was such rows). The document line the sentence opens with, up to the
    first word after the gap, is a row: a first column of a few words, then its one wide
    gap (ROW_HEAD)."""
    if not answer.document:
        return False
    opening = " ".join(sentence.split())
    return any(opening.startswith(row) for row in row_openings(answer.document))


@functools.lru_cache(maxsize=32)
def row_openings(document: str) -> tuple[str, ...]:
    """How each of the document's table rows opens, its first column and the first word
    after the gap, spaces made single: found once per document, not once per sentence
    each time a streamed answer is judged again."""
    found = []
    for line in document.splitlines():
        head = ROW_HEAD.match(line.strip())
        if head:
            found.append(" ".join(line.split()[: len(head[1].split()) + 1]))
    return tuple(found)


def is_table_row(line: str) -> bool:
    """A line of a table of options or commands: a first column of a few words, then its
    one wide gap (ROW_HEAD)."""
    return bool(ROW_HEAD.match(line.strip()))


def echoes_instruction(sentence: str, answer: Answer) -> bool:
    """'Summarize this document in two sentences.' repeated back."""
    return sentence_key(sentence).startswith(("summarize this", "summarize the"))


def in_another_language(sentence: str, answer: Answer) -> bool:
    """A sentence in another language than the answer is to be in: SmolLM2 opened its
    summaries of Swedish and Polish manual pages with English it made up about their
    licence notes ("This manual provides an overview of the GNU General Public License"),
    which the document's words could not be held to. The document's own sentences take
    its place (answers/summary.py), so a summary is not half in one language and half in
    another. Only a language named with confidence counts, the document's and the
    sentence's: one line of technical English can pass for Turkish."""
    wanted = answer.language or identify_language(answer.document, confident=True)
    found = identify_language(sentence, confident=True) if wanted else None
    return found is not None and not same_language(found, wanted)


def talks_about_itself(sentence: str, answer: Answer) -> bool:
    """A sentence about the summary or the document with nothing of what the document
    says: "The doc is organized into sections with clear descriptions that can help you
    navigate the document easily." or "The document is a summary of the release." (see
    is_meta)."""
    return is_meta(sentence)


def opens_about_itself(sentence: str, answer: Answer) -> bool:
    """A sentence whose opening clause is about the summary, not the document's content:
    "The document summarizes the main ideas of a list, including the purpose and
    features of backups ..." (what follows the comma is no sentence of its own)."""
    head, comma, _ = sentence.partition(",")
    return bool(comma) and is_meta(head)


def repeats_a_unit(sentence: str, answer: Answer) -> bool:
    """A loop: "微信群微信群微信群...", "년년년년년년" (see repairs/loops.py)."""
    return has_loop(sentence)


def starts_as_fragment(sentence: str, answer: Answer) -> bool:
    """The rest of a sentence cut at a period: "the topic branch without first creating
    a new one ..." (a small word in lowercase opens it). A sentence may open with a
    lowercase name ("jq filters JSON"), which is no small word."""
    first = LETTERS.search(sentence)
    return bool(first) and first.group(0).islower() and first.group(0) in stopwords()


# A slot left empty: a preposition before a comma or the sentence's end, or before another
# preposition that cannot be its object ("at to", "of by").
EMPTY_SLOT = re.compile(
    r"\b(?:on|of|in|at|to|from|by|with|for)\s*[,;:]|\b(?:on|of|at|by)\s*\.$"
    r"|\b(?:at|of|from|by|with)\s+(?:at|on|to|of|from|by|with)\s"
)


def leaves_a_slot_empty(sentence: str, answer: Answer) -> bool:
    """A template's placeholders written out empty: "released new versions on ," (the
    review's case, from a release announcement's template); "The source is available
    for download at to be used in future releases" (SmolLM2 on the Wine notes)."""
    return bool(EMPTY_SLOT.search(sentence))


# A heading (repeats_a_heading): a line of at most HEADING_WORDS words, no sentence, alone
# or over an UNDERLINE ("=====" under a NEWS file's release).
HEADING_WORDS = 12
UNDERLINE = re.compile(r"([=\-~^*#])\1{2,}")

# What a sentence about who wrote a message says besides the names and the date.
WRITING_WORDS = frozenset("wrote write writes written sent send sends replied replies".split())


def repeats_a_heading(sentence: str, answer: Answer) -> bool:
    """A heading of the document given as a sentence, its numbers aside: SmolLM2 wrote
    strace's "Noteworthy changes in release 5.11 (2021-03-17)." (with another release's
    date) as the first sentence of its summary; a heading names a part, it says nothing."""
    return bool(answer.document) and heading_key(sentence) in document_headings(answer.document)


def heading_key(line: str) -> str:
    """A line's words without its numbers, case-folded: what two headings share."""
    return " ".join(re.findall(r"[^\W\d_]+", line.casefold()))


@functools.lru_cache(maxsize=32)
def document_headings(document: str) -> frozenset:
    """The keys of a document's headings: lines of at most HEADING_WORDS words, with no
    closing punctuation, standing alone or over an underline ("====")."""
    lines = [*document.splitlines(), ""]
    found = set()
    for i, line in enumerate(lines[:-1]):
        text = line.strip()
        before, after = lines[i - 1].strip() if i else "", lines[i + 1].strip()
        alone = not before and (not after or UNDERLINE.fullmatch(after))
        if alone and text and len(text.split()) <= HEADING_WORDS and not ENDS_SENTENCE.search(text):
            found.add(heading_key(text))
    return frozenset(found - {""})


def says_only_who_wrote(sentence: str, answer: Answer) -> bool:
    """An e-mail's attribution given as its summary: "Linus Torvalds wrote on 9 November
    2007." was the whole summary of a how-to on recovering a corrupted object. Every
    content word of it is in the lines that say who wrote (the reader's "X wrote to Y on
    DATE.", "On DATE, X wrote:"), none from what the message says."""
    places = document_places(answer.document) if answer.document else None
    if places is None or places.attribution is None:
        return False
    language = places.language
    said = claim_stems(sentence, language) - claim_stems(" ".join(WRITING_WORDS), language)
    return said <= places.attribution


def support(sentence: str, answer: Answer) -> Support:
    """What of ``sentence`` the answer's document supports (repairs/support.py), checked
    once per sentence and document."""
    return _support(sentence, answer.document, answer.translated)


@functools.lru_cache(maxsize=4096)
def _support(sentence: str, document: str, translated: bool) -> Support:
    return check_support(sentence, document, translated)


def names_unknown_facts(sentence: str, answer: Answer) -> bool:
    """A name or number the document never writes: "developed by the University of
    Michigan", "Git-gitbisect" (git is a document word, gitbisect is not), "Django 5.2
    supports Python 3.9" where the notes name 3.10 to 3.14. Only checked when the
    document is known."""
    return bool(answer.document) and bool(support(sentence, answer).facts)


def writes_unknown_identifiers(sentence: str, answer: Answer) -> bool:
    """A code-like token the document never writes, which no paraphrase explains:
    "skip_bad_branches", "Git-commit(2)" where the page is git-commit(1), "jq reads its
    filters from the --filter-file option"."""
    return bool(answer.document) and bool(support(sentence, answer).identifiers)


def claims_what_no_place_says(sentence: str, answer: Answer) -> bool:
    """A claim no one place of the document makes: its words scattered over the
    document ("The README file lists the authors of the pre-built documentation
    packages", three paragraphs of the Wine notes), a predicate the place lacks ("was
    removed" where the notes say "is now a way to edit"), or what the place denies
    ("Most applications work correctly" where they "still do not work correctly"); "The
    license is a non-disclosure agreement" too. See repairs/support.py."""
    if not answer.document:
        return False
    found = support(sentence, answer)
    return not found.ok and not (found.facts or found.identifiers)


def rewords_the_document(sentence: str, answer: Answer) -> bool:
    """A sentence in its own words from a model too small to be trusted with them
    (Answer.own_words, repairs/answer.OWN_WORDS_PARAMS): only the document's own words
    stand (support.copies_the_document). SmolLM2's "This is a self-signed certificate
    that can be used for local testing." of a tutorial on making one passed every check
    above: all its words are in one place of the tutorial."""
    if not answer.document or answer.own_words or answer.translated:
        return False
    return not copies_the_document(sentence, answer.document)


def is_supported(sentence: str, answer: Answer) -> bool:
    """Whether the document supports ``sentence`` (always, when it is not known), in the
    document's words where the model is not trusted with its own."""
    if not answer.document:
        return True
    return support(sentence, answer).ok and not rewords_the_document(sentence, answer)


SUMMARY_SENTENCE_RULES: tuple[Callable[[str, Answer], bool], ...] = (
    not_a_sentence,
    copies_a_row,
    echoes_instruction,
    talks_about_itself,
    opens_about_itself,
    repeats_a_unit,
    starts_as_fragment,
    leaves_a_slot_empty,
    says_only_who_wrote,
    repeats_a_heading,
    in_another_language,
    names_unknown_facts,
    writes_unknown_identifiers,
    claims_what_no_place_says,
    rewords_the_document,
)

# Where a sentence may be cut back to its opening clause: before a relative or an
# example clause, a parenthesis, a dash or a semicolon.
CLAUSE_BREAK = re.compile(
    r",\s+(?=(?:which|who|whose|where|such as|including|like|as well as|and|but|while)\b)"
    r"|\s+(?=such as\b)|;\s+|\s+(?=\()|\s+[-–—]\s+"
)


def supported_head(sentence: str, answer: Answer) -> str:
    """A true opening clause is kept when only the sentence's tail is unsupported: "This
    module provides a TOML parser that can decode to Python strings, which is useful for
    data from sources such as XML files." (the tomllib page names no XML) becomes its
    first clause, so the summary still says what the page is about; the whole sentence
    would otherwise be dropped."""
    if is_supported(sentence, answer):
        return sentence
    for brk in reversed(list(CLAUSE_BREAK.finditer(sentence))):  # the longest head first
        head = sentence[: brk.start()].rstrip(" ,;:")
        if head and is_sentence(head) and is_supported(head, answer):
            return head + full_stop(head)
    return sentence


def summary_sentences(text: str, answer: Answer, final: bool = True) -> list[str]:
    """The model's answer as clean sentences, every rule above applied in order (see
    judged_sentences)."""
    return [sentence for sentence, rule in judged_sentences(text, answer, final) if not rule]


def judged_sentences(text: str, answer: Answer, final: bool = True) -> list[tuple[str, str]]:
    """Each sentence of the model's answer, cleaned, with the name of the rule that drops
    it ("" when it stays).

    With ``final`` false (the answer is still being generated) the last sentence is
    left out: it may not be complete yet. With ``final`` true an unfinished last
    sentence is cut when a finished one comes before it, and otherwise ends with a full
    stop (none is added to CJK text).
    """
    for rule in SUMMARY_TEXT_RULES:
        text = rule(text, answer)
    parts: list[str] = []
    for part in split_sentences(text):
        if parts and LETTERS.search(part) and not is_sentence(part):
            parts[-1] += " " + part  # a word or two after an abbreviation ("p. ex. init.")
        else:
            parts.append(part)
    if not final:
        parts = parts[:-1]
    elif parts and not ENDS_SENTENCE.search(parts[-1]):
        if len(parts) > 1:
            parts = parts[:-1]
        elif parts[-1][-1].isalnum() and not CJK.match(parts[-1][-1]):
            parts[-1] += "."
    judged: list[tuple[str, str]] = []
    for sentence in (supported_head(part, answer) for part in parts):
        kept = [s for s, rule in judged if not rule]
        if says_again(sentence, kept):
            judged.append((sentence, "says_again"))
            continue
        if not kept and adds_to_nothing(sentence):
            judged.append((sentence, "adds_to_nothing"))
            continue
        dropping = next((r for r in SUMMARY_SENTENCE_RULES if r(sentence, answer)), None)
        judged.append((sentence, dropping.__name__ if dropping else ""))
    return judged


# A sentence that adds to one before it: "It also lists ...", "Also, ...", "In addition".
ADDING = re.compile(r"^(?:(?:It|This|They|He|She)\s+(?:also|too)\b|Also\b|In addition\b)")


def adds_to_nothing(sentence: str) -> bool:
    """A summary's first sentence that adds to one before it: SmolLM2 answered "It also
    lists some other user-specific groups." and "It also includes tips on packaging and
    testing." for one-sentence summaries, which say nothing of what the document is."""
    return bool(ADDING.match(sentence))


def says_again(sentence: str, earlier: list[str]) -> bool:
    """The same sentence again, or nearly: "This example is meant to demonstrate the use
    of the json module ..." after "This is a simple example of how to use the json
    module ..." (NEAR_DUPLICATE of its content words said before)."""
    key, words = sentence_key(sentence), set(content_words(sentence))
    for before in earlier:
        if sentence_key(before) == key:
            return True
        shared = words & set(content_words(before))
        if len(words) >= NEAR_DUPLICATE_WORDS and len(shared) >= NEAR_DUPLICATE * len(words):
            return True
    return False
