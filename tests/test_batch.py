"""batch: a library's documents in one command, decoded together.

Through the real server on the bundled model: a result line per document as it finishes,
answers like one document at a time, a bad document failing alone, bad batches refused,
cancel and deadlines mid-batch (paced from this machine: a stop lands within a step, and
one document's batch is longer than any step), EOF and shutdown, long documents through
the chunked path; the batch width from memory; and a batch on the tiny family folders,
the hybrid Qwen3.5 one included.
"""

from __future__ import annotations

import time

import pytest
from conftest import DOCUMENT, LONG_TEXT, ROOT, Sidecar
from pace import fresh, stop_within

from mlx_sidecar import text
from mlx_sidecar.answers.batch import MAX_ROWS, batch_width

CORPUS = ROOT / "bench" / "corpus"
SHORT = [
    (CORPUS / "07-click-readme.md").read_text(encoding="utf-8"),
    (CORPUS / "33-networkx-readme.rst").read_text(encoding="utf-8"),
    (CORPUS / "01-zen-of-python.txt").read_text(encoding="utf-8"),
]
GIB = 1024**3
TOKENS = 24  # short answers: what is tested is the bookkeeping, not the prose


def results_of(events: list[dict]) -> dict:
    return {e["document_id"]: e for e in events if e["type"] == "result"}


def test_every_document_gets_a_result_line_and_the_response_counts_them(loaded):
    documents = [{"id": i, "content": text} for i, text in enumerate(SHORT)]
    documents[0]["format"] = "text"  # a README read as plain text: its own format wins
    events, line = loaded.request(
        {"command": "batch", "documents": documents, "progress": True, "max_tokens": TOKENS}
    )
    assert line["type"] == "response" and line["batched"] is True, line
    assert line["documents"] == 3 and line["failed"] == 0 and line["widest"] >= 2
    results = results_of(events)
    assert set(results) == {0, 1, 2}
    for result in results.values():
        assert result["tags"] and result["summary"] and result["chunks"] == 1
        assert result["read_chars"] > 0
    assert [results[i]["format"] for i in range(3)] == ["text", "rst", "text"]
    assert results[0]["read_chars"] == len(SHORT[0].strip())  # the Markdown kept as it is
    progress = [e for e in events if e["type"] == "progress"]
    assert [p["done"] for p in progress] == [1, 2, 3] and progress[-1]["progress"] == 100.0
    # each result line comes before the progress line that counts it
    kinds = [e["type"] for e in events]
    assert kinds == ["result", "progress"] * 3


def test_a_batch_answers_as_one_document_at_a_time_does(loaded):
    """The same prompts, and answers of the same shape. With greedy decoding the words are
    the same too, except where the rounding of batched products flips a token: it does on
    some backends, so the words are compared by bench/batch.py, not here."""
    documents = [{"id": i, "content": text} for i, text in enumerate(SHORT)]
    batch = {"command": "batch", "documents": documents, "max_tokens": TOKENS, "sentences": 1}
    results = results_of(loaded.request(batch)[0])
    for i, content in enumerate(SHORT):
        ask = {"content": content, "max_tokens": TOKENS}
        tags = loaded.ok({"command": "generate-tags", **ask})
        summary = loaded.ok({"command": "summarize", **ask, "sentences": 1})
        batched = results[i]
        assert batched["prompt_tokens"] == tags["prompt_tokens"] + summary["prompt_tokens"]
        for answer in (tags, batched):
            assert answer["raw_output_parsed"] is True and 1 <= len(answer["tags"]) <= 5
        for answer in (summary, batched):
            assert len(text.split_sentences(answer["summary"])) == 1, answer["summary"]


def test_a_bad_document_fails_alone_and_the_others_go_on(loaded):
    documents = [
        {"id": "ok", "content": SHORT[2]},
        {"id": "blank", "content": "   "},
        {"id": "missing"},
        {"id": "number", "content": 42},
        {"id": "bad format", "content": "text", "format": "pdf"},
    ]
    events, line = loaded.request(
        {"command": "batch", "documents": documents, "max_tokens": TOKENS}
    )
    assert line["type"] == "response" and line["failed"] == 4 and line["documents"] == 5
    results = results_of(events)
    assert results["ok"]["tags"] and results["ok"]["summary"]
    for doc_id in ("blank", "missing", "number", "bad format"):
        assert results[doc_id]["code"] == "invalid_params" and results[doc_id]["error"]
        assert "tags" not in results[doc_id]


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"documents": []}, "non-empty list"),
        ({"documents": "text"}, "non-empty list"),
        ({"documents": ["text"]}, "non-empty list"),
        ({"documents": [{"content": "a"}]}, "'id'"),
        ({"documents": [{"id": True, "content": "a"}]}, "'id'"),
        ({"documents": [{"id": 1, "content": "a"}, {"id": 1, "content": "b"}]}, "unique"),
        ({"documents": [{"id": 1, "content": "a"}], "tasks": ["tags", "translate"]}, "'tasks'"),
        ({"documents": [{"id": 1, "content": "a"}], "tasks": []}, "'tasks'"),
        ({"documents": [{"id": 1, "content": "a"}], "max_tags": 50}, "max_tags"),
    ],
)
def test_a_bad_batch_is_one_invalid_params_error_and_the_loop_goes_on(loaded, fields, words):
    line = loaded.answer({"command": "batch", **fields})
    assert line["type"] == "error" and line["code"] == "invalid_params", line
    assert words in line["error"]
    assert loaded.ok({"command": "check-availability"})["available"] is True


@pytest.mark.parametrize("task, left_out", [("tags", "summary"), ("summary", "tags")])
def test_only_the_tasks_asked_are_answered(loaded, task, left_out):
    events, _ = loaded.request(
        {
            "command": "batch",
            "documents": [{"id": 1, "content": SHORT[2]}],
            "tasks": [task],
            "max_tokens": TOKENS,
        }
    )
    result = results_of(events)[1]
    assert result[task] and left_out not in result


def test_the_batch_takes_the_vocabulary_and_language_options(loaded):
    known = ["Python", "command line", "cooking", "gardening"]
    documents = [{"id": i, "content": text} for i, text in enumerate(SHORT[:2])]
    events, line = loaded.request(
        {
            "command": "batch",
            "documents": documents,
            "known_tags": known,
            "max_new_tags": 0,
            "language": "en",
            "max_tokens": TOKENS,
        }
    )
    assert line["type"] == "response", line
    for result in results_of(events).values():
        assert set(result["tags"]) <= set(known) and result["new_tags"] == []


@pytest.fixture(scope="module")
def one_document_s(loaded) -> float:
    """Seconds a batch of one fresh document takes here: longer than any one step of a
    batch (a prefill step, a decode step of its rows), so stop_within(one_document_s)
    bounds a stop on this machine."""
    one = {"command": "batch", "documents": [{"id": 0, "content": fresh(SHORT[0])}]}
    return loaded.request({**one, "max_tokens": TOKENS})[1]["seconds"]


def many_documents(n: int) -> list[dict]:
    """n documents no prompt cache helps, more than a batch decodes together (MAX_ROWS
    rows, two a document): on any machine some wait for a place when a stop comes."""
    return [{"id": i, "content": fresh(SHORT[i % 3])} for i in range(n)]


def test_cancelling_a_batch_keeps_the_results_written_and_ends_with_cancelled(
    loaded, one_document_s
):
    # Documents are read first, in order: the blank one's result line is written once all
    # are read, before any model work. A cancel sent when it arrives stops the batch within
    # a step, and no other document ends.
    documents = [*many_documents(40), {"id": "blank", "content": " "}]
    loaded.send({"command": "batch", "id": "lib", "documents": documents, "max_tokens": 120})
    first = loaded.read()
    assert first["document_id"] == "blank" and first["code"] == "invalid_params", first
    started = time.monotonic()
    assert loaded.cancel("lib")["cancelled"] is True
    events, line = loaded.wait_for("lib")
    latency = time.monotonic() - started
    assert line["type"] == "error" and line["code"] == "cancelled", line
    assert latency < stop_within(one_document_s), f"stopped {latency:.2f} s after the cancel"
    assert results_of(events) == {}  # the line written stands; nothing else was done
    assert loaded.ok({"command": "check-availability"})["available"] is True


def test_a_deadline_bounds_the_whole_batch(loaded, one_document_s):
    # Forty-eight documents cannot all be done in the time one takes alone, on any machine.
    deadline = one_document_s
    documents = many_documents(48)
    started = time.monotonic()
    events, line = loaded.request(
        {"command": "batch", "documents": documents, "timeout_s": deadline, "max_tokens": TOKENS}
    )
    elapsed = time.monotonic() - started
    assert line["type"] == "error" and line["code"] == "timeout", line
    assert deadline <= elapsed < deadline + stop_within(one_document_s), elapsed
    assert len(results_of(events)) < len(documents)


def test_eof_finishes_a_batch_then_exits_and_shutdown_cancels_one(short_context_folder):
    """As docs/protocol.md says: a batch piped in ends with EOF, not with shutdown. On the
    tiny Mistral (bookkeeping, not prose), summaries only (no grammar to build)."""
    piped, stopped = Sidecar(), Sidecar()
    try:
        for s in (piped, stopped):
            s.send({"command": "load-model", "model_path": str(short_context_folder)})
        for s in (piped, stopped):
            assert s.read(timeout=300)["type"] == "response"
        ask = {"command": "batch", "id": "all", "tasks": ["summary"], "max_tokens": 8}
        documents = [{"id": i, "content": f"{i}. {DOCUMENT}"} for i in range(3)]
        piped.send({**ask, "documents": documents})
        assert piped.close_stdin() == 0
        events, line = piped.wait_for("all")
        assert line["type"] == "response" and line["documents"] == 3, line
        assert set(results_of(events)) == {0, 1, 2}

        stopped.send({**ask, "documents": [*many_documents(40), {"id": "blank", "content": " "}]})
        assert stopped.read()["document_id"] == "blank"  # the batch is running
        stopped.send({"command": "shutdown", "id": "bye"})
        _, cancelled = stopped.wait_for("all")
        assert cancelled["code"] == "cancelled" and "shutting down" in cancelled["error"]
        assert stopped.wait_for("bye")[1]["success"] is True
        assert stopped.proc.wait(timeout=60) == 0
    finally:
        piped.stop()
        stopped.stop()


def test_a_long_document_runs_in_chunks_between_batched_ones(short_context_folder):
    """A document longer than one pass (here: a tiny model with a 1,024-token context)
    goes through the chunked single-document path; short ones are batched."""
    s = Sidecar()
    try:
        s.ok({"command": "load-model", "model_path": str(short_context_folder)}, timeout=300)
        documents = [
            {"id": "short", "content": SHORT[2]},
            {"id": "long", "content": LONG_TEXT},
            {"id": "short too", "content": SHORT[1]},
        ]
        events, line = s.request({"command": "batch", "documents": documents, "max_tokens": TOKENS})
        assert line["type"] == "response" and line["failed"] == 0, line
        results = results_of(events)
        assert (
            results["long"]["chunks"] >= 2
            and results["long"]["tags"]
            and results["long"]["summary"]
        )
        assert results["short"]["chunks"] == results["short too"]["chunks"] == 1
    finally:
        s.stop()


# --- The width: as many sequences as the KV cache may hold in memory ---------------------

# Qwen3-8B-4bit, the app's default model: 36 layers x 8 KV heads x 128 dims x 2 (keys and
# values) x 2 bytes (bfloat16) = 147,456 bytes a token (its published config.json), and
# 4.6 GB of weights (the mlx-community folder's safetensors). Apple's recommended working
# set: 2/3 of memory up to 32 GB, 3/4 above. A document of 2,000 tokens with its answer.
QWEN3_8B = {"per_token": 147_456, "weights": 4_600_000_000}


@pytest.mark.parametrize(
    "memory_gib, expected",
    [
        # (8 GiB x 2/3 - 4.6 GB) / 2 = 0.562 GB for the caches: one 295 MB sequence
        (8, 1),
        # (16 GiB x 2/3 - 4.6 GB) / 2 = 3.43 GB: 11 sequences of 295 MB
        (16, 11),
        # (64 GiB x 3/4 - 4.6 GB) / 2 = 23.5 GB: 79 sequences, capped at the GPU's 32
        (64, 32),
    ],
)
def test_the_batch_is_as_wide_as_the_memory_allows(memory_gib, expected):
    share = 2 / 3 if memory_gib <= 32 else 3 / 4
    memory = int(memory_gib * GIB * share)
    rows = batch_width(QWEN3_8B["per_token"], memory, QWEN3_8B["weights"], 2000, MAX_ROWS["gpu"])
    assert rows == expected


def test_without_a_memory_figure_the_backend_limit_holds():
    assert batch_width(None, None, 0, 2000, MAX_ROWS["cpu"]) == MAX_ROWS["cpu"]
    assert batch_width(147_456, 10 * GIB, 20 * GIB, 2000, 16) == 1  # never none


# --- The model families --------------------------------------------------------------------


# mlx-lm 0.32 merges each of these caches into a batch (what mlx_lm.server checks): the
# KVCache of Qwen3, the linear-attention ArraysCache beside the KVCache of Qwen3.5, and
# Gemma 3's sliding-window RotatingKVCache. (A quantized or chunked KV cache would not
# merge: no tiny family here has one.)
@pytest.mark.parametrize("family", ["qwen3-tied", "qwen3_5", "gemma3_text"])
def test_a_batch_runs_batched_on_each_kind_of_cache(family, family_folders, sidecar):
    built = family_folders(family)
    s = sidecar
    s.ok({"command": "load-model", "model_path": str(built.path)}, timeout=300)
    documents = [{"id": i, "content": SHORT[i]} for i in range(3)]
    events, line = s.request(
        {"command": "batch", "documents": documents, "max_tokens": 16}, timeout=600
    )
    assert line["type"] == "response" and line["batched"] is True, line
    assert line["widest"] >= 2  # a document's tags and summary at least, decoded together
    results = results_of(events)
    assert set(results) == {0, 1, 2}
    assert all(r["summary"] and isinstance(r["tags"], list) for r in results.values())
