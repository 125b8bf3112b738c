"""One model pass: ``run_ask`` runs any task's Ask; a tags pass, or a summary pass."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..processors import RepetitionPenalty, document_bias
from ..prompts import encode_prompt
from ..repairs import answer_for, tags_from_answer
from ..repairs.answer import THINK_BLOCK
from ..repairs.loops import LoopGuard
from ..tasks import Ask
from .job import Job
from .summary import PartialStream, Summary


def run_ask(job: Job, ask: Ask) -> Any:
    """One pass of the model for ``ask`` (any task's): its prompt, processors, streaming and
    stop rule; returns what the task reads from the answer."""
    result = job.run(
        ask.prompt,
        ask.max_tokens,
        logits_processors=ask.processors or None,
        on_text=ask.heard,
        should_stop=ask.done,
    )
    return ask.read(result.text, result.finish_reason)


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


def is_json_list(text: str) -> bool:
    try:
        return isinstance(json.loads(THINK_BLOCK.sub("", text)), list)
    except ValueError:
        return False
