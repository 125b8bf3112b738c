"""batch: the tags and summaries of many documents in one command, decoded together.

Every generated token reads every weight of the model; mlx-lm's BatchGenerator reads them
once for many sequences. How a batch runs:

1. Each document is read on its own; one that cannot be (no content, a format error) gets
   its own result line with `error` and `code`, and the others go on.
2. A document that fits one pass joins the batch: its prompt prefix (system prompt and
   document, which its tags and summary prompts share) is prefilled alone, without
   padding, into a KV cache; its tags and summary sequences then join the BatchGenerator
   with that cache, each with its own logits processors (the tags grammar; the summary's
   repetition penalty and document bias), and decode together with the other documents'.
   When both of a document's sequences are done its result line is written, and the next
   document is prefilled and joins: continuous batching.
3. A document longer than one pass runs through the single-document path (the chunks of
   long_documents.py) after the batched ones, one at a time.
4. The batch is as wide as the KV cache may be in memory (KV_MEMORY_SHARE of the memory
   beside the weights, as for one long document) and never wider than MAX_ROWS for the
   backend. A family whose caches mlx-lm cannot merge runs one document at a time.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..chunking import plan_chunks
from ..context import RequestContext
from ..errors import InvalidParams, SidecarError, one_line
from ..job import Job
from ..models.memory import kv_budget_bytes
from ..platform import backend_name, device_memory_bytes
from ..reading import Reading, read_document, require_format
from ..tokens import count_tokens
from ..validate import optional_bool
from . import answer_document

if TYPE_CHECKING:
    from ..session import Loaded

# Sequences decoded together at most (a document's tasks are one each). CPU: a decode step
# of the bundled model costs ~60 ms for one sequence and ~140-250 ms for 12-16 (attention
# over each cache grows with it); 24 documents of 600-3,000 characters ran in 140 s at 16
# rows, 135 s at 32 and 152 s at 48 (one run each), so 32. GPU: mlx_lm.server's default
# decode concurrency.
MAX_ROWS = {"cpu": 32, "gpu": 32}
PROMPT_TOKENS = 256  # room for the template and the task around a document


@dataclass
class Document:
    """One document of the batch and what became of it."""

    id: Any
    content: Any
    format: str | None
    job: Job | None = None
    reading: Reading | None = None
    asks: list = field(default_factory=list)  # (task, ask, answer pieces) of each sequence
    result: dict = field(default_factory=dict)  # the result line's fields, task by task
    failure: SidecarError | None = None  # a task that could not answer fails the document
    open_rows: int = 0
    prompt_tokens: int = 0
    generation_tokens: int = 0

    @property
    def text(self) -> str:
        return self.reading.text if self.reading else ""


@dataclass(frozen=True)
class BatchOptions:
    """The batch's own fields, checked (each task's options are its own)."""

    documents: tuple[Document, ...]
    tasks: tuple[str, ...]
    format: str
    progress: bool

    @classmethod
    def parse(cls, req: dict, task_names: tuple[str, ...]) -> BatchOptions:
        return cls(
            documents=tuple(require_documents(req)),
            tasks=require_tasks(req, task_names),
            format=require_format(req.get("format")),
            progress=optional_bool(req, "progress"),
        )


def require_documents(req: dict) -> list[Document]:
    """`documents`: a non-empty list of objects, each with a unique `id` (a string or a
    number); a document's `content` and `format` are checked with the document."""
    value = req.get("documents")
    if not isinstance(value, list) or not value or not all(isinstance(d, dict) for d in value):
        raise InvalidParams(
            "'documents' must be a non-empty list of objects such as "
            '{"id": 1, "content": "text"}.'
        )
    seen: set = set()
    documents = []
    for i, item in enumerate(value):
        doc_id = item.get("id")
        if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int, float)):
            raise InvalidParams(f"'documents'[{i}] needs an 'id' that is a string or a number.")
        key = (isinstance(doc_id, str), doc_id)
        if key in seen:
            raise InvalidParams(f"'documents'[{i}] repeats the id {doc_id!r}; ids must be unique.")
        seen.add(key)
        documents.append(Document(doc_id, item.get("content"), item.get("format")))
    return documents


def require_tasks(req: dict, names: tuple[str, ...]) -> tuple[str, ...]:
    """`tasks`: a non-empty subset of ``names`` (default: the first two, tags and
    summary, what the app asks of every document), in ``names``' order."""
    value = req.get("tasks", list(names[:2]))
    if not isinstance(value, list) or not value or not set(value) <= set(names):
        raise InvalidParams(
            f"'tasks' must be a non-empty list of {', '.join(names)}; got {value!r}."
        )
    return tuple(t for t in names if t in value)


def batch_width(
    per_token: int | None, memory: int | None, weights: int, row_tokens: int, max_rows: int
) -> int:
    """How many sequences of ``row_tokens`` tokens each fit together: their KV caches take
    at most kv_budget_bytes (as one long document's pass does); never more than
    ``max_rows``, never fewer than one."""
    if not per_token or memory is None:
        return max_rows
    budget = kv_budget_bytes(memory, weights)
    return max(1, min(max_rows, int(budget // (per_token * max(1, row_tokens)))))


def can_batch(loaded: Loaded) -> bool:
    """Whether mlx-lm can merge this model's caches into one batch (what mlx_lm.server
    checks): KV and rotating caches and linear-attention states can; quantized or chunked
    caches cannot."""
    from mlx_lm.models.cache import make_prompt_cache

    return all(hasattr(entry, "merge") for entry in make_prompt_cache(loaded.model.module))


class BatchRun:
    """One batch command's work: documents in, a result line each, counts out."""

    def __init__(
        self, loaded: Loaded, tasks: list, options: BatchOptions, ctx: RequestContext
    ) -> None:
        self.loaded, self.tasks, self.options, self.ctx = loaded, tasks, options, ctx
        self.total = 0
        self.done = 0
        self.failed = 0
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.widest = 0  # the most sequences decoded together

    def run(self) -> dict:
        started = time.perf_counter()
        documents = list(self.options.documents)
        self.total = len(documents)
        readable = [d for d in documents if self.read(d)]  # a cancel stops it between two
        batched = can_batch(self.loaded)
        together = [d for d in readable if batched and self.fits_one_pass(d)]
        if together:
            self.decode_together(together)
        for document in readable:
            if document not in together:
                self.one_at_a_time(document)
        seconds = time.perf_counter() - started
        return {
            "documents": self.total,
            "failed": self.failed,
            "batched": batched,
            "widest": self.widest,
            "prompt_tokens": self.prompt_tokens,
            "generation_tokens": self.generation_tokens,
            "seconds": round(seconds, 2),
            "documents_per_minute": round(60 * self.total / seconds, 2) if seconds else 0.0,
        }

    # --- Reading -----------------------------------------------------------------------

    def read(self, document: Document) -> bool:
        """Read one document; a problem with it becomes its own result line. A cancel or
        deadline stops the batch before the next document is read (reading thousands of
        pages takes a while)."""
        self.ctx.check()
        try:
            if not isinstance(document.content, str) or not document.content.strip():
                raise InvalidParams(
                    "'content' of this document is missing or blank; send some text."
                )
            fmt = require_format(document.format) if document.format else self.options.format
            document.reading = read_document(document.content, fmt)
        except SidecarError as error:
            self.fail(document, str(error), error.code)
            return False
        except Exception as error:  # a reader bug must not cost the other documents
            self.fail(
                document, f"Internal error reading this document: {one_line(error)}", "internal"
            )
            return False
        document.job = Job.of(self.loaded, self.ctx)
        return True

    def fits_one_pass(self, document: Document) -> bool:
        return all(len(plan_chunks(document.job, document.text, t)) == 1 for t in self.tasks)

    # --- One at a time: long documents, and families mlx-lm cannot batch -----------------

    def one_at_a_time(self, document: Document) -> None:
        job = document.job
        for task in self.tasks:
            self.settle(document, lambda task=task: answer_document(job, task, document.reading))
        stats = job.stats()
        document.prompt_tokens = stats["prompt_tokens"]
        document.generation_tokens = stats["generation_tokens"]
        self.finish(document, {**document.result, "chunks": stats["chunks"]})

    def settle(self, document: Document, answer: Any) -> None:
        """A task's fields into the document's result; a task that cannot answer (a JSON
        answer past max_tokens) fails the document, not the batch."""
        try:
            document.result |= answer()
        except SidecarError as error:
            document.failure = document.failure or error

    # --- Together ---------------------------------------------------------------------

    def decode_together(self, documents: list[Document]) -> None:
        """Prefill each document alone, decode every document's sequences together."""
        from mlx_lm.generate import BatchGenerator

        model = self.loaded.model
        rows_per_document = len(self.tasks)
        max_rows = MAX_ROWS["cpu" if backend_name() == "cpu" else "gpu"]
        widest_document = max(self.row_tokens(d) for d in documents)
        rows = batch_width(
            model.kv_bytes_per_token,
            device_memory_bytes(),
            model.weights_bytes,
            widest_document,
            max_rows,
        )
        if rows < rows_per_document:  # not even one document's answers together: in turn
            for document in documents:
                self.one_at_a_time(document)
            return
        generator = BatchGenerator(
            model.module,
            stop_tokens=[[token] for token in sorted(model.tokenizer.eos_token_ids)],
            completion_batch_size=rows,
            prefill_batch_size=rows,
        )
        waiting = deque(documents)
        running: dict[int, tuple[Document, int, Any]] = {}  # uid -> document, row, detokenizer
        try:
            while waiting or running:
                self.ctx.check()
                while waiting and len(running) + rows_per_document <= rows:
                    self.join(generator, waiting.popleft(), running)
                self.widest = max(self.widest, len(running))
                for response in generator.next_generated():
                    self.heard(generator, response, running)
        finally:
            generator.close()

    def row_tokens(self, document: Document) -> int:
        """Tokens one of the document's sequences may hold: its prompt and answer."""
        tokens = count_tokens(self.loaded.model.tokenizer, document.text)
        return tokens + max(t.max_tokens for t in self.tasks) + PROMPT_TOKENS

    def join(self, generator: Any, document: Document, running: dict) -> None:
        """Prefill the document's shared prefix alone and add its sequences to the batch."""
        from mlx_lm.sample_utils import make_sampler
        from mlx_lm.utils import common_prefix_len

        asks = [task.ask(document.job, document.text) for task in self.tasks]
        prompts = [ask.prompt for ask in asks]
        shared = min(len(p) - 1 for p in prompts)
        for prompt in prompts[1:]:
            shared = min(shared, common_prefix_len(prompts[0], prompt))
        cache = self.loaded.generator.prefill(prompts[0][:shared], self.ctx)
        uids = generator.insert(
            [p[shared:] for p in prompts],
            max_tokens=[ask.max_tokens for ask in asks],
            caches=[cache] * len(prompts),
            samplers=[make_sampler(temp=ask.temperature) for ask in asks],
            logits_processors=[ask.processors for ask in asks],
        )
        document.prompt_tokens = sum(len(p) for p in prompts)
        document.open_rows = len(uids)
        detokenizer = self.loaded.model.tokenizer
        document.asks = [(task, ask, []) for task, ask in zip(self.tasks, asks, strict=True)]
        for row, uid in enumerate(uids):
            running[uid] = (document, row, detokenizer.detokenizer)

    def heard(self, generator: Any, response: Any, running: dict) -> None:
        """One token of one sequence: its text goes to its ask; a sequence whose ask is
        done (a summary with its sentences, a loop) leaves the batch at once."""
        document, row, detokenizer = running[response.uid]
        task, ask, pieces = document.asks[row]
        finished = response.finish_reason is not None
        if response.finish_reason != "stop":  # the stop token is no text
            document.generation_tokens += 1
            detokenizer.add_token(response.token)
        if finished:
            detokenizer.finalize()
        piece = detokenizer.last_segment
        if piece:
            pieces.append(piece)
            ask.heard(piece)
        if not finished and ask.done():
            generator.remove([response.uid])
            finished = True
        if finished:
            del running[response.uid]
            result = ask.read("".join(pieces), response.finish_reason or "stop")
            self.settle(document, lambda: task.finish(document.job, document.reading, result))
            document.open_rows -= 1
            if document.open_rows == 0:
                self.finish(document, {**document.result, "chunks": 1})

    # --- Lines ------------------------------------------------------------------------

    def finish(self, document: Document, result: dict) -> None:
        self.prompt_tokens += document.prompt_tokens
        self.generation_tokens += document.generation_tokens
        if document.failure is not None:
            self.fail(document, str(document.failure), document.failure.code)
            return
        tokens = {
            "prompt_tokens": document.prompt_tokens,
            "generation_tokens": document.generation_tokens,
        }
        self.emit(document, {**result, **document.reading.fields(), **tokens})

    def fail(self, document: Document, message: str, code: str) -> None:
        self.failed += 1
        self.emit(document, {"error": message, "code": code})

    def emit(self, document: Document, fields: dict) -> None:
        self.done += 1
        self.ctx.result(document_id=document.id, **fields)
        if self.options.progress:
            percent = round(100.0 * self.done / self.total, 1)
            self.ctx.progress(progress=percent, done=self.done, total=self.total)
