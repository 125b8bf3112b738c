"""One model pass over text that fits: a tags pass, or a summary pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..prompts import encode_prompt
from ..repairs import answer_for, tags_from_answer
from ..repairs.answer import THINK_BLOCK
from ..repairs.loops import LoopGuard
from ..tokens import encode_text
from .job import Job
from .summary import PartialStream, Summary

# Summaries: a mild repetition penalty (as mlx-lm's, over prompt and answer) keeps a 135M model
# from looping on one sentence; 1.15 over the last 64 tokens measured best on the corpus.
REPETITION_PENALTY = 1.15
REPETITION_CONTEXT = 64
# Summaries say what the document says: every token of the document gets this much more
# logit, so the model's words come from it. On 14 corpus texts the share of a summary's
# content words found in its document rose from 76% to 85% at 1.5 (bench/RESULTS.md,
# "Faithfulness"); tags are held by their grammar and grounding instead. Not when the
# answer is asked in another language: the document's tokens are the wrong words then.
DOCUMENT_BIAS = 1.5


@dataclass
class TagsAsk:
    """One tags answer asked of the model: its prompt and grammar, and how to read it."""

    job: Job
    text: str
    limit: int
    max_tokens: int
    prompt: list[int]
    processors: list
    mentioned: list[str] | None  # the user's tags the text mentions (with known_tags)

    def read(self, raw: str) -> tuple[list[str], bool]:
        """The repaired tags of the model's raw answer, and whether it parsed as JSON."""
        job = self.job
        answer = answer_for(job.model.tokenizer, self.text, translated=job.translates(self.text))
        found = tags_from_answer(raw, answer, self.limit, job.known, job.max_new, self.mentioned)
        return found, is_json_list(raw)


def ask_tags(job: Job, text: str, limit: int, max_tokens: int | None = None) -> TagsAsk:
    """A tags answer under the tags grammar. With the user's tags, the prompt shows the
    ones ``text`` mentions, and the grammar allows the list's tags and at most
    ``job.max_new`` others."""
    tokens = max_tokens or job.max_tokens
    mentioned = job.known.candidates(text, limit=None) if job.known else None
    prompt = encode_prompt(job.model.tokenizer, text, job.tags_task(limit, mentioned))
    processor = job.grammar.processor(limit, tokens, job.known, job.max_new or 0)
    return TagsAsk(job, text, limit, tokens, prompt, [processor] if processor else [], mentioned)


def tags_pass(job: Job, text: str, limit: int, max_tokens: int | None = None) -> tuple[list, bool]:
    """Tags of ``text``, repaired, and whether the model's raw answer parsed as JSON."""
    ask = ask_tags(job, text, limit, max_tokens)
    result = job.run(ask.prompt, ask.max_tokens, logits_processors=ask.processors or None)
    return ask.read(result.text)


@dataclass
class SummaryAsk:
    """One summary answer asked of the model: its prompt and decoding, and the Summary its
    sentences go into as they are generated."""

    prompt: list[int]
    processors: list
    summary: Summary
    feed: PartialStream
    guard: LoopGuard = field(default_factory=LoopGuard)

    def heard(self, piece: str) -> None:
        """A piece of the answer as it is generated."""
        self.feed(piece)
        self.guard(piece)

    def done(self) -> bool:
        """The summary has its sentences, the model repeats one, or it loops."""
        return self.summary.done() or self.guard.looping

    def finish(self) -> str:
        self.feed.finish()
        return self.summary.text()


def ask_summary(
    job: Job, text: str, task: str, target: int, into: Summary | None = None
) -> SummaryAsk:
    """A summary answer: a mild repetition penalty, the document's own tokens favoured
    (unless it is asked in another language); its clean sentences go into ``into`` (a new
    Summary of ``target`` sentences if none)."""
    summary = into if into is not None else Summary(sentences=target)
    translated = job.translates(text)
    prompt = encode_prompt(job.model.tokenizer, text, task)
    processors = [
        RepetitionPenalty(prompt),
        *([] if translated else [document_bias(job.model.tokenizer, text)]),
    ]
    feed = PartialStream(summary, answer_for(job.model.tokenizer, text, translated))
    return SummaryAsk(prompt, processors, summary, feed)


def summary_pass(
    job: Job,
    text: str,
    task: str,
    target: int,
    into: Summary | None = None,
    max_tokens: int | None = None,
) -> str:
    """One pass: its clean sentences go into ``into`` (see ask_summary) as they are
    generated; it stops when the summary is full, the model repeats a sentence, or as soon
    as it loops (repairs/loops.py). Returns the pass's summary text."""
    ask = ask_summary(job, text, task, target, into)
    job.run(
        ask.prompt,
        max_tokens,
        on_text=ask.heard,
        should_stop=ask.done,
        logits_processors=ask.processors,
    )
    return ask.finish()


class RepetitionPenalty:
    """mlx-lm's repetition penalty over the last ``context`` tokens of prompt and answer.

    mlx-lm's own processor sees the tokens its generator was handed: after a cached prefix,
    or in a batch row, that is a shorter tail of the prompt, so the same document would get
    another answer alone than in a batch. This one holds the prompt's tail itself and adds
    each token as it is sampled: at every call after the first, the context's last token
    is the one sampled at the step before (in stream_generate and in BatchGenerator).
    """

    def __init__(
        self,
        prompt: list[int],
        penalty: float = REPETITION_PENALTY,
        context: int = REPETITION_CONTEXT,
    ) -> None:
        import mlx.core as mx

        self.penalty = penalty
        self.context = context
        self.recent = mx.array(prompt[-context:], dtype=mx.int32)
        self.calls = 0

    def __call__(self, tokens: Any, logits: Any) -> Any:
        import mlx.core as mx

        if self.calls:
            sampled = tokens.reshape(-1)[-1:].astype(mx.int32)
            self.recent = mx.concatenate([self.recent, sampled])[-self.context :]
        self.calls += 1
        seen = logits[:, self.recent]
        logits[:, self.recent] = mx.where(seen < 0, seen * self.penalty, seen / self.penalty)
        return logits


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
