"""Long documents: token-budgeted chunks, merged tags, combined summaries, progress."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import LONG_TEXT, Sidecar, with_context

from mlx_sidecar import text

WORD = re.compile(r"[^\W_]+")

TOPICS = {
    "volcano": [
        "A volcano forms where molten rock, called magma, rises through the crust of the Earth.",
        "When a volcano erupts, lava, ash and volcanic gases escape from its vent.",
        "Mount Etna in Sicily is one of the most active volcanoes in Europe.",
        "Volcanologists watch a volcano with seismometers, tiltmeters and gas sensors.",
        "Volcanic ash can ground aircraft and bury farmland far from the volcano itself.",
        "Shield volcanoes such as Mauna Loa are built from fluid basalt lava flows.",
        "The eruption of Krakatoa in 1883 was heard thousands of kilometres away.",
    ],
    "chess": [
        "Chess is a board game for two players on a board of sixty-four squares.",
        "Each chess player starts with sixteen pieces: a king, a queen, rooks, bishops, knights and pawns.",
        "The aim of a chess game is to checkmate the opponent's king.",
        "Chess openings such as the Sicilian Defence have been studied for centuries.",
        "Grandmasters calculate many moves ahead and know thousands of chess positions.",
        "A chess clock limits the time each player may spend on their moves.",
        "Computer chess engines now play far stronger chess than any human champion.",
    ],
    "honeybee": [
        "A honeybee colony has one queen, thousands of worker bees and a few hundred drones.",
        "Honeybees collect nectar and pollen from flowers and turn the nectar into honey.",
        "Beekeepers keep honeybees in wooden hives with removable frames of wax comb.",
        "A honeybee dances to tell its sisters where flowers with nectar can be found.",
        "Honeybees pollinate many crops, including apples, almonds and sunflowers.",
        "In winter the honeybees cluster together in the hive to keep the queen warm.",
        "Varroa mites are a serious threat to honeybee colonies around the world.",
    ],
}


def distinct_topics_document(total_chars: int) -> str:
    """About total_chars of text: a third on each topic, in paragraphs of 4 sentences."""
    parts = []
    per_topic = total_chars // len(TOPICS)
    for sentences in TOPICS.values():
        text, i = [], 0
        while sum(len(p) + 2 for p in text) < per_topic:
            text.append(" ".join(sentences[(i + k) % len(sentences)] for k in range(4)))
            i += 3
        parts.append("\n\n".join(text))
    return "\n\n".join(parts)


def topics_named(answers: list[str]) -> set[str]:
    """The topics the answers name: a word that only one topic's sentences have names that
    topic, whichever words the model chose ("Mount Etna" names the volcano as "volcano"
    does, "players" chess)."""
    vocabularies = {
        topic: set(WORD.findall(" ".join(sentences).casefold()))
        for topic, sentences in TOPICS.items()
    }
    named = set()
    for word in WORD.findall(" ".join(answers).casefold()):
        holders = [topic for topic, words in vocabularies.items() if word in words]
        if len(word) > 3 and len(holders) == 1:
            named.add(holders[0])
    return named


# A document longer than what one pass may hold is read in chunks. The model here is the
# bundled SmolLM2, its own weights and tokenizer, in an MLX folder whose config declares a
# 1,024-token context (GPT-2's; SmolLM2's own is 8,192): 10,000 characters of these
# paragraphs are ~2,200 tokens, longer than that context, and three chunks of ~775
# tokens, one per topic at the beginning, middle and end (a third of the text on each
# topic, distinct_topics_document), on any backend. Against the real 8,192 the same test
# needs 40,000 characters, five chunks and three times as long, and proves nothing more.
# The app's largest document (200,000 characters, ~25 chunks of the CPU's 2,048 tokens)
# adds only scale: it runs below on a tiny random-weight model.
SHORT_CONTEXT = 1024
LONG_CHARS = 10_000
LARGEST_CHARS = 200_000
TINY_CONTEXT = 4096  # the tiny model's: a dozen chunks of the largest document, anywhere


def server_on(folder: Path) -> Sidecar:
    s = Sidecar()
    line = s.ok({"command": "load-model", "model_path": str(folder)}, timeout=300)
    assert line["format"] == "mlx", line
    return s


@pytest.fixture(scope="module")
def long_document() -> str:
    return distinct_topics_document(LONG_CHARS)


@pytest.fixture(scope="module")
def loaded(mlx_folder, tmp_path_factory):
    """A server with SmolLM2 loaded from an MLX folder that declares a 1,024-token context."""
    folder = with_context(mlx_folder, tmp_path_factory.mktemp("smollm2-1k"), SHORT_CONTEXT)
    s = server_on(folder)
    assert s.ok({"command": "model-info"})["context_length"] == SHORT_CONTEXT
    yield s
    s.stop()


def test_a_long_document_gets_tags_covering_beginning_middle_and_end(loaded, long_document):
    events, line = loaded.request(
        {"command": "generate-tags", "content": long_document, "progress": True}, timeout=1800
    )
    assert line["type"] == "response", line
    assert line["chunks"] >= 3 and line["summary_prepared"] is True
    assert topics_named(line["tags"]) == set(TOPICS), line["tags"]
    progress = [e for e in events if e["type"] == "progress"]
    assert len(progress) == line["chunks"]
    assert [e["chunk"] for e in progress] == list(range(1, line["chunks"] + 1))
    assert progress[-1]["progress"] == 100.0
    assert all(a["progress"] < b["progress"] for a, b in pairwise(progress))


def test_a_long_document_gets_a_summary_covering_its_parts(loaded, long_document):
    # Tags first, as the app sends them: they prepare each chunk's summary (the test above
    # did it already when the module runs whole; then these are all reused at once).
    tags = loaded.ok({"command": "generate-tags", "content": long_document}, timeout=1800)
    assert tags["summary_prepared"] is True
    events, line = loaded.request(
        {"command": "summarize", "content": long_document, "stream": True}, timeout=1800
    )
    assert line["type"] == "response", line
    # Chunk summaries were made alongside the tags; only the combining pass is new.
    assert line["chunks"] >= 3 and line["passes"] >= 1
    assert line["reused_chunks"] >= 2 * line["chunks"]  # each chunk's tags and summary
    assert topics_named([line["summary"]]) == set(TOPICS), line["summary"]
    assert text.is_sentence(line["summary"]), line["summary"]
    partial = "".join(e["text"] for e in events if e["type"] == "partial")
    assert partial, "stream: true gives partial lines"
    assert not [e for e in events if e["type"] == "progress"], "progress is opt-in"


def test_default_output_of_a_short_document_is_one_line(loaded):
    before = len(loaded.lines)
    loaded.ok({"command": "summarize", "content": "Bees make honey from nectar.", "max_tokens": 24})
    assert len(loaded.lines) == before + 1


# --- The app's largest document, on a tiny model -----------------------------------------


@pytest.fixture(scope="module")
def tiny_folder(family_folders, tmp_path_factory) -> Path:
    """The tiny random-weight Mistral (its real tokenizer) declaring TINY_CONTEXT tokens."""
    source = family_folders("mistral").path
    return with_context(source, tmp_path_factory.mktemp("mistral-4k"), TINY_CONTEXT)


@pytest.fixture(scope="module")
def tiny_server(tiny_folder):
    """The chunk bookkeeping of a 200,000-character document in about a minute on 2 cores."""
    s = server_on(tiny_folder)
    yield s
    s.stop()


def rising_to_100(events: list[dict]) -> list[float]:
    figures = [e["progress"] for e in events if e["type"] == "progress"]
    assert figures and all(a < b for a, b in pairwise(figures)), figures
    assert figures[-1] == 100.0, figures
    return figures


def test_the_largest_document_is_read_in_every_chunk_and_bookkept(tiny_server, tiny_folder):
    from mlx_lm.utils import load_tokenizer

    document = distinct_topics_document(LARGEST_CHARS)
    events, tags = tiny_server.request(
        {"command": "generate-tags", "content": document, "progress": True}, timeout=1800
    )
    assert tags["type"] == "response", tags
    assert tags["read_chars"] == len(document.strip())
    assert tags["summary_prepared"] is True
    # No chunk holds more than the context, whatever else the backend decides.
    tokens = len(load_tokenizer(tiny_folder).encode(document))
    assert tags["chunks"] >= tokens / TINY_CONTEXT, (tags["chunks"], tokens)
    assert len(rising_to_100(events)) == tags["chunks"]  # one event per chunk
    assert tags["tags"] and all(isinstance(t, str) and t for t in tags["tags"])
    # Every chunk prefilled once (but the breaks between chunks); its summary reused that.
    assert tags["prompt_tokens"] - tags["cached_tokens"] >= 0.9 * tokens

    events, summary = tiny_server.request(
        {"command": "summarize", "content": document, "progress": True}, timeout=1800
    )
    assert summary["type"] == "response", summary
    assert summary["chunks"] == tags["chunks"]
    assert summary["reused_chunks"] >= 2 * summary["chunks"]  # nothing read twice
    rising_to_100(events)
    assert text.is_sentence(summary["summary"]), summary  # noise in, still a sentence out
    alive = tiny_server.ok({"command": "summarize", "content": "Bees make honey.", "max_tokens": 8})
    assert alive["summary"] and alive["chunks"] == 1  # the loop is alive after both


# --- What a chunk's results are kept under ------------------------------------------------


def test_chunk_results_are_reused_only_under_the_options_that_made_them(short_context_folder):
    """A chunk's tags and summary are kept under the task, max_tokens, temperature and
    text. A generate-tags with max_tokens 8 prepares the chunk summaries that a summarize
    with its defaults reuses (not its tags: those were cut at 8 tokens); a summarize at
    another temperature reuses nothing. LONG_TEXT is two chunks or more there."""
    s = server_on(short_context_folder)
    try:
        tags = s.ok({"command": "generate-tags", "content": LONG_TEXT, "max_tokens": 8})
        chunks = tags["chunks"]
        assert chunks >= 2 and tags["summary_prepared"] is True
        summary = s.ok({"command": "summarize", "content": LONG_TEXT})
        assert summary["chunks"] == chunks and summary["reused_chunks"] == chunks
        warmer = s.ok(
            {"command": "summarize", "content": LONG_TEXT, "max_tokens": 8, "temperature": 0.5}
        )
        assert "reused_chunks" not in warmer, warmer
    finally:
        s.stop()
