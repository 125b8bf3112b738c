"""The user's own tags (`known_tags`, `max_new_tags`) and the answers' `language`.

Unit tests for the list's spellings, the candidates a document mentions, the grammar on
three real vocabularies (151k Qwen, 128k Llama 3, 32k Mistral), and every bad input; then
through the real server on the bundled model: tags come from the list, spelled the
user's way, unrelated ones are not chosen, and new ones stay within max_new_tags.
"""

from __future__ import annotations

import re

import pytest
from conftest import ROOT, tag_grammar

from mlx_sidecar.errors import InvalidParams
from mlx_sidecar.grammar import TagGrammar, known_tags_grammar
from mlx_sidecar.language import require_language
from mlx_sidecar.prompts import summary_task, tags_task
from mlx_sidecar.reading import read_document
from mlx_sidecar.repairs.known_tags import FALLBACK_TAGS, with_known_tags
from mlx_sidecar.repairs.support import check_support
from mlx_sidecar.text import identify_language, split_sentences
from mlx_sidecar.vocabulary import KnownTags, require_known_tags, require_max_new_tags

HTTPX = (ROOT / "bench" / "corpus" / "09-httpx-readme.md").read_text(encoding="utf-8")
GERMAN = (ROOT / "bench" / "corpus" / "25-debian-vpn-de.txt").read_text(encoding="utf-8")
SWEDISH = (ROOT / "bench" / "corpus" / "66-chmod-man-page-sv.txt").read_text(encoding="utf-8")
ODD = ["C#", "Node.js", "日本語", "Web-Scraping", "HTTP clients"]
UNRELATED = ["cooking", "gardening", "knitting", "football", "astronomy", "poetry"]


# --- The list --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant, listed",
    [
        ("web scraping", "Web-Scraping"),
        ("WEB_SCRAPING", "Web-Scraping"),
        ("web-scrapings", "Web-Scraping"),
        ("node.JS", "Node.js"),
        ("HTTP client", "HTTP clients"),
        ("c#", "C#"),
        ("日本語", "日本語"),
    ],
)
def test_a_variant_of_a_known_tag_is_that_tag_as_the_list_spells_it(variant, listed):
    assert KnownTags.of(ODD).spelling(variant) == listed


def test_a_tag_not_in_the_list_has_no_spelling_there():
    known = KnownTags.of(ODD)
    assert known.spelling("Node") is None and known.spelling("scraping") is None


def test_the_candidates_are_the_listed_tags_the_document_mentions_most_mentioned_first():
    document = (
        "Node.js runs JavaScript. Web scraping with Node.js is common; HTTP clients fetch "
        "pages. Node.js again. 日本語のページも読む。"
    )
    candidates = KnownTags.of([*ODD, *UNRELATED]).candidates(document, limit=None)
    assert candidates[0] == "Node.js"
    assert set(candidates) == {"Node.js", "Web-Scraping", "HTTP clients", "日本語"}


def test_a_list_is_worked_out_once_under_its_content():
    first, again = KnownTags.of(["a", "b"]), KnownTags.of(["a", "b"])
    assert first.key == again.key != KnownTags.of(["b", "a"]).key


def test_when_the_model_gives_nothing_usable_the_most_mentioned_listed_tags_stand_in():
    known = KnownTags.of(["HTTP", "Python", "async", "HTTP/2", "command line", *UNRELATED])
    mentioned = known.candidates(HTTPX, limit=None)
    assert len(mentioned) > FALLBACK_TAGS and not set(mentioned) & set(UNRELATED)
    # Nothing; blanks; and a listed tag the document never mentions, which is no answer.
    for answer in ([], ["", "  "], ["cooking"]):
        assert with_known_tags(answer, HTTPX, 5, known, 0, mentioned) == mentioned[:FALLBACK_TAGS]
    assert with_known_tags([], HTTPX, 2, known, 0, mentioned) == mentioned[:2]


# --- Bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, words",
    [
        ("HTTP", "list of strings"),
        ([], "empty list"),
        (["ok", 3], "known_tags'[1]"),
        (["ok", "  "], "known_tags'[1]"),
        (["x" * 101], "at most 100"),
        (["t"] * 10_001, "at most 10,000"),
    ],
)
def test_a_bad_known_tags_list_is_refused_naming_the_field(value, words):
    with pytest.raises(InvalidParams, match="known_tags") as error:
        require_known_tags({"known_tags": value})
    assert words in str(error.value)


@pytest.mark.parametrize("value", [-1, 6, 1.5, "1", True])
def test_max_new_tags_outside_0_to_max_tags_is_refused(value):
    with pytest.raises(InvalidParams, match="max_new_tags"):
        require_max_new_tags({"max_new_tags": value}, 5, ["a"])


def test_max_new_tags_defaults_to_one_with_a_list_and_is_unused_without():
    assert require_max_new_tags({}, 5, ["a"]) == 1
    assert require_max_new_tags({"max_new_tags": 0}, 5, ["a"]) == 0
    assert require_max_new_tags({}, 5, None) is None


@pytest.mark.parametrize(
    "value, code, name",
    [("de", "de", "German"), ("German", "de", "German"), ("japanese", "ja", "Japanese")],
)
def test_a_language_is_named_by_its_code_or_english_name(value, code, name):
    language = require_language({"language": value})
    assert (language.code, language.name) == (code, name)


def test_auto_or_no_language_asks_for_none():
    assert require_language({}) is None and require_language({"language": "auto"}) is None


@pytest.mark.parametrize("value", ["Klingon", "xx", "", 7, ["de"]])
def test_a_bad_language_is_refused_saying_how_to_name_one(value):
    with pytest.raises(InvalidParams, match='"de" or "German"'):
        require_language({"language": value})


def test_the_language_is_in_every_task_a_model_is_given():
    assert tags_task(5, "German").endswith("Write your answer in German.")
    assert summary_task("one sentence", "German", "Debian").endswith("Write your answer in German.")
    assert "German" not in tags_task(5) + summary_task("one sentence")


def test_the_prompt_shows_the_candidates_and_how_many_new_tags_may_come():
    only = tags_task(5, None, ["HTTP", "Python"], 0)
    assert '["HTTP", "Python"]' in only and "Use only tags from that list." in only
    assert "at most 2 other tags" in tags_task(5, None, ["HTTP"], 2)


# --- The grammar on real vocabularies ------------------------------------------------------


@pytest.fixture(scope="module", params=["qwen3-tied", "llama3.2", "mistral"])
def grammar(request, family_folders) -> TagGrammar:
    return tag_grammar(family_folders(request.param))


def accepts(grammar: TagGrammar, text: str, known: list[str], max_new: int) -> bool:
    import llguidance

    matcher = llguidance.LLMatcher(grammar.tokenizer(), known_tags_grammar(known, 5, max_new))
    tokens = grammar.tokenizer().tokenize_str(text)
    return all(matcher.consume_token(t) for t in tokens) and matcher.is_accepting()


def test_the_grammar_takes_oddly_split_known_tags_on_each_vocabulary(grammar):
    assert accepts(grammar, '["C#", "Node.js", "日本語"]', ODD, 0)
    assert accepts(grammar, '["日本語"]', ODD, 0)


def test_with_no_new_tags_allowed_the_grammar_refuses_any_other_tag(grammar):
    assert not accepts(grammar, '["C#", "Rust"]', ODD, 0)
    assert not accepts(grammar, '["c#"]', ODD, 0)  # not even another spelling


def test_the_grammar_allows_as_many_new_tags_as_asked_and_no_more(grammar):
    assert accepts(grammar, '["C#", "Rust"]', ODD, 1)
    assert not accepts(grammar, '["C#", "Rust", "Go lang"]', ODD, 1)
    assert accepts(grammar, '["Rust", "Go lang"]', ODD, 2)


def test_the_grammar_for_a_list_is_built_once_and_reused(grammar):
    known = KnownTags.of(ODD)
    assert grammar.known_tags_grammar(known, 5, 0) is grammar.known_tags_grammar(known, 5, 0)


# --- Through the real server -------------------------------------------------------------


def tags_of(loaded, **fields) -> dict:
    return loaded.ok({"command": "generate-tags", "content": HTTPX, **fields})


def test_with_max_new_tags_0_every_tag_comes_from_the_list(loaded):
    known = ["HTTP", "Python", "async", "HTTP/2", "command line", *UNRELATED]
    line = tags_of(loaded, known_tags=known, max_new_tags=0)
    assert line["tags"] and set(line["tags"]) <= set(known)
    assert line["new_tags"] == []


def test_an_unrelated_listed_tag_is_not_chosen(loaded):
    line = tags_of(loaded, known_tags=["HTTP", "Python", *UNRELATED], max_new_tags=0)
    assert not set(line["tags"]) & set(UNRELATED), line["tags"]
    assert "HTTP" in line["tags"]


def test_a_listed_tag_comes_back_spelled_the_user_s_way(loaded):
    line = tags_of(loaded, known_tags=["http", "PYTHON", "Async-IO"], max_new_tags=0)
    assert set(line["tags"]) <= {"http", "PYTHON", "Async-IO"}
    assert "http" in line["tags"]


def test_new_tags_stay_within_max_new_tags_and_are_named(loaded):
    for max_new in (1, 2):
        line = tags_of(loaded, known_tags=["Python", *UNRELATED], max_new_tags=max_new)
        assert len(line["new_tags"]) <= max_new
        assert line["new_tags"] == [t for t in line["tags"] if t not in ["Python", *UNRELATED]]


def test_with_no_listed_tag_in_the_document_and_no_new_tags_allowed_none_is_made_up(loaded):
    line = tags_of(loaded, known_tags=UNRELATED, max_new_tags=0)
    assert line["tags"] == [] and line["new_tags"] == []


def test_five_thousand_known_tags_are_accepted_and_answered_from_the_list(loaded):
    known = ["HTTP", "Python", *UNRELATED, *(f"topic {i:04d}" for i in range(5000))]
    line = tags_of(loaded, known_tags=known, max_new_tags=0)
    assert set(line["tags"]) <= {"HTTP", "Python"} and line["tags"]


def test_bad_vocabulary_fields_through_the_server_name_the_field_and_the_loop_goes_on(loaded):
    for fields, word in (
        ({"known_tags": "HTTP"}, "known_tags"),
        ({"known_tags": ["a"], "max_new_tags": 9}, "max_new_tags"),
        ({"language": "Klingon"}, "language"),
    ):
        line = loaded.answer({"command": "generate-tags", "content": "Some text.", **fields})
        assert line["code"] == "invalid_params" and word in line["error"]
    assert tags_of(loaded)["tags"]


def test_the_prompt_shows_at_most_30_of_the_listed_tags_the_document_mentions(loaded):
    """Forty listed tags the document mentions make the same prompt as the thirty it
    mentions most; twenty-nine make a shorter one. (Mentions are counted in the text as
    the server reads the Markdown, as it does.)"""
    from mlx_sidecar.reading import read_document

    read = read_document(HTTPX, "auto").text
    words = sorted(set(re.findall(r"[A-Za-z]{5,}", read)))
    mentioned = KnownTags.of(words).candidates(read, limit=None)[:40]
    assert len(mentioned) == 40

    def prompt_tokens(known: list[str]) -> int:
        return tags_of(loaded, known_tags=known, max_new_tags=0, max_tokens=1)["prompt_tokens"]

    thirty = prompt_tokens(mentioned[:30])
    assert prompt_tokens(mentioned) == thirty > prompt_tokens(mentioned[:29])


def test_a_language_is_asked_for_in_the_prompt_and_auto_asks_for_none(loaded):
    ask = {"command": "summarize", "content": HTTPX, "sentences": 1, "max_tokens": 4}
    plain = loaded.ok(ask)
    auto = loaded.ok({**ask, "language": "auto"})
    french = loaded.ok({**ask, "language": "fr"})
    named = loaded.ok({**ask, "language": "French"})
    assert auto["prompt_tokens"] == plain["prompt_tokens"]  # the document's own language
    assert french["prompt_tokens"] == named["prompt_tokens"] > plain["prompt_tokens"]
    assert french["summary"].strip()  # never empty, whatever the model made of it


def test_a_long_document_asks_every_chunk_in_the_language(short_context_folder):
    """The language is part of every chunk's task: a long document summarized in French
    reads every chunk again (nothing asked in English is reused), and asked in French
    again, reuses every chunk."""
    from conftest import LONG_TEXT, Sidecar

    ask = {"command": "summarize", "content": LONG_TEXT, "max_tokens": 24, "sentences": 1}
    s = Sidecar()
    try:
        s.ok({"command": "load-model", "model_path": str(short_context_folder)}, timeout=300)
        english = s.ok(ask)
        french = s.ok({**ask, "language": "fr"})
        again = s.ok({**ask, "language": "French"})
        assert english["chunks"] == french["chunks"] >= 2
        assert "reused_chunks" not in french  # every chunk asked anew, in French
        assert again["reused_chunks"] >= 2 * again["chunks"]  # and remembered in French
    finally:
        s.stop()


# --- A summary's language said, its grounding kept (text.identify_language) ---------------


def opening(text: str, chars: int = 1500) -> str:
    """A document's opening, cut at a line end: one pass, few prompt tokens."""
    return text[: text.rfind("\n", 0, chars) + 1]


def one_sentence(loaded, content: str, language: str) -> dict:
    request = {"command": "summarize", "content": content, "language": language}
    return loaded.ok({**request, "sentences": 1, "max_tokens": 48})


def test_a_german_text_asked_in_english_says_the_language_its_summary_is_in(loaded):
    line = one_sentence(loaded, opening(GERMAN), "en")
    named = identify_language(line["summary"])
    assert named is not None and line["answer_language"] == named, line["summary"]
    if named != "en":  # the model's prose or the document's sentences, not in English
        assert line["passes"] == 2  # only after a second pass asked in English again


def test_a_swedish_text_asked_in_swedish_keeps_its_grounding(loaded):
    """Swedish asked in Swedish is no translation: every sentence of the summary is held
    to the document's words (the model's supported, or the document's own), none passed
    on its names and numbers alone, and none is in another language."""
    content = opening(SWEDISH)
    line = one_sentence(loaded, content, "sv")
    document = read_document(content).text
    assert line["answer_language"] == "sv" and line["passes"] == 1
    for sentence in split_sentences(line["summary"]):
        own = " ".join(sentence.split()) in " ".join(document.split())
        assert own or check_support(sentence, document).ok, sentence
        assert identify_language(sentence, confident=True) in (None, "sv"), sentence
