"""Long documents: read in token-budgeted chunks, each chunk's tags and summary learned
once and combined.

A document that does not fit one pass (the model's context, or the KV cache the device's
memory allows; on CPU, CPU_CHUNK_TOKENS, where attention over long prompts is slow) is
split on paragraphs, then sentences, then token windows. ``read_chunks`` learns what each
chunk says, its tags and a short summary, in two passes that share the chunk's prefill;
both commands read a long document this way, so whichever the app sends first prepares
the other's work (generate-tags answers ``summary_prepared``; summarize then reports
``reused_chunks``). Tags are merged across chunks (``merge_chunk_tags``); the summary is
combined part by part, in order (``combine_in_order``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..models import Model
from ..models.memory import memory_token_limit
from ..platform import backend_name
from ..prompts import encode_prompt
from ..repairs import normalize_tags, tag_key
from ..text import sentence_key, split_sentences
from ..tokens import count_tokens, encode_text
from .job import Job
from .notes import ChunkNote, ChunkNotes
from .passes import summary_pass, tags_pass
from .summary import Summary

# Long documents on CPU are read in chunks of this many tokens: attention over long
# prompts dominates there (bench/RESULTS.md: prefill 296 tok/s at 400 tokens, 90 at 3,645).
CPU_CHUNK_TOKENS = 2048
MAX_TAGS_LIMIT = 20  # generate-tags' max_tags: chunks leave room for this many tags
# What each chunk is asked: the defaults of generate-tags (5 tags in 64 + 12 a tag
# tokens) and summarize (160 tokens), so that either command's chunk results serve both.
CHUNK_TAG_LIMIT = 5
CHUNK_TAG_TOKENS = 64 + 12 * CHUNK_TAG_LIMIT
CHUNK_SUMMARY_TOKENS = 160
CHUNK_SUMMARY_SENTENCES = "one or two sentences"


def plan_chunks(job: Job, content: str, task: str) -> list[str]:
    """The whole content when it fits one pass; otherwise chunks of a size fast here.

    The chunk size does not depend on the command, so generate-tags and summarize over
    the same document read the same chunks and can share their results.
    """
    model = job.model
    if count_tokens(model.tokenizer, content) <= content_budget(model, task, job.max_tokens):
        return [content]
    widest_task = job.tags_task(MAX_TAGS_LIMIT, job.known.tags if job.known else None)
    widest = content_budget(model, widest_task, max(job.max_tokens, CHUNK_SUMMARY_TOKENS))
    return split_into_chunks(model.tokenizer, content, min(widest, chunk_token_limit(model)))


def read_chunks(
    job: Job, chunks: list[str], tag_limit: int, tag_tokens: int, summary_tokens: int
) -> list[ChunkNote]:
    """What each chunk says: its tags and a one- or two-sentence summary, from memory or
    from the model. The summary pass costs little after the tags pass: the chunk's
    prefill is in the prompt cache. One progress step per chunk."""
    notes = []
    for chunk in chunks:
        tags, parsed = chunk_tags(job, chunk, tag_limit, tag_tokens)
        notes.append(ChunkNote(chunk, tags, chunk_summary(job, chunk, summary_tokens), parsed))
        job.progress.step()
    return notes


def chunk_tags(job: Job, chunk: str, limit: int, max_tokens: int) -> tuple[list[str], bool]:
    """A chunk's tags, kept under the task and the user's tag list (which shape them)."""
    asked = job.tags_task(limit, None) + (f"\0{job.known.key}" if job.known else "")
    key = ChunkNotes.key("tags", asked, chunk, max_tokens, job.temperature)
    return _recall_or_learn(job, key, lambda: tags_pass(job, chunk, limit, max_tokens))


def chunk_summary(job: Job, chunk: str, max_tokens: int) -> str:
    task = job.summary_task(CHUNK_SUMMARY_SENTENCES)
    key = ChunkNotes.key("summary", task, chunk, max_tokens, job.temperature)
    return _recall_or_learn(
        job, key, lambda: summary_pass(job, chunk, task, 2, max_tokens=max_tokens)
    )


def _recall_or_learn(job: Job, key: tuple, learn: Callable[[], Any]) -> Any:
    known = job.notes.recall(key)
    if known is not None:
        job.reused += 1
        return known
    value = learn()
    job.notes.remember(key, value)
    return value


def content_budget(model: Model, task: str, max_tokens: int) -> int:
    """Tokens of document that fit one pass: the context, or what the KV cache may take
    in memory when that is less, less the template, task and answer."""
    overhead = len(encode_prompt(model.tokenizer, "", task))
    context = model.context_length or 4096
    tokens = min(context, memory_token_limit(model))
    return max(256, tokens - overhead - max_tokens - 16)


def chunk_token_limit(model: Model) -> int:
    """On CPU, attention over long prompts is slow (see CPU_CHUNK_TOKENS), so long
    documents are read in 2,048-token chunks there. On a GPU, as much as the KV cache may
    take in memory (content_budget already holds to that)."""
    if backend_name() == "cpu":
        return CPU_CHUNK_TOKENS
    return memory_token_limit(model)


def split_into_chunks(tokenizer: Any, text: str, budget: int) -> list[str]:
    """Split on paragraphs, then sentences, then token windows; pack up to ``budget``."""
    units: list[tuple[str, int]] = []
    for para in re.split(r"\n\s*\n", text):
        if not para.strip():
            continue
        size = count_tokens(tokenizer, para)
        if size <= budget:
            units.append((para, size))
            continue
        for sentence in re.split(r"(?<=[.!?。！？])\s+", para):
            size = count_tokens(tokenizer, sentence)
            if size <= budget:
                units.append((sentence, size))
            else:
                units.extend(token_windows(tokenizer, sentence, budget))
    chunks, current, used = [], [], 0
    for unit, size in units:
        if current and used + size + 2 > budget:
            chunks.append("\n\n".join(current))
            current, used = [], 0
        current.append(unit)
        used += size + 2
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def token_windows(tokenizer: Any, text: str, budget: int) -> list[tuple[str, int]]:
    ids = encode_text(tokenizer, text, literal=True)
    step = max(1, budget - 8)
    return [
        (tokenizer.decode(ids[i : i + step]), len(ids[i : i + step]))
        for i in range(0, len(ids), step)
    ]


def spread_order(n: int) -> list[int]:
    """Chunk indices in an order that covers the document evenly: first, last, middle..."""
    order: list[int] = []
    for i in [0, n - 1] + [round(n * k / 8) for k in (4, 2, 6, 1, 3, 5, 7)] + list(range(n)):
        if 0 <= i < n and i not in order:
            order.append(i)
    return order


def merge_chunk_tags(per_chunk: list[list[str]], limit: int) -> list[str]:
    """Tags found in several chunks first; then each chunk's best, spread over the text."""
    counts: dict[str, int] = {}
    for tags in per_chunk:
        for tag in {tag_key(t) for t in tags}:
            counts[tag] = counts.get(tag, 0) + 1
    repeated = [t for tags in per_chunk for t in tags if counts[tag_key(t)] > 1]
    repeated.sort(key=lambda t: -counts[tag_key(t)])
    order = spread_order(len(per_chunk))
    by_rank = [
        per_chunk[c][rank]
        for rank in range(max((len(t) for t in per_chunk), default=0))
        for c in order
        if rank < len(per_chunk[c])
    ]
    return normalize_tags(repeated + by_rank, limit)


def combine_in_order(
    job: Job, notes: list[ChunkNote], target: int, groups: int, summary: Summary
) -> None:
    """The summary of a long document: sentences for each part of it (thirds, or
    fewer parts when fewer sentences are asked for), in order.

    One combining pass over all partial summaries favoured the last parts (a 135M model
    reads the end of its prompt best) and dropped the beginning; a sentence per third
    keeps the beginning, middle and end in the summary. Each sentence is asked to be
    about its part's subjects (see part_subjects): asked only for "one sentence", SmolLM2
    called a third about chess "a popular board game", which a reader searching for chess
    never finds.
    """
    tokenizer = job.model.tokenizer
    partials = unique_sentences([note.summary for note in notes])
    n = len(notes)
    subjects: list[str] = []
    for g in range(groups):
        part = range(g * n // groups, (g + 1) * n // groups)
        want = target // groups + (g < target % groups)
        joined = "\n\n".join(partials[i] for i in part if partials[i])
        if not joined:
            job.progress.step()
            continue
        named = part_subjects([notes[i] for i in part], subjects)
        subjects.extend(named)
        subject = " and ".join(named)
        task = job.summary_task("one sentence" if want == 1 else f"{want} sentences", subject)
        budget = content_budget(job.model, task, job.max_tokens)
        while count_tokens(tokenizer, joined) > budget:  # shrink a part that does not fit
            limit = min(budget, chunk_token_limit(job.model))
            pieces = split_into_chunks(tokenizer, joined, limit)
            job.progress.total += len(pieces)
            joined = "\n\n".join(_summary_step(job, p, task, 2) for p in pieces)
        for sentence in split_sentences(_summary_step(job, joined, task, want)):
            if not summary.add(sentence):
                return


def _summary_step(job: Job, text: str, task: str, target: int) -> str:
    """One combining pass, counted as a progress step."""
    result = summary_pass(job, text, task, target)
    job.progress.step()
    return result


def part_subjects(notes: list[ChunkNote], taken: list[str]) -> list[str]:
    """The subjects of a part's first and last chunk, each once: a part that runs from a
    chunk about chess to one about honeybees is asked about both (asked only about the
    one its text names more, SmolLM2 left the other out)."""
    named: list[str] = []
    for note in notes[:1] + notes[1:][-1:]:
        subject = main_subject([note], taken)
        if subject and subject.casefold() not in {n.casefold() for n in named}:
            named.append(subject)
    return named


def main_subject(notes: list[ChunkNote], taken: list[str]) -> str:
    """The tag of these chunks that their text names most often; one an earlier third
    already took is passed over when there is another. Empty when there are no tags."""
    counts: dict[str, int] = {}
    shown: dict[str, str] = {}
    for note in notes:
        folded_text = note.text.casefold()
        for tag in note.tags:
            key = tag.casefold()
            shown.setdefault(key, tag)
            pattern = r"(?<!\w)" + re.escape(key) + r"(?!\w)"
            counts[key] = counts.get(key, 0) + len(re.findall(pattern, folded_text))
    ranked = sorted(counts, key=lambda k: -counts[k])  # stable: the first seen wins a tie
    taken_keys = {t.casefold() for t in taken}
    fresh = [k for k in ranked if k not in taken_keys]
    return shown.get((fresh or ranked or [""])[0], "")


def unique_sentences(partials: list[str]) -> list[str]:
    """Each partial summary without sentences an earlier one already said ("" if none
    are left), in the same positions."""
    seen: set[str] = set()
    kept = []
    for partial in partials:
        fresh = [x for x in split_sentences(partial) if sentence_key(x) not in seen]
        seen.update(sentence_key(x) for x in fresh)
        kept.append(" ".join(fresh))
    return kept
