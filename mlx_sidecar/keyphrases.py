"""Key phrases: the phrases a document names its subject with, and what its lines say of a tag.

A document names its subject in its title (an e-mail's Subject), its opening line, its
headings and the noun phrases it repeats. It also carries lines that are not its own
text: who wrote the e-mail and to whom, the attribution line above a quoted reply, a
byline, a chat's speakers, the columns of a listing (`ls -l`: "-rw-r--r-- 1 david git
..."), code, links, a footer ("Part of the git(1) suite"). A word from those lines names no
subject: "Hamano wrote", "david git", "Part of the git", "len". ``DocumentLines`` tells
them apart once per document; ``key_phrases`` offers the model the phrases worth choosing
among (grammar.py ``TagGrammar.candidates_processor``, tasks/tags.py), and repairs/tags.py
``frames_the_document`` judges every tag against the same lines (frames.py tells the lines
that frame a text apart).

General rules only, no lists of the corpus's words: a word among the 1,000 most frequent
of the document's language (pyspellchecker's frequency lists) or among its stopwords
(yake's lists) names no subject alone unless the title or the opening names it ("bad",
"Work"); month and day names are babel's CLDR names (repairs/tags.py). What a topic is
written as (a noun phrase in English, a name elsewhere) is topics.py's.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from dataclasses import dataclass, field

from .frames import (
    BYLINE,
    FOOTER_MIN_LINES,
    OPTION,
    QUOTED,
    SPEAKER_LINE,
    chat_speakers,
    code_lines,
    credited_names,
    introduces_quote,
    is_footer,
    is_header_line,
    is_listing_line,
    quoted_name,
    uncredited,
)
from .lexicon import common_words, rarity
from .reading import Reading
from .reading.email import writers
from .text import CJK, guess_language, language_stopwords, phrase_pattern, stopwords
from .topics import LATIN_TEXT, is_name_phrase, latin_share, lemmas, names_a_topic, word_classes

log = logging.getLogger(__name__)

KEY_PHRASES = 20  # candidates offered to the model (the known-tags prompt shows up to 30)
PHRASE_REPEATS = 2  # a phrase the document writes once is no key phrase (its subject aside)
CONTEXT_WORDS = 3  # words each side of a mention that, the same, say it again (sayings)
SUBJECT_MIN_MENTIONS = 3  # a person the text names this often is what it is about
# A list item's mark, or an outline's ("** Bug fixes" in a GNU NEWS file, as Emacs writes it).
BULLET = r"(?:[-*•+]{1,3}[ \t]+)?"
ENTRIES = 2  # lines a phrase opens, and nowhere else: a changelog's entries ("Fix bug ...")
PERSON_SUBJECT_MENTIONS = 6  # ...one it credits, this often besides ("I'm Robyn Speer", 3)
YAKE_MAX_CHARS = 20_000  # key phrases of a longer text come from its first part (~1 s)
# Words that turn a name into an attribution: "Hamano wrote", "Alice writes" (reading/email.py).
ATTRIBUTION_VERBS = frozenset(["wrote", "writes", "said", "says", "schrieb", "escribió", "écrit"])
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+\.\S+")  # "ftp://.../Wine-20020904.tar.gz"
NAME_PART = re.compile(r"[^\W\d_][^\W_]*(?:['’.-][^\W_]+)*")  # "ogra" of "ogra_ac", "O'Neil"
HEADING_MAX_WORDS = 8
LABEL_WORDS = 5000  # a language's ordinary words: a heading's label, a constant in capitals
SHORT_NAME = 4  # "len", "buf", "msg": a program's abbreviations...
RARE_WORD = 20_000  # ...that are no word of the language: not among its 20,000 most frequent
BYLINE_LINES = 5
MANUAL_TITLE = re.compile(r"^[\w.:+-]+\(\d\w*\)$")  # "APROPOS(1)", "git-log(1)"
# A phrase a tag can be (grammar.py TAG_PATTERN): a letter, a digit or ".NET"'s dot first; no
# quotes, brackets, markup, operators, a program's variables ("$out") or CJK sentence punctuation.
CLEAN_PHRASE = re.compile(r"^(?:[^\W_]|\.[A-Z])[^\"\\\n\r\t<>{}\[\]|*`~:=()@$%。、！？]*$")


@dataclass
class DocumentLines:
    """A document's text split into what it says (``prose``: its own sentences, headings
    and quoted replies) and what only frames it (``frame``: who-wrote and attribution
    lines, listing rows, code, a footer), with the people who wrote it."""

    text: str
    title: str = ""
    prose: str = ""
    frame: str = ""
    code: str = ""
    writers: list[str] = field(default_factory=list)
    speakers: list[str] = field(default_factory=list)
    language: str = "en"
    mostly_code: bool = False
    _folded: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, text: str, title: str = "") -> DocumentLines:
        """The lines of ``text``, worked out once for the few documents in hand (a
        command's passes and repairs ask about the same text many times)."""
        return _lines_of(text, title)

    @functools.cached_property
    def ordinary(self) -> frozenset:
        """The language's LABEL_WORDS most frequent words."""
        return common_words(self.language, LABEL_WORDS)

    @functools.cached_property
    def latin_script(self) -> bool:
        """Whether most letters of its prose are Latin (topics.py LATIN_TEXT)."""
        return latin_share(self.prose) >= LATIN_TEXT

    @functools.cached_property
    def subjects(self) -> list[str]:
        """The subject the document names (``named_subject``), and the name the text opens
        with (in another language than English, under a title, only a name: a word like
        "名称" heads the text's first part; see ``names_a_topic``)."""
        from .repairs.tags import opening_subject

        named, opening = self.named_subject, opening_subject(Reading("text", self.text, self.title))
        if named and self.language != "en" and not is_name_phrase(opening, self):
            opening = ""  # the heading of the first part under a title ("名称", "NAMN")
        return [s for s in (named, opening) if s]

    @functools.cached_property
    def named_subject(self) -> str:
        """What the title names (repairs/tags.py title_subject), or else the program a
        help text's usage line shows (usage_name): the subject the document names."""
        from .repairs.tags import title_subject, usage_name

        return title_subject(Reading("text", self.text, self.title)) or usage_name(self.text)

    @functools.cached_property
    def head(self) -> str:
        """The title and the first lines: where a document names itself."""
        filled = [ln for ln in self.text.split("\n") if ln.strip()]
        return "\n".join([self.title, *filled[:BYLINE_LINES]])

    @property
    def own(self) -> str:
        """What the document says, its code included: all but the lines that frame it."""
        return self.prose + "\n" + self.code

    def mentions(self, phrase: str, where: str = "prose", case: bool = False) -> int:
        """Whole-phrase mentions of ``phrase`` in the prose (or ``where``: "own", "frame",
        "code", "text"), case aside unless ``case``."""
        if not phrase.strip():
            return 0
        if case:
            return len(re.findall(phrase_pattern(phrase), getattr(self, where)))
        return len(re.findall(phrase_pattern(phrase.casefold()), self.folded(where)))

    def sayings(self, phrase: str) -> int:
        """How often the document says ``phrase`` in its own lines, case aside; mentions
        with the same words around them are one saying, quoted again ("in revised
        haskell guidelines [1], there" in an e-mail and in each reply that quotes it)."""
        folded = self.folded("own")
        around = set()
        for m in re.finditer(phrase_pattern(phrase.casefold()), folded):
            before = folded[max(0, m.start() - 60) : m.start()].split()[-CONTEXT_WORDS:]
            after = folded[m.end() : m.end() + 60].split()[:CONTEXT_WORDS]
            around.add((*before, "", *after))
        return len(around)

    def folded(self, where: str) -> str:
        """``where``'s text case-folded, kept: a folded search is several times faster
        than an IGNORECASE one over a novel."""
        if where not in self._folded:
            self._folded[where] = getattr(self, where).casefold()
        return self._folded[where]

    def names_a_writer(self, tag: str) -> bool:
        """'Hamano wrote', 'Junio', 'Nathaniel Borenstein', 'ogra': the name of someone who
        wrote or was written to, from the e-mail's own header and attribution lines (and
        not what the text is about: its title and prose do not keep naming them), or a
        chat's speaker."""
        words = {w for w in NAME_PART.findall(tag.casefold()) if w not in ATTRIBUTION_VERBS}
        if not words:
            return False
        if any(words <= set(NAME_PART.findall(s.casefold())) for s in self.speakers):
            return True
        for name in self.writers:
            if words <= set(NAME_PART.findall(name.casefold())):
                named = " ".join(w for w in tag.split() if w.casefold() not in ATTRIBUTION_VERBS)
                about = max(self.mentions(named), self.mentions(name))
                title = BYLINE.sub("", self.title)  # the byline names the author, not the topic
                in_title = re.search(phrase_pattern(named), title, re.IGNORECASE)
                return not in_title and about < SUBJECT_MIN_MENTIONS
        return False

    def only_in_frame(self, tag: str) -> bool:
        """A tag the document writes only in lines that frame it: a listing's columns
        ("david git"), a footer ("Part of the git"), who wrote to whom, code, a link
        ("20020904.tar.gz" of "ftp://.../Wine-20020904.tar.gz")."""
        if self.mostly_code or CJK.search(tag):
            return False
        return self.mentions(tag) == 0 and (
            self.mentions(tag, "frame") > 0 or self.mentions(tag, "code") > 0
        )

    def only_as_heading(self, tag: str) -> bool:
        """'Abstract', 'AUTHOR', 'Chapter', 'Statement of Purpose': a phrase the document
        writes as a heading of its own ("Fixes:" over each release's list, "* Improvements";
        of more words, only ordinary ones) or before a part's number ("Chapter 1.",
        "Section 2.3"), a word in capitals as the tag spells it, and seldom besides (a
        file's path, "tests/test_colorlog.py", is not the word said); or a manual page's
        section ("名称", "이름" under "APROPOS(1)"): it names a part of the document, not a
        topic it discusses."""
        if CJK.search(tag):
            return tag.strip() in self.manual_sections
        words = re.findall(r"[^\W\d_]+", tag.casefold())
        common = self.ordinary | stopwords()
        if len(words) > 1 and not all(lemmas(w) & common for w in words):
            return False  # "Keyring Support": a heading that names a topic
        word = phrase_pattern(tag)
        alone = rf"(?m)^[ \t]*{BULLET}(?:[\w.]+[.)]?[ \t]+)?{word}:?[ \t]*$"
        numbered = rf"{word}[ \t]+(?:\d+|[IVXL]+|[A-Z])(?:\.\d+)*\b"
        case = 0 if tag.isupper() else re.IGNORECASE  # "AUTHOR" over a man page's section
        labels = len(re.findall(alone, self.prose, case)) + len(re.findall(numbered, self.prose))
        said = re.findall(rf"(?<![/.]){word}(?![/]|\.\w)", self.prose, case)
        return labels > 0 and len(said) - labels < SUBJECT_MIN_MENTIONS

    @functools.cached_property
    def manual_sections(self) -> frozenset:
        """A plain-text manual page's section headings: its lines flush left under a
        title such as "APROPOS(1)"; none for other documents."""
        if not MANUAL_TITLE.match(self.title):
            return frozenset()
        found = (ln.strip() for ln in self.prose.split("\n") if ln[:1].strip())
        return frozenset(ln for ln in found if len(ln.split()) <= 3 and ln != self.title)

    @functools.cached_property
    def credited(self) -> list[str]:
        """The names a credit gives: who wrote or made the text ("Clint Adams
        <clint@debian.org>", "barry@zope.com (Barry A. Warsaw)", "author = {Robyn
        Speer}", "Copyright (C) 1991 Thomas G. Lane", "Patch by Dong-hee Na"), and any
        name written with a middle initial ("Ian T. Henry") or in parentheses after a
        changelog's entry ("(Michael Howell)"); not an organization's ("Python Software
        Foundation")."""
        return credited_names(self.text)

    def names_a_credited_person(self, tag: str) -> bool:
        """'Robyn Speer', 'Clint', 'Barry A. Warsaw': a person the document credits, whom
        its title does not name and its text, credits aside, seldom does."""
        words = set(NAME_PART.findall(tag.casefold()))
        if not words or not any(
            words <= set(NAME_PART.findall(n.casefold())) for n in self.credited
        ):
            return False
        title, prose = self.uncredited
        if re.search(phrase_pattern(tag), title, re.IGNORECASE):
            return False
        said = re.findall(phrase_pattern(tag.casefold()), prose)
        return len(said) < PERSON_SUBJECT_MENTIONS

    @functools.cached_property
    def uncredited(self) -> tuple[str, str]:
        """The title and the prose (case-folded) without their credits, worked out once:
        ``names_a_credited_person`` asks about every candidate phrase."""
        return uncredited(self.title), uncredited(self.prose).casefold()

    def is_capitalized_ordinary_word(self, tag: str) -> bool:
        """One word of the language's ordinary ones (LABEL_WORDS), capitalized: "Method"."""
        return bool(re.fullmatch(r"[A-Z][^\W\d_]+", tag) and lemmas(tag.casefold()) & self.ordinary)

    def only_opens_lines(self, tag: str) -> bool:
        """'Method', 'Table', 'Updates', 'Type': one ordinary word, capitalized, that the
        text writes, as the tag does, only where a line begins or in a line that labels
        (is_label_line): a table's header ("Method Description", "Modifier and Type"), a
        contents list's heading ("Table of Contents"), a part's heading ("Updates since
        v1.7.8", "Type Parameters:"). A topic is named in running text as well ("Colors may
        nest"); a heading of more words may name one ("Keyword Extraction from Single
        Documents")."""
        if not self.is_capitalized_ordinary_word(tag):
            return False
        said = list(re.finditer(phrase_pattern(tag), self.text))
        opening = rf"(?:^|\n)[ \t]*{BULLET}(?:[\w.]+[.)][ \t]+)?$"
        return bool(said) and all(
            re.search(opening, self.text[max(0, m.start() - 80) : m.start()])
            or is_label_line(line_at(self.text, m.start()))
            for m in said
        )

    def part_of_a_name(self, tag: str) -> bool:
        """'Software', 'Distance', 'Standard': one ordinary word that the text capitalizes,
        three times in four or more, only inside a longer name ("Free Software
        Foundation", "Levenshtein Distance", "Standard Version"): a piece of the name,
        which may be a tag itself, not a topic. "License", which a license capitalizes on
        its own too ("this License"), stays."""
        if not self.is_capitalized_ordinary_word(tag):
            return False
        said = list(re.finditer(phrase_pattern(tag), self.text))
        capital = r"[A-Z][\w-]*"
        named = sum(
            named_beside(self.text[max(0, m.start() - 40) : m.start()], capital + r"[ \t]+$")
            or named_beside(self.text[m.end() : m.end() + 40], r"[ \t]+(?:of[ \t]+)?" + capital)
            for m in said
        )
        return bool(said) and 4 * named >= 3 * len(said)

    def opens_entries(self, tag: str) -> bool:
        """'Fix bug', 'Update Unicode': the words a changelog's entries open with, a verb
        first, never said elsewhere: the start of a clause, not a topic (English only,
        whose word classes topics.py knows)."""
        words = tag.split()
        if self.language != "en" or len(words) < 2 or "VERB" not in word_classes(words[0]):
            return False
        opening = rf"(?mi)^[ \t]*{BULLET}{phrase_pattern(tag)}[ \t]+\S"
        entries = len(re.findall(opening, self.prose))
        return entries >= ENTRIES and entries == self.mentions(tag)

    def is_placeholder(self, tag: str) -> bool:
        """'FILENAME', 'replace-str', 'len': what a synopsis or an option's line holds
        the place of ("-l len", "--replace[=replace-str]", ".open ?FILENAME?",
        "[infile [outfile]]", "<len>"), or an option's own name ("--highlight-pid"):
        half its mentions or more, as the tag is written; or a word a manual page writes
        glued to a one-letter option ("-Iincdir", "-inamefile": cscope's synopsis)."""
        if tag.isascii() and tag.isalpha() and tag.islower() and glued_to_option(tag, self.text):
            return True
        word = phrase_pattern(tag)
        said = len(re.findall(word, self.text))
        slots = len(re.findall(rf"(?:{OPTION}[ \t=]+|(?<![\w-])--?|[\[?<]){word}", self.text))
        return said > 0 and 2 * slots >= said

    def said_once(self, tag: str) -> bool:
        """A phrase the document writes once (its own lines, code included), not in its
        title or first line nor as a heading: a detail, not what it is about ("suitable
        place", "World Wide Web")."""
        if self.sayings(tag) >= PHRASE_REPEATS:
            return False
        first = next((ln for ln in self.text.split("\n") if ln.strip()), "")
        pattern = phrase_pattern(tag)
        if re.search(pattern, f"{self.title}\n{first}", re.IGNORECASE):
            return False
        lines = (ln.strip() for ln in self.prose.split("\n"))
        return not any(
            reads_as_heading(ln) for ln in lines if re.search(pattern, ln, re.IGNORECASE)
        )

    def opening(self) -> str:
        """The text's first line when it is a heading (no sentence, a few words), or the
        capitalized words its first sentence opens with ("Rich" of "Rich is a ...")."""
        first = next((ln.strip() for ln in self.prose.split("\n") if ln.strip()), "")
        if not first:
            return ""
        if reads_as_heading(first):
            return first
        leading = re.match(r"(?:[A-Z][\w.+#-]*\s)+", first + " ")
        return leading[0].strip() if leading else ""

    def is_code_name(self, tag: str) -> bool:
        """'ERROR', 'STREAM', 'len', 'msg': a name of the document's code, not a topic.
        One word that its sentences never write as the tag does (only its code, or inside
        longer identifiers: Z_STREAM_ERROR); a word of the language in capitals (a
        constant's spelling, or a manual's section: "ELEMENT", "AUTHOR"; an acronym such
        as "JSON" is no word) or a constant's name (Z_STREAM_END); or a short lowercase
        name, no common word of the language, that its code uses ("len", "buf", "msg")."""
        if not IDENTIFIER.fullmatch(tag):
            return False
        if tag.isupper() and ("_" in tag.strip("_") or tag.casefold() in self.ordinary):
            return True  # "Z_STREAM_END", "ERROR", "COMMIT"
        in_code = re.search(rf"(?<![\w]){re.escape(tag)}(?!\w)", self.code)
        short = tag.islower() and len(tag) <= SHORT_NAME
        if in_code and short and rarity(tag, self.language) >= RARE_WORD:
            return True
        if self.mostly_code:
            return False  # a program's own names are what a source file is about
        in_prose = re.search(rf"(?<![\w.>:-]){re.escape(tag)}(?!\w|::|->)", self.prose)
        return not in_prose and tag in self.text


def glued_to_option(word: str, text: str) -> bool:
    """Whether ``text`` writes ``word`` right after a one-letter option ("-Iincdir")."""
    return bool(re.search(rf"(?<![\w-])-[A-Za-z]{re.escape(word)}(?![\w-])", text))


def named_beside(text: str, pattern: str) -> bool:
    """Whether ``text`` holds, where ``pattern`` finds it, a capitalized word that is no
    stopword ("Free" of "Free Software"; not "The" opening a sentence)."""
    found = re.search(pattern, text)
    return bool(found) and found[0].split()[-1].casefold() not in stopwords()


@functools.lru_cache(maxsize=8)
def _lines_of(text: str, title: str) -> DocumentLines:
    lines = text.split("\n")
    opening = "\n".join([title, *[ln for ln in lines if ln.strip()][:BYLINE_LINES]])
    named = [*writers(text), *BYLINE.findall(opening)]
    speakers = chat_speakers(lines)
    filled = [i for i, ln in enumerate(lines) if ln.strip()]
    footer = filled[-1] if len(filled) >= FOOTER_MIN_LINES else None
    prose, frame, code = [], [], []
    in_code = code_lines(lines)
    for i, line in enumerate(lines):
        if i == footer and is_footer(line):
            frame.append(line)
        elif i in in_code:
            code.append(line)
        elif is_listing_line(line) or is_header_line(line, lines[i + 1 : i + 4]):
            frame.append(line)
        elif introduces_quote(lines, i):
            frame.append(line)  # "Excerpts from ...: a MIME-Version misfeature" / "Mark ..."
            named.extend(quoted_name(line))
        elif (speakers and (m := SPEAKER_LINE.match(line)) and m[1] in speakers) or (
            line.startswith(QUOTED)
        ):
            head, _, said = line.partition(": ")  # "nick: text"; the reader's "Quoted: “...”"
            frame.append(head)
            prose.append(said)
        else:
            prose.append(line)
    for i, line in enumerate(prose):  # a link's words frame the sentence that holds it
        frame.extend(URL.findall(line))
        prose[i] = URL.sub(" ", line)
    own = [ln for ln in prose if ln.strip()]
    return DocumentLines(
        text=text,
        title=title,
        prose="\n".join(prose),
        frame="\n".join(frame),
        code="\n".join(code),
        writers=named,
        speakers=speakers,
        language=guess_language(text),
        mostly_code=len(own) < len([ln for ln in code if ln.strip()]),
    )


# --- Key phrases ---------------------------------------------------------------------


def key_phrases(reading: Reading, limit: int = KEY_PHRASES) -> list[str]:
    """Up to ``limit`` phrases the document names its subject with, best first: the
    subject its title names, its opening name, its headings that its text repeats, and
    the noun phrases YAKE scores best in its own lines (none from who-wrote lines,
    attribution lines, listings, code or a footer; no single common word unless it is
    the subject; no writer's name unless the text is about them)."""
    from .repairs.tags import normalize_tags, tag_key

    lines = DocumentLines.of(reading.text, reading.title)
    subject = lines.subjects
    found = [*subject, *repeated_headings(lines), *yake_phrases(lines, limit * 3)]
    kept: list[str] = []
    seen = set()
    for phrase in normalize_tags(found, len(found)):
        key = tag_key(phrase)
        if key in seen:
            continue
        if phrase not in subject and (
            not worth_a_tag(phrase, lines)
            or not names_a_topic(phrase, lines)
            or inside(phrase, kept, lines)
        ):
            continue
        seen.add(key)
        kept.append(phrase)
        if len(kept) == limit:
            break
    return kept


def inside(phrase: str, kept: list[str], lines: DocumentLines) -> bool:
    """'Ian' after 'Ian Murdock': a part of a phrase already kept that the text seldom
    writes apart from it ("Debian" apart from "Debian Project" it writes often); and
    'Derivative Works thereof' after 'Derivative Works': a phrase already kept with a
    lowercase word more, written less than half as often."""
    words = set(phrase.casefold().split())
    for other in kept:
        around = set(other.casefold().split())
        if words < around:
            return lines.mentions(phrase) - lines.mentions(other) < SUBJECT_MIN_MENTIONS
        extra = [w for w in phrase.split() if w.casefold() not in around]
        if around < words and all(w.islower() for w in extra):  # not "Free Software Foundation"
            return 2 * lines.mentions(phrase) < lines.mentions(other)
    return False


def worth_a_tag(tag: str, lines: DocumentLines) -> bool:
    """A phrase that could name what the document is about: one it writes more than once
    (or in its head: "Zen of Python"); a tag's shape (what the tags grammar allows; a
    small word inside only in a name: "Windows on Unix", "Lord of the Rings", not
    "changing the BNF"); one lowercase word only when it is no common word of the
    language ("rsync", not "locations"); and nothing that only frames the document (repairs/tags.py ``frames_the_document``: a writer's name, a listing's or a
    footer's words, a code name, a part's label, only common words)."""
    from .repairs.tags import frames_the_document, is_name

    words = tag.split()
    small_inside = any(w.casefold() in stopwords() for w in words[:-1]) and not is_name(tag)
    dotted = re.match(r"\.\w*[._]", tag)  # ".UserManager.acreate_user"; ".NET" is a name
    if not CLEAN_PHRASE.match(tag) or small_inside or dotted:
        return False  # "changing the BNF", "BNF to permit": pieces of a sentence
    if BYLINE.search(tag):
        return False  # "Patch by Dong-hee": a credit, not a topic
    in_head = re.search(phrase_pattern(tag), lines.head, re.IGNORECASE)
    if lines.sayings(tag) < PHRASE_REPEATS and not in_head:
        return False  # "JIS.pm" of "SHIFT_JIS.pm"; "superfluous baggage", said once
    if tag.islower() and " " not in tag and rarity(tag, lines.language) < RARE_WORD:
        return False  # "returns", "locations", "stream": a word of the language, no subject
    return not frames_the_document(tag, lines)


def line_at(text: str, i: int) -> str:
    """The line of ``text`` that holds position ``i``."""
    end = text.find("\n", i)
    return text[text.rfind("\n", 0, i) + 1 : end if end >= 0 else len(text)]


def is_label_line(line: str) -> bool:
    """A line that labels rather than says: a heading or a table's header ("Modifier and
    Type"), or a few words before a colon ("- Type Parameters:")."""
    words = re.sub(rf"^[ \t]*{BULLET}", "", line).strip()
    return reads_as_heading(words) or bool(re.fullmatch(r"[^.!?:]{1,60}:", words))


def reads_as_heading(line: str) -> bool:
    """A line of a few words (HEADING_MAX_WORDS) that ends as no sentence does."""
    return 0 < len(line.split()) <= HEADING_MAX_WORDS and not re.search(r"[.!?:;,]$", line)


def repeated_headings(lines: DocumentLines) -> list[str]:
    """Headings (short lines alone between blank lines, no sentence) whose words the text
    uses again, most mentioned first."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", lines.prose)]
    found = Counter()
    for block in blocks:
        if "\n" in block or not reads_as_heading(block) or not re.search(r"[^\W\d_]", block):
            continue
        n = lines.mentions(block)
        if n >= 2:
            found[block] = n
    return [h for h, _ in found.most_common()]


def yake_phrases(lines: DocumentLines, top: int) -> list[str]:
    """YAKE's best 1-3 word phrases of the document's own lines (its language's stopwords
    and those of the common languages end a phrase). A paragraph, a heading or an item that
    ends without punctuation still ends a phrase; the lines of a wrapped paragraph do not
    (a heading is not joined to the next line, and "as Mark / suggests" stays one sentence)."""
    text = lines.prose
    if not text.strip():
        return []
    try:
        import yake

        extractor = yake.KeywordExtractor(
            n=3, top=top, dedup_lim=0.7, stopwords=stopwords() | language_stopwords(lines.language)
        )
        return [phrase for phrase, _ in extractor.extract_keywords(sentences_of(text))]
    except Exception:
        log.exception("key phrase extraction failed")
        return []


def sentences_of(text: str) -> str:
    """The text with each paragraph on one line ending in punctuation; list items, and a
    heading over an indented paragraph ("SYNOPSIS" over "       git bisect ..."), apart."""
    out = []
    for block in re.split(r"\n\s*\n", text[:YAKE_MAX_CHARS]):
        lines = block.strip("\n").split("\n")
        for i, line in enumerate(lines[:-1]):
            indent = len(line) - len(line.lstrip())
            deeper = len(lines[i + 1]) - len(lines[i + 1].lstrip()) > indent
            item = re.match(r"\s*(?:[-*•○]|\d+[.)])\s", lines[i + 1])
            if (deeper or item) and not re.search(r"[.!?:;,]$", line.strip()):
                lines[i] = line.rstrip() + "."
        joined = " ".join(" ".join(lines).split())
        if joined:
            out.append(joined if re.search(r"[.!?。！？:;]$", joined) else joined + ".")
    return "\n".join(out)
