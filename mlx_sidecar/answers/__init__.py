"""Answers: the tags and the summary of a document of any length.

``document_tags`` and ``document_summary`` are what generate-tags and summarize run. A
document that fits one pass gets one pass (passes.py); a longer one is read chunk by
chunk (long_documents.py), and what each chunk says serves both commands.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..reading import Reading
from ..repairs import keyword_tags, new_tags, with_known_tags, with_title_subject
from ..repairs.tags import names_same_thing
from .job import Job
from .long_documents import (
    CHUNK_SUMMARY_TOKENS,
    CHUNK_TAG_LIMIT,
    CHUNK_TAG_TOKENS,
    combine_in_order,
    merge_chunk_tags,
    plan_chunks,
    read_chunks,
)
from .passes import summary_pass, tags_pass
from .summary import Summary, sentence_target, summary_length

MAX_SUMMARY_PARTS = 3  # a long document's summary: a sentence or more per third


@dataclass
class Tags:
    """A document's tags, whether the model's raw answers parsed, and whether the
    summaries of a long document's chunks were prepared on the way."""

    tags: list[str]
    parsed: bool
    summary_prepared: bool = False


def document_tags(job: Job, reading: Reading, limit: int) -> Tags:
    """Tags for a document of any length; the subject its title names leads them."""
    chunks = plan_chunks(job, reading.text, job.tags_task(limit, None))
    job.chunks = job.progress.total = len(chunks)
    if len(chunks) == 1:
        tags, parsed = tags_pass(job, reading.text, limit)
        job.progress.step()
        found = Tags(tags, parsed)
    else:
        notes = read_chunks(job, chunks, limit, job.max_tokens, CHUNK_SUMMARY_TOKENS)
        tags = merge_chunk_tags([note.tags for note in notes], limit)
        found = Tags(tags, all(n.tags_parsed for n in notes), summary_prepared=True)
    job.progress.finish()
    found.tags = final_tags(job, found.tags, reading, limit)
    return found


def final_tags(job: Job, tags: list[str], reading: Reading, limit: int) -> list[str]:
    """A document's tags once its passes are done: never empty (its keywords stand in),
    the subject its title names first; with the user's list, settled against it."""
    if job.known is not None:
        return settle_known_tags(job, tags, reading, limit)
    return with_title_subject(tags or keyword_tags(reading.text, limit), reading, limit)


def settle_known_tags(job: Job, tags: list[str], reading: Reading, limit: int) -> list[str]:
    """The document's tags with the user's list: merged chunk tags in the user's spelling
    again, no more new tags than allowed, and the subject the title names first when it
    is a known tag (or a new one is still allowed)."""
    known, max_new = job.known, job.max_new or 0
    mentioned = known.candidates(reading.text, limit=None)
    translated = job.translates(reading.text)
    tags = with_known_tags(tags, reading.text, limit, known, max_new, mentioned, translated)
    subject = with_title_subject([], reading, 1)  # [] when the title names nothing
    if subject and not any(names_same_thing(tag, subject[0]) for tag in tags):
        spelled = known.spelling(subject[0])
        if spelled is not None or len(new_tags(tags, known)) < max_new:
            tags = [spelled or subject[0], *tags][:limit]
    return tags


def document_summary(job: Job, reading: Reading, summary: Summary) -> None:
    """Summarize a document of any length into ``summary``: one pass, or each chunk then
    the parts in order; a sentence of the document when the model gave nothing usable."""
    content = reading.text
    asked = summary.limit  # None: the default, "two or three sentences"
    target = summary.limit = sentence_target(summary.max_words, asked)
    final_task = job.summary_task(summary_length(summary.max_words, asked))
    parts = plan_chunks(job, content, final_task)
    job.chunks = len(parts)
    if len(parts) == 1:
        summary_pass(job, content, final_task, target, into=summary)
        job.progress.step()
    else:
        groups = min(target, MAX_SUMMARY_PARTS)
        job.progress.total = len(parts) + groups
        notes = read_chunks(job, parts, CHUNK_TAG_LIMIT, CHUNK_TAG_TOKENS, job.max_tokens)
        combine_in_order(job, notes, target, groups, summary)
    summary.ensure_one(content)
    job.progress.finish()
