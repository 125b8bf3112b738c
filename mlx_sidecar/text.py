"""Words and sentences of any language: what answers and repairs both read text with.

Sentences come from sentencex: on the corpus it split after an abbreviation or initial 19
times in 5,911 sentences against pysbd's 29 in 14,184, never inside a hard-wrapped line
(pysbd: 5,767 times), and ran 400x faster. Its English rules are used for every language:
they also end sentences at CJK full stops, and its French rules split "M. Dupont".
"""

from __future__ import annotations

import functools
import re

SENTENCE_LANGUAGE = "en"
SENTENCE_STOPS = frozenset(".!?。！？…‼⁇⁈⁉")
ENDS_SENTENCE = re.compile(r"[.!?。！？…‼⁇⁈⁉][\"'”’»)\]]*\s*$")
LETTERS = re.compile(r"[^\W\d_]+")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")
CJK_STOPS = "。！？"  # sentence ends that need no space after them
# yake ships stopword lists for these; a tag made only of stopwords ("est", "the") is noise.
STOPWORD_LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl")
BASIC_STOPWORDS = frozenset(
    "a an and are as at be by for from in is it of on or the this to with".split()
)


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped, by sentencex. A break with no space after
    it is no sentence end unless it follows a CJK stop (sentencex splits ".NET")."""
    from sentencex import segment

    merged: list[str] = []
    for part in segment(SENTENCE_LANGUAGE, text):
        if merged and not merged[-1][-1].isspace() and merged[-1][-1] not in CJK_STOPS:
            merged[-1] += part
        else:
            merged.append(part)
    return [s.strip() for s in merged if s.strip()]


def is_sentence(text: str) -> bool:
    """Three words (or four CJK characters): a list number or a stray word is not one."""
    return len(LETTERS.findall(text)) >= 3 or len(CJK.findall(text)) >= 4


def sentence_key(sentence: str) -> str:
    """What makes two sentences the same one: case and spacing do not count."""
    return " ".join(sentence.casefold().split())


def join_sentences(sentences: list[str]) -> str:
    """Sentences as one text: a space between them, none after a CJK full stop."""
    text = ""
    for i, sentence in enumerate(sentences):
        text += ("" if i == 0 or sentences[i - 1][-1] in CJK_STOPS else " ") + sentence
    return text


def full_stop(text: str) -> str:
    """The full stop that ends a sentence written in ``text``'s script."""
    return "。" if text and CJK.match(text[-1]) else "."


def phrase_pattern(phrase: str) -> str:
    """The phrase as a whole word (CJK text has no word breaks to look for)."""
    left = "" if CJK.match(phrase[0]) else r"(?<!\w)"
    right = "" if CJK.match(phrase[-1]) else r"(?!\w)"
    return left + re.escape(phrase) + right


@functools.cache
def stopwords() -> frozenset:
    """Stopwords of common languages together: a tag made only of these is noise."""
    return frozenset(BASIC_STOPWORDS.union(*(language_stopwords(x) for x in STOPWORD_LANGUAGES)))


@functools.cache
def language_stopwords(language: str) -> frozenset:
    """One language's stopwords, from yake's lists (through its public
    ``KeywordExtractor(lan=...).stopword_set``); none when yake is missing."""
    try:
        import yake
    except ImportError:
        return frozenset()
    entries = yake.KeywordExtractor(lan=language).stopword_set
    return frozenset(word for entry in entries for word in entry.casefold().split())


def guess_language(text: str) -> str:
    """The STOPWORD_LANGUAGES code whose stopwords the text's first words use most
    ("en" when none); "ja" for text that is mostly CJK."""
    sample = text[:20_000]
    if len(CJK.findall(sample)) > 0.3 * max(1, len(LETTERS.findall(sample))):
        return "ja"
    words = [w.casefold() for w in LETTERS.findall(sample)[:3000]]
    hits = {lang: sum(w in language_stopwords(lang) for w in words) for lang in STOPWORD_LANGUAGES}
    best = max(hits, key=hits.get)
    return best if hits[best] else "en"


# --- Content words: what a summary says, to be found in its document ---------------------
#
# A content word is a word of 4 or more letters that is not a stopword of any language
# (a CJK text: each pair of CJK characters). It is found in a document when its stem
# (Snowball, in the document's language) is the stem of a word of the document.

CONTENT_WORD_LETTERS = 4
SNOWBALL = {
    "en": "english",
    "fr": "french",
    "de": "german",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
}


def content_words(text: str) -> list[str]:
    """The content words of ``text``, case-folded, in order."""
    found = []
    for run in re.findall(r"[^\W\d_]+", text):
        if CJK.match(run):
            found.extend(run[i : i + 2] for i in range(max(1, len(run) - 1)))
        elif len(run) >= CONTENT_WORD_LETTERS and run.casefold() not in stopwords():
            found.append(run.casefold())
    return found


class WordStems:
    """A document's words as stems, to tell whether it supports a word of an answer."""

    def __init__(self, document: str) -> None:
        self.language = guess_language(document)
        folded = document.casefold()
        self.cjk_text = folded if self.language == "ja" else ""
        self.stems = {self.stem(w) for w in set(re.findall(r"[^\W\d_]+", folded))}

    def stem(self, word: str) -> str:
        return stem(word, self.language)

    def supports(self, word: str) -> bool:
        if CJK.match(word):
            return word in self.cjk_text
        return self.stem(word) in self.stems

    def support(self, text: str) -> tuple[int, int]:
        """How many of ``text``'s content words the document supports, of how many."""
        words = content_words(text)
        return sum(self.supports(w) for w in words), len(words)


def stem(word: str, language: str) -> str:
    """A word's Snowball stem in ``language`` (an ISO code; English where Snowball has
    none), case-folded."""
    return _stemmer(SNOWBALL.get(language, "english")).stemWord(word.casefold())


@functools.cache
def _stemmer(algorithm: str):
    import snowballstemmer

    return snowballstemmer.stemmer(algorithm)
