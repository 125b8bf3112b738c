"""The words of each language, as data made for the purpose gives them: how frequent a
word is (pyspellchecker's lists, counted in subtitles), whether a language's dictionary
holds it (simplemma's, 54 languages), and the names CLDR gives months, days and units
(babel). keyphrases.py, topics.py and repairs/tags.py ask these questions of a tag; none
of the lists is fitted to a corpus."""

from __future__ import annotations

import functools
import gzip
import json
import re

from .text import language_stopwords

COMMON_WORDS = 1000  # "very frequent": the language's thousand most frequent words
UNIT_MIN_CHARS = 3  # a unit's shorter abbreviations ("h", "kB") are letters of other words


@functools.cache
def ranked_words(language: str) -> tuple[str, ...]:
    """The words of ``language`` most frequent first (pyspellchecker's frequency lists,
    counted in subtitles: en, de, fr, es, it, pt, nl, ru, ar, fa, eu, lv); none for a
    language it has no list of, or when it is not installed."""
    try:
        from importlib import resources

        path = resources.files("spellchecker") / "resources" / f"{language}.json.gz"
        counts = json.loads(gzip.decompress(path.read_bytes()))
    except (ImportError, FileNotFoundError, OSError, ValueError):
        return ()
    return tuple(w.casefold() for w in sorted(counts, key=lambda w: -counts[w]))


@functools.cache
def common_words(language: str, top: int = COMMON_WORDS) -> frozenset:
    """The ``top`` most frequent words of ``language`` (English when it has no list)."""
    return frozenset((ranked_words(language) or ranked_words("en"))[:top])


@functools.cache
def calendar_words(languages: tuple[str, ...]) -> frozenset:
    """Month and day names, wide and abbreviated, in ``languages`` and English (babel's
    CLDR data), case-folded and without a final dot."""
    from babel import Locale, UnknownLocaleError

    words: set[str] = set()
    for code in dict.fromkeys([*languages, "en"]):
        try:
            locale = Locale.parse(code)
        except (UnknownLocaleError, ValueError, TypeError):
            continue
        for names in (locale.months, locale.days):
            for context in names.values():
                for width in ("wide", "abbreviated"):
                    words.update(v.casefold().rstrip(".") for v in context.get(width, {}).values())
    if "sep" in words:
        words.add("sept")  # CLDR abbreviates September "Sep"; English writes "Sept." too
    return frozenset(words)


def rarity(phrase: str, language: str) -> int:
    """How rare the phrase's rarest word is in the language: its rank among the words
    most frequent first (a word the list lacks is rarer than all of them)."""
    ranked = ranked_words(language) or ranked_words("en")
    ranks = _ranks(ranked)
    words = re.findall(r"[^\W_]+", phrase.casefold())
    return max((ranks.get(w, len(ranked)) for w in words), default=0)


@functools.cache
def _ranks(ranked: tuple[str, ...]) -> dict[str, int]:
    return {w: i for i, w in reversed(list(enumerate(ranked)))}


def is_common_phrase(tag: str, language: str) -> bool:
    """Every word of ``tag`` is one of the language's COMMON_WORDS or its stopwords
    (yake's lists, for the languages pyspellchecker counts none of), or a number: "bad",
    "Work", "good time", Swedish "eller"; a single capital letter ("C") or a word with a
    sign ("C#") is a name."""
    words = re.findall(r"[^\W_]+(?:['’][^\W_]+)?", tag.casefold())
    if not words or re.fullmatch(r"[A-Z]", tag) or re.search(r"[^\w\s'’-]", tag):
        return False  # "C", "C#", "I/O", ".NET": names, not words of the language
    common = common_or_stopwords(language)
    return all(w in common or w.isdigit() for w in words)


@functools.cache
def common_or_stopwords(language: str) -> frozenset:
    """The language's COMMON_WORDS and its stopwords, joined once per language."""
    return common_words(language) | language_stopwords(language)


@functools.cache
def in_dictionary(word: str, language: str) -> bool:
    """Whether simplemma's dictionary of ``language`` (54 languages) holds ``word`` or a
    form of it ("szuka" in Polish, "jako" in Czech): for the languages pyspellchecker
    ranks no words of. False for a language it has no dictionary of."""
    try:
        from simplemma import is_known

        return is_known(word, lang=language)
    except (ImportError, ValueError):
        return False


@functools.cache
def unit_names(language: str) -> frozenset:
    """The names of CLDR's units in ``language`` and English (babel), in every length
    and plural form ("millisecond", "milliseconds", "ms"), case-folded; abbreviations of
    fewer than UNIT_MIN_CHARS letters ("a", "b", "h") left out."""
    from babel import Locale, UnknownLocaleError

    names: set[str] = set()
    for code in dict.fromkeys([language, "en"]):
        try:
            units = Locale.parse(code)._data["unit_patterns"]
        except (UnknownLocaleError, ValueError, TypeError, KeyError):
            continue
        for lengths in units.values():
            for forms in lengths.values():
                patterns = forms.values() if hasattr(forms, "values") else ()
                names.update(
                    p.replace("{0}", "").strip().casefold() for p in patterns if isinstance(p, str)
                )
    return frozenset(n for n in names if sum(c.isalpha() for c in n) >= UNIT_MIN_CHARS)
