"""Whether a document supports a summary sentence: what the sentence asserts, not only
which words it uses.

Counting a sentence's content words found anywhere in its document let an invented claim
made of the document's words through (issue 25: "git branch --edit-description was
removed" on release notes that say it "is now a way to edit branch description"). A
sentence is supported here when

1. every name, number and identifier it writes occurs in the document as written, case
   and a plural aside (``unsupported_facts``, ``unknown_identifiers``): SmolLM2 wrote
   "skip_bad_branches", "Git-commit(2)" and "Git-gitbisect" about git documents that
   hold none of them;
2. its content words are found together (``best_place``): one window of WINDOW
   consecutive sentences of the document, with the document's subject (``subject_stems``),
   holds them all by stem, but for a few (``allowed_misses``)
   that the document never uses, the words a paraphrase brings ("lets", "thinks"). A
   word the document uses in another place is never excused: a claim that carries it
   here is assembled from words scattered over the document (SmolLM2's answers are
   made of the document's words: its decoding favours them); nor is the sentence's last
   content word, where its new information stands ("It offers many features of other
   languages but has its own set of limitations" of a tutorial that names none);
3. what it asserts of them is there too (English): a word the sentence predicates
   ("was removed", "is used to create") is in that window (``predicates``), and the
   window neither denies what the sentence affirms ("most applications still do not
   work" against "most applications work") nor holds no negation where the sentence
   denies (``contradiction``).

A sentence that speaks of the whole document ("This document provides a guide to
self-signed certificates", ``speaks_of_the_whole``) says what the document as a whole is
about: its words must be found in the document's opening (its first OPENING_SENTENCES
sentences: a title, a synopsis, an abstract, a message's first lines), not in any one
place. SmolLM2 called an OpenSSL how-to on getting a certificate "a guide to creating and
using self-signed certs", from its fourth section.

A model too small to say a document in its own words (repairs/answer.OWN_WORDS_PARAMS)
has its sentences kept only when they are the document's words (``copies_the_document``):
one sentence of it, or two in a row, from its start (EDGE words aside), with words left
out but none added or reordered, and no "not", "except", "unless" or "only" among the
words left out between them or just after them ("All rights in the Program are reserved."
of "All rights in the Program not expressly granted under this Agreement are reserved."
changes what the licence says).

Words a summary uses to speak of its document ("the guide explains", "this chapter
covers", REPORTING_WORDS) are not asked of the document. In another language than the
document's (``translated``) only names, numbers and identifiers are checked.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, field

from ..reading.email import ATTRIBUTION, WHO_WROTE
from ..text import CJK, LETTERS, content_words, guess_language, identify_language, split_sentences
from ..text import stem as snowball_stem

WINDOW = 3  # consecutive sentences a claim's words must be found in
OPENING_WORDS = 6  # the opening: the first line (a title) and the first sentence of this
# many words (what the document is: "This is release 20020904 of Wine, a free ...")
SUBJECT_PLACES = 3  # an opening word found in this many places is the document's subject
OPENING_SENTENCES = 2 * WINDOW  # what the whole document is said to be about is in these
MIN_SHARE = 0.75  # of a sentence's content words (by stem) found in one window
NEGATION_SCOPE = 3  # content words after "not" that it denies
# General English: what a summary calls the document and what it says the document does.
# A summary may use them of any document ("The guide explains ...", "The notes list ...").
REPORTING_WORDS = frozenset(
    "document documents text texts article page pages guide manual tutorial chapter "
    "section sections notes report book readme summary "
    "overview introduction describe describes described explain explains explained cover "
    "covers covered discuss discusses discussed introduce introduces introduced present "
    "presents presented outline outlines list lists listed show shows shown mention "
    "mentions mentioned recommend recommends recommended provide provides provided offer "
    "offers include includes included detail details focus focuses highlight highlights "
    "summarize summarizes".split()
)
# English auxiliaries: the content word after one (past modifiers) is what a sentence
# asserts ("was removed", "can be combined"), as is the verb after "to".
AUXILIARIES = frozenset(
    "is are was were be been being has have had will would can could may might must "
    "shall should does did do get gets got to".split()
)
MODIFIERS = frozenset(
    "not never no longer also now only still already always often just then be been being "
    "usually mostly generally a an the this that these those its their his her our your "
    "some any very more most much".split()
)
OPPOSITE_PREFIXES = ("dis", "un", "non")
NEGATIONS = frozenset("not no never cannot without none neither nor nothing".split())
# Words whose leaving out turns what a sentence says around: a negation, an exception.
UNSAFE_TO_DROP = NEGATIONS | frozenset("except unless only".split())
EDGE = 3  # words next to a copy's ends that must not be UNSAFE_TO_DROP ("... unless ...")
# A sentence's words for copies_the_document: each CJK character is one.
WORD = re.compile(rf"{CJK.pattern}|[^\W_]+")
# "This document ...", "The Git manual page ...", "In short, the guide ...": a sentence
# whose subject is the document itself (not "the text of the licence", a part of it).
WHOLE_DOCUMENT = re.compile(
    r"^\W*(?:(?:in short|in brief|in summary|overall),\s*)?(?:this|the)\s+(?:[\w'’-]+\s+){0,2}?"
    r"(?:document|text|article|page|guide|manual|tutorial|readme|notes|report|how-?to"
    r"|e-?mail|message)\b(?![-'’])(?!\s+(?:of|for|from|to|in|at|on|by)\b)",
    re.IGNORECASE,
)
LIST_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
HIRAGANA = re.compile(r"[\u3040-\u309f]")

NAME = re.compile(r"(?<![\w.])[A-Z][\w'’.+#-]*[\w+#]|(?<![\w.])[A-Z](?![\w.])")
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,:]\d+)*")
# Code-like tokens, which no paraphrase changes: an option (--edit-description), a manual
# page or a call (git-commit(1), sorted()), snake_case, camelCase inside a word (macOS,
# ReadImage), and dotted names (str.lower, Node.js, CharEnt.pm, .env).
IDENTIFIER = re.compile(
    r"(?<![\w-])--?[A-Za-z][\w-]*"
    r"|(?<![\w.])[A-Za-z_][\w.:-]*\(\w*\)"
    r"|(?<![\w.])[A-Za-z]\w*_\w+"
    r"|(?<![\w.])\w*[a-z][A-Z]\w*"
    r"|(?<![\w.])\.?[A-Za-z][\w-]*(?:\.\w[\w-]*)+"
)
NOUN_CAPITALIZING = ("de", "lb")  # languages that capitalize every noun


@dataclass
class Support:
    """Why a sentence is or is not supported: what its document lacks, and how much of
    it one place of the document holds."""

    facts: list[str] = field(default_factory=list)  # names and numbers not in the document
    identifiers: list[str] = field(default_factory=list)  # code-like tokens not in it
    missing: list[str] = field(default_factory=list)  # content words its place lacks
    elsewhere: list[str] = field(default_factory=list)  # ...that another place has
    predicates: list[str] = field(default_factory=list)  # asserted words its place lacks
    last: list[str] = field(default_factory=list)  # its last content word, if the place lacks it
    contradicted: list[str] = field(default_factory=list)  # words the place says otherwise
    found: int = 0
    total: int = 0
    placed: bool = False  # its content words were looked for in the document's places

    @property
    def ok(self) -> bool:
        return not (
            (self.placed and not self.total)  # "It keeps each message.": nothing to find
            or self.facts
            or self.identifiers
            or self.predicates
            or self.last
            or self.contradicted
            or self.elsewhere
            or self.total - self.found > allowed_misses(self.total)
        )


def check_support(sentence: str, document: str, translated: bool = False) -> Support:
    """What of ``sentence`` its ``document`` supports (see the module docstring)."""
    places = document_places(document)
    verdict = Support(
        facts=unsupported_facts(sentence, places),
        identifiers=unknown_identifiers(sentence, places.folded),
    )
    if translated:
        return verdict
    verdict.placed = True
    ordered = ordered_claim_stems(sentence, places.language)
    stems = frozenset(ordered)
    if not stems:
        return verdict
    if speaks_of_the_whole(sentence):
        region = places.region(0, OPENING_SENTENCES)
    else:
        region = places.region(best_place(stems, places))
    verdict.total = len(stems)
    verdict.found = len(stems & region.stems)
    verdict.missing = sorted(stems - region.stems)
    verdict.elsewhere = [s for s in verdict.missing if s in places.index]
    last = ordered[-1]
    verdict.last = [last] if last not in region.stems else []
    if places.language == "en":
        asserted = {stem(w, "en") for w in predicates(sentence)}
        verdict.predicates = sorted(asserted - region.stems)
        verdict.contradicted = contradiction(sentence, region)
    return verdict


def copies_the_document(sentence: str, document: str) -> bool:
    """Whether ``sentence`` is the document's own words: those of one sentence of it, or
    of two in a row, in order, some left out but none that is UNSAFE_TO_DROP (see the
    module docstring). SmolLM2 wrote "This is a self-signed certificate that can be used
    for local testing." of a tutorial on making one, "A new version of cloudpickle." of
    its README: each word is the document's, the claim is not."""
    words = WORD.findall(sentence.casefold())
    places = document_places(document)
    if not words or not set(words) <= places.copy_words:
        return False
    return any(safe_subsequence(words, run) for run in places.word_runs)


def safe_subsequence(words: list[str], run: list[str]) -> bool:
    """Whether ``words`` are ``run`` with some words left out, none UNSAFE_TO_DROP between
    them or in the EDGE words after them, and at most EDGE before them (a heading run
    into the sentence, "However,"): a copy begins where the document's sentence does.
    SmolLM2 began one of bzip2's halfway, "LZ77/LZ78-based compressors, and approaches
    the performance of the PPM family ..."."""
    at = 0
    for i, word in enumerate(words):
        start = at
        while at < len(run) and run[at] != word:
            at += 1
        if at == len(run) or UNSAFE_TO_DROP.intersection(run[start:at]):
            return False
        if i == 0 and at > EDGE:
            return False
        at += 1
    return not UNSAFE_TO_DROP.intersection(run[at : at + EDGE])


def speaks_of_the_whole(sentence: str) -> bool:
    """Whether the sentence's subject is the document itself (WHOLE_DOCUMENT)."""
    return bool(WHOLE_DOCUMENT.match(sentence))


def allowed_misses(total: int) -> int:
    """How many of a sentence's ``total`` content words its place may lack: a quarter
    (MIN_SHARE), and one in a sentence of three or more, for the noun a paraphrase adds
    ("Microsoft maintains both languages" of "Microsoft maintains them")."""
    return 0 if total < 3 else max(1, int(total * (1 - MIN_SHARE)))


@functools.lru_cache(maxsize=65536)
def stem(word: str, language: str) -> str:
    """A word's stem (text.stem), remembered: a document's words recur, and Snowball in
    pure Python takes a millisecond a word on a busy core."""
    return snowball_stem(word, language)


# --- The document as places --------------------------------------------------------------


@dataclass
class Region:
    """The stems of a few consecutive sentences, and which of them are denied there."""

    stems: frozenset
    denied: frozenset  # stems that follow a negation in some sentence of the region
    affirmed: frozenset  # stems that occur without one
    negates: bool  # a negation occurs in the region


class Places:
    """A document as its sentences in order, each with its content stems."""

    def __init__(self, document: str) -> None:
        self.language = guess_language(document)
        self.document = document
        self.folded = document.casefold()
        self.words = frozenset(re.findall(r"\w+", self.folded))
        self.sentences = document_sentences(document)
        self.stems = [claim_stems(s, self.language) for s in self.sentences]
        self.index: dict[str, list[int]] = {}
        for i, stems in enumerate(self.stems):
            for s in stems:
                self.index.setdefault(s, []).append(i)
        self._stems_of_words: set[str] | None = None
        self.subject = self.subject_stems(document)
        lines = [x for x in document.splitlines() if is_attribution(x.strip())]
        # The stems of the lines that say who wrote (None: the document has none).
        self.attribution = claim_stems(" ".join(lines), self.language) if lines else None

    def subject_stems(self, document: str) -> frozenset:
        """What any sentence of a summary may name besides its place's words: the words
        of the opening that recur in SUBJECT_PLACES places (Wine, jq, Django: "it" in
        the rest), and who wrote the message (the "I" of every sentence of an e-mail).
        Not every word of the opening: "improved Windows support" takes "Windows" from
        the Wine notes' first sentence and "improved ... support" from their list."""
        first = (i for i, x in enumerate(self.sentences) if i and len(x.split()) >= OPENING_WORDS)
        opening = self.stems[0] | self.stems[next(first, 0)]
        recurring = {s for s in opening if len(self.index.get(s, ())) >= SUBJECT_PLACES}
        writers = " ".join(
            " ".join(part for part in match.group("sender", "to", "cc") if part)
            for match in map(WHO_WROTE.match, document.splitlines())
            if match
        )
        return frozenset(recurring) | claim_stems(writers, self.language)

    def region(self, start: int, size: int = WINDOW) -> Region:
        """Sentences ``start`` to ``start + size``, and the document's subject."""
        chosen = range(start, min(start + size, len(self.sentences)))
        texts = [self.sentences[i] for i in chosen]
        denied: set[str] = set()
        affirmed: set[str] = set()
        for text in texts:
            no, yes = polarity(text, self.language)
            denied |= no
            affirmed |= yes
        stems = self.subject.union(*(self.stems[i] for i in chosen))
        negates = any(negation_at(w) for t in texts for w in tokens(t))
        return Region(stems, frozenset(denied), frozenset(affirmed), negates)

    @functools.cached_property
    def word_runs(self) -> list[list[str]]:
        """The words of each sentence (and list item) and of each two in a row, for
        copies_the_document."""
        words = [WORD.findall(s.casefold()) for s in copy_units(self.document)]
        return words + [a + b for a, b in itertools.pairwise(words)]

    @functools.cached_property
    def copy_words(self) -> frozenset:
        """Every word of the document as copies_the_document counts them."""
        return frozenset(WORD.findall(self.folded))

    def has_word(self, word: str) -> bool:
        """Whether the document uses ``word``, or a word of the same stem."""
        folded = word.casefold()
        if folded in self.words:
            return True
        if self._stems_of_words is None:
            self._stems_of_words = {stem(w, self.language) for w in self.words}
        return stem(folded, self.language) in self._stems_of_words


def is_attribution(line: str) -> bool:
    """A line that says who wrote: the e-mail reader's "X wrote to Y on DATE." or a
    quoting client's "On DATE, X wrote:"."""
    return bool(WHO_WROTE.match(line) or ATTRIBUTION.match(line))


@functools.lru_cache(maxsize=32)
def document_places(document: str) -> Places:
    """The document's places, made once per document (a batch holds up to 32)."""
    return Places(document)


def document_sentences(document: str) -> list[str]:
    """The document's sentences in order: each paragraph, its lines joined, split by the
    segmenter; a list (lines that start with a bullet or a number) is one place, as a
    summary says its items together ("improved PowerPC support, more correct locale
    definitions and many bug fixes")."""
    found = []
    for para in re.split(r"\n\s*\n", document):
        lines = [line for line in para.splitlines() if line.strip()]
        joined = " ".join(para.split())
        if len(lines) > 1 and sum(bool(LIST_LINE.match(x)) for x in lines) >= len(lines) - 1:
            found.append(joined)
        else:
            found.extend(split_sentences(joined))
    return found or [document]


def copy_units(document: str) -> list[str]:
    """The document's sentences as a copy of one begins: each paragraph's, each item of
    a list its own (document_sentences holds a list's items together), without its mark."""
    units = []
    for para in re.split(r"\n\s*\n", document):
        items = re.split(r"\n(?=\s*(?:[-*•]|\d+[.)])\s)", para)
        for item in items:
            units.extend(split_sentences(" ".join(LIST_LINE.sub("", item).split())))
    return units


def best_place(stems: frozenset, places: Places) -> int:
    """The first sentence of the window that holds most of ``stems`` (the earliest of
    equals)."""
    starts = sorted(
        {max(0, i - k) for s in stems for i in places.index.get(s, ()) for k in range(WINDOW)}
    )
    best, best_found = 0, -1
    for start in starts:
        found = _found(stems, places, start)
        if found > best_found:
            best, best_found = start, found
    return best


def _found(stems: frozenset, places: Places, start: int) -> int:
    held = set(places.subject)
    for i in range(start, min(start + WINDOW, len(places.stems))):
        held |= places.stems[i]
    return len(stems & held)


# --- What a sentence claims --------------------------------------------------------------


def claim_stems(text: str, language: str) -> frozenset:
    """The stems of ``text``'s content words a document must hold: not the words a
    summary speaks of its document with, nor CJK pairs with a kana particle in them."""
    return frozenset(ordered_claim_stems(text, language))


def ordered_claim_stems(text: str, language: str) -> list[str]:
    found = []
    for word in content_words(text):
        if CJK.match(word):
            if not HIRAGANA.search(word):
                found.append(word)
        elif word not in REPORTING_WORDS:
            found.append(stem(word, language))
    return found


def tokens(text: str) -> list[str]:
    return re.findall(r"[\w'’-]+", text.casefold())


def negation_at(word: str) -> bool:
    return word in NEGATIONS or word.endswith(("n't", "n’t"))


def predicates(sentence: str) -> list[str]:
    """The words an English sentence asserts: the content word after an auxiliary (past
    "not", "also", "now", an article ...): "removed" in "was removed", "combined" in "can
    be combined", "create" in "is used to create", "extension" in "jq is an extension of
    the command-line JSON processor jq"."""
    words = tokens(sentence)
    found = []
    for i, word in enumerate(words):
        if word not in AUXILIARIES:
            continue
        j = i + 1
        while j < len(words) and (words[j] in MODIFIERS or negation_at(words[j])):
            j += 1
        if j < len(words) and words[j] in content_words(words[j]):
            found.append(words[j])
    return [w for w in found if w not in REPORTING_WORDS]


def polarity(text: str, language: str) -> tuple[set[str], set[str]]:
    """The stems ``text`` denies (the NEGATION_SCOPE content words after a negation:
    "work" and "correctly" in "do not work correctly", "reptiles" in "nothing to do with
    reptiles") and the ones it says without one."""
    denied, affirmed = set(), set()
    scope = 0
    for word in tokens(text):
        if negation_at(word):
            scope = NEGATION_SCOPE
            continue
        for part in content_words(word):
            (denied if scope else affirmed).add(stem(part, language))
            scope = max(0, scope - 1)
    return denied, affirmed


def contradiction(sentence: str, region: Region) -> list[str]:
    """What the sentence affirms that its place only denies ("most applications work"
    where the document says they "do not work"), the opposite its place says
    (opposite_in), or, when the sentence denies, that its place holds no negation ("The
    shell command no longer imports models" where the notes say it "now automatically
    imports models"). Which words a negation covers differs between two wordings of one
    claim, so a denial is only asked to have a negation near it."""
    denied, affirmed = polarity(sentence, "en")
    said = sorted(s for s in affirmed if s in region.denied and s not in region.affirmed)
    said += [w for w in content_words(sentence) if opposite_in(w, region.stems)]
    if denied and not region.negates:
        said += sorted(denied)
    return said


def opposite_in(word: str, stems: frozenset) -> bool:
    """Whether ``stems`` hold the word's opposite by prefix but not the word: "agrees"
    where the document says "disagree", "implemented" where it says "unimplemented"."""
    if stem(word, "en") in stems:
        return False
    for prefix in OPPOSITE_PREFIXES:
        if stem(prefix + word, "en") in stems:
            return True
        if word.startswith(prefix) and stem(word[len(prefix) :], "en") in stems:
            return True
    return False


# --- Names, numbers and identifiers ------------------------------------------------------


def facts_of(sentence: str) -> list[str]:
    """The names and numbers of a sentence: capitalized words not at its start, and
    numbers. bench/quality.py counts the same way."""
    first = LETTERS.search(sentence)  # the opening word, after any quote or mark
    opening = first.group(0) if first else ""
    rest = sentence[first.end() :] if first else ""
    rest = rest.split(maxsplit=1)[1] if rest[:1].isalnum() and " " in rest else rest
    names = [m.group(0) for m in NAME.finditer(rest) if m.group(0) != "I"]
    if len(opening) > 1 and opening.isupper():
        names.insert(0, opening)  # "CULINARY: ..." is a name even as the first word
    return names + NUMBER.findall(sentence)


def capitalizes_nouns(sentence: str) -> bool:
    """German (and Luxembourgish) capitalizes every noun, so there a capital letter does
    not mark a name: a sentence the language identifier names so (text.identify_language;
    it replaces a share of German function words tuned on the corpus's one German text)."""
    return identify_language(sentence) in NOUN_CAPITALIZING


def unsupported_facts(sentence: str, places: Places) -> list[str]:
    """The names and numbers of ``sentence`` that its document does not write: a number
    as a whole number ("12" is not in "2012"), a name as written or as all its words
    ("Kennedy's", "Bennets"); each word of a hyphenated name counts ("Git-gitbisect":
    git is a document word, gitbisect is not)."""
    missing = []
    nouns = capitalizes_nouns(sentence)
    for fact in facts_of(sentence):
        if fact[0].isdigit():
            if not has_number(fact, places.folded):
                missing.append(fact)
            continue
        if nouns:
            continue
        key = re.sub(r"['’]s$|(?<=s)['’]$", "", fact.casefold())
        if key.endswith("s") and key[:-1] in places.words:
            key = key[:-1]
        if key in places.folded:
            continue
        parts = re.findall(r"[^\W_]+", key)
        named = [p for p in re.findall(r"[^\W_]+", fact) if not p[0].islower()]
        if all(p.casefold() in places.words for p in named) and all(
            places.has_word(p) for p in parts if p not in {n.casefold() for n in named}
        ):
            continue
        missing.append(fact)
    return missing


def has_number(number: str, folded: str) -> bool:
    """Whether the document writes ``number`` as a whole number (1,000 as 1000 too)."""
    for form in dict.fromkeys((number, number.replace(",", ""))):
        if re.search(r"(?<![\d.,])" + re.escape(form) + r"(?![\d]|[.,:]\d)", folded):
            return True
    return False


def identifiers_of(sentence: str) -> list[str]:
    """The code-like tokens of ``sentence`` (IDENTIFIER); abbreviations such as "e.g.",
    "U.S." and "z.B." are none."""
    found = []
    for match in IDENTIFIER.finditer(sentence):
        token = match.group(0).rstrip(".-:")
        parts = re.findall(r"[^\W_]+", token)
        if "." in token and not re.search(r"[_()\-]", token) and all(len(p) <= 2 for p in parts):
            continue  # e.g., U.S., z.B., a.k.a.
        if token.replace(".", "").isdigit():
            continue
        found.append(token)
    return found


def unknown_identifiers(sentence: str, folded_document: str) -> list[str]:
    """The identifiers of ``sentence`` its document never writes, case and a plural
    aside: "skip_bad_branches", "git-commit(2)" where the page is git-commit(1)."""
    missing = []
    for token in identifiers_of(sentence):
        key = token.casefold()
        forms = {key, re.sub(r"(?:['’]s|s)$", "", key)}
        if not any(form and form in folded_document for form in forms):
            missing.append(token)
    return missing + respelled_identifiers(sentence, folded_document)


def respelled_identifiers(sentence: str, folded_document: str) -> list[str]:
    """Words joined by hyphens where the document joins them by dots or underscores only:
    "The django-contrib-admindocs feature." of notes that write django.contrib.admindocs
    (SmolLM2's one-sentence summary of the Django 5.2 notes)."""
    found = []
    for token in re.findall(r"(?<![\w.-])[A-Za-z]\w*(?:-\w+)+", sentence):
        key = token.casefold()
        dotted = (key.replace("-", "."), key.replace("-", "_"))
        if key not in folded_document and any(f in folded_document for f in dotted):
            found.append(token)
    return found
