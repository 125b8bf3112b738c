"""The document's own sentences, chosen to summarize it: what a summary holds in place of
the model's sentences that its document does not support.

A 135M model cannot write faithful prose about most documents, and a good one-sentence
summary of an e-mail or a manual page is often a sentence the document already has. So
``extractive_sentences`` picks the document's most central sentences: each scored by how
close its words are to the words of the whole document (a TF-IDF centroid over word
stems, as MEAD does), the document's opening favoured (a manual's statement of purpose,
an e-mail's first substantive sentence), near-repeats left out, the chosen ones in
document order.

Only prose is a candidate (``prose_lines``, ``is_candidate``): never a synopsis or a
command line, code, a table row, a heading, a header or attribution line ("X wrote:",
the reader's "X wrote to Y on DATE."), a quoted reply, a sentence about the document
that says nothing of its content, a pointer to elsewhere ("See the README ..."), or a
sentence with a template's placeholders. A chosen sentence is trimmed where safe
(``trimmed``): a parenthesis goes, and when it is too long a trailing example clause,
only while what is left is still a sentence.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..repairs.answer import SPECIAL_TOKEN_SHAPE, Answer, drop_markup
from ..repairs.summaries import (
    in_title_case,
    is_label,
    is_table_row,
    starts_as_fragment,
    talks_about_itself,
)
from ..repairs.support import IDENTIFIER, is_attribution, stem
from ..repairs.tags import help_description
from ..text import (
    CJK,
    ENDS_SENTENCE,
    LETTERS,
    content_words,
    full_stop,
    guess_language,
    is_sentence,
    split_sentences,
)
from ..topics import word_classes

MIN_WORDS = 6  # a sentence shorter than this says too little to stand for a document
MAX_WORDS = 45  # ...and one longer than this (after trimming) is too much for a summary
MIN_CJK_CHARS = 12  # the same for CJK text, counted in characters
MAX_CJK_CHARS = 120
# A score is a sentence's dot product with the document's centroid over its length to
# this power: 1 is the cosine, which favoured five-word sentences ("Python is just the
# language for you."); 0 is MEAD's sum, which favours the longest.
LENGTH_POWER = 0.5
LEAD_WEIGHT = 1.0  # the opening's bonus, as a share of the best centroid score
LEAD_SPAN = 5  # ...given to the first candidates, falling off over this many
NEAR_REPEAT = 0.6  # a candidate sharing this share of its stems with a chosen one repeats it
# A transcript line opens with its speaker ("NCommander: ..."); the utterance is the prose.
SPEAKER = re.compile(r"^[\w .'-]{1,30}:\s+(?=\S)")
PROMPT = re.compile(r"^\s*(?:\$|%|#|>>>|\.\.\.|>|C:\\>|//|/\*)\s")  # or a code comment
CODE_MARKS = re.compile(r"[{}<>=;|\\\[\]]|\(\)|::|->|=>|&&")
TABLE_GAP = re.compile(r"\S(?: {3,}|\t)\S.*\S(?: {3,}|\t)\S")  # two column gaps
URL_OR_ADDRESS = re.compile(r"https?://|www\.|\b[\w.+-]+@[\w-]+\.[\w.]+")
# A template's slots, filled or not: "{version}", "%s", "<name>", "$NAME", "released on ,".
PLACEHOLDER = re.compile(
    r"\{[^}]*\}|%[sd]\b|<[^>]*>|\$[A-Z_]+|\s[,;:](?=\s)|\s\.(?=\s|$)|\b(?:on|of|in|at|to)\s*,"
)
HEADER_FIELD = re.compile(r"^(?:From|To|Cc|Subject|Date|Reply-To|Sent|Attachments):\s", re.I)
QUOTED = re.compile(r"^(?:Quoted:\s*)?(?:“.*”|\".*\"|\'.*\')$", re.S)  # a reply, an example string
POINTER = re.compile(
    r"^(?:See|Please|For more|Refer to)\b"
    r"|\b(?:is|are) available (?:at|from|on)\b|\bcan be (?:found|read|seen) (?:at|in|on)\b"
    r"|[,;:]\s+see\b"  # "For conditions of distribution and use, see the accompanying README"
)
# Who holds the rights, not what the text says: "Copyright 1991-2012, Thomas G. Lane".
COPYRIGHT = re.compile(r"\b[Cc]opyright\b|©|\([Cc]\)\s*\d")
# A line cut before its object: "Send Ppp mailing list submissions to" (the address stood
# on the next line), no fallback sentence.
CUT_SHORT = re.compile(r"\b(?:to|the|an?|and|or|from|into|of|at|by|with)$")
# A demonstrative pronoun opens it: what it stands for is in the sentence before ("This
# allows for ...", "This disables password authentication ..."); one before a noun ("This
# module provides ...", "This set of features") or "This is" ("This is release 20020904 of
# Wine") is kept, and so is "It", which mostly stands for what the text is about.
PRONOUN = re.compile(r"^(?:This|That|These|Those)\s+(\w+)")
SHOUTED = 0.8  # of a sentence's letters in capitals: a heading or a disclaimer, not prose
# A sentence that goes on from the one before it ("Moreover, ...", "Which is ...") does not
# stand alone.
CONTINUATION = re.compile(
    r"^(?:Moreover|Furthermore|However|Also|Therefore|Thus|Hence|So|But|And|Or|Then"
    r"|In addition|Otherwise|Which|Whose|Who)\b"
)
EXAMPLE_OPENING = re.compile(r"^(?:For example|For instance|E\.g\.|Example|Note)\b[,:]?", re.I)
PARENTHESIS = re.compile(r"\s*\([^()]*\)")
EXAMPLE_TAIL = re.compile(
    r",?\s+(?:for example|for instance|such as|e\.g\.|including|like)\b[^.;]*"
)
LEADING_MARK = re.compile(
    r"^(?:\d+[.)]?\s+(?=[A-Z])|\"\"\"|\'\'\'|#+\s+)"
)  # a verse number, a docstring's quotes
LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
NO_ANSWER = Answer()  # the sentence rules borrowed here read only the sentence


@dataclass
class Candidate:
    text: str
    position: int  # its order among the document's candidates
    stems: dict[str, int]  # stem -> count


def extractive_sentences(
    document: str,
    n: int,
    language: str | None = None,
    max_words: int | None = None,
    avoid: list[str] | tuple[str, ...] = (),
) -> list[str]:
    """The ``n`` sentences of ``document`` that best summarize it, in document order,
    each at most ``max_words`` words where the document has such sentences, none
    repeating a sentence of ``avoid`` (what the summary already says). Empty only when
    the document has no prose sentence at all (see fallback_sentence). A help text's
    description of its program comes first (``described``)."""
    language = language or guess_language(document)
    if n <= 0:
        return []
    first = described(document, language, max_words, avoid)
    n, avoid = n - len(first), [*avoid, *first]
    candidates = document_candidates(document, language)
    if not candidates or n <= 0:
        return first
    scores = centroid_scores(candidates)  # the whole document's centroid, long ones too
    fitting = [c for c in candidates if fits(c.text, max_words)]
    ranked = sorted(fitting, key=lambda c: -scores[c.position])
    taken = [stem_set(s, language) for s in avoid]
    chosen: list[Candidate] = []
    for candidate in ranked:
        if len(chosen) == n:
            break
        mine = set(candidate.stems)
        if any(repeats(mine, other) for other in taken):
            continue
        chosen.append(candidate)
        taken.append(mine)
    return first + [c.text for c in sorted(chosen, key=lambda c: c.position)]


def described(
    document: str, language: str, max_words: int | None, avoid: list[str] | tuple[str, ...]
) -> list[str]:
    """A help text's own description of its program (repairs/tags.help_description), as
    a sentence, when the summary does not hold it yet: its options' rows were all
    SmolLM2 and the centroid found in localedef's and appstreamcli's help ("search TERM -
    Bileşen veri tabanında arama yapın."), whose description ends in no full stop and so
    was no candidate."""
    line = help_description(document)
    if not line or not fits(line, max_words):
        return []
    sentence = line if ENDS_SENTENCE.search(line) else line + full_stop(line)
    stems = stem_set(sentence, language)
    if any(repeats(stems, stem_set(s, language)) for s in avoid):
        return []
    return [sentence]


def fallback_sentence(document: str, max_words: int | None = None) -> str:
    """When the document has no prose sentence: its first line of words that is no code
    or attribution (``can_fall_back_on``), else its first words, with a full stop; never
    a special token's string ("<|endoftext|>"), which the app could feed a model again."""
    document = SPECIAL_TOKEN_SHAPE.sub(" ", document)
    for line in prose_lines(document):
        words = " ".join(LIST_MARK.sub("", line).split())
        if can_fall_back_on(words):
            break
    else:
        words = " ".join(document.split()[:25])
    words = " ".join(words.split()[: max_words or 25]).rstrip(",;:")
    if not words or ENDS_SENTENCE.search(words):
        return words
    return words + full_stop(words)


def can_fall_back_on(words: str) -> bool:
    """A line of words that is no address, not cut short before its object ("Send Ppp
    mailing list submissions to") and no list's label ("Changes:")."""
    if not is_sentence(words) or is_label(words):
        return False
    return not CUT_SHORT.search(words) and not URL_OR_ADDRESS.search(words)


# --- Candidates ----------------------------------------------------------------------------


def document_candidates(document: str, language: str) -> list[Candidate]:
    """Every sentence of the document's prose that may stand in a summary, trimmed."""
    transcript = is_transcript(document)
    blocks = prose_blocks(document)
    if transcript:  # every line is an utterance of its own
        blocks = [[SPEAKER.sub("", SPEAKER.sub("", x))] for block in blocks for x in block]
    found: list[Candidate] = []
    for block in blocks:
        text = " ".join(" ".join(LIST_MARK.sub("", x) for x in block).split())
        for sentence in split_sentences(text):
            sentence = trimmed(
                " ".join(drop_markup(LEADING_MARK.sub("", sentence), NO_ANSWER).split())
            )
            if is_candidate(sentence) and (language != "en" or reads_as_prose(sentence)):
                stems = stem_counts(sentence, language)
                if stems:
                    found.append(Candidate(sentence, len(found), stems))
    return found


def prose_blocks(document: str) -> list[list[str]]:
    """Runs of consecutive prose lines: a paragraph, cut where a line is not prose."""
    blocks: list[list[str]] = []
    for para in re.split(r"\n\s*\n", document):
        if QUOTED.match(para.strip()):
            continue  # a quoted reply, as the e-mail reader marks it
        lines = para.splitlines()
        widest = max((len(x.strip()) for x in lines), default=0)
        run: list[str] = []
        for i, line in enumerate(lines):
            if is_prose_line(line):
                run.append(line.strip())
                if not ends_a_term(line, lines[i + 1 : i + 2], widest):
                    continue
            if run:
                blocks.append(run)
            run = []
        if run:
            blocks.append(run)
    return blocks


def ends_a_term(line: str, following: list[str], widest: int) -> bool:
    """A heading or a defined term inside a paragraph (a manual page's "nulls, values,
    scalars" above "These built-ins select ..."): no closing punctuation, and the next line
    opens a list item, or opens with a capital while the line is short or indented less
    than the next."""
    text = line.strip()
    if not following or not text or text[-1] in ".,;:!?)\"'”’":
        return False
    after = following[0]
    if LIST_MARK.match(after):
        return True  # a list's label or item above the next item ("* Improvements")
    if not after.strip()[:1].isupper():
        return False
    shallower = len(line) - len(line.lstrip()) < len(after) - len(after.lstrip())
    return shallower or len(text) < widest / 2


def prose_lines(document: str) -> list[str]:
    return [line for block in prose_blocks(document) for line in block]


def is_prose_line(line: str) -> bool:
    """A line of prose: not blank, no command line or code, no table row (two column gaps,
    or a row of options or commands: "search TERM     - Bileşen veri tabanında ..."), no
    header or attribution line, no quoted reply ('>')."""
    text = line.strip()
    if not text or PROMPT.match(line) or HEADER_FIELD.match(text) or is_attribution(text):
        return False
    if TABLE_GAP.search(text) or is_table_row(text) or looks_like_code(text):
        return False
    return bool(LETTERS.search(text))


def looks_like_code(line: str) -> bool:
    """Code or a synopsis: code marks ('=', braces, brackets, '::', ';', '|'), or most of
    its words identifiers (snake_case, calls, dotted names), or ending as code does."""
    marks = len(CODE_MARKS.findall(line))
    words = line.split()
    identifiers = len(IDENTIFIER.findall(line))
    if marks >= 2 or (marks and len(words) <= 8):
        return True
    if identifiers >= max(2, len(words) // 3):
        return True
    return line.endswith(("{", "(", ",)", ");", ":")) and len(words) <= 8


def is_transcript(document: str) -> bool:
    """A chat or meeting log: most lines open with a speaker's name and a colon."""
    lines = [x for x in document.splitlines() if x.strip()]
    return len(lines) >= 4 and sum(bool(SPEAKER.match(x)) for x in lines) >= 0.6 * len(lines)


def is_candidate(sentence: str) -> bool:
    """A sentence that can stand for the document (see the module docstring)."""
    if not re.search(r"[^.][.。][\"'”’»)]?$", sentence) or "?" in sentence:
        return False  # a question, an exclamation, a line that trails off ('..'), no sentence
    if not within_length(sentence) or starts_as_fragment(sentence, NO_ANSWER):
        return False
    if is_attribution(sentence) or QUOTED.match(sentence):
        return False
    if POINTER.search(sentence) or EXAMPLE_OPENING.match(sentence) or CONTINUATION.match(sentence):
        return False
    if URL_OR_ADDRESS.search(sentence) or PLACEHOLDER.search(sentence):
        return False
    if COPYRIGHT.search(sentence) or shouted(sentence):
        return False
    if refers_back(sentence):
        return False
    return not talks_about_itself(sentence, NO_ANSWER) and not looks_like_code(sentence)


def refers_back(sentence: str) -> bool:
    """A sentence whose subject is a demonstrative pronoun (PRONOUN): out of its place it
    stands for nothing. The next word tells a pronoun from a determiner: one that can be
    a verb and no noun ("This allows", "This has"), by topics.py's word classes."""
    found = PRONOUN.match(sentence)
    if not found or found[1] in ("is", "was"):
        return False
    classes = word_classes(found[1].casefold())
    return "VERB" in classes and "NOUN" not in classes


def reads_as_prose(sentence: str) -> bool:
    """An English sentence as prose writes it: not opened by an ordinary word in
    lowercase (the rest of a list item or a line cut from its sentence: "moral rights
    retained by the original author", "serializing back the result document"; a name
    such as "xargs" may open one), and not in title case like a heading or a reference
    ("Keyword Extraction from Single Documents using Multiple Local Features.")."""
    first = sentence.split()[0]
    if re.fullmatch(r"[a-z]+(?:['’][a-z]+)?", first) and word_classes(re.split("['’]", first)[0]):
        return False  # "python-dotenv reads ..." opens with a name
    return not in_title_case(sentence, but=1)


def shouted(sentence: str) -> bool:
    """Most of its letters in capitals: a heading run into a line, or a disclaimer
    ("CREATIVE COMMONS CORPORATION IS NOT A LAW FIRM ...")."""
    letters = [c for c in sentence if c.isalpha()]
    return len(letters) > 20 and sum(c.isupper() for c in letters) >= SHOUTED * len(letters)


def within_length(sentence: str, max_words: int = MAX_WORDS) -> bool:
    cjk = len(CJK.findall(sentence))
    if cjk >= MIN_CJK_CHARS // 2:
        return MIN_CJK_CHARS <= len(sentence) <= MAX_CJK_CHARS
    return MIN_WORDS <= len(sentence.split()) <= max_words


def fits(sentence: str, max_words: int | None) -> bool:
    return max_words is None or len(sentence.split()) <= max_words or bool(CJK.search(sentence))


def trimmed(sentence: str) -> str:
    """Without its parentheses ("JSON (JavaScript Object Notation), specified by RFC 7159
    (which obsoletes RFC 4627) ..."), and when still over MAX_WORDS without a trailing
    example clause ("..., such as flexible arrays and dictionaries."), each only when
    what is left is still a sentence."""
    if not sentence:
        return sentence
    end = sentence[-1] if sentence[-1] in ".!。！" else "."
    shorter = PARENTHESIS.sub("", sentence)
    if shorter != sentence and is_sentence(shorter) and len(shorter.split()) >= MIN_WORDS:
        sentence = re.sub(r"\s+([,.;:!?])", r"\1", shorter)
    if len(sentence.split()) > MAX_WORDS:
        head = EXAMPLE_TAIL.split(sentence.rstrip(".!。！"), maxsplit=1)[0].rstrip(" ,;:")
        if len(head.split()) >= MIN_WORDS:
            sentence = head + end
    return sentence


# --- Scores --------------------------------------------------------------------------------


def stem_counts(text: str, language: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in content_words(text):
        key = word if CJK.match(word) else stem(word, language)
        counts[key] = counts.get(key, 0) + 1
    return counts


def stem_set(text: str, language: str) -> set[str]:
    return set(stem_counts(text, language))


def centroid_scores(candidates: list[Candidate]) -> list[float]:
    """Each candidate's cosine with the document's TF-IDF centroid, plus the opening's
    bonus (LEAD_WEIGHT of the best score, falling off over LEAD_SPAN candidates)."""
    df: dict[str, int] = {}
    for c in candidates:
        for s in c.stems:
            df[s] = df.get(s, 0) + 1
    total = len(candidates)
    idf = {s: math.log((1 + total) / (1 + d)) + 1 for s, d in df.items()}
    vectors = [{s: tf * idf[s] for s, tf in c.stems.items()} for c in candidates]
    centroid: dict[str, float] = {}
    for v in vectors:
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        for s, x in v.items():
            centroid[s] = centroid.get(s, 0.0) + x / norm
    c_norm = math.sqrt(sum(x * x for x in centroid.values())) or 1.0
    scores = []
    for v in vectors:
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        dot = sum(x * centroid.get(s, 0.0) for s, x in v.items())
        scores.append(dot / (norm**LENGTH_POWER * c_norm))
    best = max(scores, default=0.0)
    for i in range(min(LEAD_SPAN, total)):
        scores[i] += LEAD_WEIGHT * best * (1 - i / LEAD_SPAN)
    return scores


def repeats(stems: set[str], other: set[str]) -> bool:
    """Whether two sentences say much the same (NEAR_REPEAT of the smaller's stems)."""
    smaller = min(len(stems), len(other)) or 1
    return len(stems & other) >= NEAR_REPEAT * smaller
