"""Which language a text is in (text.identify_language, fastText's model) and what follows
from it: whether answering in a language translates the document, and which stemmer
reads the document's words. Pure functions on real text: the 340 one-sentence texts of
bench/corpus/languages (Debian's manual pages in 17 languages) and corpus documents (what a
summary asked in a language says of its own is checked through the server in
test_vocabulary.py)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest
from conftest import ROOT

from mlx_sidecar.language import require_language
from mlx_sidecar.text import WordStems, identify_language, same_language, stem

LANGUAGES = ROOT / "bench" / "corpus" / "languages"
SAMPLE = [json.loads(line) for line in (LANGUAGES / "sentences.jsonl").open(encoding="utf-8")]
BY_LANGUAGE: dict[str, list[str]] = defaultdict(list)
for row in SAMPLE:
    BY_LANGUAGE[row["lang"]].append(row["text"])
# What bench/language_id.py measured for this function ("sidecar"), less a margin for
# another version of the model or library: 3 points overall, 15 in one language (20 texts).
MEASURED = json.loads((ROOT / "bench" / "results" / "language-id.json").read_text("utf-8"))
OVERALL_MARGIN, LANGUAGE_MARGIN = 0.03, 0.15
GERMAN = (ROOT / "bench" / "corpus" / "25-debian-vpn-de.txt").read_text(encoding="utf-8")
ENGLISH = (ROOT / "bench" / "corpus" / "18-debian-backup.txt").read_text(encoding="utf-8")


def named(code: str | None) -> str | None:
    """Norwegian as the sample labels it: the model names Bokmål "no"."""
    return "nb" if code == "no" else code


def document(language: str) -> str:
    """A language's 20 sample sentences as one document."""
    return "\n\n".join(BY_LANGUAGE[language])


# --- The sample --------------------------------------------------------------------------


def test_the_sample_s_sentences_are_named_as_well_as_the_benchmark_measured():
    measured = MEASURED["candidates"]["sidecar"]
    right = Counter(r["lang"] for r in SAMPLE if named(identify_language(r["text"])) == r["lang"])
    assert sum(right.values()) / len(SAMPLE) >= measured["accuracy"] - OVERALL_MARGIN
    for language, texts in BY_LANGUAGE.items():
        share = right[language] / len(texts)
        assert share >= measured["accuracy_by_language"][language] - LANGUAGE_MARGIN, language


@pytest.mark.parametrize("language", ["zh", "ja", "ko"])
def test_chinese_japanese_and_korean_sentences_are_told_apart(language):
    names = Counter(identify_language(t) for t in BY_LANGUAGE[language])
    assert names[language] >= len(BY_LANGUAGE[language]) - 1, names


@pytest.mark.parametrize("text", ["", "OK", "Hello world", "設定", "--verbose -n 3", "2024-05-01"])
def test_a_text_of_fewer_than_three_words_or_four_cjk_characters_is_not_named(text):
    assert identify_language(text) is None


def test_three_words_are_enough_to_be_named():
    assert identify_language("Entferne leere Verzeichnisse.") is not None


def test_a_long_document_is_named_by_its_opening():
    """Only the first IDENTIFY_CHARS characters are read: German ahead of a long English
    appendix is German."""
    assert identify_language(GERMAN[:6000] + ENGLISH * 20) == "de"


# --- A translation, or not ---------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh", "ko", "sv", "ru", "ja", "nb", "uk", "fi"])
def test_a_document_asked_in_its_own_language_is_no_translation(language):
    assert not require_language({"language": language}).differs_from(document(language))


def test_german_asked_in_english_is_a_translation():
    assert require_language({"language": "en"}).differs_from(GERMAN)
    assert require_language({"language": "German"}).differs_from(ENGLISH)
    assert not require_language({"language": "de"}).differs_from(GERMAN)


def test_chinese_asked_in_japanese_is_a_translation():
    assert require_language({"language": "ja"}).differs_from(document("zh"))


def test_norwegian_and_bokmal_are_one_language():
    assert same_language("no", "nb") and same_language("nb", "nb")
    assert not same_language("nb", "da") and not same_language(None, "en")
    assert not require_language({"language": "Norwegian"}).differs_from(document("nb"))


def test_a_document_too_short_to_name_is_held_to_its_words():
    assert not require_language({"language": "de"}).differs_from("Release notes")


# --- Stems in the document's language ----------------------------------------------------


@pytest.mark.parametrize(
    "language, inflected, base",
    [("sv", "storleken", "storlek"), ("ru", "геометрией", "геометрия"), ("fi", "tiedostot", "tiedosto")],
)  # fmt: skip
def test_words_are_stemmed_in_their_language(language, inflected, base):
    assert stem(inflected, language) == stem(base, language)


def test_a_swedish_document_supports_its_words_in_another_form():
    """ "storleken" (the size) in the manual page, "storlek" in a summary: one stem in
    Swedish, two in English."""
    stems = WordStems(document("sv"))
    assert stems.language == "sv"
    assert stems.supports("storlek") and stems.supports("kataloger")


@pytest.mark.parametrize("language", ["zh", "ja", "ko"])
def test_a_cjk_document_supports_its_own_words_as_written(language):
    stems = WordStems(document(language))
    sentence = BY_LANGUAGE[language][3]
    found, total = stems.support(sentence)
    assert stems.language == language and total and found == total
    assert stems.support("한국어 문서" if language != "ko" else "日本語の文書")[0] == 0
