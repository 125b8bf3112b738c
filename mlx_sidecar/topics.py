"""Topics: whether a phrase is written as a topic is, or as a name.

A tag names a topic, and in English a topic is a noun phrase: its last word can be a noun,
its first is no verb or adverb alone ("bug introduced", "add emphasis" are clauses). Word
classes come from lemminflect's English lexicon, and the document's own use settles what
the lexicon leaves open ("the merge is", "deflate()"). Other languages have no such lexicon
here, so there only a name stands for certain: an identifier, a Latin word in a text in
another script, a capitalized word that is no ordinary word of the language. keyphrases.py
offers the model only such phrases; repairs/tags.py holds the final tags to them.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from .lexicon import in_dictionary, unit_names
from .text import phrase_pattern

if TYPE_CHECKING:
    from .keyphrases import DocumentLines

NOUNS_CAPITALIZED = frozenset(["de", "lb"])  # German orthography: a capital marks every noun
LATIN_TEXT = 0.5  # a text most of whose letters are Latin is written in the Latin script
FILE_NAME = re.compile(r"[\w-]+\.[a-z]{1,4}")  # "prog.py", "privkey.pem": an example's file
# A one-letter variable's attribute: "p.lr_items", "f.write" (not "os.path", a module's).
VARIABLE_ATTRIBUTE = re.compile(r"[a-z]\.[a-z_]\w*(?:\(\))?")
NAME_WORD = re.compile(r"\w*[a-z][A-Z.]\w*|\w*[\d_]\w*")  # "OpenVPN", "json.tool", "g_timer"
ARTICLE = r"\b(?:the|a|an)\s+"  # "the merge", "a commit": a noun phrase opens
# English words that follow a noun phrase's head, not an adjective ("the merge of", "the
# merge is"; "the updated value"): prepositions, conjunctions, auxiliaries, relatives.
FUNCTION_WORDS = (
    "of|in|on|at|to|for|with|by|from|as|into|than|and|or|but|is|are|was|were|be|been|has|have|"
    "had|can|will|may|must|should|would|could|does|did|that|which|who|whose|when|where"
)
CLAUSE_WORDS = frozenset(["VERB", "AUX", "ADV"])  # a phrase opened by one of these only


def names_a_topic(phrase: str, lines: DocumentLines) -> bool:
    """Whether a key phrase can name a topic rather than an example or a piece of a
    sentence. In English: a noun phrase (``is_noun_phrase``) that is no file name ("prog.py",
    "privkey.pem" stand for an example; a title that names the file is the subject and
    kept apart) nor a one-letter variable's attribute ("p.lr_items", "f.write"). In
    another language, where no word classes tell a noun phrase from a verb ("szuka",
    "Mostra informazioni") or a part's label ("名称", "opcje"), only a name
    (``is_name_phrase``); the model may still write its own tag."""
    if FILE_NAME.fullmatch(phrase) or VARIABLE_ATTRIBUTE.fullmatch(phrase):
        return False
    if lines.language != "en":
        return is_name_phrase(phrase, lines)
    return is_noun_phrase(phrase, lines)


def reads_as_a_topic(tag: str, lines: DocumentLines) -> bool:
    """A tag of an English document is a noun phrase; in other languages no word classes
    are known, and a tag the model wrote stands unless it is a lone word of the language
    (``is_plain_word``). A one-letter variable's attribute ("p.lr_items") is an example's."""
    if VARIABLE_ATTRIBUTE.fullmatch(tag):
        return False
    if lines.language != "en":
        return not is_plain_word(tag, lines)
    return is_noun_phrase(tag, lines)


def is_plain_word(tag: str, lines: DocumentLines) -> bool:
    """One lowercase word of the text's language, no name: a verb as likely as a topic
    ("szuka", "выводить"), or a word every manual uses ("fișier", "opções", "pagine").
    It is one when it has a letter beyond ASCII (a program's name, "xz", "whereis", has
    none; Cyrillic and Greek words all do), is among the language's ordinary words, or is
    in its dictionary.
    A phrase ("logiciel libre") or a capitalized noun ("Datenschutz") says more."""
    if not tag.islower() or " " in tag or NAME_WORD.fullmatch(tag):
        return False
    return not tag.isascii() or tag in lines.ordinary or in_dictionary(tag, lines.language)


def is_noun_phrase(phrase: str, lines: DocumentLines) -> bool:
    """An English phrase whose last word can be a noun ("bug introduced", "milliseconds
    ago", "Fixed" cannot) and whose first word is not a verb or an adverb only ("write
    small tests", "add emphasis"), by lemminflect's lexicon; a word the document uses as
    a noun is one there (``used_as_noun``), and a word the lexicon does not know (a
    name, an identifier) may be one."""
    words = phrase.split()
    last, first = word_classes(words[-1]), word_classes(words[0])
    command = len(words) == 2 and not first  # a name and its verb: "git bisect", "apt update"
    if last and not last & {"NOUN", "PROPN"} and not (command or used_as_noun(words[-1], lines)):
        return False
    clause = len(words) > 1 and first and first <= CLAUSE_WORDS
    return not (clause and not used_as_noun(words[0], lines))


@functools.cache
def word_classes(word: str) -> frozenset:
    """The English word classes lemminflect's lexicon gives ``word`` (NOUN, VERB, ADJ,
    ADV, PROPN, AUX); none for a word it does not know, or when it is not installed."""
    if not re.fullmatch(r"[A-Za-z]+(?:['’-][A-Za-z]+)*", word):
        return frozenset()  # "g_timer_start", "HTTP/2", "5.2": no word of the lexicon
    try:
        from lemminflect import getAllLemmas
    except ImportError:
        return frozenset()
    return frozenset(getAllLemmas(word.casefold()))


@functools.cache
def lemmas(word: str) -> frozenset:
    """``word`` and its English lemmas ("fix" of "fixes"), by lemminflect's lexicon."""
    if not word_classes(word):
        return frozenset([word])
    from lemminflect import getAllLemmas

    return frozenset([word, *(x for found in getAllLemmas(word).values() for x in found)])


def used_as_noun(word: str, lines: DocumentLines) -> bool:
    """The document writes ``word`` as a noun phrase's head: after an article and before a
    sign or a function word ("the merge is", "a revert."; not "the updated value"), or as a
    function's name ("deflate()")."""
    folded = phrase_pattern(word.casefold())
    pattern = rf"{ARTICLE}{folded}(?=\s*(?:[^\w\s-]|$)|\s+(?:{FUNCTION_WORDS})\b)|{folded}\(\)"
    return re.search(pattern, lines.folded("own"), re.MULTILINE) is not None


def is_name_phrase(phrase: str, lines: DocumentLines) -> bool:
    """Every word of the phrase is written as a name (``is_name_word``)."""
    return all(is_name_word(word, lines) for word in phrase.split())


def is_name_word(word: str, lines: DocumentLines) -> bool:
    """An identifier ("OpenVPN", "json.tool", "g_timer_start"), a Latin word in a text in
    another script ("manpath" in a Chinese manual page, not only in a path: "usr" of
    "/usr/bin"), or a capitalized word that is no ordinary word of the language and that
    the text writes capitalized after a lowercase word ("Noemi", "Unix"; not in German,
    which capitalizes every noun)."""
    if NAME_WORD.fullmatch(word):
        return True
    if not lines.latin_script and re.fullmatch(r"[A-Za-z][\w.+#-]*", word):
        return re.search(rf"(?<![\w/.|(]){re.escape(word)}(?![\w/|)])", lines.prose) is not None
    if lines.language in NOUNS_CAPITALIZED or not word.istitle():
        return False
    return word.casefold() not in lines.ordinary and written_as_name(word, lines.text)


def is_measure(tag: str, language: str) -> bool:
    """A unit of measure ("milliseconds", "Kilobytes", "bits"), or one with an English
    adjective after it, as a size is written ("bits long" of "nine bits long"). It says
    what an amount is counted in, not what the text is about."""
    folded, units = tag.casefold(), unit_names(language)
    words = folded.split()
    if folded in units:
        return True
    return len(words) == 2 and words[0] in units and "ADJ" in word_classes(words[1])


def latin_share(text: str) -> float:
    """The share of a text's letters in the Latin script."""
    letters = [c for c in text if c.isalpha()]
    return sum(c < "\u0250" for c in letters) / len(letters) if letters else 1.0


def written_as_name(word: str, text: str) -> bool:
    """The text writes ``word`` capitalized after a lowercase word or a comma, where
    only a name is ("release 20020904 of Wine", "works with Rich")."""
    if not word[:1].isupper():
        return False
    return bool(re.search(rf"(?<!\S)[a-z][a-z'-]*[,;]? {re.escape(word)}(?!\w)", text))
