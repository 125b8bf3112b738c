"""One model pass over text that fits: a tags pass, or a summary pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..prompts import encode_prompt
from ..repairs import answer_for, tags_from_answer
from ..repairs.answer import THINK_BLOCK
from ..repairs.loops import LoopGuard
from ..tokens import encode_text
from .job import Job
from .summary import PartialStream, Summary

# Summaries: a mild repetition penalty (mlx-lm's logits processor) keeps a 135M model
# from looping on one sentence; 1.15 over the last 64 tokens measured best on the corpus.
REPETITION_PENALTY = 1.15
REPETITION_CONTEXT = 64
# Summaries say what the document says: every token of the document gets this much more
# logit, so the model's words come from it. On 14 corpus texts the share of a summary's
# content words found in its document rose from 76% to 85% at 1.5 (bench/RESULTS.md,
# "Faithfulness"); tags are held by their grammar and grounding instead. Not when the
# answer is asked in another language: the document's tokens are the wrong words then.
DOCUMENT_BIAS = 1.5


def tags_pass(job: Job, text: str, limit: int, max_tokens: int | None = None) -> tuple[list, bool]:
    """Tags of ``text`` under the tags grammar, repaired; and whether the model's raw
    answer parsed as a JSON list. With the user's tags, the prompt shows the ones ``text``
    mentions, and the grammar allows the list's tags and at most ``job.max_new`` others."""
    tokens = max_tokens or job.max_tokens
    mentioned = job.known.candidates(text, limit=None) if job.known else None
    prompt = encode_prompt(job.model.tokenizer, text, job.tags_task(limit, mentioned))
    processor = job.grammar.processor(limit, tokens, job.known, job.max_new or 0)
    result = job.run(prompt, tokens, logits_processors=[processor] if processor else None)
    answer = answer_for(job.model.tokenizer, text, translated=job.translates(text))
    found = tags_from_answer(result.text, answer, limit, job.known, job.max_new, mentioned)
    return found, is_json_list(result.text)


def summary_pass(
    job: Job,
    text: str,
    task: str,
    target: int,
    into: Summary | None = None,
    max_tokens: int | None = None,
) -> str:
    """One pass: its clean sentences go into ``into`` (a new Summary of ``target``
    sentences if none) as they are generated; it stops when the summary is full or the
    model repeats a sentence, or as soon as it loops (repairs/loops.py). Returns the pass's
    summary text."""
    from mlx_lm.sample_utils import make_logits_processors

    summary = into if into is not None else Summary(sentences=target)
    translated = job.translates(text)
    feed = PartialStream(summary, answer_for(job.model.tokenizer, text, translated))
    guard = LoopGuard()

    def heard(piece: str) -> None:
        feed(piece)
        guard(piece)

    job.run(
        encode_prompt(job.model.tokenizer, text, task),
        max_tokens,
        on_text=heard,
        should_stop=lambda: summary.done() or guard.looping,
        logits_processors=[
            *make_logits_processors(
                repetition_penalty=REPETITION_PENALTY, repetition_context_size=REPETITION_CONTEXT
            ),
            *([] if translated else [document_bias(job.model.tokenizer, text)]),
        ],
    )
    feed.finish()
    return summary.text()


def document_bias(tokenizer: Any, text: str, bias: float = DOCUMENT_BIAS) -> Callable:
    """A logits processor adding ``bias`` to the tokens of ``text`` (special tokens aside)."""
    import mlx.core as mx
    import numpy as np

    ids = np.unique(np.array(encode_text(tokenizer, text, literal=True), dtype=np.int64))
    special = set(getattr(tokenizer, "all_special_ids", None) or [])
    ids = np.array([i for i in ids.tolist() if i not in special], dtype=np.int64)
    added: list = []  # the bias vector, made at the first call, when the vocabulary is known

    def favour_document(tokens: Any, logits: Any) -> Any:
        if not added:
            vector = np.zeros(logits.shape[-1], dtype=np.float32)
            vector[ids[ids < vector.size]] = bias
            added.append(mx.array(vector, dtype=logits.dtype))
        return logits + added[0]

    return favour_document


def is_json_list(text: str) -> bool:
    try:
        return isinstance(json.loads(THINK_BLOCK.sub("", text)), list)
    except ValueError:
        return False
