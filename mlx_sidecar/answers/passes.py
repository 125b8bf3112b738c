"""One model pass over text that fits: a tags pass, or a summary pass."""

from __future__ import annotations

import json

from ..prompts import TAGS_TASK, encode_prompt
from ..repairs import answer_for, tags_from_answer
from ..repairs.answer import THINK_BLOCK
from .job import Job
from .summary import PartialStream, Summary

# Summaries: a mild repetition penalty (mlx-lm's logits processor) keeps a 135M model
# from looping on one sentence; 1.15 over the last 64 tokens measured best on the corpus.
REPETITION_PENALTY = 1.15
REPETITION_CONTEXT = 64


def tags_pass(job: Job, text: str, limit: int, max_tokens: int | None = None) -> tuple[list, bool]:
    """Tags of ``text`` under the tags grammar, repaired; and whether the model's raw
    answer parsed as a JSON list."""
    tokens = max_tokens or job.max_tokens
    prompt = encode_prompt(job.model.tokenizer, text, TAGS_TASK.format(n=limit))
    processor = job.grammar.processor(limit, tokens)
    result = job.run(prompt, tokens, logits_processors=[processor] if processor else None)
    answer = answer_for(job.model.tokenizer, text)
    return tags_from_answer(result.text, answer, limit), is_json_list(result.text)


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
    model repeats a sentence. Returns the pass's summary text."""
    from mlx_lm.sample_utils import make_logits_processors

    summary = into if into is not None else Summary(sentences=target)
    feed = PartialStream(summary, answer_for(job.model.tokenizer, text))
    job.run(
        encode_prompt(job.model.tokenizer, text, task),
        max_tokens,
        on_text=feed,
        should_stop=summary.done,
        logits_processors=make_logits_processors(
            repetition_penalty=REPETITION_PENALTY, repetition_context_size=REPETITION_CONTEXT
        ),
    )
    feed.finish()
    return summary.text()


def is_json_list(text: str) -> bool:
    try:
        return isinstance(json.loads(THINK_BLOCK.sub("", text)), list)
    except ValueError:
        return False
