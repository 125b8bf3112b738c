"""Answers: the schedulers that run tasks (tasks/) over documents of any length.

Three schedulers, none of which knows which task it runs:
- ``answer_document`` (here): a document that fits one pass gets one pass of its task;
  a longer one is read chunk by chunk (long_documents.py) and the task combines what
  the chunks said.
- ``long_documents.read_chunks``: every chunk is asked what the task's ``chunk_tasks``
  ask (for tags and summary: both, so either command prepares the other's work), each
  result remembered in the session's ChunkNotes.
- ``batch.BatchRun``: many documents' tasks decoded together.

A task offers: ``ask(job, text)`` (an Ask: prompt, max_tokens, processors, stream and
stop rule, read), ``instruction()``/``widest_instruction()`` and ``max_tokens`` (how much
of a document fits), ``chunk_tasks()`` and ``combine(job, notes)`` (long documents),
``combine_passes()`` (model passes combining takes), and ``finish(job, reading, result)``
(the final repair and the response's fields).
"""

from __future__ import annotations

from typing import Any

from ..chunking import plan_chunks
from ..job import Job
from ..reading import Reading
from .long_documents import read_chunks


def answer_document(job: Job, task: Any, reading: Reading) -> dict:
    """``task``'s response fields for a document of any length."""
    chunks = plan_chunks(job, reading.text, task)
    job.chunks = len(chunks)
    if len(chunks) == 1:
        job.progress.total = 1
        result = job.answer(task.ask(job, reading.text))
        job.progress.step()
    else:
        job.progress.total = len(chunks) + task.combine_passes()
        result = task.combine(job, read_chunks(job, chunks, task.chunk_tasks()))
    job.progress.finish()
    return task.finish(job, reading, result)
