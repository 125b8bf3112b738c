"""Long documents: each chunk's answers, learned once and remembered.

A document that does not fit one pass is read in chunks (chunking.py). ``read_chunks``
asks every chunk what the task's ``chunk_tasks`` ask: for tags and summary, the chunk's
tags and a short summary, in passes that share the chunk's prefill through the prompt
cache. Each result is kept in the session's ChunkNotes under everything that changes it,
so whichever command the app sends first prepares the other's work (generate-tags answers
``summary_prepared``; summarize then reports ``reused_chunks``). The task then combines
what the chunks said (tasks/tags.py merges tags; tasks/summary.py combines the summary
part by part).
"""

from __future__ import annotations

from typing import Any

from ..job import Job
from ..notes import ChunkNote, ChunkNotes


def read_chunks(job: Job, chunks: list[str], tasks: list[Any]) -> list[ChunkNote]:
    """What each chunk says to each of ``tasks``, from memory or from the model. One
    progress step per chunk."""
    notes = []
    for chunk in chunks:
        note = ChunkNote(chunk)
        for task in tasks:
            note.results[task.name] = recall_or_learn(job, task, chunk)
        notes.append(note)
        job.progress.step()
    return notes


def recall_or_learn(job: Job, task: Any, chunk: str) -> Any:
    """A chunk's answer to ``task``: remembered under everything that changes it, or
    asked of the model (and remembered)."""
    key = ChunkNotes.key(task.name, task.key(), chunk, task.max_tokens, task.options.temperature)
    known = job.loaded.notes.recall(key)
    if known is not None:
        job.reused += 1
        return known
    value = job.answer(task.ask(job, chunk))
    job.loaded.notes.remember(key, value)
    return value
