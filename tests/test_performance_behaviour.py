"""Performance behaviour that can be asserted without timing: cache reuse and memory.

Speeds themselves are measured by bench/perf.py, never asserted here.
"""

from __future__ import annotations

from conftest import DOCUMENT
from procstats import rss


def long_enough_document() -> str:
    """About 1,500 tokens of text, the size the cache-reuse target is stated for."""
    return "\n\n".join(f"Part {i}. {DOCUMENT}" for i in range(16))


def test_summarize_after_tags_on_the_same_document_reuses_its_prefix(loaded):
    doc = long_enough_document()
    tags = loaded.ok({"command": "generate-tags", "content": doc, "max_tokens": 24})
    assert tags["prompt_tokens"] > 1200 and tags["cached_tokens"] < tags["prompt_tokens"] / 2
    summary = loaded.ok({"command": "summarize", "content": doc, "max_tokens": 24})
    # Only the task differs: at least 85% of the prompt comes from the cache.
    assert summary["cached_tokens"] >= 0.85 * summary["prompt_tokens"], summary


def test_an_edited_document_reuses_the_part_before_the_edit(loaded):
    doc = long_enough_document()
    loaded.ok({"command": "summarize", "content": doc, "max_tokens": 8})
    edited = doc[: len(doc) // 2] + " An inserted sentence. " + doc[len(doc) // 2 :]
    line = loaded.ok({"command": "summarize", "content": edited, "max_tokens": 8})
    assert 0.3 * line["prompt_tokens"] < line["cached_tokens"] < 0.7 * line["prompt_tokens"]


def test_a_different_document_does_not_reuse_its_content(loaded):
    # The whole prompt around a one-character document: system prompt, template, task.
    template = loaded.ok({"command": "summarize", "content": "x", "max_tokens": 1})
    loaded.ok({"command": "summarize", "content": DOCUMENT, "max_tokens": 8})
    line = loaded.ok({"command": "summarize", "content": "Bees make honey.", "max_tokens": 8})
    assert line["cached_tokens"] < template["prompt_tokens"]  # part of the template only


def test_reloading_frees_the_previous_model(loaded):
    loaded.ok({"command": "load-model"})
    first = rss(loaded.proc.pid)
    # Five reloads: before the fix each one kept ~60 MB more (1,289 MB after ten), so
    # five would end ~40% above the first; bench/perf.py runs ten.
    for _ in range(5):
        loaded.ok({"command": "load-model"})
    after = rss(loaded.proc.pid)
    assert after < first * 1.10, (first, after)
