"""Long documents: token-budgeted chunks, merged tags, combined summaries, progress."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest

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


def mentions(text: str) -> set[str]:
    folded = text.casefold()
    stems = {
        "volcano": r"volcan|lava|erupt|magma",
        "chess": r"chess",
        "honeybee": r"\bbees?\b|honey|hive",  # not "been"
    }
    return {topic for topic, pattern in stems.items() if re.search(pattern, folded)}


# A document longer than the model's 8,192-token context is read in chunks (2,048 tokens
# each on CPU). 40,000 characters of these paragraphs are ~9,000 tokens: five chunks, the
# fewest that still put each topic in a chunk of its own at the beginning, middle and end.
# The same tests at 200,000 characters (~23 chunks) are marked slow: they add the app's
# largest document, not another behaviour. CI runs both sizes (it deselects nothing).
SIZES = [40_000, pytest.param(200_000, marks=pytest.mark.slow)]


@pytest.fixture(scope="module", params=SIZES, ids=lambda n: f"{n // 1000}k")
def long_document(request: pytest.FixtureRequest) -> str:
    return distinct_topics_document(request.param)


def test_the_test_document_has_three_topics_in_thirds(long_document):
    n = len(long_document)
    assert mentions(long_document[: n // 4]) == {"volcano"}
    assert mentions(long_document[2 * n // 5 : 3 * n // 5]) == {"chess"}
    assert mentions(long_document[-n // 4 :]) == {"honeybee"}


def test_a_long_document_gets_tags_covering_beginning_middle_and_end(loaded, long_document):
    events, line = loaded.request(
        {"command": "generate-tags", "content": long_document, "progress": True}, timeout=1800
    )
    assert line["type"] == "response", line
    assert line["chunks"] >= 3
    assert mentions(" ".join(line["tags"])) == {"volcano", "chess", "honeybee"}, line["tags"]
    progress = [e for e in events if e["type"] == "progress"]
    assert len(progress) == line["chunks"]
    assert [e["chunk"] for e in progress] == list(range(1, line["chunks"] + 1))
    assert progress[-1]["progress"] == 100.0
    assert all(a["progress"] < b["progress"] for a, b in pairwise(progress))


def test_a_long_document_gets_a_summary_covering_its_parts(loaded, long_document):
    events, line = loaded.request(
        {"command": "summarize", "content": long_document, "stream": True}, timeout=1800
    )
    assert line["type"] == "response", line
    # Chunk summaries were made alongside the tags above; only the combining pass is new.
    assert line["chunks"] >= 3 and line["passes"] >= 1
    assert mentions(line["summary"]) == {"volcano", "chess", "honeybee"}, line["summary"]
    partial = "".join(e["text"] for e in events if e["type"] == "partial")
    assert partial, "stream: true gives partial lines"
    assert not [e for e in events if e["type"] == "progress"], "progress is opt-in"


def test_default_output_of_a_short_document_is_one_line(loaded):
    before = len(loaded.lines)
    loaded.ok({"command": "summarize", "content": "Bees make honey from nectar.", "max_tokens": 24})
    assert len(loaded.lines) == before + 1
