"""Repairs of tags: every rule that mends a model's tags, in the order applied.

Each rule names the case it repairs; none changes a tag a strong model gives
(tests/test_answers.py holds the good and the bad). The entry points: ``parse_tags``
(the model's raw answer as a list), ``normalize_tags`` (every rule of TAG_RULES),
``ground_tags`` (tags the document supports, topped up with keywords) and
``with_title_subject`` (the subject the title names). To add a rule: a function here
(a tag in, the mended tag or "" out) whose docstring quotes the case, its place in
TAG_RULES, and a row in each table.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from ..keyphrases import BULLET, LABEL_WORDS, DocumentLines, reads_as_heading
from ..lexicon import calendar_words, common_words, is_common_phrase, rarity
from ..prompts import CANDIDATE_TAGS_TASK, SUMMARY_TASK, TAGS_TASK
from ..reading import Reading
from ..reading.furniture import is_furniture_title
from ..text import CJK, STOPWORD_LANGUAGES, guess_language, phrase_pattern, stopwords
from ..topics import is_measure, is_name_word, reads_as_a_topic, word_classes, written_as_name
from ..vocabulary import variant_key
from .answer import LIST_ITEM, Answer, drop_leaks, drop_markup

log = logging.getLogger(__name__)

TAG_MAX_WORDS = 4  # longer "tags" are sentence fragments, not topics
TAG_MAX_CHARS = 40
CJK_TAG_CHARS = 12  # Japanese topic nouns in the corpus are 2-8 characters; phrases 20+
# A title whose words the text repeats this often, the title line itself aside, names what
# it is about (an e-mail's Subject is no line of its text; a page's title is its first).
SUBJECT_REPEATS = 2
# A help text's usage line: a label of a few words and a colon, the program's name, and an
# option or a placeholder ("Usage: grep [OPTION]...", "Употреба: readelf <опција(е)>").
USAGE = re.compile(r"[^\W\d_][^:：\n]{0,30}[:：][ \t]*([a-z][\w.+-]*)[ \t]+(?:-|[\[<]-?[^\W\d_])")
USAGE_LINES = 3
SECTION_NUMBER = re.compile(  # "9.10.1. Backups", "B.5 Processes", "Chapter 1. The Debian Project"
    r"^(?:(?i:chapter|section|part|kapitel|chapitre|cap[ií]tulo)\s+)?"
    r"(?:\d+(?:\.\d+)*\.?|[A-Z](?:\.\d+)+\.?|[A-Z]\.)[:.]?\s+(?=\w)"
)
TAG_LOOP = re.compile(r"([^\W\d_]{1,12}?)\1{2,}")
EDGE_JUNK = " \"'`“”‘’«»,;:!?()[]{}<>*_-"
VERSION = re.compile(r"v?\d+(?:\.\d+)+[a-z]*\d*|v\d+", re.IGNORECASE)  # 2.13.0b3, v2
# A word and a number name a version, an issue or a chapter ("Version 0", "issue 1693050",
# "Chapter 5") when the word is one of the language's this many most frequent words; a name
# with a version ("Python 3.12", "Django 5.2") keeps it.
# English auxiliaries (a closed class of the grammar): a tag with one is a piece of a sentence.
FRAGMENT_VERBS = frozenset(
    ["is", "are", "was", "were", "be", "been", "has", "have", "had", "can", "will", "does", "do"]
)


TITLE_SMALL_WORDS = frozenset(
    "a an and at by de del der des die du el for in la las le les los of on the to und von "
    "with y".split()
)


def is_name(tag: str) -> bool:
    """Every word capitalized but a title's small words ("The Who", "Mad Men", "Lord of
    the Rings"): a title or a name, whose small words are part of it."""
    words = tag.split()
    return words[0][0].isupper() and all(
        w[0].isupper() or w.casefold() in TITLE_SMALL_WORDS for w in words
    )


def tag_hashtag(tag: str) -> str:
    """'#python' is a hashtag; the '#' of 'C#' or 'F#' is part of the name."""
    return re.sub(r"(?<!\w)#+(?=\w)", "", tag)


def tag_edges(tag: str) -> str:
    """Quotes, brackets and punctuation around a tag ('"Python",', '.json'); the dots
    of ".NET" and "U.S." stay."""
    kept = ")" if tag.endswith(")") and tag.count("(") == tag.count(")") else ""
    tag = tag.strip(EDGE_JUNK) + kept  # "JSON (JavaScript Object Notation)" keeps its ")"
    if not re.search(r"(?:\b[A-Za-z]\.){2,}$", tag):
        tag = tag.rstrip(".")
    if tag.startswith(".") and not re.match(r"\.[A-Z]", tag):
        tag = tag.lstrip(".")  # ".json" is a method or file name; ".NET" is a name
    return tag.strip(EDGE_JUNK) + kept if kept else tag.strip(EDGE_JUNK)


def tag_section_number(tag: str) -> str:
    """'9.10.1. Backups', 'B.5 Processes', 'Chapter 1. The Debian Project': a section
    number is not part of the topic."""
    return SECTION_NUMBER.sub("", tag) if re.search(r"[^\W\d]{2}", tag) else tag


def tag_too_long(tag: str) -> str:
    """More than TAG_MAX_WORDS words (small words of a name aside): a sentence, not a
    topic ("Explicit is better than implicit")."""
    words = re.split(r"[\s_-]+", tag)
    content = [w for w in words if w.casefold() not in stopwords()]
    return "" if len(content) > TAG_MAX_WORDS or len(words) > TAG_MAX_WORDS + 2 else tag


def tag_trailing_stopword(tag: str) -> str:
    """'machine learning and': a dangling small word goes; names keep theirs."""
    words = tag.split()
    while len(words) > 1 and words[-1].casefold() in stopwords() and not is_name(tag):
        words.pop()
    return " ".join(words)


def tag_fragment(tag: str) -> str:
    """'HTTPX is a fully': a piece of a sentence (it has a verb), not a topic."""
    words = [w.casefold() for w in tag.split()]
    return "" if len(words) > 1 and FRAGMENT_VERBS & set(words) and not is_name(tag) else tag


COMMAND_OPTION = re.compile(r"(?:^|\s)--?[^\W\d_][\w-]*")


def tag_command_line(tag: str) -> str:
    """'git log --raw --all': a command line from the document's examples (an option
    after a space), not what it is about; 'e-mail' and 'anti-aliasing' are words."""
    return "" if COMMAND_OPTION.search(tag) else tag


def tag_stutter(tag: str) -> str:
    """'typing-typing-typing', 'wena wena': a word said again; a name ("Bora Bora")
    stays, and so does a word inside a longer one ("Backup with rdiff-backup")."""
    words = [w.casefold() for w in tag.split()]
    parts = [[p for p in re.split(r"[_-]+", w) if p] for w in words]
    repeated = len(set(words)) < len(words) or any(len(set(p)) < len(p) for p in parts)
    return "" if repeated and not is_name(tag) else tag


def tag_loop(tag: str) -> str:
    """'适合自己适合自己适合自己', 'hahaha': a unit said three times or more in a row, a
    small model's loop (see repairs/loops.py); a name ("Bora Bora") repeats only once."""
    return "" if TAG_LOOP.search(tag) else tag


def tag_version(tag: str) -> str:
    """'v2.13.0b3', 'Version 0', 'issue 1693050', 'Chapter 5': a version, an issue or a
    chapter number, alone or after one of the language's ordinary words (LABEL_WORDS). A
    name with a version ("Python 3.12") stays."""
    words = tag.casefold().split()
    numbered = [w for w in words if VERSION.fullmatch(w) or w.isdigit()]
    if not numbered:
        return tag
    rest = [w for w in words if w not in numbered]
    ordinary = common_words(guess_language(tag), LABEL_WORDS) if rest else frozenset()
    return "" if len(rest) <= 1 and all(w in ordinary for w in rest) else tag


def tag_calendar_word(tag: str) -> str:
    """'Feb', 'July 2025', 'Monday', 'lundi': a date in the page's furniture (a manual's
    footer, a tutorial's byline), not a topic: month and day names as babel's CLDR data
    writes them in the languages the sidecar tells apart."""
    words = [w.casefold().rstrip(".") for w in tag.split()]
    months_days = calendar_words(STOPWORD_LANGUAGES)
    return "" if all(w in months_days or w.isdigit() for w in words) else tag


def tag_only_small_words(tag: str) -> str:
    """'est', 'the', 'of the': only stopwords; a name of two or more ("The Who") and a
    capital letter (the C language) stay."""
    words = tag.split()
    small = all(w.casefold() in stopwords() for w in words) and not re.fullmatch(r"[A-Z]", tag)
    return "" if small and (len(words) < 2 or not is_name(tag)) else tag


def tag_cjk_phrase(tag: str) -> str:
    """'データをディスクに保存したくないと思っているならば': more than CJK_TAG_CHARS CJK
    characters is a phrase, not a topic ("プロセス間通信" is 7)."""
    return "" if len(CJK.findall(tag)) > CJK_TAG_CHARS else tag


def tag_length(tag: str) -> str:
    """Longer than TAG_MAX_CHARS: cut at a word boundary."""
    if len(tag) <= TAG_MAX_CHARS:
        return tag
    cut = tag[:TAG_MAX_CHARS]
    return cut.rsplit(" ", 1)[0] if " " in cut else cut


def tag_needs_letters(tag: str) -> str:
    """'2023', '1.': numbers or punctuation only."""
    return tag if re.search(r"[^\W\d_]", tag) else ""


TAG_RULES: tuple[Callable[[str], str], ...] = (
    tag_hashtag,
    tag_edges,
    tag_section_number,
    tag_edges,  # again: the section number may have hidden a quote
    tag_too_long,
    tag_fragment,  # before the trailing stopword goes: "Flat is better" is a fragment
    tag_command_line,
    tag_stutter,
    tag_loop,
    tag_trailing_stopword,
    tag_version,
    tag_calendar_word,
    tag_only_small_words,
    tag_cjk_phrase,
    tag_length,
    tag_needs_letters,
)


def tag_key(tag: str) -> str:
    """Case, singular/plural, separators and a leading article make no other tag:
    'numbers' is 'Number', 'The Debian Project' is 'Debian Project' (the known tags'
    rule: vocabulary.variant_key)."""
    return variant_key(tag)


def normalize_tags(raw: Iterable[Any], limit: int) -> list[str]:
    """Every TAG_RULES repair in order; duplicates (tag_key) and dropped tags go. A tag
    with commas is a list of tags ("Source,Source form,Legal Entity"): each is one."""
    seen, tags = set(), []
    parts = (p for item in raw if isinstance(item, str) for p in re.split(r"[,，、]", item))
    for item in parts:
        tag = " ".join(unicodedata.normalize("NFC", item).split())
        for rule in TAG_RULES:
            tag = rule(tag) if tag else tag
        if not tag or tag_key(tag) in seen:
            continue
        seen.add(tag_key(tag))
        tags.append(tag)
        if len(tags) == limit:
            break
    return tags


def ground_tags(
    tags: list[str], document: str, limit: int, top_up: bool = True, title: str = ""
) -> list[str]:
    """Keep tags the document supports in its own lines; top up from its key phrases to
    a useful few (unless ``top_up`` is false).

    A 135M model sometimes answers with words from the instruction, a template
    placeholder or a stutter ("typing-typing-typing"); none of those occur in the text.
    A word of the instruction the document uses too ("JSON") is a good tag. Words that
    only frame the document are no tags (see ``frames_the_document``).
    """
    folded = document.casefold()
    lines = DocumentLines.of(document, title)

    def supported(tag: str) -> bool:
        words = re.findall(r"\w+", tag.casefold())
        if re.search(phrase_pattern(tag.casefold()).replace(r"(?<!\w)", r"(?<![\w./])"), folded):
            return True  # "Bora Bora" too; ".NET" only as a word, not in ".netrc"
        if not tag_stutter(tag) or tag.startswith("."):
            return False  # a stutter, or a leading-dot name the document does not use
        if "-" in tag and tag.islower():
            return False  # a slug ("debian-project-list") the document does not use
        if echoes_instruction(words):
            return False  # words of the instruction ("json-list", "list of up to 5 keywords")
        return any(
            re.search(phrase_pattern(w), folded) for w in words if len(w) > 3 and not w.isdigit()
        )

    kept = [respelled(t, lines) for t in tags if supported(t) and not frames_the_document(t, lines)]
    wanted = min(3, limit)
    if len(kept) < wanted and top_up:
        taken = {w for t in kept for w in t.casefold().split()}
        extra = []
        for phrase in keyword_tags(document, limit, title):
            words = set(phrase.casefold().split())
            if not words <= taken:  # "Peters" after "Tim Peters" says nothing new
                extra.append(phrase)
                taken |= words
        kept = normalize_tags(kept + extra, max(wanted, len(kept))) or kept + extra[:1]
    return kept


def respelled(tag: str, lines: DocumentLines) -> str:
    """A name the document writes with capitals inside it, as it writes it ("ReadImage"
    for the model's "readImage", "MHonArc" for "Mhonarc"); other tags as given."""
    if " " in tag or tag in lines.text:
        return tag
    spellings = Counter(re.findall(phrase_pattern(tag), lines.text, re.IGNORECASE))
    named = [w for w, _ in spellings.most_common() if re.search(r"\w[A-Z]", w)]
    return named[0] if named else tag


def frames_the_document(tag: str, lines: DocumentLines) -> bool:
    """A tag from what frames the document rather than what it says: the name of who
    wrote or was written to ("Hamano wrote", "Junio") or whom it credits ("Robyn
    Speer"), a listing's columns ("david git"), a footer ("Part of the git"), a name only
    its code uses ("ERROR", "len"), a part's label ("Abstract", "Fixes", the heading over
    each release in a NEWS file, a table's "Method"), a piece of a longer name
    ("Software" of "Free Software Foundation"), a changelog entry's opening words ("Fix
    bug"), an option's placeholder ("FILENAME"), a unit ("milliseconds"), or only common
    words ("bad", "Work") that the title or opening line does not name and that the text
    does not write as a name ("Mad Men")."""
    if lines.names_a_writer(tag) or lines.only_in_frame(tag):
        return True
    if heads_each_release(tag, lines) and release_name(tag, lines) != tag:
        return True  # "Noteworthy changes in version", "NEWS for the Nettle", "Version"
    if names_subject(tag, lines):
        return False  # "jq" of "JQ(1)", "Backup" of "9.10. Backup"
    if lines.is_code_name(tag) or lines.only_as_heading(tag) or lines.only_opens_lines(tag):
        return True
    if lines.part_of_a_name(tag) or lines.names_a_credited_person(tag):
        return True
    if lines.opens_entries(tag) or lines.is_placeholder(tag):
        return True
    if is_measure(tag, lines.language):
        return True  # "milliseconds", "bits long": what an amount is counted in
    if len(tag.split()) > 1 and is_name(tag) and lines.mentions(tag, "text", case=True):
        return False  # "Mad Men", "The Who": common words, written as a name
    return is_common_phrase(tag, lines.language) and not names_subject(tag, lines)


def is_topic(tag: str, lines: DocumentLines) -> bool:
    """A tag that names the subject ("git bisect" of "GIT-BISECT(1)"), or that reads as a
    topic (topics.py ``reads_as_a_topic``: not "bug introduced")."""
    return names_subject(tag, lines) or reads_as_a_topic(tag, lines)


def names_subject(tag: str, lines: DocumentLines) -> bool:
    """Whether ``tag`` names what the title or the opening line names ("Backup" of "9.10.
    Backup", "Rich" of "Rich is a Python library"), the subject itself or more."""
    return any(
        tag_key(tag) == tag_key(s) or re.search(phrase_pattern(tag_key(s)), tag_key(tag))
        for s in lines.subjects
    )


# The words of the tasks the model is given (and what it calls its answer): a tag made
# only of these repeats the instruction, unless the document uses the tag as it is.
INSTRUCTION_WORDS = frozenset(
    re.findall(
        r"[^\W\d_]+",
        " ".join([TAGS_TASK, CANDIDATE_TAGS_TASK, SUMMARY_TASK]).casefold().replace("{n}", " "),
    )
) | frozenset(
    ["keyword", "tags", "tag", "topic", "list", "lists", "json", "array", "answer", "sentences"]
)


def echoes_instruction(words: list[str]) -> bool:
    """A tag whose every word (numbers aside) is a word of the instruction."""
    meaningful = [w for w in words if not w.isdigit()]
    return bool(meaningful) and all(w in INSTRUCTION_WORDS for w in meaningful)


def with_title_subject(tags: list[str], reading: Reading, limit: int) -> list[str]:
    """The document's tags once its passes are done: none that only frames it (judged
    with its title) or that is no topic (``is_topic``: not "bug introduced"), none it
    says only once in passing while another is left (``said_once``: "suitable place"),
    and the subject its title names first: the tag that names it, or the subject itself
    when no tag does.

    SmolLM2 tagged Python's fnmatch page ["pattern", "matches", "Unix"] and the NetworkX
    README ["weight", "G.add", "edge"]: the library goes unnamed. An answer that names it
    ("fnmatch", "NetworkX graphs") keeps its words.
    """
    lines = DocumentLines.of(reading.text, reading.title)
    kept = [t for t in tags if not frames_the_document(t, lines) and is_topic(t, lines)]
    central = [t for t in kept if not lines.said_once(t)]
    subject = lines.named_subject
    tags = central or kept or ([] if subject else tags)  # never empty, and no junk beside a subject
    if not subject:
        return tags
    naming = [t for t in tags if names_same_thing(t, subject)]
    if naming:  # first, as the title puts it: "MIME-Version" of "a MIME-Version misfeature"
        return [naming[0], *(t for t in tags if t != naming[0])]
    return normalize_tags([subject, *tags], limit) or tags


def title_subject(reading: Reading, section: bool = True) -> str:
    """What the title names: the longest run of its words that the text repeats
    SUBJECT_REPEATS times, with no small word at either end ("fnmatch" from
    "fnmatch — Unix filename pattern matching", "argparse" from "Argparse Tutorial",
    "jq" from a manual page's "JQ(1)"; a title in capitals is shown as the text writes
    it). Its section number, brackets and subtitle do not count; none when the title is
    a sentence, or the text repeats none of it ("Whetting Your Appetite"), or when a
    ``section``'s title is furniture ("Installation", reading/furniture.py). A heading
    over each release's notes names only what it holds as a name (``release_name``)."""
    title = re.sub(r"\s*\([^()]*\)", "", tag_section_number(reading.title.strip()))
    furniture = is_furniture_title if section else lambda _: False
    if re.search(r"[.!?]$", title) or furniture(title):
        return ""
    title = re.split(r"\s+(?:—|–|-{1,3}|\|)\s+|:\s|,\s", title)[0]
    words = re.sub(r"^[LlDd]['’]", "", title.strip(EDGE_JUNK)).split()  # "L'espace utilisateur"
    body = DocumentLines.of(reading.text, reading.title)
    first = next((ln.strip() for ln in body.own.split("\n") if ln.strip()), "")
    text = body.own.replace(first, "", 1) if first == reading.title.strip() else body.own
    best: tuple = (0, 0, 0, "")
    for i in range(len(words)):
        for j in range(i + 1, len(words) + 1):
            run = words[i:j]
            if run[0].casefold() in stopwords() or run[-1].casefold() in stopwords():
                continue
            phrase = " ".join(run).strip(EDGE_JUNK)
            if not re.search(r"[^\W\d_]", phrase) or not names_alone(phrase, words, body):
                continue
            written = re.findall(phrase_pattern(phrase), text, re.IGNORECASE)
            if len(written) >= SUBJECT_REPEATS:  # ties: the rarer word ("argparse")
                best = max(best, (len(run), len(written), rarity(phrase, body.language), phrase))
    subject = best[-1]
    if not subject or furniture(subject):
        return ""
    if heads_each_release(subject, body):
        return release_name(subject, body)
    written = re.findall(phrase_pattern(subject), body.own, re.IGNORECASE)
    return Counter(written).most_common(1)[0][0] if subject.isupper() else subject


def names_alone(phrase: str, title: list[str], body: DocumentLines) -> bool:
    """Whether a run of the title's words can name its subject: not only the language's
    common words, and not one of its ordinary words (LABEL_WORDS) picked out of a longer
    title ("Tools" of "More Control Flow Tools"), unless the text writes it as a name
    ("Wine" of "Wine release 20020904", "Rich")."""
    if written_as_name(phrase, body.prose):
        return True
    if is_common_phrase(phrase, body.language):
        return False
    part = " " not in phrase and len(title) > 1
    return not (part and phrase.casefold() in common_words(body.language, LABEL_WORDS))


def opening_subject(reading: Reading) -> str:
    """The name a text opens with when it has no title: its first line when that is a
    heading ("Apache License", "JsonCpp Documentation" as the title rule reads it), or
    the capitalized words its first sentence begins with ("Rich is a Python library").
    The first line names the document itself, not a section of a README: "Apache License"
    is a license's subject, where a README's "License" heading is furniture."""
    lines = DocumentLines.of(reading.text, reading.title)
    opening = lines.opening()
    if not opening:
        return ""
    return title_subject(Reading(reading.format, reading.text, opening), section=False)


def usage_name(text: str) -> str:
    """The program a help text's usage line shows, in any language: "readelf" of
    "Употреба: readelf <опција(е)> ...", "xgettext" of "Forma d’ús: xgettext [OPCIÓ]",
    "wget" of "用法: wget [選項]..." (one of the first USAGE_LINES lines)."""
    return usage_at(text.split("\n"))[0]


def usage_at(lines: list[str]) -> tuple[str, int]:
    """The program a help text's usage line shows and the index of that line (-1: none),
    among the first USAGE_LINES lines with words; the program may stand on the line after
    the label alone ("Kullanım:" over "  appstreamcli [SEÇENEK…] - AppStream CLI.")."""
    filled = [i for i, line in enumerate(lines) if line.strip()][:USAGE_LINES]
    for i in filled:
        line = lines[i].strip()
        if line.endswith((":", "：")) and i + 1 < len(lines):
            found = USAGE.match(line + " " + lines[i + 1].strip())
            if found:
                return found[1], i + 1
        found = USAGE.match(line)
        if found:
            return found[1], i
    return "", -1


def help_description(text: str) -> str:
    """What a help text says its program does: the first line after the usage lines that
    goes on with neither the program's name nor a bracket or an option, nor is a section's
    label. GNU's getopt and argp print the program's description there: "Компилира
    указания за езикова настройка" after localedef's usage, "AppStream komut satırı
    arayüzü" after appstreamcli's. A line above the usage line that names the program is
    its banner, and says it first ("GNU Wget 1.21.3，非互動式檔案下載工具。"). Empty when the
    text has no usage line."""
    lines = text.split("\n")
    name, at = usage_at(lines)
    if not name:
        return ""
    banner = next((line.strip() for line in lines[:at] if line.strip()), "")
    if name.casefold() in banner.casefold() and not USAGE.match(banner):
        return banner
    for line in lines[at + 1 :]:
        s = line.strip()
        if not s or name in s or s[0] in "[<-":
            continue  # the usage goes on: "или:  localedef [ОПЦИЯ...]", "[--add-to-archive]"
        return "" if s.endswith((":", "：")) else s
    return ""


# Words between a release heading's opening and its version ("of changes between").
RELEASE_WORDS = 3


def heads_each_release(phrase: str, lines: DocumentLines) -> bool:
    """Whether ``phrase`` opens two headings or more, each before a version: the heading
    over each release's notes in a NEWS file ("Noteworthy changes in release 5.11",
    "E2fsprogs 1.47.1 (May 20, 2024)", FriBidi's "Overview of changes between 1.0.7 and
    1.0.8"), not the title of the whole. A list's items ("- GCC 4.9 is the default
    compiler for Ada.") are sentences, no headings."""
    opening = rf"^{BULLET}{phrase_pattern(phrase)}[ \t]+(?:\w+[ \t]+){{0,{RELEASE_WORDS}}}v?\d"
    found = (ln.strip() for ln in lines.text.split("\n"))
    return sum(bool(re.match(opening, ln, re.I)) and reads_as_heading(ln) for ln in found) >= 2


def release_name(heading: str, lines: DocumentLines) -> str:
    """The name a release's heading holds: its words written as names or no English word
    ("Nettle" of "NEWS for the Nettle 3.7 release", "man-db"); none in "Noteworthy changes
    in release", whose words only label the release."""
    names = [w for w in heading.split() if is_name_word(w, lines) or not word_classes(w)]
    return " ".join(names)


def names_same_thing(tag: str, subject: str) -> bool:
    """'Sockets' names 'Socket'; 'ipaddress.ip' names 'ipaddress'; 'Python' names 'The
    Zen of Python' well enough."""
    if tag.isupper() and tag == "".join(w[0] for w in subject.split()).upper():
        return True  # "VPN" names "Virtual Private Network"
    tag, subject = tag_key(tag), tag_key(subject)
    return bool(re.search(phrase_pattern(subject), tag) or re.search(phrase_pattern(tag), subject))


def keyword_tags(content: str, limit: int, title: str = "") -> list[str]:
    """Tags when the model yields nothing usable: the document's key phrases
    (keyphrases.py), else its most frequent longer words, else its first word."""
    from ..keyphrases import key_phrases

    tags = key_phrases(Reading("text", content, title), limit)
    if not tags:
        counts = Counter(re.findall(r"\w{4,}", content.casefold()))
        tags = normalize_tags(sorted(counts, key=lambda w: -counts[w]), limit)
    first = next((w for w in re.findall(r"[^\W\d_]\w*", content)), content.split()[0])
    return tags or [first[:TAG_MAX_CHARS]]


def parse_tags(text: str, answer: Answer | None = None) -> list:
    """The tags of a model's answer: a JSON array, or failing that its lines or commas
    without list marks, markup and explanations ("1. **Tag**: what it means")."""
    text = drop_leaks(text, answer or Answer()).strip()
    with contextlib.suppress(ValueError):
        value = json.loads(text)
        if isinstance(value, list):
            return value
    match = re.search(r"\[.*?\]", text, re.DOTALL)
    if match:
        with contextlib.suppress(ValueError):
            value = json.loads(match.group(0))
            if isinstance(value, list):
                return value
    parts = [LIST_ITEM.sub("", part) for part in re.split(r"[,\n]", text)]
    parts = [drop_markup(part, Answer()).split(": ")[0] for part in parts]
    return [part for part in parts if part.strip() and not part.rstrip().endswith(":")]
